"""Figures of the posterior draws themselves."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
import xarray as xr

from bayescale.draws import SAMPLE_DIMS, check_ci_prob, eti
from bayescale.errors import InputError
from bayescale.plotting.bands import samples
from bayescale.plotting.labels import fmt_interval, group_words, pct
from bayescale.plotting.points import check_group, check_one_law
from bayescale.plotting.style import figure_axes, paper_style

if TYPE_CHECKING:
    from bayescale.posterior import Posterior


def _draw_table(post: Posterior, group: str | None) -> xr.Dataset:
    """The posterior's draws and derived quantities, ``(chain, draw)`` each: of ``group``
    in a per-group posterior, or of an unseen group drawn from the population (``"new"``)."""
    if group == "new":
        coords = {d: post.posterior[d] for d in SAMPLE_DIMS}
        table = xr.Dataset(
            {p: (SAMPLE_DIMS, v) for p, v in post.theta("new").items()}, coords=coords
        )
        return table.assign(**post.law.quantities(table))
    table = post.posterior.assign(**post.derived())
    return table if group is None else table.sel(group=group, drop=True)


def plot_pairs(
    post: Posterior,
    var_names: Sequence[str] | None = None,
    *,
    group: str | None = None,
    axes=None,
    ci_prob: float = 0.9,
    max_points: int = 2000,
    color: str = "tab:blue",
):
    """Pair plot of posterior draws: scatter below the diagonal, histograms on it.

    Each histogram carries its median (line), ``ci_prob`` interval (shaded) and both as
    a title.

    Parameters
    ----------
    post
        the fitted posterior; of a :class:`~bayescale.Stack`, one component
        (``stack.components[label]``): the parameters are one law's.
    var_names
        any of the law's parameters and derived quantities (:meth:`Posterior.derived`);
        default the law's ``key_quantities`` (for Chinchilla ``E, alpha, beta,
        n_opt_exponent``, with ``a = β/(α+β)`` the exponent of ``N_opt ∝ C^a``), or its
        parameters when it names none.
    group
        needed for a per-group posterior: a fitted group's draws, or ``"new"`` for an
        unseen group's, drawn from the population.
    axes
        a ``k × k`` array of matplotlib axes for ``k`` quantities; ``None`` makes a new
        figure.
    ci_prob
        the probability of each histogram's interval.
    max_points
        scatters show at most this many evenly thinned draws.
    color
        the colour of scatters and histograms.

    Returns
    -------
    tuple
        ``(fig, axes)`` with ``axes`` a ``k × k`` array (upper triangle hidden).
    """
    ci_prob = check_ci_prob(ci_prob)
    check_one_law(post, "plot_pairs", "shows one law's parameters")
    group = check_group(post, group)
    table = _draw_table(post, group)
    if var_names is None:
        var_names = post.law.key_quantities or post.law.params
    var_names = list(var_names)
    unknown = [v for v in var_names if v not in table]
    if unknown:
        raise InputError(f"unknown variable(s) {unknown}; choose from {sorted(table.data_vars)}.")
    k = len(var_names)
    values = {v: samples(table[v]) for v in var_names}
    thin = slice(None, None, max(1, math.ceil(values[var_names[0]].size / max_points)))

    limits = {}
    for v in var_names:
        low, high = np.quantile(values[v], [0.0005, 0.9995])
        pad = 0.05 * (high - low) or 0.05 * abs(high) or 0.05
        limits[v] = (low - pad, high + pad)

    size = 1.6 * k + 0.4
    with paper_style(axes):
        fig, axes = figure_axes(axes, (size, size), shape=(k, k))
        for i, row in enumerate(var_names):
            for j, col in enumerate(var_names):
                ax = axes[i, j]
                if j > i:
                    ax.set_visible(False)
                    continue
                if i == j:
                    x = values[col]
                    med, (low, high) = np.median(x), eti(x, ci_prob)
                    ax.hist(
                        x,
                        bins=40,
                        range=limits[col],
                        density=True,
                        color=color,
                        alpha=0.55,
                        linewidth=0,
                    )
                    ax.axvspan(low, high, color=color, alpha=0.15, linewidth=0)
                    ax.axvline(med, color="black", lw=0.8)
                    ax.set_title(fmt_interval(med, low, high), fontsize="small")
                    ax.set_yticks([])
                else:
                    ax.scatter(
                        values[col][thin],
                        values[row][thin],
                        s=1.5,
                        color=color,
                        alpha=0.35,
                        linewidths=0,
                        rasterized=True,
                    )
                    ax.set_ylim(limits[row])
                    ax.yaxis.set_major_locator(mpl.ticker.MaxNLocator(4))
                    if j > 0:
                        ax.tick_params(labelleft=False)
                    else:
                        ax.set_ylabel(post.law.label(row))
                ax.set_xlim(limits[col])
                ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(4))
                ax.tick_params(axis="x", labelrotation=45)
                if i < k - 1:
                    ax.tick_params(labelbottom=False)
                else:
                    ax.set_xlabel(post.law.label(col))
        if k > 1:
            of = f" of {group_words(group)}" if group is not None else ""
            fig.suptitle(
                f"posterior draws{of}; titles: median [{pct(ci_prob)} interval]",
                fontsize="small",
            )
    return fig, axes
