"""The data-constrained law (Muennighoff et al. 2023): the authors' printed predictions and
allocation, its reduction to Chinchilla's law on fresh data, its optima against a grid, the
``unique_tokens`` column, a fit to the bundled datablations runs, and (slow) recovery from
sweeps it generated."""

import math
import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.errors import InputError, SweepValidationError
from bayescale.laws import CHINCHILLA, get_law
from bayescale.laws.data_constrained import (
    DATA_CONSTRAINED,
    PUBLISHED,
    data_constrained_inputs,
    data_constrained_law,
    data_constrained_point_log_loss,
    log_optimal_size,
)
from bayescale.model_inputs import model_inputs
from bayescale.optimum import numeric_optimum
from bayescale.planning import predict_curve
from bayescale.schedules import cosine

from conftest import chinchilla_log_loss_np, datablations_final, quiet_fit

THETA = {k: np.float64(v) for k, v in PUBLISHED.items()}


def readme_loss(n, d, u, theta=PUBLISHED):
    """The authors' ``scaling_law(N, D, U)`` (huggingface/datablations README, "Parametric
    Fit"), transcribed in NumPy float64 in linear space: the reference, independent of the
    log-space JAX code under test."""
    e, a, b = (math.exp(theta[k]) for k in ("e", "a", "b"))
    alpha, beta, rd_star, rn_star = (theta[k] for k in ("alpha", "beta", "r_d", "r_n"))
    g = ((alpha * a) / (beta * b)) ** (1 / (alpha + beta))
    rd = np.maximum(d / u - 1, 0)
    un = np.minimum(n, (u * g) ** (beta / alpha) * g)
    rn = np.maximum(n / un - 1, 0)
    return (
        e
        + a / (un + un * rn_star * (1 - np.exp(-rn / rn_star))) ** alpha
        + b / (u + u * rd_star * (1 - np.exp(-rd / rd_star))) ** beta
    )


def law_loss(n, d, u, theta=THETA):
    with jax.enable_x64(True):
        log_loss = data_constrained_point_log_loss(theta, np.log(n), np.log(d), np.log(u))
        return np.exp(np.asarray(log_loss))


# ---------------------------------------------------------------- published numbers
def test_reproduces_the_readme_predictions():
    # The README's two models of Figure 1 (right), 25B unique tokens, with their printed
    # losses. The law works in log space, the README in linear space, both in float64:
    # they differ by rounding only (5e-16 relative here); 1e-14 allows 45 ulps.
    printed = {(6.34e9, 242e9, 25e9): 2.2256440889984477, (8.67e9, 178e9, 25e9): 2.2269634075087867}
    for (n, d, u), loss in printed.items():
        assert law_loss(n, d, u) == pytest.approx(loss, rel=1e-14)
        assert readme_loss(n, d, u) == pytest.approx(loss, rel=1e-14)
    # "<- This one is better": the smaller model on more epochs
    assert law_loss(6.34e9, 242e9, 25e9) < law_loss(8.67e9, 178e9, 25e9)


def test_reproduces_the_readme_allocation():
    # The README's optimal_allocation(8.67e9, 178e9, 25e9) prints "227B tokens, 9.1 epochs,
    # 6.8B parameters" from a grid search. The law with a 25B unique-token budget, at the
    # same compute, optimised by bisection on the slope:
    law = data_constrained_law(unique_tokens=25e9)
    with jax.enable_x64(True):
        log_n, log_d = numeric_optimum(law, THETA, np.log(6 * 8.67e9 * 178e9))
    n, d = math.exp(float(log_n)), math.exp(float(log_d))
    assert (round(d / 1e9), round(d / 25e9, 1), round(n / 1e9, 1)) == (227, 9.1, 6.8)
    # the README's grid, step (3 - 1.0001)/499 = 0.4% in the token multiplier, lands at
    # 226.5B: within one step of the exact optimum (226.9B)
    grid = np.linspace(1.0001, 3, 500)
    grid = np.concatenate([grid, 1 / grid])
    tokens, params = 178e9 * grid, 8.67e9 / grid
    best = np.argmin(readme_loss(params, tokens, np.minimum(25e9, tokens)))
    assert tokens[best] == pytest.approx(d, rel=0.004)


# --------------------------------------------------------------- fresh data: Chinchilla
def fresh_points():
    """Sizes 1e6-1e13 on 1e6-1e15 tokens, split by whether ``N ≤ N_opt(D)`` under the
    published constants."""
    n, d = (
        a.ravel() for a in np.meshgrid(np.geomspace(1e6, 1e13, 15), np.geomspace(1e6, 1e15, 19))
    )
    with jax.enable_x64(True):
        small = np.log(n) <= np.asarray(log_optimal_size(THETA, np.log(d)))
    return n, d, small


def test_fresh_data_is_chinchilla_up_to_the_optimal_size():
    n, d, small = fresh_points()
    assert 50 < small.sum() < small.size - 50  # both regimes are covered
    with jax.enable_x64(True):
        law = np.asarray(DATA_CONSTRAINED.log_loss(THETA, np.log(n), np.log(d)))
        chinchilla = np.asarray(CHINCHILLA.log_loss(THETA, np.log(n), np.log(d)))
    # R_N = R_D = 0 make log N' = log N and log D' = log D exactly, so the two agree to the
    # bit; against the independent NumPy form, to float64 rounding (1e-15 relative, a
    # few ulps of log L ~ 1).
    np.testing.assert_array_equal(law[small], chinchilla[small])
    reference = chinchilla_log_loss_np(THETA, n, d)
    np.testing.assert_allclose(law[small], reference[small], rtol=1e-15, atol=0)
    # beyond N_opt(D) the excess parameters decay: strictly above Chinchilla's loss
    assert np.all(law[~small] > chinchilla[~small])
    # and the README's form agrees everywhere (U = D), to float64 rounding of a sum of
    # three terms computed in another order (1e-14 relative)
    np.testing.assert_allclose(np.exp(law), readme_loss(n, d, d), rtol=1e-14)


def along_constraint(law, theta, budget, points=200_001):
    """``log N`` on a brute-force grid of ``points`` values from 1e3 parameters to 100
    tokens (the bracket of :mod:`bayescale.optimum`) and ``log L`` there, along
    ``C = 6ND``."""
    log_half = math.log(budget / 6)
    grid = np.linspace(math.log(1e3), log_half - math.log(100), points)
    with jax.enable_x64(True):
        return grid, np.asarray(law.log_loss(theta, grid, log_half - grid))


def test_optima_match_a_brute_force_grid():
    # Fresh data: the closed form (Chinchilla's optimum); a unique-token budget: bisection
    # on the slope. Checked against 200,001 log N values (cells of ~3e-4 e-folds):
    #  - value: the optimum's log L is at most the grid's lowest (+1e-12, far above float64
    #    rounding of log L ~ 1 and far below any second minimum that would matter);
    #  - place: within the grid points whose log L is within 1e-12 of the lowest, widened
    #    by 1e-3 (three cells; the grid's argmin lies within half a cell of the optimum).
    #    Where a small unique budget meets a large compute (1e8 tokens at 1e21 FLOPs) both
    #    decays saturate and log L is flat to float64 over e-folds of N; any size there is
    #    optimal, and the check accepts the whole flat stretch.
    rng = np.random.default_rng(0)
    cases = [(DATA_CONSTRAINED, THETA)]
    for unique in (1e8, 3e9, 25e9, 1e12):
        cases.append((data_constrained_law(unique_tokens=unique), THETA))
    for _ in range(4):  # parameters around the published ones
        theta = {k: v * np.exp(0.3 * rng.standard_normal()) for k, v in THETA.items()}
        cases.append((data_constrained_law(unique_tokens=3e9), theta))
        cases.append((DATA_CONSTRAINED, theta))
    for law, theta in cases:
        for budget in (1e18, 1e21, 1e24):
            with jax.enable_x64(True):
                solve = law.optimum or partial(numeric_optimum, law)
                log_n, log_d = solve(theta, math.log(budget))
                at = float(law.log_loss(theta, log_n, log_d))
            grid, values = along_constraint(law, theta, budget)
            lowest = grid[values <= values.min() + 1e-12]
            where = (dict(law.settings), budget)
            assert at <= values.min() + 1e-12, where
            assert lowest.min() - 1e-3 <= float(log_n) <= lowest.max() + 1e-3, where


def test_fresh_optimum_is_the_chinchilla_closed_form():
    assert DATA_CONSTRAINED.optimum is CHINCHILLA.optimum
    assert data_constrained_law(unique_tokens=1e9).optimum is None


# --------------------------------------------------------------------- numerics
def test_float32_matches_float64_at_frontier_scale():
    # N = 1e12 on 2e13 tokens of 1e11 unique (200 epochs) and nearby: float32 log L within
    # 2e-6 of float64, a few float32 ulps of log L ~ 0.7 (eps 1.2e-7).
    n = np.array([1e12, 3e11, 1e13, 1e9])
    d = np.array([2e13, 2e13, 2e12, 1e15])
    u = np.array([1e11, 2e13, 1e9, 1e10])
    args64 = [np.log(x) for x in (n, d, u)]
    with jax.enable_x64(True):
        ref = np.asarray(data_constrained_point_log_loss(THETA, *args64))
    theta32 = {k: jnp.float32(v) for k, v in THETA.items()}
    got = np.asarray(
        data_constrained_point_log_loss(theta32, *(a.astype(np.float32) for a in args64))
    )
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref, atol=2e-6, rtol=0)


def test_gradients_are_finite_at_the_switch_and_far_beyond():
    # At R = 0 (the min switches), at e^60 repetitions (beyond the cap on log(X/U)) and at
    # an over-parameterised size: every parameter's gradient is finite.
    def total(theta, log_n, log_d, log_u):
        return jnp.sum(data_constrained_point_log_loss(theta, log_n, log_d, log_u))

    log_d = np.log(np.array([1e10, 1e10, 1e12, 1e10]))
    log_u = np.array([np.log(1e10), np.log(1e10), np.log(1e12) - 60.0, np.log(1e8)])
    with jax.enable_x64(True):
        log_n = np.array([float(log_optimal_size(THETA, log_d[0])), np.log(1e13), 20.0, 25.0])
        grads = jax.grad(total)(THETA, log_n, log_d, log_u)
    assert all(np.isfinite(float(g)) for g in grads.values()), grads


# ------------------------------------------------------------------ the sweep's rows
def frame(unique, tokens=(1e10, 2e10, 4e10)):
    return pd.DataFrame(
        {"n_params": 1e9, "n_tokens": list(tokens), "loss": 2.5, "unique_tokens": list(unique)}
    )


def test_inputs_read_the_unique_tokens():
    inputs = data_constrained_inputs(frame([1e10, 5e9, 1e9]))
    np.testing.assert_allclose(inputs["log_u"], np.log([1e10, 5e9, 1e9]))
    # a final logged token count a hair short of the planned budget is accepted and counts
    # as n_tokens unique tokens
    inputs = data_constrained_inputs(frame([1.00005e10, 5e9, 1e9]))
    a = law_loss(1e9, 1e10, 1.00005e10)
    assert a == law_loss(1e9, 1e10, 1e10)
    assert np.isfinite(inputs["log_u"]).all()


@pytest.mark.parametrize(
    "table, needle",
    [
        (frame([1e10, 5e9, 1e9]).drop(columns="unique_tokens"), "no column 'unique_tokens'"),
        (frame([1e10, 0.0, -1.0]), r"positive token counts; rows 1, 2 hold 0\.0, -1\.0"),
        (frame([1e10, np.nan, "many"]), "rows 1, 2"),
        (frame([1e10, 3e10, 1e9]), r"exceeds 'n_tokens' in rows 1 \(3e\+10 > 2e\+10\)"),
    ],
    ids=["missing", "not positive", "not numbers", "above n_tokens"],
)
def test_inputs_refuse_bad_unique_tokens(table, needle):
    with pytest.raises(SweepValidationError, match=needle) as caught:
        data_constrained_inputs(table)
    assert "unique_tokens" in str(caught.value)


@pytest.mark.parametrize("value", [0, -1e9, float("nan"), "25e9", True])
def test_unique_token_budget_must_be_positive(value):
    with pytest.raises(InputError, match="unique_tokens must be a positive number"):
        data_constrained_law(unique_tokens=value)


def test_settings_rebuild_the_budget_law():
    law = get_law("data_constrained", {"unique_tokens": 25e9})
    assert dict(law.settings) == {"unique_tokens": 25e9}
    with jax.enable_x64(True):
        got = float(law.log_loss(THETA, np.log(8.67e9), np.log(178e9)))
    assert math.exp(got) == pytest.approx(2.2269634075087867, rel=1e-14)
    assert get_law("data_constrained") is DATA_CONSTRAINED


def test_a_fit_uses_final_checkpoints_and_no_curve_prediction():
    # three checkpoints per run of ten: the law reads finished runs, so by default a fit
    # uses each run's last
    sizes = np.geomspace(1e8, 3e9, 10)
    rows = []
    for run, n in enumerate(sizes):
        for fraction in (0.25, 0.5, 1.0):
            d = 20 * n * fraction
            rows.append(
                {
                    "run": str(run),
                    "n_params": n,
                    "n_tokens": d,
                    "loss": 3.0 - fraction / 4,
                    "unique_tokens": d / 2,
                }
            )
    sweep = bs.Sweep.from_frame(pd.DataFrame(rows))
    with pytest.warns(bs.SweepWarning, match="final"):
        inputs = model_inputs(sweep, law="data_constrained")
    np.testing.assert_array_equal(inputs.sweep.fit_frame["n_tokens"], 20 * sizes)
    np.testing.assert_allclose(
        inputs.args["inputs"]["log_u"], np.log(inputs.sweep.fit_frame["n_tokens"] / 2)
    )
    with pytest.raises(InputError, match="does not read learning-rate schedules"):
        predict_curve(DATA_CONSTRAINED, THETA, 1e9, cosine(1000, 3e-4, 3e-5), 2**19)


# ------------------------------------------------------------ the authors' runs
@pytest.fixture(scope="module")
def datablations_fits():
    # bs.fit's default sampler (4 x (1000 + 1000)), as a user fits these runs, and seed 0,
    # the seed these tests have always used (with the start's retry every chain finds the
    # Laplace mode: all 12 of 2 chains at seeds 0-5; docs/performance.md). Three model
    # sizes within a factor of 3 barely measure alpha, whose posterior keeps its prior's
    # long upper tail, and the 44-epoch runs (whose loss rises late in training, which no
    # law here models) pull the fit: a chain can wander into that tail (2 of 6 seeds above
    # R-hat 1.01), which these tests tolerate (they compare predictive densities that
    # differ by many standard errors). A Laplace start that falls back to the prior is not
    # tolerated (tests/test_starts.py has searches that run off to the Student-t's spike).
    sweep = datablations_final()
    slow = ("R-hat above", "ESS below", "maximum tree depth", "prior-dominated", "divergent")
    return {
        law: quiet_fit(sweep, law=law, chains=4, warmup=1000, draws=1000, seed=0, tolerate=slow)
        for law in ("data_constrained", "chinchilla")
    }


@pytest.mark.slow  # two fits at bs.fit's default sampler
def test_datablations_fit_beats_chinchilla_on_loo(datablations_fits):
    # Repetition costs the 8.7B model 0.11 nats at 14 epochs and 0.78 at 44 while D is
    # fixed, which Chinchilla's law in (N, D) cannot express. The data-constrained law's
    # PSIS-LOO must be higher by more than 2 standard errors of the difference (trial fits:
    # 22 nats, about 4 se). The warning names points whose LOO terms are unreliable (the
    # 44-epoch runs, far from any law).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ComparisonWarning)
        table = bs.compare(datablations_fits)
    assert table.index[0] == "data_constrained"
    assert table.loc["chinchilla", "elpd_diff"] > 2 * table.loc["chinchilla", "dse"]


@pytest.mark.slow
def test_datablations_fit_finds_repetition_decay(datablations_fits):
    # R_D* is what the runs measure best: the same three sizes at 1-44 epochs. Its
    # posterior median lies in [2, 50] repetitions (the authors' 15.4 is inside; the prior
    # median 15.4 with 95% on [2.2, 110]), a wide band: the fit is of 24 points, on three
    # sizes, and the 44-epoch runs sit far above the law.
    r_d = datablations_fits["data_constrained"].posterior["r_d"].values
    assert np.all(np.isfinite(r_d))
    assert 2 < np.median(r_d) < 50


# ------------------------------------------------------------------------ recovery
TRUTH = dict(PUBLISHED, beta=0.37)  # distinct exponents, so that both are identified


def repeated_sweep(theta, sigma=0.005, seed=0) -> bs.Sweep:
    """Seven sizes 1e7-1e10 on 5, 20 and 80 tokens per parameter, each at 1, 4, 16 and 64
    epochs of its unique data (84 runs), Normal noise of ``sigma`` on log loss. The
    epochs put runs at R_D up to 63 and, through U_N = N_opt(D/epochs), at R_N up to ~60,
    so both decays are measured."""
    rng = np.random.default_rng(seed)
    n, ratio, epochs = (
        a.ravel()
        for a in np.meshgrid(np.geomspace(1e7, 1e10, 7), [5.0, 20.0, 80.0], [1.0, 4.0, 16.0, 64.0])
    )
    d = n * ratio
    u = d / epochs
    with jax.enable_x64(True):
        log_loss = np.asarray(
            data_constrained_point_log_loss(theta, np.log(n), np.log(d), np.log(u))
        )
    loss = np.exp(log_loss + sigma * rng.standard_normal(n.size))
    return bs.Sweep.from_frame(
        pd.DataFrame({"n_params": n, "n_tokens": d, "loss": loss, "unique_tokens": u})
    )


# Recovery over independent sweeps (seeds 0-11 of the noise; each fit its own seed). Per
# parameter and sweep, u is the fraction of posterior draws below the truth: calibrated
# intervals give u ~ Uniform(0, 1), independently across sweeps (the parameters of one sweep
# are not independent, so each is counted separately and they are combined by a union
# bound).
#  - too narrow or biased: the truth leaves the central 90% interval Binomial(12, 0.1)
#    times; P(>= 6) = 0.0005, so at most 5 misses are allowed.
#  - too wide: the truth lies in the central 50% interval Binomial(12, 0.5) times; all 12
#    or none has P = 0.0005, so 1 to 11 are required.
# A calibrated fit fails with probability below 7 × 0.001 = 0.007 over the seven
# parameters.
RECOVERY_SEEDS = range(12)
MISSES_90_MAX = 5


@pytest.mark.slow
def test_fits_recover_the_truth():
    u = {name: [] for name in TRUTH}
    for seed in RECOVERY_SEEDS:
        post = quiet_fit(
            repeated_sweep(TRUTH, seed=seed),
            law="data_constrained",
            chains=1,
            warmup=500,
            draws=500,
            seed=seed,
            # one chain of 500 draws: ESS near its threshold of 200, and the odd long
            # trajectory, make intervals noisier, which the allowance covers
            tolerate=("ESS below", "maximum tree depth"),
        )
        for name, value in TRUTH.items():
            u[name].append(float(np.mean(post.posterior[name].values < value)))
    report = "\n".join(
        f"{name:>6} truth {TRUTH[name]:9.4f}  u: " + " ".join(f"{x:.3f}" for x in values)
        for name, values in u.items()
    )
    print(report)
    for name, values in u.items():
        values = np.asarray(values)
        misses_90 = int(np.sum((values < 0.05) | (values > 0.95)))
        inside_50 = int(np.sum((values >= 0.25) & (values <= 0.75)))
        assert misses_90 <= MISSES_90_MAX, f"{name}: {misses_90} outside the 90% interval\n{report}"
        assert 0 < inside_50 < len(values), f"{name}: {inside_50} inside the 50% interval\n{report}"
