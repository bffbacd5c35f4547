"""The figure of :func:`bayescale.suggest_runs`: which runs to train next."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
import pandas as pd

from bayescale.draws import check_ci_prob, eti
from bayescale.errors import ExtrapolationWarning, InputError, InputTypeError
from bayescale.plotting.labels import D_LABEL, N_LABEL, drawn_words, pct, sci
from bayescale.plotting.points import fitted_points
from bayescale.plotting.style import (
    SINGLE,
    colorbar,
    figure_axes,
    legend,
    log_axes,
    marker,
    paper_style,
)

if TYPE_CHECKING:
    from bayescale.posterior import Posterior

COLUMNS = ("n_params", "n_tokens", "gain_per_cost", "rank")


def plot_suggestions(
    post: Posterior,
    result: pd.DataFrame,
    *,
    ax=None,
    ci_prob: float = 0.9,
    cmap: str = "viridis",
):
    """Candidate runs in ``(N, D)``, log-log, coloured by expected gain per unit of cost,
    with the fitted runs, the chosen runs (ringed and numbered by rank) and the target.

    Candidates whose gain is not positive are grey. The target is drawn as
    :func:`~bayescale.suggest_runs` read it: for ``"n_opt"``, the iso-FLOP line of the
    budget with the ``ci_prob`` equal-tailed interval of ``N_opt`` over the draws along it
    (thick) and its median (a diamond); for ``"loss"`` and ``"region"``, the planned
    points (stars).

    Parameters
    ----------
    post
        the posterior or :class:`~bayescale.Stack` the suggestions were made for.
    result
        the frame :func:`bayescale.suggest_runs` returned for ``post``.
    ax
        a matplotlib axis; ``None`` makes a new figure.
    ci_prob
        the probability of the ``N_opt`` interval.
    cmap
        the colormap of gain per unit of cost.

    Returns
    -------
    tuple
        ``(fig, ax)``.
    """
    ci_prob = check_ci_prob(ci_prob)
    if not isinstance(result, pd.DataFrame):
        raise InputTypeError(
            f"result must be the frame bs.suggest_runs returned, got {type(result).__name__}."
        )
    missing = [c for c in COLUMNS if c not in result.columns]
    if missing or "target" not in result.attrs:
        raise InputError(
            f"result lacks {missing or 'its attrs'}: pass the frame bs.suggest_runs "
            "returned, unchanged (result = bs.suggest_runs(post, ...))."
        )
    attrs = result.attrs
    n, d = result["n_params"].to_numpy(float), result["n_tokens"].to_numpy(float)
    per_cost = result["gain_per_cost"].to_numpy(float)
    positive = per_cost > 0
    chosen = result[result["rank"].notna()].sort_values("rank")
    fit_n, fit_d, _ = fitted_points(post, attrs.get("group"))

    with paper_style(ax):
        fig, ax = figure_axes(ax, (SINGLE[0] + 0.5, SINGLE[1] + 0.4))
        log_axes(ax, x=True, y=True)
        handles = []
        if (~positive).any():
            ax.scatter(n[~positive], d[~positive], s=6, color="0.85", lw=0, zorder=1)
            handles.append(marker("candidates, no gain", color="0.8", ms=3))
        norm = None
        if positive.any():
            norm = mpl.colors.LogNorm(per_cost[positive].min(), per_cost[positive].max())
            if norm.vmin == norm.vmax:
                norm = mpl.colors.LogNorm(norm.vmin / 2, norm.vmax * 2)
            order = np.argsort(per_cost[positive])
            ax.scatter(
                n[positive][order],
                d[positive][order],
                c=per_cost[positive][order],
                cmap=cmap,
                norm=norm,
                s=9,
                lw=0,
                zorder=2,
            )
            handles.append(marker("candidates", color=mpl.colormaps[cmap](0.6), ms=3))
        ax.scatter(fit_n, fit_d, s=5, color="black", marker="x", lw=0.6, zorder=3)
        handles.append(marker("fitted runs", color="black", marker="x", ms=3, mew=0.6))
        ax.scatter(
            chosen["n_params"],
            chosen["n_tokens"],
            s=60,
            facecolor="none",
            edgecolor="tab:red",
            lw=1.0,
            zorder=5,
        )
        for row in chosen.itertuples():
            ax.annotate(
                str(int(row.rank)),
                (row.n_params, row.n_tokens),
                xytext=(4, 4),
                textcoords="offset points",
                color="tab:red",
                fontsize="small",
                fontweight="bold",
                zorder=6,
            )
        handles.append(marker("chosen (rank)", color="tab:red", mfc="none", ms=6, mew=1.0))
        handles += _target(ax, post, attrs, ci_prob, n, d, fit_n, fit_d)
        if norm is not None:
            colorbar(fig, ax, norm, cmap, "expected variance reduction per unit cost")
        ax.set_xlabel(N_LABEL)
        ax.set_ylabel(D_LABEL)
        what = (
            f"$\\log N_{{opt}}$ at {sci(attrs['budget'])} FLOPs"
            if attrs["target"] == "n_opt"
            else "log loss of the planned run"
            if attrs["target"] == "loss"
            else "log loss over the region"
        )
        words = drawn_words(post, attrs.get("group"))
        ax.set_title(f"next runs for {what}" + (f"\n{words}" if words else ""))
        legend(ax, handles, loc="upper right", frameon=True, framealpha=0.9, edgecolor="none")
    return fig, ax


def _target(ax, post, attrs, ci_prob, n, d, fit_n, fit_d) -> list:
    """Draw the target; return its legend handles."""
    if attrs["target"] == "n_opt":
        budget = attrs["budget"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExtrapolationWarning)  # suggest_runs warned
            n_opt = post.optimal(budget, group=attrs.get("group"))["n_opt"].values.ravel()
        n_opt = n_opt[np.isfinite(n_opt)]
        low, high = eti(n_opt, ci_prob)
        median = float(np.median(n_opt))
        span = np.geomspace(min(n.min(), fit_n.min(), low), max(n.max(), fit_n.max(), high), 50)
        ax.plot(span, budget / (6 * span), color="0.4", lw=0.6, ls="--", zorder=1)
        band = np.geomspace(low, high, 20)
        ax.plot(band, budget / (6 * band), color="tab:orange", lw=3.0, alpha=0.8, zorder=4)
        ax.plot(median, budget / (6 * median), "D", color="tab:orange", ms=4, zorder=4)
        return [
            (
                mpl.lines.Line2D([], [], color="tab:orange", lw=3.0, alpha=0.8),
                f"$N_{{opt}}$, {pct(ci_prob)} interval, on $C$ = {sci(budget)}",
            )
        ]
    at = attrs["at"]
    ax.plot(at["n_params"], at["n_tokens"], "*", color="tab:orange", ms=7, zorder=4)
    label = "planned run" if attrs["target"] == "loss" else "target region"
    return [marker(label, color="tab:orange", marker="*", ms=6)]
