"""A posterior's InferenceData: prior and predictive draws, the log-likelihood, the law's
derived quantities, and a bound on their memory.

A fit (:func:`bayescale.fit`) holds, besides ``posterior``, ``sample_stats``,
``observed_data`` and ``constant_data`` (``log_loss``, and ``log_n``, ``log_d``, group and
run codes, per ``point``):

``prior``
    ``PRIOR_DRAWS`` draws (one chain) of the same variables as ``posterior`` (less the run
    offsets, which the likelihood integrates out), from the fit's priors: a prior-only
    NumPyro model sampled with ``Predictive`` (:func:`prior_draws`).
``prior_predictive``, ``posterior_predictive``
    Replicated log loss of the fitted points, ``log_loss`` over ``(chain, draw, point)``;
    it has the name and dims of ``observed_data``'s ``log_loss``, so ``az.plot_ppc`` pairs
    them. A point's replicate is the law at the point (its group's parameters) plus noise
    of the fit's likelihood: ``σ`` times a Student-t(ν) or Normal variate. For training
    curves each run is replicated whole from the run-marginal likelihood the fit used: a
    run's latent precision ``w ~ Gamma(ν/2, rate ν/2)`` (``w = 1`` under a Normal
    likelihood), its offset ``δ ~ Normal(0, σ_run²/w)`` and each checkpoint's noise
    ``ε ~ Normal(0, σ²/w)``, which is the multivariate Student-t (or Normal) with scale
    matrix ``σ² I + σ_run² 11ᵀ`` of :mod:`bayescale.likelihood`.
``log_likelihood``
    ``log_loss``: per ``point``, or for training curves per ``run``, the run-marginal
    density (:meth:`bayescale.Posterior.log_likelihood`), so ``az.loo`` leaves out whole
    runs. ``az.plot_loo_pit`` needs the log-likelihood and the predictive draws over the
    same dims, so it applies to fits of points, not to training curves.

Memory. ``log_likelihood``, ``prior_predictive`` and ``posterior_predictive`` each hold at
most ``PREDICTIVE_VALUES`` numbers (8 MB in float64: posterior files stay a few MB).
Where chains × draws × points (or
runs) exceed it, the group keeps every ``k``-th draw of each chain, ``k = ceil(chains ×
draws × points / PREDICTIVE_VALUES)``, at least one draw per chain, and records ``k`` in
its attribute ``thin``; the ``draw`` coordinate keeps the posterior's draw numbers.
4 chains × 1000 draws stay whole up to 250 points; at 1e5 points every 400th draw is
kept (10 draws per chain). LOO and LOO-PIT on 1,000 or more draws are as good as on all of
them (Pareto-smoothed importance sampling needs a few hundred);
``Posterior.log_likelihood`` uses every draw. A fit of points thins its log-likelihood and
its posterior predictive alike, so the two keep the same draws, as ``az.plot_loo_pit`` needs.

The ArviZ view (:func:`inference_data`) adds the law's derived quantities
(:meth:`bayescale.Law.quantities`: ``E``, ``A``, ``B``, ``n_opt_exponent`` for
Chinchilla's law) as variables of ``posterior`` and ``prior``, and computes the
log-likelihood and posterior predictive of a posterior that holds none (one made by
:meth:`~bayescale.Posterior.from_idata` or read from an earlier file); its ``attrs`` carry
the file header, so a file that ``az.to_netcdf(post.idata)`` writes is one that
:func:`bayescale.load_posterior` reads (:mod:`bayescale.posterior_file`). Code that reads
a posterior's own ``groups`` sees its parameters only.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import jax
import numpy as np
import numpyro
import numpyro.distributions as dist
import xarray as xr
from numpyro.infer import Predictive

from bayescale import posterior_file
from bayescale.diagnostics import arviz
from bayescale.draws import SAMPLE_DIMS
from bayescale.hierarchy import group_values
from bayescale.likelihood import NoiseDraws, run_groups, sample_noise

if TYPE_CHECKING:
    from bayescale.model_inputs import ModelInputs
    from bayescale.posterior import Posterior

PRIOR_DRAWS = 500
PREDICTIVE_VALUES = 1_000_000
PREDICTIVE_GROUPS = ("posterior_predictive", "log_likelihood")
WITH_DERIVED = ("posterior", "prior")

POINT_DATA = (
    ("constant_data", "log_n"),
    ("constant_data", "log_d"),
    ("observed_data", "log_loss"),
)
"""The variables of a posterior's data groups that say which points it was fitted to."""
FITTED_DATA = (*POINT_DATA, ("constant_data", "group"))
"""Those and the points' groups."""


def data_differences(a, b, variables=FITTED_DATA) -> list[str]:
    """The ``variables`` (pairs of group and name, as ``group.variable``) in which
    posteriors ``a`` and ``b`` differ: present in one only, or unequal in value; empty when
    both were fitted to the same points (and, by default, groups)."""
    differ = []
    for group, var in variables:
        x, y = a.groups[group].get(var), b.groups[group].get(var)
        same = x is y if x is None or y is None else np.array_equal(x.values, y.values)
        if not same:
            differ.append(f"{group}.{var}")
    return differ


# --------------------------------------------------------------------------- prior
def _prior_model(inputs: ModelInputs) -> None:
    """The fit's priors as a NumPyro model without data: the law's parameters (per group,
    or from the population under partial pooling) and the noise parameters.

    The fitted model samples a sheared intercept on its centred coordinate and adds the
    intercept's prior as a factor (:func:`bayescale.model.sample_law_params`), which
    ``Predictive`` cannot draw from; the shear has unit Jacobian, so the intercept's prior
    is its prior distribution itself, drawn here directly."""
    law, priors, vary = inputs.law, inputs.priors, inputs.vary
    n_groups = max(len(inputs.groups), 1)
    if inputs.pooling == "separate":
        with numpyro.plate("groups", n_groups):
            for name in law.params:
                numpyro.sample(name, priors[name])
    elif inputs.pooling == "partial":
        mu = {p: numpyro.sample(f"mu_{p}" if p in vary else p, priors[p]) for p in law.params}

        def draw(name, loc):
            tau = numpyro.sample(f"tau_{name}", priors[f"tau_{name}"])
            with numpyro.plate("groups", n_groups):
                return loc + tau * numpyro.sample(f"z_{name}", dist.Normal(0.0, 1.0))

        theta = group_values(law, mu, vary, inputs.centre, draw)
        for name in vary:
            numpyro.deterministic(name, theta[name])
    else:
        for name in law.params:
            numpyro.sample(name, priors[name])
    sample_noise(priors, inputs.likelihood, runs=bool(inputs.runs), shared=bool(inputs.shared))


def prior_draws(inputs: ModelInputs, seed: int, precision: str) -> xr.Dataset:
    """``PRIOR_DRAWS`` draws from the fit's priors, as a ``prior`` group: one chain, the
    posterior's variable names and dims (``group`` for parameters that vary by group)."""
    with jax.enable_x64(precision == "float64"):
        samples = Predictive(_prior_model, num_samples=PRIOR_DRAWS, parallel=True)(
            jax.random.PRNGKey(seed), inputs
        )
        samples = {k: np.asarray(v)[None] for k, v in samples.items() if not k.startswith("z_")}
    coords = {"chain": np.arange(1), "draw": np.arange(PRIOR_DRAWS)}
    if inputs.groups:
        coords["group"] = inputs.groups

    def dims(values):
        return (*SAMPLE_DIMS, "group")[: values.ndim]

    return xr.Dataset({k: (dims(v), v) for k, v in samples.items()}, coords=coords)


# ----------------------------------------------------------------------- predictive
def thinning(chains: int, draws: int, per_draw: int) -> int:
    """``k``: keep every ``k``-th draw so that at most ``PREDICTIVE_VALUES`` numbers remain
    (at least one draw per chain)."""
    k = math.ceil(chains * draws * per_draw / PREDICTIVE_VALUES)
    return min(max(k, 1), draws)


def _thinned(draws: xr.Dataset, per_draw: int) -> tuple[xr.Dataset, dict]:
    """``draws`` thinned by :func:`thinning`, with the attributes that record it."""
    k = thinning(draws.sizes["chain"], draws.sizes["draw"], per_draw)
    return (draws.isel(draw=slice(None, None, k)), {"thin": k}) if k > 1 else (draws, {})


def _deviations(noise: NoiseDraws, shape, run, n_runs: int, rng, group=None) -> np.ndarray:
    """Replicated deviations from the law, ``shape = (chain, draw, point)``: per point,
    or per run from the run-marginal likelihood, plus each run's offset group's share where
    ``group`` gives the runs' group codes (see the module docstring)."""
    if noise.sigma_run is None:
        return noise.predictive(rng, shape)
    lead = noise.sigma.shape
    if noise.nu is None:
        spread = np.ones((*lead, n_runs))
    else:
        nu = noise.nu[..., None]
        spread = 1.0 / np.sqrt(rng.gamma(nu / 2, 2 / nu, (*lead, n_runs)))
    offset = noise.sigma_run[..., None] * spread * rng.standard_normal((*lead, n_runs))
    if group is not None:
        shared = rng.standard_normal((*lead, int(np.max(group)) + 1))
        offset = offset + noise.sigma_shared[..., None] * shared[..., group]
    eps = noise.sigma[..., None] * spread[..., run] * rng.standard_normal(shape)
    return offset[..., run] + eps


def predictive(post: Posterior, draws: xr.Dataset, seed: int) -> xr.Dataset:
    """Replicated ``log_loss`` of the fitted points under parameter ``draws`` (the
    posterior's, or the prior's), thinned to ``PREDICTIVE_VALUES`` numbers."""
    observed, constant = post.groups["observed_data"], post.groups["constant_data"]
    draws, attrs = _thinned(draws, observed.sizes["point"])
    view = replace(post, groups={**post.groups, "posterior": draws})
    mu = view.fitted_log_mean(run_offsets=False)
    noise = NoiseDraws.from_dataset(draws)
    run = constant["run"].values if noise.sigma_run is not None else None
    n_runs = post.posterior.sizes.get("run", 0)
    group = None
    if noise.sigma_shared is not None:
        group = np.asarray(run_groups(constant["offset_group"].values, run, n_runs))
    rng = np.random.default_rng(seed)
    mu = mu + _deviations(noise, mu.shape, run, n_runs, rng, group)
    coords = {"chain": draws["chain"], "draw": draws["draw"], "point": observed["point"]}
    return xr.Dataset({"log_loss": ((*SAMPLE_DIMS, "point"), mu)}, coords=coords, attrs=attrs)


def log_likelihood(post: Posterior) -> xr.Dataset:
    """:meth:`bayescale.Posterior.log_likelihood`, thinned to ``PREDICTIVE_VALUES``."""
    unit = post.likelihood_unit
    units = (post.groups["observed_data"] if unit == "point" else post.posterior).sizes[unit]
    draws, attrs = _thinned(post.posterior, units)
    view = replace(post, groups={**post.groups, "posterior": draws})
    return view.log_likelihood().assign_attrs(attrs)


def with_inference_groups(post: Posterior, prior: xr.Dataset) -> Posterior:
    """``post`` holding ``prior``, its ``prior_predictive``, and the posterior's
    ``posterior_predictive`` and ``log_likelihood``; seeded from the fit's seed."""
    seed = post.info.sampler.seed
    order = [name for name in post.posterior.data_vars if name in prior]
    prior = prior[order + [name for name in prior.data_vars if name not in order]]
    groups = {
        **post.groups,
        "prior": prior,
        "prior_predictive": predictive(post, prior, seed + 1),
        **_missing_predictive(post),
    }
    return replace(post, groups=groups)


def _missing_predictive(post: Posterior) -> dict[str, xr.Dataset]:
    """The ``posterior_predictive`` and ``log_likelihood`` that ``post`` does not hold."""
    make = {
        "posterior_predictive": lambda: predictive(post, post.posterior, post.info.sampler.seed),
        "log_likelihood": lambda: log_likelihood(post),
    }
    return {name: make[name]() for name in PREDICTIVE_GROUPS if name not in post.groups}


# --------------------------------------------------------------------- the ArviZ view
def with_derived(post: Posterior, groups=None) -> tuple[dict[str, xr.Dataset], tuple[str, ...]]:
    """``groups`` (default: ``post``'s) with the law's derived quantities added to
    ``posterior`` and ``prior``, and their names. A derived name that is already a variable
    there (a law whose quantity shares a parameter's name) is left out."""
    groups = {k: v for k, v in (post.groups if groups is None else groups).items() if v is not None}
    names = [name for name in post.law.quantities(post.posterior) if name not in post.posterior]
    for group in WITH_DERIVED:
        if group in groups:
            quantities = post.law.quantities(groups[group])
            groups[group] = groups[group].assign({n: quantities[n] for n in names})
    return groups, tuple(names)


def inference_data(post: Posterior):
    """ArviZ InferenceData of ``post``: its groups, the log-likelihood and posterior
    predictive where it holds none, the derived quantities, and ``attrs`` with the file
    header (:func:`bayescale.posterior_file.root_attrs`)."""
    groups, derived = with_derived(post, {**post.groups, **_missing_predictive(post)})
    idata = arviz().InferenceData(**groups)
    idata.attrs.update(posterior_file.root_attrs(groups, post.info, post.warnings, derived))
    return idata
