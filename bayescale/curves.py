"""Training curves in a sweep: which sweeps hold them, and their early checkpoints.

A sweep with several checkpoints per run (a ``run`` column) is a set of training curves.
Their checkpoints share a run offset, integrated out of the likelihood
(:mod:`bayescale.likelihood`); this module prepares the sweep for that fit.
"""

from __future__ import annotations

import warnings

from bayescale.errors import SweepWarning
from bayescale.sweep import Sweep, _rows_text

CURVE_MIN_FRACTION = 0.1


def is_curves(sweep: Sweep) -> bool:
    """Whether the sweep's fitted points include runs with several checkpoints."""
    return "run" in sweep.frame.columns and bool(sweep.fit_frame["run"].duplicated().any())


def drop_early_checkpoints(sweep: Sweep, min_fraction: float) -> Sweep:
    """Exclude checkpoints before ``min_fraction`` of their run's final tokens.

    Early checkpoints are dominated by warmup and the learning-rate schedule, not by the
    law; Choshen et al. 2024 (the Hitchhiker's guide) found fits improve without the first
    10% of training, so ``CURVE_MIN_FRACTION = 0.1`` is the default. The rows stay on the
    sweep, flagged ``excluded``. Unlike an exclusion the caller states, this one is the
    fit's own rule, so a ``SweepWarning`` lists the rows.
    """
    fit = sweep.fit_frame
    final = fit.groupby("run")["n_tokens"].transform("max")
    early = fit["n_tokens"] < min_fraction * final
    if not early.any():
        return sweep
    reason = f"checkpoints before {min_fraction:.0%} of their run's tokens"
    rows = fit.index[early]
    warnings.warn(
        f"{len(rows)} row(s) excluded from fitting ({reason}; fit(..., min_fraction=0) keeps "
        f"them): rows {_rows_text(rows)}. They remain on the sweep (sweep.frame, "
        "excluded=True).",
        SweepWarning,
        stacklevel=2,
    )
    return sweep.exclude(list(rows), reason=reason)
