r"""Training curves, their envelope and the compute-optimal frontier (Hoffmann et al. 2022, Fig. 2).

A sweep with a ``run`` column holds training curves: each checkpoint of a run is drawn at
its training compute :math:`C = 6ND`, with :math:`D` the tokens seen at the checkpoint.
Their envelope is the lowest loss any checkpoint reached at or below each compute,

.. math:: \operatorname{env}(C) = \min\{\, L_i : C_i \le C \,\},

a step function of :math:`C` over the checkpoints :math:`i` of all runs (Hoffmann et al.'s
Approach 1 reads its optimal allocation off it). A law fitted to finished runs gives the
frontier :math:`L^*(C) = \min_{6ND=C} L(N, D)` per draw; checkpoints part-way through a
decaying schedule are not finished runs (:mod:`bayescale.curves`), so the envelope of
such curves lies above the frontier.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.ticker import FormatStrFormatter

from bayescale.draws import check_ci_prob
from bayescale.errors import ExtrapolationWarning, InputError
from bayescale.extrapolation import FittedRange, median_over_draws
from bayescale.plotting.bands import band, widest, width_words
from bayescale.plotting.labels import C_LABEL, LOSS_LABEL, N_LABEL, group_words, pct
from bayescale.plotting.points import check_group, fitted_points, sweep_points
from bayescale.plotting.style import (
    SINGLE,
    colorbar,
    figure_axes,
    legend,
    log_axes,
    log_norm,
    marker,
    paper_style,
)
from bayescale.sweep import Sweep

if TYPE_CHECKING:
    from bayescale.posterior import Posterior


def envelope(compute, loss) -> tuple[np.ndarray, np.ndarray]:
    """The envelope of checkpoints (module docstring): ``(C, env(C))`` at each distinct
    compute of the checkpoints, in increasing order."""
    compute, loss = np.asarray(compute, dtype=float), np.asarray(loss, dtype=float)
    order = np.argsort(compute, kind="stable")
    distinct, starts = np.unique(compute[order], return_index=True)
    lowest = np.minimum.reduceat(loss[order], starts)
    return distinct, np.minimum.accumulate(lowest)


def _curve_points(sweep, group: str | None):
    """The sweep's points (:func:`~bayescale.plotting.points.sweep_points`) with their
    ``run``, ordered by run and tokens."""
    frame = sweep.frame if isinstance(sweep, Sweep) else sweep
    points = sweep_points(sweep, group)
    if "run" not in frame.columns:
        raise InputError(
            f"the sweep has no 'run' column (its columns: {list(frame.columns)}), so its "
            "checkpoints cannot be joined into training curves; name each row's training "
            "run in a 'run' column, or draw final points only with plot_fit."
        )
    points["run"] = frame.loc[points.index, "run"].astype(str)
    return points.sort_values(["run", "n_tokens"], kind="stable")


def _segments(points):
    """One ``(C, L)`` polyline per run."""
    return [
        np.column_stack([rows["compute"].to_numpy(), rows["loss"].to_numpy()])
        for _, rows in points.groupby("run", sort=False)
    ]


def _frontier(post: Posterior, compute, points, group: str | None):
    """``(budgets, loss_opt draws)`` of the frontier: at ``compute`` when given (warning
    where it extrapolates); by default at the budgets from the sweep's smallest compute to
    one decade beyond its largest whose compute-optimal run the posterior does not call an
    extrapolation (:mod:`bayescale.extrapolation`), or all of them when under two are."""
    if compute is not None:
        compute = np.sort(np.asarray(compute, dtype=float))
        return compute, post.optimal(compute, group=group)["loss_opt"]
    compute = np.geomspace(points["compute"].min(), 10.0 * points["compute"].max(), 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)  # such budgets are left out
        optimum = post.optimal(compute, group=group)
    fitted = FittedRange.from_data(post.info.data)
    log_n = median_over_draws(np.log(optimum["n_opt"].values))
    log_ratio = median_over_draws(np.log(optimum["tokens_per_param"].values))
    inside = np.array(
        [
            not fitted.outside(log_compute=[c], log_n=[n], log_ratio=[r])
            for c, n, r in zip(np.log(compute), log_n, log_ratio, strict=True)
        ]
    )
    if inside.sum() < 2:
        return compute, post.optimal(compute, group=group)["loss_opt"]
    return compute[inside], optimum["loss_opt"].isel(budget=inside)


def plot_training_curves(
    post: Posterior,
    sweep,
    *,
    compute=None,
    group: str | None = None,
    ax=None,
    ci_prob: float = 0.9,
    cmap: str = "viridis",
):
    """Training curves, their envelope and the frontier of finished runs (Hoffmann et al.
    2022, Fig. 2).

    Every run of ``sweep`` is drawn as its loss against training compute ``C = 6ND``
    (``D`` the tokens seen at each checkpoint), coloured by model size on a log
    colourbar; excluded rows are grey and left out of the envelope. The envelope is the
    lowest loss reached at or below each compute over all runs, drawn as a step line
    (module docstring). The points the posterior was fitted on are dots, and its
    frontier ``L*(C) = min_{6ND=C} L(N, D)`` per draw (:meth:`Posterior.optimal`) is
    drawn as the median with its ``ci_prob`` band over ``compute``. A per-group
    posterior needs ``group``: a fitted group (its runs and frontier) or ``"new"``
    (every run, and the frontier of an unseen group).

    Parameters
    ----------
    post
        the fitted posterior, typically of each run's final checkpoint.
    sweep
        the checkpoints: a :class:`~bayescale.sweep.Sweep` or a frame with
        ``run, n_params, n_tokens, loss``.
    compute
        the frontier's budgets in FLOPs; default those from the sweep's smallest compute
        to one decade beyond its largest at which the compute-optimal run lies within the
        fitted sizes and shapes (where :meth:`Posterior.optimal` would not warn of
        extrapolation).
    group
        a fitted group or ``"new"``, for a per-group posterior.
    ax
        a matplotlib axis; ``None`` makes a new figure.
    ci_prob
        the probability of the band.
    cmap
        the colormap of model size.

    Returns
    -------
    tuple
        ``(fig, ax)``.
    """
    ci_prob = check_ci_prob(ci_prob)
    group = check_group(post, group)
    points = _curve_points(sweep, group)
    kept, dropped = points[~points["excluded"]], points[points["excluded"]]
    if kept.empty:
        raise InputError("every row of the sweep is excluded: there is no curve to draw.")
    fit_n, fit_d, fit_loss = fitted_points(post, group)
    compute, frontier = _frontier(post, compute, points, group)

    with paper_style(ax):
        fig, ax = figure_axes(ax, SINGLE)
        norm = log_norm(kept["n_params"])
        palette = plt.get_cmap(cmap)
        sizes = kept.groupby("run", sort=False)["n_params"].first().to_numpy()
        curves = LineCollection(
            _segments(kept), colors=palette(norm(sizes)), linewidths=0.5, alpha=0.8, zorder=2
        )
        ax.add_collection(curves)
        handles = [Line2D([], [], color=palette(0.5), lw=0.5, label="runs")]
        if len(dropped):
            ax.add_collection(
                LineCollection(_segments(dropped), colors="0.6", linewidths=0.4, zorder=1)
            )
            handles.append(Line2D([], [], color="0.6", lw=0.4, label="excluded rows"))
        ax.scatter(
            6.0 * fit_n * fit_d,
            fit_loss,
            c=fit_n,
            cmap=palette,
            norm=norm,
            s=5,
            linewidths=0.2,
            edgecolors="black",
            zorder=3,
        )
        handles.append(marker("fitted points", color=palette(0.5), ms=2.5, mec="black", mew=0.2))
        env_c, env_loss = envelope(kept["compute"], kept["loss"])
        ax.step(env_c, env_loss, where="post", color="tab:red", lw=1.0, zorder=4, gid="envelope")
        handles.append(Line2D([], [], color="tab:red", lw=1.0, label="envelope"))
        frontier_handle = band(
            ax, compute, frontier, ci_prob, color="black", zorder=5, gid="frontier"
        )
        handles.append(
            (
                frontier_handle,
                f"frontier $L^*(C)$, {pct(ci_prob)} band\n"
                f"(at most {width_words(widest(frontier, ci_prob))})",
            )
        )
        log_axes(ax, y=True)
        for set_formatter in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
            set_formatter(FormatStrFormatter("%g"))  # losses span under a decade: plain labels
        ax.autoscale_view()
        ax.set_xlabel(C_LABEL)
        ax.set_ylabel(LOSS_LABEL)
        legend(ax, handles, loc="upper right", frameon=True, framealpha=0.8, edgecolor="none")
        colorbar(fig, ax, norm, cmap, N_LABEL)
        if group is not None:
            ax.set_title(group_words(group))
    return fig, ax
