"""Each run's learning-rate schedule, read from a sweep's rows, and the finished run a
sweep implies: what the laws that read schedules (:mod:`bayescale.laws.multipower`,
:mod:`bayescale.laws.annealing`) share.

A sweep gives the schedules with a ``step`` column (the optimiser step of each
checkpoint) and either a ``schedule`` column (the same on every row of a run: the one-line
text of :meth:`Schedule.from_text`, ``cosine:total=24000,peak=3e-4,final=3e-5``, or
``json.dumps(Schedule.to_dict())``) or an ``lr`` column (the learning rate logged at each
checkpoint, read as linear between logged steps and from 0 at step 0, a step of constant
stages at the later logged step, :func:`bayescale.schedules.from_logged`; a fit reads each
run's rates at its excluded checkpoints too). :func:`run_schedules` validates them per run;
:func:`implied_run` picks the schedule family of the law's finished-run form (the one
planning asks), and :func:`finished_run` validates one given by hand.

The law's dependence on the learning rate is tested only over the rates its runs trained
at. :func:`fitted_rates` records them with the fit (the range of the runs' peaks, and the
lowest rate any run reached after its peak), and :func:`warn_if_rates_outside` raises an
:class:`~bayescale.errors.ExtrapolationWarning` for a schedule asked about (a finished run's
family, a predicted curve) whose peak lies more than
:data:`~bayescale.extrapolation.SHAPE_FACTOR` (2×) outside that range, or that decays more
than 2× below that lowest rate, or to 0: a run at a tenth of the fitted peak asks how the
law's sums of rates carry over to other rates, and a decay further down asks its decay
response about rates it never saw. Neither moves the law's extrapolation error
(:mod:`bayescale.discrepancy`), which measures distance in ``N`` and ``D`` only.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pandas as pd

from bayescale.errors import ExtrapolationWarning, InputError, SweepValidationError
from bayescale.extrapolation import SHAPE_FACTOR, number
from bayescale.schedules import Schedule, cosine, from_logged, misplaced_rates
from bayescale.sweep import _rows_text

DEFAULT_TOKENS_PER_STEP = 2.0**19
"""Tokens per optimiser step of the default finished run (0.5M tokens, a common batch)."""
DEFAULT_RUN = {
    "schedule": cosine(24000, 3e-4, 3e-5, warmup=2160).to_dict(),
    "tokens_per_step": DEFAULT_TOKENS_PER_STEP,
}
"""The default finished run of the laws that read schedules: Luo et al. 2025's cosine recipe
(peak 3e-4 to 10% of it, 2,160 warmup steps), stretched to each run's length."""
FAMILY_ORDER = ("cosine", "wsd", "linear", "constant", "piecewise")
"""Ties between schedule kinds in :func:`implied_run` go to the earlier one."""
_TOKENS_RTOL = 1e-3  # token counts in tables are often rounded to 3-4 significant digits


def _runs(frame: pd.DataFrame) -> pd.Series:
    return (
        frame["run"].astype(str) if "run" in frame.columns else frame.index.to_series().astype(str)
    )


def _require(frame: pd.DataFrame, law: str | None) -> None:
    missing = [f"'{c}'" for c in ("step", "n_tokens") if c not in frame.columns]
    if "schedule" not in frame.columns and "lr" not in frame.columns:
        missing.append("'schedule' or 'lr'")
    if missing:
        who = f"law {law!r}" if law else "a law that reads schedules"
        raise SweepValidationError(
            f"{who} reads each checkpoint's learning-rate schedule; the sweep has "
            f"no column {', '.join(missing)}. Give a 'step' column (the "
            "optimiser step of each checkpoint) and either a 'schedule' column (per run, "
            "e.g. cosine:total=24000,peak=3e-4,final=3e-5, or "
            "json.dumps(bs.schedules.cosine(...).to_dict())) or an 'lr' column (the learning "
            "rate logged at each checkpoint)."
        )


def run_schedules(
    frame: pd.DataFrame, law: str | None = None, logged: pd.DataFrame | None = None
) -> dict[str, tuple]:
    """Each run's schedule, validated.

    Parameters
    ----------
    frame
        sweep rows with ``step``, ``n_tokens`` (tokens per step must be constant within a
        run), ``run`` (each row is its own run without it) and either ``schedule`` or
        ``lr`` (module docstring).
    law
        the name of the law that reads them, for error messages.
    logged
        with an ``lr`` column, the rows whose logged rates make up each run's log (default
        ``frame``; :func:`_log`; rows without a valid step or a positive rate are left
        out): a fit passes every row of the sweep, so that checkpoints excluded from
        fitting (the first 10% of a run, say) still give the rates between step 0 and the
        first fitted one, and a branch logged from its branch point on (a ``trunk``
        column) takes its trunk's rates before it.

    Returns
    -------
    ``{run: (schedule, positions, steps, tokens_per_step)}``: the run's
    :class:`~bayescale.schedules.Schedule`, the positions of its rows in ``frame``, their
    steps (int64) and the run's tokens per step. Problems raise
    :class:`~bayescale.errors.SweepValidationError` naming the column, rows and fix.
    """
    _require(frame, law)
    runs = _runs(frame)
    # a schedule column states the runs' schedules: their logged rates go unread
    logs = {} if "schedule" in frame.columns else _logs(frame if logged is None else logged)
    out = {}
    for run, where in pd.Series(np.arange(len(frame)), index=runs.values).groupby(
        level=0, sort=False
    ):
        rows = frame.iloc[where.values]
        labels = rows.index
        step = pd.to_numeric(rows["step"], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(step) | (step < 1) | (np.mod(step, 1) != 0)
        if bad.any():
            raise SweepValidationError(
                f"column 'step' must hold whole numbers >= 1 (optimiser steps); run {run!r} "
                f"has {_rows_text(rows['step'][bad])} in rows {_rows_text(labels[bad])}."
            )
        back = np.flatnonzero(np.diff(step) <= 0) + 1
        if back.size:
            raise SweepValidationError(
                f"column 'step' goes backwards (or repeats) within run {run!r} at rows "
                f"{_rows_text(labels[back])}; sort each run's rows by step and drop "
                "duplicated checkpoints."
            )
        per_step = rows["n_tokens"].to_numpy(float) / step
        off = np.abs(per_step / np.median(per_step) - 1) > _TOKENS_RTOL
        if off.any():
            raise SweepValidationError(
                f"column 'n_tokens' is not a constant number of tokens per step within run "
                f"{run!r} (n_tokens/step = {_rows_text(f'{v:.6g}' for v in per_step[off])} "
                f"in rows {_rows_text(labels[off])}, against {np.median(per_step):.6g}); "
                "the law needs a fixed batch within a run: split the run, or fix "
                "'n_tokens' or 'step'."
            )
        schedule = _schedule(frame, rows, run, logs)
        if step[-1] > schedule.total:
            raise SweepValidationError(
                f"run {run!r}'s schedule ends at step {schedule.total}, before its "
                f"checkpoint at step {int(step[-1])} (row {labels[-1]}); give the schedule "
                "of the whole run (schedule.stretched(total) for a longer one)."
            )
        out[run] = (schedule, where.to_numpy(), step.astype(np.int64), float(np.median(per_step)))
    return out


def _logs(pool: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The rows of ``pool`` with a valid step and a positive ``lr``, by run, each with a
    numeric ``step``; ``{}`` without an ``lr`` column."""
    if "lr" not in pool.columns:
        return {}
    step = pd.to_numeric(pool["step"], errors="coerce")
    lr = pd.to_numeric(pool["lr"], errors="coerce")
    valid = np.isfinite(step) & (step >= 1) & (np.mod(step, 1) == 0) & np.isfinite(lr) & (lr > 0)
    rows = pool[valid].assign(step=step[valid])
    return dict(list(rows.groupby(_runs(pool)[valid].to_numpy(), sort=False)))


def _log(rows: pd.DataFrame, logs: dict, run: str) -> pd.DataFrame:
    """The rows whose ``lr`` values make up one run's log, in step order: its ``rows``; its
    other rows in ``logs`` (:func:`_logs`); and where the run names another run as its
    ``trunk``, that run's rows in ``logs`` before the run's first logged step (a branch
    logged from its branch point on trained under its trunk's rates before it)."""
    own = pd.to_numeric(rows["step"], errors="coerce")
    more = logs.get(run, rows.iloc[:0])
    more = more[~more["step"].isin(own)]
    trunk = rows["trunk"].iloc[0] if "trunk" in rows.columns else None
    if trunk is not None and pd.notna(trunk) and str(trunk) not in ("", run):
        before = logs.get(str(trunk), rows.iloc[:0])
        first = min(own.min(), more["step"].min())  # NaN-safe: a NaN never wins
        more = pd.concat([more, before[before["step"] < first]])
    combined = pd.concat([rows, more])
    return combined.iloc[np.argsort(pd.to_numeric(combined["step"]).to_numpy(), kind="stable")]


def _schedule(frame, rows, run, logs) -> Schedule:
    if "schedule" in frame.columns:
        texts = rows["schedule"].dropna().astype(str).unique()
        if len(texts) != 1 or rows["schedule"].isna().any():
            raise SweepValidationError(
                f"column 'schedule' must hold one schedule per run; run {run!r} has "
                f"{len(texts)} distinct value(s) and {int(rows['schedule'].isna().sum())} "
                f"missing in rows {_rows_text(rows.index)}. Give every row of a run the same "
                "schedule, e.g. cosine:total=24000,peak=3e-4,final=3e-5."
            )
        try:
            return Schedule.from_text(texts[0])
        except InputError as error:
            raise SweepValidationError(
                f"column 'schedule', run {run!r} (rows {_rows_text(rows.index)}): {error}"
            ) from error
    log = _log(rows, logs, run)
    lr = pd.to_numeric(log["lr"], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(lr)
    bad[misplaced_rates(np.where(bad, 1.0, lr), zero_start=False)] = True
    if bad.any():
        raise SweepValidationError(
            f"column 'lr' must hold positive learning rates (0 only after the last positive "
            f"one: a decay to 0); run {run!r} has {_rows_text(log['lr'][bad])} in rows "
            f"{_rows_text(log.index[bad])}. Fix the values, or give the run's schedule in "
            "a 'schedule' column."
        )
    return from_logged(pd.to_numeric(log["step"]).to_numpy(float), lr)


def implied_run(frame: pd.DataFrame, law: str | None = None) -> dict:
    """The finished run a sweep implies, for a law's finished-run form.

    The schedule family its runs used most (ties to the earlier kind of
    :data:`FAMILY_ORDER`; ``piecewise`` stages, which sweeps use to probe a law rather than
    to train, only when no run used another family), as the longest run of that kind
    followed it, and that run's tokens per step. On Luo et al.'s nine runs (two cosine, two
    constant, two WSD, three two-stage) that is their 72,000-step cosine. A sweep whose
    schedules are all arrays (``lr`` columns) implies no family: :data:`DEFAULT_RUN`'s
    cosine family with the sweep's median tokens per step.

    Parameters
    ----------
    frame
        sweep rows, as :func:`run_schedules` reads them.
    law
        the name of the law that reads them, for error messages.

    Returns
    -------
    ``{"schedule": Schedule.to_dict(), "tokens_per_step": float}``.
    """
    runs = list(run_schedules(frame, law).values())
    kinds = Counter(s.kind for s, *_ in runs if s.kind != "array")
    if not kinds:
        per_step = float(np.median([tokens for *_, tokens in runs]))
        return {**DEFAULT_RUN, "tokens_per_step": per_step}
    kind = max(kinds, key=lambda k: (k != "piecewise", kinds[k], -FAMILY_ORDER.index(k)))
    schedule, _, _, tokens = max((r for r in runs if r[0].kind == kind), key=lambda r: r[0].total)
    return {"schedule": schedule.to_dict(), "tokens_per_step": tokens}


def finished_run(
    schedule=None, tokens_per_step: float = DEFAULT_TOKENS_PER_STEP
) -> tuple[Schedule, dict]:
    """A finished-run form's schedule family and settings, validated.

    Parameters
    ----------
    schedule
        a :class:`~bayescale.schedules.Schedule` of a family (not an array) or its
        ``to_dict()``; :data:`DEFAULT_RUN`'s cosine when ``None``.
    tokens_per_step
        tokens per optimiser step, positive.

    Returns
    -------
    The schedule and ``{"schedule": schedule.to_dict(), "tokens_per_step": float}``.
    """
    if schedule is None:
        schedule = DEFAULT_RUN["schedule"]
    if not isinstance(schedule, Schedule):
        schedule = Schedule.from_dict(schedule)
    if schedule.kind == "array":
        raise InputError(
            "the finished-run schedule must be a family (cosine, wsd, linear, constant, "
            "piecewise), not an array."
        )
    if not (isinstance(tokens_per_step, int | float) and tokens_per_step > 0):
        raise InputError(f"tokens_per_step must be a positive number, got {tokens_per_step!r}.")
    return schedule, {"schedule": schedule.to_dict(), "tokens_per_step": float(tokens_per_step)}


def fitted_rates(
    frame: pd.DataFrame, law: str | None = None, logged: pd.DataFrame | None = None
) -> dict:
    """The learning rates the runs of ``frame`` (fitted rows, as :func:`run_schedules`
    reads them, with ``logged``) trained at up to their last checkpoint: ``{"peak_lr":
    (lowest peak, highest peak), "lowest_lr": the lowest rate of any run after its peak}``."""
    peaks, lows = [], []
    for schedule, _, steps, _ in run_schedules(frame, law, logged).values():
        lr = schedule.lr()[: steps[-1] + 1]
        top = int(np.argmax(lr))
        peaks.append(float(lr[top]))
        lows.append(float(lr[top:].min()))
    return {"peak_lr": (min(peaks), max(peaks)), "lowest_lr": min(lows)}


def warn_if_rates_outside(curves, schedule: Schedule, stacklevel: int = 3) -> None:
    """An :class:`~bayescale.errors.ExtrapolationWarning` when ``schedule``'s peak or its
    lowest rate after it lies outside the rates the fit's runs trained at (``curves``, a
    :class:`~bayescale.fitinfo.CurveInfo`; module docstring); nothing for a fit that did
    not record them."""
    if curves.peak_lr is None or curves.lowest_lr is None:
        return
    lr = schedule.lr()
    top = int(np.argmax(lr))
    peak, lowest = float(lr[top]), float(lr[top:].min())
    (low, high), floor = curves.peak_lr, curves.lowest_lr
    phrases = []
    if max(peak / high, low / peak) > SHAPE_FACTOR:
        side, factor = ("above", peak / high) if peak > high else ("below", low / peak)
        fitted = number(low) if low == high else f"{number(low)} to {number(high)}"
        phrases.append(
            f"its peak learning rate {number(peak)} is {number(factor)}× {side} the fitted "
            f"runs' peaks ({fitted})"
        )
    reached = f"the lowest rate the fitted runs reached ({number(floor)})"
    if lowest == 0:
        phrases.append(f"it decays to 0, below {reached}")
    elif floor / lowest > SHAPE_FACTOR:
        phrases.append(f"it decays to {number(lowest)}, {number(floor / lowest)}× below {reached}")
    if phrases:
        warnings.warn(
            f"extrapolating outside the fitted learning rates: the schedule "
            f"{schedule.describe()}: {'; '.join(phrases)}. The law's dependence on the "
            "learning rate there is its form's alone, and the loss intervals do not widen "
            "for it (bayescale.sweep_schedules).",
            ExtrapolationWarning,
            stacklevel=stacklevel,
        )
