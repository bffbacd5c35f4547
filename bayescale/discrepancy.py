r"""The law's own error outside the fitted runs: a prediction-only discrepancy term.

A law fitted on small runs can be wrong far from them in ways that the runs cannot show.
The backtests (``docs/calibration/backtest.md``) find the law's log error on held-out
larger runs growing with their distance from the fitted ones, to several times the
fitted noise, so intervals from the law alone under-cover when they extrapolate.
Predictions therefore carry, per posterior draw ``s``,

.. math::

    \log L(N, D) = \log L_{law}(N, D; θ_s) + δ_s(N, D),\qquad
    δ_s(N, D) = c\,σ_s\,z_s\,h(\log N, \log D),\qquad z_s \sim \mathrm{Normal}(0, 1),

with ``h`` the distance of the query from the fitted runs: the L1 distance, in e-folds,
from the convex hull of the fitted points in ``(log N, log D)``
(:mod:`bayescale.fitted_region`). It is zero inside the hull and grows with the e-folds
of model size alone (a larger model on the fitted tokens), of tokens alone, or of both;
beyond the fitted compute along the diagonal, by one per e-fold of compute ``C = 6ND``.
``σ_s`` is the draw's scale of a new run's measured log loss (``σ``; ``sqrt(σ² +
σ_run²)`` for training curves) and ``c`` the posterior's ``extrapolation_error`` (default
:data:`EXTRAPOLATION_ERROR`) per e-fold.

- δ is zero inside the fitted runs, so the fit is unchanged and the data carry no
  information on ``z``: its posterior is its prior. It is drawn per draw from the fit's
  seed (:meth:`Discrepancy.from_draws`), so every query of one posterior pairs draw ``s``
  with the same ``z_s``.
- ``σ`` is the unit because the law's extrapolation error per e-fold of compute, divided
  by σ, is 1.1–4.0 across the bundled sweeps while σ itself spans 20×; an error per
  e-fold fixed in nats varies 8× between them.
- ``c`` is learned by leave-future-out, where runs lie outside the fit that scores them
  (:mod:`bayescale.evaluation.error_scale`). :data:`DEFAULT_PRIOR`, ``log c ~ Normal(μ,
  τ)``, pools five bundled sweeps (``docs/calibration/extrapolation_error.md``: their own
  best ``c`` runs from 0.53 to 6.5), and a posterior uses the one ``c`` with that
  prior's 90% interval width (:func:`matched_scale`), :data:`EXTRAPOLATION_ERROR`;
  :func:`bayescale.stack` updates it by each law's own leave-future-out scores.
- What it assumes: the law's error is a straight line in ``h`` with a slope unknown in
  sign, the same for every query of one draw, so a query twice as far out carries twice
  the error, with one scale for both axes (other distances, and a scale per axis, are
  scored on the bundled sweeps in ``docs/calibration/error_distance.md``). It does not
  know the direction in which the law fails, and a sweep's own leave-future-out does not
  tell it (``docs/calibration/error_direction.md``).
- Allocations are the law's: the compute-optimal size, the excess compute of another
  size and the efficient range come from ``L_law`` per draw. δ has mean zero over
  ``z`` at every point, so it prefers no size; it widens the loss predictions
  (``predict_loss``, ``loss_opt``, ``compute_to_reach``) by the distance of each answer
  from the fitted runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from bayescale.errors import InputError, InputTypeError
from bayescale.extrapolation import FittedRange
from bayescale.fitted_region import Region, distance

PRIOR_SCALES = np.geomspace(0.01, 100.0, 321)
"""The grid of ``c`` on which its prior and posteriors are evaluated: 0.01 to 100, 80
points per decade (a 3% step, below the posterior spread of ``log c`` from a few hundred
scored runs, about 5%)."""


CI_MATCHED = 0.9
"""The central interval whose width the one value of ``c`` keeps (:func:`matched_scale`)."""


def matched_scale(scales, weights, ci_prob: float = CI_MATCHED) -> float:
    """The one ``c`` whose error ``c·z`` has the same central ``ci_prob`` interval as the
    mixture of ``c·z`` over ``c`` (``weights`` on ``scales``, summing to 1), ``z ~
    Normal(0, 1)``: ``q / Φ⁻¹((1 + ci_prob)/2)`` with ``q`` solving ``Σ_j w_j (2Φ(q/c_j)
    − 1) = ci_prob`` (bisection in ``log q``). A mixture of Normal scales has heavier
    tails than one Normal: this keeps the width of the interval a plan reports, where
    the root mean square would widen it and the median narrow it."""
    scales, weights = np.asarray(scales, float), np.asarray(weights, float)

    def covered(q):
        return sum(
            w * math.erf(q / (c * math.sqrt(2.0))) for c, w in zip(scales, weights, strict=True)
        )

    low, high = math.log(scales[0]) - 5.0, math.log(scales[-1]) + 5.0
    for _ in range(60):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if covered(math.exp(mid)) < ci_prob else (low, mid)
    z = math.sqrt(2.0) * _erfinv(ci_prob)
    return math.exp(0.5 * (low + high)) / z


def _erfinv(y: float) -> float:
    """``erf⁻¹(y)`` by bisection (``math`` has ``erf`` only)."""
    low, high = 0.0, 6.0
    for _ in range(60):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if math.erf(mid) < y else (low, mid)
    return 0.5 * (low + high)


@dataclass(frozen=True)
class ScalePrior:
    """``log c ~ Normal(log_median, log_sd)``."""

    log_median: float
    log_sd: float

    def log_density(self, scales=PRIOR_SCALES) -> np.ndarray:
        """The prior's log density of ``log c`` at each of ``scales``."""
        z = (np.log(scales) - self.log_median) / self.log_sd
        return -0.5 * z**2 - math.log(self.log_sd * math.sqrt(2.0 * math.pi))

    @property
    def value(self) -> float:
        """The one ``c`` a posterior uses under this prior (:func:`matched_scale`)."""
        log_p = self.log_density()
        weights = np.exp(log_p - log_p.max())
        return matched_scale(PRIOR_SCALES, weights / weights.sum())


# docs/calibration/extrapolation_error.md: the marginal-likelihood maximum over the
# leave-future-out scores of chinchilla, gadre_overtrain, open_athena_isoflops,
# porian_rsld and misfitting (median c = 1.88)
DEFAULT_PRIOR = ScalePrior(log_median=0.633, log_sd=0.749)
EXTRAPOLATION_ERROR = DEFAULT_PRIOR.value
"""The default scale of the error, about 2.8: the one ``c`` with :data:`DEFAULT_PRIOR`'s 90%
interval width."""
_STREAM = 0x0E1  # fixed spawn key: z_s never shares a stream with other seeded draws


def check_extrapolation_error(value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError) as err:
        raise InputTypeError(f"extrapolation_error must be a number >= 0, got {value!r}.") from err
    if not np.isfinite(value) or value < 0:
        raise InputError(
            f"extrapolation_error must be a finite number >= 0 (0 turns the "
            f"discrepancy off), got {value!r}."
        )
    return value


@dataclass(frozen=True)
class Discrepancy:
    """The law's error outside the fitted runs, per posterior draw: ``slope`` is
    ``c·σ_s·z_s``, shape ``(chain, draw)``; ``region`` the fitted region, from which δ
    grows (:mod:`bayescale.fitted_region`); ``fitted`` the fitted ranges of N, D, C and
    tokens per parameter, beyond which queries are far extrapolations
    (:mod:`bayescale.extrapolation`)."""

    slope: np.ndarray
    fitted: FittedRange = field(default_factory=FittedRange)
    region: Region = field(default_factory=Region.everywhere)

    @classmethod
    def from_draws(
        cls,
        new_run_scale: np.ndarray,
        data,
        c: float = EXTRAPOLATION_ERROR,
        seed: int = 0,
    ) -> Discrepancy:
        """From the per-draw scale of a new run's log loss (``σ``, or ``sqrt(σ² + σ_run²)``
        for training curves) and the fitted points' :class:`~bayescale.fitinfo.DataInfo`,
        with ``z_s`` drawn from ``seed``."""
        z = np.random.default_rng([seed, _STREAM]).standard_normal(np.shape(new_run_scale))
        return cls(
            slope=check_extrapolation_error(c) * new_run_scale * z,
            fitted=FittedRange.from_data(data),
            region=Region.from_data(data),
        )

    @classmethod
    def none(cls, fitted: FittedRange | None = None) -> Discrepancy:
        """No error term (the law alone); ``fitted`` still marks extrapolation."""
        return cls(slope=np.zeros(()), fitted=FittedRange() if fitted is None else fitted)


def log_error(slope, edges, log_n, log_d, xp=np):
    """``δ = slope · h(log N, log D)``, broadcasting, with ``edges`` the fitted region's
    (:attr:`~bayescale.fitted_region.Region.edges`) and ``xp`` the array library (NumPy,
    or ``jax.numpy`` inside a compiled kernel)."""
    return slope * distance(edges, log_n, log_d, xp)
