"""Farseer's law and Chinchilla's law with an N-dependent data exponent: their maths against
the formulas as published, their optima against a brute-force grid, every planning query
on them, and (slow) recovery of their parameters from sweeps they generated."""

from __future__ import annotations

import math
import warnings

import jax
import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.bracket import bracket
from bayescale.laws import CHINCHILLA, CHINCHILLA_BETA_N, FARSEER
from bayescale.laws.farseer import box_cox, farseer_derived, farseer_exponent, farseer_theta
from bayescale.planning import optimal

from conftest import TRUTH, point_mass, quiet_fit

# Farseer-form constants (N in parameters, D in tokens) with every term in play: a size
# term with a floor (q < 0) and a data coefficient and exponent that change with N.
PAPER_FORM = {
    "s": 40.0,
    "q": -0.2,
    "S": 0.55,
    "B": 30.0,
    "b": -0.1,
    "Q": 6.0,
    "A": 0.6,
    "a": -0.05,
    "E": -1.6,
}


def paper_loss(c, n, d):
    """Farseer's law as printed, in float64 NumPy."""
    beta = np.exp(c["A"] * n ** c["a"] + c["E"])
    return np.exp(c["s"] * n ** c["q"] + c["S"]) + np.exp(c["B"] * n ** c["b"] + c["Q"]) * d**-beta


# ------------------------------------------------------------------------------- maths
def test_farseer_is_the_formula_as_printed():
    theta = farseer_theta(**PAPER_FORM)
    n = np.array([3e7, 1e9, 7e10, 1e12])
    d = np.array([6e8, 2e10, 1.4e12, 1e14])
    with jax.enable_x64(True):
        got = np.asarray(FARSEER.log_loss(theta, np.log(n), np.log(d)))
    np.testing.assert_allclose(got, np.log(paper_loss(PAPER_FORM, n, d)), rtol=1e-12)
    derived = farseer_derived({k: np.float64(v) for k, v in theta.items()})
    for name, value in PAPER_FORM.items():
        source = derived if name in derived else theta
        assert float(source[name]) == pytest.approx(value, rel=1e-12), name
    # β(N) levels off at e^E, the exponent of the largest models
    assert float(derived["beta_inf"]) == pytest.approx(math.exp(PAPER_FORM["E"]), rel=1e-12)


def test_box_cox_is_smooth_through_zero():
    """``bc(x, p) = (e^{px} − 1)/p`` is ``x`` at ``p = 0``, and its value and slope in p
    (``x²/2`` at 0) do not jump where the series takes over (|p·x| = 1e-4)."""
    x = 2.5
    with jax.enable_x64(True):
        value, slope = jax.value_and_grad(box_cox, argnums=1)(x, 0.0)
        assert float(value) == x and float(slope) == pytest.approx(x * x / 2, rel=1e-12)
        for p in (0.99e-4 / x, 1.01e-4 / x, -0.99e-4 / x, -1.01e-4 / x):
            assert float(box_cox(x, p)) == pytest.approx(math.expm1(p * x) / p, rel=1e-13)


def test_farseer_float32_is_safe_at_frontier_scale():
    theta64 = farseer_theta(**PAPER_FORM)
    theta32 = {k: np.float32(v) for k, v in theta64.items()}
    log_n, log_d = math.log(1e12), math.log(1e14)
    got = float(FARSEER.log_loss(theta32, np.float32(log_n), np.float32(log_d)))
    want = math.log(paper_loss(PAPER_FORM, 1e12, 1e14))
    assert abs(got - want) < 2e-6  # float32 eps is 1.2e-7; the terms are of order 10


def test_chinchilla_beta_n_is_chinchilla_at_constant_exponent():
    theta = {**TRUTH, "beta_n": 0.0}
    log_n, log_d = np.log([1e8, 3e9, 1e11]), np.log([2e9, 6e10, 3e12])
    with jax.enable_x64(True):
        np.testing.assert_allclose(
            np.asarray(CHINCHILLA_BETA_N.log_loss(theta, log_n, log_d)),
            np.asarray(CHINCHILLA.log_loss(TRUTH, log_n, log_d)),
            rtol=1e-14,
        )
        exponent = CHINCHILLA_BETA_N.quantities({**TRUTH, "beta_n": -0.003})["beta_1e11"]
    assert exponent == pytest.approx(TRUTH["beta"] - 0.003 * math.log(100.0))


# ------------------------------------------------------------------------------ optimum
def plausible_prior_draws(law, count: int, seed: int) -> dict:
    """The first ``count`` of 20,000 prior draws whose losses are plausible on the grid of
    sizes 1e7–1e11 and tokens 1e8–1e13: between 1.5 and 8 nats, and falling with N."""
    key = jax.random.PRNGKey(seed)
    draws = {
        p: np.asarray(law.priors[p]().sample(jax.random.fold_in(key, i), (20_000,)))
        for i, p in enumerate(law.params)
    }
    n, d = np.geomspace(1e7, 1e11, 5), np.geomspace(1e8, 1e13, 6)
    with jax.enable_x64(True), np.errstate(over="ignore"):
        loss = np.exp(
            np.asarray(
                law.log_loss(
                    {k: v[:, None, None] for k, v in draws.items()},
                    np.log(n)[:, None],
                    np.log(d)[None, :],
                )
            )
        )
    keep = np.all((loss > 1.5) & (loss < 8.0), axis=(1, 2))
    keep &= np.all(np.diff(loss, axis=1) < 0, axis=(1, 2))
    return {k: v[keep][:count].astype(np.float64) for k, v in draws.items()}


@pytest.mark.parametrize("law", [FARSEER, CHINCHILLA_BETA_N], ids=lambda law: law.name)
def test_optimum_is_the_brute_force_argmin_along_6nd(law):
    """The planning path's optimum (Farseer's own search, the numeric bisection for the
    other) against log L on 200,001 points of log N spanning the whole bracket, for 40
    plausible prior draws at budgets 1e18–1e26. The grid's spacing is at most 3e-4 in
    log N, so its lowest value lies within (curvature × spacing²) ~ 1e-8 of the minimum:
    the optimum's loss must not exceed it by more than 1e-7."""
    theta = plausible_prior_draws(law, count=40, seed=0)
    budgets = np.array([1e18, 1e20, 1e22, 1e24, 1e26])
    with jax.enable_x64(True):
        plan = optimal(law, {k: v[None, :] for k, v in theta.items()}, budgets)
        log_n_opt = np.log(plan["n_opt"].values[0])  # (draw, budget)
        for j, log_c in enumerate(np.log(budgets)):
            lo, hi = (float(edge) for edge in bracket(log_c))
            grid = np.linspace(lo, hi, 200_001)
            half = log_c - math.log(6.0)
            along = np.asarray(
                law.log_loss({k: v[:, None] for k, v in theta.items()}, grid, half - grid)
            )
            at_opt = np.asarray(law.log_loss(theta, log_n_opt[:, j], half - log_n_opt[:, j]))
            excess = at_opt - along.min(axis=1)
            assert np.all(excess < 1e-7), (law.name, budgets[j], excess.max())


def test_farseer_optimum_finds_the_lower_of_two_minima():
    """Among plausible prior draws are some whose loss along C = 6ND has more than one
    minimum, where bisection on the slope (bayescale.optimum), which halves the bracket
    toward the side its slope points to, stops in a higher one; Farseer's scan finds the
    lowest (to within the 4,001-point grid's resolution, which only favours the grid)."""
    from bayescale.optimum import numeric_optimum

    theta = plausible_prior_draws(FARSEER, count=400, seed=1)
    log_c = math.log(1e18)
    half = log_c - math.log(6.0)
    with jax.enable_x64(True):  # the bracket too: its float32 edges differ by 1e-6
        lo, hi = (float(edge) for edge in bracket(log_c))
        grid = np.linspace(lo, hi, 4001)
        along = np.asarray(
            FARSEER.log_loss({k: v[:, None] for k, v in theta.items()}, grid, half - grid)
        )
        bisected = np.asarray(numeric_optimum(FARSEER, theta, log_c)[0])
        scanned = np.asarray(FARSEER.optimum(theta, log_c)[0])
        loss_bisected = np.asarray(FARSEER.log_loss(theta, bisected, half - bisected))
        loss_scanned = np.asarray(FARSEER.log_loss(theta, scanned, half - scanned))
    wrong = loss_bisected - along.min(axis=1) > 1e-6
    assert wrong.any()  # such draws exist among plausible ones (see docs/priors.md)
    assert np.all(loss_scanned[wrong] - along.min(axis=1)[wrong] < 1e-7)


# ----------------------------------------------------------------------- every query
FARSEER_POINT = {
    "u": 0.79,
    "alpha": 0.087,
    "q": -0.11,
    "v": -1.1,
    "kappa": 0.2,
    "fade_b": 0.23,
    "beta": 0.38,
    "gamma": -0.05,
    "fade_beta": 0.06,
}
BETA_N_POINT = {**TRUTH, "beta_n": -0.003}


@pytest.mark.parametrize(
    "law, theta",
    [(FARSEER, FARSEER_POINT), (CHINCHILLA_BETA_N, BETA_N_POINT)],
    ids=["farseer", "chinchilla_beta_n"],
)
def test_every_planning_query_answers_on_the_new_laws(law, theta):
    post = point_mass(law.name, theta)
    plan = post.optimal([1e21, 1e23])
    n_opt, d_opt = plan["n_opt"].values.ravel(), plan["d_opt"].values.ravel()
    assert np.all(np.isfinite(n_opt)) and np.all(n_opt[1] > n_opt[0])
    np.testing.assert_allclose(6 * n_opt * d_opt, [1e21, 1e23], rtol=1e-9)
    loss_opt = float(plan["loss_opt"].values.ravel()[0])
    # excess compute is 1 at the optimum and above it on either side
    ratios = post.excess_compute([0.5, 1.0, 2.0], 1e21)["compute_ratio"].values.ravel()
    assert ratios[1] == pytest.approx(1.0, abs=1e-6) and ratios[0] > 1 and ratios[2] > 1
    # the compute that reaches the optimum's loss at 1e21 is 1e21
    reach = float(post.compute_to_reach(loss_opt)["compute"].values.ravel()[0])
    assert reach == pytest.approx(1e21, rel=1e-6)
    span = post.efficient_range(1e21)  # sizes within +20% compute, as N / N_opt
    assert float(span["low"].values.ravel()[0]) < 1 < float(span["high"].values.ravel()[0])
    assert np.isfinite(post.predict_loss(1e9, 2e10)["loss_predictive"].values).all()
    assert set(post.derived()) == set(law.quantities(theta))


def test_farseer_data_exponent_levels_off():
    theta = {k: np.float64(v) for k, v in FARSEER_POINT.items()}
    with jax.enable_x64(True):
        exponents = [float(farseer_exponent(theta, math.log(n))) for n in (1e9, 1e12, 1e40)]
    beta_inf = float(farseer_derived(theta)["beta_inf"])
    assert exponents[0] == pytest.approx(FARSEER_POINT["beta"])
    assert exponents[0] > exponents[1] > exponents[2] > beta_inf > 0  # gamma < 0
    # at 1e40, 71 e-folds past N0, e^(-0.06·71) = 1.4% of the change is left to come
    assert exponents[2] == pytest.approx(beta_inf, rel=0.05)


# ------------------------------------------------------------------------------ recovery
def law_sweep(law, theta, sigma=0.005, seed=0) -> bs.Sweep:
    """Ten sizes 1e7–3e10 trained on 1–1000 tokens per parameter (eight ratios), Normal
    noise of ``sigma`` on log loss: the spread of N that a nine-parameter law needs."""
    rng = np.random.default_rng(seed)
    n = np.repeat(np.geomspace(1e7, 3e10, 10), 8)
    d = n * np.tile(np.geomspace(1, 1000, 8), 10)
    with jax.enable_x64(True):
        log_loss = np.asarray(law.log_loss(theta, np.log(n), np.log(d)))
    loss = np.exp(log_loss + sigma * rng.standard_normal(n.size))
    return bs.Sweep.from_frame(pd.DataFrame({"n_params": n, "n_tokens": d, "loss": loss}))


def recovery_fit(law, truth, seed):
    """One chain of 500 draws after 500 warmup on a sweep of seed ``seed``, at
    ``target_accept=0.95``. KNOWN PROBLEM: Farseer's slopes and curvatures (alpha, q, gamma
    and the fades) mix slowly, together (theirs are the lowest ESS). At the default 0.8,
    one of the 12 sweeps got a stuck chain (bulk ESS 2 of 500, one divergence); at 0.95 none
    diverged, the smallest bulk ESS per sweep was 16-141, and some transitions hit the
    maximum tree depth (7 of 500 on sweep 0). Both are tolerated: they make an interval
    noisier, which the allowance covers."""
    return quiet_fit(
        law_sweep(law, truth, seed=seed),
        law=law.name,
        chains=1,
        warmup=500,
        draws=500,
        seed=seed,
        target_accept=0.95,
        tolerate=("ESS below", "maximum tree depth"),
    )


# Recovery over independent sweeps (seeds 0–11 of the noise; each fit its own seed). Per
# parameter and sweep, u is the fraction of posterior draws below the truth: calibrated
# intervals give u ~ Uniform(0, 1), independently across sweeps (the parameters of one sweep
# are not independent, so each is counted separately and they are combined by a union
# bound).
#  - too narrow or biased: the truth leaves the central 90% interval (u < 0.05 or u > 0.95)
#    Binomial(12, 0.1) times; P(>= 6) = 0.0005, so at most 5 misses are allowed.
#  - too wide: the truth lies in the central 50% interval Binomial(12, 0.5) times; all 12
#    or none has P = 0.0005, so 1 to 11 are required.
# A calibrated fit fails with probability below 9 × 0.001 = 0.009 for Farseer's nine
# parameters and 0.006 for the six of the other law. The sweeps (law_sweep) span 3.5
# decades of N with noise 0.005, so the data, not the priors, set every interval (posterior
# sd at most a fifth of the prior's in trial fits); a prior-dominated parameter would put
# the same u in every sweep.
RECOVERY_SEEDS = range(12)
MISSES_90_MAX = 5


@pytest.mark.slow
@pytest.mark.parametrize(
    "law, truth",
    [(FARSEER, FARSEER_POINT), (CHINCHILLA_BETA_N, BETA_N_POINT)],
    ids=["farseer", "chinchilla_beta_n"],
)
def test_fits_recover_the_truth(law, truth):
    u = {name: [] for name in truth}
    for seed in RECOVERY_SEEDS:
        post = recovery_fit(law, truth, seed)
        for name, value in truth.items():
            u[name].append(float(np.mean(post.posterior[name].values < value)))
        if seed == RECOVERY_SEEDS[0]:
            with warnings.catch_warnings():  # 1e24 FLOPs is beyond the fitted compute
                warnings.simplefilter("ignore", bs.ExtrapolationWarning)
                assert np.all(np.isfinite(post.optimal([1e21, 1e24])["n_opt"].values))
    report = "\n".join(
        f"{name:>10} truth {truth[name]:9.4f}  u: " + " ".join(f"{x:.3f}" for x in values)
        for name, values in u.items()
    )
    print(report)
    for name, values in u.items():
        values = np.asarray(values)
        misses_90 = int(np.sum((values < 0.05) | (values > 0.95)))
        inside_50 = int(np.sum((values >= 0.25) & (values <= 0.75)))
        assert misses_90 <= MISSES_90_MAX, f"{name}: {misses_90} outside the 90% interval\n{report}"
        assert 0 < inside_50 < len(values), f"{name}: {inside_50} inside the 50% interval\n{report}"
