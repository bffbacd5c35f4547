"""NumPyro model functions: plain functions of the data.

One function, :func:`scaling_model`, covers every pooling mode::

    θ ~ priors                                     pooling="none": one law for all points
    θ_g ~ priors, independently per group          pooling="separate"
    θ_g = T(T⁻¹(μ) + τ ⊙ z_g), z_g ~ Normal(0, 1)  pooling="partial" (non-centred, or
        μ ~ priors,  τ_p ~ HalfNormal(s_p)             centred: T⁻¹(θ_g) ~ Normal(T⁻¹(μ), τ)),
                                                   for the parameters in ``vary``; the rest shared

    μ_i = log L(θ_{g(i)}; log N_i, log D_i)
    log loss_i ~ StudentT(ν, μ_i, σ)  or  Normal(μ_i, σ)                points
    log loss_r ~ MvStudentT(ν, μ_r, σ² I + σ_run² 11ᵀ)  or  MvNormal      training curves

``T`` maps the real line onto a parameter's domain (identity for ``e``, ``a``, ``b``;
``exp`` for exponents), so positive parameters pool on the log scale and a new group can
never draw a negative exponent.

For training curves, the checkpoints of run ``r`` share an offset ``δ_r ~ Normal(0,
σ_run²)`` (seed luck shifts a whole curve), so they are not counted as independent
evidence. The offsets are integrated out of the likelihood in closed form, which leaves
each run's checkpoints jointly distributed with covariance ``σ² I + σ_run² 11ᵀ``; the
noise models, their maths and the per-draw recovery of the offsets are in
:mod:`bayescale.likelihood`.

Intercepts named in the law's ``shear`` are sampled as ``a_c = a − α·m`` (``m`` the
centre of the matching data axis) and mapped back deterministically; the prior density
is added on ``a`` itself, so the shear changes the sampler's geometry and nothing else.
A law with a ``level`` samples its terms by level, shares and slopes at the centre
instead (:mod:`bayescale.laws.law`), again with the prior on the law's parameters, unless
groups vary one of them (:func:`level_applies`).
Under partial pooling the group spread of such an intercept is placed on its centred
value; the hierarchical transform is :mod:`bayescale.hierarchy`.

The group-spread priors (``tau_*``) and their reasoning are with each law
(:mod:`bayescale.laws`); the noise priors with the noise models.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

from bayescale.hierarchy import group_values, ordered
from bayescale.laws import Law
from bayescale.likelihood import observe, sample_noise

CENTRED_SUFFIX = "_centred"
LEVEL_SUFFIX, SHARE_SUFFIX, SLOPE_SUFFIX = "_level", "_share", "_slope"
POOLING = ("none", "partial", "separate")
CENTRING = ("non-centred", "centred")
MASKED_GROUPS = 32  # the most groups broadcast with a mask on a GPU (by_point)


def _flat_site(name: str):
    return numpyro.sample(name, dist.ImproperUniform(constraints.real, (), ()))


def sample_law_params(
    law: Law, priors: Mapping, centre: Mapping, site=lambda p: p, level: bool = True
) -> dict:
    """Sample the law's parameters (site names from ``site``), shearing intercepts onto
    their centred coordinate and, for a law with a ``level`` (unless ``level=False``), its
    terms onto level, shares and slopes. Inside a plate this samples one set per plate
    entry."""
    theta = _sample_level(law, priors, centre, site) if law.level and level else {}
    for name in ordered(law):
        if name in theta:
            continue
        if name not in law.shear:
            theta[name] = numpyro.sample(site(name), priors[name])
            continue
        exponent, pivot = law.pivot(name, centre)
        centred = _flat_site(site(name) + CENTRED_SUFFIX)
        theta[name] = numpyro.deterministic(site(name), centred + theta[exponent] * pivot)
        numpyro.factor(site(name) + "_prior", priors[name].log_prob(theta[name]))
    return theta


def level_parameters(law: Law, centre: Mapping, level, shares: Mapping, slopes: Mapping):
    """The terms of ``law.level`` and their exponents from level coordinates: the level
    ``ℓ = log Σ_k exp t_k`` of the log-terms at the data's centre (``t_0`` the first, ``t_k``
    the centred intercepts), the shares ``r_k = t_k − t_0`` (``shares`` by intercept) and
    the slopes ``s_k = u_k + t_k`` (``slopes`` by exponent, ``u_k`` its unconstrained
    value). Returns the parameters and ``Σ log |dx/du|`` of the exponents; the map to the
    intercepts and unconstrained exponents has unit Jacobian (:mod:`bayescale.laws.law`).
    Pure JAX: the PyMC front end wraps the same function."""
    first, *rest = law.level
    stacked = jnp.stack([jnp.zeros_like(level)] + [shares[name] for name in rest])
    terms = level - jax.nn.logsumexp(stacked, axis=0) + stacked
    theta, log_jacobian = {first: terms[0]}, jnp.zeros_like(level)
    for term, name in zip(terms[1:], rest, strict=True):
        exponent, pivot = law.pivot(name, centre)
        to_exponent = law.transform(exponent)
        u = slopes[exponent] - term
        theta[exponent] = to_exponent(u)
        theta[name] = term + theta[exponent] * pivot
        log_jacobian = log_jacobian + to_exponent.log_abs_det_jacobian(u, theta[exponent])
    return theta, log_jacobian


def level_sites(law: Law, site) -> tuple[str, dict, dict]:
    """Site names of the level coordinates: the level's, the shares' by intercept and the
    slopes' by exponent."""
    first, *rest = law.level
    shares = {name: site(name) + SHARE_SUFFIX for name in rest}
    slopes = {law.shear[name][0]: site(law.shear[name][0]) + SLOPE_SUFFIX for name in rest}
    return site(first) + LEVEL_SUFFIX, shares, slopes


def _sample_level(law: Law, priors: Mapping, centre: Mapping, site) -> dict:
    """The terms of ``law.level`` and their exponents, sampled on flat level coordinates
    (:func:`level_parameters`) with the prior added on the law's parameters and each
    exponent's ``log |dx/du|``."""
    level_site, share_sites, slope_sites = level_sites(law, site)
    theta, log_jacobian = level_parameters(
        law,
        centre,
        _flat_site(level_site),
        {name: _flat_site(s) for name, s in share_sites.items()},
        {name: _flat_site(s) for name, s in slope_sites.items()},
    )
    log_prior = log_jacobian + sum(priors[name].log_prob(value) for name, value in theta.items())
    numpyro.factor(level_site + "_prior", log_prior)
    return {name: numpyro.deterministic(site(name), value) for name, value in theta.items()}


def level_applies(law: Law, vary) -> bool:
    """Whether a fit whose groups vary ``vary`` samples the law's level coordinates: only
    when no level parameter varies. A varying one spreads around its population mean on the
    shear's centred coordinate (:mod:`bayescale.hierarchy`), which level coordinates would
    not match, so there the means keep the shear alone."""
    return not set(vary) & set(law.level_params())


def partial_params(
    law: Law, priors: Mapping, centre: Mapping, vary, n_groups: int, centring: str = "non-centred"
) -> dict:
    """Population means ``μ`` and spreads ``τ`` for ``vary``, and the group values.

    Each group value sits on its pooling scale ``u_g ~ Normal(loc, τ)``
    (:mod:`bayescale.hierarchy`), sampled ``"non-centred"`` as ``u_g = loc + τ z_g`` with
    ``z_g ~ Normal(0, 1)``, or ``"centred"`` as ``u_g`` itself. The two are the same model.
    Non-centred suits groups the data measure weakly relative to ``τ``; centred suits
    groups the data pin down (many runs per group), where the non-centred form makes
    ``z_g``, ``μ`` and ``τ`` a funnel (Betancourt and Girolami 2015).
    """
    mu = sample_law_params(
        law,
        priors,
        centre,
        site=lambda p: f"mu_{p}" if p in vary else p,
        level=level_applies(law, vary),
    )

    def draw(name, loc):
        tau = numpyro.sample(f"tau_{name}", priors[f"tau_{name}"])
        with numpyro.plate("groups", n_groups):
            if centring == "centred":
                return numpyro.sample(f"u_{name}", dist.Normal(loc, tau))
            return loc + tau * numpyro.sample(f"z_{name}", dist.Normal(0.0, 1.0))

    theta = group_values(law, mu, vary, centre, draw)
    return {
        name: numpyro.deterministic(name, value) if name in vary else value
        for name, value in theta.items()
    }


def by_point(values, group, n_groups: int, masked: bool):
    """Each point's value ``(..., point)`` of a per-group parameter ``values`` ``(...,
    group)``: the gather ``values[group]``, or with ``masked`` the masked sum
    ``Σ_g [group_i = g] · values_g``.

    The gather's gradient adds every point into its group's entry with atomic adds, and
    with few groups a GPU serialises them, so at many points they dominate the gradient.
    The masked sum's gradient is a plain reduction over points, which a GPU runs in
    parallel, but costs ``groups`` times the work, which a CPU pays in full
    (measurements: ``docs/performance.md``, run G). :func:`bayescale.model_inputs.model_inputs`
    masks on a GPU with up to ``MASKED_GROUPS`` groups.
    """
    if not masked:
        return values[..., group]
    mask = group[:, None] == jnp.arange(n_groups)
    return jnp.where(mask, values[..., None, :], 0.0).sum(-1)


def scaling_model(
    log_n,
    log_d,
    log_loss=None,
    group=None,
    run=None,
    offset_group=None,
    mask=None,
    *,
    centre: Mapping,
    law: Law,
    priors: Mapping,
    likelihood: str,
    pooling: str = "none",
    vary=(),
    n_groups: int = 1,
    n_runs: int = 0,
    n_offset_groups: int = 0,
    centring: str = "non-centred",
    masked_groups: bool = False,
    inputs: Mapping | None = None,
):
    """A scaling law fitted to points; ``group``/``run``/``offset_group`` are integer codes
    per point, and ``mask`` (points without runs) leaves the points where it is False out
    of the likelihood.
    ``masked_groups`` chooses how per-group parameters reach the points (:func:`by_point`);
    ``inputs`` are the points' conditions for a law that reads them
    (:class:`bayescale.laws.Conditions`), such as their learning-rate schedules.

    Without runs, ``log_loss=None`` makes the same function predict. With runs
    (``n_runs > 0``) the likelihood is the run-marginal density, which needs the data.
    """
    if pooling == "none":
        theta = sample_law_params(law, priors, centre)
    elif pooling == "separate":
        with numpyro.plate("groups", n_groups):
            theta = sample_law_params(law, priors, centre)
    else:
        theta = partial_params(law, priors, centre, vary, n_groups, centring)
    per_point = {
        k: (by_point(v, group, n_groups, masked_groups) if jnp.ndim(v) else v)
        for k, v in theta.items()
    }
    mu = law.log_loss_at(per_point, log_n, log_d, inputs)
    noise = sample_noise(priors, likelihood, runs=n_runs > 0, shared=n_offset_groups > 0)
    observe(mu, log_loss, noise, run, n_runs, offset_group, n_offset_groups, mask)
