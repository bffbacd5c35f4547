"""Which rows of a sweep train, which are held out, and which are scored: the splits of
:func:`bayescale.backtest`, of leave-future-out (:mod:`bayescale.evaluation.lfo`) and of the
split-conformal baseline (:mod:`bayescale.evaluation.conformal`).

Each run gets a key, its final training compute ``C = 6·N·D`` (``split="compute"``) or
its model size ``N`` (``split="n_params"``). Runs whose key is at or below the cut train;
the cut is a quantile ``frac`` of the runs' keys (default :data:`DEFAULT_FRAC`) or a given
``threshold``; ``split`` can also be a boolean mask over ``sweep.frame`` (True = train). A
run is never split: for training curves every checkpoint of a run goes with it. Held-out
training curves are scored at each run's final checkpoint (:func:`scored_rows`): a
finished run is what a plan asks about, and a run's many correlated checkpoints would
otherwise count many times.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from bayescale.curves import final_checkpoints, is_curves
from bayescale.errors import InputError, InputTypeError, SweepWarning
from bayescale.sweep import Sweep

SPLITS = ("compute", "n_params")
DEFAULT_FRAC = 0.75


def _run_keys(frame: pd.DataFrame) -> pd.Series:
    """Run id per row: the ``run`` column, or the row itself when there is none."""
    if "run" in frame.columns:
        return frame["run"].astype(str)
    return pd.Series([f"row {i}" for i in frame.index], index=frame.index)


def train_mask(
    sweep: Sweep, split="compute", frac: float | None = None, threshold: float | None = None
) -> pd.Series:
    """Which fitted rows of ``sweep`` train (True) and which are held out (False).

    Indexed like ``sweep.fit_frame``. See the module docstring for the rules; errors say
    what was wrong and how to fix it.
    """
    if not isinstance(sweep, Sweep):
        raise InputTypeError(
            f"backtest expects a bayescale.Sweep, got {type(sweep).__name__}; "
            "build one with bs.Sweep.from_frame(df, ...) or bs.load_dataset(name)."
        )
    frame = sweep.fit_frame
    runs = _run_keys(frame)
    if not isinstance(split, str):
        if frac is not None or threshold is not None:
            raise InputError(
                "frac= and threshold= apply to split='compute' or 'n_params'; "
                "a mask split already says which rows train."
            )
        mask = _as_mask(sweep, split).loc[frame.index]
        mixed = mask.groupby(runs).nunique()
        mixed = sorted(mixed.index[mixed > 1])
        if mixed:
            raise InputError(
                f"the split mask puts checkpoints of {len(mixed)} run(s) on both sides "
                f"(e.g. {mixed[:3]}); a run must train or be held out as a whole. Mark every "
                "row of a run the same way."
            )
    else:
        if split not in SPLITS:
            raise InputError(
                f"unknown split {split!r}; choose one of {list(SPLITS)} or pass a "
                "boolean mask over sweep.frame (True = train)."
            )
        if frac is not None and threshold is not None:
            raise InputError(
                f"give frac= or threshold=, not both (got frac={frac!r}, threshold={threshold!r})."
            )
        if threshold is None:
            frac = DEFAULT_FRAC if frac is None else frac
            if not (isinstance(frac, (int, float)) and 0.0 < frac < 1.0):
                raise InputError(
                    f"frac must lie in (0, 1), got {frac!r}; e.g. frac=0.75 trains "
                    "on the runs up to the 75% quantile of run size."
                )
        elif not (isinstance(threshold, (int, float)) and np.isfinite(threshold) and threshold > 0):
            unit = "FLOPs" if split == "compute" else "parameters"
            raise InputError(f"threshold must be a positive number of {unit}, got {threshold!r}.")
        value = (
            6.0 * frame["n_params"] * frame["n_tokens"] if split == "compute" else frame["n_params"]
        )
        key = value.groupby(runs).transform("max")
        per_run = key.groupby(runs).first()
        cut = float(np.quantile(per_run, frac)) if threshold is None else float(threshold)
        mask = key <= cut
        unit = "FLOPs" if split == "compute" else "parameters"
        if not mask.any():
            raise InputError(
                f"the {split} split at {cut:.4g} {unit} leaves no training runs "
                f"(the smallest run has {per_run.min():.4g}); raise the cut."
            )
        if mask.all():
            raise InputError(
                f"the {split} split at {cut:.4g} {unit} holds out no runs (the "
                f"largest run has {per_run.max():.4g}); lower the cut."
            )
    if not mask.any() or mask.all():
        raise InputError(
            "the split mask must mark some fitted rows True (train) and some "
            f"False (held out); it has {int(mask.sum())} of {len(mask)} True."
        )
    return mask.astype(bool).rename("train")


def _as_mask(sweep: Sweep, split) -> pd.Series:
    if isinstance(split, pd.Series):
        if split.dtype != bool:
            raise InputError(f"a split mask must be boolean, got dtype {split.dtype}.")
        missing = sweep.fit_frame.index.difference(split.index)
        if len(missing):
            raise InputError(
                f"the split mask lacks {len(missing)} fitted row(s) of the sweep "
                f"(e.g. {list(missing[:3])}); index it like sweep.frame."
            )
        return split
    values = np.asarray(split)
    if values.dtype != bool or values.shape != (len(sweep.frame),):
        raise InputError(
            f"split must be one of {list(SPLITS)} or a boolean mask with one entry "
            f"per row of sweep.frame ({len(sweep.frame)}); got "
            f"{type(split).__name__} of shape {values.shape}, dtype {values.dtype}."
        )
    return pd.Series(values, index=sweep.frame.index)


def scored_rows(sweep: Sweep) -> pd.Index:
    """The rows that can be scored: every fitted row, or for training curves each run's
    final checkpoint (:func:`bayescale.evaluation.lfo` explains why)."""
    if not is_curves(sweep):
        return sweep.fit_frame.index
    with warnings.catch_warnings():  # documented: the scored points are final checkpoints
        warnings.simplefilter("ignore", SweepWarning)
        return final_checkpoints(sweep).fit_frame.index
