"""Tests for bayescale.plotting: every figure renders (Agg), returns (fig, ax), labels its
axes, draws the expected lines and bands, and its bands are posterior intervals.

The posterior is built directly from synthetic draws (no sampling): a ``Posterior`` is
plain data, so a Chinchilla-like one with a few dozen draws per chain costs nothing.
"""

from __future__ import annotations

import dataclasses
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.collections import PathCollection, PolyCollection

import bayescale as bs
from bayescale import plotting
from bayescale.fitinfo import DataInfo, FitInfo, SamplerInfo
from bayescale.plotting import bands
from bayescale.plotting.points import isoflop_groups, sweep_points
from bayescale.reference import reference_sweep

plt.switch_backend("Agg")

TRUTH = {"e": np.log(1.8), "a": np.log(450.0), "alpha": 0.34, "b": np.log(2000.0), "beta": 0.37}
BUDGETS = np.array([1e18, 1e19, 1e20, 1e21])
SIZES_PER_BUDGET = 7
CHAINS, DRAWS = 2, 40


def _log_loss(theta, n, d):
    return np.logaddexp(
        theta["e"],
        np.logaddexp(
            theta["a"] - theta["alpha"] * np.log(n), theta["b"] - theta["beta"] * np.log(d)
        ),
    )


def _isoflop_frame(seed=0) -> pd.DataFrame:
    """An iso-FLOP design: at each budget, 7 sizes spanning 25× around the optimum."""
    rng = np.random.default_rng(seed)
    rows = []
    for budget in BUDGETS:
        centre = 0.1 * np.sqrt(budget / 6.0)
        for n in centre * np.geomspace(0.2, 5.0, SIZES_PER_BUDGET):
            d = budget / (6.0 * n)
            loss = np.exp(_log_loss(TRUTH, n, d) + 0.005 * rng.standard_normal())
            rows.append({"n_params": n, "n_tokens": d, "loss": loss})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def sweep():
    frame = _isoflop_frame()
    frame.loc[0, "loss"] *= 1.3  # an outlier, excluded from the fit
    return bs.Sweep.from_frame(frame).exclude([0], reason="test outlier")


@pytest.fixture(scope="module")
def post(sweep):
    """A Chinchilla-law Posterior from synthetic draws scattered around TRUTH."""
    rng = np.random.default_rng(1)
    shape = (CHAINS, DRAWS)
    spread = {"e": 0.01, "a": 0.1, "alpha": 0.01, "b": 0.1, "beta": 0.01}
    dims = ("chain", "draw")
    coords = {"chain": np.arange(CHAINS), "draw": np.arange(DRAWS)}
    draws = {k: (dims, TRUTH[k] + spread[k] * rng.standard_normal(shape)) for k in TRUTH}
    draws["sigma"] = (dims, 0.005 * np.exp(0.1 * rng.standard_normal(shape)))
    draws["nu"] = (dims, 4.0 + rng.uniform(0, 1, shape))
    posterior = xr.Dataset(draws, coords=coords)
    data = sweep.arrays()
    point = {"point": np.arange(data["log_n"].size)}
    observed = xr.Dataset({"log_loss": ("point", data["log_loss"])}, coords=point)
    constant = xr.Dataset(
        {"log_n": ("point", data["log_n"]), "log_d": ("point", data["log_d"])}, coords=point
    )
    info = FitInfo(
        law="chinchilla",
        likelihood="student_t",
        data=DataInfo.from_arrays(data["log_n"], data["log_d"]),
        sampler=SamplerInfo(algorithm="synthetic", chains=CHAINS, draws=DRAWS),
    )
    groups = {
        "posterior": posterior,
        "sample_stats": xr.Dataset(coords=coords),
        "observed_data": observed,
        "constant_data": constant,
    }
    return bs.Posterior(groups=groups, law=bs.get_law("chinchilla"), info=info)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _check_axes(ax, xlog=True):
    assert ax.get_xlabel().strip() and ax.get_ylabel().strip()
    if xlog:
        assert ax.get_xscale() == "log"
    for line in ax.get_lines():
        y = np.asarray(line.get_ydata(), dtype=float)
        if y.size:
            assert np.isfinite(y).any(), f"line {line.get_label()!r} is all NaN"
            assert np.isfinite(y).all(), f"line {line.get_label()!r} has NaN or inf"


def _longest_line(ax):
    return max(ax.get_lines(), key=lambda line: len(line.get_xdata()))


def _count(ax, kind):
    return sum(isinstance(c, kind) for c in ax.collections)


def _render(fig):
    fig.canvas.draw()  # layout and text rendering must not fail (nor warn)


def _colorbar_labels(fig, main_axes):
    return [a.get_ylabel() for a in fig.axes if all(a is not m for m in main_axes)]


# ------------------------------------------------------------------------- figures
def test_plot_fit(post, sweep):
    fig, ax = plotting.plot_fit(post, sweep)
    _render(fig)
    _check_axes(ax)
    assert len(ax.get_lines()) == 1  # the frontier's median
    assert _count(ax, PolyCollection) == 1  # its band
    # fitted runs, the excluded run, and the iso-FLOP minima
    assert _count(ax, PathCollection) == 3
    minima = ax.collections[-1].get_offsets()
    assert len(minima) == len(BUDGETS)
    assert "parameters" in _colorbar_labels(fig, [ax])[0]


def test_plot_fit_without_minima_or_exclusions(post):
    frame = _isoflop_frame(seed=3)
    _fig, ax = plotting.plot_fit(post, frame, isoflop_minima=False, compute=[1e18, 1e20, 1e21])
    _check_axes(ax)
    assert _count(ax, PathCollection) == 1
    assert np.allclose(ax.get_lines()[0].get_xdata(), [1e18, 1e20, 1e21])


def test_plot_loss_vs_params(post):
    budgets, tokens = [1e18, 1e19, 1e20], [1e9, 1e10]
    fig, axes = plotting.plot_loss_vs_params(post, budgets=budgets, tokens=tokens)
    _render(fig)
    assert axes.shape == (2,)
    for ax, lines in zip(axes, (budgets, tokens), strict=True):
        _check_axes(ax)
        assert len(ax.get_lines()) == len(lines)
        assert _count(ax, PolyCollection) == len(lines)
    labels = _colorbar_labels(fig, axes)
    assert any("PF-days" in label for label in labels)
    assert any("tokens" in label for label in labels)


def test_loss_vs_params_left_panel_is_at_fixed_compute(post):
    """Each left-panel curve is U-shaped: loss at C/(6N) has an interior minimum."""
    _, axes = plotting.plot_loss_vs_params(post, budgets=[1e19, 1e20], tokens=[1e9])
    for line in axes[0].get_lines():
        y = line.get_ydata()
        assert 0 < np.argmin(y) < len(y) - 1


def test_plot_loss_vs_params_defaults(post):
    _fig, axes = plotting.plot_loss_vs_params(post)
    for ax in axes:
        _check_axes(ax)
        assert len(ax.get_lines()) >= 2


def test_plot_frontier(post):
    fig, axes = plotting.plot_frontier(post)
    _render(fig)
    assert axes.shape == (2,)
    for ax in axes:
        _check_axes(ax)
        assert ax.get_yscale() == "log"
        # posterior median, Kaplan and Chinchilla references, the anchor point
        assert len(ax.get_lines()) == 4
        assert _count(ax, PolyCollection) == 1
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any("0.73" in t for t in labels) or any("0.27" in t for t in labels)
        assert any("0.50" in t for t in labels)


def test_frontier_references_pass_through_anchor(post):
    anchor = 1e20
    _, axes = plotting.plot_frontier(post, compute=np.geomspace(1e18, 1e22, 50), anchor=anchor)
    opt = post.optimal(anchor)["n_opt"].values.ravel()
    for line in axes[0].get_lines()[1:3]:
        x, y = line.get_xdata(), line.get_ydata()
        assert np.interp(np.log(anchor), np.log(x), np.log(y)) == pytest.approx(
            np.log(np.median(opt)), abs=1e-6
        )


def test_plot_pairs(post):
    fig, axes = plotting.plot_pairs(post)
    _render(fig)
    assert axes.shape == (4, 4)
    visible = [ax for ax in axes.flat if ax.get_visible()]
    assert len(visible) == 10
    for j in range(4):
        assert axes[3, j].get_xlabel().strip()
    for i in range(1, 4):
        assert axes[i, 0].get_ylabel().strip()
    for i in range(4):
        assert axes[i, i].patches  # histogram bars
        for j in range(i):
            assert _count(axes[i, j], PathCollection) == 1
    assert "nats/token" in axes[3, 0].get_xlabel()


def test_plot_pairs_rejects_unknown_names(post):
    with pytest.raises(ValueError, match="unknown variable"):
        plotting.plot_pairs(post, var_names=["E", "gamma"])


def test_plot_pairs_two_variables_and_thinning(post):
    _fig, axes = plotting.plot_pairs(post, var_names=["alpha", "beta"], max_points=10)
    assert axes.shape == (2, 2)
    assert len(axes[1, 0].collections[0].get_offsets()) <= 10


def test_plot_ppc(post, sweep):
    fig, ax = plotting.plot_ppc(post)
    _render(fig)
    _check_axes(ax, xlog=False)
    assert len(ax.containers) == 1
    fitted = ax.containers[0].lines[0]
    assert len(fitted.get_xdata()) == post.info.data.points
    assert any(line.get_label() == "$y = x$" for line in ax.get_lines())


def test_plot_ppc_with_holdout(post, sweep):
    holdout = sweep.frame[sweep.frame["excluded"]]
    _fig, ax = plotting.plot_ppc(post, holdout=holdout)
    _check_axes(ax, xlog=False)
    assert len(ax.containers) == 2
    assert len(ax.containers[1].lines[0].get_xdata()) == 1
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("held out") for t in legend)


def test_plot_isoflops_with_sweep(post, sweep):
    fig, ax = plotting.plot_isoflops(post, sweep)
    _render(fig)
    _check_axes(ax)
    # budgets found in the data: one band and one scatter of runs per budget
    assert _count(ax, PolyCollection) == len(BUDGETS)
    assert _count(ax, PathCollection) == len(BUDGETS)
    assert len(ax.containers) == len(BUDGETS)  # optimum with error bars
    assert "FLOPs" in _colorbar_labels(fig, [ax])[0]


def test_plot_isoflops_optimum_matches_query(post):
    budgets = [1e19, 1e21]
    _fig, ax = plotting.plot_isoflops(post, budgets=budgets)
    assert _count(ax, PolyCollection) == 2
    assert _count(ax, PathCollection) == 0
    table = post.optimal(budgets).interval(0.9)
    n_med = table[table["quantity"] == "n_opt"]["median"].to_numpy()
    marked = [c.lines[0].get_xdata()[0] for c in ax.containers]
    assert np.allclose(marked, n_med)


def test_plot_excess_compute(post):
    fig, axes = plotting.plot_excess_compute(post, 1e20, ratios=np.geomspace(0.2, 5.0, 30))
    _render(fig)
    assert axes.shape == (2,)
    left, right = axes
    for ax in axes:
        _check_axes(ax)
        assert _count(ax, PolyCollection) == 1  # one band
    assert left.get_yscale() == "linear" and right.get_yscale() == "log"
    assert "C_{opt}" in left.get_ylabel() and "D/D_{opt}" in right.get_ylabel()
    median = _longest_line(left)
    x, y = median.get_xdata(), median.get_ydata()
    assert len(x) == 30
    assert np.min(y) == pytest.approx(1.0, abs=0.01)  # C/C_opt = 1 at the optimum
    assert x[np.argmin(y)] == pytest.approx(1.0, rel=0.15)
    assert any(line.get_ydata()[0] == pytest.approx(1.2) for line in left.get_lines())
    # the +20% range is written with both ends' medians
    ends = post.efficient_range(1e20).interval(0.9)["median"].to_numpy()
    text = " ".join(t.get_text() for t in left.texts)
    assert "+20%" in text and f"{ends[0]:.2f}"[:3] in text and f"{ends[1]:.2f}"[:3] in text
    legend = [t.get_text() for t in right.get_legend().get_texts()]
    assert not any("left out" in t for t in legend)  # every size reaches L* here


def test_plot_excess_compute_leaves_out_unreachable_sizes(post):
    """Sizes that never reach L* give inf ratios: no warning escapes, no inf or NaN is
    drawn, and the legend says what was left out."""
    ratios = np.geomspace(0.01, 10.0, 60)
    with pytest.warns(bs.PlanningWarning):  # the query warns ...
        raw = post.excess_compute(ratios, 1e20)["tokens_ratio"].values
    assert np.isinf(raw).any()
    fig, axes = plotting.plot_excess_compute(post, 1e20, ratios=ratios)  # ... the plot does not
    _render(fig)
    for ax in axes:
        _check_axes(ax)  # all drawn values finite
        x = _longest_line(ax).get_xdata()
        assert x.min() > ratios.min() and x.max() == pytest.approx(ratios.max())
    legend = [t.get_text() for t in axes[1].get_legend().get_texts()]
    assert any("left out" in t for t in legend)


def test_plot_excess_compute_needs_a_reachable_size(post):
    with pytest.raises(ValueError, match="widen ratios"):
        plotting.plot_excess_compute(post, 1e20, ratios=[0.001, 0.002])


def _allocation_draws(p_b_lower=0.8):
    """Hand-built Draws shaped like compare_allocations' result."""
    rng = np.random.default_rng(4)
    steps = 20
    fraction = np.geomspace(0.01, 1.0, steps)
    budget, n_a, n_b = 1e21, 4.68e9, 2.8e9
    flops = fraction * budget
    shift = rng.normal(0.0, 0.003, (CHAINS, DRAWS, 1))
    loss_a = 2.0 + 0.3 * fraction[None, None, :] ** -0.3 + shift
    loss_b = loss_a - 0.01 + rng.normal(0.0, 0.004, (CHAINS, DRAWS, 1))
    dims = ("chain", "draw", "step")
    ds = xr.Dataset(
        {"loss_a": (dims, loss_a), "loss_b": (dims, loss_b)},
        coords={
            "chain": np.arange(CHAINS),
            "draw": np.arange(DRAWS),
            "fraction": ("step", fraction),
            "flops": ("step", flops),
            "tokens_a": ("step", flops / (6 * n_a)),
            "tokens_b": ("step", flops / (6 * n_b)),
        },
        attrs={
            "labels": ["Kaplan", "Chinchilla"],
            "n_a": n_a,
            "n_b": n_b,
            "budget": budget,
            "p_b_lower": p_b_lower,
        },
    )
    return bs.Draws(ds)


def test_plot_allocations():
    result = _allocation_draws()
    fig, axes = plotting.plot_allocations(result, target_loss=2.3)
    _render(fig)
    assert axes.shape == (2,)
    for ax in axes:
        _check_axes(ax, xlog=False)
        assert len(ax.get_lines()) == 3  # two medians and the dashed target
        assert _count(ax, PolyCollection) == 2
        assert ax.get_lines()[-1].get_linestyle() == "--"
    assert "tokens" in axes[0].get_xlabel() and "FLOPs" in axes[1].get_xlabel()
    assert np.allclose(axes[0].get_lines()[0].get_xdata(), result["tokens_a"].values)
    assert np.allclose(axes[1].get_lines()[1].get_xdata(), result["flops"].values)
    assert any("0.80" in t.get_text() for t in axes[0].texts)  # P(B lower than A)
    legend = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert any(t.startswith("Kaplan") for t in legend)
    assert any(t.startswith("Chinchilla") for t in legend)
    (zoom,) = axes[1].child_axes  # the last 15% of the budget, units as its parent's
    assert all(np.isfinite(line.get_ydata()).all() for line in zoom.get_lines())
    assert _count(zoom, PolyCollection) == 2
    assert zoom.get_lines()[0].get_xdata().min() >= 0.85 * result["flops"].values[-1]


def test_plot_allocations_without_target_and_certain():
    _fig, axes = plotting.plot_allocations(_allocation_draws(p_b_lower=1.0))
    assert len(axes[0].get_lines()) == 2
    assert any(f"all {CHAINS * DRAWS} draws" in t.get_text() for t in axes[0].texts)


def test_plot_allocations_from_compare_allocations(post):
    from bayescale.comparisons import compare_allocations

    n_opt = float(post.optimal(1e20)["n_opt"].median())
    result = compare_allocations(post, 1e20, 3 * n_opt, n_opt, labels=("big", "optimal"), points=25)
    fig, axes = plotting.plot_allocations(result, target_loss=2.5)
    _render(fig)
    for ax in axes:
        _check_axes(ax, xlog=False)
        assert _count(ax, PolyCollection) == 2


def _variant_draws(extra=None):
    """Hand-built Draws shaped like compare_variants' result: A needs 3 GB less memory
    (every draw) and about as much time (no sign)."""
    rng = np.random.default_rng(5)
    budgets = np.array([2e21, 4e21, 6e21])
    shape = (CHAINS, DRAWS, budgets.size) + ((len(extra[1]),) if extra else ())
    dims = ("chain", "draw", "budget") + ((extra[0],) if extra else ())
    mem_b = 30.0 + rng.normal(0.0, 1.0, shape)
    mem_a = mem_b - 3.0 + rng.normal(0.0, 0.3, shape)
    hours_b = 100.0 * np.arange(1, 4).reshape((1, 1, 3) + (1,) * bool(extra)) + rng.normal(
        0.0, 5.0, shape
    )
    hours_a = hours_b + rng.normal(0.0, 2.0, shape)
    coords = {"chain": np.arange(CHAINS), "draw": np.arange(DRAWS), "budget": budgets}
    if extra:
        coords[extra[0]] = extra[1]
    data = {
        "memory_a_gb": mem_a,
        "memory_b_gb": mem_b,
        "memory_diff_gb": mem_a - mem_b,
        "memory_ratio": mem_a / mem_b,
        "hours_a": hours_a,
        "hours_b": hours_b,
        "hours_diff": hours_a - hours_b,
        "hours_ratio": hours_a / hours_b,
    }
    ds = xr.Dataset(
        {k: (dims, v) for k, v in data.items()},
        coords=coords,
        attrs={"labels": ["early", "late"], "hardware": "H100", "n_gpus": 16},
    )
    return bs.Draws(ds)


def test_plot_variants():
    result = _variant_draws()
    fig, axes = plotting.plot_variants(result)
    _render(fig)
    assert axes.shape == (2,)
    for ax, name, unit in zip(axes, ("memory_diff_gb", "hours_diff"), ("GB", "hours"), strict=True):
        _check_axes(ax, xlog=False)
        assert unit in ax.get_ylabel() and "early − late" in ax.get_ylabel()
        assert "FLOPs" in ax.get_xlabel()
        assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "4", "6"]
        bars = [p for p in ax.patches if isinstance(p, plt.Rectangle)]
        assert len(bars) == 3
        medians = np.median(result[name].values.reshape(-1, 3), axis=0)
        assert np.allclose([b.get_height() for b in bars], medians)
        assert len(ax.containers) == 2  # the bars and their whiskers
        zero = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
        assert zero and np.allclose(zero[0].get_ydata(), 0.0)
        assert "16 × H100" in ax.get_title()
    # P(a < b) over each bar: 1 for memory in every draw
    assert [t.get_text() for t in axes[0].texts if not t.get_text().startswith("late")] == ["1"] * 3
    assert all(b.get_height() < 0 for b in axes[0].patches if isinstance(b, plt.Rectangle))


def test_plot_variants_groups_bars_by_an_extra_dim():
    result = _variant_draws(extra=("hardware", ["H100", "A100"]))
    fig, axes = plotting.plot_variants(result)
    _render(fig)
    for ax in axes:
        bars = [p for p in ax.patches if isinstance(p, plt.Rectangle)]
        assert len(bars) == 6
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert sum("hardware = H100" in t or "hardware = A100" in t for t in legend) == 2


def test_plot_variants_from_compare_variants(post):
    from bayescale.comparisons import compare_variants

    result = compare_variants(post, post, [1e20, 1e21], n_gpus=8, labels=["x", "y"])
    fig, axes = plotting.plot_variants(result)
    _render(fig)
    for ax in axes:
        _check_axes(ax, xlog=False)
        assert len([p for p in ax.patches if isinstance(p, plt.Rectangle)]) == 2


def test_result_plots_reject_other_objects(post):
    with pytest.raises(TypeError, match="compare_allocations"):
        plotting.plot_allocations(post)
    with pytest.raises(ValueError, match="compare_variants"):
        plotting.plot_variants(_allocation_draws())


# --------------------------------------------------------------- shared behaviour
@pytest.mark.parametrize("name", ["plot_fit", "plot_ppc", "plot_isoflops"])
def test_draws_on_given_axes(post, sweep, name):
    fig, ax = plt.subplots()
    args = (post, sweep) if name == "plot_fit" else (post,)
    out_fig, out_ax = getattr(plotting, name)(*args, ax=ax)
    assert out_ax is ax and out_fig is fig


@pytest.mark.parametrize(
    "name",
    [
        "plot_loss_vs_params",
        "plot_frontier",
        "plot_excess_compute",
        "plot_allocations",
        "plot_variants",
    ],
)
def test_two_panel_figures_use_given_axes(post, name):
    fig, axes = plt.subplots(1, 2)
    args = {
        "plot_excess_compute": (post, 1e20),
        "plot_allocations": (_allocation_draws(),),
        "plot_variants": (_variant_draws(),),
    }.get(name, (post,))
    out_fig, out_axes = getattr(plotting, name)(*args, axes=axes)
    assert out_fig is fig and out_axes is axes


def test_wrong_axes_shape_is_explained(post):
    _, axes = plt.subplots(1, 3)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        plotting.plot_frontier(post, axes=axes)


@pytest.mark.parametrize("ci_prob", [0.0, 1.0, 1.5])
def test_bad_ci_prob(post, ci_prob):
    with pytest.raises(ValueError, match="ci_prob"):
        plotting.plot_frontier(post, ci_prob=ci_prob)


def test_band_is_the_per_draw_interval():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(2, 500, 3)) * np.array([1.0, 2.0, 3.0])
    _fig, ax = plt.subplots()
    bands.band(ax, np.arange(3), values, 0.8, color="k")
    flat = values.reshape(-1, 3)
    assert np.allclose(ax.get_lines()[0].get_ydata(), np.median(flat, axis=0))
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    low, high = np.quantile(flat, [0.1, 0.9], axis=0)
    assert np.allclose(band.min(), low.min()) and np.allclose(band.max(), high.max())


def test_wider_ci_prob_gives_wider_band(post):
    widths = []
    for ci_prob in (0.5, 0.95):
        _, axes = plotting.plot_frontier(post, ci_prob=ci_prob)
        vertices = axes[0].collections[0].get_paths()[0].vertices
        widths.append(np.ptp(np.log(vertices[:, 1])))
    assert widths[1] > widths[0]


def test_isoflop_groups_find_the_design():
    points = sweep_points(_isoflop_frame())
    groups = isoflop_groups(points)
    assert np.allclose([budget for budget, _ in groups], BUDGETS, rtol=1e-6)
    assert all(rows.size == SIZES_PER_BUDGET for _, rows in groups)


def test_isoflop_groups_none_without_structure():
    rng = np.random.default_rng(2)
    n, d = 10 ** rng.uniform(7, 10, 40), 10 ** rng.uniform(9, 12, 40)
    frame = pd.DataFrame({"n_params": n, "n_tokens": d, "loss": np.full(40, 3.0)})
    assert isoflop_groups(sweep_points(frame)) == []


def test_points_need_the_columns():
    with pytest.raises(ValueError, match="n_tokens"):
        sweep_points(pd.DataFrame({"n_params": [1.0], "loss": [2.0]}))
    with pytest.raises(TypeError, match="DataFrame"):
        sweep_points([1, 2, 3])


# ------------------------------------------------------------ per-group posteriors
GADRE_GROUPS = ["c4_original", "rpj", "rw_original"]


@pytest.fixture(scope="module")
def gadre():
    """The shipped gadre_overtrain fit (partial pooling over three training corpora),
    thinned to 100 draws per chain: enough for figures, and fast."""
    post = bs.load_reference("gadre_overtrain")
    groups = dict(post.groups)
    for name in ("posterior", "sample_stats"):
        groups[name] = groups[name].isel(draw=slice(None, None, 10))
    return dataclasses.replace(post, groups=groups)


@pytest.fixture(scope="module")
def gadre_sweep():
    return reference_sweep("gadre_overtrain")


def _figure_of(name, post, sweep, **kw):
    """Call plotting function ``name`` on ``post`` (with ``sweep`` where it draws data)."""
    args = (post, sweep) if name in ("plot_fit", "plot_isoflops") else (post,)
    if name == "plot_excess_compute":
        args = (post, 1e21)
    return getattr(plotting, name)(*args, **kw)


GROUP_FIGURES = [
    "plot_fit",
    "plot_isoflops",
    "plot_loss_vs_params",
    "plot_frontier",
    "plot_pairs",
    "plot_ppc",
    "plot_excess_compute",
]


@pytest.mark.parametrize("name", GROUP_FIGURES)
@pytest.mark.parametrize("group", ["rpj", "new"])
def test_every_figure_draws_one_group(gadre, gadre_sweep, name, group):
    fig, _ = _figure_of(name, gadre, gadre_sweep, group=group)
    _render(fig)
    for ax in fig.axes:
        if ax.get_label() != "<colorbar>":
            for line in ax.get_lines():
                assert np.isfinite(np.asarray(line.get_ydata(), dtype=float)).all()


EVERY_GROUP_FIGURES = ("plot_ppc", "plot_frontier")  # draw every group without group=


@pytest.mark.parametrize("name", GROUP_FIGURES)
def test_per_group_posterior_needs_a_group(gadre, gadre_sweep, name):
    """Without group= (or with one it does not have) the error lists the groups."""
    for group in ("nope",) if name in EVERY_GROUP_FIGURES else (None, "nope"):
        with pytest.raises(bs.InputError, match="per group") as err:
            _figure_of(name, gadre, gadre_sweep, group=group)
        assert all(g in str(err.value) for g in (*GADRE_GROUPS, "new"))
        assert f"got {group!r}" in str(err.value)


@pytest.mark.parametrize("name", GROUP_FIGURES)
def test_group_on_a_posterior_without_groups(post, sweep, name):
    with pytest.raises(bs.InputError, match=r"no groups.*drop group='rpj'"):
        _figure_of(name, post, sweep, group="rpj")


def test_plot_fit_shows_the_group_s_points_and_frontier(gadre, gadre_sweep):
    compute = np.geomspace(1e17, 1e22, 20)
    _fig, ax = plotting.plot_fit(gadre, gadre_sweep, compute=compute, group="rpj")
    rows = (gadre_sweep.frame["group"] == "rpj").sum()
    assert len(ax.collections[0].get_offsets()) == rows
    expected = np.median(gadre.optimal(compute, group="rpj")["loss_opt"].values.reshape(-1, 20), 0)
    assert np.allclose(ax.get_lines()[0].get_ydata(), expected)
    other = np.median(
        gadre.optimal(compute, group="c4_original")["loss_opt"].values.reshape(-1, 20), 0
    )
    assert not np.allclose(expected, other, rtol=1e-3)  # the group matters
    assert ax.get_title() == "group rpj"


def test_plot_fit_needs_the_group_column(gadre, gadre_sweep):
    frame = gadre_sweep.frame.drop(columns="group")
    with pytest.raises(bs.InputError, match="no group column"):
        plotting.plot_fit(gadre, frame, group="rpj")


def test_plot_frontier_of_a_group_is_its_optimum(gadre):
    compute = np.geomspace(1e18, 1e22, 10)
    _, axes = plotting.plot_frontier(gadre, compute, group="rw_original")
    n_opt = gadre.optimal(compute, group="rw_original")["n_opt"].values.reshape(-1, 10)
    assert np.allclose(axes[0].get_lines()[0].get_ydata(), np.median(n_opt, axis=0))


def test_plot_frontier_draws_every_group_each_its_own_optimum(gadre):
    compute = np.geomspace(1e18, 1e22, 10)
    _, axes = plotting.plot_frontier(gadre, compute)
    medians = axes[0].get_lines()[: len(gadre.groups_answered)]  # then the reference lines
    for group, line in zip(gadre.groups_answered, medians, strict=True):
        n_opt = gadre.optimal(compute, group=group)["n_opt"].values.reshape(-1, 10)
        assert np.allclose(line.get_ydata(), np.median(n_opt, axis=0))
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    groups = len(gadre.groups_answered)
    assert [label.split(":")[0] for label in labels[:groups]] == gadre.groups_answered
    colors = {tuple(line.get_color()) for line in medians}
    assert len(colors) == len(gadre.groups_answered)


def test_plot_pairs_of_a_group_and_of_a_new_one(gadre):
    _, axes = plotting.plot_pairs(gadre, ["alpha", "beta"], group="rpj")
    median = axes[0, 0].get_lines()[0].get_xdata()[0]
    assert median == pytest.approx(float(gadre.posterior["alpha"].sel(group="rpj").median()))
    spreads = {}
    for group in ("rpj", "new"):
        _, axes = plotting.plot_pairs(gadre, ["alpha", "beta"], group=group)
        spreads[group] = np.ptp(axes[1, 0].collections[0].get_offsets()[:, 0])
    assert spreads["new"] > spreads["rpj"]  # a new corpus is less known than a fitted one


def test_plot_ppc_per_group(gadre):
    counts = [int((gadre.groups["constant_data"]["group"] == k).sum()) for k in range(3)]
    _, ax = plotting.plot_ppc(gadre)
    assert [len(c.lines[0].get_xdata()) for c in ax.containers] == counts
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert all(any(g in label for label in labels) for g in GADRE_GROUPS)
    _, ax = plotting.plot_ppc(gadre, group="rpj")
    assert [len(c.lines[0].get_xdata()) for c in ax.containers] == [counts[1]]
    with pytest.raises(bs.InputError, match="per group"):
        plotting.plot_ppc(gadre, holdout=reference_sweep("gadre_overtrain"))


def test_plot_isoflops_optimum_of_a_group(gadre):
    budgets = [1e19, 1e21]
    _, ax = plotting.plot_isoflops(gadre, budgets=budgets, group="rpj")
    n_opt = gadre.optimal(budgets, group="rpj")["n_opt"].values.reshape(-1, 2)
    markers = [c.lines[0].get_xdata()[0] for c in ax.containers]
    assert np.allclose(markers, np.median(n_opt, axis=0))


def test_bands_state_their_width_where_they_may_be_hidden_by_the_line():
    # inside the fitted range the bands of the mean loss can be narrower than the lines,
    # so the figures say how wide they are (issue 20: "invisible while the title says 90%")
    post = bs.load_reference("chinchilla")
    fig, axes = plotting.plot_loss_vs_params(post)
    for ax in axes:
        assert re.search(r"90% bands, at most ±\d[\d.]*% of the loss", ax.get_title())
    plt.close(fig)
    fig, ax = plotting.plot_isoflops(post, budgets=[1e19, 1e20])
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert any(re.search(r"90% band \(at most ±\d[\d.]*%\)", label) for label in labels)
    plt.close(fig)
