r"""The noise models: how measured log losses scatter around the law.

Points
------

A finished run's measured log loss is the law's plus noise,

.. math::

    \log L_i = μ_i + ε_i,\qquad ε_i \sim \mathrm{StudentT}(ν, 0, σ)
    \quad\text{or}\quad \mathcal N(0, σ^2),

with ``μ_i`` the law's log loss. The Student-t (``likelihood="student_t"``, the default for
finished runs) is near-Normal unless the data hold outliers, as digitised sweeps do.

Training curves: run offsets integrated out
-------------------------------------------

Checkpoints of one run share an error: a run that came out a little better or worse
(seed, data order) shifts all its checkpoints together. Run ``r`` gets an offset ``δ_r``,

.. math::

    y_i = μ_i + δ_{r(i)} + ε_i, \qquad δ_r \sim \mathcal N(0, s^2),
    \qquad ε_i \sim \mathcal N(0, σ^2),

with ``s = sigma_run``. The offsets are not sampled: they are integrated out exactly, so
NUTS sees only the law and the noise scales whatever the number of runs. The residuals
``e_r = y_r − μ_r`` of a run with ``n`` checkpoints are jointly Normal with covariance
``Σ = σ² I + s² 11ᵀ``. With ``q = σ² + n s²`` and the run's mean residual ``ē`` and
within-run sum of squares ``W = Σ_i (e_i − ē)²``,

.. math::

    \log|Σ| = 2(n − 1)\log σ + \log q, \qquad
    Q = e^⊤Σ^{-1}e = \frac{W}{σ^2} + \frac{n ē^2}{q}

(Sherman–Morrison; written with ``W`` and ``ē`` rather than raw sums so it does not cancel
in float32), and the run's log-density is ``−½(n log 2π + log|Σ| + Q)``.

The Student-t likelihood gives each run the multivariate Student-t with the same scale
matrix (Pinheiro, Liu & Wu 2001, robust linear mixed models): offset and noise share one
latent precision per run, so a run that misbehaves as a whole (a loss spike, an unstable
stretch) inflates its own scale instead of pulling the law:

.. math::

    \log p(e_r) = \log Γ\!\left(\tfrac{ν+n}{2}\right) − \log Γ\!\left(\tfrac{ν}{2}\right)
        − \tfrac{n}{2}\log(νπ) − \tfrac12\log|Σ|
        − \tfrac{ν+n}{2}\log\!\left(1 + \tfrac{Q}{ν}\right).

A run with one checkpoint reduces to a single point with scale ``sqrt(σ² + s²)``.

For training curves the Normal is the default (:func:`default_likelihood`). The run-level
Student-t lets ``ν`` fall below 1 and discount whole curves: on the 27 curves of
``multipower_schedules`` under the multi-power law that mode is 832 nats more probable
than the one the Normal finds, and its law fits the checkpoints 3.5 times worse (mean
relative error 0.50% against 0.14%; ``docs/performance.md``). Curves rarely hold the
isolated outliers the Student-t is for, and a run that is off as a whole is what its offset
is for. ``likelihood="student_t"`` still asks for it.

The offsets themselves are recovered per posterior draw from their exact conditional
(:meth:`NoiseDraws.draw_run_offsets`): ``δ_r | e_r`` has mean ``s² n ē / q`` and variance
``σ² s² / q``, and under the Student-t model is Student-t with ``ν + n`` degrees of freedom
and that variance scaled by ``(ν + Q)/(ν + n)`` (the conditional of a multivariate t).

A new run
---------

A new run's measured log loss scatters around the law with scale ``σ``, or for training
curves ``sqrt(σ² + s²)`` (its own offset plus its checkpoint's noise), Normal or Student-t
as the likelihood: :meth:`NoiseDraws.new_run_scale` and :meth:`NoiseDraws.predictive`. A
further checkpoint of a fitted run (or of a branch of a fitted trunk,
:mod:`bayescale.curves`) sits at the law plus that run's offset draw, with scale ``σ``.

Default priors
--------------

The likelihood is on log loss, so the noise parameters are scale-free:

``sigma ~ HalfNormal(0.1)``
    residual standard deviation of log loss. Published sweeps scatter by 0.5–5% around
    their fitted laws (run-to-run seeds, evaluation noise, read-off error in digitised
    figures), i.e. sigma ≈ 0.005–0.05; HalfNormal(0.1) has its 95% point at 0.2.
``nu ~ Gamma(2, 0.1)``
    degrees of freedom of the Student-t likelihood (Juárez & Steel 2010): mean 20, so it
    is near-Normal unless the data contain outliers.
``sigma_run ~ HalfNormal(0.05)``
    training curves: seed-to-seed differences of final loss are about 0.5–2% (e.g.
    Gemstones, Clark et al. replicate runs), so 0.05 in log loss is generous.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import xarray as xr
from jax.scipy.special import gammaln

from bayescale.errors import InputError

LIKELIHOODS = ("student_t", "normal")

NOISE_PRIORS = {
    "sigma": lambda: dist.HalfNormal(0.1),
    "nu": lambda: dist.Gamma(2.0, 0.1),
}
RUN_PRIOR = {"sigma_run": lambda: dist.HalfNormal(0.05)}


def default_likelihood(curves: bool) -> str:
    """The likelihood of a fit that names none: ``"normal"`` for training curves (several
    checkpoints per run), ``"student_t"`` otherwise (module docstring)."""
    return "normal" if curves else "student_t"


def noise_params(likelihood: str) -> tuple[str, ...]:
    """Names of the noise parameters of a likelihood."""
    if likelihood not in LIKELIHOODS:
        raise InputError(f"unknown likelihood {likelihood!r}; choose one of {list(LIKELIHOODS)}.")
    return ("sigma", "nu") if likelihood == "student_t" else ("sigma",)


def point_distribution(mu, sigma, nu=None) -> dist.Distribution:
    """A point's log loss: ``StudentT(ν, μ, σ)``, or ``Normal(μ, σ)`` when ``nu`` is None."""
    return dist.Normal(mu, sigma) if nu is None else dist.StudentT(nu, mu, sigma)


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
    return (
        gammaln(0.5 * (nu + count))
        - gammaln(0.5 * nu)
        - 0.5 * count * jnp.log(nu * math.pi)
        - 0.5 * log_det
        - 0.5 * (nu + count) * jnp.log1p(quad / nu)
    )


def draw_run_offsets(
    resid, run, n_runs: int, sigma, sigma_run, nu=None, seed: int | np.random.Generator = 0
) -> np.ndarray:
    """One draw of every run offset from its conditional, per posterior draw: ``(..., run)``.

    Arguments as for :func:`run_log_density`; the draws are reproducible from ``seed`` (or
    continue the stream of a ``numpy.random.Generator``, for drawing block by block).
    """
    with jax.enable_x64(np.asarray(resid).dtype == np.float64):
        count, mean, q, quad, _ = (
            np.asarray(v) for v in run_statistics(resid, run, n_runs, sigma, sigma_run)
        )
    var_run = np.square(sigma_run)[..., None]
    centre = var_run * count * mean / q
    scale = np.sqrt(np.square(sigma)[..., None] * var_run / q)
    rng = np.random.default_rng(seed)
    if nu is None:
        return centre + scale * rng.standard_normal(centre.shape)
    nu = np.asarray(nu)[..., None]
    dof = nu + count
    return centre + scale * np.sqrt((nu + quad) / dof) * rng.standard_t(dof, centre.shape)


# ------------------------------------------------------------------ in the NumPyro model
def sample_noise(priors, likelihood: str, runs: bool) -> dict:
    """Sample the noise parameters as NumPyro sites: ``sigma``, ``nu`` (Student-t) and
    ``sigma_run`` (training curves)."""
    names = noise_params(likelihood) + (("sigma_run",) if runs else ())
    return {name: numpyro.sample(name, priors[name]) for name in names}


def observe(mu, log_loss, noise: dict, run=None, n_runs: int = 0) -> None:
    """The likelihood statement of the NumPyro model: per point, or per run with the run
    offsets integrated out (``n_runs > 0``; needs the data). With ``log_loss=None`` and no
    runs the same statement predicts."""
    nu = noise.get("nu")
    if n_runs:
        density = run_log_density(
            log_loss - mu, run, n_runs, noise["sigma"], noise["sigma_run"], nu
        )
        numpyro.factor("log_loss", density.sum())
        return
    with numpyro.plate("points", mu.shape[-1]):
        numpyro.sample("log_loss", point_distribution(mu, noise["sigma"], nu), obs=log_loss)


# ----------------------------------------------------------------------- per posterior draw
@dataclass(frozen=True)
class NoiseDraws:
    """Posterior draws of the noise parameters, ``(chain, draw)`` arrays: ``sigma``; ``nu``
    for the Student-t likelihood (None for Normal); ``sigma_run`` for training curves
    (None otherwise)."""

    sigma: np.ndarray
    nu: np.ndarray | None = None
    sigma_run: np.ndarray | None = None

    @classmethod
    def from_dataset(cls, posterior: xr.Dataset) -> NoiseDraws:
        """The noise parameters held in a posterior dataset."""
        if "sigma" not in posterior:
            raise InputError(
                "the posterior has no variable 'sigma', the noise scale of log loss; rename "
                "yours to sigma (e.g. idata.posterior.rename({'noise': 'sigma'}))."
            )
        get = {
            name: posterior[name].values if name in posterior else None
            for name in ("sigma", "nu", "sigma_run")
        }
        return cls(**get)

    @property
    def likelihood(self) -> str:
        return "normal" if self.nu is None else "student_t"

    def select(self, part) -> NoiseDraws:
        """The draws that ``part`` indexes (as ``array[part]``)."""
        return replace(
            self,
            **{name: None if value is None else value[part] for name, value in vars(self).items()},
        )

    def new_run_scale(self) -> np.ndarray:
        """Per draw, the scale of a new run's measured log loss: ``σ``, or
        ``sqrt(σ² + σ_run²)`` for training curves."""
        if self.sigma_run is None:
            return self.sigma
        return np.hypot(self.sigma, self.sigma_run)

    def predictive(self, rng: np.random.Generator, shape, fitted_run: bool = False) -> np.ndarray:
        """A new run's deviation from the law in log loss, per draw, ``shape = (chain, draw,
        ...)``: the new-run scale times a standard Normal or Student-t(ν) variate. With
        ``fitted_run``, a checkpoint's own noise (scale ``σ``) around a fitted run whose
        offset the caller adds."""
        extra = (1,) * (len(shape) - self.sigma.ndim)
        if self.nu is None:
            eps = rng.standard_normal(shape)
        else:
            eps = rng.standard_t(np.broadcast_to(self.nu.reshape(self.nu.shape + extra), shape))
        scale = self.sigma if fitted_run else self.new_run_scale()
        return scale.reshape(self.sigma.shape + extra) * eps

    def log_density(self, resid) -> np.ndarray:
        """Log-density of each point's residual ``(..., point)`` (no runs)."""
        nu = None if self.nu is None else self.nu[..., None]
        with jax.enable_x64(np.asarray(resid).dtype == np.float64):
            return np.asarray(point_distribution(0.0, self.sigma[..., None], nu).log_prob(resid))

    def run_log_density(self, resid, run, n_runs: int) -> np.ndarray:
        """Log-density of each run's residuals, offsets integrated out: ``(..., run)``."""
        with jax.enable_x64(np.asarray(resid).dtype == np.float64):
            return np.asarray(
                run_log_density(resid, run, n_runs, self.sigma, self.sigma_run, self.nu)
            )

    def draw_run_offsets(
        self, resid, run, n_runs: int, seed: int | np.random.Generator = 0
    ) -> np.ndarray:
        """One draw of every run offset from its conditional, per posterior draw:
        ``(..., run)`` (:func:`draw_run_offsets`)."""
        return draw_run_offsets(resid, run, n_runs, self.sigma, self.sigma_run, self.nu, seed)
