r"""Training curves: early checkpoints, and run offsets integrated out of the likelihood.

A sweep with several checkpoints per run is a set of curves. Checkpoints of one run share
an error: a run that came out a little better or worse (seed, data order) shifts all its
checkpoints together. The model gives run ``r`` an offset ``δ_r`` on log loss,

.. math::

    y_i = μ_i + δ_{r(i)} + ε_i, \qquad δ_r \sim \mathcal N(0, s^2),
    \qquad ε_i \sim \mathcal N(0, σ^2),

with ``μ_i`` the law's log loss and ``s = sigma_run``. The offsets are not sampled: they
are integrated out exactly, so NUTS sees only the law and the noise scales whatever the
number of runs (a few hundred run offsets made the sampler take hundreds of steps per draw,
and tens of thousands of checkpoints took tens of minutes). The residuals
``e_r = y_r − μ_r`` of a run with ``n`` checkpoints are jointly Normal with covariance
``Σ = σ² I + s² 11ᵀ``. With ``q = σ² + n s²`` and the run's mean residual ``ē`` and
within-run sum of squares ``W = Σ_i (e_i − ē)²``,

.. math::

    \log|Σ| = 2(n − 1)\log σ + \log q, \qquad
    Q = e^⊤Σ^{-1}e = \frac{W}{σ^2} + \frac{n ē^2}{q}

(Sherman–Morrison; written with ``W`` and ``ē`` rather than raw sums so it does not cancel
in float32), and the run's log-density is ``−½(n log 2π + log|Σ| + Q)``.

The robust default (``likelihood="student_t"``) gives each run the multivariate Student-t
with the same scale matrix (Pinheiro, Liu & Wu 2001, robust linear mixed models): offset
and noise share one latent precision per run, so a run that misbehaves as a whole (a loss
spike, an unstable stretch) inflates its own scale instead of pulling the law:

.. math::

    \log p(e_r) = \log Γ\!\left(\tfrac{ν+n}{2}\right) − \log Γ\!\left(\tfrac{ν}{2}\right)
        − \tfrac{n}{2}\log(νπ) − \tfrac12\log|Σ| − \tfrac{ν+n}{2}\log\!\left(1 + \tfrac{Q}{ν}\right).

A run with one checkpoint reduces to a single point with scale ``sqrt(σ² + s²)``.

The offsets themselves are recovered per posterior draw from their exact conditional
(:func:`draw_run_offsets`): ``δ_r | e_r`` has mean ``s² n ē / q`` and variance
``σ² s² / q``, and under the Student-t model is Student-t with ``ν + n`` degrees of freedom
and that variance scaled by ``(ν + Q)/(ν + n)`` (the conditional of a multivariate t).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln

from bayescale.sweep import Sweep

CURVE_MIN_FRACTION = 0.1


def is_curves(sweep: Sweep) -> bool:
    """Whether the sweep's fitted points include runs with several checkpoints."""
    return "run" in sweep.frame.columns and bool(sweep.fit_frame["run"].duplicated().any())


def drop_early_checkpoints(sweep: Sweep, min_fraction: float) -> Sweep:
    """Exclude checkpoints before ``min_fraction`` of their run's final tokens.

    Early checkpoints are dominated by warmup and the learning-rate schedule, not by the
    law; Choshen et al. 2024 (the Hitchhiker's guide) found fits improve without the first
    10% of training, so ``CURVE_MIN_FRACTION = 0.1`` is the default. The rows stay on the
    sweep, flagged ``excluded``, and a ``SweepWarning`` lists them.
    """
    fit = sweep.fit_frame
    final = fit.groupby("run")["n_tokens"].transform("max")
    early = fit["n_tokens"] < min_fraction * final
    if not early.any():
        return sweep
    return sweep.exclude(early, reason=f"checkpoints before {min_fraction:.0%} of their run's "
                         "tokens (fit(..., min_fraction=0) keeps them)")


def _per_run(values, run, n_runs: int):
    """Sums of ``values`` (``(..., point)``) over the points of each run: ``(..., run)``."""
    summed = jax.ops.segment_sum(jnp.moveaxis(values, -1, 0), run, num_segments=n_runs)
    return jnp.moveaxis(summed, 0, -1)


def run_statistics(resid, run, n_runs: int, sigma, sigma_run):
    """Per-run ``(n, ē, q, Q, log|Σ|)`` of residuals ``(..., point)``; scales ``(...)``."""
    count = _per_run(jnp.ones(resid.shape[-1], resid.dtype), run, n_runs)
    mean = _per_run(resid, run, n_runs) / count
    within = _per_run(jnp.square(resid - mean[..., run]), run, n_runs)
    var, var_run = jnp.square(sigma)[..., None], jnp.square(sigma_run)[..., None]
    q = var + count * var_run
    quad = within / var + count * jnp.square(mean) / q
    log_det = (count - 1) * jnp.log(var) + jnp.log(q)
    return count, mean, q, quad, log_det


def run_log_density(resid, run, n_runs: int, sigma, sigma_run, nu=None):
    """Log-density of each run's residuals with its offset integrated out, ``(..., run)``.

    ``resid`` is ``(..., point)``, ``run`` the run code of each point, the scales (and
    ``nu``, for the multivariate Student-t; ``None`` for Normal) broadcast as ``(...)``.
    """
    count, _, _, quad, log_det = run_statistics(resid, run, n_runs, sigma, sigma_run)
    if nu is None:
        return -0.5 * (count * math.log(2 * math.pi) + log_det + quad)
    nu = jnp.asarray(nu)[..., None]
    return (gammaln(0.5 * (nu + count)) - gammaln(0.5 * nu)
            - 0.5 * count * jnp.log(nu * math.pi) - 0.5 * log_det
            - 0.5 * (nu + count) * jnp.log1p(quad / nu))


def draw_run_offsets(resid, run, n_runs: int, sigma, sigma_run, nu=None,
                     seed: int | np.random.Generator = 0):
    """One draw of every run offset from its conditional, per posterior draw: ``(..., run)``.

    Arguments as for :func:`run_log_density`; the draws are reproducible from ``seed`` (or
    continue the stream of a ``numpy.random.Generator``, for drawing block by block).
    """
    with jax.enable_x64(np.asarray(resid).dtype == np.float64):
        count, mean, q, quad, _ = (np.asarray(v) for v in
                                   run_statistics(resid, run, n_runs, sigma, sigma_run))
    var_run = np.square(sigma_run)[..., None]
    centre = var_run * count * mean / q
    scale = np.sqrt(np.square(sigma)[..., None] * var_run / q)
    rng = np.random.default_rng(seed)
    if nu is None:
        return centre + scale * rng.standard_normal(centre.shape)
    nu = np.asarray(nu)[..., None]
    dof = nu + count
    return centre + scale * np.sqrt((nu + quad) / dof) * rng.standard_t(dof, centre.shape)
