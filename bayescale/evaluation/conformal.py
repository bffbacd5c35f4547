r"""Split-conformal intervals on log loss: a distribution-free baseline for the backtests.

Split (inductive) conformal prediction (Papadopoulos et al. 2002; Vovk, Gammerman &
Shafer 2005, *Algorithmic Learning in a Random World*; for regression Lei, G'Sell,
Rinaldo, Tibshirani & Wasserman 2018, "Distribution-free predictive inference for
regression", JASA 113:1094) turns any point fit into intervals with a finite-sample
guarantee. Applied to scaling laws:

1. **Split** the training runs into a *proper* part and a *calibration* part.
2. **Fit** the Chinchilla law on the proper part by the baseline's recipe (Huber loss on
   log loss, L-BFGS-B from the best grid starts; :func:`bayescale.evaluation.baseline.
   fit_huber`), giving ``log L̂(N, D)``.
3. **Calibrate**: the absolute residuals of log loss on the ``n`` calibration runs,
   ``R_i = |log L_i − log L̂(N_i, D_i)|``; sorted, ``R_(1) ≤ … ≤ R_(n)``.
4. **Predict** a new run with the interval, for central probability ``1 − α``,

.. math::

    \big[\hat L(N, D)\, e^{-\hat q},\ \hat L(N, D)\, e^{\hat q}\big], \qquad
    \hat q = R_{(k)},\quad k = \lceil (n + 1)(1 − α) \rceil,

and ``q̂ = ∞`` (the interval ``(0, ∞)``) when ``k > n``, i.e. when
``n < (1 − α)/α``: a 90% interval needs at least 9 calibration runs, an 80% one 4, a 50%
one 1. The point prediction (the ``median`` of the backtest's points) is ``L̂(N, D)``.

Guarantee: if the calibration runs and the new run are exchangeable (their residuals
could be any permutation of one another), ``P(|log L − log L̂| ≤ q̂) ≥ 1 − α`` over the
draw of calibration and test runs, and below ``1 − α + 1/(n + 1)`` when residuals do not
tie. The guarantee holds for any law and any noise, right or wrong, but only under
exchangeability.

Which runs calibrate. An extrapolation test asks about runs larger than every training
run, whose residuals are not exchangeable with those of a random calibration subset: a
random subset lies inside the proper part's range, where the law fits best, and its
residuals would understate the error of extrapolating. So the calibration part is the
*largest* training runs, by the same key the backtest splits on (a run's final compute
``6·N·D``, or ``N``): the share ``calibration`` of the runs above the ``1 − calibration``
quantile of the key (:func:`bayescale.evaluation.splits.train_mask` on the training
runs). Their residuals are the law's errors one step beyond its fitted runs, the closest
the training data come to the test's question; the held-out runs lie further out still,
so even these intervals carry no guarantee there (the backtest measures what they cover).
The price is a law fitted on fewer and smaller runs than the bootstrap's. The default
share, :data:`DEFAULT_CALIBRATION` = 1/3, keeps at least 9 calibration runs, enough for a
finite 90% interval, from 27 training runs.

Training curves: the law is fitted on the proper runs' checkpoints (those the sweep
fits), and each calibration run contributes one residual, at its final checkpoint
(:func:`bayescale.evaluation.splits.scored_rows`): the exchangeable unit is a run, and a
finished run is what the backtest scores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bayescale.draws import check_ci_prob, interval_columns
from bayescale.errors import InputError, InputTypeError
from bayescale.evaluation.baseline import DELTA, PARAMS, TOP_STARTS, HuberFit, fit_huber
from bayescale.evaluation.splits import scored_rows, train_mask
from bayescale.sweep import Sweep

DEFAULT_CALIBRATION = 1 / 3
KEYS = ("compute", "n_params")


def conformal_quantile(residuals, level: float) -> float:
    """The split-conformal quantile of ``residuals`` for central probability ``level``:
    the ``⌈(n + 1)·level⌉``-th smallest, or ``inf`` when that exceeds ``n`` (module
    docstring). The product is rounded to 9 decimals first, so that float error does
    not move ``k`` by one (``100 × 0.55`` is ``55.00000000000001`` in floating point)."""
    level = check_ci_prob(level)
    values = np.sort(np.asarray(residuals, float).ravel())
    k = math.ceil(round((values.size + 1) * level, 9))
    return float(values[k - 1]) if k <= values.size else math.inf


@dataclass(frozen=True)
class Conformal:
    """A split-conformal predictor: the Huber fit on the proper runs and the sorted
    absolute log-loss residuals of the calibration runs (module docstring). ``cut`` is
    the largest ``key`` (FLOPs or parameters) among the proper runs."""

    fit: HuberFit
    residuals: np.ndarray
    key: str
    cut: float

    def __post_init__(self):
        values = np.sort(np.asarray(self.residuals, float))
        values.setflags(write=False)
        object.__setattr__(self, "residuals", values)

    def __repr__(self) -> str:
        return (
            f"Conformal({self.fit.n_points} proper points, {self.residuals.size} calibration "
            f"runs above {self.key} {self.cut:.3g}; fit {self.fit!r})"
        )

    def quantile(self, level: float) -> float:
        """``q̂`` for central probability ``level``: the interval is ``L̂·exp(±q̂)``."""
        return conformal_quantile(self.residuals, level)

    def intervals(self, n, d, levels: Sequence[float]) -> dict[str, np.ndarray]:
        """The point prediction (``"median"``) and each level's bounds at ``(n, d)``, named
        as :func:`~bayescale.draws.interval_columns` names them (``eti_5%``, ``eti_95%``
        for 0.9); an infinite ``q̂`` gives the bounds 0 and ``inf``."""
        log_mean = np.atleast_1d(self.fit.log_loss(n, d))
        out = {"median": np.exp(log_mean)}
        for level in levels:
            q = self.quantile(level)
            lower, upper = interval_columns(level)
            out[lower], out[upper] = np.exp(log_mean - q), np.exp(log_mean + q)
        return out


def conformal(
    sweep: Sweep,
    *,
    group: str | None = None,
    calibration: float = DEFAULT_CALIBRATION,
    key: str = "compute",
    delta: float = DELTA,
    grid: Mapping | None = None,
    top: int | None = TOP_STARTS,
) -> Conformal:
    """Split ``sweep``'s fitted runs (of one ``group`` if given), fit the law on the
    smaller ones and calibrate on the largest (module docstring).

    Parameters
    ----------
    sweep
        the training data, a :class:`bayescale.Sweep`.
    group
        fit and calibrate on this group's runs only.
    calibration
        the share of the runs that calibrates, in (0, 1): those above the
        ``1 − calibration`` quantile of ``key``.
    key
        what orders the runs: ``"compute"`` (a run's final ``6·N·D``) or ``"n_params"``.
    delta, grid, top
        the Huber fit's settings (:func:`~bayescale.evaluation.baseline.fit_huber`).

    Returns
    -------
    Conformal
        the fit on the proper runs and the calibration residuals.
    """
    if not isinstance(sweep, Sweep):
        raise InputTypeError(
            f"conformal expects a bayescale.Sweep, got {type(sweep).__name__}; build one "
            "with bs.Sweep.from_frame(df, ...)."
        )
    if isinstance(calibration, bool) or not (
        isinstance(calibration, (int, float)) and 0.0 < calibration < 1.0
    ):
        raise InputError(
            f"calibration must be a share of the runs in (0, 1), got {calibration!r}; "
            f"e.g. calibration={DEFAULT_CALIBRATION:.3g} calibrates on the largest third."
        )
    if key not in KEYS:
        raise InputError(f"unknown key {key!r}; choose one of {list(KEYS)}.")
    if group is not None:
        if group not in sweep.groups:
            raise InputError(
                f"no group {group!r} among the fitted rows; groups are {sweep.groups}."
            )
        sweep = sweep.exclude(sweep.frame["group"] != group, reason=f"not group {group!r}")
    where = f" of group {group!r}" if group is not None else ""
    try:
        proper = train_mask(sweep, key, frac=1.0 - calibration)
    except InputError as error:
        raise InputError(
            f"calibration={calibration:.3g} cannot split the training runs{where} into a "
            f"proper and a calibration part ({error}) Change calibration=, or train on "
            "more runs of distinct size."
        ) from error
    if proper.sum() <= len(PARAMS):
        raise InputError(
            f"calibration={calibration:.3g} leaves {int(proper.sum())} point(s){where} to fit "
            f"the law on, and the Huber fit needs more than {len(PARAMS)}; lower "
            "calibration= or train on more runs."
        )
    frame = sweep.fit_frame
    law_sweep = sweep.exclude(proper.index[~proper], reason="calibration runs")
    calib_sweep = sweep.exclude(proper.index[proper], reason="proper runs")
    fit = fit_huber(law_sweep, delta=delta, grid=grid, top=top)
    calib = calib_sweep.fit_frame.loc[scored_rows(calib_sweep)]
    residuals = np.abs(
        np.log(calib["loss"].to_numpy(float))
        - fit.log_loss(calib["n_params"].to_numpy(float), calib["n_tokens"].to_numpy(float))
    )
    value = 6.0 * frame["n_params"] * frame["n_tokens"] if key == "compute" else frame["n_params"]
    return Conformal(fit=fit, residuals=residuals, key=key, cut=float(value[proper].max()))
