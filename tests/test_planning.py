"""Planning answers against published numbers, inverse consistency and monotonicity."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import bayescale as bs
from bayescale.draws import eti, hdi, quantile
from bayescale.laws import CHINCHILLA, KAPLAN
from bayescale.laws.kaplan import kaplan_steps_excess

from conftest import point_mass

HOFFMANN = {
    "e": math.log(1.69),
    "a": math.log(406.4),
    "alpha": 0.34,
    "b": math.log(410.7),
    "beta": 0.28,
}


def test_kaplan_fig12_closed_form():
    # Kaplan et al. 2020 Fig. 12: α_N = 0.076, α_S = 0.76.
    x = np.array([0.6, 1.0, 2.2])
    steps = np.asarray(kaplan_steps_excess({"alpha_n": 0.076, "alpha_s": 0.76}, None, np.log(x)))
    compute = x * steps
    assert compute[0] == pytest.approx(1.16, abs=0.005)
    assert compute[1] == pytest.approx(1.0, abs=1e-12)
    assert compute[2] == pytest.approx(1.20, abs=0.005)
    assert steps[2] == pytest.approx(0.55, abs=0.005)  # "about 45% fewer steps"


def test_hoffmann_approach3_n_opt():
    # Hoffmann et al. 2022 Approach 3 as printed; N_opt(5.76e23) = 3.2e10 (their Table A3 gives
    # 33B for Gopher's budget with these constants; the closed form gives 3.22e10).
    post = point_mass("chinchilla", HOFFMANN)
    n_opt = float(post.optimal(5.76e23)["n_opt"].squeeze())
    assert n_opt == pytest.approx(3.2e10, rel=0.01)


def test_excess_compute_numeric_on_chinchilla():
    post = point_mass("chinchilla", HOFFMANN)
    draws = post.excess_compute([0.5, 1.0, 2.0], budget=1e22)
    ratio = draws["compute_ratio"].values.ravel()
    assert ratio[1] == pytest.approx(1.0, abs=1e-6)
    assert ratio[0] > 1.0 and ratio[2] > 1.0
    tokens = draws["tokens_ratio"].values.ravel()
    np.testing.assert_allclose(ratio, np.array([0.5, 1.0, 2.0]) * tokens, rtol=1e-12)
    # The loss at N = 2 N_opt with D = tokens_ratio × D_opt equals the optimal loss.
    opt = post.optimal(1e22)
    n, d = 2 * float(opt["n_opt"].squeeze()), tokens[2] * float(opt["d_opt"].squeeze())
    loss = float(post.predict_loss(n, d)["loss_mean"].squeeze())
    assert loss == pytest.approx(float(opt["loss_opt"].squeeze()), rel=1e-9)


def test_unreachable_sizes_are_inf_with_a_message():
    post = point_mass("chinchilla", HOFFMANN)
    with pytest.warns(bs.PlanningWarning, match="never reach"):
        draws = post.excess_compute([0.01, 1.0], budget=1e24)
    assert np.isinf(draws["compute_ratio"].values.ravel()[0])
    table = draws.interval(0.9)
    assert np.isinf(table.loc[0, "median"]) and not table["median"].isna().any()


def test_efficient_range_brackets_the_optimum():
    post = point_mass("chinchilla", HOFFMANN)
    ranged = post.efficient_range(1e22, tolerance=0.2)
    low, high = float(ranged["low"].squeeze()), float(ranged["high"].squeeze())
    assert low < 1.0 < high
    edges = post.excess_compute([low, high], budget=1e22)["compute_ratio"].values.ravel()
    np.testing.assert_allclose(edges, 1.2, atol=0.01)  # grid interpolation, 121 points


def test_compute_to_reach_inverts_optimal():
    post = point_mass("chinchilla", HOFFMANN)
    loss = float(post.optimal(3e22)["loss_opt"].squeeze())
    reach = post.compute_to_reach(loss)
    assert float(reach["compute"].squeeze()) == pytest.approx(3e22, rel=1e-6)
    with pytest.warns(bs.PlanningWarning, match="floor"):
        below = post.compute_to_reach(1.5)  # E = 1.69
    assert np.isinf(float(below["compute"].squeeze()))


def test_compute_to_match_inverts_excess_compute():
    """A model of x·N_opt(C0) on the tokens that bring it to the optimum's loss at C0
    (excess_compute) is matched by the optimum at C0, with the same excess compute; at the
    optimum's own shape the ratio is 1. rtol 1e-9: the bisection in log C stops at float64
    resolution (1e-16 of a 125-nat bracket) and the Chinchilla optimum is in closed form,
    so only float64 rounding of the loss, times dlog C/dlog L* (about 1/0.05), remains."""
    post = point_mass("chinchilla", HOFFMANN)
    optimum = post.optimal(1e22)
    n_opt, d_opt = (float(optimum[k].squeeze()) for k in ("n_opt", "d_opt"))
    x = np.array([0.5, 1.0, 2.0])
    excess = post.excess_compute(x, budget=1e22)
    tokens = excess["tokens_ratio"].values.ravel() * d_opt
    match = post.compute_to_match(x * n_opt, tokens)
    np.testing.assert_allclose(match["compute_opt"].values.ravel(), 1e22, rtol=1e-9)
    np.testing.assert_allclose(
        match["compute_ratio"].values.ravel(), excess["compute_ratio"].values.ravel(), rtol=1e-9
    )
    assert match["compute_ratio"].values.ravel()[1] == pytest.approx(1.0, rel=1e-9)


def test_compute_to_match_is_at_least_one_in_every_draw_and_nan_below_the_search():
    """No run beats the optimum of its own compute under its own draw: the ratio is at
    least 1 (less the bisection's 1e-9, as above) in every draw of the reference fit, far
    outside the fitted runs too (its error term there prefers no shape). A run whose loss
    lies above the loss at the smallest budget searched is NaN, with a warning."""
    post = bs.load_reference("chinchilla")
    with pytest.warns(bs.ExtrapolationWarning):
        ratio = post.compute_to_match([7e10, 1e9, 1e10], [3e11, 2e10, 2e12])["compute_ratio"]
    assert (ratio.values >= 1 - 1e-9).all()
    with (
        pytest.warns(bs.PlanningWarning, match="smallest budget searched"),
        pytest.warns(bs.ExtrapolationWarning),
    ):
        tiny = post.compute_to_match(1e4, 10.0)
    assert np.isnan(tiny["compute_ratio"].values).all()


@settings(max_examples=40, deadline=None)
@given(alpha=st.floats(0.1, 0.8), beta=st.floats(0.1, 0.8), log10_c=st.floats(19, 25))
def test_more_budget_never_smaller_n_opt(alpha, beta, log10_c):
    post = point_mass("chinchilla", {**HOFFMANN, "alpha": alpha, "beta": beta})
    n_opt = post.optimal([10**log10_c, 10 ** (log10_c + 0.5)])["n_opt"].values.ravel()
    assert n_opt[1] >= n_opt[0]


def test_cli_plan_with_hardware_and_target_loss():
    run = [sys.executable, "-m", "bayescale", "plan"]
    out = subprocess.run(
        run + ["--budget", "1e24", "--gpu", "H100", "--gpus", "1024", "--price", "2.5"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    for label in (
        "training time",
        "days",
        "GPU-hours",
        "cost",
        "memory per GPU",
        "GB",
        "P(fits in memory)",
    ):
        assert label in out.stdout
    out = subprocess.run(
        run + ["--target-loss", "2.0"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and "compute" in out.stdout and "FLOPs" in out.stdout
    # the printed median compute (4 significant digits) is the reference fit's answer
    printed = next(
        line.split() for line in out.stdout.splitlines() if line.split()[:1] == ["compute"]
    )
    with pytest.warns((bs.PlanningWarning, bs.ExtrapolationWarning)):  # as the CLI warned
        reach = bs.load_reference("chinchilla").compute_to_reach(2.0).interval(0.9)
    median = reach.set_index("quantity").loc["compute", "median"]
    assert float(printed[1]) == pytest.approx(median, rel=5e-4)
    out = subprocess.run(
        run + ["--budget", "1e24", "--gpu", "H100"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2 and "--gpus" in out.stderr and "Traceback" not in out.stderr


def test_kaplan_steps_posterior_uses_the_closed_form():
    post = point_mass(
        "kaplan_steps",
        {
            "log_nc": math.log(6.5e13),
            "alpha_n": 0.076,
            "log_sc": math.log(2.1e3 * 2**19),
            "alpha_s": 0.76,
        },
    )
    draws = post.excess_compute([0.6, 2.2], budget=1e21)
    np.testing.assert_allclose(draws["compute_ratio"].values.ravel(), [1.164, 1.203], atol=0.005)
    assert float(draws["tokens_ratio"].values.ravel()[1]) == pytest.approx(0.547, abs=0.005)


def test_compare_allocations_optimal_size_wins():
    from bayescale.comparisons import compare_allocations

    post = point_mass("chinchilla", HOFFMANN)
    opt = post.optimal(1e21)
    n_opt = float(opt["n_opt"].squeeze())
    result = compare_allocations(post, 1e21, 1.6 * n_opt, n_opt, labels=("big", "optimal"))
    ds = result.dataset
    assert ds["loss_a"].dims == ("chain", "draw", "step") and ds.sizes["step"] == 60
    assert ds.attrs["p_b_lower"] == 1.0
    assert float(ds["loss_b"][..., -1].squeeze()) == pytest.approx(
        float(opt["loss_opt"].squeeze()), rel=1e-9
    )
    np.testing.assert_allclose(ds["flops"].values[-1], 1e21)
    assert np.all(np.diff(ds["loss_a"].values[0, 0]) < 0)  # more tokens, lower loss


def test_compare_variants_paired_and_errors():
    from bayescale.comparisons import compare_variants

    post = point_mass("chinchilla", HOFFMANN)
    same = compare_variants(post, post, [2e21, 4e21], hardware="H100", n_gpus=16)
    np.testing.assert_allclose(same["memory_diff_gb"].values, 0.0)
    np.testing.assert_allclose(same["hours_ratio"].values, 1.0)
    other = point_mass("chinchilla", {**HOFFMANN, "alpha": 0.30})
    diff = compare_variants(other, post, [2e21], hardware="H100", n_gpus=16)
    # α smaller: the N term falls more slowly, so the optimum moves to larger models,
    # which need more memory per GPU
    assert float(diff["memory_diff_gb"].squeeze()) > 0
    two_draws = bs.Posterior(
        groups={**post.groups, "posterior": post.posterior.isel(draw=[0, 0])},
        law=post.law,
        info=post.info,
    )
    with pytest.raises(ValueError, match="same chains and draws"):
        compare_variants(two_draws, post, [2e21])


def test_cli_compare_both_kinds():
    run = [sys.executable, "-m", "bayescale", "compare"]
    out = subprocess.run(
        run + ["allocations", "--budget", "1e21", "--n-a", "4.68e9", "--n-b", "2.86e9", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    # the CLI reports the library's answer on the reference fit
    from bayescale.comparisons import compare_allocations

    reported = json.loads(out.stdout)
    result = compare_allocations(bs.load_reference("chinchilla"), 1e21, 4.68e9, 2.86e9)
    assert reported["p_b_lower"] == result.dataset.attrs["p_b_lower"]
    final = result.interval(reported["ci_prob"]).set_index("quantity").loc["final_difference"]
    for key in ("median", "eti_5%", "eti_95%"):
        assert reported["final_difference"][key] == pytest.approx(final[key], rel=1e-9)
    out = subprocess.run(
        run
        + [
            "variants",
            "--dataset",
            "gadre_overtrain",
            "--group",
            "rpj",
            "--b-group",
            "c4_original",
            "--budget",
            "2e21",
            "4e21",
            "--gpu",
            "H100",
            "--gpus",
            "16",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    # labelled by the groups compared (issue 20: not "A" and "B")
    assert "memory per GPU, rpj − c4_original" in out.stdout
    assert "training time, rpj / c4_original" in out.stdout
    out = subprocess.run(
        run + ["variants", "--budget", "2e21"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2 and "--gpu" in out.stderr


# ------------------------------------------------------- compiled kernels and intervals
def with_law(post: bs.Posterior, law: bs.Law) -> bs.Posterior:
    """``post``'s draws under another (unregistered) law object."""
    return bs.Posterior(groups=post.groups, law=law, info=post.info)


def scattered(law: str, theta: dict, chains: int = 2, draws: int = 3, seed: int = 0):
    """A posterior with draws scattered 2% around ``theta`` (no sampling)."""
    rng = np.random.default_rng(seed)
    coords = {"chain": np.arange(chains), "draw": np.arange(draws)}
    values = {
        k: v * (1 + 0.02 * rng.standard_normal((chains, draws)))
        for k, v in {**theta, "sigma": 0.01}.items()
    }
    base = point_mass(law, theta)
    groups = {
        **base.groups,
        "posterior": xr.Dataset(
            {k: (("chain", "draw"), v) for k, v in values.items()}, coords=coords
        ),
        "sample_stats": xr.Dataset(coords=coords),
    }
    return bs.Posterior(groups=groups, law=base.law, info=base.info)


def test_a_law_without_closed_form_answers_every_query_numerically():
    """The Kaplan law with its closed-form optimum removed goes through the numeric search
    inside every compiled query (nested in compute_to_reach's bisection) and agrees."""
    closed = scattered(
        "kaplan",
        {
            "log_nc": math.log(6.4e13),
            "alpha_n": 0.076,
            "log_dc": math.log(1.8e13),
            "alpha_d": 0.095,
        },
    )
    numeric = with_law(closed, dataclasses.replace(KAPLAN, name="kaplan_numeric", optimum=None))
    targets = closed.optimal([1e20, 1e23])["loss_opt"].median(("chain", "draw")).values
    for query in (
        lambda p: p.optimal([1e19, 1e22, 1e25]),
        lambda p: p.excess_compute([0.5, 1.0, 2.0], 1e22),
        lambda p: p.efficient_range(1e22),
        lambda p: p.compute_to_reach(targets),
    ):
        xr.testing.assert_allclose(query(numeric).dataset, query(closed).dataset, rtol=1e-9)


def test_queries_compile_once_per_shape():
    """A second call with new values of the same shapes reuses the compiled kernel: the
    law is traced (a Python side effect) only on the first."""
    traces = []

    def counting_log_loss(theta, log_n, log_d):
        traces.append(1)
        return CHINCHILLA.log_loss(theta, log_n, log_d)

    post = with_law(
        point_mass("chinchilla", HOFFMANN),
        dataclasses.replace(CHINCHILLA, name="counting", log_loss=counting_log_loss),
    )
    for first, second in [
        (lambda: post.optimal([1e21, 1e22]), lambda: post.optimal([3e21, 3e22])),
        (
            lambda: post.excess_compute([0.5, 2.0], 1e22),
            lambda: post.excess_compute([0.7, 3.0], 1e23),
        ),
        (lambda: post.compute_to_reach([2.2, 2.5]), lambda: post.compute_to_reach([2.3, 2.6])),
    ]:
        first()
        traced = len(traces)
        second()
        assert len(traces) == traced


@pytest.mark.parametrize("kind, bounds", [("eti", eti), ("hdi", hdi)])
def test_interval_rows_match_direct_summaries(kind, bounds):
    """Each row of the tidy frame is the median and interval of that coordinate's draws,
    whatever the order of the dims."""
    values = np.random.default_rng(0).lognormal(size=(2, 3, 40, 4))
    ds = xr.Dataset(
        {"x": (("group", "chain", "draw", "budget"), values)},
        coords={"group": ["a", "b"], "budget": [1e19, 1e20, 1e21, 1e22]},
    )
    table = bs.Draws(ds).interval(0.8, kind=kind)
    assert len(table) == 8 and list(table.columns[:3]) == ["quantity", "group", "budget"]
    lower, upper = f"{kind}_10%", f"{kind}_90%"
    for _, row in table.iterrows():
        x = ds["x"].sel(group=row["group"], budget=row["budget"]).values.ravel()
        low, high = bounds(x, 0.8)
        assert (row["median"], row[lower], row[upper]) == (quantile(x, 0.5), low, high)
