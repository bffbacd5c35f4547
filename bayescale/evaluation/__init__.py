"""Judging fits: how well do bayescale's posteriors predict, and are they computed right?

Five checks, one module each:

- :mod:`~bayescale.evaluation.loo`: PSIS-LOO comparison of models fitted to the same
  points (:func:`compare`), e.g. the pooling modes of one sweep;
- :mod:`~bayescale.evaluation.sbc` with :mod:`~bayescale.evaluation.simulation`:
  simulation-based calibration, which fits sweeps simulated from the prior and tests that
  the true parameters' posterior ranks are uniform (model code, priors and sampler at once);
- :mod:`~bayescale.evaluation.backtest`: fit on a sweep's small runs, score the predictive
  intervals on its held-out large ones (:func:`backtest`);
- :mod:`~bayescale.evaluation.curves`: predict held-out training curves under their own
  schedules and score them (:func:`score_curves`);
- :mod:`~bayescale.evaluation.baseline`: the frequentist recipe the backtests compare
  against (Huber fit with L-BFGS plus a bootstrap).
"""

from bayescale.evaluation.backtest import BacktestResult, backtest, train_mask
from bayescale.evaluation.baseline import Bootstrap, HuberFit, bootstrap, fit_huber
from bayescale.evaluation.curves import score_curves
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

__all__ = [
    "PLAUSIBLE_LOSS",
    "BacktestResult",
    "Bootstrap",
    "HuberFit",
    "backtest",
    "bootstrap",
    "compare",
    "fit_huber",
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
