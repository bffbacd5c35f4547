"""Figures comparing two training plans: two model sizes sharing one budget
(:func:`plot_allocations`), and two variants' memory per GPU and training time
(:func:`plot_variants`).

Both draw the per-draw comparisons :mod:`bayescale.comparisons` computes, summarised
over draws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
import xarray as xr

from bayescale.draws import SAMPLE_DIMS, Draws, check_ci_prob
from bayescale.errors import InputError, InputTypeError
from bayescale.plotting.bands import band, sample_count, samples, summary
from bayescale.plotting.labels import count_label, fmt_interval, pct, probability, sci, tex
from bayescale.plotting.style import DOUBLE, figure_axes, legend, paper_style


def _draws_dataset(result, needs: Sequence[str], made_by: str) -> xr.Dataset:
    """The dataset of a :class:`~bayescale.draws.Draws` (or a Dataset), checked for
    ``needs``."""
    ds = result.dataset if isinstance(result, Draws) else result
    if not isinstance(ds, xr.Dataset):
        raise InputTypeError(
            f"expected the Draws returned by {made_by}, got {type(result).__name__}."
        )
    missing = [name for name in needs if name not in ds.variables and name not in ds.attrs]
    if missing:
        raise InputError(f"the result lacks {missing}; pass what {made_by} returns.")
    return ds


def plot_allocations(
    result,
    *,
    target_loss: float | None = None,
    axes=None,
    ci_prob: float = 0.9,
    colors: Sequence[str] = ("tab:orange", "tab:blue"),
):
    """Loss along training of two model sizes that share one budget (Hoffmann et al. 2022,
    Fig. A4), with bands.

    Left: loss against
    the tokens each model has seen; right: against the FLOPs spent (both linear, as in
    the paper); an inset zooms on the last 15% of the budget, where the curves end close
    together. The text gives ``P(L_B < L_A)`` at the full budget (the share of draws where
    B ends lower); the legend gives both final losses with their ``ci_prob`` intervals.
    The y-axis covers the last 90% of the budget, as losses early on are far higher;
    ``ax.set_ylim`` shows more.

    Parameters
    ----------
    result
        what :func:`bayescale.comparisons.compare_allocations` returns: per-draw losses
        ``loss_a``, ``loss_b`` after each fraction of the budget.
    target_loss
        a loss (nats/token) to mark with a dashed line.
    axes
        two matplotlib axes side by side; ``None`` makes a new figure.
    ci_prob
        the probability of the bands and of the legend's intervals.
    colors
        the colours of A and B.

    Returns
    -------
    tuple
        ``(fig, axes)``.
    """
    ci_prob = check_ci_prob(ci_prob)
    made_by = "bayescale.comparisons.compare_allocations"
    ds = _draws_dataset(
        result,
        (
            "loss_a",
            "loss_b",
            "flops",
            "tokens_a",
            "tokens_b",
            "labels",
            "n_a",
            "n_b",
            "budget",
            "p_b_lower",
        ),
        made_by,
    )
    label_a, label_b = (str(v) for v in ds.attrs["labels"])
    flops = ds["flops"].values
    fraction = ds["fraction"].values if "fraction" in ds else flops / ds.attrs["budget"]
    sides = [
        {
            "label": label,
            "color": color,
            "n": ds.attrs[f"n_{key}"],
            "loss": ds[f"loss_{key}"].transpose(*SAMPLE_DIMS, "step").values,
            "tokens": ds[f"tokens_{key}"].values,
        }
        for key, label, color in (("a", label_a, colors[0]), ("b", label_b, colors[1]))
    ]
    for side in sides:
        side["final"] = [float(v) for v in summary(side["loss"][..., -1], ci_prob)]
    p_b = float(ds.attrs["p_b_lower"])

    with paper_style(axes):
        fig, axes = figure_axes(axes, DOUBLE, shape=(2,))
        left, right = axes[0], axes[1]
        handles = []
        for side in sides:
            handle = band(
                left, side["tokens"], side["loss"], ci_prob, color=side["color"], zorder=3
            )
            band(right, flops, side["loss"], ci_prob, color=side["color"], zorder=3)
            handles.append(
                (
                    handle,
                    (
                        f"{side['label']}: $N$ = {count_label(side['n'])}, "
                        f"final $L$ = {fmt_interval(*side['final'])}"
                    ),
                )
            )
        if target_loss is not None:
            for ax in (left, right):
                ax.axhline(target_loss, color="0.3", lw=0.8, ls="--", zorder=2)
            handles.append(
                (
                    mpl.lines.Line2D([], [], color="0.3", lw=0.8, ls="--"),
                    f"target loss {target_loss:.4g} nats/token",
                )
            )
        shown = fraction >= 0.1 - 1e-9
        tops = [float(np.max(summary(side["loss"][..., shown], ci_prob)[0])) for side in sides]
        bottoms = [side["final"][1] for side in sides]
        bottoms += [target_loss] if target_loss is not None else []
        top, bottom = max(tops), min(bottoms)
        pad = 0.06 * (top - bottom)
        for ax in (left, right):
            ax.set_ylim(bottom - pad, top + pad)
            ax.set_ylabel("training loss $L$ (nats/token)")
            ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0), useMathText=True)
        left.set_xlim(0, 1.02 * max(float(side["tokens"][-1]) for side in sides))
        right.set_xlim(0, 1.02 * flops[-1])
        left.set_xlabel("training tokens $D$ seen (tokens)")
        right.set_xlabel("compute spent $C = 6ND$ (FLOPs)")
        budget = sci(float(ds.attrs["budget"]))
        left.set_title(f"two sizes sharing {budget} FLOPs (lines: median, bands: {pct(ci_prob)})")
        right.set_title("the same against compute spent")
        legend(left, handles, loc="upper right")
        left.text(
            0.97,
            0.72,
            f"$P(L_{{{tex(label_b)}}} < L_{{{tex(label_a)}}})$ at the full "
            f"budget:\n{probability(p_b, sample_count(ds))}",
            transform=left.transAxes,
            ha="right",
            va="top",
        )
        _zoom_end(
            right, flops, [(side["loss"], side["color"]) for side in sides], target_loss, ci_prob
        )
    return fig, axes


def _zoom_end(ax, x, curves, target_loss, ci_prob, start: float = 0.85):
    """An inset of the last ``1 − start`` of ``x``, where the curves end close together."""
    last = x >= start * x[-1]
    inset = ax.inset_axes([0.47, 0.4, 0.5, 0.5])
    lows, highs = [], []
    for loss, color in curves:
        band(inset, x[last], loss[..., last], ci_prob, color=color)
        _, low, high = summary(loss[..., last], ci_prob)
        lows.append(low.min())
        highs.append(high.max())
    if target_loss is not None:
        inset.axhline(target_loss, color="0.3", lw=0.8, ls="--")
        lows.append(target_loss)
    low, high = min(lows), max(highs)
    pad = 0.08 * (high - low)
    inset.set_ylim(low - pad, high + pad)
    inset.set_xlim(x[last][0], x[-1] * 1.005)
    inset.tick_params(labelsize="x-small")
    inset.xaxis.get_offset_text().set_fontsize("x-small")
    inset.ticklabel_format(axis="x", style="sci", scilimits=(0, 0), useMathText=True)
    inset.set_title(f"last {100 * (1 - start):.0f}% of the budget", fontsize="x-small", pad=2)
    return inset


def plot_variants(
    result,
    *,
    axes=None,
    ci_prob: float = 0.9,
    colors: Sequence[str] = ("tab:orange", "tab:blue", "tab:green", "tab:purple"),
):
    """Memory per GPU (left) and training time (right) of variant A minus variant B, per
    budget (Shukor et al. 2025, Fig. 4), with interval whiskers.

    Each bar is the posterior median of ``a − b`` at one budget (``memory_diff_gb`` in GB,
    ``hours_diff`` in hours; the dot marks it too, for bars too short to see) and its
    whisker the ``ci_prob`` interval; the dashed line is zero. Below zero, A needs less
    than B. The number over each bar is ``P(a < b)``, the share of draws where A needs
    less; the grey numbers at the bottom are B's own medians, for scale. When the
    differences carry a dim besides ``(chain, draw, budget)`` (say one per hardware
    setting), each budget gets one bar per value of it, side by side (and no grey
    numbers).

    Parameters
    ----------
    result
        what :func:`bayescale.comparisons.compare_variants` returns.
    axes
        two matplotlib axes side by side; ``None`` makes a new figure.
    ci_prob
        the probability of the whiskers' intervals.
    colors
        bar colours, one per value of an extra dim (cycled); the first without one.

    Returns
    -------
    tuple
        ``(fig, axes)``.
    """
    ci_prob = check_ci_prob(ci_prob)
    made_by = "bayescale.comparisons.compare_variants"
    ds = _draws_dataset(result, ("memory_diff_gb", "hours_diff", "budget", "labels"), made_by)
    label_a, label_b = (str(v) for v in ds.attrs["labels"])
    budgets = np.asarray(ds["budget"].values, dtype=float)
    extra = [d for d in ds["memory_diff_gb"].dims if d not in (*SAMPLE_DIMS, "budget")]
    if len(extra) > 1:
        raise InputError(f"expected at most one dim besides (chain, draw, budget), got {extra}.")
    series = [(None, None)] if not extra else [(extra[0], value) for value in ds[extra[0]].values]
    exponent = math.floor(math.log10(budgets.min()))
    width = 0.7 / len(series)
    where = np.arange(budgets.size, dtype=float)
    setting = " × ".join(str(ds.attrs[k]) for k in ("n_gpus", "hardware") if k in ds.attrs)

    with paper_style(axes):
        fig, axes = figure_axes(axes, DOUBLE, shape=(2,))
        panels = (
            (axes[0], "memory_diff_gb", "memory_b_gb", "memory per GPU", "GB"),
            (axes[1], "hours_diff", "hours_b", "train time", "hours"),
        )
        for ax, name, baseline, what, unit in panels:
            ax.axhline(0.0, color="0.3", lw=0.8, ls="--", zorder=1)
            reach = []
            for k, (dim, value) in enumerate(series):
                diff = ds[name] if dim is None else ds[name].sel({dim: value})
                values = diff.transpose(*SAMPLE_DIMS, "budget").values
                median, low, high = summary(values, ci_prob)
                below = (samples(values) < 0).mean(axis=0)
                x = where + (k - (len(series) - 1) / 2) * width
                color = colors[k % len(colors)]
                ax.bar(
                    x,
                    median,
                    width=0.9 * width,
                    color=color,
                    alpha=0.8,
                    zorder=2,
                    label=f"{dim} = {value}" if dim is not None else None,
                )
                ax.errorbar(
                    x,
                    median,
                    yerr=[median - low, high - median],
                    fmt="o",
                    ms=2.5,
                    color="black",
                    elinewidth=0.8,
                    capsize=2.5,
                    zorder=3,
                )
                for xi, hi, p in zip(x, high, below, strict=True):
                    ax.annotate(
                        f"{p:.2f}" if 0 < p < 1 else f"{p:.0f}",
                        (xi, hi),
                        xytext=(0, 2),
                        textcoords="offset points",
                        ha="center",
                        va="bottom",
                        fontsize="x-small",
                    )
                reach += [low.min(), high.max()]
            low, high = min(reach + [0.0]), max(reach + [0.0])
            span = high - low or 1.0
            ax.set_ylim(low - 0.22 * span, high + 0.32 * span)
            if not extra and baseline in ds:
                base = summary(ds[baseline].transpose(*SAMPLE_DIMS, "budget").values, ci_prob)[0]
                for xi, b in zip(where, base, strict=True):
                    ax.text(
                        xi,
                        0.02,
                        f"{label_b}:\n{b:.3g} {unit}",
                        color="0.45",
                        ha="center",
                        va="bottom",
                        fontsize="x-small",
                        transform=ax.get_xaxis_transform(),
                    )
            ax.set_xticks(where, [f"{b / 10**exponent:g}" for b in budgets])
            ax.set_xlim(-0.6, budgets.size - 0.4)
            ax.set_xlabel(f"compute budget $C$ ($\\times10^{{{exponent}}}$ FLOPs)")
            ax.set_ylabel(f"{what}, {label_a} − {label_b} ({unit})")
            ax.set_title(f"relative {what}" + (f", {setting}" if setting else ""))
            median_of = f"median of {label_a} − {label_b}"
            handles = [
                (
                    mpl.patches.Patch(color=colors[k % len(colors)], alpha=0.8, linewidth=0),
                    median_of if dim is None else f"{median_of}, {dim} = {value}",
                )
                for k, (dim, value) in enumerate(series)
            ]
            handles += [
                (
                    mpl.lines.Line2D([], [], color="black", lw=0.8, marker="|", ms=5),
                    f"{pct(ci_prob)} interval",
                ),
                (
                    mpl.lines.Line2D([], [], ls="none"),
                    f"numbers: $P({tex(label_a)} < {tex(label_b)})$",
                ),
            ]
            legend(ax, handles, loc="upper left", ncols=2, columnspacing=1.0)
    return fig, axes
