r"""The scale of the law's extrapolation error, learned by leave-future-out.

The law's error outside the fitted runs (:mod:`bayescale.discrepancy`) is, per posterior
draw ``s``, ``δ_s = c σ_s z_s h`` with ``h`` a query's distance from the fitted runs and
``z_s ~ Normal(0, 1)``. Its scale ``c`` cannot be learned from the fitted runs (``h = 0``
there), but it can from runs the fit did not see: leave-future-out
(:mod:`bayescale.evaluation.lfo`) fits on the smaller runs and scores the larger ones,
which lie at ``h > 0`` from the fit.

The density of a held-out run
-----------------------------
For a held-out point ``i`` at distance ``h_i`` from the fit that scores it, with residual
``r_{s,i} = \log L_i − μ_s(i)`` from draw ``s``'s law, new-run scale ``σ_s`` and noise
density ``f`` (Normal or Student-t(``ν_s``), :class:`~bayescale.likelihood.NoiseDraws`),

.. math::

    p_i(c) = \frac1S \sum_s \frac{1}{σ_s} f\!\Big(\frac{r_{s,i} − c σ_s z_s h_i}{σ_s}\Big),

with ``z_s`` the posterior's own draws of the error's ``z``
(:meth:`bayescale.Posterior.discrepancy`): the posterior predictive density of
:func:`bayescale.evaluation.lfo.log_predictive_density` at scale ``c``, so the two agree
at the posterior's own ``c``. :func:`log_density_by_scale` gives ``log p_i(c)`` on a grid
of ``c``; its sum over the scored points is the leave-future-out log likelihood of ``c``,
``ℓ(c) = Σ_i \log p_i(c)``. The average over draws integrates ``z`` out by Monte Carlo,
one ``z`` per draw: with thousands of draws its error in ``ℓ`` is small beside the
differences between scales a decade apart.

Prior, default and update
-------------------------
``\log c ~ Normal(μ_c, τ_c)`` (:class:`~bayescale.discrepancy.ScalePrior`). The default prior
(:data:`~bayescale.discrepancy.DEFAULT_PRIOR`) comes from leave-future-out on the bundled sweeps
(``docs/calibration/extrapolation_error.py``): each sweep ``d`` gives ``ℓ_d(c)``, and
``(μ_c, τ_c)`` maximise the marginal likelihood ``Π_d ∫ e^{ℓ_d(c)} N(\log c; μ_c, τ_c)
d\log c`` (:func:`pool`), a hierarchical model across sweeps. A sweep's own
leave-future-out updates it (:func:`learn`): the posterior of ``\log c`` on the grid
``∝ N(\log c; μ_c, τ_c)·e^{ℓ(c)}``.

One value is used per posterior: the ``c`` whose Normal error has the 90% interval width
of the mixture of errors over ``c`` under the prior (the default,
:data:`~bayescale.discrepancy.EXTRAPOLATION_ERROR`) or the updated posterior
(:func:`~bayescale.discrepancy.matched_scale`). The mixture's tails are heavier than one
Normal's, which one value does not keep: its 50% intervals are a little wider than the
mixture's, its 99% intervals narrower.

Leave-future-out points are not independent (one sweep's larger runs share its law's
misfit), so ``ℓ(c)`` overstates how much a sweep knows about ``c``: the posterior is
narrower than it should be. The prior across sweeps tempers it for small sweeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from bayescale.discrepancy import DEFAULT_PRIOR, PRIOR_SCALES, ScalePrior, matched_scale
from bayescale.errors import InputError

BLOCK_NUMBERS = 4_000_000  # densities evaluated at once (32 MB of float64)


def log_density_by_scale(resid, unit, noise, h, scales=PRIOR_SCALES) -> np.ndarray:
    """``log p_i(c)`` (module docstring), ``(point, scale)``: ``resid`` ``(chain, draw,
    point)`` residuals of log loss from each draw's law, ``unit`` ``(chain, draw)`` the
    error's slope per unit of ``c`` (``σ_s z_s``), ``noise`` the
    :class:`~bayescale.likelihood.NoiseDraws` of a new run, ``h`` ``(point,)`` the
    distances from the fitted runs."""
    resid = np.asarray(resid)
    shift = np.asarray(unit)[..., None] * np.asarray(h)  # (chain, draw, point)
    draws = resid.shape[0] * resid.shape[1]
    block = max(1, BLOCK_NUMBERS // resid.size)
    out = []
    for start in range(0, len(scales), block):
        c = np.asarray(scales[start : start + block], resid.dtype)[:, None, None, None]
        logp = noise.log_density(resid - c * shift).reshape(len(c), draws, -1)
        out.append(special.logsumexp(logp, axis=1) - math.log(draws))
    return np.concatenate(out).T


@dataclass(frozen=True)
class LearnedScale:
    """The posterior of ``c`` on the grid ``scales`` (``weights`` sum to 1), the
    leave-future-out log likelihood ``loglik`` and the ``prior`` it came from, and
    ``value``, the one ``c`` a posterior uses."""

    scales: np.ndarray
    weights: np.ndarray
    loglik: np.ndarray
    prior: ScalePrior

    @property
    def value(self) -> float:
        """The one ``c`` a posterior uses (:func:`~bayescale.discrepancy.matched_scale`)."""
        return matched_scale(self.scales, self.weights)

    def interval(self, ci_prob: float = 0.9) -> tuple[float, float]:
        """The equal-tailed ``ci_prob`` interval of ``c``: the posterior's CDF on the grid,
        each grid point's mass spread evenly over its cell in ``log c``, inverted by linear
        interpolation."""
        log_c = np.log(self.scales)
        edges = np.r_[log_c[0], 0.5 * (log_c[1:] + log_c[:-1]), log_c[-1]]
        cdf = np.r_[0.0, np.cumsum(self.weights)]
        tail = (1.0 - ci_prob) / 2.0
        return tuple(float(np.exp(np.interp(q, cdf, edges))) for q in (tail, 1.0 - tail))


def learn(lpd, prior: ScalePrior, scales=PRIOR_SCALES) -> LearnedScale:
    """The posterior of ``c`` from leave-future-out densities ``lpd`` ``(point, scale)``
    (:func:`log_density_by_scale` of every scored point) under ``prior``."""
    loglik = np.asarray(lpd, float).sum(axis=0)
    log_post = loglik + prior.log_density(scales)
    weights = np.exp(log_post - special.logsumexp(log_post))
    return LearnedScale(scales=np.asarray(scales), weights=weights, loglik=loglik, prior=prior)


def pool(logliks, scales=PRIOR_SCALES) -> ScalePrior:
    """The prior across sweeps (module docstring): ``(μ_c, τ_c)`` maximising the marginal
    likelihood of the sweeps' leave-future-out log likelihoods ``logliks`` (one ``(scale,)``
    array per sweep), over a grid of ``μ_c`` on the scales' range and ``τ_c`` from 0.05 to
    3 (natural log units)."""
    log_c = np.log(scales)
    step = log_c[1] - log_c[0]
    mus, taus = log_c[::2], np.geomspace(0.05, 3.0, 60)
    # (mu, tau, scale): the prior's log mass in each cell of the grid
    log_prior = stats.norm.logpdf(log_c, mus[:, None, None], taus[None, :, None]) + math.log(step)
    total = sum(special.logsumexp(np.asarray(ll) + log_prior, axis=-1) for ll in logliks)
    i, j = np.unravel_index(np.argmax(total), total.shape)
    return ScalePrior(float(mus[i]), float(taus[j]))


def learn_extrapolation_error(lfo: pd.DataFrame, law: str | None = None, prior=None):
    """The posterior of the extrapolation error's scale ``c`` of ``law`` from a
    leave-future-out frame (:func:`bayescale.leave_future_out`, which keeps every scored
    point's density at each scale in ``attrs["lpd_by_scale"]``), under ``prior``
    (default :data:`~bayescale.discrepancy.DEFAULT_PRIOR`, learned on the bundled sweeps).

    Parameters
    ----------
    lfo
        the frame :func:`bayescale.leave_future_out` returns.
    law
        the label of the law, among the frame's; optional when it holds one law.
    prior
        a :class:`~bayescale.discrepancy.ScalePrior`.

    Returns
    -------
    LearnedScale
        ``value`` is the ``c`` to use: ``post.with_extrapolation_error(learned.value)``,
        or ``extrapolation_error=learned.value`` in :func:`bayescale.fit`.
    """
    stored = lfo.attrs.get("lpd_by_scale") if isinstance(lfo, pd.DataFrame) else None
    if stored is None:
        raise InputError(
            "learn_extrapolation_error needs the frame bs.leave_future_out returns (its "
            "attrs['lpd_by_scale'] hold each point's density at each scale); got "
            f"{type(lfo).__name__} without them."
        )
    labels = list(stored["lpd"])
    if law is None and len(labels) == 1:
        law = labels[0]
    if law not in labels:
        raise InputError(f"law must be one of the frame's laws {labels}, got {law!r}.")
    return learn(
        np.asarray(stored["lpd"][law]),
        DEFAULT_PRIOR if prior is None else prior,
        np.asarray(stored["scales"]),
    )


def lpd_at_scale(lfo: pd.DataFrame, law: str, value: float) -> np.ndarray:
    """Each of ``law``'s rows' leave-future-out density at scale ``value``, interpolated in
    ``log c`` between the grid's scales (3% apart, over which a density changes little)."""
    stored = lfo.attrs["lpd_by_scale"]
    log_scales = np.log(stored["scales"])
    return np.array([np.interp(math.log(value), log_scales, row) for row in stored["lpd"][law]])
