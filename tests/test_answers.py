"""Answers that used to print as normal while wrong or misleading (issue 20): each now is
right, a clear error, or comes with a warning that gives its numbers."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import numpyro
import numpyro.distributions as dist
import pandas as pd
import pytest
import scipy.optimize
import xarray as xr
from numpyro.distributions import constraints

import bayescale as bs
from bayescale import hardware
from bayescale.comparisons import compare_allocations, compare_variants
from bayescale.diagnostics import prior_dominated
from bayescale.draws import percent
from bayescale.evaluation import baseline
from bayescale.planning import LOG_C_RANGE
from bayescale.starts import laplace_start

from conftest import (
    TRUTH,
    chinchilla_log_loss_np,
    point_mass,
    synthetic_sweep,
    thinned_reference,
)

HOFFMANN = {
    "e": math.log(1.69),
    "a": math.log(406.4),
    "alpha": 0.34,
    "b": math.log(410.7),
    "beta": 0.28,
}


@pytest.fixture(scope="module")
def reference():
    return bs.load_reference("chinchilla")


def caught(call):
    """``(result, {category: [message, ...]})`` of ``call()``, every warning recorded."""
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        result = call()
    out = {}
    for w in raised:
        out.setdefault(w.category, []).append(str(w.message))
    return result, out


# ------------------------------------------------------------ compute to reach
def test_a_target_above_the_smallest_budgets_loss_is_nan_and_said_so():
    post = point_mass("chinchilla", HOFFMANN)
    smallest = math.exp(LOG_C_RANGE[0])
    top = float(post.optimal(smallest)["loss_opt"].squeeze())  # 141 nats at 6e5 FLOPs
    reach, raised = caught(lambda: post.compute_to_reach([300.0, 0.5 * top]))
    assert np.isnan(reach["compute"].values[..., 0]).all()  # not inf: less compute reaches it
    assert np.isnan(reach["n_opt"].values[..., 0]).all()
    assert float(reach["compute"].squeeze()[1]) > smallest  # a target below it is reached
    (message,) = raised[bs.PlanningWarning]
    assert "above the loss at the smallest budget searched, 6e+05 FLOPs" in message
    assert f"300 nats in 100% of draws, where the loss at 6e+05 FLOPs is {top:.3g}" in message
    assert "floor" not in message and "NaN" in message


def test_reference_fit_tells_targets_above_the_search_from_targets_below_the_floor(reference):
    reach, raised = caught(lambda: reference.compute_to_reach([300.0, 50.0, 1.5]))
    compute = reach["compute"].values.reshape(-1, 3)
    above_search, below_floor = np.isnan(compute[:, 0]), np.isinf(compute[:, 2])
    smallest, _ = caught(lambda: reference.optimal(math.exp(LOG_C_RANGE[0])))
    top_loss = smallest["loss_opt"].values.ravel()  # with the error at 1e3 parameters
    # NaN exactly in the draws whose loss at the smallest budget is below the target;
    # most, since that loss is about 141 nats
    np.testing.assert_array_equal(above_search, top_loss < 300.0)
    assert above_search.mean() > 0.5 and not np.isinf(compute[:, 0]).any()
    # 50 nats: about 5e9 FLOPs, reached in every draw (the smallest budget's loss, widened
    # by the extrapolation error, stays above 60 nats)
    assert np.isfinite(compute[:, 1]).all()
    assert 0.2 < below_floor.mean() < 0.95 and not np.isnan(compute[:, 2]).any()
    above, below = raised[bs.PlanningWarning]
    top = np.median(top_loss[above_search])
    assert (
        f"300 nats in {above_search.mean():.0%} of draws, where the loss at 6e+05 FLOPs is "
        f"{top:.3g} nats (median)"
    ) in above
    assert "below the lowest loss" in below and "floor" in below
    lowest = re.search(
        rf"1\.5 nats in {below_floor.mean():.0%} of draws, where the lowest predicted loss is "
        r"([\d.]+) nats",
        below,
    )
    assert lowest and float(lowest.group(1)) > 1.5
    assert "50 nats" not in above + below
    # 50 nats needs a model of thousands of parameters: far below the fitted sizes, and said so
    (far,) = raised[bs.ExtrapolationWarning]
    assert "model size N = " in far


# --------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda p: p.optimal(True), bs.InputTypeError, r"got True \(bool: not a number\)"),
        (lambda p: p.optimal([1e22, False]), bs.InputTypeError, r"bool: not a number"),
        (lambda p: p.optimal("1e22"), bs.InputTypeError, r"got '1e22' \(str"),
        (lambda p: p.optimal([]), bs.InputError, r"a number > 0, or a flat list of them, got \[\]"),
        (lambda p: p.optimal([1e22, -1]), bs.InputError, r"got \[1e\+22, -1\] \(-1 not\)"),
        (
            lambda p: p.efficient_range(1e22, tolerance=-1),
            bs.InputError,
            r"tolerance must be a number > 0, got -1; e\.g\. tolerance=0\.2",
        ),
        (lambda p: p.efficient_range(1e22, tolerance=True), bs.InputTypeError, r"tolerance"),
        (lambda p: p.efficient_range([1e21, 1e22]), bs.InputError, r"budget .* single number"),
        (lambda p: p.excess_compute([1.0], budget=[1e21, 1e22]), bs.InputError, "single"),
        (lambda p: p.compute_to_reach(np.nan), bs.InputError, r"loss \(nats/token\)"),
    ],
)
def test_arguments_are_validated_naming_the_value_and_the_fix(call, error, match):
    post = point_mass("chinchilla", HOFFMANN)
    with pytest.raises(error, match=match) as err:
        call(post)
    assert "e.g." in str(err.value)


def test_a_tolerance_wider_than_the_sizes_searched_is_said_to_hit_the_grid():
    post = point_mass("chinchilla", HOFFMANN)
    span, raised = caught(lambda: post.efficient_range(1e22, tolerance=30.0))
    assert float(span["high"].squeeze()) == pytest.approx(20.0)
    (message,) = raised[bs.PlanningWarning]
    assert "high at 20× N_opt in 100% of draws is the grid's edge" in message


# ------------------------------------------------------------ extrapolation
def test_allocations_of_a_size_that_leaves_no_token_are_refused(reference):
    with pytest.raises(bs.InputError) as err:
        compare_allocations(reference, 1e21, 1e30, 2.86e9)
    message = str(err.value)
    assert "n_a=1e+30 parameters at budget=1e+21 FLOPs" in message
    assert "1.67e-10 tokens, less than one" in message
    assert "below budget / 6 = 1.67e+20" in message


def test_allocations_far_outside_the_fitted_sizes_warn(reference):
    _, raised = caught(lambda: compare_allocations(reference, 1e21, 1e13, 2.86e9))
    (message,) = raised[bs.ExtrapolationWarning]
    assert "model size N = 1e+13 parameters is 618× above the fitted range" in message
    _, quiet = caught(lambda: compare_allocations(reference, 1e21, 4.68e9, 2.86e9))
    assert not quiet


@pytest.mark.parametrize(
    "budget, side",
    [(1.4e-11, "below"), (1e12, "below"), (1e27, "above")],
)
def test_planning_far_from_the_fitted_sizes_warns_both_ways(reference, budget, side):
    plan, raised = caught(lambda: reference.optimal(budget))
    (message,) = raised[bs.ExtrapolationWarning]
    assert "model size N = " in message and f"× {side} the fitted range (5.73e+07" in message
    assert "tokens D = " in message
    if budget < 1:  # 29 decades below: a model of a ten-millionth of a parameter
        assert float(plan["n_opt"].median()) < 1e-6


def test_predictions_for_sizes_and_tokens_outside_the_fitted_range_warn(reference):
    _, raised = caught(lambda: reference.predict_loss(1e5, 1e10))
    (message,) = raised[bs.ExtrapolationWarning]
    assert "model size N = 1e+05 parameters is 573× below the fitted range" in message
    _, raised = caught(lambda: reference.predict_loss(1e9, 1e14))
    (message,) = raised[bs.ExtrapolationWarning]
    assert "tokens D = 1e+14 tokens is 315× above" in message
    _, quiet = caught(lambda: reference.predict_loss(1e9, 2e10))
    assert not quiet


# ------------------------------------------------------------------- memory
def test_the_readme_plan_that_does_not_fit_suggests_tensor_parallelism(reference):
    plan, _ = caught(lambda: reference.optimal(1e24))
    layout = {"zero_stage": 3, "data_parallel": 1024, "tensor_parallel": 1}
    fits, raised = caught(lambda: hardware.check_fits(plan["n_opt"], "H100", **layout))
    assert float(fits.mean()) == 0.0
    (message,) = raised[bs.MemoryWarning]
    assert "does not fit in memory on the H100-SXM (72 GB usable of 80 GB" in message
    assert re.search(r"budget 1e\+24: 0% of draws fit, median 11\d GB per GPU", message)
    assert "Tensor-parallel degree 2 with sequence parallelism on the same 1024 GPUs" in message
    suggested = {"zero_stage": 3, "data_parallel": 512, "tensor_parallel": 2}
    fits = hardware.fits(plan["n_opt"], "H100", sequence_parallel=True, **suggested)
    assert float(fits.mean()) > 0.95


def test_without_a_tensor_parallel_degree_that_fits_a_gpu_count_is_suggested():
    _, raised = caught(lambda: hardware.check_fits(7e10, "H100", zero_stage=3, data_parallel=8))
    (message,) = raised[bs.MemoryWarning]
    assert "24 GPUs at tensor-parallel degree 4 with sequence parallelism" in message
    layout = {"zero_stage": 3, "data_parallel": 6, "tensor_parallel": 4, "sequence_parallel": True}
    assert bool(hardware.fits(7e10, "H100", **layout))
    _, quiet = caught(lambda: hardware.check_fits(7e9, "H100", zero_stage=3, data_parallel=64))
    assert not quiet


def test_a_run_that_does_not_fit_is_named_by_the_coordinates_of_its_point():
    """Runs along a ``point`` dim (as ``bayescale predict`` passes them) are named by their
    sizes and tokens, not by their position; a run that fits is not named."""
    sizes, tokens = [7e10, 1e9], [3e11, 2e10]
    n = xr.DataArray(
        np.broadcast_to(sizes, (1, 2, 2)),  # two equal draws of each run
        dims=("chain", "draw", "point"),
        coords={"n_params": ("point", sizes), "n_tokens": ("point", tokens)},
    )
    _, raised = caught(lambda: hardware.check_fits(n, "H100", zero_stage=3, data_parallel=1024))
    (message,) = raised[bs.MemoryWarning]
    assert "n_params 7e+10, n_tokens 3e+11: 0% of draws fit" in message
    assert "1e+09" not in message and "point" not in message


def test_compare_variants_warns_when_a_plan_does_not_fit():
    post = point_mass("chinchilla", HOFFMANN)
    _, raised = caught(lambda: compare_variants(post, post, [1e24], n_gpus=8))
    assert all("does not fit in memory" in m for m in raised[bs.MemoryWarning])
    with pytest.raises(bs.InputError, match=r"n_gpus=12 is not a multiple of .* = 8"):
        compare_variants(post, post, [1e22], n_gpus=12, tensor_parallel=8)


# --------------------------------------------------------------- train time
def test_train_time_of_a_plan_is_draws_with_a_row_per_budget(reference):
    plan, _ = caught(lambda: reference.optimal([1e22, 1e24]))
    time = bs.train_time(plan, "H100", 1024)
    assert isinstance(time, bs.Draws)
    assert time["mfu"].dims == time["hours"].dims and "budget" in time["mfu"].dims
    table = time.interval(0.9)
    assert not table["budget"].isna().any()
    mfu = table[table["quantity"] == "mfu"]
    assert list(mfu["budget"]) == [1e22, 1e24]
    assert mfu["median"].iloc[0] == mfu["median"].iloc[1]  # one MFU per draw, every budget


# ----------------------------------------------------------- the Huber baseline
def ladder(seed: int = 0) -> bs.Sweep:
    """20 model sizes, each trained on 20 tokens per parameter: N and D move together."""
    n = np.geomspace(5e7, 5e9, 20)
    noise = 0.01 * np.random.default_rng(seed).standard_normal(20)
    loss = np.exp(chinchilla_log_loss_np(TRUTH, n, 20 * n) + noise)
    return bs.Sweep.from_frame(pd.DataFrame({"n_params": n, "n_tokens": 20 * n, "loss": loss}))


def test_a_degenerate_huber_fit_on_a_ladder_warns():
    fit, raised = caught(lambda: baseline.fit_huber(ladder(), top=10))
    (message,) = raised[bs.ConvergenceWarning]
    assert "the Huber fit failed" in message and "B/D^beta is at most" in message
    assert "beta = 2 lies at or beyond the grid's edge (0, 2)" in message
    assert fit.warnings == (message,)


def test_a_fit_with_a_vanishing_floor_is_degenerate():
    # the E = 0.12, α = 0.06: the floor is a few percent of the loss everywhere
    data = baseline._arrays(bs.Sweep.from_frame(synthetic_sweep()), None)
    theta = np.array([math.log(0.12), 1.5, 0.06, TRUTH["b"], TRUTH["beta"]])
    done = scipy.optimize.OptimizeResult(success=True, nit=1500, message="converged")
    (problem,) = baseline._problems(theta, done, data)
    assert re.fullmatch(r"E is at most 0\.0\d+ of the fitted loss at any point", problem)


def test_a_huber_fit_that_stops_short_warns(monkeypatch):
    monkeypatch.setattr(baseline, "OPTIONS", {**baseline.OPTIONS, "maxiter": 3})
    _, raised = caught(lambda: baseline.fit_huber(bs.Sweep.from_frame(synthetic_sweep()), top=2))
    (message,) = raised[bs.ConvergenceWarning]
    assert "L-BFGS-B stopped short of a minimum after 3 iterations" in message


# ------------------------------------------------------------- Laplace start
def test_a_fall_back_to_the_prior_start_warns_with_what_to_try():
    def grows():  # a density without a mode: it grows without bound in x
        x = numpyro.sample("x", dist.ImproperUniform(constraints.real, (), ()))
        numpyro.factor("up", x)

    start, raised = caught(lambda: laplace_start(grows, {}, 0, chains=2, dense_mass=True))
    assert start.summary["start"] == "prior"
    (message,) = raised[bs.StartWarning]
    assert issubclass(bs.StartWarning, bs.ConvergenceWarning)
    assert "fell back to the prior: no chain's search ended at a mode" in message
    assert "Newton iterations per chain [" in message
    assert "centring='non-centred'" in message and "init='prior'" in message


def test_each_groups_warning_names_its_group():
    """An answer for every group of a per-group fit warns once per group, each warning
    saying whose it is: four warnings that differ only in their numbers would not."""
    post = bs.load_reference("gadre_overtrain")
    _, raised = caught(lambda: post.optimal(1e25))
    messages = raised[bs.ExtrapolationWarning]
    assert len(messages) == len(post.groups_answered) == 4
    for group, message in zip(post.groups_answered, messages, strict=True):
        assert message.startswith(f"group {group}: extrapolating outside the fitted data")


QUERIES = {  # each query that takes group=, with arguments of the gadre_overtrain scale
    "predict_loss": lambda post, **group: post.predict_loss([1e9, 4e9], 1e11, **group),
    "optimal": lambda post, **group: post.optimal([1e21, 1e23], **group),
    "excess_compute": lambda post, **group: post.excess_compute([0.5, 2.0], 1e22, **group),
    "efficient_range": lambda post, **group: post.efficient_range(1e22, **group),
    "compute_to_match": lambda post, **group: post.compute_to_match(1e9, [2e10, 1e11], **group),
    "compute_to_reach": lambda post, **group: post.compute_to_reach([3.2, 3.0], **group),
}


@pytest.fixture(scope="module")
def per_group():
    """The shipped partial-pooling fit of gadre_overtrain, its first 100 draws of each
    chain: an answer per group is compared bit by bit, which needs no more draws."""
    return thinned_reference("gadre_overtrain", 100)


@pytest.mark.parametrize("stacked", [False, True], ids=["posterior", "stack"])
@pytest.mark.parametrize("query", list(QUERIES))
def test_a_query_without_a_group_answers_for_each_group_as_if_asked_alone(
    query, stacked, per_group
):
    """On a per-group fit, no group= means every group the fit answers for: the answer
    for group g is, to the last bit, the answer that group=g gives."""
    post = per_group
    if stacked:  # the same law twice: a stack of per-group posteriors, half each
        post = bs.Stack({"one": post, "two": post}, {"one": 0.5, "two": 0.5})
    ask = QUERIES[query]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the warnings of answers: tested on their own
        every = ask(post).dataset
        alone = {g: ask(post, group=g).dataset for g in post.groups_answered}
    assert list(every["group"].values) == post.groups_answered
    for group, answer in alone.items():
        xr.testing.assert_identical(every.sel(group=group, drop=True), answer)


def test_a_query_called_with_a_wrong_argument_names_itself(reference):
    with pytest.raises(TypeError, match=r"^Posterior.optimal\(\) got an unexpected keyword"):
        reference.optimal(1e22, grop="rpj")


def test_a_stack_of_laws_that_answer_for_different_groups_says_which(reference):
    """A stack answers for the groups its components share; components with other groups
    leave it none, and the error names both components and their groups."""
    mixed = bs.Stack(
        {"pooled": bs.load_reference("gadre_overtrain"), "plain": reference},
        {"pooled": 0.5, "plain": 0.5},
    )
    with pytest.raises(bs.InputError, match=r"'pooled' and 'plain' answer for different groups"):
        mixed.optimal(1e22)


# ---------------------------------------------------------------- numbers
def test_a_share_of_draws_is_never_rounded_to_none_or_all():
    """A warning's or table's share of draws: 'in 0% of draws' would say that the problem
    it reports never happens."""
    words = [percent(share) for share in (0, 0.001, 0.0049, 0.69, 0.996, 1)]
    assert words == ["0%", "<1%", "<1%", "69%", ">99%", "100%"]


def test_a_prior_dominated_warning_prints_no_300_digit_number():
    draws = np.random.default_rng(0).standard_normal((2, 100)) * 1e150  # draws that ran off
    posterior = xr.Dataset({"alpha": (("chain", "draw"), draws)})
    message = prior_dominated(posterior, {"alpha": dist.Normal(0.0, 1.0)}, ["alpha"])
    wider = r"alpha \(contraction -\d\.\de\+299: posterior sd \d\.\d+e\+149× the prior's\)"
    assert re.search(wider, message)
    assert not re.search(r"\d{20}", message)
