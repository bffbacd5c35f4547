r"""Figures with credible bands, computed per posterior draw.

Every function takes a :class:`~bayescale.posterior.Posterior` (plus data where the
figure shows data), ``ax=None`` (``axes=None`` for multi-panel figures) and
``ci_prob=0.9``, and returns ``(fig, ax)``. A band is always the equal-tailed
``ci_prob`` interval over ``(chain, draw)`` of a quantity computed per draw; the line
in it is the per-point posterior median. Nothing is drawn from a point estimate.

Figures made here (``ax=None``) are sized for a paper: 3.4 in wide for one panel,
7 in for two, with small fonts. When you pass ``ax``, your own style is kept.

================================  =============================================================
function                          shows
================================  =============================================================
:func:`plot_fit`                  sweep points (loss vs ``C = 6ND``, colour = N) and the
                                  compute-optimal frontier ``L*(C)``
:func:`plot_loss_vs_params`       loss vs N at fixed compute (colour = PF-days) and at fixed
                                  tokens (colour = D)
:func:`plot_frontier`             ``N_opt(C)`` and ``D_opt(C)`` with Kaplan's and Chinchilla's
                                  reference slopes
:func:`plot_pairs`                pair plot of ``E``, ``α``, ``β`` and ``a = β/(α+β)``
:func:`plot_ppc`                  observed vs posterior-predictive loss, held-out points marked
:func:`plot_isoflops`             iso-FLOP profiles (loss vs N at fixed C) with the optimum
:func:`plot_excess_compute`       compute and tokens a size ``N ≠ N_opt`` needs to reach the
                                  optimal loss, and the sizes within +20% compute
:func:`plot_allocations`          loss along training for two model sizes sharing a budget
                                  (from :func:`bayescale.allocations.compare_allocations`)
:func:`plot_variants`             memory per GPU and train time of two variants, ``a − b``, per
                                  budget (from :func:`bayescale.allocations.compare_variants`)
================================  =============================================================

One PF-day is :math:`10^{15}\,\mathrm{FLOP/s} \times 86400\,\mathrm{s} = 8.64\times10^{19}`
FLOPs.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.colors import LogNorm

from bayescale import planning
from bayescale.draws import SAMPLE_DIMS, Draws, check_ci_prob, eti
from bayescale.errors import InputError, InputTypeError, PlanningWarning
from bayescale.sweep import Sweep

if TYPE_CHECKING:
    from bayescale.posterior import Posterior

__all__ = [
    "PF_DAY",
    "plot_allocations",
    "plot_excess_compute",
    "plot_fit",
    "plot_frontier",
    "plot_isoflops",
    "plot_loss_vs_params",
    "plot_pairs",
    "plot_ppc",
    "plot_variants",
]

PF_DAY = 8.64e19
"""FLOPs in one petaflop/s-day."""

SINGLE = (3.4, 2.6)
DOUBLE = (7.0, 2.6)
_PAPER = {
    "font.size": 7.5,
    "axes.labelsize": 7.5,
    "axes.titlesize": 7.5,
    "xtick.labelsize": 6.5,
    "ytick.labelsize": 6.5,
    "legend.fontsize": 6.0,
    "legend.frameon": False,
    "lines.linewidth": 1.1,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "figure.dpi": 150,
    "savefig.dpi": 200,
}

LOSS_LABEL = "loss $L$ (nats/token)"
N_LABEL = "model size $N$ (parameters)"
D_LABEL = "training tokens $D$ (tokens)"
C_LABEL = "compute $C = 6ND$ (FLOPs)"

# Reference allocation exponents: N_opt ∝ C^a, D_opt ∝ C^(1 − a).
KAPLAN_EXPONENT = 0.73  # Kaplan et al. 2020, N_opt ∝ C^0.73
CHINCHILLA_EXPONENT = 0.50  # Hoffmann et al. 2022 (Approaches 1 and 2), N_opt ∝ C^0.50


# ---------------------------------------------------------------------- helpers
def _style(ax):
    """The paper style while a new figure is made and drawn on (``ax is None``); the
    caller's own style otherwise."""
    return mpl.rc_context(_PAPER) if ax is None else contextlib.nullcontext()


def _axes(ax, figsize, shape=None):
    """``(fig, ax)``: the caller's axes, or a new paper-sized figure. ``shape`` is that of
    the axes array a multi-panel figure needs: ``(2,)`` side by side, ``(k, k)`` a grid."""
    if ax is not None:
        axes = np.asarray(ax, dtype=object)
        if shape is not None and axes.shape != shape:
            raise InputError(f"expected axes of shape {shape}, got shape {axes.shape}; pass "
                             "e.g. plt.subplots(*shape)[1], or leave axes=None.")
        return axes.flat[0].figure, ax
    grid = (1, 1) if shape is None else (1, shape[0]) if len(shape) == 1 else shape
    fig, new = plt.subplots(*grid, figsize=figsize, layout="constrained", squeeze=False)
    return fig, (new[0, 0] if shape is None else new.reshape(shape))


def _samples(values) -> np.ndarray:
    """Stack ``(chain, draw, ...)`` values to ``(sample, ...)``."""
    if isinstance(values, xr.DataArray):
        values = values.transpose(*SAMPLE_DIMS, ...).values
    values = np.asarray(values, dtype=float)
    return values.reshape(-1, *values.shape[2:])


def _summary(values, ci_prob: float):
    """Median and equal-tailed interval over draws of ``(chain, draw, ...)`` values."""
    samples = _samples(values)
    low, high = eti(samples, ci_prob, axis=0)
    return np.median(samples, axis=0), low, high


def _band(ax, x, values, ci_prob: float, color, alpha=0.22, **line_kw):
    """Median line plus ``ci_prob`` band of per-draw values ``(chain, draw, len(x))``.

    Draws one ``Line2D`` over one ``PolyCollection``; returns a legend handle showing
    both.
    """
    median, low, high = _summary(values, ci_prob)
    ax.fill_between(x, low, high, color=color, alpha=alpha, linewidth=0)
    ax.plot(x, median, color=color, **line_kw)
    return _band_handle(color, alpha, **line_kw)


def _band_handle(color, alpha=0.22, **line_kw):
    """A legend handle for a median line over its band."""
    line_kw.pop("zorder", None)
    return (mpl.patches.Patch(color=color, alpha=alpha, linewidth=0),
            mpl.lines.Line2D([], [], color=color, **line_kw))


def _marker(label, **kw):
    """A legend handle for markers drawn elsewhere."""
    kw = {"color": "0.3", "ls": "none", "marker": "o", "ms": 3, **kw}
    return mpl.lines.Line2D([], [], label=label, **kw)


def _legend(ax, handles, **kw):
    """A legend from handles: artists carrying labels, or ``(artist, label)`` pairs."""
    artists, labels = [], []
    for handle in handles:
        artist, label = handle if isinstance(handle, tuple) and isinstance(handle[1], str) \
            else (handle, handle.get_label())
        artists.append(artist)
        labels.append(label)
    return ax.legend(artists, labels, handlelength=1.6, **kw)


def _colorbar(fig, ax, norm, cmap, label):
    mappable = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
    bar = fig.colorbar(mappable, ax=ax, pad=0.02, fraction=0.06, aspect=25)
    bar.set_label(label)
    return bar


def _log_norm(values) -> LogNorm:
    values = np.asarray(values, dtype=float)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        low, high = low / 2.0, high * 2.0
    return LogNorm(low, high)


def _pct(ci_prob: float) -> str:
    return f"{100 * ci_prob:g}%"


def _sci(x: float) -> str:
    """``x`` as mathtext, e.g. ``$1.3\\times10^{23}$``."""
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"${mantissa}\\times10^{{{int(exponent)}}}$"


def _fmt_interval(median: float, low: float, high: float) -> str:
    """``median [low, high]`` with two significant digits of the interval's width."""
    width = abs(high - low) or abs(median) or 1.0
    digits = max(0, 1 - math.floor(math.log10(width)))
    return f"{median:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _points(data) -> pd.DataFrame:
    """``n_params, n_tokens, loss`` (and ``excluded``) rows from a Sweep or a frame."""
    frame = data.frame if isinstance(data, Sweep) else data
    if not isinstance(frame, pd.DataFrame):
        raise InputTypeError(f"expected a bayescale.Sweep or a pandas DataFrame, got "
                        f"{type(data).__name__}.")
    missing = [c for c in ("n_params", "n_tokens", "loss") if c not in frame.columns]
    if missing:
        raise InputError(f"the points lack column(s) {missing}; they need n_params, n_tokens "
                         "and loss (build a bs.Sweep to map your column names).")
    out = frame[["n_params", "n_tokens", "loss"]].astype(float).copy()
    out["excluded"] = frame["excluded"].astype(bool) if "excluded" in frame else False
    out["compute"] = 6.0 * out["n_params"] * out["n_tokens"]
    return out


def _isoflop_groups(points: pd.DataFrame, tol: float = 0.05, min_points: int = 5,
                    min_span: float = 3.0) -> list[tuple[float, np.ndarray]]:
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


def _decades(low: float, high: float, step: float = 1.0) -> np.ndarray:
    """Powers of ten (every ``step`` decades) from ``low`` to ``high``, at least two."""
    first, last = math.ceil(math.log10(low)), math.floor(math.log10(high))
    values = 10.0 ** np.arange(first, last + 1e-9, step)
    return values if values.size >= 2 else np.geomspace(low, high, 3)


def _fitted_compute(post: Posterior) -> tuple[float, float]:
    low, high = post.meta["data"]["log_compute_range"]
    return math.exp(low), math.exp(high)


def _fitted_points(post: Posterior) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    const = post.groups["constant_data"]
    log_n, log_d = const["log_n"].values, const["log_d"].values
    return np.exp(log_n), np.exp(log_d), np.exp(post.groups["observed_data"]["log_loss"].values)


def _loss_draws(post: Posterior, n, d) -> np.ndarray:
    """Per-draw mean loss ``(chain, draw, point)`` at ``(n, d)``, with the law's error beyond
    the fitted compute, as :meth:`Posterior.predict_loss` gives it (and warns)."""
    return post.predict_loss(n, d)["loss_mean"].values


def _log_axes(ax, x=True, y=False):
    if x:
        ax.set_xscale("log")
    if y:
        ax.set_yscale("log")


# ------------------------------------------------------------------------ figures
def plot_fit(
    post: Posterior,
    sweep,
    *,
    compute=None,
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
    ``isoflop_minima``, the lowest measured loss of each budget is marked.
    """
    ci_prob = check_ci_prob(ci_prob)
    points = _points(sweep)
    if compute is None:
        low, high = points["compute"].min(), points["compute"].max()
        compute = np.geomspace(low, 10.0 * high, 200)
    compute = np.sort(np.asarray(compute, dtype=float))
    frontier = post.optimal(compute)["loss_opt"]

    with _style(ax):
        fig, ax = _axes(ax, SINGLE)
        norm = _log_norm(points["n_params"])
        palette = plt.get_cmap(cmap)
        kept, dropped = points[~points["excluded"]], points[points["excluded"]]
        ax.scatter(kept["compute"], kept["loss"], c=kept["n_params"], cmap=palette, norm=norm,
                   s=9, linewidths=0.2, edgecolors="white", zorder=3)
        handles = [_marker("runs", color=palette(0.5), mec="white", mew=0.2)]
        if len(dropped):
            ax.scatter(dropped["compute"], dropped["loss"], facecolors="none",
                       edgecolors=palette(norm(dropped["n_params"].to_numpy())), s=12,
                       linewidths=0.7, zorder=3)
            handles.append(_marker("excluded from fit", mfc="none", mec=palette(0.5)))
        band = _band(ax, compute, frontier, ci_prob, color="black", zorder=4)
        end_med, end_low, end_high = (v[-1] for v in _summary(frontier, ci_prob))
        handles.append((band, f"frontier $L^*(C)$: median, {_pct(ci_prob)} band"))
        ax.text(0.03, 0.03, f"$L^*$ at {_sci(compute[-1])} FLOPs:\n"
                f"{_fmt_interval(end_med, end_low, end_high)} nats/token",
                transform=ax.transAxes, ha="left", va="bottom", fontsize="small")
        groups = _isoflop_groups(kept) if isoflop_minima else []
        if groups:
            best = [rows[np.argmin(kept["loss"].to_numpy()[rows])] for _, rows in groups]
            ax.scatter(kept["compute"].to_numpy()[best], kept["loss"].to_numpy()[best],
                       marker="*", s=40, color="tab:red", edgecolors="black", linewidths=0.3,
                       zorder=5)
            handles.append(_marker("lowest loss per iso-FLOP budget", marker="*", ms=6,
                                   color="tab:red", mec="black", mew=0.3))
        _log_axes(ax)
        ax.set_xlabel(C_LABEL)
        ax.set_ylabel(LOSS_LABEL)
        top, floor = points["loss"].max(), min(end_low, points["loss"].min())
        ax.set_ylim(floor - 0.05 * (top - floor), top + 0.05 * (top - floor))
        _legend(ax, handles, loc="upper right")
        _colorbar(fig, ax, norm, cmap, N_LABEL)
    return fig, ax


def plot_loss_vs_params(
    post: Posterior,
    budgets=None,
    tokens=None,
    *,
    n_range=None,
    span: float = 30.0,
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
    """
    ci_prob = check_ci_prob(ci_prob)
    n_fit, d_fit, _ = _fitted_points(post)
    c_low, c_high = _fitted_compute(post)
    if budgets is None:
        budgets = PF_DAY * _decades(c_low / PF_DAY, 10.0 * c_high / PF_DAY)
    if tokens is None:
        tokens = _decades(d_fit.min(), d_fit.max(), step=0.5)
    budgets = np.sort(planning.as_positive(budgets, "budgets (FLOPs)"))
    tokens = np.sort(planning.as_positive(tokens, "tokens"))
    if n_range is None:
        n_range = (10.0 ** math.floor(math.log10(n_fit.min() / 3)),
                   10.0 ** math.ceil(math.log10(n_fit.max() * 3)))
    n_grid = np.geomspace(*n_range, 150)
    n_opt = np.median(_samples(post.optimal(budgets)["n_opt"]), axis=0)

    with _style(axes):
        fig, axes = _axes(axes, DOUBLE, shape=(2,))
        left, right = axes[0], axes[1]
        palette = plt.get_cmap(cmap)
        pf_norm = _log_norm(budgets / PF_DAY)
        for budget, centre in zip(budgets, n_opt, strict=True):
            n = np.geomspace(centre / span, centre * span, 120)
            color = palette(0.85 * pf_norm(budget / PF_DAY))
            _band(left, n, _loss_draws(post, n, budget / (6.0 * n)), ci_prob, color=color)
        d_norm = _log_norm(tokens)
        for d in tokens:
            color = palette(0.85 * d_norm(d))
            _band(right, n_grid, _loss_draws(post, n_grid, d), ci_prob, color=color)
        for panel, title in ((left, "at fixed compute"), (right, "at fixed training tokens")):
            _log_axes(panel)
            panel.set_xlabel(N_LABEL)
            panel.set_ylabel(LOSS_LABEL)
            panel.set_title(f"{title} (lines: median, bands: {_pct(ci_prob)})")
        clipped = mpl.colors.ListedColormap(palette(np.linspace(0, 0.85, 256)))
        _colorbar(fig, left, pf_norm, clipped, "compute $C$ (PF-days)")
        _colorbar(fig, right, d_norm, clipped, D_LABEL)
    return fig, axes


def plot_frontier(
    post: Posterior,
    compute=None,
    *,
    anchor: float | None = None,
    axes=None,
    ci_prob: float = 0.9,
    color: str = "tab:blue",
):
    """Compute-optimal ``N_opt(C)`` (left) and ``D_opt(C)`` (right) with bands.

    ``compute`` is a grid of budgets in FLOPs (default: the fitted range up to 100× its
    top, where :class:`~bayescale.errors.ExtrapolationWarning` would start). For
    reference, Kaplan et al. 2020's ``N ∝ C^0.73`` (``D ∝ C^0.27``) and Hoffmann et al.
    2022's ``N, D ∝ C^0.5`` are drawn through the posterior median at ``anchor`` (FLOPs;
    default: the geometric middle of the fitted compute). The posterior's own exponent
    (its median and interval, from per-draw slopes) is given in the legend; the grey
    span is the fitted compute range.
    """
    ci_prob = check_ci_prob(ci_prob)
    c_low, c_high = _fitted_compute(post)
    if compute is None:
        compute = np.geomspace(c_low, 99.0 * c_high, 200)
    compute = np.sort(np.asarray(compute, dtype=float))
    if anchor is None:
        anchor = math.sqrt(c_low * c_high)
    opt = post.optimal(np.append(compute, anchor)).dataset
    log_c = np.log(compute)

    with _style(axes):
        fig, axes = _axes(axes, DOUBLE, shape=(2,))
        panels = (
            (axes[0], "n_opt", "compute-optimal size $N_{opt}$ (parameters)", "N",
             (KAPLAN_EXPONENT, CHINCHILLA_EXPONENT)),
            (axes[1], "d_opt", "compute-optimal data $D_{opt}$ (tokens)", "D",
             (1 - KAPLAN_EXPONENT, 1 - CHINCHILLA_EXPONENT)),
        )
        for ax, name, ylabel, symbol, (kaplan, chinchilla) in panels:
            values = opt[name].values
            curve, at_anchor = values[..., :-1], values[..., -1]
            log_v = np.log(curve)
            slope = _samples((log_v[..., -1] - log_v[..., 0]) / (log_c[-1] - log_c[0]))
            s_med, (s_low, s_high) = np.median(slope), eti(slope, ci_prob)
            ax.axvspan(c_low, c_high, color="0.92", zorder=0, linewidth=0)
            band = _band(ax, compute, curve, ci_prob, color=color)
            handles = [(band, (f"posterior: ${symbol} \\propto C^{{{s_med:.2f}}}$ "
                               f"[{s_low:.2f}, {s_high:.2f}], {_pct(ci_prob)}"))]
            y0 = float(np.median(_samples(at_anchor)))
            for exponent, style, who in ((kaplan, "--", "Kaplan et al. 2020"),
                                         (chinchilla, ":", "Hoffmann et al. 2022")):
                handles += ax.plot(compute, y0 * (compute / anchor) ** exponent, color="0.25",
                                   ls=style, lw=0.9,
                                   label=f"{who}: ${symbol} \\propto C^{{{exponent:.2f}}}$")
            ax.plot([anchor], [y0], "o", color="0.25", ms=3, zorder=5)
            _log_axes(ax, x=True, y=True)
            ax.set_xlim(compute[0], compute[-1])
            ax.text(math.sqrt(c_low * c_high), 0.03, "fitted range", color="0.45",
                    ha="center", va="bottom", fontsize="small",
                    transform=ax.get_xaxis_transform())
            ax.set_xlabel(C_LABEL)
            ax.set_ylabel(ylabel)
            _legend(ax, handles, loc="upper left")
    return fig, axes


_PAIR_LABELS = {
    "E": "$E$ (nats/token)",
    "alpha": r"$\alpha$ (exponent of $N$)",
    "beta": r"$\beta$ (exponent of $D$)",
    "n_opt_exponent": r"$a = \beta/(\alpha+\beta)$",
    "A": "$A$ (nats/token)",
    "B": "$B$ (nats/token)",
}


def plot_pairs(
    post: Posterior,
    var_names: Sequence[str] | None = None,
    *,
    axes=None,
    ci_prob: float = 0.9,
    max_points: int = 2000,
    color: str = "tab:blue",
):
    """Pair plot of posterior draws: scatter below the diagonal, histograms on it.

    ``var_names`` default to ``E, alpha, beta, n_opt_exponent`` (``a = β/(α+β)``, the
    exponent of ``N_opt ∝ C^a``) for the Chinchilla law, else the law's parameters. Each
    histogram carries its median (line), ``ci_prob`` interval (shaded) and both as a
    title. Scatters show at most ``max_points`` evenly thinned draws. Returns
    ``(fig, axes)`` with ``axes`` a ``k × k`` array (upper triangle hidden).
    """
    ci_prob = check_ci_prob(ci_prob)
    table = post.posterior.assign(**planning.derived(post))
    if var_names is None:
        var_names = (("E", "alpha", "beta", "n_opt_exponent") if post.law.name == "chinchilla"
                     else post.law.params)
    var_names = list(var_names)
    unknown = [v for v in var_names if v not in table]
    if unknown:
        raise InputError(f"unknown variable(s) {unknown}; choose from {sorted(table.data_vars)}.")
    k = len(var_names)
    values = {v: _samples(table[v]) for v in var_names}
    thin = slice(None, None, max(1, math.ceil(values[var_names[0]].size / max_points)))

    limits = {}
    for v in var_names:
        low, high = np.quantile(values[v], [0.0005, 0.9995])
        pad = 0.05 * (high - low) or 0.05 * abs(high) or 0.05
        limits[v] = (low - pad, high + pad)

    size = 1.6 * k + 0.4
    with _style(axes):
        fig, axes = _axes(axes, (size, size), shape=(k, k))
        for i, row in enumerate(var_names):
            for j, col in enumerate(var_names):
                ax = axes[i, j]
                if j > i:
                    ax.set_visible(False)
                    continue
                if i == j:
                    x = values[col]
                    med, (low, high) = np.median(x), eti(x, ci_prob)
                    ax.hist(x, bins=40, range=limits[col], density=True, color=color,
                            alpha=0.55, linewidth=0)
                    ax.axvspan(low, high, color=color, alpha=0.15, linewidth=0)
                    ax.axvline(med, color="black", lw=0.8)
                    ax.set_title(_fmt_interval(med, low, high), fontsize="small")
                    ax.set_yticks([])
                else:
                    ax.scatter(values[col][thin], values[row][thin], s=1.5, color=color,
                               alpha=0.35, linewidths=0, rasterized=True)
                    ax.set_ylim(limits[row])
                    ax.yaxis.set_major_locator(mpl.ticker.MaxNLocator(4))
                    if j > 0:
                        ax.tick_params(labelleft=False)
                    else:
                        ax.set_ylabel(_PAIR_LABELS.get(row, row))
                ax.set_xlim(limits[col])
                ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(4))
                ax.tick_params(axis="x", labelrotation=45)
                if i < k - 1:
                    ax.tick_params(labelbottom=False)
                else:
                    ax.set_xlabel(_PAIR_LABELS.get(col, col))
        if k > 1:
            fig.suptitle(f"posterior draws; titles: median [{_pct(ci_prob)} interval]",
                         fontsize="small")
    return fig, axes


def plot_ppc(
    post: Posterior,
    holdout=None,
    *,
    ax=None,
    ci_prob: float = 0.9,
    seed: int = 0,
):
    """Observed against posterior-predictive loss, with ``ci_prob`` intervals.

    For each fitted point the posterior-predictive loss (law plus noise, per draw) is
    summarised by its median (marker) and interval (error bar); the legend gives the
    share of observed losses inside their interval. ``holdout`` (a Sweep or a frame with
    ``n_params, n_tokens, loss``) adds held-out points, predicted the same way.
    """
    ci_prob = check_ci_prob(ci_prob)
    n, d, observed = _fitted_points(post)
    sets = [("fitted", n, d, observed, "tab:blue", "o")]
    if holdout is not None:
        held = _points(holdout)
        sets.append(("held out", held["n_params"].to_numpy(), held["n_tokens"].to_numpy(),
                     held["loss"].to_numpy(), "tab:red", "s"))

    with _style(ax):
        fig, ax = _axes(ax, (SINGLE[0], SINGLE[0]))
        lows, highs = [], []
        for name, n_, d_, obs, color, marker in sets:
            draws = post.predict_loss(n_, d_, seed=seed)["loss_predictive"]
            med, low, high = _summary(draws, ci_prob)
            inside = np.mean((obs >= low) & (obs <= high))
            ax.errorbar(obs, med, yerr=[med - low, high - med], fmt=marker, ms=2.2, mew=0,
                        color=color, ecolor=color, elinewidth=0.5, alpha=0.8, zorder=3,
                        label=f"{name}: {len(obs)} points, {100 * inside:.0f}% inside "
                              f"their {_pct(ci_prob)} interval")
            lows.append(min(obs.min(), low.min()))
            highs.append(max(obs.max(), high.max()))
        lo, hi = min(lows), max(highs)
        pad = 0.04 * (hi - lo)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.4", lw=0.7, ls="--",
                zorder=1, label="$y = x$")
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_aspect("equal")
        ax.set_xlabel("observed loss (nats/token)")
        ax.set_ylabel("posterior-predictive loss (nats/token)")
        ax.legend(loc="upper left")
    return fig, ax


def plot_isoflops(
    post: Posterior,
    sweep=None,
    budgets=None,
    *,
    span: float = 10.0,
    tol: float = 0.05,
    ax=None,
    ci_prob: float = 0.9,
    cmap: str = "viridis",
):
    """Iso-FLOP profiles: loss against N at fixed compute, with bands and the optimum.

    ``budgets`` are in FLOPs (default: the sweep's iso-FLOP budgets when it has them,
    else decades over the fitted compute range). Each profile ``L(N, C/6N)`` spans
    ``span``× either side of the median ``N_opt`` (widened to cover its data). The
    optimum of each budget is marked at its median ``(N_opt, L*)`` with ``ci_prob``
    error bars in both. With a ``sweep``, its fitted points (excluded rows are left out)
    within ``tol`` dex of a budget are overlaid in that budget's colour.
    """
    ci_prob = check_ci_prob(ci_prob)
    points = _points(sweep) if sweep is not None else None
    kept = points[~points["excluded"]] if points is not None else None
    if budgets is None:
        groups = _isoflop_groups(kept, tol=tol) if kept is not None else []
        budgets = ([budget for budget, _ in groups] if groups
                   else _decades(*_fitted_compute(post)))
    budgets = np.sort(planning.as_positive(budgets, "budgets (FLOPs)"))
    opt = post.optimal(budgets).dataset
    n_med, n_low, n_high = _summary(opt["n_opt"], ci_prob)
    l_med, l_low, l_high = _summary(opt["loss_opt"], ci_prob)

    with _style(ax):
        fig, ax = _axes(ax, SINGLE)
        norm = _log_norm(budgets)
        palette = plt.get_cmap(cmap)
        for i, budget in enumerate(budgets):
            color = palette(0.9 * norm(budget))
            low, high = n_med[i] / span, n_med[i] * span
            if kept is not None:
                near = kept[np.abs(np.log10(kept["compute"] / budget)) <= tol]
                if len(near):
                    low = min(low, near["n_params"].min() / 1.2)
                    high = max(high, near["n_params"].max() * 1.2)
                    ax.scatter(near["n_params"], near["loss"], color=color, s=7,
                               edgecolors="black", linewidths=0.25, zorder=4)
            n = np.geomspace(low, high, 120)
            _band(ax, n, _loss_draws(post, n, budget / (6.0 * n)), ci_prob, color=color)
            ax.errorbar(n_med[i], l_med[i],
                        xerr=[[n_med[i] - n_low[i]], [n_high[i] - n_med[i]]],
                        yerr=[[l_med[i] - l_low[i]], [l_high[i] - l_med[i]]],
                        fmt="D", ms=3, color=color, mec="black", mew=0.4, ecolor="black",
                        elinewidth=0.7, capsize=1.5, zorder=5)
        _log_axes(ax)
        ax.set_xlabel(N_LABEL)
        ax.set_ylabel(LOSS_LABEL)
        handles = [
            (_band_handle("0.3"), f"profile: median, {_pct(ci_prob)} band"),
            _marker(f"optimum $(N_{{opt}}, L^*)$, {_pct(ci_prob)} intervals", marker="D",
                    mec="black", mew=0.4),
        ]
        if kept is not None:
            handles.append(_marker("runs", mec="black", mew=0.3))
        _legend(ax, handles, loc="lower left", bbox_to_anchor=(0.0, 1.01), ncols=2,
                borderaxespad=0.0, columnspacing=1.0)
        _colorbar(fig, ax, norm, mpl.colors.ListedColormap(palette(np.linspace(0, 0.9, 256))),
                  "compute $C$ (FLOPs)")
    return fig, ax


def _draws_dataset(result, needs: Sequence[str], made_by: str) -> xr.Dataset:
    """The dataset of a :class:`~bayescale.draws.Draws` (or a Dataset), checked for
    ``needs``."""
    ds = result.dataset if isinstance(result, Draws) else result
    if not isinstance(ds, xr.Dataset):
        raise InputTypeError(f"expected the Draws returned by {made_by}, got {type(result).__name__}.")
    missing = [name for name in needs if name not in ds.variables and name not in ds.attrs]
    if missing:
        raise InputError(f"the result lacks {missing}; pass what {made_by} returns.")
    return ds


def _sample_count(ds: xr.Dataset) -> int:
    return int(np.prod([ds.sizes[d] for d in SAMPLE_DIMS]))


def _probability(p: float, draws: int) -> str:
    """``p`` to two decimals, saying so when every draw (or none) agrees."""
    if p >= 1.0:
        return f"1.00 (all {draws} draws)"
    if p <= 0.0:
        return f"0.00 (none of {draws} draws)"
    return f"{p:.2f}"


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

    At ``budget`` (FLOPs) with optimal loss ``L*``, a model of ``N = x·N_opt`` (``x`` in
    ``ratios``, default 80 log-spaced in [0.1, 10]) must train on ``D_x`` tokens to reach
    ``L*``; left is ``C/C_opt = x·D_x/D_opt`` (linear axis), right ``D_x/D_opt`` (tokens,
    or optimizer steps at a fixed batch size; log axis), both per draw
    (:meth:`Posterior.excess_compute`). Sizes too small to ever reach ``L*`` have infinite
    ratios; a ratio is drawn only where fewer than ``(1 − ci_prob)/2`` of the draws are
    infinite (so its whole band is finite), the rest of the axis is hatched and the
    legend says so. The shaded span is the range of sizes within ``1 + tolerance`` of
    optimal compute (:meth:`Posterior.efficient_range`): between the medians of its ends,
    darker where each end's ``ci_prob`` interval lies; the text gives both ends.
    ``group`` picks a group of a per-group fit.
    """
    ci_prob = check_ci_prob(ci_prob)
    if not tolerance > 0:
        raise InputError(f"tolerance must be positive (0.2 means +20% compute), got {tolerance!r}.")
    ratios = np.sort(planning.as_positive(np.geomspace(0.1, 10.0, 80) if ratios is None
                                          else ratios, "ratios (N / N_opt)"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlanningWarning)  # inf ratios: left out below, and said
        excess = post.excess_compute(ratios, budget, group=group).dataset
    span = post.efficient_range(budget, tolerance, group=group).dataset
    limit = 1.0 + tolerance
    pct = f"+{100 * tolerance:g}%"

    compute = excess["compute_ratio"].transpose(*SAMPLE_DIMS, "ratio").values
    tokens = excess["tokens_ratio"].transpose(*SAMPLE_DIMS, "ratio").values
    never = np.isinf(_samples(tokens)).mean(axis=0)
    keep = (np.isfinite(_summary(tokens, ci_prob)[2])
            & np.isfinite(_summary(compute, ci_prob)[2]))
    if not keep.any():
        raise InputError(f"no size in ratios {ratios.min():g}–{ratios.max():g}× N_opt reaches the "
                         f"optimal loss at {budget:.3g} FLOPs in enough draws to draw a band; "
                         "widen ratios towards larger sizes.")
    x = ratios[keep]
    ends = {}
    for end in ("low", "high"):
        values = _samples(span[end])
        values = values[np.isfinite(values)]
        ends[end] = (float(np.median(values)), *(float(v) for v in eti(values, ci_prob)))

    with _style(axes):
        fig, axes = _axes(axes, DOUBLE, shape=(2,))
        left, right = axes[0], axes[1]
        shade = mpl.colors.to_rgba(color, 0.10)
        edge = mpl.colors.to_rgba(color, 0.28)
        for ax in (left, right):
            ax.axvspan(ends["low"][0], ends["high"][0], color=shade, linewidth=0, zorder=0)
            for end in ("low", "high"):
                ax.axvspan(ends[end][1], ends[end][2], color=edge, linewidth=0, zorder=0)
            ax.axvline(1.0, color="0.5", lw=0.6, ls=":", zorder=1)
            if not keep.all():
                ax.axvspan(ratios[0], x[0], facecolor="none", edgecolor="0.75", hatch="////",
                           linewidth=0, zorder=0)
        compute, tokens = compute[..., keep], tokens[..., keep]
        band = _band(left, x, compute, ci_prob, color=color, zorder=3)
        _band(right, x, tokens, ci_prob, color=color, zorder=3)
        left.axhline(limit, color="0.3", lw=0.8, ls="--", zorder=2)
        right.axhline(1.0, color="0.5", lw=0.6, ls=":", zorder=1)

        left.text(0.97, 0.97, f"sizes within {pct} compute, $N/N_{{opt}}$:\n"
                  f"from {_fmt_interval(*ends['low'])}×\nto {_fmt_interval(*ends['high'])}×",
                  transform=left.transAxes, ha="right", va="top", fontsize="small",
                  bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "none", "alpha": 0.85})

        handles = [(band, f"median, {_pct(ci_prob)} band"),
                   (mpl.lines.Line2D([], [], color="0.3", lw=0.8, ls="--"),
                    f"$C/C_{{opt}} = {limit:g}$ ({pct} compute)"),
                   (mpl.patches.Patch(color=shade, linewidth=0),
                    (f"sizes within {pct} compute (median range;\n"
                     f"darker: {_pct(ci_prob)} intervals of its ends)"))]
        if not keep.all():
            share = never[~keep].min()
            handles.append((mpl.patches.Patch(facecolor="none", edgecolor="0.75", hatch="////",
                                              linewidth=0),
                            (f"left out: $N < {x[0]:.2g}\\,N_{{opt}}$ never reaches\n"
                             f"$L^*$ in ≥ {100 * share:.0f}% of draws")))
        ylim_top = max(float(_summary(compute, ci_prob)[2][-1]) * 1.15, limit + 0.5)
        left.set_ylim(0.9, min(ylim_top, 4.5))
        right_low = float(_summary(tokens, ci_prob)[1].min())
        right.set_ylim(right_low / 1.5, max(100.0, right_low * 1e3))
        for ax in (left, right):
            _log_axes(ax)
            ax.set_xlim(ratios[0], ratios[-1])
            ax.set_xlabel("model size relative to optimal, $N/N_{opt}$")
            ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}×"))
        right.set_yscale("log")
        left.set_ylabel("excess compute $C/C_{opt}$")
        right.set_ylabel("excess tokens $D/D_{opt}$ (= steps at fixed batch)")
        where = f", group {group}" if group is not None else ""
        for ax, what in ((left, "compute"), (right, "tokens")):
            ax.set_title(f"{what} to reach $L^*$ of $C_{{opt}}$ = {_sci(budget)} FLOPs{where}")
        _legend(right, handles, loc="upper right", frameon=True, framealpha=0.9,
                edgecolor="none")
    return fig, axes


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

    ``result`` is what :func:`bayescale.allocations.compare_allocations` returns: per-draw
    losses ``loss_a``, ``loss_b`` after each fraction of the budget. Left: loss against
    the tokens each model has seen; right: against the FLOPs spent (both linear, as in
    the paper); an inset zooms on the last 15% of the budget, where the curves end close
    together. A dashed line marks ``target_loss`` (nats/token) when given. The text gives
    ``P(L_B < L_A)`` at the full budget (the share of draws where B ends lower); the
    legend gives both final losses with their ``ci_prob`` intervals. The y-axis covers
    the last 90% of the budget, as losses early on are far higher; ``ax.set_ylim`` shows
    more.
    """
    ci_prob = check_ci_prob(ci_prob)
    made_by = "bayescale.allocations.compare_allocations"
    ds = _draws_dataset(result, ("loss_a", "loss_b", "flops", "tokens_a", "tokens_b",
                                 "labels", "n_a", "n_b", "budget", "p_b_lower"), made_by)
    label_a, label_b = (str(v) for v in ds.attrs["labels"])
    flops = ds["flops"].values
    fraction = ds["fraction"].values if "fraction" in ds else flops / ds.attrs["budget"]
    sides = [{"label": label, "color": color, "n": ds.attrs[f"n_{key}"],
              "loss": ds[f"loss_{key}"].transpose(*SAMPLE_DIMS, "step").values,
              "tokens": ds[f"tokens_{key}"].values}
             for key, label, color in (("a", label_a, colors[0]), ("b", label_b, colors[1]))]
    for side in sides:
        side["final"] = [float(v) for v in _summary(side["loss"][..., -1], ci_prob)]
    p_b = float(ds.attrs["p_b_lower"])

    with _style(axes):
        fig, axes = _axes(axes, DOUBLE, shape=(2,))
        left, right = axes[0], axes[1]
        handles = []
        for side in sides:
            handle = _band(left, side["tokens"], side["loss"], ci_prob, color=side["color"],
                           zorder=3)
            _band(right, flops, side["loss"], ci_prob, color=side["color"], zorder=3)
            handles.append((handle, (f"{side['label']}: $N$ = {_count_label(side['n'])}, "
                                     f"final $L$ = {_fmt_interval(*side['final'])}")))
        if target_loss is not None:
            for ax in (left, right):
                ax.axhline(target_loss, color="0.3", lw=0.8, ls="--", zorder=2)
            handles.append((mpl.lines.Line2D([], [], color="0.3", lw=0.8, ls="--"),
                            f"target loss {target_loss:.4g} nats/token"))
        shown = fraction >= 0.1 - 1e-9
        tops = [float(np.max(_summary(side["loss"][..., shown], ci_prob)[0])) for side in sides]
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
        budget = _sci(float(ds.attrs["budget"]))
        left.set_title(f"two sizes sharing {budget} FLOPs (lines: median, bands: {_pct(ci_prob)})")
        right.set_title("the same against compute spent")
        _legend(left, handles, loc="upper right")
        left.text(0.97, 0.72, f"$P(L_{{{_tex(label_b)}}} < L_{{{_tex(label_a)}}})$ at the full "
                  f"budget:\n{_probability(p_b, _sample_count(ds))}",
                  transform=left.transAxes, ha="right", va="top")
        _zoom_end(right, flops, [(side["loss"], side["color"]) for side in sides], target_loss,
                  ci_prob)
    return fig, axes


def _zoom_end(ax, x, curves, target_loss, ci_prob, start: float = 0.85):
    """An inset of the last ``1 − start`` of ``x``, where the curves end close together."""
    last = x >= start * x[-1]
    inset = ax.inset_axes([0.47, 0.4, 0.5, 0.5])
    lows, highs = [], []
    for loss, color in curves:
        _band(inset, x[last], loss[..., last], ci_prob, color=color)
        _, low, high = _summary(loss[..., last], ci_prob)
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


def _tex(label: str) -> str:
    r"""A label for a mathtext subscript: ``\mathrm{...}`` with spaces escaped."""
    return r"\mathrm{" + label.replace(" ", r"\ ").replace("_", r"\_") + "}"


def _count_label(n: float) -> str:
    """``4.68e9`` as ``4.68B``; ``7.5e7`` as ``75M``."""
    for scale, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.3g}"


def plot_variants(
    result,
    *,
    axes=None,
    ci_prob: float = 0.9,
    colors: Sequence[str] = ("tab:orange", "tab:blue", "tab:green", "tab:purple"),
):
    """Memory per GPU (left) and training time (right) of variant A minus variant B, per
    budget (Shukor et al. 2025, Fig. 4), with interval whiskers.

    ``result`` is what :func:`bayescale.allocations.compare_variants` returns. Each bar
    is the posterior median of ``a − b`` at one budget (``memory_diff_gb`` in GB,
    ``hours_diff`` in hours; the dot marks it too, for bars too short to see) and its
    whisker the ``ci_prob`` interval; the dashed line is zero. Below zero, A needs less
    than B. The number over each bar is ``P(a < b)``, the share of draws where A needs
    less; the grey numbers at the bottom are B's own medians, for scale. When the
    differences carry a dim besides ``(chain, draw, budget)`` (say one per hardware
    setting), each budget gets one bar per value of it, side by side (and no grey
    numbers).
    """
    ci_prob = check_ci_prob(ci_prob)
    made_by = "bayescale.allocations.compare_variants"
    ds = _draws_dataset(result, ("memory_diff_gb", "hours_diff", "budget", "labels"), made_by)
    label_a, label_b = (str(v) for v in ds.attrs["labels"])
    budgets = np.asarray(ds["budget"].values, dtype=float)
    extra = [d for d in ds["memory_diff_gb"].dims if d not in (*SAMPLE_DIMS, "budget")]
    if len(extra) > 1:
        raise InputError(f"expected at most one dim besides (chain, draw, budget), got {extra}.")
    series = ([(None, None)] if not extra
              else [(extra[0], value) for value in ds[extra[0]].values])
    exponent = math.floor(math.log10(budgets.min()))
    width = 0.7 / len(series)
    where = np.arange(budgets.size, dtype=float)
    setting = " × ".join(str(ds.attrs[k]) for k in ("n_gpus", "hardware") if k in ds.attrs)

    with _style(axes):
        fig, axes = _axes(axes, DOUBLE, shape=(2,))
        panels = ((axes[0], "memory_diff_gb", "memory_b_gb", "memory per GPU", "GB"),
                  (axes[1], "hours_diff", "hours_b", "train time", "hours"))
        for ax, name, baseline, what, unit in panels:
            ax.axhline(0.0, color="0.3", lw=0.8, ls="--", zorder=1)
            reach = []
            for k, (dim, value) in enumerate(series):
                diff = ds[name] if dim is None else ds[name].sel({dim: value})
                values = diff.transpose(*SAMPLE_DIMS, "budget").values
                median, low, high = _summary(values, ci_prob)
                below = (_samples(values) < 0).mean(axis=0)
                x = where + (k - (len(series) - 1) / 2) * width
                color = colors[k % len(colors)]
                ax.bar(x, median, width=0.9 * width, color=color, alpha=0.8, zorder=2,
                       label=f"{dim} = {value}" if dim is not None else None)
                ax.errorbar(x, median, yerr=[median - low, high - median], fmt="o", ms=2.5,
                            color="black", elinewidth=0.8, capsize=2.5, zorder=3)
                for xi, hi, p in zip(x, high, below, strict=True):
                    ax.annotate(f"{p:.2f}" if 0 < p < 1 else f"{p:.0f}", (xi, hi), xytext=(0, 2), textcoords="offset points",
                                ha="center", va="bottom", fontsize="x-small")
                reach += [low.min(), high.max()]
            low, high = min(reach + [0.0]), max(reach + [0.0])
            span = high - low or 1.0
            ax.set_ylim(low - 0.22 * span, high + 0.32 * span)
            if not extra and baseline in ds:
                base = _summary(ds[baseline].transpose(*SAMPLE_DIMS, "budget").values, ci_prob)[0]
                for xi, b in zip(where, base, strict=True):
                    ax.text(xi, 0.02, f"{label_b}:\n{b:.3g} {unit}", color="0.45",
                            ha="center", va="bottom", fontsize="x-small",
                            transform=ax.get_xaxis_transform())
            ax.set_xticks(where, [f"{b / 10 ** exponent:g}" for b in budgets])
            ax.set_xlim(-0.6, budgets.size - 0.4)
            ax.set_xlabel(f"compute budget $C$ ($\\times10^{{{exponent}}}$ FLOPs)")
            ax.set_ylabel(f"{what}, {label_a} − {label_b} ({unit})")
            ax.set_title(f"relative {what}" + (f", {setting}" if setting else ""))
            median_of = f"median of {label_a} − {label_b}"
            handles = [(mpl.patches.Patch(color=colors[k % len(colors)], alpha=0.8,
                                          linewidth=0),
                        median_of if dim is None else f"{median_of}, {dim} = {value}")
                       for k, (dim, value) in enumerate(series)]
            handles += [(mpl.lines.Line2D([], [], color="black", lw=0.8, marker="|", ms=5),
                         f"{_pct(ci_prob)} interval"),
                        (mpl.lines.Line2D([], [], ls="none"),
                         f"numbers: $P({_tex(label_a)} < {_tex(label_b)})$")]
            _legend(ax, handles, loc="upper left", ncols=2, columnspacing=1.0)
    return fig, axes
