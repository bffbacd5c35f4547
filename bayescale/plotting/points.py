"""The points figures show and the ranges they draw over.

Sweep points come from a :class:`~bayescale.sweep.Sweep` or a frame; the points a
posterior was fitted on, and their compute range, come from the posterior itself.
Iso-FLOP budgets are found in the points, since a sweep table does not label them.

A :class:`~bayescale.Stack` gives the points its components share, as a posterior does;
:func:`check_one_law` refuses it where a figure shows one law's own draws.

A per-group posterior draws one group at a time: :func:`check_group` checks the
``group=`` a figure was given, and the points shown are that group's (all of them for
``"new"``, an unseen group drawn from the population).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bayescale.errors import InputError, InputTypeError
from bayescale.sweep import Sweep

if TYPE_CHECKING:
    from bayescale.posterior import Posterior


def check_one_law(post, figure: str, shows: str) -> None:
    """Refuse a :class:`~bayescale.Stack` where ``figure`` shows what only one law has
    (``shows``, in words): the error names the stack's components, one of which to pass."""
    components = getattr(post, "components", None)
    if components is not None:
        labels = list(components)
        raise InputError(
            f"{figure} {shows}, and this stack mixes {len(labels)} laws "
            f"({', '.join(labels)}); pass one component, e.g. "
            f"{figure}(stack.components[{labels[0]!r}], ...)."
        )


def check_group(post: Posterior, group: str | None) -> str | None:
    """``group`` if it names what a figure of ``post`` can draw: nothing for a posterior
    without groups; a fitted group, or ``"new"`` under partial pooling, for a per-group
    one."""
    groups = post.groups_fitted
    if not groups:
        if group is not None:
            raise InputError(
                f"this posterior has no groups (pooling='none'); drop group={group!r}."
            )
        return None
    choices = post.groups_answered
    if group not in choices:
        new = " ('new': an unseen group drawn from the population)" if "new" in choices else ""
        raise InputError(
            f"this posterior is per group: pass group= one of {choices}{new}; got {group!r}."
        )
    return group


def sweep_points(data, group: str | None = None) -> pd.DataFrame:
    """``n_params, n_tokens, loss``, ``excluded`` and ``compute = 6ND`` rows from a Sweep
    or a frame; only the rows of ``group`` when it names one (``"new"``: every row)."""
    frame = data.frame if isinstance(data, Sweep) else data
    if not isinstance(frame, pd.DataFrame):
        raise InputTypeError(
            f"expected a bayescale.Sweep or a pandas DataFrame, got {type(data).__name__}."
        )
    if group not in (None, "new"):
        frame = _group_rows(frame, group)
    missing = [c for c in ("n_params", "n_tokens", "loss") if c not in frame.columns]
    if missing:
        raise InputError(
            f"the points lack column(s) {missing}; they need n_params, n_tokens "
            "and loss (build a bs.Sweep to map your column names)."
        )
    out = frame[["n_params", "n_tokens", "loss"]].astype(float).copy()
    out["excluded"] = frame["excluded"].astype(bool) if "excluded" in frame else False
    out["compute"] = 6.0 * out["n_params"] * out["n_tokens"]
    return out


def _group_rows(frame: pd.DataFrame, group: str) -> pd.DataFrame:
    """The rows of ``frame`` whose ``group`` column holds ``group``."""
    if "group" not in frame.columns:
        raise InputError(
            f"the sweep has no group column, so its points of group {group!r} cannot be "
            "told apart; pass the sweep the posterior was fitted to and name its group "
            "column (in Python the group argument of bs.read_sweep or bs.Sweep.from_frame, "
            "on the command line --group-column)."
        )
    labels = frame["group"].astype(str)
    if not (labels == group).any():
        raise InputError(
            f"the sweep has no rows of group {group!r}; its groups are "
            f"{sorted(labels.unique())}. Pass the sweep the posterior was fitted to."
        )
    return frame[labels == group]


def isoflop_groups(
    points: pd.DataFrame, tol: float = 0.05, min_points: int = 5, min_span: float = 3.0
) -> list[tuple[float, np.ndarray]]:
    """Find iso-FLOP budgets in a sweep: sets of at least ``min_points`` points whose
    compute lies within ``tol`` dex of a common centre and whose sizes span at least
    ``min_span``×. Returns ``(budget in FLOPs, row positions)`` sorted by budget.

    Greedy: take the compute with the most neighbours within ``tol`` dex, recentre on
    their median, claim the points, repeat.
    """
    log_c = np.log10(points["compute"].to_numpy(float))
    log_n = np.log10(points["n_params"].to_numpy(float))
    free = np.ones(log_c.size, dtype=bool)
    groups = []
    while free.sum() >= min_points:
        near = np.abs(log_c[:, None] - log_c[None, :]) <= tol
        counts = (near & free[None, :]).sum(axis=1) * free
        best = int(np.argmax(counts))
        if counts[best] < min_points:
            break
        centre = np.median(log_c[near[best] & free])
        members = free & (np.abs(log_c - centre) <= tol)
        free &= ~members
        rows = np.flatnonzero(members)
        if rows.size >= min_points and np.ptp(log_n[rows]) >= math.log10(min_span):
            groups.append((10.0 ** np.median(log_c[rows]), rows))
    return sorted(groups, key=lambda group: group[0])


def decades(low: float, high: float, step: float = 1.0) -> np.ndarray:
    """Powers of ten (every ``step`` decades) from ``low`` to ``high``, at least two."""
    first, last = math.ceil(math.log10(low)), math.floor(math.log10(high))
    values = 10.0 ** np.arange(first, last + 1e-9, step)
    return values if values.size >= 2 else np.geomspace(low, high, 3)


def fitted_compute(post: Posterior) -> tuple[float, float]:
    """The lowest and highest compute ``6ND`` (FLOPs) among the fitted points."""
    low, high = post.info.data.log_compute_range
    return math.exp(low), math.exp(high)


def fitted_points(
    post: Posterior, group: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, D, loss)`` of the points the posterior was fitted on: those of ``group`` when
    it names a fitted group, all of them otherwise."""
    const = post.groups["constant_data"]
    rows = slice(None)
    if group not in (None, "new"):
        rows = const["group"].values == post.groups_fitted.index(group)
    log_n, log_d = const["log_n"].values[rows], const["log_d"].values[rows]
    log_loss = post.groups["observed_data"]["log_loss"].values[rows]
    return np.exp(log_n), np.exp(log_d), np.exp(log_loss)
