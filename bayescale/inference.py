"""Running NUTS: devices, precision, vectorized chains, and packing the result.

``fit`` is the one entry point. The chains split evenly over the chosen platform's
devices, one chain per device where there are enough (the CPU devices bayescale asks JAX
for, or several GPUs), and otherwise run vectorized (``vmap`` over the chain axis) within
each device (:mod:`bayescale.devices`); the data go to the devices once. The CPU is the
default; pass ``device="gpu"`` for a GPU (falls back to the CPU with a warning that names
the fix).
Precision defaults to float64 on the CPU (it costs little there) and, on a GPU, to
float32 up to ``FLOAT32_MAX_POINTS`` points and float64 above (:func:`default_precision`);
the law is evaluated in log space, so float32 stays accurate at N ≈ 1e12, C ≈ 1e26.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import jax
import numpy as np
import numpyro.distributions as dist
import xarray as xr
from numpyro.infer import MCMC

from bayescale import __version__, ranges
from bayescale.compilation_cache import release_compiled_programs, use_compilation_cache
from bayescale.curves import CURVE_MIN_FRACTION, offset_trends, offset_units
from bayescale.devices import chain_map, prepare_cpu_devices, select_device
from bayescale.diagnostics import diagnose, prior_dominated, problems, warn_all
from bayescale.discrepancy import EXTRAPOLATION_ERROR, check_extrapolation_error
from bayescale.errors import InputError, InputTypeError, MisfitWarning
from bayescale.fitinfo import CurveInfo, DataInfo, FitInfo, SamplerInfo
from bayescale.idata import prior_draws, with_inference_groups
from bayescale.laws import Law
from bayescale.likelihood import NoiseDraws, noise_params, run_groups, tail_params
from bayescale.model_inputs import ModelInputs, model_inputs, padded
from bayescale.nuts import MAX_TREE_DEPTH, SAMPLER_FIELDS, nuts_kernel
from bayescale.posterior import Posterior, input_variables, residual_blocks
from bayescale.priors import describe
from bayescale.progress import FitProgress, wanted
from bayescale.starts import INIT, Start, laplace_start
from bayescale.sweep import Sweep
from bayescale.sweep_schedules import fitted_rates

FLOAT32_MAX_POINTS = 20_000


def default_precision(platform: str, points: int) -> str:
    """float64 on the CPU; on a GPU, float32 up to ``FLOAT32_MAX_POINTS`` points.

    A log density summed over ``n`` points in float32 carries a rounding error that grows
    with ``n``, and NUTS reads it through energy differences (acceptance, divergences,
    step-size adaptation). For the hierarchical curve model it is 0.007 nats at 2e4
    points, 0.035 at 1e5 and 0.35 at 1e6 (``benchmarks/float32_energy.py``). At 1e6
    points that is as large as the energy changes between nearby points, noise that
    step-size adaptation can only answer with smaller steps, and so with many more steps
    per iteration. Up to 2e4 points float32 posteriors match
    float64 within Monte Carlo error (``benchmarks/precision.py``; ``docs/performance.md``,
    runs F and G).
    """
    return "float32" if platform == "gpu" and points <= FLOAT32_MAX_POINTS else "float64"


def fit(
    sweep: Sweep,
    law: str | Law = "chinchilla",
    *,
    pooling: str = "none",
    vary=None,
    centring: str = "non-centred",
    checkpoints: str | None = None,
    min_fraction: float = CURVE_MIN_FRACTION,
    offset_groups: str | None = None,
    priors: Mapping[str, dist.Distribution] | None = None,
    likelihood: str | None = None,
    chains: int = 4,
    warmup: int = 1000,
    draws: int = 1000,
    seed: int = 0,
    device: str | None = None,
    precision: str | None = None,
    target_accept: float = 0.8,
    dense_mass: bool = True,
    init: str = "laplace",
    extrapolation_error: float = EXTRAPOLATION_ERROR,
    pad_to: int | None = None,
    progress: bool | None = None,
) -> Posterior:
    """Fit ``law`` to ``sweep`` with NUTS and return the :class:`Posterior`.

    Parameters
    ----------
    sweep
        the data, a :class:`bayescale.Sweep`.
    law
        a registered law's name or a :class:`bayescale.Law`.
    pooling
        ``"none"`` (one law), ``"partial"`` (hierarchical over the sweep's groups,
        for the parameters in ``vary``, default all) or ``"separate"`` (one law per group).
    vary
        under partial pooling, the names (or one name) of the law's parameters that vary by group
        (default: all of them); the others are shared by every group.
    centring
        under partial pooling, how group values are sampled: ``"non-centred"`` (the
        default) suits groups the data measure weakly, ``"centred"`` groups the data pin
        down, such as large curve sweeps with many runs per group
        (:func:`bayescale.model.partial_params`; the same posterior either way).
    checkpoints
        for training curves (a ``run`` column with several checkpoints per run):
        ``"all"`` fits every checkpoint, ``"final"`` each run's last. By default a law that
        reads learning-rate schedules (such as ``"multipower"``) fits all, and any other law
        fits the final ones, with a warning: a checkpoint part-way through a decaying
        schedule is not a finished run (:mod:`bayescale.curves`).
    min_fraction
        when every checkpoint is fitted, the checkpoints of a run share an
        offset, and those before ``min_fraction`` of the run's final tokens are excluded
        (with a warning; 0 keeps them).
    offset_groups
        for training curves, a column of the sweep whose values group the runs: runs with
        the same value share part of their offset, such as the runs of one model size
        (``"n_params"``), which share the law's misfit at that size. A new run with a
        fitted value is then predicted with that share (:mod:`bayescale.likelihood`). The
        Normal likelihood only. ``None``, the default: every run's offset is its own.
    priors
        replaces any default prior by name with a NumPyro distribution
        (:mod:`bayescale.priors`).
    likelihood
        ``"student_t"`` (robust) or ``"normal"`` (:mod:`bayescale.likelihood`); ``None``,
        the default, takes the Student-t for finished runs and the Normal for training
        curves (:func:`bayescale.likelihood.default_likelihood`).
    chains, warmup, draws
        NUTS chains, warmup iterations per chain and kept draws per chain: PyMC's
        ``chains``, ``tune`` and ``draws``, NumPyro's ``num_chains``, ``num_warmup`` and
        ``num_samples``. Chains run in parallel over CPU devices where JAX has them: the first fit
        asks JAX for a CPU device per chain if JAX has not started yet
        (:func:`bayescale.devices.prepare_cpu_devices`).
    seed
        the same seed gives the same draws on the same device, number of devices and
        precision.
    device
        ``"cpu"`` (the default) or ``"gpu"``.
    precision
        ``"float32"`` or ``"float64"``; by default per device and data size
        (:func:`default_precision`).
    target_accept, dense_mass
        NUTS's target acceptance rate (PyMC's ``target_accept``, NumPyro's
        ``target_accept_prob``) and dense mass matrix (NumPyro's ``dense_mass``).
    init
        ``"laplace"`` (the default) starts each chain near a posterior mode and the
        warmup from the Laplace covariance there (:mod:`bayescale.starts`; where it finds
        no proper mode it starts as ``"prior"`` does, and says so in
        ``info.sampler.init``); ``"prior"`` starts from the prior mean with the identity
        mass matrix.
    extrapolation_error
        scales the law's error outside the fitted runs that loss predictions carry (per
        e-fold of distance from the fitted runs, in units of the noise scale; default the
        one learned on the bundled sweeps; 0 turns it off; :mod:`bayescale.discrepancy`).
    pad_to
        run the sampler on this many points, the data's last point repeated and masked
        out of the likelihood, so that fits of subsets of one sweep (leave-future-out
        refits) compile one sampler between them, or reuse it from JAX's persistent cache;
        the posterior is the same. Fits of finished runs only: for training curves and
        laws that read schedules it has no effect
        (:func:`bayescale.model_inputs.padded`). ``None``, the default: no padding.
    progress
        A progress bar on stderr, one for all chains, naming the phase (mode search,
        compiling, warmup, sampling; :mod:`bayescale.progress`). ``None`` (the default)
        shows it when stderr is a terminal or a Jupyter kernel's output, ``True`` always,
        ``False`` never. A fit that shows it compiles its sampler anew in each process
        (JAX's persistent cache skips programs with host callbacks).

    Returns
    -------
    Posterior
        The draws, the data and what is known about the fit (``Posterior.info``).

    Warns
    -----
    ConvergenceWarning
        Sampling problems (divergences, R-hat, ESS, tree depth); they are also kept on
        the result (``Posterior.warnings``).
    SweepWarning
        Rows the fit leaves out by its own rule, and fitted points of one model size or one
        token count (that last also kept on the result).
    """
    if not isinstance(sweep, Sweep):
        raise InputTypeError(
            f"fit expects a bayescale.Sweep, got {type(sweep).__name__}; "
            "build one with bs.Sweep.from_frame(df, ...) or "
            "bs.read_sweep(path)."
        )
    _check_sampler(chains, warmup, draws, seed, target_accept)
    if init not in INIT:
        raise InputError(f"init must be one of {list(INIT)}, got {init!r}.")
    extrapolation_error = check_extrapolation_error(extrapolation_error)
    prepare_cpu_devices(chains)
    device_obj = select_device(device)
    inputs = model_inputs(
        sweep,
        law,
        pooling=pooling,
        vary=vary,
        centring=centring,
        checkpoints=checkpoints,
        min_fraction=min_fraction,
        offset_groups=offset_groups,
        priors=priors,
        likelihood=likelihood,
        platform=device_obj.platform,
    )
    settings = SamplerSettings(
        chains=chains,
        warmup=warmup,
        draws=draws,
        seed=seed,
        target_accept=target_accept,
        dense_mass=dense_mass,
        init=init,
        device=device_obj,
        progress=progress,
        precision=_precision(precision, device_obj.platform, len(inputs.args["log_loss"])),
        args=padded(inputs.args, pad_to),
    )
    use_compilation_cache()
    release_compiled_programs()
    run = _sample(inputs, settings)
    posterior, sample_stats = _datasets(inputs, run)
    diag = diagnose(posterior, sample_stats, MAX_TREE_DEPTH)
    messages = problems(diag, inputs.centring if inputs.pooling == "partial" else None)
    shared = (
        inputs.law.params
        if inputs.pooling != "partial"
        else [p for p in inputs.law.params if p not in inputs.vary]
    )
    weak = prior_dominated(posterior, inputs.priors, shared)
    messages += [weak] if weak else []
    warn_all(messages)
    info = _fit_info(inputs, settings, run, diag, min_fraction, extrapolation_error)
    groups = _data_groups(inputs)
    if inputs.runs:
        offsets, shared = _run_offsets(inputs, posterior, groups, seed)
        posterior = posterior.assign(run_offset=(("chain", "draw", "run"), offsets))
        if shared is not None:
            posterior = posterior.assign(
                shared_offset=(("chain", "draw", "offset_group"), shared)
            ).assign_coords(offset_group=inputs.shared)
        trends = offset_trends(offsets, *_run_axes(inputs))
        for message in trends:
            warnings.warn(message, MisfitWarning, stacklevel=2)
        messages += trends
    groups.update(posterior=posterior, sample_stats=sample_stats)
    # warned when they happened
    before = (*inputs.data_warnings, *((run.start.warning,) if run.start.warning else ()))
    post = Posterior(groups=groups, law=inputs.law, info=info, warnings=(*before, *messages))
    return with_inference_groups(post, prior_draws(inputs, seed, settings.precision))


def _check_sampler(chains, warmup, draws, seed, target_accept) -> None:
    """The sampler's settings lie in their ranges (:mod:`bayescale.ranges`), before any
    work: each error names the argument, its range and an example."""
    for name, value, valid, example in (
        ("chains", chains, ranges.COUNT, "chains=4"),
        ("warmup", warmup, ranges.WHOLE, "warmup=1000"),
        ("draws", draws, ranges.COUNT, "draws=1000"),
        ("seed", seed, ranges.SEED, "seed=0"),
        ("target_accept", target_accept, ranges.PROBABILITY, "target_accept=0.9"),
    ):
        valid.check(value, name, example)


def _precision(precision: str | None, platform: str, points: int) -> str:
    """The fit's float precision: as asked, or :func:`default_precision`; warns where
    float32 is asked for more points than it handles well."""
    precision = precision or default_precision(platform, points)
    if precision not in ("float32", "float64"):
        raise InputError(f"precision must be 'float32' or 'float64', got {precision!r}.")
    if precision == "float32" and points > FLOAT32_MAX_POINTS:
        warnings.warn(
            f"precision='float32' with {points:,} points: the log density's rounding "
            "error grows with the points and blurs NUTS's energy checks (about 0.35 "
            "nats at 1e6 points), which shrinks its steps. Fix: leave precision to "
            f"its default (float64 above {FLOAT32_MAX_POINTS:,} points).",
            UserWarning,
            stacklevel=3,
        )
    return precision


@dataclass(frozen=True)
class SamplerSettings:
    """What :func:`fit` was asked to run."""

    chains: int
    warmup: int
    draws: int
    seed: int
    target_accept: float
    dense_mass: bool
    init: str
    device: jax.Device
    precision: str
    progress: bool | None
    args: dict
    """The data arrays the sampler runs on (:func:`bayescale.model_inputs.padded`)."""


@dataclass(frozen=True)
class SamplerRun:
    """What NUTS returned: draws and extra fields per chain, where chains started, the
    kernel's shape, how chains were laid over devices, and timings."""

    samples: dict
    extra: dict
    start: Start
    start_seconds: float
    n_latent: int
    regularize: bool
    chain_method: str
    devices: int
    seconds: float


def _sample(inputs: ModelInputs, settings: SamplerSettings) -> SamplerRun:
    """Find where chains start, then run NUTS, under the fit's progress bar."""
    shown = wanted(settings.progress)
    with FitProgress(shown, settings.chains, settings.warmup, settings.draws) as bar:
        return _run_nuts(inputs, settings, bar)


def _run_nuts(inputs: ModelInputs, settings: SamplerSettings, bar: FitProgress) -> SamplerRun:
    """Find where chains start, then run NUTS."""
    args, centre, device = settings.args, inputs.centre, settings.device
    started = time.perf_counter()
    with jax.default_device(device):
        start = (
            laplace_start(
                inputs.model,
                {**args, "centre": centre},
                settings.seed,
                settings.chains,
                settings.dense_mass,
                hold=tail_params(inputs.likelihood),
            )
            if settings.init == "laplace"
            else Start(None, None, {"start": "prior", "mass_matrix": "identity"})
        )
    start_seconds = time.perf_counter() - started
    bar.phase("compiling")
    kernel, n_latent, regularize = nuts_kernel(
        inputs, settings.warmup, settings.dense_mass, settings.target_accept, bar
    )
    # Data and centring are jit arguments, not constants (bayescale.devices.chain_map), so
    # one compiled sampler serves every sweep of the same size, or padded to it (and the
    # persistent cache serves the next process).
    chain_method, n_dev = chain_map(jax.devices(device.platform), settings.chains)
    mcmc = MCMC(
        kernel,
        num_warmup=settings.warmup,
        num_samples=settings.draws,
        num_chains=settings.chains,
        chain_method=chain_method,
        progress_bar=False,  # the kernel reports to the fit's own bar
        jit_model_args=True,
    )
    with jax.enable_x64(settings.precision == "float64"), jax.default_device(device):
        mcmc.run(
            jax.random.PRNGKey(settings.seed),
            **jax.device_put(args),
            centre=jax.device_put(centre),
            init_params=start.init_params,
            extra_fields=SAMPLER_FIELDS,
        )
        samples = jax.device_get(mcmc.get_samples(group_by_chain=True))
        extra = jax.device_get(mcmc.get_extra_fields(group_by_chain=True))
    method = (
        "vectorized"
        if n_dev == 1
        else "parallel"
        if n_dev == settings.chains
        else "parallel devices, vectorized within each"
    )
    return SamplerRun(
        samples=samples,
        extra=extra,
        start=start,
        start_seconds=start_seconds,
        n_latent=n_latent,
        regularize=regularize,
        chain_method=method,
        devices=n_dev,
        seconds=time.perf_counter() - started,
    )


def _datasets(inputs: ModelInputs, run: SamplerRun) -> tuple[xr.Dataset, xr.Dataset]:
    """The ``posterior`` (the law's parameters, the noise and the population's) and
    ``sample_stats`` datasets of the draws."""
    keep = [*inputs.law.params, *noise_params(inputs.likelihood)]
    if inputs.pooling == "partial":
        keep += [f"{kind}_{p}" for p in inputs.vary for kind in ("mu", "tau")]
    if inputs.runs:
        keep += ["sigma_run"]
    if inputs.shared:
        keep += ["sigma_shared"]
    chains, draws = np.shape(run.extra["diverging"])
    coords = {"chain": np.arange(chains), "draw": np.arange(draws)}

    def dims(name):  # vary: the per-group parameters (all of them for pooling="separate")
        return ("chain", "draw", "group") if name in inputs.vary else ("chain", "draw")

    posterior = xr.Dataset(
        {k: (dims(k), np.asarray(run.samples[k])) for k in keep},
        coords={
            **coords,
            **({"group": inputs.groups} if inputs.groups else {}),
            **({"run": inputs.runs} if inputs.runs else {}),
        },
    )
    n_steps = np.asarray(run.extra["num_steps"])
    stats = {
        "diverging": np.asarray(run.extra["diverging"], dtype=bool),
        "n_steps": n_steps,
        "tree_depth": np.floor(np.log2(n_steps)).astype(int) + 1,
        "energy": np.asarray(run.extra["energy"]),
        "acceptance_rate": np.asarray(run.extra["accept_prob"]),
        "step_size": np.asarray(run.extra["adapt_state.step_size"]),
        "lp": -np.asarray(run.extra["potential_energy"]),
    }
    sample_stats = xr.Dataset({k: (("chain", "draw"), v) for k, v in stats.items()}, coords=coords)
    return posterior, sample_stats


def _fit_info(
    inputs: ModelInputs,
    settings: SamplerSettings,
    run: SamplerRun,
    diag: dict,
    min_fraction: float,
    extrapolation_error: float,
) -> FitInfo:
    args, sweep = inputs.args, inputs.sweep
    return FitInfo(
        law=inputs.law.name,
        law_settings=dict(inputs.law.settings),
        formula=inputs.law.formula,
        likelihood=inputs.likelihood,
        pooling=inputs.pooling,
        vary=tuple(inputs.vary),
        centring=inputs.centring if inputs.pooling == "partial" else None,
        curves=CurveInfo(
            runs=len(inputs.runs),
            min_fraction=min_fraction if inputs.runs else None,
            offset_groups=inputs.offset_groups,
            **(
                fitted_rates(sweep.fit_frame, inputs.law.name, sweep.frame)
                if inputs.law.conditions is not None and inputs.law.conditions.reads_schedules
                else {}
            ),
        ),
        priors={name: describe(p) for name, p in inputs.priors.items()},
        extrapolation_error=extrapolation_error,
        sampler=SamplerInfo(
            algorithm="NUTS",
            chains=settings.chains,
            warmup=settings.warmup,
            draws=settings.draws,
            seed=settings.seed,
            target_accept=settings.target_accept,
            dense_mass=settings.dense_mass,
            init={**run.start.summary, "seconds": round(run.start_seconds, 3)},
            max_tree_depth=MAX_TREE_DEPTH,
            chain_method=run.chain_method,
            devices=run.devices,
            latent_dimensions=run.n_latent,
            regularize_mass_matrix=run.regularize,
            device=settings.device.platform,
            precision=settings.precision,
            seconds=round(run.seconds, 3),
        ),
        diagnostics=diag,
        data=DataInfo.from_arrays(
            args["log_n"],
            args["log_d"],
            excluded=int(sweep.frame["excluded"].sum()),
            source=dict(sweep.source),
            derivations=tuple(sweep.derivations),
        ),
        bayescale_version=__version__,
    )


def _data_groups(inputs: ModelInputs) -> dict[str, xr.Dataset]:
    """``observed_data`` (log loss) and ``constant_data`` (log N, log D, group and run
    codes) of the fitted points."""
    args = inputs.args
    point = {"point": np.arange(len(args["log_loss"]))}
    return {
        "observed_data": xr.Dataset({"log_loss": ("point", args["log_loss"])}, coords=point),
        "constant_data": xr.Dataset(
            {
                **{k: ("point", v) for k, v in args.items() if k not in ("log_loss", "inputs")},
                **input_variables(args.get("inputs", {}), len(args["log_loss"])),
            },
            coords=point,
        ),
    }


def _run_axes(inputs: ModelInputs) -> tuple[np.ndarray, np.ndarray]:
    """Each run's (or trunk's) log N and final log D, in the order of ``inputs.runs``."""
    frame = inputs.sweep.fit_frame
    last = frame.groupby(offset_units(frame))[["n_params", "n_tokens"]].max()
    last = last.loc[inputs.runs]
    return np.log(last["n_params"].to_numpy(float)), np.log(last["n_tokens"].to_numpy(float))


def _run_offsets(
    inputs: ModelInputs, posterior: xr.Dataset, groups: dict, seed: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Every run's offset drawn from its conditional per posterior draw, ``(chain, draw,
    run)`` (:meth:`bayescale.likelihood.NoiseDraws.draw_run_offsets`), and with offset
    groups first each group's shared offset, ``(chain, draw, offset_group)`` (None
    without), from the residuals of a block of draws at a time
    (:func:`bayescale.posterior.residual_blocks`). Blocks run in the stream's order, so
    the draws equal those of one call."""
    noise = NoiseDraws.from_dataset(posterior)
    constant = groups["constant_data"]
    run, n_runs, n_shared = constant["run"].values, len(inputs.runs), len(inputs.shared)
    offsets = np.empty((*noise.sigma.shape, n_runs), dtype=noise.sigma.dtype)
    shared = np.empty((*noise.sigma.shape, n_shared), dtype=noise.sigma.dtype)
    if n_shared:
        group = np.asarray(run_groups(constant["offset_group"].values, run, n_runs))
    rng = np.random.default_rng(seed)
    for part, resid in residual_blocks(inputs.law, posterior, groups["observed_data"], constant):
        draws = noise.select(part)
        of_run = None
        if n_shared:
            shared[part] = draws.draw_shared_offsets(resid, run, n_runs, group, n_shared, rng)
            of_run = shared[part][..., group]
        offsets[part] = draws.draw_run_offsets(resid, run, n_runs, seed=rng, shared=of_run)
    return offsets, shared if n_shared else None
