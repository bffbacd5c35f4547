"""Figures of simulation-based calibration: rank histograms against their uniform band.

Under a correct model and sampler each parameter's rank among ``n_ranks − 1`` posterior
draws is uniform on ``0 … n_ranks − 1`` (:mod:`bayescale.evaluation.sbc`). With the
ranks binned, a uniform histogram's count in a bin of probability ``p_bin`` is
``Binomial(n_sims, p_bin)``; its ``band_prob`` quantiles give the grey band in which each
bin of a calibrated histogram falls with that probability (Talts et al. 2018).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from bayescale.errors import InputError
from bayescale.evaluation.sbc import bin_ranks, n_rank_values, ranked_params, uniformity
from bayescale.plotting.style import paper_style

_SMALL = {
    "font.size": 6.5,
    "axes.titlesize": 6.5,
    "figure.titlesize": 6.5,
    "figure.labelsize": 6.5,
    "xtick.labelsize": 5.5,
    "ytick.labelsize": 5.5,
    "axes.linewidth": 0.6,
    "figure.dpi": 150,
}
"""Matplotlib rc settings of a rank-histogram grid: smaller than the paper style, for
many small panels."""


def plot_ranks(
    ranks,
    n_ranks: int | None = None,
    *,
    bins: int | None = None,
    params: Sequence[str] | None = None,
    band_prob: float = 0.99,
    axes=None,
    ncols: int = 4,
):
    """Rank histograms, one panel per parameter, over the ``band_prob`` band of a uniform
    histogram (each bin count ~ ``Binomial(n_sims, p_bin)``; grey) and its expectation
    (line), as in Talts et al. 2018.

    The title of each panel gives the chi-square p-value of
    :func:`~bayescale.evaluation.sbc.uniformity`, whose bins the histogram uses.

    Parameters
    ----------
    ranks
        what :func:`~bayescale.evaluation.sbc.sbc` returns, or any frame of rank columns
        with ``n_ranks`` and ``params``.
    n_ranks
        the number of possible rank values; default from ``ranks.attrs``.
    bins
        histogram bins; default :func:`~bayescale.evaluation.sbc.default_bins`.
    params
        the parameters to plot; default from ``ranks.attrs``.
    band_prob
        the probability of the grey band of a uniform histogram.
    axes
        matplotlib axes, at least one per parameter (extra ones are hidden); ``None``
        makes a new figure.
    ncols
        panels a row of a new figure.

    Returns
    -------
    tuple
        ``(fig, axes)``.
    """
    n_ranks = n_rank_values(ranks, n_ranks)
    names = ranked_params(ranks, params)
    table = uniformity(ranks, n_ranks, bins=bins, params=names)
    with paper_style(axes, _SMALL):
        if axes is None:
            ncols = min(ncols, len(names))
            nrows = -(-len(names) // ncols)
            _, axes = plt.subplots(
                nrows,
                ncols,
                figsize=(1.6 * ncols, 1.3 * nrows),
                layout="constrained",
                squeeze=False,
            )
        axes_flat = np.asarray(axes, dtype=object).reshape(-1)
        if axes_flat.size < len(names):
            raise InputError(f"{len(names)} parameters need as many axes, got {axes_flat.size}.")
        fig = axes_flat[0].figure
        for ax, name in zip(axes_flat, names, strict=False):
            values = np.asarray(ranks[name], dtype=int)
            counts, prob = bin_ranks(values, n_ranks, int(table.loc[name, "bins"]))
            edges = np.r_[0, np.cumsum(prob)] * n_ranks
            n = len(values)
            lo = stats.binom.ppf((1 - band_prob) / 2, n, prob)
            hi = stats.binom.ppf(1 - (1 - band_prob) / 2, n, prob)
            ax.stairs(counts, edges, fill=True, color="C0", alpha=0.8, lw=0)
            ax.fill_between(
                edges,
                np.r_[lo, lo[-1]],
                np.r_[hi, hi[-1]],
                step="post",
                color="0.5",
                alpha=0.3,
                lw=0,
                zorder=3,
            )
            ax.stairs(n * prob, edges, color="0.3", lw=0.7, zorder=4)
            ax.set_title(f"{name}  (p = {table.loc[name, 'p_value']:.2g})")
            ax.set_xlim(0, n_ranks)
            ax.set_ylim(0, max(counts.max(), hi.max()) * 1.08)
            ax.set_yticks([])
        for ax in axes_flat[len(names) :]:
            ax.set_visible(False)
        fig.supxlabel(
            f"rank among {n_ranks - 1} posterior draws; grey: {band_prob:.0%} band "
            "of a uniform histogram"
        )
    return fig, axes
