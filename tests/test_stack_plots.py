"""Figures and ``bayescale plot`` drawn from a stack of laws.

A figure whose quantities are planning queries draws a :class:`~bayescale.Stack` as it
draws one posterior: each band is the equal-tailed interval of the stack's mixed draws
(recomputed here from the query), a one-component stack of weight 1 draws the single
posterior's bands exactly, and the figure names the laws and weights it mixes. Figures of
one law's own draws refuse a stack and name a component to pass. ``plan --target-loss``
on a stack warns once, with the mixture's share of draws.

No sampling: the components are the made-up posteriors of ``tests/test_lfo.py`` (iid
draws around known parameters; the biased one's exponent is off by 0.05, so the laws'
bands differ and a figure drawn from one law alone would fail the checks). The stack's
seed (2) only fixes which draws it selects; every assertion holds for any seed.
"""

from __future__ import annotations

import json
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from test_cli_behaviour import command
from test_lfo import made_up_posterior

import bayescale as bs
from bayescale import plotting
from bayescale.draws import eti
from bayescale.plotting.bands import samples
from bayescale.stacking import Stack

from conftest import synthetic_sweep

CI = 0.9  # the figures' default ci_prob
WEIGHTS = {"true": 0.25, "biased": 0.75}  # unequal, so the mixture is neither law alone
NAMED = "mixture of true 0.25, biased 0.75"  # how a figure names the stack of WEIGHTS


@pytest.fixture(scope="module")
def sweep():
    return bs.Sweep.from_frame(synthetic_sweep())


@pytest.fixture(scope="module")
def mixed(sweep):
    """Two made-up posteriors whose optima differ, weighted 0.25 / 0.75."""
    components = {
        "true": made_up_posterior(sweep),
        "biased": made_up_posterior(sweep, shift=0.05),
    }
    # any seed: it fixes which component each mixed draw comes from, and every test below
    # compares the figure with the same Stack's own draws, never with a stored number
    return Stack(components, WEIGHTS, seed=2)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _bands(ax) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(x, low, high)`` of each band ``fill_between`` drew on ``ax``, in drawing order:
    its polygon runs from ``(x0, high0)`` along the low edge, then back along the high."""
    out = []
    for collection in ax.collections:
        if not isinstance(collection, PolyCollection):
            continue
        vertices = collection.get_paths()[0].vertices
        n = (len(vertices) - 3) // 2
        low, high = vertices[1 : n + 1], vertices[n + 2 : 2 * n + 2][::-1]
        out.append((low[:, 0], low[:, 1], high[:, 1]))
    return out


def _interval(values) -> tuple[np.ndarray, np.ndarray]:
    """The equal-tailed ``CI`` interval over draws of ``(chain, draw, ...)`` values."""
    return eti(samples(values), CI, axis=0)


def _assert_band(band, values, rtol=1e-9) -> None:
    """``band`` is the ``CI`` interval of ``values`` (float64 draws: equal to rounding;
    1e-9 leaves room for matplotlib's float64 vertex arithmetic, ~1e-16 per operation)."""
    _, low, high = band
    want_low, want_high = _interval(values)
    np.testing.assert_allclose(low, want_low, rtol=rtol)
    np.testing.assert_allclose(high, want_high, rtol=rtol)


def _texts(fig) -> str:
    """Every title and legend entry of ``fig``."""
    parts = []
    for ax in fig.axes:
        parts.append(ax.get_title())
        legend = ax.get_legend()
        if legend is not None:
            parts += [text.get_text() for text in legend.get_texts()]
    return " | ".join(parts)


# ----------------------------------------------------------- bands of the mixture
def test_plot_fit_draws_the_mixtures_frontier(mixed, sweep):
    compute = np.geomspace(1e18, 1e22, 12)  # the sweep's range and one decade beyond
    fig, ax = plotting.plot_fit(mixed, sweep, compute=compute)
    (band,) = _bands(ax)
    np.testing.assert_allclose(band[0], compute)
    _assert_band(band, mixed.optimal(compute)["loss_opt"])
    assert NAMED in _texts(fig)
    # neither law alone draws this band: the check above can tell them apart
    for post in mixed.components.values():
        alone = _interval(post.optimal(compute)["loss_opt"])
        # 1e-3: far above rounding (1e-9 above) and far below the components' difference
        # (their made-up optima differ by the 5% shift)
        assert not np.allclose(band[2], alone[1], rtol=1e-3)


def test_plot_frontier_draws_the_mixtures_optima(mixed):
    compute = np.geomspace(1e18, 1e23, 10)  # inside and beyond the fitted compute
    _fig, axes = plotting.plot_frontier(mixed, compute)
    opt = mixed.optimal(compute)
    for ax, name in zip(axes, ("n_opt", "d_opt"), strict=True):
        (band,) = _bands(ax)
        _assert_band(band, opt[name])
        assert NAMED in ax.get_title()


def test_plot_isoflops_draws_the_mixtures_profiles(mixed):
    budgets = [1e19, 1e21]  # two budgets inside the fitted compute
    fig, ax = plotting.plot_isoflops(mixed, budgets=budgets)
    bands = _bands(ax)
    assert len(bands) == len(budgets)
    for (n, *_), budget, band in zip(bands, budgets, bands, strict=True):
        _assert_band(band, mixed.predict_loss(n, budget / (6.0 * n))["loss_mean"])
    assert NAMED in _texts(fig)


def test_plot_loss_vs_params_draws_the_mixtures_losses(mixed):
    budgets, tokens = [1e19, 1e21], [1e10, 1e11]  # within the fitted compute and tokens
    _fig, (left, right) = plotting.plot_loss_vs_params(mixed, budgets, tokens, n_range=(1e8, 1e10))
    for band, budget in zip(_bands(left), budgets, strict=True):
        n = band[0]
        _assert_band(band, mixed.predict_loss(n, budget / (6.0 * n))["loss_mean"])
    for band, d in zip(_bands(right), tokens, strict=True):
        _assert_band(band, mixed.predict_loss(band[0], d)["loss_mean"])
    assert NAMED in left.get_title() and NAMED in right.get_title()


def test_plot_excess_compute_draws_the_mixtures_ratios(mixed):
    ratios = np.geomspace(0.5, 2.0, 9)  # near the optimum: every draw reaches L*
    _fig, (left, right) = plotting.plot_excess_compute(mixed, 1e20, ratios)
    excess = mixed.excess_compute(ratios, 1e20)
    (compute,), (tokens,) = _bands(left), _bands(right)
    _assert_band(compute, excess["compute_ratio"])
    _assert_band(tokens, excess["tokens_ratio"])
    assert NAMED in left.get_title()


def test_plot_ppc_draws_the_mixtures_predictions(mixed):
    _fig, ax = plotting.plot_ppc(mixed, seed=3)  # seed: the predictive draws compared below
    const = mixed.groups["constant_data"]
    n, d = np.exp(const["log_n"].values), np.exp(const["log_d"].values)
    predictive = mixed.predict_loss(n, d, seed=3)["loss_predictive"]
    np.testing.assert_allclose(  # the same float64 draws: equal to rounding
        ax.lines[0].get_ydata(), np.median(samples(predictive), axis=0), rtol=1e-9
    )
    assert ax.get_title() == NAMED


FIGURES = {
    "plot_fit": lambda post, sweep: plotting.plot_fit(post, sweep),
    "plot_frontier": lambda post, sweep: plotting.plot_frontier(post),
    "plot_isoflops": lambda post, sweep: plotting.plot_isoflops(post, sweep),
    "plot_loss_vs_params": lambda post, sweep: plotting.plot_loss_vs_params(post),
    "plot_excess_compute": lambda post, sweep: plotting.plot_excess_compute(post, 1e20),
    "plot_ppc": lambda post, sweep: plotting.plot_ppc(post),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_a_stack_of_one_law_draws_that_laws_bands(mixed, sweep, name):
    post = mixed.components["true"]
    alone = Stack({"true": post}, {"true": 1.0})
    with warnings.catch_warnings():
        # the same warnings for both, tested elsewhere
        warnings.simplefilter("ignore", bs.PlanningWarning)
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)
        one, _ = FIGURES[name](post, sweep)
        other, _ = FIGURES[name](alone, sweep)
    drawn = [_bands(ax) for ax in one.axes]
    again = [_bands(ax) for ax in other.axes]
    assert [len(b) for b in drawn] == [len(b) for b in again]
    for ours, theirs in zip(drawn, again, strict=True):
        for band, same in zip(ours, theirs, strict=True):
            for values, equal in zip(band, same, strict=True):
                np.testing.assert_array_equal(values, equal)
    for ours, theirs in zip(one.axes, other.axes, strict=True):
        for line, same in zip(ours.lines, theirs.lines, strict=True):
            np.testing.assert_array_equal(line.get_xydata(), same.get_xydata())
    assert "mixture of true 1.00" in _texts(other)


# ------------------------------------------------------- figures of one law's draws
def test_plot_pairs_asks_for_one_component(mixed):
    with pytest.raises(bs.InputError, match=r"plot_pairs\(stack.components\['true'\]"):
        plotting.plot_pairs(mixed)


def test_plot_suggestions_draws_the_mixtures_runs_and_optimum(mixed):
    budget = 1e22
    result = bs.suggest_runs(mixed, target="n_opt", budget=budget, max_compute=1e20, k=2)
    fig, ax = plotting.plot_suggestions(mixed, result, ci_prob=CI)
    assert NAMED in _texts(fig)
    # the thick segment of the iso-FLOP line spans the mixture's N_opt interval
    low, high = eti(mixed.optimal(budget)["n_opt"].values.ravel(), CI)
    band = max(ax.get_lines(), key=lambda line: line.get_linewidth()).get_xdata()
    # geomspace's end points are the interval's bounds but for float64 rounding (~1e-16)
    np.testing.assert_allclose([band.min(), band.max()], [low, high], rtol=1e-9)


def test_a_figure_of_laws_fitted_to_different_points_asks_for_one_component(sweep):
    fewer = bs.Sweep.from_frame(synthetic_sweep().iloc[:-6])  # the largest size left out
    components = {"all": made_up_posterior(sweep)}
    components["fewer"] = made_up_posterior(fewer)
    odd = Stack(components, {"all": 0.5, "fewer": 0.5})
    odd.optimal(1e20)  # the queries answer; only what a figure draws of the data is refused
    match = r"'all' and 'fewer' were fitted to different data \(constant_data.log_n"
    with pytest.raises(bs.InputError, match=match + r".*stack.components\['all'\]"):
        plotting.plot_frontier(odd)  # its grey span is the fitted range, which they lack
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)  # 10x the top: on purpose
        plotting.plot_fit(odd, sweep)  # the sweep given, against the mixture's queries


# -------------------------------------------------------- target losses, warned once
def _missed_by_some(mixed) -> float:
    """A target loss that some of the stack's draws never reach: the median of the lowest
    loss the true law's draws predict (the biased law shares its floor's draws), which a
    target below every floor reports in ``loss_limit``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.PlanningWarning)  # 1 nat: below every floor
        floors = mixed.components["true"].compute_to_reach(1.0)["loss_limit"].values
    return float(np.median(floors))


def test_a_target_some_draws_miss_is_warned_of_once_for_the_mixture(mixed):
    target = _missed_by_some(mixed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reach = mixed.compute_to_reach(target)
    planning = [w for w in caught if issubclass(w.category, bs.PlanningWarning)]
    assert len(planning) == 1
    share = np.isinf(reach["n_opt"].values).mean()
    assert 0 < share < 1
    assert f"in {share:.0%} of draws" in str(planning[0].message)
    assert planning[0].filename == __file__  # it points at the caller


# ------------------------------------------------------------------ command line
@pytest.fixture(scope="module")
def stack_path(mixed, tmp_path_factory):
    return mixed.save(tmp_path_factory.mktemp("stack") / "stack.nc")


@pytest.fixture(scope="module")
def runs_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "runs.csv"
    synthetic_sweep().to_csv(path, index=False)
    return path


@pytest.mark.parametrize("kind", ["fit", "frontier"])
def test_plot_draws_a_stack_file(capsys, tmp_path, stack_path, runs_csv, kind):
    out = tmp_path / f"{kind}.png"
    argv = ["plot", kind, "--posterior", stack_path, "--data", runs_csv, "-o", out]
    code, printed, err = command(capsys, *argv)
    assert code == 0, err
    assert "laws by stacking weight (leave-future-out): true 0.250, biased 0.750" in printed
    assert out.stat().st_size > 10_000  # a drawn figure, not an empty file

    code, printed, err = command(capsys, *argv, "--overwrite", "--json")
    assert code == 0, err
    answer = json.loads(printed)
    assert {k: v["weight"] for k, v in answer["laws"].items()} == WEIGHTS


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["pairs"], "'bayescale plot pairs' answers from one posterior"),
        (["fit", "--group", "rpj"], "this posterior has no groups"),
    ],
)
def test_plot_of_a_stack_file_refuses_without_a_traceback(
    capsys, tmp_path, stack_path, runs_csv, argv, says
):
    out = tmp_path / "figure.png"
    code, _, err = command(
        capsys, "plot", *argv, "--posterior", stack_path, "--data", runs_csv, "-o", out
    )
    assert code == 2
    assert says in err
    assert not out.exists()


def test_plan_a_target_loss_on_a_stack_file_warns_once(capsys, mixed, stack_path):
    target = _missed_by_some(mixed)
    code, _, err = command(
        capsys,
        "plan",
        "--posterior",
        stack_path,
        "--target-loss",
        target,
        warns=(bs.PlanningWarning,),
    )
    assert code == 0, err
    assert err.count("PlanningWarning") == 1
