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

Offsets shared by a group of runs
---------------------------------

Runs can share part of their offset: runs of one model size share the law's misfit at that
size, which the law in ``N`` cannot remove and a new run of that size inherits. With offset
groups (``fit(..., offset_groups=column)``), run ``r`` in group ``g`` has
``δ_r = η_g + ε_r`` with ``η_g \sim \mathcal N(0, s_g^2)`` (``s_g = sigma_shared``) and
``ε_r \sim \mathcal N(0, s^2)``. Given ``η_g``, a run's mean residual has
``ē_r \mid η_g \sim \mathcal N(η_g, v_r)``, ``v_r = q_r / n_r``, and the rest of the run's
density does not involve ``η_g``; so with ``P_g = Σ_{r∈g} 1/v_r`` and
``B_g = Σ_{r∈g} ē_r/v_r``, integrating ``η_g`` out adds to the sum of the group's run
densities (with ``η_g = 0``)

.. math::

    −\tfrac12\left[\log(1 + s_g^2 P_g) − \frac{s_g^2 B_g^2}{1 + s_g^2 P_g}\right],

exactly the Normal density of the group's residuals with covariance ``σ² I + s² (blocks
of ones per run) + s_g² 11ᵀ``. The Normal likelihood only: a run-level Student-t has no
such closed form. Per posterior draw, ``η_g`` is drawn from its conditional (mean
``s_g² B_g / (1 + s_g² P_g)``, variance ``s_g² / (1 + s_g² P_g)``), then each ``δ_r`` from
its run's conditional given ``η_g`` (:func:`draw_run_offsets`).

A new run
---------

A new run's measured log loss scatters around the law with scale ``σ``, or for training
curves ``sqrt(σ² + s²)`` (its own offset plus its checkpoint's noise; ``sqrt(σ² + s² +
s_g²)`` with offset groups), Normal or Student-t as the likelihood:
:meth:`NoiseDraws.new_run_scale` and :meth:`NoiseDraws.predictive`. A further checkpoint of
a fitted run (or of a branch of a fitted trunk, :mod:`bayescale.curves`) sits at the law
plus that run's offset draw, with scale ``σ``; a new run of a fitted offset group at the law
plus that group's ``η_g`` draw and a new ``ε_r`` (:meth:`bayescale.Posterior.new_run_offset`).

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
``sigma_shared ~ HalfNormal(0.05)``
    offset groups: a law's misfit at one model size is of the same order as its scatter
    around the law, 0.5–5% for the bundled sweeps, so the same scale.
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
SHARED_PRIOR = {"sigma_shared": lambda: dist.HalfNormal(0.05)}


def default_likelihood(curves: bool) -> str:
    """The likelihood of a fit that names none: ``"normal"`` for training curves (several
    checkpoints per run), ``"student_t"`` otherwise (module docstring)."""
    return "normal" if curves else "student_t"


def noise_params(likelihood: str) -> tuple[str, ...]:
    """Names of the noise parameters of a likelihood."""
    if likelihood not in LIKELIHOODS:
        raise InputError(f"unknown likelihood {likelihood!r}; choose one of {list(LIKELIHOODS)}.")
    return ("sigma", "nu") if likelihood == "student_t" else ("sigma",)


def tail_params(likelihood: str) -> tuple[str, ...]:
    """The noise parameters that set a likelihood's tails: the Student-t's ``nu``.

    Free, ``ν`` lets the density grow without bound: where the law passes through some
    points exactly, their density ``∝ 1/σ`` rises without limit as ``σ → 0``, and with
    ``ν → 0`` fast enough every other point's ``∝ σ^ν/|r|^(ν+1)`` does not fall to meet it.
    The posterior stays proper but has no mode there, and a mode search can run off to it
    (:func:`bayescale.starts.laplace_start` then searches again with these held)."""
    return ("nu",) if "nu" in noise_params(likelihood) else ()


def point_distribution(mu, sigma, nu=None) -> dist.Distribution:
    """A point's log loss: ``StudentT(ν, μ, σ)``, or ``Normal(μ, σ)`` when ``nu`` is None."""
    return dist.Normal(mu, sigma) if nu is None else dist.StudentT(nu, mu, sigma)


def _per_run(values, run, n_runs: int):
    """Sums of ``values`` (``(..., item)``) over the items of each run (or of each offset
    group, with group codes): ``(..., run)``."""
    summed = jax.ops.segment_sum(jnp.moveaxis(values, -1, 0), run, num_segments=n_runs)
    return jnp.moveaxis(summed, 0, -1)


def run_groups(offset_group, run, n_runs: int):
    """Each run's offset group code, ``(run,)``, from the codes of its points (a run lies in
    one group)."""
    return jax.ops.segment_max(jnp.asarray(offset_group), jnp.asarray(run), num_segments=n_runs)


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


def _shared_statistics(count, mean, q, group, n_groups: int):
    """Per offset group ``(P_g, B_g)`` from the runs' ``(n, ē, q)`` (module docstring)."""
    precision = count / q
    return _per_run(precision, group, n_groups), _per_run(precision * mean, group, n_groups)


def shared_log_density(
    resid, run, n_runs: int, group, n_groups: int, sigma, sigma_run, sigma_shared
):
    """Log-density of each offset group's residuals with its runs' offsets and its shared
    offset integrated out (Normal), ``(..., group)``; ``group`` is each run's offset group
    code (:func:`run_groups`), the rest as for :func:`run_log_density`."""
    count, mean, q, quad, log_det = run_statistics(resid, run, n_runs, sigma, sigma_run)
    runs = -0.5 * (count * math.log(2 * math.pi) + log_det + quad)
    precision, weighted = _shared_statistics(count, mean, q, group, n_groups)
    var_shared = jnp.square(sigma_shared)[..., None]
    shrink = 1 + var_shared * precision
    correction = -0.5 * (jnp.log(shrink) - var_shared * jnp.square(weighted) / shrink)
    return _per_run(runs, group, n_groups) + correction


def draw_shared_offsets(
    resid, run, n_runs: int, group, n_groups: int, sigma, sigma_run, sigma_shared, seed=0
) -> np.ndarray:
    """One draw of each offset group's shared offset ``η_g`` from its conditional, per
    posterior draw: ``(..., group)``. Arguments as for :func:`shared_log_density`; ``seed``
    as for :func:`draw_run_offsets`."""
    with jax.enable_x64(np.asarray(resid).dtype == np.float64):
        count, mean, q, _, _ = run_statistics(resid, run, n_runs, sigma, sigma_run)
        precision, weighted = (
            np.asarray(v) for v in _shared_statistics(count, mean, q, group, n_groups)
        )
    var_shared = np.square(sigma_shared)[..., None]
    spread = var_shared / (1 + var_shared * precision)
    rng = np.random.default_rng(seed)
    return spread * weighted + np.sqrt(spread) * rng.standard_normal(weighted.shape)


def draw_run_offsets(
    resid,
    run,
    n_runs: int,
    sigma,
    sigma_run,
    nu=None,
    seed: int | np.random.Generator = 0,
    shared=None,
) -> np.ndarray:
    """One draw of every run offset from its conditional, per posterior draw: ``(..., run)``.

    Arguments as for :func:`run_log_density`; the draws are reproducible from ``seed`` (or
    continue the stream of a ``numpy.random.Generator``, for drawing block by block). With
    offset groups, ``shared`` is each run's drawn group offset ``η_g`` (``(..., run)``,
    from :func:`draw_shared_offsets`), which the run's offset includes: given it, ``δ_r −
    η_g`` is the offset of the run's residuals less ``η_g``.
    """
    shift = 0.0 if shared is None else np.asarray(shared)
    with jax.enable_x64(np.asarray(resid).dtype == np.float64):
        count, mean, q, quad, _ = (
            np.asarray(v) for v in run_statistics(resid, run, n_runs, sigma, sigma_run)
        )
    var_run = np.square(sigma_run)[..., None]
    centre = shift + var_run * count * (mean - shift) / q
    scale = np.sqrt(np.square(sigma)[..., None] * var_run / q)
    rng = np.random.default_rng(seed)
    if nu is None:
        return centre + scale * rng.standard_normal(centre.shape)
    nu = np.asarray(nu)[..., None]
    dof = nu + count
    return centre + scale * np.sqrt((nu + quad) / dof) * rng.standard_t(dof, centre.shape)


# ------------------------------------------------------------------ in the NumPyro model
def sample_noise(priors, likelihood: str, runs: bool, shared: bool = False) -> dict:
    """Sample the noise parameters as NumPyro sites: ``sigma``, ``nu`` (Student-t),
    ``sigma_run`` (training curves) and ``sigma_shared`` (offset groups)."""
    names = (
        noise_params(likelihood)
        + (("sigma_run",) if runs else ())
        + (("sigma_shared",) if shared else ())
    )
    return {name: numpyro.sample(name, priors[name]) for name in names}


def observe(
    mu,
    log_loss,
    noise: dict,
    run=None,
    n_runs: int = 0,
    offset_group=None,
    n_offset_groups=0,
    mask=None,
) -> None:
    """The likelihood statement of the NumPyro model: per point, per run with the run
    offsets integrated out (``n_runs > 0``; needs the data), or per offset group with the
    groups' offsets integrated out too (``n_offset_groups > 0``; ``offset_group`` the code
    of each point). With ``log_loss=None`` and no runs the same statement predicts. Per
    point, a boolean ``mask`` leaves the points where it is False out of the likelihood
    (the padding of :func:`bayescale.model_inputs.padded`)."""
    nu = noise.get("nu")
    if n_offset_groups:
        density = shared_log_density(
            log_loss - mu,
            run,
            n_runs,
            run_groups(offset_group, run, n_runs),
            n_offset_groups,
            noise["sigma"],
            noise["sigma_run"],
            noise["sigma_shared"],
        )
        numpyro.factor("log_loss", density.sum())
        return
    if n_runs:
        density = run_log_density(
            log_loss - mu, run, n_runs, noise["sigma"], noise["sigma_run"], nu
        )
        numpyro.factor("log_loss", density.sum())
        return
    with (
        numpyro.plate("points", mu.shape[-1]),
        numpyro.handlers.mask(mask=True if mask is None else mask),
    ):
        numpyro.sample("log_loss", point_distribution(mu, noise["sigma"], nu), obs=log_loss)


# ----------------------------------------------------------------------- per posterior draw
@dataclass(frozen=True)
class NoiseDraws:
    """Posterior draws of the noise parameters, ``(chain, draw)`` arrays: ``sigma``; ``nu``
    for the Student-t likelihood (None for Normal); ``sigma_run`` for training curves and
    ``sigma_shared`` for offset groups (None otherwise)."""

    sigma: np.ndarray
    nu: np.ndarray | None = None
    sigma_run: np.ndarray | None = None
    sigma_shared: np.ndarray | None = None

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
            for name in ("sigma", "nu", "sigma_run", "sigma_shared")
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
        ``sqrt(σ² + σ_run²)`` for training curves, ``sqrt(σ² + σ_run² + σ_shared²)`` with
        offset groups (a run of a new group)."""
        if self.sigma_run is None:
            return self.sigma
        if self.sigma_shared is None:
            return np.hypot(self.sigma, self.sigma_run)
        return np.sqrt(self.sigma**2 + self.sigma_run**2 + self.sigma_shared**2)

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

    def shared_log_density(self, resid, run, n_runs: int, group, n_groups: int) -> np.ndarray:
        """Log-density of each offset group's residuals, offsets integrated out:
        ``(..., group)`` (:func:`shared_log_density`)."""
        with jax.enable_x64(np.asarray(resid).dtype == np.float64):
            return np.asarray(
                shared_log_density(
                    resid,
                    run,
                    n_runs,
                    group,
                    n_groups,
                    self.sigma,
                    self.sigma_run,
                    self.sigma_shared,
                )
            )

    def draw_run_offsets(
        self, resid, run, n_runs: int, seed: int | np.random.Generator = 0, shared=None
    ) -> np.ndarray:
        """One draw of every run offset from its conditional, per posterior draw:
        ``(..., run)`` (:func:`draw_run_offsets`)."""
        return draw_run_offsets(
            resid, run, n_runs, self.sigma, self.sigma_run, self.nu, seed, shared
        )

    def draw_shared_offsets(
        self, resid, run, n_runs: int, group, n_groups: int, seed=0
    ) -> np.ndarray:
        """One draw of every offset group's shared offset, per posterior draw:
        ``(..., group)`` (:func:`draw_shared_offsets`)."""
        return draw_shared_offsets(
            resid,
            run,
            n_runs,
            group,
            n_groups,
            self.sigma,
            self.sigma_run,
            self.sigma_shared,
            seed,
        )
