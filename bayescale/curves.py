"""Training curves in a sweep: which sweeps hold them, and which checkpoints a fit uses.

A sweep with several checkpoints per run (a ``run`` column) is a set of training curves.
Their checkpoints share a run offset, integrated out of the likelihood
(:mod:`bayescale.likelihood`); this module prepares the sweep for that fit.

Branches share their trunk's offset. A run resumed from a checkpoint of another run (a
WSD cooldown branched off a constant-learning-rate run, a continued run) has that run's
weights, seed and data order up to the branch, so it is as lucky or unlucky as its trunk.
An optional ``trunk`` column names, for each run, the run it branches from (its own id,
or empty, for a run trained from scratch); the checkpoints of a trunk and all its branches
then share one offset (:func:`offset_units`), and a prediction for a held-out branch of a
fitted trunk carries that trunk's offset instead of a new run's.

Runs can also share part of their offset (offset groups, ``fit(..., offset_groups=column)``:
:mod:`bayescale.likelihood`): runs with the same value of a column, such as the runs of one
model size (``"n_params"``), share the law's misfit there, and a new run with a fitted value
is predicted with it (:func:`offset_group_labels`).

A checkpoint part-way through a decaying learning-rate schedule is not a finished run: its
loss sits above that of a run of the same length whose schedule has ended (1–2% in the
multi-power law's public curves), by an amount that depends on how far through its
schedule it is. A law that reads each run's schedule (:class:`bayescale.laws.Conditions`,
such as ``multipower``) models that and fits every checkpoint. Any other law would read
those checkpoints as finished runs, and bend its dependence on D to fit them: on a public
ladder of cosine runs that put the predicted final loss of a larger model 30% too low,
where fitting each run's final checkpoint was within 0.6%. So by default such a law fits
each run's final checkpoint only, and says so (:func:`select_checkpoints`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from bayescale import ranges
from bayescale.errors import InputError, SweepWarning
from bayescale.sweep import Sweep, _rows_text

CURVE_MIN_FRACTION = 0.1
CHECKPOINTS = ("final", "all")
TREND_MIN_RUNS = 5  # below this a correlation across runs says little
TREND_P_VALUE = 0.01  # chance of a warning per axis when offsets do not trend
TREND_MIN_CORRELATION = 0.5  # and only trends strong enough to matter


def is_curves(sweep: Sweep) -> bool:
    """Whether the sweep's fitted points include runs with several checkpoints."""
    return "run" in sweep.frame.columns and bool(sweep.fit_frame["run"].duplicated().any())


def offset_units(frame: pd.DataFrame) -> pd.Series:
    """The label of each row's run offset: its ``run``, or where the frame has a ``trunk``
    column and the row's value is not empty, that trunk (module docstring).

    Raises :class:`~bayescale.errors.InputError` when a run names several trunks, or when
    a trunk's runs differ in model size or group.
    """
    runs = frame["run"].astype(str)
    if "trunk" not in frame.columns:
        return runs
    trunk = frame["trunk"]
    units = runs.where(trunk.isna() | (trunk.astype(str) == ""), trunk.astype(str))
    several = units.groupby(runs).nunique() > 1
    if several.any():
        names = list(several.index[several])
        raise InputError(
            f"column 'trunk' names several trunks for run(s) {_rows_text(names)} (rows "
            f"{_rows_text(frame.index[runs.isin(names)])}): a run branches from one trunk. "
            "Give every row of a run the same trunk."
        )
    for column in ("n_params", "group"):
        if column not in frame.columns:
            continue
        spread = frame[column].groupby(units).nunique() > 1
        if spread.any():
            names = list(spread.index[spread])
            raise InputError(
                f"column 'trunk': the runs of trunk(s) {_rows_text(names)} (rows "
                f"{_rows_text(frame.index[units.isin(names)])}) differ in {column}; a branch "
                f"keeps its trunk's {column}. Correct the trunk column or those rows."
            )
    return units


def offset_group_labels(frame: pd.DataFrame, column: str, units: pd.Series) -> pd.Series:
    """Each row's offset group label: the value of ``column`` as text (a number as
    ``repr(float(value))``, so ``25000000`` and ``2.5e7`` name one group). ``units`` are the
    rows' offset units (:func:`offset_units`), each of which must lie in one group.

    Raises :class:`~bayescale.errors.InputError` when ``column`` is not in ``frame``, has
    missing values, or gives one run (or trunk) several values.
    """
    if column not in frame.columns:
        raise InputError(
            f"offset_groups={column!r} is not a column of the sweep; name one whose value is "
            f"the same for all of a run's checkpoints, such as 'n_params' (columns: "
            f"{list(frame.columns)})."
        )
    values = frame[column]
    if values.isna().any():
        raise InputError(
            f"offset_groups={column!r}: the column is empty in rows "
            f"{_rows_text(frame.index[values.isna()])}; give every row a value."
        )
    numeric = pd.api.types.is_numeric_dtype(values)
    labels = values.map(lambda v: repr(float(v))) if numeric else values.astype(str)
    several = labels.groupby(units).nunique() > 1
    if several.any():
        names = list(several.index[several])
        raise InputError(
            f"offset_groups={column!r}: run(s) {_rows_text(names)} (rows "
            f"{_rows_text(frame.index[units.isin(names)])}) take several values of {column}; "
            "a run lies in one offset group. Name a column that is constant along each run."
        )
    return labels


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


def final_checkpoints(sweep: Sweep) -> Sweep:
    """Exclude every checkpoint but the last (most tokens) of each run, with a
    ``SweepWarning`` that names the problem and the fix."""
    fit = sweep.fit_frame
    last = fit.groupby("run")["n_tokens"].transform("max")
    earlier = fit.index[fit["n_tokens"] < last]
    runs = fit["run"].nunique()
    if {"schedule", "lr"} & set(fit.columns):
        problem = "with learning-rate schedules that this law does not read: it reads"
        fix = "fit a law that reads them (law='multipower' or law='annealing')"
    else:
        problem = "without learning-rate schedules, and this law reads"
        fix = (
            "give each run's schedule (an 'lr' column, or a 'schedule' column of "
            "bs.schedules) and fit law='multipower'"
        )
    warnings.warn(
        f"the sweep holds training curves ({runs} runs, {len(fit)} checkpoints) {problem} "
        "each point as a finished run; a checkpoint part-way through a decaying schedule is "
        "not one (its loss sits above a finished run's), so only each run's final checkpoint "
        f"is fitted: {len(earlier)} row(s) excluded, rows {_rows_text(earlier)}. Fix: {fix}; "
        "or, if every run used a constant learning rate, pass checkpoints='all'.",
        SweepWarning,
        stacklevel=3,
    )
    return sweep.exclude(list(earlier), reason="not a run's final checkpoint")


def select_checkpoints(
    sweep: Sweep, reads_schedules: bool, checkpoints: str | None, min_fraction: float
) -> Sweep:
    """The checkpoints a fit uses (module docstring).

    ``checkpoints``: ``"all"`` fits every checkpoint (less those before ``min_fraction`` of
    their run's tokens, :func:`drop_early_checkpoints`), ``"final"`` each run's last;
    ``None`` means ``"all"`` for a law that reads schedules (``reads_schedules``) and
    ``"final"`` otherwise.
    """
    ranges.SHARE.check(min_fraction, "min_fraction", "min_fraction=0.1")
    if checkpoints is None:
        checkpoints = "all" if reads_schedules else "final"
    if checkpoints not in CHECKPOINTS:
        raise InputError(
            f"checkpoints must be one of {list(CHECKPOINTS)} (or None, chosen by the law), "
            f"got {checkpoints!r}."
        )
    if not is_curves(sweep):
        return sweep
    if checkpoints == "final":
        return final_checkpoints(sweep)
    return drop_early_checkpoints(sweep, min_fraction) if min_fraction > 0 else sweep


def offset_trends(offsets, run_log_n, run_log_d) -> list[str]:
    """Messages for run offsets that trend with log N or log D across runs.

    A run's offset ``δ_r`` is seed luck: independent of its size and length. Offsets that
    trend with either say the law misses how the curves depend on it; the classic cause is
    checkpoints part-way through decaying schedules read as finished runs, where the
    offsets soak up the dependence on N. Per posterior draw, the correlation across runs
    of ``δ_r`` with the run's log N (and with its log D, its final tokens); its posterior
    median ``r`` is tested against no correlation with the t-test of a sample correlation
    over ``R`` runs, ``t = r·sqrt((R − 2)/(1 − r²))`` on ``R − 2`` degrees of freedom.
    It warns when ``p < TREND_P_VALUE`` and ``|r| ≥ TREND_MIN_CORRELATION``, with at least
    ``TREND_MIN_RUNS`` runs. ``offsets`` is ``(chain, draw, run)``.
    """
    offsets = np.asarray(offsets, float)
    runs = offsets.shape[-1]
    if runs < TREND_MIN_RUNS:
        return []
    centred = offsets - offsets.mean(-1, keepdims=True)
    messages = []
    for axis, values in (("model size N", run_log_n), ("tokens D", run_log_d)):
        x = np.asarray(values, float) - np.mean(values)
        if not np.any(x):
            continue
        denom = np.sqrt(np.sum(centred**2, -1) * np.sum(x**2))
        r = float(np.median(np.sum(centred * x, -1) / np.where(denom > 0, denom, np.inf)))
        t = r * np.sqrt((runs - 2) / max(1.0 - r * r, 1e-12))
        p = float(2 * stats.t.sf(abs(t), runs - 2))
        if p >= TREND_P_VALUE or abs(r) < TREND_MIN_CORRELATION:
            continue
        median = np.median(offsets, axis=(0, 1))
        low, high = median[np.argmin(values)], median[np.argmax(values)]
        messages.append(
            f"run offsets trend with {axis}: correlation {r:+.2f} across {runs} runs "
            f"(p = {p:.1g}), median offset {low:+.3f} at the smallest and {high:+.3f} at the "
            "largest (log loss). Offsets should be seed luck, independent of N and D: the law "
            f"misses how these curves depend on {axis.split()[-1]}. If the runs decay their "
            "learning rate, their checkpoints are not finished runs: give each run's schedule "
            "and fit law='multipower', or fit final checkpoints only (checkpoints='final')."
        )
    return messages
