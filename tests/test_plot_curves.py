"""Tests for bayescale.plotting.plot_training_curves: the envelope is the running minimum
of the checkpoints, the frontier's band is the interval of the per-draw optimal loss, and a
sweep without runs is refused by name.

The posterior is the shipped reference fit of the misfitting sweep (loaded, not sampled).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

import bayescale as bs
from bayescale import plotting
from bayescale.plotting.curves import envelope
from bayescale.reference import reference_sweep

from conftest import TRUTH, chinchilla_log_loss_np

plt.switch_backend("Agg")

# Budgets (FLOPs) whose compute-optimal runs lie inside the reference fit's model sizes,
# so the frontier does not extrapolate (which would warn).
BUDGETS = np.geomspace(1e18, 1e19, 5)


@pytest.fixture(scope="module")
def post():
    return bs.load_reference("misfitting")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _curves(seed=0) -> pd.DataFrame:
    """Three runs of 1e8, 3e8 and 1e9 parameters (inside the reference fit's sizes), eight
    checkpoints each from 1 to 20 tokens per parameter, on the Chinchilla-like truth with
    noise of 0.02 in log loss, so that the runs cross and the envelope switches between
    them. Any seed: the tests compare the figure with this frame's own values."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in (1e8, 3e8, 1e9):
        for d in n * np.geomspace(1.0, 20.0, 8):
            loss = np.exp(chinchilla_log_loss_np(TRUTH, n, d) + 0.02 * rng.standard_normal())
            rows.append({"run": f"{n:g}", "n_params": n, "n_tokens": d, "loss": loss})
    return pd.DataFrame(rows)


def _brute_force_envelope(frame: pd.DataFrame):
    compute = 6.0 * frame["n_params"].to_numpy() * frame["n_tokens"].to_numpy()
    loss = frame["loss"].to_numpy()
    budgets = np.unique(compute)
    return budgets, np.array([loss[compute <= c].min() for c in budgets])


def _line(ax, gid):
    (line,) = [line for line in ax.get_lines() if line.get_gid() == gid]
    return line


def test_envelope_is_the_running_minimum():
    frame = _curves()
    frame.loc[3, "n_tokens"] = frame.loc[2, "n_tokens"]  # a tie in compute, counted once
    budgets, lowest = envelope(6.0 * frame["n_params"] * frame["n_tokens"], frame["loss"])
    expected_budgets, expected = _brute_force_envelope(frame)
    assert np.array_equal(budgets, expected_budgets)
    assert np.array_equal(lowest, expected)


def test_the_drawn_envelope_is_the_running_minimum(post):
    frame = _curves()
    fig, ax = plotting.plot_training_curves(post, frame, compute=BUDGETS)
    fig.canvas.draw()  # layout and text rendering must not fail (nor warn)
    line = _line(ax, "envelope")
    budgets, expected = _brute_force_envelope(frame)
    assert np.allclose(line.get_xdata(), budgets) and np.allclose(line.get_ydata(), expected)
    assert line.get_drawstyle() == "steps-post"
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_xlabel() and ax.get_ylabel()


def test_excluded_rows_are_left_out_of_the_envelope(post):
    frame = _curves()
    frame["excluded"] = False
    lowest = frame["loss"].idxmin()
    frame.loc[lowest, "excluded"] = True
    _, ax = plotting.plot_training_curves(post, frame, compute=BUDGETS)
    expected = _brute_force_envelope(frame[~frame["excluded"]])[1]
    assert np.allclose(_line(ax, "envelope").get_ydata(), expected)
    assert "excluded rows" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_frontier_band_is_the_interval_of_the_optimal_loss_draws(post):
    _, ax = plotting.plot_training_curves(post, reference_sweep("misfitting"), ci_prob=0.8)
    budgets = _line(ax, "frontier").get_xdata()
    draws = post.optimal(budgets)["loss_opt"].values.reshape(-1, budgets.size)  # chains mixed
    low, high = np.quantile(draws, [0.1, 0.9], axis=0)
    assert np.allclose(_line(ax, "frontier").get_ydata(), np.median(draws, axis=0))
    (fill,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    vertices = fill.get_paths()[0].vertices
    for budget, lo, hi in zip(budgets, low, high, strict=True):
        ys = vertices[np.isclose(vertices[:, 0], budget), 1]
        assert np.isclose(ys.min(), lo) and np.isclose(ys.max(), hi)


def test_default_frontier_stays_where_the_fit_does_not_extrapolate(post):
    # the suite turns warnings into errors, so an extrapolating default would fail here
    _, ax = plotting.plot_training_curves(post, _curves())
    budgets = _line(ax, "frontier").get_xdata()
    assert budgets.size >= 2
    post.optimal(budgets)  # warns (an error here) if any budget extrapolates


def test_a_sweep_without_runs_is_refused_by_name(post):
    frame = _curves().drop(columns="run")
    with pytest.raises(bs.InputError, match="no 'run' column"):
        plotting.plot_training_curves(post, frame)
