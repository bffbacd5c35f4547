"""Figures of the fitted law and the data it was fitted on.

:func:`plot_fit` and :func:`plot_isoflops` draw the law's bands over the sweep's points,
:func:`plot_ppc` sets the observed losses against the posterior-predictive ones, and
:func:`plot_loss_vs_params` and :func:`plot_frontier` show the law's loss surface and
its compute-optimal allocation. Every curve is computed per posterior draw and drawn
as a band (:mod:`bayescale.plotting.bands`). Each takes a :class:`~bayescale.Stack` as it
takes a posterior: its bands come from the mixed draws, and a title or legend names the
laws it mixes and their weights (:func:`~bayescale.plotting.labels.mixture_words`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from bayescale import ranges
from bayescale.draws import check_ci_prob, eti
from bayescale.plotting.bands import band, band_handle, samples, summary, widest, width_words
from bayescale.plotting.labels import (
    C_LABEL,
    D_LABEL,
    LOSS_LABEL,
    N_LABEL,
    PF_DAY,
    drawn_words,
    fmt_interval,
    group_words,
    pct,
    sci,
)
from bayescale.plotting.points import (
    check_group,
    decades,
    fitted_compute,
    fitted_points,
    isoflop_groups,
    sweep_points,
)
from bayescale.plotting.style import (
    DOUBLE,
    SINGLE,
    colorbar,
    figure_axes,
    legend,
    log_axes,
    log_norm,
    marker,
    paper_style,
)

if TYPE_CHECKING:
    from bayescale.posterior import Posterior

# Reference allocation exponents: N_opt ∝ C^a, D_opt ∝ C^(1 − a).
KAPLAN_EXPONENT = 0.73  # Kaplan et al. 2020, N_opt ∝ C^0.73
CHINCHILLA_EXPONENT = 0.50  # Hoffmann et al. 2022 (Approaches 1 and 2), N_opt ∝ C^0.50


def _loss_draws(post: Posterior, n, d, group: str | None) -> np.ndarray:
    """Per-draw mean loss ``(chain, draw, point)`` of ``group`` at ``(n, d)``, with the law's
    error outside the fitted runs, as :meth:`Posterior.predict_loss` gives it (and
    warns)."""
    return post.predict_loss(n, d, group=group)["loss_mean"].values


def _group_colors(count: int) -> list:
    """One colour a group, for figures that draw every group: matplotlib's ``tab10`` in
    turn."""
    return [plt.get_cmap("tab10")(k % 10) for k in range(count)]


def _titled(ax, post: Posterior, group: str | None) -> None:
    """Name over ``ax`` the group drawn and the laws of a stack, when there are any."""
    words = drawn_words(post, group)
    if words:
        ax.set_title(words)


def plot_fit(
    post: Posterior,
    sweep,
    *,
    compute=None,
    group: str | None = None,
    ax=None,
    ci_prob: float = 0.9,
    isoflop_minima: bool = True,
    cmap: str = "viridis",
):
    """Sweep points and the posterior compute-optimal frontier (Hoffmann et al. 2022, Fig. 2 left).

    Each point of ``sweep`` (a :class:`~bayescale.sweep.Sweep` or a frame with
    ``n_params, n_tokens, loss``) is drawn at ``C = 6ND`` against its loss, coloured by
    model size on a log colourbar; excluded rows are hollow. The frontier is
    ``L*(C) = min_{6ND=C} L(N, D)`` per draw (:meth:`Posterior.optimal`), drawn as the
    median with its ``ci_prob`` band over ``compute`` (FLOPs; default: the sweep's range
    and one decade beyond). When the sweep has iso-FLOP structure and
    ``isoflop_minima``, the lowest measured loss of each budget is marked. A per-group
    posterior needs ``group``: a fitted group (its points and frontier) or ``"new"``
    (every point, and the frontier of an unseen group).

    Parameters
    ----------
    post
        the fitted posterior, or a :class:`~bayescale.Stack` (its mixed draws).
    sweep
        the points: a :class:`~bayescale.sweep.Sweep` or a frame with
        ``n_params, n_tokens, loss``.
    compute
        the frontier's budgets in FLOPs; default the sweep's range and one decade beyond.
    group
        a fitted group or ``"new"``, for a per-group posterior.
    ax
        a matplotlib axis; ``None`` makes a new figure.
    ci_prob
        the probability of the bands.
    isoflop_minima
        mark the lowest measured loss of each iso-FLOP budget.
    cmap
        the colormap of model size.

    Returns
    -------
    tuple
        ``(fig, ax)``.
    """
    ci_prob = check_ci_prob(ci_prob)
    group = check_group(post, group)
    points = sweep_points(sweep, group)
    if compute is None:
        low, high = points["compute"].min(), points["compute"].max()
        compute = np.geomspace(low, 10.0 * high, 200)
    compute = np.sort(np.asarray(compute, dtype=float))
    frontier = post.optimal(compute, group=group)["loss_opt"]

    with paper_style(ax):
        fig, ax = figure_axes(ax, SINGLE)
        norm = log_norm(points["n_params"])
        palette = plt.get_cmap(cmap)
        kept, dropped = points[~points["excluded"]], points[points["excluded"]]
        ax.scatter(
            kept["compute"],
            kept["loss"],
            c=kept["n_params"],
            cmap=palette,
            norm=norm,
            s=9,
            linewidths=0.2,
            edgecolors="white",
            zorder=3,
        )
        handles = [marker("runs", color=palette(0.5), mec="white", mew=0.2)]
        if len(dropped):
            ax.scatter(
                dropped["compute"],
                dropped["loss"],
                facecolors="none",
                edgecolors=palette(norm(dropped["n_params"].to_numpy())),
                s=12,
                linewidths=0.7,
                zorder=3,
            )
            handles.append(marker("excluded from fit", mfc="none", mec=palette(0.5)))
        frontier_handle = band(ax, compute, frontier, ci_prob, color="black", zorder=4)
        end_med, end_low, end_high = (v[-1] for v in summary(frontier, ci_prob))
        handles.append((frontier_handle, f"frontier $L^*(C)$: median, {pct(ci_prob)} band"))
        ax.text(
            0.03,
            0.03,
            f"$L^*$ at {sci(compute[-1])} FLOPs:\n"
            f"{fmt_interval(end_med, end_low, end_high)} nats/token",
            transform=ax.transAxes,
            ha="left",
            va="bottom",
            fontsize="small",
        )
        groups = isoflop_groups(kept) if isoflop_minima else []
        if groups:
            best = [rows[np.argmin(kept["loss"].to_numpy()[rows])] for _, rows in groups]
            ax.scatter(
                kept["compute"].to_numpy()[best],
                kept["loss"].to_numpy()[best],
                marker="*",
                s=40,
                color="tab:red",
                edgecolors="black",
                linewidths=0.3,
                zorder=5,
            )
            handles.append(
                marker(
                    "lowest loss per iso-FLOP budget",
                    marker="*",
                    ms=6,
                    color="tab:red",
                    mec="black",
                    mew=0.3,
                )
            )
        log_axes(ax)
        ax.set_xlabel(C_LABEL)
        ax.set_ylabel(LOSS_LABEL)
        top, floor = points["loss"].max(), min(end_low, points["loss"].min())
        ax.set_ylim(floor - 0.05 * (top - floor), top + 0.05 * (top - floor))
        legend(ax, handles, loc="upper right")
        colorbar(fig, ax, norm, cmap, N_LABEL)
        _titled(ax, post, group)
    return fig, ax


def plot_loss_vs_params(
    post: Posterior,
    budgets=None,
    tokens=None,
    *,
    n_range=None,
    span: float = 30.0,
    group: str | None = None,
    axes=None,
    ci_prob: float = 0.9,
    cmap: str = "plasma",
):
    """Loss against model size at fixed compute (left) and at fixed data (right).

    Like Kaplan et al. 2020 (Fig. 4 and relatives), with bands. Left: one line per
    budget in ``budgets`` (FLOPs; default: decades of PF-days over the fitted range and
    one decade beyond), ``L(N, C/6N)`` for N within ``span``× of the median optimum,
    coloured by PF-days. Right: one line per token count in ``tokens`` (default:
    half-decades over the fitted range), ``L(N, D)`` over ``n_range`` (parameters),
    coloured by D. The right panel fixes tokens rather than optimizer steps: steps are
    tokens divided by the batch size, which a sweep table does not carry.

    Parameters
    ----------
    post
        the fitted posterior, or a :class:`~bayescale.Stack` (its mixed draws).
    budgets
        the left panel's budgets in FLOPs; default decades of PF-days over the fitted
        range and one decade beyond.
    tokens
        the right panel's token counts; default half-decades over the fitted range.
    n_range
        ``(low, high)`` parameters of the right panel; default the fitted sizes, widened
        3× and rounded out to decades.
    span
        the left panel's lines cover N within ``span``× of the median optimum.
    group
        for a per-group posterior, a fitted group or ``"new"`` for an unseen one.
    axes
        two matplotlib axes side by side; ``None`` makes a new figure.
    ci_prob
        the probability of the bands.
    cmap
        the colormap of PF-days and of tokens.

    Returns
    -------
    tuple
        ``(fig, axes)``.
    """
    ci_prob = check_ci_prob(ci_prob)
    group = check_group(post, group)
    n_fit, d_fit, _ = fitted_points(post, group)
    c_low, c_high = fitted_compute(post)
    if budgets is None:
        budgets = PF_DAY * decades(c_low / PF_DAY, 10.0 * c_high / PF_DAY)
    if tokens is None:
        tokens = decades(d_fit.min(), d_fit.max(), step=0.5)
    budgets = np.sort(ranges.as_positive(budgets, "budgets (FLOPs)"))
    tokens = np.sort(ranges.as_positive(tokens, "tokens"))
    if n_range is None:
        n_range = (
            10.0 ** math.floor(math.log10(n_fit.min() / 3)),
            10.0 ** math.ceil(math.log10(n_fit.max() * 3)),
        )
    n_grid = np.geomspace(*n_range, 150)
    n_opt = np.median(samples(post.optimal(budgets, group=group)["n_opt"]), axis=0)

    with paper_style(axes):
        fig, axes = figure_axes(axes, DOUBLE, shape=(2,))
        left, right = axes[0], axes[1]
        palette = plt.get_cmap(cmap)
        pf_norm = log_norm(budgets / PF_DAY)
        width = {"left": 0.0, "right": 0.0}
        for budget, centre in zip(budgets, n_opt, strict=True):
            n = np.geomspace(centre / span, centre * span, 120)
            color = palette(0.85 * pf_norm(budget / PF_DAY))
            loss = _loss_draws(post, n, budget / (6.0 * n), group)
            band(left, n, loss, ci_prob, color=color)
            width["left"] = max(width["left"], widest(loss, ci_prob))
        d_norm = log_norm(tokens)
        for d in tokens:
            color = palette(0.85 * d_norm(d))
            loss = _loss_draws(post, n_grid, d, group)
            band(right, n_grid, loss, ci_prob, color=color)
            width["right"] = max(width["right"], widest(loss, ci_prob))
        words = drawn_words(post, group)
        where = f", {words}" if words else ""
        for panel, side, title in (
            (left, "left", "at fixed compute"),
            (right, "right", "at fixed training tokens"),
        ):
            log_axes(panel)
            panel.set_xlabel(N_LABEL)
            panel.set_ylabel(LOSS_LABEL)
            panel.set_title(
                f"{title}{where}\n(lines: median; {pct(ci_prob)} bands, at most "
                f"{width_words(width[side])} of the loss)"
            )
        clipped = mpl.colors.ListedColormap(palette(np.linspace(0, 0.85, 256)))
        colorbar(fig, left, pf_norm, clipped, "compute $C$ (PF-days)")
        colorbar(fig, right, d_norm, clipped, D_LABEL)
    return fig, axes


def plot_frontier(
    post: Posterior,
    compute=None,
    *,
    anchor: float | None = None,
    group: str | None = None,
    axes=None,
    ci_prob: float = 0.9,
    color: str = "tab:blue",
):
    """Compute-optimal ``N_opt(C)`` (left) and ``D_opt(C)`` (right) with bands.

    For reference, Kaplan et al. 2020's ``N ∝ C^0.73`` (``D ∝ C^0.27``) and Hoffmann et
    al. 2022's ``N, D ∝ C^0.5`` are drawn through the posterior median at ``anchor``. The
    posterior's own exponent (its median and interval, from per-draw slopes) is given in
    the legend; the grey span is the fitted compute range.

    Parameters
    ----------
    post
        the fitted posterior, or a :class:`~bayescale.Stack` (its mixed draws).
    compute
        a grid of budgets in FLOPs; default the fitted range up to 100× its top, where
        :class:`~bayescale.errors.ExtrapolationWarning` would start.
    anchor
        the budget (FLOPs) the reference lines pass through; default the geometric
        middle of the fitted compute.
    group
        for a per-group posterior, a fitted group or ``"new"`` for an unseen one;
        ``None`` draws every group the posterior answers for (``"new"`` too under partial
        pooling), one colour each, with the reference lines through the median of them
        all at ``anchor``.
    axes
        two matplotlib axes side by side; ``None`` makes a new figure.
    ci_prob
        the probability of the bands.
    color
        the colour of the posterior's curves and bands (of one group's: every group
        drawn takes matplotlib's ``tab10`` colours in turn).

    Returns
    -------
    tuple
        ``(fig, axes)``.
    """
    ci_prob = check_ci_prob(ci_prob)
    every = group is None and bool(post.groups_fitted)
    groups = post.groups_answered if every else [check_group(post, group)]
    colors = _group_colors(len(groups)) if every else [color]
    c_low, c_high = fitted_compute(post)
    if compute is None:
        compute = np.geomspace(c_low, 99.0 * c_high, 200)
    compute = np.sort(np.asarray(compute, dtype=float))
    if anchor is None:
        anchor = math.sqrt(c_low * c_high)
    opt = post.optimal(np.append(compute, anchor), group=group).dataset
    log_c = np.log(compute)

    with paper_style(axes):
        fig, axes = figure_axes(axes, DOUBLE, shape=(2,))
        panels = (
            (
                axes[0],
                "n_opt",
                "compute-optimal size $N_{opt}$ (parameters)",
                "N",
                (KAPLAN_EXPONENT, CHINCHILLA_EXPONENT),
            ),
            (
                axes[1],
                "d_opt",
                "compute-optimal data $D_{opt}$ (tokens)",
                "D",
                (1 - KAPLAN_EXPONENT, 1 - CHINCHILLA_EXPONENT),
            ),
        )
        for ax, name, ylabel, symbol, (kaplan, chinchilla) in panels:
            ax.axvspan(c_low, c_high, color="0.92", zorder=0, linewidth=0)
            handles, at_anchor = [], []
            for g, c in zip(groups, colors, strict=True):
                values = (opt[name].sel(group=g) if every else opt[name]).values
                curve = values[..., :-1]
                log_v = np.log(curve)
                slope = samples((log_v[..., -1] - log_v[..., 0]) / (log_c[-1] - log_c[0]))
                s_med, (s_low, s_high) = np.median(slope), eti(slope, ci_prob)
                handle = band(ax, compute, curve, ci_prob, color=c)
                who = g if every else "posterior"
                handles.append(
                    (
                        handle,
                        f"{who}: ${symbol} \\propto C^{{{s_med:.2f}}}$ "
                        f"[{s_low:.2f}, {s_high:.2f}], {pct(ci_prob)}",
                    )
                )
                at_anchor.append(samples(values[..., -1]))
            y0 = float(np.median(np.concatenate(at_anchor)))
            for exponent, style, who in (
                (kaplan, "--", "Kaplan et al. 2020"),
                (chinchilla, ":", "Hoffmann et al. 2022"),
            ):
                handles += ax.plot(
                    compute,
                    y0 * (compute / anchor) ** exponent,
                    color="0.25",
                    ls=style,
                    lw=0.9,
                    label=f"{who}: ${symbol} \\propto C^{{{exponent:.2f}}}$",
                )
            ax.plot([anchor], [y0], "o", color="0.25", ms=3, zorder=5)
            log_axes(ax, x=True, y=True)
            ax.set_xlim(compute[0], compute[-1])
            ax.text(
                math.sqrt(c_low * c_high),
                0.03,
                "fitted range",
                color="0.45",
                ha="center",
                va="bottom",
                fontsize="small",
                transform=ax.get_xaxis_transform(),
            )
            ax.set_xlabel(C_LABEL)
            ax.set_ylabel(ylabel)
            legend(ax, handles, loc="upper left")
            _titled(ax, post, group)
    return fig, axes


def plot_ppc(
    post: Posterior,
    holdout=None,
    *,
    group: str | None = None,
    ax=None,
    ci_prob: float = 0.9,
    seed: int = 0,
):
    """Observed against posterior-predictive loss, with ``ci_prob`` intervals.

    For each fitted point the posterior-predictive loss (law plus noise, per draw) is
    summarised by its median (marker) and interval (error bar); the legend gives the
    share of observed losses inside their interval. On a per-group posterior, each
    fitted point is predicted with its own group's law, one colour per group.

    Parameters
    ----------
    post
        the fitted posterior, or a :class:`~bayescale.Stack` (its mixed draws).
    holdout
        held-out points, predicted the same way: a Sweep or a frame with
        ``n_params, n_tokens, loss``.
    group
        on a per-group posterior, shows one group's points (``"new"``: every point, and
        ``holdout``, predicted as an unseen group); needed with ``holdout``.
    ax
        a matplotlib axis; ``None`` makes a new figure.
    ci_prob
        the probability of the intervals.
    seed
        seeds the posterior-predictive draws.

    Returns
    -------
    tuple
        ``(fig, ax)``.
    """
    ci_prob = check_ci_prob(ci_prob)
    if post.groups_fitted and group is None:
        if holdout is not None:
            check_group(post, group)  # raises: held-out points need a group's law
        sets = [
            (f"fitted, {g}", g, *fitted_points(post, g), c, "o")
            for g, c in zip(post.groups_fitted, _group_colors(len(post.groups_fitted)), strict=True)
        ]
    else:
        group = check_group(post, group)
        where = f" ({group_words(group)})" if group is not None else ""
        sets = [(f"fitted{where}", group, *fitted_points(post, group), "tab:blue", "o")]
    if holdout is not None:
        held = sweep_points(holdout)
        sets.append(
            (
                "held out",
                group,
                held["n_params"].to_numpy(),
                held["n_tokens"].to_numpy(),
                held["loss"].to_numpy(),
                "tab:red",
                "s",
            )
        )

    with paper_style(ax):
        fig, ax = figure_axes(ax, (SINGLE[0], SINGLE[0]))
        lows, highs = [], []
        for name, group_, n_, d_, obs, color, symbol in sets:
            draws = post.predict_loss(n_, d_, group=group_, seed=seed)["loss_predictive"]
            med, low, high = summary(draws, ci_prob)
            inside = np.mean((obs >= low) & (obs <= high))
            ax.errorbar(
                obs,
                med,
                yerr=[med - low, high - med],
                fmt=symbol,
                ms=2.2,
                mew=0,
                color=color,
                ecolor=color,
                elinewidth=0.5,
                alpha=0.8,
                zorder=3,
                label=f"{name}: {len(obs)} points, {100 * inside:.0f}% inside "
                f"their {pct(ci_prob)} interval",
            )
            lows.append(min(obs.min(), low.min()))
            highs.append(max(obs.max(), high.max()))
        lo, hi = min(lows), max(highs)
        pad = 0.04 * (hi - lo)
        ax.plot(
            [lo - pad, hi + pad],
            [lo - pad, hi + pad],
            color="0.4",
            lw=0.7,
            ls="--",
            zorder=1,
            label="$y = x$",
        )
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_aspect("equal")
        ax.set_xlabel("observed loss (nats/token)")
        ax.set_ylabel("posterior-predictive loss (nats/token)")
        ax.legend(loc="upper left")
        _titled(ax, post, None)  # the legend names the groups
    return fig, ax


def plot_isoflops(
    post: Posterior,
    sweep=None,
    budgets=None,
    *,
    span: float = 10.0,
    tol: float = 0.05,
    group: str | None = None,
    ax=None,
    ci_prob: float = 0.9,
    cmap: str = "viridis",
):
    """Iso-FLOP profiles: loss against N at fixed compute, with bands and the optimum.

    Each profile ``L(N, C/6N)`` spans ``span``× either side of the median ``N_opt``
    (widened to cover its data). The optimum of each budget is marked at its median
    ``(N_opt, L*)`` with ``ci_prob`` error bars in both.

    Parameters
    ----------
    post
        the fitted posterior, or a :class:`~bayescale.Stack` (its mixed draws).
    sweep
        points to overlay: its fitted points (excluded rows are left out) within ``tol``
        dex of a budget, in that budget's colour.
    budgets
        in FLOPs; default the sweep's iso-FLOP budgets when it has them, else decades
        over the fitted compute range.
    span
        each profile spans ``span``× either side of the median ``N_opt``.
    tol
        how close (dex of compute) a point must be to a budget to be overlaid.
    group
        for a per-group posterior, a fitted group (its profiles and points) or ``"new"``
        (an unseen group's profiles, over every point).
    ax
        a matplotlib axis; ``None`` makes a new figure.
    ci_prob
        the probability of the bands.
    cmap
        the colormap of budgets.

    Returns
    -------
    tuple
        ``(fig, ax)``.
    """
    ci_prob = check_ci_prob(ci_prob)
    group = check_group(post, group)
    points = sweep_points(sweep, group) if sweep is not None else None
    kept = points[~points["excluded"]] if points is not None else None
    if budgets is None:
        groups = isoflop_groups(kept, tol=tol) if kept is not None else []
        budgets = [budget for budget, _ in groups] if groups else decades(*fitted_compute(post))
    budgets = np.sort(ranges.as_positive(budgets, "budgets (FLOPs)"))
    opt = post.optimal(budgets, group=group).dataset
    n_med, n_low, n_high = summary(opt["n_opt"], ci_prob)
    l_med, l_low, l_high = summary(opt["loss_opt"], ci_prob)

    with paper_style(ax):
        fig, ax = figure_axes(ax, SINGLE)
        norm = log_norm(budgets)
        palette = plt.get_cmap(cmap)
        width = 0.0
        for i, budget in enumerate(budgets):
            color = palette(0.9 * norm(budget))
            low, high = n_med[i] / span, n_med[i] * span
            if kept is not None:
                near = kept[np.abs(np.log10(kept["compute"] / budget)) <= tol]
                if len(near):
                    low = min(low, near["n_params"].min() / 1.2)
                    high = max(high, near["n_params"].max() * 1.2)
                    ax.scatter(
                        near["n_params"],
                        near["loss"],
                        color=color,
                        s=7,
                        edgecolors="black",
                        linewidths=0.25,
                        zorder=4,
                    )
            n = np.geomspace(low, high, 120)
            loss = _loss_draws(post, n, budget / (6.0 * n), group)
            band(ax, n, loss, ci_prob, color=color)
            width = max(width, widest(loss, ci_prob))
            ax.errorbar(
                n_med[i],
                l_med[i],
                xerr=[[n_med[i] - n_low[i]], [n_high[i] - n_med[i]]],
                yerr=[[l_med[i] - l_low[i]], [l_high[i] - l_med[i]]],
                fmt="D",
                ms=3,
                color=color,
                mec="black",
                mew=0.4,
                ecolor="black",
                elinewidth=0.7,
                capsize=1.5,
                zorder=5,
            )
        log_axes(ax)
        ax.set_xlabel(N_LABEL)
        ax.set_ylabel(LOSS_LABEL)
        words = drawn_words(post, group)
        of = f" of {words}" if words else ""
        handles = [
            (
                band_handle("0.3"),
                f"profile{of}: median, {pct(ci_prob)} band (at most {width_words(width)})",
            ),
            marker(
                f"optimum $(N_{{opt}}, L^*)$, {pct(ci_prob)} intervals",
                marker="D",
                mec="black",
                mew=0.4,
            ),
        ]
        if kept is not None:
            handles.append(marker("runs", mec="black", mew=0.3))
        legend(
            ax,
            handles,
            loc="lower left",
            bbox_to_anchor=(0.0, 1.01),
            ncols=2,
            borderaxespad=0.0,
            columnspacing=1.0,
        )
        colorbar(
            fig,
            ax,
            norm,
            mpl.colors.ListedColormap(palette(np.linspace(0, 0.9, 256))),
            "compute $C$ (FLOPs)",
        )
    return fig, ax
