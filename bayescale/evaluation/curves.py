"""Scoring predicted training curves: held-out checkpoints against the posterior.

For a law that reads learning-rate schedules, :func:`score_curves` predicts each held-out
checkpoint under its own run's schedule (the rows' columns, as a sweep holds them) and
scores, per group: the mean and the worst relative error of the posterior median,
``|median / L − 1|``, and the share of checkpoints inside the central predictive interval
(the law, its error outside the fitted runs and a new run's noise:
:meth:`bayescale.likelihood.NoiseDraws.predictive`). A checkpoint of a fitted run, or of a
branch of a fitted trunk (:func:`bayescale.curves.offset_units`), is predicted with that
run's offset draws and a checkpoint's own noise instead, and a checkpoint of a new run in a
fitted offset group (:mod:`bayescale.likelihood`) with that group's shared offset and a new
run's own (:meth:`bayescale.Posterior.new_run_offset`). This is how Luo et al. 2025 score
the multi-power law: fit some schedules, predict the others.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayescale import planning
from bayescale.curves import offset_group_labels, offset_units
from bayescale.draws import check_ci_prob
from bayescale.errors import InputError
from bayescale.sweep import _rows_text


def score_curves(
    post, frame: pd.DataFrame, ci_prob: float = 0.9, seed: int = 0, logged=None
) -> pd.DataFrame:
    """Per group of ``frame`` (its ``group`` column; one row ``"all"`` without one) and
    overall: ``points``, ``mean_rel_error``, ``worst_rel_error`` and ``coverage`` of the
    ``ci_prob`` predictive interval (module docstring). ``frame`` holds held-out rows of a
    sweep (``n_params``, ``n_tokens``, ``loss`` and what the law reads: ``run``, ``step``,
    ``schedule`` or ``lr``); of a per-group fit, each row is predicted with its group's
    parameters (``group`` as :meth:`bayescale.Posterior.theta` takes it). With an ``lr``
    column, ``logged`` (such as the whole sweep's frame) adds the rates logged at a run's
    other rows, or its trunk's before it (:func:`bayescale.sweep_schedules.run_schedules`):
    held-out later checkpoints of a fitted run need the rates of its earlier ones, and
    without ``logged`` such rows are refused (:class:`~bayescale.errors.InputError`)."""
    ci_prob = check_ci_prob(ci_prob)
    law = post.law
    if law.conditions is None or not law.conditions.reads_schedules:
        raise InputError(
            f"the {law.name} law reads no schedules, so it cannot predict checkpoints of "
            "held-out curves; fit a law that reads them: 'multipower' or 'annealing'."
        )
    missing = [c for c in ("n_params", "n_tokens", "loss") if c not in frame.columns]
    if missing:
        raise InputError(f"score_curves needs the columns {missing} in frame.")
    groups = post.groups_fitted
    if groups and "group" not in frame.columns:
        raise InputError(
            "this posterior is per group: frame needs a 'group' column naming each row's "
            f"group, one of {groups} (or 'new' for an unseen one)."
        )
    if logged is None:
        _check_logged(post, frame)
    labels = frame["group"].astype(str).to_numpy() if groups else np.full(len(frame), "")
    offsets = _offsets(post, frame, seed)
    known = np.array([offset is not None for offset in offsets])
    mean = np.empty((post.posterior.sizes["chain"] * post.posterior.sizes["draw"], len(frame)))
    predictive = np.empty_like(mean)
    for label, of_fitted_run in sorted(set(zip(labels, known, strict=True))):
        rows = np.flatnonzero((labels == label) & (known == of_fitted_run))
        part = frame.iloc[rows]
        draws = planning.predict_loss(
            law,
            post.theta(label or None, seed=seed),
            part["n_params"].to_numpy(float),
            part["n_tokens"].to_numpy(float),
            post.noise(),
            post.discrepancy(),
            seed=seed,
            inputs=law.conditions.inputs(part, **({} if logged is None else {"logged": logged})),
            offsets=np.stack([offsets[i] for i in rows], -1) if of_fitted_run else None,
        )
        mean[:, rows] = draws["loss_mean"].values.reshape(-1, len(rows))
        predictive[:, rows] = draws["loss_predictive"].values.reshape(-1, len(rows))
    low, high = np.quantile(predictive, [(1 - ci_prob) / 2, (1 + ci_prob) / 2], axis=0)
    loss = frame["loss"].to_numpy(float)
    scored = pd.DataFrame(
        {
            "group": frame["group"].astype(str).values if "group" in frame else "all",
            "rel_error": np.abs(np.median(mean, axis=0) / loss - 1),
            "covered": (low <= loss) & (loss <= high),
        }
    )
    table = scored.groupby("group", sort=False).agg(
        points=("rel_error", "size"),
        mean_rel_error=("rel_error", "mean"),
        worst_rel_error=("rel_error", "max"),
        coverage=("covered", "mean"),
    )
    if len(table) > 1:
        table.loc["all"] = [
            len(scored),
            scored["rel_error"].mean(),
            scored["rel_error"].max(),
            scored["covered"].mean(),
        ]
    return table.assign(points=table["points"].astype(int))


def _check_logged(post, frame: pd.DataFrame) -> None:
    """Refuse rows read from an ``lr`` column alone that continue a fitted run (or branch
    from a fitted trunk) after its first fitted checkpoint: the rates logged before them
    are not in ``frame``, so the run would seem to warm up from 0 at step 0 to its first
    row here."""
    if "schedule" in frame.columns or "lr" not in frame.columns or "run" not in frame.columns:
        return
    constant = post.groups["constant_data"]
    if "run" not in constant or "run" not in post.posterior.coords:
        return
    names = post.posterior["run"].values[constant["run"].values]
    fitted = pd.Series(np.exp(constant["log_d"].values)).groupby(names).min()
    units = offset_units(frame)
    first = frame["n_tokens"].groupby(units).min()
    # exp(log D) returns D to a few float64 ulps; 1e-9 is far above them and far below
    # the spacing of any two checkpoints
    late = [u for u in first.index if u in fitted.index and first[u] > fitted[u] * (1 + 1e-9)]
    if late:
        rows = frame.index[units.isin(late)]
        raise InputError(
            f"frame's rows of run(s) {_rows_text(late)} (rows {_rows_text(rows)}) come after "
            "checkpoints the posterior was fitted to, and its lr column alone does not hold "
            "the rates logged there: each such run would be read as warming up from 0 at "
            "step 0 to its first row here. Pass the rows its rates were logged at too, as "
            "the fit read them: logged=sweep.frame."
        )


def _offsets(post, frame: pd.DataFrame, seed: int) -> list:
    """Per row of ``frame``, the draws of the offset it is predicted with, ``(chain, draw)``:
    its fitted run's (or trunk's), or for a new run in a fitted offset group that group's
    shared offset and the run's own, drawn once per run; None for a new run otherwise."""
    out = [None] * len(frame)
    if "run_offset" not in post.posterior or "run" not in frame.columns:
        return out
    units = offset_units(frame)
    fitted = set(post.posterior["run"].values)
    column = post.info.curves.offset_groups
    shared = set(post.posterior["offset_group"].values) if column else set()
    groups = offset_group_labels(frame, column, units) if column else None
    for i, unit in enumerate(units.unique()):
        rows = np.flatnonzero(units.to_numpy() == unit)
        if unit in fitted:
            draws = post.run_offset(unit)
        elif groups is not None and groups.iloc[rows[0]] in shared:
            draws = post.new_run_offset(groups.iloc[rows[0]], seed=[seed, i])
        else:
            continue
        for row in rows:
            out[row] = draws
    return out
