"""The Kaplan laws, their closed-form optima, the numeric optimum for any law, user laws,
and Kaplan fits."""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bayescale as bs
from bayescale import laws
from bayescale.bracket import bracket
from bayescale.laws import CHINCHILLA, KAPLAN, KAPLAN_STEPS
from bayescale.laws import law as law_module
from bayescale.optimum import numeric_optimum

from conftest import quiet_fit

LOG10 = math.log(10.0)

# Kaplan et al. 2020 (WebText2, nats/token): eq. 1.5 and eq. 1.6 (S_c in steps).
KAPLAN_TRUTH = {
    "log_nc": math.log(6.4e13),
    "alpha_n": 0.076,
    "log_dc": math.log(1.8e13),
    "alpha_d": 0.095,
}
KAPLAN_STEPS_TRUTH = {
    "log_nc": math.log(6.5e13),
    "alpha_n": 0.076,
    "log_sc": math.log(2.1e3),
    "alpha_s": 0.76,
}
# The same law on a token axis at Kaplan's batch of 2^19 tokens: S_c·B.
KAPLAN_STEPS_TOKENS = {**KAPLAN_STEPS_TRUTH, "log_sc": math.log(2.1e3 * 2**19)}

PARAMS = {
    "chinchilla": st.fixed_dictionaries(
        {
            "e": st.floats(-1.0, 1.5),
            "a": st.floats(1.0, 10.0),
            "alpha": st.floats(0.05, 0.9),
            "b": st.floats(1.0, 10.0),
            "beta": st.floats(0.05, 0.9),
        }
    ),
    "kaplan": st.fixed_dictionaries(
        {
            "log_nc": st.floats(15.0, 50.0),
            "alpha_n": st.floats(0.02, 0.5),
            "log_dc": st.floats(15.0, 50.0),
            "alpha_d": st.floats(0.02, 0.5),
        }
    ),
    "kaplan_steps": st.fixed_dictionaries(
        {
            "log_nc": st.floats(15.0, 50.0),
            "alpha_n": st.floats(0.02, 0.5),
            "log_sc": st.floats(2.0, 30.0),
            "alpha_s": st.floats(0.1, 2.0),
        }
    ),
}


# ------------------------------------------------------------------- the laws themselves
def test_kaplan_log_loss_matches_direct_formula():
    n, d = 1e9, 2e10
    k = KAPLAN_TRUTH
    direct = ((6.4e13 / n) ** (k["alpha_n"] / k["alpha_d"]) + 1.8e13 / d) ** k["alpha_d"]
    with jax.enable_x64(True):
        got = float(KAPLAN.log_loss(k, math.log(n), math.log(d)))
    assert math.isclose(got, math.log(direct), rel_tol=1e-12)


def test_kaplan_steps_log_loss_matches_direct_formula():
    n, s = 1e9, 5e4
    k = KAPLAN_STEPS_TRUTH
    direct = (6.5e13 / n) ** 0.076 + (2.1e3 / s) ** 0.76
    with jax.enable_x64(True):
        got = float(KAPLAN_STEPS.log_loss(k, math.log(n), math.log(s)))
    assert math.isclose(got, math.log(direct), rel_tol=1e-12)


def test_kaplan_laws_float32_at_frontier_scale():
    # N = 1e12, D = 1e14 in float32: log space keeps the loss to float32 resolution.
    for law, theta in ((KAPLAN, KAPLAN_TRUTH), (KAPLAN_STEPS, KAPLAN_STEPS_TOKENS)):
        with jax.enable_x64(True):
            want = float(law.log_loss(theta, math.log(1e12), math.log(1e14)))
        th32 = {p: np.float32(v) for p, v in theta.items()}
        got = law.log_loss(th32, np.float32(math.log(1e12)), np.float32(math.log(1e14)))
        assert got.dtype == jnp.float32
        assert abs(float(got) - want) < 2e-6


def test_kaplan_laws_are_registered_with_priors_covering_kaplan():
    assert {"chinchilla", "kaplan", "kaplan_steps"} <= set(bs.available_laws())
    assert bs.get_law("kaplan") is KAPLAN and bs.get_law("kaplan_steps") is KAPLAN_STEPS
    for law, truths in (
        (KAPLAN, [KAPLAN_TRUTH]),
        (KAPLAN_STEPS, [KAPLAN_STEPS_TRUTH, KAPLAN_STEPS_TOKENS]),
    ):
        assert dict(law.shear) == {}
        for truth in truths:
            for name, value in truth.items():
                prior = law.priors[name]()
                # Kaplan's values lie inside each prior's central 95%.
                z = (
                    (math.log(value) - float(prior.loc))
                    if isinstance(prior, dist.LogNormal)
                    else (value - float(prior.loc))
                ) / float(prior.scale)
                assert abs(z) < 1.96, (law.name, name, z)


# --------------------------------------------------------------------------- optimum
def brute_force(law, theta, log_c, points=20001):
    """Argmin of ``law`` along ``C = 6ND`` on a dense grid over the bracket, refined on a
    second grid around the first argmin (spacing about 2e-6 in log N); float64."""
    lo, hi = (float(v) for v in bracket(log_c))
    log_half = log_c - math.log(6.0)

    def along(x):
        return np.asarray(law.log_loss(theta, x, log_half - x))

    grid = np.linspace(lo, hi, points)
    values = along(grid)
    step = grid[1] - grid[0]
    i = int(np.argmin(values))
    fine = np.linspace(max(lo, grid[i] - step), min(hi, grid[i] + step), 2001)
    return fine[np.argmin(along(fine))], values


def check_against_brute_force(law, theta, log_c):
    with jax.enable_x64(True):
        found, _ = (float(v) for v in numeric_optimum(law, theta, log_c))
        best, values = brute_force(law, theta, log_c)
        # The loss along the constraint is convex for these laws (log-sum-exp of affine
        # functions of log N), so a slope bisection finds the global minimum.
        assert np.all(np.diff(values, 2) >= -1e-12)
        log_half = log_c - math.log(6.0)
        loss_found = float(law.log_loss(theta, found, log_half - found))
        loss_best = float(law.log_loss(theta, best, log_half - best))
        # The numeric optimum is never worse than the grid, and sits at its argmin to the
        # resolution the curvature allows (the loss is quadratic at its minimum).
        assert loss_found <= loss_best + 1e-12
        assert abs(found - best) < 1e-4 or loss_best - loss_found < 1e-11
        if law.optimum is not None:
            closed, _ = (float(v) for v in law.optimum(theta, log_c))
            lo, hi = (float(v) for v in bracket(log_c))
            if lo < closed < hi:
                assert abs(found - closed) < 1e-9, (found, closed)
    return found


@pytest.mark.parametrize(
    "law, theta",
    [
        (
            CHINCHILLA,
            {
                "e": math.log(1.69),
                "a": math.log(406.4),
                "alpha": 0.34,
                "b": math.log(410.7),
                "beta": 0.28,
            },
        ),
        (KAPLAN, KAPLAN_TRUTH),
        (KAPLAN_STEPS, KAPLAN_STEPS_TRUTH),
        (KAPLAN_STEPS, KAPLAN_STEPS_TOKENS),
    ],
)
@pytest.mark.parametrize("log10_c", [19.0, 23.0, 27.0])
def test_numeric_optimum_at_published_constants(law, theta, log10_c):
    check_against_brute_force(law, theta, log10_c * LOG10)


@pytest.mark.parametrize("name", ["chinchilla", "kaplan", "kaplan_steps"])
def test_numeric_optimum_under_drawn_parameters(name):
    @settings(max_examples=25, deadline=None)
    @given(theta=PARAMS[name], log10_c=st.floats(18.0, 28.0))
    def check(theta, log10_c):
        check_against_brute_force(laws.get_law(name), theta, log10_c * LOG10)

    check()


def test_kaplan_closed_forms_in_power_form():
    """``N_opt = (k N_c^k C / (6 D_c))^(1/(1+k))`` and the Chinchilla-like form of the
    step law, computed directly in float64."""
    c = 1e24
    with jax.enable_x64(True):
        got, _ = (float(v) for v in KAPLAN.optimum(KAPLAN_TRUTH, math.log(c)))
        k = 0.076 / 0.095
        want = (k * 6.4e13**k * c / (6 * 1.8e13)) ** (1 / (1 + k))
        assert math.isclose(got, math.log(want), rel_tol=1e-12)
        got, _ = (float(v) for v in KAPLAN_STEPS.optimum(KAPLAN_STEPS_TOKENS, math.log(c)))
        a_n, a_s, s_c = 0.076, 0.76, 2.1e3 * 2**19
        g = (a_n * 6.5e13**a_n / (a_s * s_c**a_s)) ** (1 / (a_n + a_s))
        assert math.isclose(got, math.log(g * (c / 6) ** (a_s / (a_n + a_s))), rel_tol=1e-12)


@pytest.mark.parametrize("x", [0.3, 0.8, 1.0, 2.0, 5.0])
def test_kaplan_steps_optimum_matches_kaplan_appendix_b4(x):
    """Kaplan App. B.4 (DESIGN.md): a model of ``x·N_opt`` reaches the optimal loss with
    ``S/S_opt = [1 + (α_S/α_N)(1 − x^(−α_N))]^(−1/α_S)`` steps; that holds exactly when
    ``N_opt`` is the closed-form optimum (balance ``α_N·N-term = α_S·S-term``)."""
    theta, log_c = KAPLAN_STEPS_TOKENS, math.log(1e23)
    a_n, a_s = theta["alpha_n"], theta["alpha_s"]
    with jax.enable_x64(True):
        log_n_opt, log_d_opt = (float(v) for v in KAPLAN_STEPS.optimum(theta, log_c))
        log_star = float(KAPLAN_STEPS.log_loss(theta, log_n_opt, log_d_opt))
    # Solve (S_c/S)^α_S = L* − (N_c/N)^α_N for S at N = x·N_opt, in float64.
    n_term = math.exp(a_n * (theta["log_nc"] - log_n_opt - math.log(x)))
    log_d = theta["log_sc"] - math.log(math.exp(log_star) - n_term) / a_s
    want = (1 + a_s / a_n * (1 - x ** (-a_n))) ** (-1 / a_s)
    assert math.isclose(math.exp(log_d - log_d_opt), want, rel_tol=1e-9)


@pytest.mark.parametrize("x64", [False, True])
def test_numeric_optimum_vectorizes_and_follows_dtype(x64):
    rng = np.random.default_rng(0)
    dtype = np.float64 if x64 else np.float32
    shape = (2, 50, 1)
    theta = {
        "log_nc": rng.uniform(25, 40, shape),
        "alpha_n": rng.uniform(0.05, 0.3, shape),
        "log_dc": rng.uniform(25, 40, shape),
        "alpha_d": rng.uniform(0.05, 0.3, shape),
    }
    theta = {k: v.astype(dtype) for k, v in theta.items()}
    log_c = (np.array([19.0, 22.0, 25.0, 28.0]) * LOG10).astype(dtype)[None, None]
    with jax.enable_x64(x64):
        log_n, log_d = numeric_optimum("kaplan", theta, log_c)
    assert log_n.shape == log_d.shape == (2, 50, 4)
    assert log_n.dtype == log_d.dtype == dtype
    with jax.enable_x64(True):
        want, _ = KAPLAN.optimum(
            {k: v.astype(np.float64) for k, v in theta.items()}, log_c.astype(np.float64)
        )
        lo, hi = bracket(log_c.astype(np.float64))
        want = np.clip(np.asarray(want), np.asarray(lo), np.asarray(hi))
    # float64 to ~1e-12; float32 to a few ulps of log N ≈ 20–50 (the bracket edge too).
    assert np.max(np.abs(np.asarray(log_n, np.float64) - want)) < (1e-10 if x64 else 3e-5)
    np.testing.assert_allclose(
        np.asarray(log_n, np.float64) + np.asarray(log_d, np.float64) + math.log(6),
        np.broadcast_to(log_c, log_n.shape),
        rtol=1e-12 if x64 else 1e-6,
    )


def test_numeric_optimum_nan_below_the_bracket_and_for_bad_parameters():
    with jax.enable_x64(True):
        log_n, log_d = numeric_optimum(KAPLAN, KAPLAN_TRUTH, math.log(1e5))  # < 6e5 FLOPs
        assert np.isnan(log_n) and np.isnan(log_d)
        bad = {**KAPLAN_TRUTH, "alpha_d": float("nan")}
        assert np.isnan(numeric_optimum(KAPLAN, bad, math.log(1e22))[0])
    with pytest.raises(ValueError, match="lacks the kaplan parameter"):
        numeric_optimum(KAPLAN, {"log_nc": 30.0}, 50.0)


# ------------------------------------------------------------------------- user laws
def power_log_loss(theta, log_n, log_d):
    """``L = E + A/N^α``; ignores D but takes ``log_d``, as every law must."""
    return jnp.logaddexp(theta["e"], theta["a"] - theta["alpha"] * log_n)


@contextmanager
def registered(law):
    """``law`` registered inside the block; the registry as it was after it, however the
    block ends (so user-law tests leave no law behind for later tests)."""
    with mock.patch.dict(law_module._REGISTRY):
        yield bs.register_law(law)


def make_power_law():
    return bs.Law(
        name="test_power_n",
        params=("e", "a", "alpha"),
        log_loss=power_log_loss,
        priors={
            "e": lambda: dist.Normal(0.5, 1.0),
            "a": dist.Normal(6.0, 3.0),
            "alpha": lambda: dist.LogNormal(math.log(0.3), 0.75),
        },
        shear={"a": ("alpha", "n")},
        formula="L = E + A/N^alpha",
    )


@pytest.fixture
def power_law():
    with registered(make_power_law()) as law:
        yield law


def test_register_a_user_law(power_law):
    assert bs.get_law("test_power_n") is power_law
    assert "test_power_n" in bs.available_laws()
    assert isinstance(power_law.priors["a"](), dist.Normal)  # a distribution became a factory
    with pytest.raises(ValueError, match="registered already"):
        bs.register_law(power_law)
    assert bs.register_law(power_law, overwrite=True) is power_law
    # Loss falls with N forever and ignores D: the optimum is the bracket's largest N
    # (100 tokens), and numeric_optimum says so rather than inventing an interior point.
    log_c = math.log(1e22)
    with jax.enable_x64(True):
        log_n, log_d = numeric_optimum("test_power_n", {"e": 0.5, "a": 6.0, "alpha": 0.3}, log_c)
        assert math.isclose(float(log_n), float(bracket(log_c)[1]), abs_tol=1e-9)
        assert math.isclose(float(log_d), math.log(100.0), abs_tol=1e-9)


def test_registered_user_law_is_gone_after_the_block():
    before = bs.available_laws()
    assert "test_power_n" not in before
    with registered(make_power_law()) as law:
        assert bs.get_law("test_power_n") is law
    assert bs.available_laws() == before
    with pytest.raises(RuntimeError, match="inside"), registered(make_power_law()) as law:
        bs.register_law(law, overwrite=True)
        raise RuntimeError("a test failing inside the block")
    assert bs.available_laws() == before
    with pytest.raises(ValueError, match="unknown law"):
        bs.get_law("test_power_n")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"priors": {"e": dist.Normal(0, 1), "a": dist.Normal(0, 1)}}, "no default prior"),
        (
            {
                "priors": {
                    "e": dist.Normal(0, 1),
                    "a": dist.Normal(0, 1),
                    "alpha": dist.Normal(0, 1),
                    "beta": dist.Normal(0, 1),
                }
            },
            "not among its parameters",
        ),
        ({"shear": {"a": ("gamma", "n")}}, "names a parameter"),
        ({"shear": {"a": ("alpha", "x")}}, "axis must be"),
        ({"shear": {"a": ("alpha", "n"), "alpha": ("e", "n")}}, "cannot itself be sheared"),
        ({"params": ("e", "e")}, "distinct parameter names"),
    ],
)
def test_law_validates_its_definition(kwargs, match):
    spec = {
        "name": "bad",
        "params": ("e", "a", "alpha"),
        "log_loss": power_log_loss,
        "priors": {p: dist.Normal(0, 1) for p in ("e", "a", "alpha")},
        **kwargs,
    }
    with pytest.raises(ValueError, match=match):
        bs.Law(**spec)


# ---------------------------------------------------------------------------- fits
def kaplan_sweep(law, theta, sigma=0.01, seed=1):
    """Sizes 1e7–5e9 trained on 2–200 tokens per parameter; Normal noise on log loss."""
    rng = np.random.default_rng(seed)
    n = np.repeat(np.geomspace(1e7, 5e9, 8), 6)
    d = n * np.tile(np.geomspace(2, 200, 6), 8)
    with jax.enable_x64(True):
        log_loss = np.asarray(law.log_loss(theta, np.log(n), np.log(d)))
    loss = np.exp(log_loss + sigma * rng.standard_normal(n.size))
    return bs.Sweep.from_frame(pd.DataFrame({"n_params": n, "n_tokens": d, "loss": loss}))


def kaplan_fit(law, truth, seed):
    """One chain of 500 draws after 500 warmup, so that the 5% and 95% quantiles the
    recovery test reads are not left to a handful of draws. No sampling warning is
    expected; low ESS is tolerated: the smallest bulk or tail ESS over the 24 fits of the
    recovery test was 117, near the 100 a chain must reach, which another CPU's rounding
    may cross (it would only make an interval noisier, which the allowance covers)."""
    return quiet_fit(
        kaplan_sweep(law, truth, seed=seed),
        law=law.name,
        chains=1,
        warmup=500,
        draws=500,
        seed=seed,
        tolerate=("ESS below",),
    )


def check_planning(law, post):
    """The planning path on a fit's draws: the closed-form optimum per draw equals the
    numeric one, and the planned sizes are finite."""
    theta = {k: v[..., None] for k, v in post.theta().items()}
    log_c = np.log([1e21, 1e24])[None, None]
    with jax.enable_x64(True):
        closed = np.asarray(law.optimum(theta, log_c)[0])
        numeric = np.asarray(numeric_optimum(law, theta, log_c)[0])
    np.testing.assert_allclose(numeric, closed, atol=1e-9)
    with warnings.catch_warnings():  # N_opt(1e24) is near 100× the largest fitted size
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)
        assert np.all(np.isfinite(post.optimal([1e21, 1e24])["n_opt"].values))


def test_kaplan_fit_plans_with_its_closed_form():
    check_planning(KAPLAN, kaplan_fit(KAPLAN, KAPLAN_TRUTH, seed=0))


# Recovery over independent sweeps (seeds 0–11 of the noise; each fit its own seed). Per
# parameter and sweep, u is the fraction of posterior draws below the truth: calibrated
# intervals give u ~ Uniform(0, 1), independently across sweeps (the four parameters of one
# sweep are not independent: Kaplan's N_c and α_N are one correlated direction, so each
# parameter is counted separately and the parameters are combined by a union bound).
#  - too narrow or biased: the truth leaves the central 90% interval (u < 0.05 or u > 0.95)
#    Binomial(12, 0.1) times; P(>= 6) = 0.0005, so at most 5 misses are allowed.
#  - too wide: the truth lies in the central 50% interval Binomial(12, 0.5) times; all 12
#    or none has P = 0.0005, so 1 to 11 are required.
# A calibrated fit fails with probability below 4 × (0.0005 + 0.0005) = 0.004 per law.
# Intervals half as wide as they should be miss 41% of the time and fail a parameter with
# P = 0.36; a third as wide, or a bias of two posterior sds, with P > 0.8; intervals three
# times too wide hold the truth in their 50% interval 96% of the time: P(all 12) = 0.59.
RECOVERY_SEEDS = range(12)
MISSES_90_MAX = 5


@pytest.mark.slow
@pytest.mark.parametrize(
    "law, truth",
    [(KAPLAN, KAPLAN_TRUTH), (KAPLAN_STEPS, KAPLAN_STEPS_TOKENS)],
    ids=["kaplan", "kaplan_steps_tokens"],
)
def test_kaplan_fits_recover_the_truth(law, truth):
    """S on the token axis (S_c·B at Kaplan's batch) for the step law."""
    u = {name: [] for name in truth}
    for seed in RECOVERY_SEEDS:
        post = kaplan_fit(law, truth, seed)
        if seed == RECOVERY_SEEDS[0]:
            check_planning(law, post)
        for name, value in truth.items():
            u[name].append(float(np.mean(post.posterior[name].values < value)))
    rows = [
        f"{name:>8} truth {truth[name]:9.4f}  u: " + " ".join(f"{x:.3f}" for x in values)
        for name, values in u.items()
    ]
    report = "\n".join(rows)
    print(report)
    for name, values in u.items():
        values = np.asarray(values)
        misses_90 = int(np.sum((values < 0.05) | (values > 0.95)))
        inside_50 = int(np.sum((values >= 0.25) & (values <= 0.75)))
        assert misses_90 <= MISSES_90_MAX, f"{name}: {misses_90} outside the 90% interval\n{report}"
        assert 0 < inside_50 < len(values), f"{name}: {inside_50} inside the 50% interval\n{report}"
