r"""Hardware: accelerator catalog, MFU, train time, cost and memory per GPU.

Every function here takes draws (plain numbers, numpy arrays, or xarray
DataArrays with dims such as ``(chain, draw, budget)``) and returns xarray
objects that keep those dims, so intervals can be taken over ``(chain, draw)``.
Inputs are promoted to float64. Plain numpy arrays carry no dim names, so xarray
names their axes ``dim_0, dim_1, ...``.

Train time
----------
Training compute defaults to the standard estimate (Kaplan et al. 2020, Table 1),
with an optional attention term when the architecture is known:

.. math::

    C = 6 N D, \qquad
    C_\text{attn} = 6 D \, (N + n_\text{layer} \, s \, h)

The wall-clock time on :math:`G` GPUs of peak dense BF16 throughput
:math:`F_\text{peak}` at model FLOPs utilization MFU is

.. math::

    \text{hours} = \frac{C}{G \, F_\text{peak} \, \text{MFU}} \Big/ 3600, \qquad
    \text{GPU-hours} = G \cdot \text{hours}, \qquad
    \text{cost} = \text{GPU-hours} \cdot \text{price per GPU-hour}.

MFU
---
MFU is a fixed fraction in (0, 1] or a distribution. The default is
:math:`\text{MFU} \sim \text{Beta}(45, 55)`: mean 0.45, standard deviation 0.05,
central 95% interval [0.354, 0.548]. Public large-scale runs report
Llama 3 405B 38–43% on 8k–16k H100 (Llama Team 2024, "The Llama 3 Herd of
Models", Table 4), PaLM 540B 46.2% on 6144 TPU v4 (Chowdhery et al. 2022,
Table 3) and MegaScale 55.2% for a 175B model on 12,288 GPUs (Jiang et al. 2024).
The prior is centred on the middle of these reports and its central 95% spans
all of them, with some room below for runs tuned less than these flagship ones.
Fix ``mfu`` when you know your stack's utilization. One MFU value is drawn per
posterior draw (the ``(chain, draw)`` dims present) and shared across the other
dims such as ``budget``: the MFU is a property of the training run, not of the
budget. Without ``chain``/``draw`` dims each element counts as one draw.

Memory per GPU
--------------
Model states (Rajbhandari et al. 2020, "ZeRO", §3.1 and §5): mixed-precision
Adam keeps per parameter 2 bytes of bf16 weights, 2 of bf16 gradients and
:math:`K = 12` of fp32 optimizer state (master weights, first and second
moments), 16 bytes in all. With :math:`\Psi = N / (t \, p)` parameters per
tensor (:math:`t`) and pipeline (:math:`p`) shard and ZeRO over a data-parallel
degree :math:`d`:

.. math::

    \text{stage 0: } 16 \Psi, \quad
    \text{stage 1: } (2 + 2 + 12/d) \Psi, \quad
    \text{stage 2: } (2 + 14/d) \Psi, \quad
    \text{stage 3 (FSDP): } 16 \Psi / d.

Activations, bytes per transformer layer with 16-bit activations (Korthikanti
et al. 2022, "Reducing Activation Recomputation in Large Transformer Models",
arXiv:2205.05198, Table 2), for sequence length :math:`s`, micro-batch
:math:`b`, hidden size :math:`h`, :math:`a` heads and tensor degree :math:`t`:

.. math::

    \text{no parallelism:}\quad & s b h \, (34 + 5 a s / h) \\
    \text{tensor parallel:}\quad & s b h \, (10 + 24/t + 5 a s / (h t)) \\
    \text{tensor + sequence parallel:}\quad & s b h \, (34 + 5 a s / h) / t \\
    \text{selective recomputation:}\quad & \text{the same without the } 5 a s / h \text{ term} \\
    \text{full recomputation:}\quad & 2 s b h \ \text{(the layer input only)}

The :math:`5as/h` term is the attention score matrix, its softmax output and
dropout mask; 34 collects the remaining linear-layer, layer-norm and dropout
inputs. The default is ``recompute="selective"``: fused attention kernels such
as FlashAttention (Dao et al. 2022) never store the :math:`s \times s` scores, so
their footprint is the selective one; ``"none"`` is the paper's baseline.

Total activations are :math:`n_\text{layer}` times the per-layer value,
*not* divided by the pipeline degree: under the 1F1B schedule the first stage
holds :math:`n_\text{layer}/p` layers for :math:`p` micro-batches in flight
(Korthikanti et al. 2022, §4.2.3), assuming at least :math:`p` micro-batches per
step. Not modelled: the interleaved schedule's extra factor
:math:`1 + (p - 1)/(p m)`, embedding and logit activations, CUDA/NCCL buffers and
fragmentation; the fit checks leave ``headroom`` (10% by default) for them.

A plan fits when at least 95% of its draws do (``FIT_SHARE``); :func:`check_fits` says
when one does not, with the smallest larger tensor-parallel degree that fits on the same
GPUs, else the fewest GPUs that fit under ZeRO-3 at a tensor-parallel degree up to 8 (one
node), else what is left to try.

Architecture from N
-------------------
The shape rule counts attention (:math:`4h^2`) and MLP (:math:`8h^2`) weights per
layer and ignores embeddings (Kaplan et al. 2020, §2.1):
:math:`N \approx 12 \, n_\text{layer} \, h^2`. At aspect ratio
:math:`r = h / n_\text{layer}`,

.. math::

    h = (r N / 12)^{1/3}, \qquad n_\text{layer} = h / r, \qquad a = h / 128.

The default :math:`r = 128` is the ratio of GPT-3 6.7B (4096/32), 13B (5140/40)
and 175B (12288/96) (Brown et al. 2020, Table 2.1) and of LLaMA 7B and 13B;
Kaplan et al. 2020 (Fig. 5) find loss changes by only a few percent over a wide
range of shapes. Head dim 128, sequence length 4096 (Llama 2's pretraining
context) and micro-batch 1 are the defaults. No rounding is done: continuous
:math:`n_\text{layer}` and :math:`h` keep memory smooth and non-decreasing in N.

Units
-----
Catalog memory is the vendor's marketed capacity read as decimal GB
(1 GB = 1e9 bytes), and every ``*_gb`` output uses the same unit. The physical
capacity is equal or larger (an "80 GB" H100 has 80 GiB = 85.9e9 bytes), so fit
checks err towards "does not fit".
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import xarray as xr

from bayescale.draws import Draws, percent, quantile
from bayescale.errors import InputError, MemoryWarning

__all__ = [
    "ACCELERATORS",
    "DEFAULT_MFU",
    "Accelerator",
    "Architecture",
    "BetaMFU",
    "check_fits",
    "fits",
    "get_accelerator",
    "memory_per_gpu",
    "min_gpus",
    "train_time",
    "training_flops",
]

SAMPLE_DIMS = ("chain", "draw")
BYTES_PER_GB = 1e9
DEFAULT_HEADROOM = 0.10
FIT_SHARE = 0.95  # a plan fits when at least this share of its draws does (check_fits)
MAX_SUGGESTED_TENSOR = 8  # tensor parallelism stays within one 8-GPU node (NVLink)
DEFAULT_ASPECT_RATIO = 128.0
DEFAULT_HEAD_DIM = 128.0
DEFAULT_SEQ_LEN = 4096
SECONDS_PER_HOUR = 3600.0

# Mixed-precision Adam, bytes per parameter (ZeRO §3.1).
WEIGHT_BYTES = 2  # bf16 weights
GRAD_BYTES = 2  # bf16 gradients
OPTIMIZER_BYTES = 12  # fp32 master weights + two fp32 Adam moments
STATE_BYTES = WEIGHT_BYTES + GRAD_BYTES + OPTIMIZER_BYTES
# Bytes sharded over the data-parallel degree at each ZeRO stage.
ZERO_SHARDED_BYTES = {
    0: 0,
    1: OPTIMIZER_BYTES,
    2: OPTIMIZER_BYTES + GRAD_BYTES,
    3: STATE_BYTES,
}
RECOMPUTE = ("full", "none", "selective")

Recompute = Literal["none", "selective", "full"]


# --------------------------------------------------------------------------
# Accelerator catalog
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Accelerator:
    """One accelerator: peak dense BF16 FLOP/s, memory in bytes, and where both come from.

    Parameters
    ----------
    name : str
        Display name, e.g. ``"H100-SXM"``.
    peak_flops : float
        Peak dense (no sparsity) BF16 tensor throughput in FLOP/s.
    memory_bytes : float
        Device memory in bytes (catalog entries use decimal GB, 1 GB = 1e9 bytes).
    source : str
        Citation for both numbers.
    """

    name: str
    peak_flops: float
    memory_bytes: float
    source: str

    def __post_init__(self) -> None:
        for field in ("peak_flops", "memory_bytes"):
            value = getattr(self, field)
            if not value > 0:
                raise InputError(
                    f"Accelerator.{field} must be > 0, got {value!r}; "
                    "pass FLOP/s and bytes, e.g. peak_flops=989e12, memory_bytes=80e9."
                )


def _catalog(*accelerators: Accelerator) -> Mapping[str, Accelerator]:
    return MappingProxyType({acc.name: acc for acc in accelerators})


ACCELERATORS: Mapping[str, Accelerator] = _catalog(
    Accelerator(
        "A100-40GB",
        312e12,
        40e9,
        "NVIDIA A100 Tensor Core GPU Datasheet (2021): BF16 Tensor Core 312 TFLOPS "
        "dense (624 with sparsity); A100 40GB: 40 GB HBM2.",
    ),
    Accelerator(
        "A100-80GB",
        312e12,
        80e9,
        "NVIDIA A100 Tensor Core GPU Datasheet (2021): BF16 Tensor Core 312 TFLOPS "
        "dense (624 with sparsity); A100 80GB: 80 GB HBM2e.",
    ),
    Accelerator(
        "H100-SXM",
        989e12,
        80e9,
        "NVIDIA H100 Tensor Core GPU Datasheet (2023), H100 SXM: BF16 Tensor Core "
        "1,979 TFLOPS with sparsity (989 dense); GPU memory 80 GB.",
    ),
    Accelerator(
        "H100-PCIe",
        756e12,
        80e9,
        "NVIDIA H100 Tensor Core GPU Datasheet (2023), H100 PCIe: BF16 Tensor Core "
        "1,513 TFLOPS with sparsity (756 dense); GPU memory 80 GB.",
    ),
    Accelerator(
        "H200",
        989e12,
        141e9,
        "NVIDIA H200 Tensor Core GPU Datasheet (2024), H200 SXM: BF16 Tensor Core "
        "1,979 TFLOPS with sparsity (989 dense); GPU memory 141 GB HBM3e.",
    ),
    Accelerator(
        "B200",
        2.25e15,
        180e9,
        "NVIDIA HGX B200 specifications (2024): FP16/BF16 Tensor Core 4.5 PFLOPS "
        "per GPU with sparsity (2.25 dense); NVIDIA DGX B200 Datasheet (2024): "
        "1,440 GB GPU memory for 8 GPUs, i.e. 180 GB each (early material said 192 GB).",
    ),
    Accelerator(
        "MI300X",
        1307.4e12,
        192e9,
        "AMD Instinct MI300X Accelerator Datasheet (2023): peak BF16 1,307.4 TFLOPS "
        "dense (2,614.9 with sparsity); 192 GB HBM3.",
    ),
)


def _lookup_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower()).removesuffix("gb")


# Unqualified "A100" means the original 40 GB part (the conservative choice for
# fit checks); "H100" means the SXM part used in training clusters.
_LOOKUP = {_lookup_key(name): name for name in ACCELERATORS} | {
    "a100": "A100-40GB",
    "h100": "H100-SXM",
    "h100sxm5": "H100-SXM",
}


def get_accelerator(name: str | Accelerator) -> Accelerator:
    """Look an accelerator up by name, forgivingly.

    Case, spaces, hyphens and underscores are ignored; ``"H100"`` means the SXM
    part and ``"A100"`` the 40 GB part. An :class:`Accelerator` is returned as
    is, so custom hardware works wherever a name does.

    Parameters
    ----------
    name : str or Accelerator
        E.g. ``"h100"``, ``"H100 PCIe"``, ``"a100-80gb"``, ``"MI300X"``.

    Returns
    -------
    Accelerator
    """
    if isinstance(name, Accelerator):
        return name
    key = _lookup_key(name) if isinstance(name, str) else None
    if key not in _LOOKUP:
        raise InputError(
            f"unknown accelerator {name!r}; expected one of {sorted(ACCELERATORS)} "
            "(case-insensitive, 'H100' means 'H100-SXM'). For other hardware pass "
            "Accelerator(name, peak_flops, memory_bytes, source)."
        )
    return ACCELERATORS[_LOOKUP[key]]


# --------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------


def _as_dataarray(value: Any, name: str) -> xr.DataArray:
    array = value if isinstance(value, xr.DataArray) else xr.DataArray(value)
    if array.dtype.kind not in "iuf":
        raise InputError(f"{name} must be numeric, got {value!r} (dtype {array.dtype}).")
    if array.dtype == np.float64:
        return array
    return array.copy(data=array.values.astype(np.float64))


def _require(values: np.ndarray, ok: np.ndarray, name: str, requirement: str, fix: str) -> None:
    if not ok.all():
        bad = values[~ok].flat[0].item()
        raise InputError(f"{name} must {requirement}, got {bad!r}; {fix}")


def _positive(value: Any, name: str, fix: str) -> xr.DataArray:
    array = _as_dataarray(value, name)
    _require(array.values, array.values > 0, name, "be > 0", fix)
    return array


def _positive_count(value: Any, name: str, fix: str) -> xr.DataArray:
    requirement = "be a positive whole number"
    if value is None or isinstance(value, bool):
        raise InputError(f"{name} must {requirement}, got {value!r}; {fix}")
    array = _as_dataarray(value, name)
    values = array.values
    ok = (values > 0) & np.isfinite(values) & (values == np.floor(values))
    _require(values, ok, name, requirement, fix)
    return array


def _check_choice(value: Any, choices: Sequence[Any], name: str) -> None:
    if isinstance(value, bool) or value not in choices:
        raise InputError(f"{name} must be one of {list(choices)}, got {value!r}.")


# --------------------------------------------------------------------------
# MFU
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class BetaMFU:
    """Model FLOPs utilization as a Beta(alpha, beta) distribution.

    Parameters
    ----------
    alpha, beta : float
        Beta shape parameters, both > 0; the mean is ``alpha / (alpha + beta)``.
    """

    alpha: float
    beta: float

    def __post_init__(self) -> None:
        if not (self.alpha > 0 and self.beta > 0):
            raise InputError(
                f"BetaMFU needs alpha > 0 and beta > 0, got alpha={self.alpha!r}, "
                f"beta={self.beta!r}; e.g. BetaMFU(45, 55) has mean 0.45."
            )

    @property
    def mean(self) -> float:
        """Mean MFU, ``alpha / (alpha + beta)``."""
        return self.alpha / (self.alpha + self.beta)

    def sample(self, sizes: Mapping[str, int], seed: int | np.random.Generator = 0) -> xr.DataArray:
        """Draw MFU values with the given dim sizes, e.g. ``{"chain": 4, "draw": 1000}``.

        Parameters
        ----------
        sizes : Mapping[str, int]
            Dim names and lengths of the draws; ``{}`` gives one draw.
        seed : int or numpy.random.Generator
            Seed for ``numpy.random.default_rng``; same seed, same draws.

        Returns
        -------
        xarray.DataArray
            Draws named ``mfu`` with dims ``tuple(sizes)``.
        """
        rng = np.random.default_rng(seed)
        draws = rng.beta(self.alpha, self.beta, size=tuple(sizes.values()))
        return xr.DataArray(draws, dims=tuple(sizes), name="mfu")


DEFAULT_MFU = BetaMFU(45.0, 55.0)
"""Default MFU prior: Beta(45, 55), mean 0.45, central 95% [0.354, 0.548] (see module docs)."""


def _check_mfu(mfu: Any) -> xr.DataArray:
    array = _as_dataarray(mfu, "mfu")
    values = array.values
    _require(
        values,
        (values > 0) & (values <= 1),
        "mfu",
        "lie in (0, 1] (a fraction of peak FLOP/s)",
        "pass a fraction such as mfu=0.4 for 40%, or mfu=None for the default "
        "Beta(45, 55) distribution.",
    )
    return array


def _mfu_draws(
    mfu: float | BetaMFU | xr.DataArray | None,
    template: xr.DataArray,
    seed: int | np.random.Generator,
    sample_dims: Sequence[str],
) -> xr.DataArray:
    """One MFU per draw of ``template``: over its ``sample_dims``, else over all its dims."""
    if mfu is None:
        mfu = DEFAULT_MFU
    if isinstance(mfu, BetaMFU):
        dims = [dim for dim in sample_dims if dim in template.dims] or list(template.dims)
        return mfu.sample({dim: template.sizes[dim] for dim in dims}, seed)
    return _check_mfu(mfu)


# --------------------------------------------------------------------------
# Architecture
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Architecture:
    """Transformer shape used for activation memory and the attention FLOP term.

    Fields may be numbers or arrays of draws (continuous values are fine).

    Parameters
    ----------
    n_layer : float or array
        Number of transformer layers.
    d_model : float or array
        Hidden size ``h``.
    n_heads : float or array
        Attention heads ``a``.
    seq_len : float
        Sequence length ``s`` (default 4096).
    micro_batch : float
        Micro-batch size ``b`` in sequences per GPU (default 1).
    """

    n_layer: Any
    d_model: Any
    n_heads: Any
    seq_len: Any = DEFAULT_SEQ_LEN
    micro_batch: Any = 1

    def __post_init__(self) -> None:
        for field in ("n_layer", "d_model", "n_heads", "seq_len", "micro_batch"):
            _positive(getattr(self, field), f"Architecture.{field}", "pass a positive size.")

    @classmethod
    def from_params(
        cls,
        n: Any,
        aspect_ratio: float = DEFAULT_ASPECT_RATIO,
        head_dim: float = DEFAULT_HEAD_DIM,
        seq_len: float = DEFAULT_SEQ_LEN,
        micro_batch: float = 1,
    ) -> Architecture:
        """Shape for ``n`` parameters by the rule ``N = 12 n_layer d_model²``.

        ``d_model = (aspect_ratio · n / 12)^(1/3)``, ``n_layer = d_model / aspect_ratio``,
        ``n_heads = d_model / head_dim``. Vectorized over draws of ``n``; no
        rounding, so shapes (and memory) grow smoothly with ``n``.
        """
        params = _positive(n, "n", "pass the parameter count, e.g. n=7e9.")
        _positive(aspect_ratio, "aspect_ratio", "GPT-style models use about 128.")
        _positive(head_dim, "head_dim", "most models use 128.")
        d_model = (aspect_ratio * params / 12) ** (1 / 3)
        return cls(
            n_layer=d_model / aspect_ratio,
            d_model=d_model,
            n_heads=d_model / head_dim,
            seq_len=seq_len,
            micro_batch=micro_batch,
        )

    @property
    def n_params(self) -> Any:
        """Non-embedding parameters by the shape rule, ``12 n_layer d_model²``."""
        return 12 * self.n_layer * self.d_model**2


# --------------------------------------------------------------------------
# Train time
# --------------------------------------------------------------------------


def training_flops(n: Any, d: Any, arch: Architecture | None = None) -> xr.DataArray:
    """Training FLOPs: ``6 N D``, plus ``6 D n_layer s h`` for attention when ``arch`` is given.

    Parameters
    ----------
    n, d : float or array
        Parameters and training tokens (draws broadcast by xarray rules).
    arch : Architecture, optional
        Adds the attention term of Kaplan et al. 2020, Table 1.

    Returns
    -------
    xarray.DataArray
        Named ``flops``, units ``FLOP``.
    """
    params = _positive(n, "n", "pass the parameter count, e.g. n=7e9.")
    tokens = _positive(d, "d", "pass the number of training tokens, e.g. d=1.4e12.")
    per_token = params if arch is None else params + arch.n_layer * arch.seq_len * arch.d_model
    return (6 * per_token * tokens).rename("flops").assign_attrs(units="FLOP")


def _plan_field(plan: Any, key: str) -> Any:
    try:
        return plan[key]
    except (KeyError, TypeError, IndexError):
        pass
    try:
        return getattr(plan, key)
    except AttributeError:
        raise InputError(
            f"plan must have '{key}' (and 'n_opt', 'd_opt'), got {type(plan).__name__} "
            "without it; pass a plan Dataset with n_opt and d_opt, or n= and d=."
        ) from None


def _resolve_flops(plan: Any, n: Any, d: Any, flops: Any) -> xr.DataArray:
    given = {
        "plan": plan is not None,
        "n=/d=": n is not None or d is not None,
        "flops=": flops is not None,
    }
    if sum(given.values()) != 1:
        got = [name for name, present in given.items() if present] or "none"
        raise InputError(
            f"train_time needs exactly one of plan, n= and d=, or flops=, got {got}; "
            "e.g. train_time(plan, 'H100', 1024) or train_time(n=7e9, d=1.4e12, "
            "hardware='H100', n_gpus=64)."
        )
    if flops is not None:
        return _positive(flops, "flops", "pass training FLOPs, e.g. flops=6 * n * d.")
    if plan is not None:
        n, d = _plan_field(plan, "n_opt"), _plan_field(plan, "d_opt")
    if n is None or d is None:
        raise InputError("train_time needs both n= and d=, got only one; pass both.")
    return training_flops(n, d)


def train_time(
    plan: Any = None,
    hardware: str | Accelerator | None = None,
    n_gpus: Any = None,
    mfu: float | BetaMFU | xr.DataArray | None = None,
    price_per_gpu_hour: float | None = None,
    seed: int | np.random.Generator = 0,
    flops: Any = None,
    *,
    n: Any = None,
    d: Any = None,
    sample_dims: Sequence[str] = SAMPLE_DIMS,
) -> Draws | xr.Dataset:
    """Train time, GPU-hours and cost of a plan, per draw.

    Give the work as exactly one of: ``plan`` (anything with ``n_opt`` and
    ``d_opt``, e.g. a Dataset with dims ``(chain, draw, budget)``), ``n=`` and
    ``d=``, or ``flops=``. FLOPs default to ``6 N D``; pass
    ``flops=training_flops(n, d, arch)`` for the attention term.

    Parameters
    ----------
    plan : Dataset or object with ``n_opt`` and ``d_opt``, optional
        Draws of the optimal allocation.
    hardware : str or Accelerator
        Catalog name (see :func:`get_accelerator`) or a custom accelerator.
    n_gpus : int or array of int
        GPUs in the job, > 0; an array (e.g. a DataArray with dim ``n_gpus``) broadcasts.
    mfu : float, BetaMFU, or array, optional
        Fixed MFU in (0, 1], a distribution, or draws in (0, 1]. ``None`` uses
        :data:`DEFAULT_MFU`, one draw per ``sample_dims`` draw (see module docs).
        For a single plan, ``mfu=DEFAULT_MFU.sample({"draw": 1000}, seed)``
        gives the spread from MFU alone.
    price_per_gpu_hour : float, optional
        Price of one GPU-hour (any currency, >= 0); adds ``cost``.
    seed : int or numpy.random.Generator
        Seed for the MFU draws.
    flops : float or array, optional
        Training FLOPs, instead of a plan.
    n, d : float or array, optional
        Parameters and tokens, instead of a plan.
    sample_dims : sequence of str
        Dims that index posterior draws; default ``("chain", "draw")``.

    Returns
    -------
    Draws or xarray.Dataset
        ``hours``, ``days``, ``gpu_hours``, ``cost`` (only with a price), and
        the ``flops`` and ``mfu`` used, each with a ``units`` attribute. For a plan that
        is :class:`~bayescale.draws.Draws` (``post.optimal(...)``), :class:`Draws` whose
        variables all share the plan's dims (``mfu``, one value per draw, repeated over
        budgets), so that ``.interval()`` gives a row per budget; otherwise a Dataset.
    """
    accelerator = get_accelerator(hardware)
    gpus = _positive_count(n_gpus, "n_gpus", "pass the GPU count of the job, e.g. n_gpus=8.")
    work = _resolve_flops(plan, n, d, flops)
    utilization = _mfu_draws(mfu, work, seed, sample_dims)
    hours = work / (gpus * accelerator.peak_flops * utilization) / SECONDS_PER_HOUR
    gpu_hours = hours * gpus
    variables = {
        "hours": hours.assign_attrs(units="hour"),
        "days": (hours / 24).assign_attrs(units="day"),
        "gpu_hours": gpu_hours.assign_attrs(units="GPU-hour"),
        "flops": work.assign_attrs(units="FLOP"),
        "mfu": utilization.assign_attrs(units="1", long_name="model FLOPs utilization"),
    }
    if price_per_gpu_hour is not None:
        price = _as_dataarray(price_per_gpu_hour, "price_per_gpu_hour")
        if not (price >= 0).all():
            raise InputError(
                f"price_per_gpu_hour must be >= 0, got {price_per_gpu_hour!r}; "
                "pass the price of one GPU-hour, e.g. 2.5."
            )
        variables["cost"] = (gpu_hours * price).assign_attrs(units="currency of price_per_gpu_hour")
    result = xr.Dataset(
        variables,
        attrs={
            "hardware": accelerator.name,
            "peak_flops": accelerator.peak_flops,
            "hardware_source": accelerator.source,
        },
    )
    if not isinstance(plan, Draws):
        return result
    return Draws(result.map(lambda da: da.broadcast_like(hours), keep_attrs=True))


# --------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------


def _model_state_bytes(params: xr.DataArray, zero_stage: int, data_parallel: Any) -> Any:
    sharded = ZERO_SHARDED_BYTES[zero_stage]
    return params * (STATE_BYTES - sharded + sharded / data_parallel)


def _activation_bytes_per_layer(
    arch: Architecture, tensor_parallel: Any, sequence_parallel: bool, recompute: str
) -> Any:
    sbh = arch.seq_len * arch.micro_batch * arch.d_model
    if recompute == "full":
        return 2 * sbh
    attention = 0 if recompute == "selective" else 5 * arch.n_heads * arch.seq_len / arch.d_model
    if sequence_parallel:
        return sbh * (34 + attention) / tensor_parallel
    return sbh * (10 + (24 + attention) / tensor_parallel)


def memory_per_gpu(
    n: Any,
    arch: Architecture | None = None,
    *,
    zero_stage: int = 0,
    data_parallel: Any = 1,
    tensor_parallel: Any = 1,
    pipeline_parallel: Any = 1,
    sequence_parallel: bool = False,
    recompute: Recompute = "selective",
) -> xr.Dataset:
    """Training memory per GPU: model states plus activations (see module docs).

    Parameters
    ----------
    n : float or array
        Parameter count draws.
    arch : Architecture, optional
        Shape for the activations; default ``Architecture.from_params(n)``.
    zero_stage : {0, 1, 2, 3}
        ZeRO stage; 3 is FSDP full sharding.
    data_parallel, tensor_parallel, pipeline_parallel : int
        Parallel degrees, >= 1.
    sequence_parallel : bool
        Megatron sequence parallelism (shards the non-tensor-parallel activations).
    recompute : {"selective", "none", "full"}
        Activation recomputation; ``"selective"`` (default) also describes
        FlashAttention-style kernels that do not store attention scores.

    Returns
    -------
    xarray.Dataset
        ``model_states_bytes``, ``activations_bytes``, ``total_bytes`` and the
        same in decimal GB as ``model_states_gb``, ``activations_gb``, ``total_gb``.
    """
    params = _positive(n, "n", "pass the parameter count, e.g. n=7e9.")
    arch = Architecture.from_params(params) if arch is None else arch
    _check_choice(zero_stage, tuple(ZERO_SHARDED_BYTES), "zero_stage")
    _check_choice(recompute, RECOMPUTE, "recompute")
    fix = "pass a parallel degree >= 1, e.g. 8."
    data = _positive_count(data_parallel, "data_parallel", fix)
    tensor = _positive_count(tensor_parallel, "tensor_parallel", fix)
    pipeline = _positive_count(pipeline_parallel, "pipeline_parallel", fix)
    states = _model_state_bytes(params, zero_stage, data) / (tensor * pipeline)
    per_layer = _activation_bytes_per_layer(arch, tensor, bool(sequence_parallel), recompute)
    activations = _as_dataarray(arch.n_layer * per_layer, "activations")
    parts = {"model_states": states, "activations": activations, "total": states + activations}
    variables = {}
    for part, value in parts.items():
        variables[f"{part}_bytes"] = value.assign_attrs(units="byte")
        variables[f"{part}_gb"] = (value / BYTES_PER_GB).assign_attrs(units="GB (1e9 bytes)")
    return xr.Dataset(variables)


def _usable_bytes(hardware: str | Accelerator, headroom: float) -> float:
    if not 0 <= headroom < 1:
        raise InputError(
            f"headroom must lie in [0, 1), got {headroom!r}; it is the fraction of "
            "memory kept free, e.g. 0.1."
        )
    return get_accelerator(hardware).memory_bytes * (1 - headroom)


def fits(
    n: Any,
    hardware: str | Accelerator,
    arch: Architecture | None = None,
    *,
    headroom: float = DEFAULT_HEADROOM,
    **layout: Any,
) -> xr.DataArray:
    """Whether each draw fits in ``(1 - headroom)`` of the accelerator's memory.

    Take ``fits(...).mean(("chain", "draw"))`` for the probability that it fits.

    Parameters
    ----------
    n : float or array
        Parameter count draws.
    hardware : str or Accelerator
        Catalog name or custom accelerator.
    arch : Architecture, optional
        Passed to :func:`memory_per_gpu`.
    headroom : float
        Fraction of memory kept free for buffers and fragmentation (default 0.1).
    **layout
        Keyword arguments of :func:`memory_per_gpu` (``zero_stage``, ``data_parallel``, ...).

    Returns
    -------
    xarray.DataArray
        Boolean draws named ``fits``.
    """
    usable = _usable_bytes(hardware, headroom)
    total = memory_per_gpu(n, arch, **layout)["total_bytes"]
    return (total <= usable).rename("fits").assign_attrs(usable_bytes=usable)


def min_gpus(
    n: Any,
    hardware: str | Accelerator,
    arch: Architecture | None = None,
    *,
    tensor_parallel: int = 1,
    pipeline_parallel: int = 1,
    sequence_parallel: bool = False,
    recompute: Recompute = "selective",
    headroom: float = DEFAULT_HEADROOM,
) -> xr.DataArray:
    """Fewest GPUs for which each draw fits, with ZeRO-3 sharding over the data-parallel GPUs.

    The count is ``d · t · p`` with the smallest data-parallel degree ``d`` such
    that ``16 N / (d t p) + activations <= (1 - headroom) · memory``. Activations
    do not shrink with ``d``, so where they alone exceed the usable memory the
    answer is ``inf``: turn on recomputation, sequence or tensor parallelism, or
    use a smaller micro-batch.

    Parameters
    ----------
    n : float or array
        Parameter count draws.
    hardware : str or Accelerator
        Catalog name (see :func:`get_accelerator`) or a custom accelerator.
    arch : Architecture, optional
        Shape for the activations; default ``Architecture.from_params(n)``.
    tensor_parallel, pipeline_parallel : int
        Tensor- and pipeline-parallel degrees, >= 1; the count is a multiple of their
        product.
    sequence_parallel : bool
        Megatron sequence parallelism (shards the non-tensor-parallel activations).
    recompute : {"selective", "none", "full"}
        Activation recomputation, as in :func:`memory_per_gpu`.
    headroom : float
        Fraction of memory kept free for buffers and fragmentation, in [0, 1)
        (default 0.1).

    Returns
    -------
    xarray.DataArray
        Float draws named ``min_gpus`` (whole numbers, or ``inf``).
    """
    usable = _usable_bytes(hardware, headroom)
    unsharded = memory_per_gpu(
        n,
        arch,
        zero_stage=3,
        data_parallel=1,
        tensor_parallel=tensor_parallel,
        pipeline_parallel=pipeline_parallel,
        sequence_parallel=sequence_parallel,
        recompute=recompute,
    )
    room = usable - unsharded["activations_bytes"]
    data_parallel = np.ceil(unsharded["model_states_bytes"] / room.where(room > 0))
    return (
        (data_parallel * tensor_parallel * pipeline_parallel)
        .fillna(np.inf)
        .rename("min_gpus")
        .assign_attrs(units="GPU", usable_bytes=usable)
    )


def _position(share: xr.DataArray, index: tuple[int, ...]) -> str:
    """Where ``index`` lies along the dims of ``share``, in words: per dim, the coordinates
    that label it (such as a run's ``n_params`` and ``n_tokens`` along ``point``), else the
    dim's own value (a ``budget``), else its position."""
    parts = []
    for dim, i in zip(share.dims, index, strict=True):
        labels = [name for name, c in share.coords.items() if c.dims == (dim,) and name != dim]
        if labels:
            parts += [f"{name} {share[name].values[i]:.3g}" for name in labels]
        elif dim in share.coords:
            parts.append(f"{dim} {share[dim].values[i]:.3g}")
        else:
            parts.append(f"{dim} {i}")
    return ", ".join(parts)


def _fit_share(ok: xr.DataArray, sample_dims: Sequence[str]) -> xr.DataArray:
    """The share of draws that fit: over ``sample_dims`` where present, else over all dims."""
    dims = [dim for dim in sample_dims if dim in ok.dims] or list(ok.dims)
    return ok.mean(dims)


def _worst_quantile(values: xr.DataArray, q: float, sample_dims: Sequence[str]) -> float:
    """The largest, along the other dims, ``q`` quantile over the draws (``inf`` draws kept,
    as :func:`bayescale.draws.quantile` keeps them)."""
    dims = [dim for dim in sample_dims if dim in values.dims] or list(values.dims)
    draws = int(np.prod([values.sizes[dim] for dim in dims]))
    flat = values.transpose(*dims, ...).values.reshape(draws, -1)
    return float(np.max(quantile(flat, q, axis=0)))


def _scalar_layout(layout: Mapping[str, Any]) -> dict | None:
    """The layout's degrees as plain numbers with their defaults, or None when any of them
    is an array (a suggestion is then not made)."""
    out = {
        "zero_stage": layout.get("zero_stage", 0),
        "recompute": layout.get("recompute", "selective"),
        "sequence_parallel": bool(layout.get("sequence_parallel", False)),
    }
    for name in ("data_parallel", "tensor_parallel", "pipeline_parallel"):
        value = np.asarray(layout.get(name, 1))
        if value.size != 1:
            return None
        out[name] = int(value)
    return out


def _suggestion(n, hardware, arch, headroom, layout, sample_dims) -> str:
    """The smallest change to ``layout`` that fits ``FIT_SHARE`` of the draws everywhere: a
    larger tensor-parallel degree on the same GPUs (with sequence parallelism), else the
    fewest GPUs for ZeRO-3 at a tensor-parallel degree up to ``MAX_SUGGESTED_TENSOR``
    (:func:`min_gpus`); else what is left to try. Empty for a layout of arrays."""
    base = _scalar_layout(layout)
    if base is None:
        return ""
    tensor, pipeline = base["tensor_parallel"], base["pipeline_parallel"]
    gpus = base["data_parallel"] * tensor * pipeline
    degree = 2 * tensor
    while degree * pipeline <= gpus:
        if gpus % (degree * pipeline) == 0:
            trial = {
                **base,
                "tensor_parallel": degree,
                "data_parallel": gpus // (degree * pipeline),
                "sequence_parallel": True,
            }
            ok = fits(n, hardware, arch, headroom=headroom, **trial)
            share = float(_fit_share(ok, sample_dims).min())
            if share >= FIT_SHARE:
                total = memory_per_gpu(n, arch, **trial)["total_gb"]
                return (
                    f" Tensor-parallel degree {degree} with sequence parallelism on the same "
                    f"{gpus} GPUs (data-parallel {trial['data_parallel']}) fits "
                    f"{percent(share)} of draws (median "
                    f"{_worst_quantile(total, 0.5, sample_dims):.3g} GB per GPU)."
                )
        degree *= 2
    counts = {}
    degree = tensor
    while degree <= max(tensor, MAX_SUGGESTED_TENSOR):
        need = min_gpus(
            n,
            hardware,
            arch,
            tensor_parallel=degree,
            pipeline_parallel=pipeline,
            sequence_parallel=base["sequence_parallel"] or degree > 1,
            recompute=base["recompute"],
            headroom=headroom,
        )
        counts[degree] = _worst_quantile(need, FIT_SHARE, sample_dims)
        degree *= 2
    best = min(counts, key=counts.get)
    if np.isfinite(counts[best]):
        return (
            f" With ZeRO-3 over the data-parallel GPUs, {counts[best]:.0f} GPUs at "
            f"tensor-parallel degree {best}{' with sequence parallelism' if best > 1 else ''} "
            f"fit {FIT_SHARE:.0%} of draws."
        )
    return (
        f" No tensor-parallel degree on these {gpus} GPUs, and no GPU count at a degree up "
        f"to {max(tensor, MAX_SUGGESTED_TENSOR)}, fits: the activations alone exceed the "
        "memory; use full recomputation, pipeline parallelism or a shorter sequence."
    )


def check_fits(
    n: Any,
    hardware: str | Accelerator,
    arch: Architecture | None = None,
    *,
    headroom: float = DEFAULT_HEADROOM,
    sample_dims: Sequence[str] = SAMPLE_DIMS,
    **layout: Any,
) -> xr.DataArray:
    """:func:`fits`, and a :class:`~bayescale.errors.MemoryWarning` when fewer than
    ``FIT_SHARE`` (95%) of the draws fit anywhere along the other dims (e.g. a budget).

    The warning names where it does not fit, the share of draws that do, the median memory
    per GPU against the usable memory, and the smallest change that fits: the smallest
    larger tensor-parallel degree on the same GPU count (``d·t·p`` of ``layout``, with
    sequence parallelism), else the fewest GPUs that ZeRO-3 needs at a tensor-parallel
    degree up to ``MAX_SUGGESTED_TENSOR`` (:func:`min_gpus`), else what is left to try.
    """
    ok = fits(n, hardware, arch, headroom=headroom, **layout)
    share = _fit_share(ok, sample_dims)
    if float(share.min()) >= FIT_SHARE:
        return ok
    accelerator = get_accelerator(hardware)
    total = memory_per_gpu(n, arch, **layout)["total_gb"]
    dims = [dim for dim in sample_dims if dim in total.dims] or list(total.dims)
    median = total.median(dims) if dims else total
    where = []
    for index in np.ndindex(share.shape):
        if share.values[index] < FIT_SHARE:
            at = _position(share, index)
            where.append(
                f"{at + ': ' if at else ''}{percent(share.values[index])} of draws fit, median "
                f"{float(median.values[index]):.3g} GB per GPU"
            )
    usable = _usable_bytes(accelerator, headroom) / BYTES_PER_GB
    warnings.warn(
        f"the trained model does not fit in memory on the {accelerator.name} ({usable:.3g} GB "
        f"usable of {accelerator.memory_bytes / BYTES_PER_GB:.3g} GB, {headroom:.0%} kept free): "
        f"{'; '.join(where)}."
        f"{_suggestion(n, accelerator, arch, headroom, layout, sample_dims)}",
        MemoryWarning,
        stacklevel=2,
    )
    return ok
