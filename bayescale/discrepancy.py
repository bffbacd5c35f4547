r"""The law's own error beyond the fitted compute: a prediction-only discrepancy term.

A law fitted on small runs can be wrong at large compute in ways that the small runs
cannot show. The backtests (``docs/calibration/backtest.md``) find the law's log error on
held-out larger runs growing with the distance in compute, to several times the fitted
noise, so intervals from the law alone under-cover when they extrapolate. Predictions
therefore carry, per posterior draw ``s``,

.. math::

    \log L(N, D) = \log L_{law}(N, D; θ_s) + δ_s(C),\qquad
    δ_s(C) = c\,σ_s\,z_s\,\max(0,\ \log C - \log C_{max}),\qquad z_s \sim \mathrm{Normal}(0, 1),

with ``C = 6ND``, ``C_max`` the largest fitted compute, ``σ_s`` the draw's scale of a new
run's measured log loss (``σ``; ``sqrt(σ² + σ_run²)`` for training curves) and ``c`` the
posterior's ``extrapolation_error`` (default :data:`EXTRAPOLATION_ERROR`) per e-fold of
compute.

- δ is zero inside the fitted range, so the fit is unchanged and the data carry no
  information on ``z``: its posterior is its prior. It is drawn per draw from the fit's
  seed (:meth:`Discrepancy.from_draws`), so every query of one posterior pairs draw ``s``
  with the same ``z_s``.
- ``σ`` is the unit because the law's extrapolation error per e-fold of compute, divided
  by σ, is 1.1–4.0 across the bundled sweeps while σ itself spans 20×; an error per
  e-fold fixed in nats varies 8× between them.
- ``c = 1`` minimises the mean interval score (50, 80 and 90% intervals) of backtests on
  the OpenWebText2 configurations of ``porian_rsld`` (0.234 at c = 0, 0.217 at 0.5, 0.194
  at 1, 0.209 at 1.5, 0.244 at 2), data that no backtest case in the docs uses.
- At fixed compute δ does not depend on ``N``, so the compute-optimal allocation and the
  excess-compute ratios, which compare sizes at one compute, are the law's. It widens the
  loss predictions: ``predict_loss``, ``loss_opt`` and ``compute_to_reach``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bayescale.errors import InputError, InputTypeError
from bayescale.extrapolation import FittedRange

EXTRAPOLATION_ERROR = 1.0
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
    """The law's error beyond the fitted compute, per posterior draw: ``slope`` is
    ``c·σ_s·z_s``, shape ``(chain, draw)``; ``fitted`` holds the fitted ranges of N, D and
    C (:mod:`bayescale.extrapolation`): δ grows beyond the largest fitted compute, and
    queries far outside any of the ranges are extrapolations."""

    slope: np.ndarray
    fitted: FittedRange = field(default_factory=FittedRange)

    @property
    def log_c_max(self) -> float:
        """The largest fitted log compute, where δ starts to grow."""
        return self.fitted.log_compute[1]

    @classmethod
    def from_draws(
        cls,
        new_run_scale: np.ndarray,
        fitted: FittedRange,
        c: float = EXTRAPOLATION_ERROR,
        seed: int = 0,
    ) -> Discrepancy:
        """From the per-draw scale of a new run's log loss (``σ``, or ``sqrt(σ² + σ_run²)``
        for training curves), with ``z_s`` drawn from ``seed``."""
        z = np.random.default_rng([seed, _STREAM]).standard_normal(np.shape(new_run_scale))
        return cls(slope=check_extrapolation_error(c) * new_run_scale * z, fitted=fitted)

    @classmethod
    def none(cls, fitted: FittedRange | None = None) -> Discrepancy:
        """No error term (the law alone); ``fitted`` still marks extrapolation."""
        return cls(slope=np.zeros(()), fitted=FittedRange() if fitted is None else fitted)


def log_error(slope, log_compute, log_c_max):
    """``δ = slope · max(0, log C − log C_max)``, broadcasting. Array-library agnostic
    (numpy in, numpy out), so it also runs inside the compiled planning kernels."""
    return slope * (log_compute - log_c_max).clip(0.0)
