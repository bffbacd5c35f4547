"""Judging fits: how well do bayescale's posteriors predict, and are they computed right?

The checks, one module each:

- :mod:`~bayescale.evaluation.loo`: PSIS-LOO comparison of models fitted to the same
  points (:func:`compare`), e.g. the pooling modes of one sweep;
- :mod:`~bayescale.evaluation.sbc` with :mod:`~bayescale.evaluation.simulation`:
  simulation-based calibration, which fits sweeps simulated from the prior and tests that
  the true parameters' posterior ranks are uniform (model code, priors and sampler at once);
- :mod:`~bayescale.evaluation.backtest`: fit on a sweep's small runs, score the predictive
  intervals on its held-out large ones (:func:`backtest`);
- :mod:`~bayescale.evaluation.curves`: predict held-out training curves under their own
  schedules and score them (:func:`score_curves`);
- :mod:`~bayescale.evaluation.baseline` and :mod:`~bayescale.evaluation.conformal`: the
  baselines the backtests compare against (Huber fit with L-BFGS plus a bootstrap; split-
  conformal intervals around the Huber fit);
- :mod:`~bayescale.evaluation.lfo`: leave-future-out scores of laws and their stacking
  weights, and :mod:`~bayescale.evaluation.error_scale`: the scale of the law's
  extrapolation error learned from them;
- :mod:`~bayescale.evaluation.splits`: which rows train, are held out and are scored.
"""

from bayescale.evaluation.backtest import BacktestResult, backtest
from bayescale.evaluation.baseline import Bootstrap, HuberFit, bootstrap, fit_huber
from bayescale.evaluation.conformal import Conformal
from bayescale.evaluation.curves import score_curves
from bayescale.evaluation.error_scale import learn_extrapolation_error
from bayescale.evaluation.loo import compare
from bayescale.evaluation.sbc import ranks_of, sbc, uniformity
from bayescale.evaluation.simulation import (
    PLAUSIBLE_LOSS,
    make_design,
    plausible,
    prior_draw,
    rejection_rate,
    simulate_sweep,
)
from bayescale.evaluation.splits import train_mask

__all__ = [
    "PLAUSIBLE_LOSS",
    "BacktestResult",
    "Bootstrap",
    "Conformal",
    "HuberFit",
    "backtest",
    "bootstrap",
    "compare",
    "fit_huber",
    "learn_extrapolation_error",
    "make_design",
    "plausible",
    "prior_draw",
    "ranks_of",
    "rejection_rate",
    "sbc",
    "score_curves",
    "simulate_sweep",
    "train_mask",
    "uniformity",
]
