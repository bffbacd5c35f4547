"""``bs.suggest_runs``: the expected variance reduction by the linear update and by
importance reweighting, the greedy batch, the frame, the figure and ``bayescale suggest``."""

from __future__ import annotations

import json
import warnings

import arviz as az
import matplotlib
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayescale as bs
from bayescale.cli import main
from bayescale.design import ESS_WARN, _greedy_linear
from bayescale.fitted_region import Region

from conftest import TRUTH, chinchilla_log_loss_np, quiet_fit, synthetic_sweep

matplotlib.use("Agg")

COLUMNS = [
    "n_params",
    "n_tokens",
    "flops",
    "cost",
    "gain",
    "gain_se",
    "gain_share",
    "gain_per_cost",
    "ess",
    "rank",
    "step_gain",
    "batch_share",
    "step_ess",
]
PIVOT = 1e9  # the model size at which every draw of the pivot posterior predicts one loss


@pytest.fixture(scope="module")
def reference():
    return bs.load_reference("chinchilla")


def pivot_posterior(sigma: float) -> bs.Posterior:
    """A posterior in which ``α`` varies across draws (so ``N_opt`` does) and ``a`` moves
    with it, ``a = a₀ + (α − α₀)·log(PIVOT)``, so ``A/N^α`` is the same in every draw at
    ``N = PIVOT``; ``E``, ``B``, ``β`` and ``σ`` are equal in every draw. A run at
    ``N = PIVOT`` therefore has the same outcome distribution under every draw: it is
    pure noise with respect to the target."""
    rng = np.random.default_rng(3)
    shape = (2, 200)
    alpha = TRUTH["alpha"] + 0.02 * rng.standard_normal(shape)
    draws = {
        "e": np.full(shape, TRUTH["e"]),
        "a": TRUTH["a"] + (alpha - TRUTH["alpha"]) * np.log(PIVOT),
        "alpha": alpha,
        "b": np.full(shape, TRUTH["b"]),
        "beta": np.full(shape, TRUTH["beta"]),
        "sigma": np.full(shape, sigma),
    }
    posterior = xr.Dataset(
        {k: (("chain", "draw"), v) for k, v in draws.items()},
        coords={"chain": np.arange(2), "draw": np.arange(200)},
    )
    sweep = bs.Sweep.from_frame(synthetic_sweep(sigma=0.01, seed=0))
    with warnings.catch_warnings():
        # constant variables have no R-hat or ESS: the diagnostics say so, which is moot here
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # ArviZ's R-hat divides 0 by 0
        return bs.Posterior.from_idata(
            az.InferenceData(posterior=posterior), law="chinchilla", sweep=sweep
        )


@pytest.fixture(scope="module")
def pivot():
    return pivot_posterior(0.01)


@pytest.fixture(scope="module")
def synthetic():
    """A small fit: 16 runs of 5e7-5e9 parameters (Normal noise 0.02 on log loss), so the
    compute-optimal size at 1e22 FLOPs (about 2e10) lies beyond the data."""
    frame = synthetic_sweep(sigma=0.02, seed=1, sizes=4, tokens_per_size=4)
    # small fits: R-hat just above 1.01 by chance at 2 × 300 draws
    return quiet_fit(
        bs.Sweep.from_frame(frame),
        tolerate=(bs.ConvergenceWarning,),
        likelihood="normal",
        chains=2,
        warmup=300,
        draws=300,
    )


# ------------------------------------------------------------------ linear criterion
def test_the_linear_batch_equals_the_joint_update():
    """Run by run, the rank-one updates of the centred draws give the batch's variance
    ``mean_r [Var(T_r) − C_rJ (C_JJ + diag(τ_J²))⁻¹ C_Jr]`` computed directly from the
    original draws for the chosen runs ``J``, a repeated run included, with each run's
    ``τ_j² = τ² + c² E[σ²] g_j²`` growing with its distance ``g_j`` from the targets."""
    rng = np.random.default_rng(0)  # any seed: the identity holds for every draw set
    size, params = 300, 3
    theta = rng.standard_normal((params, size))
    loadings = rng.standard_normal((5, params))
    mu = loadings @ theta + 0.1 * rng.standard_normal((5, size))  # not all linear in θ
    mu = np.vstack([mu, mu[:1]])  # 6 candidates, the first repeated
    values = (rng.standard_normal((2, params)) @ theta).T  # 2 target points
    draws = {"fisher_variance": np.full(size, 0.25), "slope_square": np.full(size, 0.04)}
    # the fitted region holds the targets and the candidates, so no candidate moves the
    # targets' extrapolation error and the batch's variance is the law's alone
    region = Region.from_points(np.log([1.0, 100.0, 1.0]), np.log([1.0, 1.0, 100.0]))
    targets = (np.log([2.0, 3.0]), np.log([2.0, 2.0]))
    runs = (np.log([2.0, 2.5, 5.0, 2.0, 9.0, 2.0]), np.log([2.0, 4.0, 2.0, 20.0, 3.0, 2.0]))
    g = Region.from_points(*targets).distance(*runs)
    assert g[0] == 0 and (g[1:5] > 0).all()  # the first run and its repeat sit on a target
    now, (_, se, ess), columns, rank, _ = _greedy_linear(
        mu, draws, values, targets, runs, np.ones(6), region, k=4
    )
    centred_t = values.T - values.T.mean(axis=1, keepdims=True)
    centred_mu = mu - mu.mean(axis=1, keepdims=True)
    # the same sums in another order: pytest's default rel=1e-6 is far above their rounding
    assert now == pytest.approx(np.mean(centred_t**2))
    assert np.isnan(se).all() and (ess == size).all()
    order = np.argsort(np.where(rank > 0, rank, 99))[: (rank > 0).sum()]
    assert len(order) == 4 and rank[0] > 0 and rank[5] > 0  # the run and its repeat
    assert (g[order] > 0).any()  # a discounted run is among those checked
    for j in range(1, 5):
        chosen = centred_mu[order[:j]]
        c_tj = centred_t @ chosen.T / size
        # τ² = 0.5² (Normal noise) plus c²E[σ²] = 0.2² per squared e-fold from the targets
        c_jj = chosen @ chosen.T / size + np.diag(0.25 + 0.04 * g[order[:j]] ** 2)
        direct = np.mean(
            np.sum(centred_t**2, axis=1) / size - np.sum(c_tj @ np.linalg.inv(c_jj) * c_tj, axis=1)
        )
        # float64 rounding of sums over 300 draws and a 4×4 inverse: ~1e-14; any wrong
        # update (a missed draw-space rotation, τ² off) moves the variance by percents
        assert now * (1 - columns["batch_share"][order[j - 1]]) == pytest.approx(direct, rel=1e-10)


def test_a_run_whose_outcome_does_not_depend_on_the_draw_gains_nothing_linearly(pivot):
    runs = (np.array([PIVOT, 2e10]), np.array([2e10, 4e11]))
    with pytest.warns(bs.PlanningWarning, match="only 1 of k=2"):
        result = bs.suggest_runs(pivot, candidates=runs, budget=1e23, k=2)
    by_n = result.set_index("n_params")
    assert result.attrs["variance"] > 1e-4  # log N_opt does vary across the draws
    # the pivot run's log loss is one number in every draw but for rounding (~1e-16), so
    # its covariance with the target is ~1e-16 and its gain ~1e-32
    assert abs(by_n.loc[PIVOT, "gain"]) < 1e-9 * result.attrs["variance"]
    assert by_n.loc[2e10, "gain_share"] > 0.1  # informative about α, hence about N_opt
    assert result.loc[0, "n_params"] == 2e10 and result.loc[0, "rank"] == 1
    assert result["rank"].isna().iloc[1]  # the pivot run is not taken: its gain is rounding
    assert (result["ess"] == 400).all() and result.attrs["outcomes"] == 0


def certain_posterior(alpha: float, sigma: float = 0.01) -> bs.Posterior:
    """A posterior whose 2 × 200 draws are all one value, TRUTH's but for ``α``: a law
    that is certain of itself."""
    shape = (2, 200)
    draws = {**{k: np.full(shape, v) for k, v in TRUTH.items()}, "alpha": np.full(shape, alpha)}
    posterior = xr.Dataset(
        {k: (("chain", "draw"), v) for k, v in {**draws, "sigma": np.full(shape, sigma)}.items()},
        coords={"chain": np.arange(2), "draw": np.arange(200)},
    )
    # any seed: the sweep gives only the fitted region, which no assertion below reads
    sweep = bs.Sweep.from_frame(synthetic_sweep(sigma=0.01, seed=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # constant draws: no R-hat
        warnings.simplefilter("ignore", RuntimeWarning)  # ArviZ's R-hat divides 0 by 0
        return bs.Posterior.from_idata(
            az.InferenceData(posterior=posterior), law="chinchilla", sweep=sweep
        )


def test_a_stack_values_the_runs_that_tell_its_laws_apart():
    """Two laws, each certain of itself, that disagree: alone neither can learn anything,
    mixed half and half every run gains by how far apart the laws put it. With the laws'
    difference ``Δ`` at a candidate and at the planned run, the draws' covariances give
    ``Var(μ_c) = Δ_c²/4``, ``Cov(T, μ_c) = Δ_T Δ_c/4`` and the gain
    ``(Δ_T Δ_c/4)² / (Δ_c²/4 + σ²)``, largest where the laws differ most."""
    sigma, alphas = 0.01, {"low": TRUTH["alpha"] - 0.03, "high": TRUTH["alpha"] + 0.03}
    components = {label: certain_posterior(alpha, sigma) for label, alpha in alphas.items()}
    runs = (np.array([3e7, 1e9, 3e10]), np.array([1e9, 2e10, 6e11]))
    planned = (7e10, 1.4e12)
    ask = {
        "candidates": runs,
        "target": "loss",
        "at": planned,
        "k": 2,
        "cost": lambda n, d: np.ones_like(n),
        "extrapolation": False,  # the laws' disagreement alone, which the formula below gives
    }
    with pytest.raises(bs.InputError, match="one value in every draw"):
        bs.suggest_runs(components["low"], **ask)

    mixed = bs.Stack(components, {"low": 0.5, "high": 0.5})
    result = bs.suggest_runs(mixed, **ask).set_index("n_params")

    def law(alpha, n, d):
        return chinchilla_log_loss_np({**TRUTH, "alpha": alpha}, n, d)

    delta = law(alphas["high"], *runs) - law(alphas["low"], *runs)
    delta_t = law(alphas["high"], *planned) - law(alphas["low"], *planned)
    expected = (delta_t * delta / 4) ** 2 / (delta**2 / 4 + sigma**2)
    # the draws hold the two values exactly, so only float64 rounding of sums over 400
    # draws (~1e-14) separates the gains from the formula; a wrong τ² or weight moves them
    # by percents
    np.testing.assert_allclose(result.loc[runs[0], "gain"], expected, rtol=1e-9)
    assert result["rank"].loc[runs[0][np.argmax(np.abs(delta))]] == 1
    assert result.attrs["weights"] == {"low": 0.5, "high": 0.5}
    with pytest.raises(bs.InputError, match="method='reweight'"):
        bs.suggest_runs(mixed, method="reweight", **ask)


def test_a_run_near_the_target_beats_a_tiny_run_linearly(synthetic):
    """A run of N_opt's size at the 1e22 budget removes more variance of log N_opt than a
    run below the smallest fitted size (no Monte Carlo over outcomes: one answer)."""
    runs = (np.array([3e7, 1.9e10]), np.array([6e8, 8.8e10]))
    result = bs.suggest_runs(synthetic, candidates=runs, budget=1e22, k=1)
    gain = result.set_index("n_params")["gain"]
    assert gain[1.9e10] > gain[3e7] > 0


def test_the_linear_update_does_not_degenerate_where_reweighting_does():
    # noise 100× below the spread of the draws' predictions at the run: reweighting keeps
    # a few draws; the linear update keeps them all and removes nearly all of the variance
    # the run can tell (ρ = Var(μ)/(Var(μ) + τ²) ≈ 1 − 1e-4). Only α varies across the
    # draws, so the run's log loss and log N_opt are near-linear in one parameter: the
    # share removed is ρ times their squared correlation, which 0.9 leaves room for
    post = pivot_posterior(1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.PlanningWarning)
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)  # N_opt at 1e23 lies beyond
        result = bs.suggest_runs(post, candidates=([2e10], [4e11]), budget=1e23, k=1)
    assert result.loc[0, "step_ess"] == 400 and result.loc[0, "gain_share"] > 0.9


# ------------------------------------------------------------------ reweighting
def test_a_run_whose_outcome_does_not_depend_on_the_draw_has_zero_gain(pivot):
    runs = (np.array([PIVOT, 2e10]), np.array([2e10, 4e11]))
    result = bs.suggest_runs(pivot, candidates=runs, budget=1e23, k=1, method="reweight")
    by_n = result.set_index("n_params")
    assert result.attrs["variance"] > 1e-4  # log N_opt does vary across the draws
    # every draw gives the pivot run's outcome the same density: uniform weights over the
    # 399 draws other than each world's own, and no change in variance but rounding
    assert abs(by_n.loc[PIVOT, "gain"]) < 1e-9 * result.attrs["variance"]
    assert by_n.loc[PIVOT, "ess"] == pytest.approx(399.0, rel=1e-9)  # 1e-9: rounding
    # the other run is informative about α, hence about N_opt
    assert by_n.loc[2e10, "gain_share"] > 0.1
    assert result.loc[0, "n_params"] == 2e10 and result.loc[0, "rank"] == 1


@pytest.mark.parametrize("method", ["linear", "reweight"])
def test_the_extrapolation_error_enters_by_its_expectation(pivot, method):
    """A run whose outcome does not depend on the draw, placed so that it extends the fitted
    region towards a loss target, removes exactly the extrapolation variance it takes
    away, ``(h_now² − h_after²) c² σ²``, the same in every world: no Monte Carlo error."""
    at = (PIVOT, 1e13)  # far beyond the synthetic sweep's tokens, so h_now > 0
    run = (PIVOT, 1e12)  # more tokens than any fitted run at the same size: h shrinks
    ask = {"candidates": ([run[0]], [run[1]]), "target": "loss", "at": at, "k": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)  # the target is far out
        result = bs.suggest_runs(pivot, method=method, **ask)
        # the law's variance alone: at the pivot size the law gives the target one value in
        # every draw, so there is nothing to learn, and an error says so
        with pytest.raises(bs.InputError, match="one value in every draw"):
            bs.suggest_runs(pivot, method=method, extrapolation=False, **ask)
    region = Region.from_data(pivot.info.data)
    h_now = region.distance(np.log([at[0]]), np.log([at[1]]))[0]
    h_after = region.extended(*np.log(run)).distance(np.log([at[0]]), np.log([at[1]]))[0]
    assert h_after < h_now
    sigma = float(np.ravel(pivot.noise().new_run_scale())[0])  # equal in every draw
    expected = (h_now**2 - h_after**2) * (pivot.info.extrapolation_error * sigma) ** 2
    # exact but for rounding: the law's part of the variance is unchanged in every world.
    # The gain is a difference of two variances each summed over 400 draws (~1e-16 relative
    # error per term), and it is a small part of them, so rounding grows by their ratio:
    # rel=1e-6 leaves several orders of magnitude above that and below any real mistake
    # (a wrong h or c moves the gain by tens of percent)
    assert result.loc[0, "gain"] == pytest.approx(expected, rel=1e-6)
    if method == "reweight":
        assert result.loc[0, "gain_se"] < 1e-9 * expected


def test_a_run_near_the_target_beats_a_tiny_run(synthetic):
    """Over 5 seeds (worlds and outcomes), a run of N_opt's size at the 1e22 budget must
    remove more variance of log N_opt than a run below the smallest fitted size in at
    least 4. In a trial (3 seeds) the gains were 30-34% and 10-12% of the variance, ten
    Monte Carlo standard errors apart, so each seed orders them rightly with probability
    above 0.95, and 4 of 5 then fail with probability under 0.023."""
    runs = (np.array([3e7, 1.9e10]), np.array([6e8, 8.8e10]))
    wins = 0
    for seed in range(5):
        result = bs.suggest_runs(
            synthetic, candidates=runs, budget=1e22, k=1, seed=seed, method="reweight"
        )
        gain = result.set_index("n_params")["gain"]
        wins += gain[1.9e10] > gain[3e7]
    assert wins >= 4


@pytest.mark.parametrize("method", ["linear", "reweight"])
def test_a_region_of_one_point_is_the_loss_of_that_run(reference, method):
    # with the extrapolation error, so that both parts of the variance are compared
    # any seed: both calls share it, and the test compares them with each other
    kwargs = {"max_compute": 1e20, "grid": (6, 4), "k": 2, "seed": 1, "method": method}
    loss = bs.suggest_runs(reference, target="loss", at=(7e10, 1.4e12), **kwargs)
    region = bs.suggest_runs(reference, target="region", at=([7e10] * 2, [1.4e12] * 2), **kwargs)
    pd.testing.assert_frame_equal(loss, region, check_exact=False, rtol=1e-10)


@pytest.mark.parametrize("method", ["linear", "reweight"])
def test_the_batch_values_a_repeat_below_a_new_run(pivot, method):
    """The same informative run twice: once the first is chosen, its repeat removes less
    than it did alone (the first outcome is known), as the joint batch must. Linearly the
    repeat removes ``τ²/(V + 2τ²)`` of what it did alone, under a half."""
    runs = (np.array([2e10, 2e10]), np.array([4e11, 4e11]))
    result = bs.suggest_runs(pivot, candidates=runs, budget=1e23, k=2, method=method)
    second = result.loc[result["rank"] == 2].iloc[0]
    assert second["step_gain"] < 0.8 * second["gain"]
    assert result.loc[1, "batch_share"] > result.loc[0, "batch_share"]


@pytest.mark.parametrize("method", ["linear", "reweight"])
def test_more_runs_than_candidates_warns(reference, method):
    # max_compute leaves 2 of the 3 candidates: a batch of 4 holds at most those 2
    runs = ([1e8, 2e8, 4e9], [2e9, 4e9, 8e10])
    with pytest.warns(bs.PlanningWarning) as record:  # reweighting: gains too, on 2 runs
        result = bs.suggest_runs(
            reference, candidates=runs, max_compute=1e19, budget=1e24, k=4, method=method
        )
    assert len(result) == 2
    expected = "only 2 of k=4 runs can be chosen: there are 2 candidates within max_compute=1e+19"
    assert any(str(w.message).startswith(expected) for w in record)


def test_low_effective_sample_size_warns():
    # noise 100× below the spread of the draws' predictions at the run: its outcome
    # singles out a few draws, far fewer than ESS_WARN
    post = pivot_posterior(1e-4)
    with pytest.warns(bs.PlanningWarning, match="effective draws"):
        result = bs.suggest_runs(
            post, candidates=([2e10], [4e11]), budget=1e23, k=1, method="reweight"
        )
    assert result.loc[0, "step_ess"] < ESS_WARN


# ------------------------------------------------------------------------------ frame
def test_the_frame_has_its_columns_and_ranks_first(reference):
    result = bs.suggest_runs(reference, budget=1e24, max_compute=1e20, grid=(8, 5), k=3)
    assert list(result.columns) == COLUMNS
    assert len(result) == 40
    assert result["rank"].iloc[:3].tolist() == [1, 2, 3] and result["rank"].iloc[3:].isna().all()
    np.testing.assert_allclose(result["flops"], 6 * result["n_params"] * result["n_tokens"])
    np.testing.assert_allclose(result["cost"], result["flops"])
    np.testing.assert_allclose(result["gain_share"], result["gain"] / result.attrs["variance"])
    np.testing.assert_allclose(result["gain_per_cost"], result["gain"] / result["cost"])
    assert (result["flops"] <= 1e20 * (1 + 1e-12)).all()
    assert result["batch_share"].iloc[:3].is_monotonic_increasing
    assert result.attrs["target"] == "n_opt" and result.attrs["budget"] == 1e24
    assert result.attrs["draws"] == 1000  # 4 × 1000 draws thinned to MAX_DRAWS


def test_a_cost_function_changes_the_cost_not_the_gain(reference):
    kwargs = {"budget": 1e24, "max_compute": 1e20, "grid": (6, 4), "k": 1}
    flops = bs.suggest_runs(reference, **kwargs).sort_values(["n_params", "n_tokens"])
    hours = bs.suggest_runs(reference, cost=lambda n, d: 1 + n / 1e8, **kwargs)
    hours = hours.sort_values(["n_params", "n_tokens"])
    np.testing.assert_allclose(flops["gain"], hours["gain"])
    np.testing.assert_allclose(hours["cost"], 1 + hours["n_params"] / 1e8)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"target": "nopt", "budget": 1e24, "max_compute": 1e20}, "target must be one of"),
        ({"method": "fisher", "budget": 1e24, "max_compute": 1e20}, "method must be one of"),
        ({"max_compute": 1e20}, "needs budget="),
        ({"budget": 1e24}, "max_compute"),
        ({"target": "loss", "max_compute": 1e20}, "needs at="),
        ({"target": "loss", "at": ([1e9, 2e9], [1e10, 2e10]), "max_compute": 1e20}, "region"),
        ({"budget": 1e24, "max_compute": 1e20, "cost": 3}, "cost must be a function"),
        ({"budget": 1e24, "max_compute": 1e20, "cost": lambda n, d: -n}, "positive cost"),
        (
            {
                "budget": 1e24,
                "candidates": ([1e8, 2e8], [2e9, 4e9]),
                "cost": lambda n, d: np.ones(3),
            },
            r"cost\(n, d\) must return one cost per candidate, an array of shape \(2,\), got "
            r"shape \(3,\)",
        ),
        (
            {"budget": 1e24, "candidates": ([1e8, 2e8], [2e9, 4e9]), "cost": lambda n, d: 1.0},
            r"shape \(2,\), got shape \(\)",
        ),
        (
            {
                "budget": 1e24,
                "candidates": ([1e8, 2e8], [2e9, 4e9]),
                "cost": lambda n, d: ["a"] * 2,
            },
            r"cost\(n, d\) must return an array of numbers",
        ),
        (
            {
                "budget": 1e24,
                "candidates": ([1e8, 2e8], [2e9, 4e9]),
                "cost": lambda n, d: n / n * np.inf,
            },
            r"finite positive cost .* \(candidate 0; 2 in all\)",
        ),
        (
            {"budget": 1e24, "candidates": ([1e8, 2e8], [1e9, 2e9, 3e9])},
            r"n \(parameters\) has 2 values and candidates d \(tokens\) 3",
        ),
        ({"budget": 1e24, "candidates": pd.DataFrame({"n": [1e8]})}, "n_params"),
        (
            {
                "budget": 1e24,
                "candidates": pd.DataFrame({"n_params": [1e8, 2e8, "x"], "n_tokens": [2e9, -1, 1]}),
            },
            r"candidates column 'n_params' must hold numbers > 0, in 1 row\(s\): rows 2 hold 'x'",
        ),
        (
            {"budget": 1e24, "candidates": pd.DataFrame({"n_params": [1e8], "n_tokens": [np.nan]})},
            r"column 'n_tokens' .* rows 0 hold nan\. Fix or drop those rows",
        ),
        (
            {"budget": 1e24, "candidates": pd.DataFrame({"n_params": [], "n_tokens": []})},
            "candidates has no rows",
        ),
        ({"budget": 1e24, "max_compute": 1e20, "k": 0}, "k must be"),
        ({"budget": 1e24, "max_compute": 1e20, "outcomes": 1}, "outcomes must be"),
        ({"budget": 1e24, "max_compute": 1e15}, "min_compute"),
    ],
)
def test_bad_input_names_the_argument(reference, kwargs, match):
    with pytest.raises(bs.BayescaleError, match=match):
        bs.suggest_runs(reference, **kwargs)


# ------------------------------------------------------------------------------ figure
def test_the_figure_draws_on_given_axes_and_its_own(reference):
    import matplotlib.pyplot as plt

    result = bs.suggest_runs(reference, budget=1e24, max_compute=1e20, grid=(6, 4), k=2)
    fig, ax = bs.plotting.plot_suggestions(reference, result)
    assert ax.get_xscale() == "log" and "1.0" in ax.get_title()
    assert sorted(t.get_text() for t in ax.texts) == ["1", "2"]
    plt.close(fig)
    fig, mine = plt.subplots()
    out_fig, out_ax = bs.plotting.plot_suggestions(reference, result, ax=mine)
    assert out_fig is fig and out_ax is mine
    plt.close(fig)
    with pytest.raises(bs.InputError, match="suggest_runs returned"):
        bs.plotting.plot_suggestions(reference, result[["n_params"]])


# --------------------------------------------------------------------------------- CLI
def test_cli_prints_the_runs_as_json(capsys):
    argv = ["suggest", "--budget", "1e24", "--max-compute", "1e20", "-k", "2", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["target"] == {"kind": "n_opt", "budget": 1e24}
    assert [run["rank"] for run in out["runs"]] == [1, 2]
    assert out["candidates"] == 1000 and out["variance"] > 0
    assert {"n_params", "n_tokens", "flops", "gain_share", "batch_share"} <= set(out["runs"][0])


@pytest.mark.parametrize("law_only", [False, True])
def test_cli_counts_the_extrapolation_error_unless_told(law_only, capsys):
    """A loss target's variance includes the law's error outside the fitted runs, and runs
    far from the target are discounted by it, unless --law-only; the answer says which, and
    the JSON carries it."""
    argv = ["suggest", "--target", "loss", "--n-params", "7e10", "--n-tokens", "1.4e12"]
    argv += ["--max-compute", "1e20", "-k", "2", *(["--law-only"] if law_only else [])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)  # the planned run is far out
        assert main(argv) == 0
        words = capsys.readouterr().out
        assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["extrapolation"] is not law_only
    assert ("the law's variance alone" in words) == law_only
    assert ("with the law's error outside the fitted runs" in words) is not law_only
    assert ("runs far from the target discounted by the law's error" in words) is not law_only


@pytest.mark.parametrize("method", ["linear", "reweight"])
def test_cli_says_how_it_valued_the_runs(method, capsys):
    argv = ["suggest", "--budget", "1e24", "--max-compute", "1e20", "-k", "2"]
    assert main([*argv, "--method", method]) == 0
    out = capsys.readouterr().out
    # only reweighting simulates outcomes and leaves weights whose ESS means something
    assert ("simulated outcomes per run" in out) == (method == "reweight")
    assert ("ESS" in out) == (method == "reweight")
    assert ("a linear update of the draws" in out) == (method == "linear")


def test_cli_draws_the_runs_it_chose(capsys, tmp_path):
    figure = tmp_path / "next.png"
    argv = ["suggest", "--budget", "1e24", "--max-compute", "1e20", "-k", "2"]
    assert main([*argv, "--plot", str(figure), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["wrote"] == str(figure)
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = figure.stat().st_mtime_ns
    assert main([*argv, "--plot", str(figure)]) == 2  # never replaced unasked
    assert "--overwrite" in capsys.readouterr().err and figure.stat().st_mtime_ns == before
    assert main([*argv, "--plot", str(figure), "--overwrite"]) == 0
    assert f"wrote {figure}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--budget", "1e24", "--max-compute", "1e20", "--plot", "next.jpg"], ".png, .svg"),
        (["--budget", "1e24"], "--max-compute FLOPS is needed"),
        (["--max-compute", "1e20"], "--target n_opt needs --budget"),
        (["--target", "loss", "--budget", "1e24", "--max-compute", "1e20"], "not --budget"),
        (["--target", "loss", "--n-params", "7e10", "--max-compute", "1e20"], "--n-tokens"),
        (["--budget", "1e24", "--max-compute", "-1e20"], "--max-compute must be"),
        (["--budget", "1e24", "--max-compute", "1e20", "-k", "0"], "--k must be"),
        (["--budget", "1e24", "--max-compute", "1e20", "--posterior", "nope.nc"], "nope.nc"),
        (["--budget", "1e24", "--max-compute", "1e20", "--law-only"], "--target n_opt does not"),
    ],
)
def test_cli_user_errors_exit_2_without_traceback(argv, match, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["suggest", *argv]) == 2
    err = capsys.readouterr().err
    assert match in err.replace("\n", " ") and "Traceback" not in err


# ------------------------------------------------------------------- against a refit
@pytest.mark.slow
def test_both_gains_agree_with_refits_on_a_tiny_case():
    """The expected variance of log N_opt after one run, by the linear update and by
    reweighting, against refits of the sweep plus that run's simulated outcome (8
    outcomes from the posterior predictive, each a NUTS fit of 2 × (300 + 300)).

    Tolerance: 25% of the refits' mean. Each refit's variance from 600 draws has a
    relative error near sqrt(2/300) ≈ 8% (ESS ≈ 300), and over the 8 outcomes the mean
    scattered by 6.5% of itself in a trial run; the reweighting estimate from 64 outcomes
    and ~400 effective draws adds about 5%. 25% is about 3 combined standard errors, and
    still excludes the answer without the run (the run removes 20-25% of the variance)
    by requiring the gains to agree in sign and the refit's gain to exceed zero. The
    linear update has no Monte Carlo error over outcomes; with Normal noise its gain is a
    lower bound (module docstring), so its error is the linearisation's, held to the same
    25%."""
    frame = synthetic_sweep(sigma=0.02, seed=1, sizes=4, tokens_per_size=4)
    kwargs = {"likelihood": "normal", "chains": 2, "warmup": 300, "draws": 300}
    tolerate = (bs.ConvergenceWarning,)  # small fits: R-hat just above 1.01 by chance
    post = quiet_fit(bs.Sweep.from_frame(frame), tolerate=tolerate, **kwargs)
    budget, run = 1e22, (2e10, 4e11)
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)  # the run is 100× out
        for method in ("linear", "reweight"):
            results[method] = bs.suggest_runs(
                post, candidates=([run[0]], [run[1]]), budget=budget, k=1, method=method
            )
    now = results["linear"].attrs["variance"]
    assert results["reweight"].attrs["variance"] == pytest.approx(now, rel=1e-12)  # rounding

    # any seed: the 25% tolerance above covers the scatter of the 8 simulated outcomes
    rng = np.random.default_rng(5)
    theta = {p: v.ravel() for p, v in post.theta().items()}
    sigma = post.noise().sigma.ravel()
    after = []
    for m in range(8):
        g = rng.integers(sigma.size)
        log_loss = chinchilla_log_loss_np({p: v[g] for p, v in theta.items()}, *run)
        new = {"n_params": [run[0]], "n_tokens": [run[1]]}
        new["loss"] = [np.exp(log_loss + sigma[g] * rng.standard_normal())]
        sweep = bs.Sweep.from_frame(pd.concat([frame, pd.DataFrame(new)], ignore_index=True))
        refit = quiet_fit(sweep, tolerate=tolerate, seed=m + 1, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bs.ExtrapolationWarning)
            after.append(np.log(refit.optimal(budget)["n_opt"].values).var())
    after_refit = float(np.mean(after))
    assert now - after_refit > 0
    for method, result in results.items():
        after_estimated = now - result.loc[0, "gain"]
        print(f"{method}: now {now:.4g}, after {after_estimated:.4g}, refits {after_refit:.4g}")
        assert after_estimated == pytest.approx(after_refit, rel=0.25)
        assert result.loc[0, "gain"] > 0
