"""Figures for planning a run: what choosing a size other than the optimum costs."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np

from bayescale import ranges
from bayescale.draws import SAMPLE_DIMS, check_ci_prob, eti
from bayescale.errors import InputError, PlanningWarning
from bayescale.plotting.bands import band, samples, summary
from bayescale.plotting.labels import drawn_words, fmt_interval, pct, sci
from bayescale.plotting.points import check_group
from bayescale.plotting.style import DOUBLE, figure_axes, legend, log_axes, paper_style

if TYPE_CHECKING:
    from bayescale.posterior import Posterior


def plot_excess_compute(
    post: Posterior,
    budget: float,
    ratios=None,
    *,
    group: str | None = None,
    tolerance: float = 0.2,
    axes=None,
    ci_prob: float = 0.9,
    color: str = "tab:blue",
):
    r"""Excess compute (left) and excess tokens (right) of a model that is not the
    compute-optimal size (Kaplan et al. 2020, Fig. 12), with bands.

    At ``budget`` with optimal loss ``L*``, a model of ``N = x·N_opt`` must train on
    ``D_x`` tokens to reach ``L*``; left is ``C/C_opt = x·D_x/D_opt`` (linear axis), right
    ``D_x/D_opt`` (tokens, or optimizer steps at a fixed batch size; log axis), both per draw
    (:meth:`Posterior.excess_compute`). Sizes too small to ever reach ``L*`` have infinite
    ratios; a ratio is drawn only where fewer than ``(1 − ci_prob)/2`` of the draws are
    infinite (so its whole band is finite), the rest of the axis is hatched and the
    legend says so. The shaded span is the range of sizes within ``1 + tolerance`` of
    optimal compute (:meth:`Posterior.efficient_range`): between the medians of its ends,
    darker where each end's ``ci_prob`` interval lies; the text gives both ends.

    Parameters
    ----------
    post
        the fitted posterior, or a :class:`~bayescale.Stack` (its mixed draws; the titles
        name its laws and weights).
    budget
        the compute budget in FLOPs.
    ratios
        the sizes ``x = N / N_opt`` drawn; default 80 log-spaced in [0.1, 10].
    group
        a group of a per-group fit, or ``"new"`` for an unseen one.
    tolerance
        the extra compute of the shaded efficient range (0.2: within +20%).
    axes
        two matplotlib axes side by side; ``None`` makes a new figure.
    ci_prob
        the probability of the bands.
    color
        the colour of the curves and bands.

    Returns
    -------
    tuple
        ``(fig, axes)``.
    """
    ci_prob = check_ci_prob(ci_prob)
    group = check_group(post, group)
    if not tolerance > 0:
        raise InputError(f"tolerance must be positive (0.2 means +20% compute), got {tolerance!r}.")
    ratios = np.sort(
        ranges.as_positive(
            np.geomspace(0.1, 10.0, 80) if ratios is None else ratios, "ratios (N / N_opt)"
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlanningWarning)  # inf ratios: left out below, and said
        excess = post.excess_compute(ratios, budget, group=group).dataset
    span = post.efficient_range(budget, tolerance, group=group).dataset
    limit = 1.0 + tolerance
    within = f"+{100 * tolerance:g}%"

    compute = excess["compute_ratio"].transpose(*SAMPLE_DIMS, "ratio").values
    tokens = excess["tokens_ratio"].transpose(*SAMPLE_DIMS, "ratio").values
    never = np.isinf(samples(tokens)).mean(axis=0)
    keep = np.isfinite(summary(tokens, ci_prob)[2]) & np.isfinite(summary(compute, ci_prob)[2])
    if not keep.any():
        raise InputError(
            f"no size in ratios {ratios.min():g}–{ratios.max():g}× N_opt reaches "
            f"the optimal loss at {budget:.3g} FLOPs in enough draws to draw a "
            "band; widen ratios towards larger sizes."
        )
    x = ratios[keep]
    ends = {}
    for end in ("low", "high"):
        values = samples(span[end])
        values = values[np.isfinite(values)]
        ends[end] = (float(np.median(values)), *(float(v) for v in eti(values, ci_prob)))

    with paper_style(axes):
        fig, axes = figure_axes(axes, DOUBLE, shape=(2,))
        left, right = axes[0], axes[1]
        shade = mpl.colors.to_rgba(color, 0.10)
        edge = mpl.colors.to_rgba(color, 0.28)
        for ax in (left, right):
            ax.axvspan(ends["low"][0], ends["high"][0], color=shade, linewidth=0, zorder=0)
            for end in ("low", "high"):
                ax.axvspan(ends[end][1], ends[end][2], color=edge, linewidth=0, zorder=0)
            ax.axvline(1.0, color="0.5", lw=0.6, ls=":", zorder=1)
            if not keep.all():
                ax.axvspan(
                    ratios[0],
                    x[0],
                    facecolor="none",
                    edgecolor="0.75",
                    hatch="////",
                    linewidth=0,
                    zorder=0,
                )
        compute, tokens = compute[..., keep], tokens[..., keep]
        handle = band(left, x, compute, ci_prob, color=color, zorder=3)
        band(right, x, tokens, ci_prob, color=color, zorder=3)
        left.axhline(limit, color="0.3", lw=0.8, ls="--", zorder=2)
        right.axhline(1.0, color="0.5", lw=0.6, ls=":", zorder=1)

        left.text(
            0.97,
            0.97,
            f"sizes within {within} compute, $N/N_{{opt}}$:\n"
            f"from {fmt_interval(*ends['low'])}×\nto {fmt_interval(*ends['high'])}×",
            transform=left.transAxes,
            ha="right",
            va="top",
            fontsize="small",
            bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "none", "alpha": 0.85},
        )

        handles = [
            (handle, f"median, {pct(ci_prob)} band"),
            (
                mpl.lines.Line2D([], [], color="0.3", lw=0.8, ls="--"),
                f"$C/C_{{opt}} = {limit:g}$ ({within} compute)",
            ),
            (
                mpl.patches.Patch(color=shade, linewidth=0),
                (
                    f"sizes within {within} compute (median range;\n"
                    f"darker: {pct(ci_prob)} intervals of its ends)"
                ),
            ),
        ]
        if not keep.all():
            share = never[~keep].min()
            handles.append(
                (
                    mpl.patches.Patch(
                        facecolor="none", edgecolor="0.75", hatch="////", linewidth=0
                    ),
                    (
                        f"left out: $N < {x[0]:.2g}\\,N_{{opt}}$ never reaches\n"
                        f"$L^*$ in ≥ {100 * share:.0f}% of draws"
                    ),
                )
            )
        ylim_top = max(float(summary(compute, ci_prob)[2][-1]) * 1.15, limit + 0.5)
        left.set_ylim(0.9, min(ylim_top, 4.5))
        right_low = float(summary(tokens, ci_prob)[1].min())
        right.set_ylim(right_low / 1.5, max(100.0, right_low * 1e3))
        for ax in (left, right):
            log_axes(ax)
            ax.set_xlim(ratios[0], ratios[-1])
            ax.set_xlabel("model size relative to optimal, $N/N_{opt}$")
            ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}×"))
        right.set_yscale("log")
        left.set_ylabel("excess compute $C/C_{opt}$")
        right.set_ylabel("excess tokens $D/D_{opt}$ (= steps at fixed batch)")
        words = drawn_words(post, group)
        where = f", {words}" if words else ""
        for ax, what in ((left, "compute"), (right, "tokens")):
            ax.set_title(f"{what} to reach $L^*$ of $C_{{opt}}$ = {sci(budget)} FLOPs{where}")
        legend(right, handles, loc="upper right", frameon=True, framealpha=0.9, edgecolor="none")
    return fig, axes
