"""NumPyro model functions: plain functions of the data.

One function, :func:`scaling_model`, covers every pooling mode::

    θ ~ priors                                     pooling="none": one law for all points
    θ_g ~ priors, independently per group          pooling="separate"
    θ_g = T(T⁻¹(μ) + τ ⊙ z_g), z_g ~ Normal(0, 1)  pooling="partial" (non-centred), for the
        μ ~ priors,  τ_p ~ HalfNormal(s_p)             parameters in ``vary``; the rest shared

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
maths, and the per-draw recovery of the offsets, are in :mod:`bayescale.curves`.

Intercepts named in the law's ``shear`` are sampled as ``a_c = a − α·m`` (``m`` the
centre of the matching data axis) and mapped back deterministically; the prior density
is added on ``a`` itself, so the shear changes the sampler's geometry and nothing else.
Under partial pooling the group spread of such an intercept is placed on its centred
value (``a_g − α_g·m ~ Normal(μ_a − μ_α·m, τ_a)``): groups differ in the loss term at the
sweep's typical size, which is what the data identify (as ``brms`` places intercept priors
at centred predictors).

The hyperpriors (``tau_*``, ``sigma_run``) and their reasoning are in :mod:`bayescale.priors`.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

from bayescale.curves import run_log_density
from bayescale.laws import Law

CENTRED_SUFFIX = "_centred"
POOLING = ("none", "partial", "separate")


def _ordered(law: Law) -> list[str]:
    """Parameters with every sheared intercept after the exponent it pairs with."""
    return [p for p in law.params if p not in law.shear] + [p for p in law.params if p in law.shear]


def sample_law_params(law: Law, priors: Mapping, centre: Mapping, site=lambda p: p) -> dict:
    """Sample the law's parameters (site names from ``site``), shearing intercepts onto
    their centred coordinate. Inside a plate this samples one set per plate entry."""
    theta = {}
    for name in _ordered(law):
        if name not in law.shear:
            theta[name] = numpyro.sample(site(name), priors[name])
            continue
        exponent, axis = law.shear[name]
        centred = numpyro.sample(site(name) + CENTRED_SUFFIX,
                                 dist.ImproperUniform(constraints.real, (), ()))
        theta[name] = numpyro.deterministic(site(name), centred + theta[exponent] * centre[axis])
        numpyro.factor(site(name) + "_prior", priors[name].log_prob(theta[name]))
    return theta


def partial_params(law: Law, priors: Mapping, centre: Mapping, vary, n_groups: int) -> dict:
    """Population means and spreads for ``vary``, group values θ_g = μ + τ ⊙ z_g."""
    mu = sample_law_params(law, priors, centre,
                           site=lambda p: f"mu_{p}" if p in vary else p)
    theta = dict(mu)
    for name in _ordered(law):
        if name not in vary:
            continue
        tau = numpyro.sample(f"tau_{name}", priors[f"tau_{name}"])
        with numpyro.plate("groups", n_groups):
            z = numpyro.sample(f"z_{name}", dist.Normal(0.0, 1.0))
        if name in law.shear:  # intercepts are real-valued: no transform
            exponent, axis = law.shear[name]
            m = centre[axis]
            centred = mu[name] - mu[exponent] * m + tau * z
            theta[name] = numpyro.deterministic(name, centred + theta[exponent] * m)
        else:
            to_domain = law.transform(name)
            theta[name] = numpyro.deterministic(name, to_domain(to_domain.inv(mu[name]) + tau * z))
    return theta


def noise(priors: Mapping, likelihood: str):
    """The noise scale ``σ`` and, for the Student-t likelihood, its degrees of freedom."""
    sigma = numpyro.sample("sigma", priors["sigma"])
    nu = numpyro.sample("nu", priors["nu"]) if likelihood == "student_t" else None
    return sigma, nu


def scaling_model(log_n, log_d, log_loss=None, group=None, run=None, *, centre: Mapping,
                  law: Law, priors: Mapping, likelihood: str, pooling: str = "none",
                  vary=(), n_groups: int = 1, n_runs: int = 0):
    """A scaling law fitted to points; ``group``/``run`` are integer codes per point.

    Without runs, ``log_loss=None`` makes the same function predict. With runs
    (``n_runs > 0``) the likelihood is the run-marginal density, which needs the data.
    """
    if pooling == "none":
        theta = sample_law_params(law, priors, centre)
    elif pooling == "separate":
        with numpyro.plate("groups", n_groups):
            theta = sample_law_params(law, priors, centre)
    else:
        theta = partial_params(law, priors, centre, vary, n_groups)
    per_point = {k: (v[group] if jnp.ndim(v) else v) for k, v in theta.items()}
    mu = law.log_loss(per_point, log_n, log_d)
    sigma, nu = noise(priors, likelihood)
    if n_runs:
        sigma_run = numpyro.sample("sigma_run", priors["sigma_run"])
        density = run_log_density(log_loss - mu, run, n_runs, sigma, sigma_run, nu)
        numpyro.factor("log_loss", density.sum())
        return
    point = dist.Normal(mu, sigma) if nu is None else dist.StudentT(nu, mu, sigma)
    with numpyro.plate("points", mu.shape[-1]):
        numpyro.sample("log_loss", point, obs=log_loss)
