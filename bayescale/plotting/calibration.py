r"""Figures of simulation-based calibration: the ECDF of the ranks against its uniform band.

Under a correct model and sampler each parameter's rank among ``n_ranks − 1`` posterior
draws is uniform on ``0 … n_ranks − 1`` (:mod:`bayescale.evaluation.sbc`), with CDF
:math:`F(r) = (r + 1) / n_{ranks}`. Each panel shows the empirical CDF of the ``n_sims``
ranks minus :math:`F`, at every rank value, over the ``band_prob`` *simultaneous* band of
that difference: a calibrated pipeline's curve stays inside the whole band with probability
``band_prob`` (Säilynoja, Bürkner and Vehtari 2022, the method ArviZ's
:func:`arviz.plot_ecdf` draws with ``confidence_bands="optimized"``: its coverage is
computed, not simulated). Unlike a histogram it needs no bins. Read a curve that leaves
the band as: above zero throughout, the ranks sit low (the truth low in its posterior: the
posterior biased up); below zero, biased down; up then down (ranks piled at both ends),
posteriors too narrow; down then up, too wide.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from bayescale.diagnostics import arviz
from bayescale.errors import InputError
from bayescale.evaluation.sbc import n_rank_values, ranked_params, uniformity
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
"""Matplotlib rc settings of a grid of rank panels: smaller than the paper style, for
many small panels."""


def _uniform_rank_cdf(n_ranks: int):
    """The CDF of ranks uniform on ``0 … n_ranks − 1``: ``(⌊r⌋ + 1) / n_ranks``, clipped to
    ``[0, 1]``."""
    return lambda r: np.clip((np.floor(r) + 1.0) / n_ranks, 0.0, 1.0)


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
    """SBC ranks, one panel per parameter: the ECDF of the ranks minus the uniform CDF,
    over its ``band_prob`` simultaneous band (grey), drawn by :func:`arviz.plot_ecdf`
    (``difference=True``, ``confidence_bands="optimized"``; Säilynoja et al. 2022).

    The title of each panel gives the chi-square p-value of
    :func:`~bayescale.evaluation.sbc.uniformity`.

    Parameters
    ----------
    ranks
        what :func:`~bayescale.evaluation.sbc.sbc` returns, or any frame of rank columns
        with ``n_ranks`` and ``params``.
    n_ranks
        the number of possible rank values; default from ``ranks.attrs``.
    bins
        the bins of the chi-square test in the titles; default
        :func:`~bayescale.evaluation.sbc.default_bins`. The curves need none.
    params
        the parameters to plot; default from ``ranks.attrs``.
    band_prob
        the probability that a calibrated curve stays inside the whole grey band.
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
    cdf, rank_values = _uniform_rank_cdf(n_ranks), np.arange(n_ranks)
    az = arviz()
    with paper_style(axes, _SMALL):
        if axes is None:
            ncols = min(ncols, len(names))
            nrows = -(-len(names) // ncols)
            _, axes = plt.subplots(
                nrows,
                ncols,
                figsize=(1.6 * ncols, 1.3 * nrows),
                layout="constrained",
                sharey=True,
                squeeze=False,
            )
        axes_flat = np.asarray(axes, dtype=object).reshape(-1)
        if axes_flat.size < len(names):
            raise InputError(f"{len(names)} parameters need as many axes, got {axes_flat.size}.")
        fig = axes_flat[0].figure
        for ax, name in zip(axes_flat, names, strict=False):
            az.plot_ecdf(
                np.array(ranks[name], dtype=int),  # a copy: az.plot_ecdf sorts in place
                cdf=cdf,
                eval_points=rank_values,  # fixed in advance, as a simultaneous band needs
                difference=True,
                confidence_bands="optimized",
                ci_prob=band_prob,
                plot_kwargs={"color": "C0", "lw": 0.8},
                fill_kwargs={"color": "0.5", "alpha": 0.3, "lw": 0},
                ax=ax,
            )
            ax.set_title(f"{name}  (p = {table.loc[name, 'p_value']:.2g})")
            ax.set_xlim(0, n_ranks - 1)
        for ax in axes_flat[len(names) :]:
            ax.set_visible(False)
        n_sims = len(np.asarray(ranks[names[0]]))
        fig.supxlabel(
            f"rank among {n_ranks - 1} posterior draws, {n_sims} simulations; grey: "
            f"{band_prob:.0%} simultaneous band of a uniform ECDF"
        )
        fig.supylabel("ECDF of ranks − uniform CDF")
    return fig, axes
