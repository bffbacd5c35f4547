"""The NUTS kernel a fit runs: its tree depth, the size of the model's latent space,
whether the warmup's covariance estimates are shrunk, and whether it reports its progress."""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from numpyro import handlers
from numpyro.infer import NUTS
from numpyro.infer.hmc_util import build_adaptation_schedule

from bayescale.model_inputs import ModelInputs
from bayescale.progress import FitProgress
from bayescale.starts import StartedNUTS, init_near_prior_mean

MAX_TREE_DEPTH = 10
# Fields of the NUTS state kept per draw, for the fit's sample_stats.
SAMPLER_FIELDS = (
    "diverging",
    "num_steps",
    "energy",
    "accept_prob",
    "adapt_state.step_size",
    "potential_energy",
)
DRAWS_PER_DIMENSION = 2


def latent_size(model, kwargs) -> int:
    """Number of sampled (unobserved) scalars of ``model`` called with ``kwargs``, from an
    abstract trace (``jax.eval_shape``: nothing is computed or compiled)."""

    def ones(site):  # a value for every sampled site instead of a draw
        return jnp.ones(site["fn"].shape()) if site["type"] == "sample" else None

    def latent_values(kw):
        trace = handlers.trace(handlers.substitute(model, substitute_fn=ones)).get_trace(**kw)
        return [
            site["value"]
            for site in trace.values()
            if site["type"] == "sample" and not site["is_observed"]
        ]

    return sum(math.prod(v.shape) for v in jax.eval_shape(latent_values, kwargs))


def regularize_mass_matrix(n_latent: int, warmup: int, unit_scale: bool = False) -> bool:
    r"""Whether each warmup window's covariance estimate is shrunk towards ``1e-3·I``.

    NumPyro copies Stan's rule, ``Σ̂ ← n/(n+5)·Σ̂ + 1e-3·5/(n+5)·I``. The shrinkage is an
    absolute amount: next to posterior variances near 1e-4 or below (a well-measured
    irreducible loss, a law fitted to thousands of checkpoints) it spoils the dense estimate
    of a strongly correlated posterior, and NUTS then needs smaller steps and several to
    ten times the gradients per draw (measurements: ``docs/performance.md``, "Mass-matrix
    adaptation" and "The multi-power law's fit"; ``benchmarks/mass_matrix.py``). Unshrunk,
    a window needs more draws than latent dimensions or its estimate is singular, so the
    shrinkage stays on where the shortest window of NumPyro's schedule (25 draws from a
    warmup of 150 on) holds no more draws than there are latent dimensions.

    ``unit_scale`` marks a non-centred hierarchy (``fit(..., pooling="partial")``), whose
    latent space is mostly the group values ``z_g`` with posterior scale near 1, where the
    shrinkage is harmless and steadies the estimate of many dimensions from a short window:
    there it stays wherever that window holds fewer than ``DRAWS_PER_DIMENSION`` draws per
    dimension.
    """
    windows = build_adaptation_schedule(warmup)[1:-1]  # between the fast buffers
    shortest = min((w.end - w.start + 1 for w in windows), default=0)
    if unit_scale:
        return shortest < DRAWS_PER_DIMENSION * n_latent
    return shortest <= n_latent


class ReportingNUTS(StartedNUTS):
    """:class:`~bayescale.starts.StartedNUTS` that passes a chain's iteration count
    (``HMCState.i``, one per chain when chains are vectorized) to the host callback
    ``report`` every ``every`` iterations and at the last, ``last``
    (:meth:`bayescale.progress.FitProgress.report`). Chains vectorized inside a device
    map branch on a batched count, which runs the callback every iteration; ``report``
    skips those off its schedule."""

    def __init__(self, *args, report: Callable, every: int, last: int, **kwargs):
        super().__init__(*args, **kwargs)
        self._report, self._every, self._last = report, every, last

    def sample(self, state, model_args, model_kwargs):
        state = super().sample(state, model_args, model_kwargs)
        i = jnp.ravel(state.i)[0]  # vectorized chains step together
        jax.lax.cond(
            (i % self._every == 0) | (i == self._last),
            lambda: jax.debug.callback(self._report, state.i, ordered=False),
            lambda: None,
        )
        return state


def nuts_kernel(
    inputs: ModelInputs,
    warmup: int,
    dense_mass: bool = True,
    target_accept: float = 0.8,
    progress: FitProgress | None = None,
) -> tuple[NUTS, int, bool]:
    """``fit``'s NUTS kernel for ``inputs``, with the number of latent dimensions and
    whether the warmup's covariance estimates are shrunk (:func:`regularize_mass_matrix`).
    It takes a :class:`bayescale.starts.Start`'s ``init_params``, or none (NUTS's own start
    from the prior mean, with the identity mass matrix). With a ``progress`` bar that is
    shown, the kernel reports its iterations to it (:class:`ReportingNUTS`)."""
    n_latent = latent_size(inputs.model, {**inputs.args, "centre": inputs.centre})
    unit_scale = inputs.pooling == "partial" and inputs.centring == "non-centred"
    regularize = regularize_mass_matrix(n_latent, warmup, unit_scale)
    reporting = (
        {"report": progress.report, "every": progress.every, "last": progress.iterations}
        if progress is not None and not progress.bar.disable
        else {}
    )
    kernel = (ReportingNUTS if reporting else StartedNUTS)(
        inputs.model,
        dense_mass=dense_mass,
        target_accept_prob=target_accept,
        max_tree_depth=MAX_TREE_DEPTH,
        init_strategy=init_near_prior_mean,
        regularize_mass_matrix=regularize,
        **reporting,
    )
    return kernel, n_latent, regularize
