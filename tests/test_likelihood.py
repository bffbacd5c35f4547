"""Run offsets integrated out of the likelihood (bayescale.likelihood) against brute force."""

import jax
import numpy as np
import pytest
from scipy import stats

from bayescale.likelihood import draw_run_offsets, run_log_density

RUN = np.array([0, 0, 0, 1, 2, 2, 1, 2])  # unsorted codes, a one-checkpoint run is allowed
RESID = np.array([0.03, 0.01, 0.02, -0.04, 0.005, 0.0, -0.02, 0.01])
SIGMA, SIGMA_RUN, NU = 0.01, 0.02, 4.0


def covariance(n):
    return SIGMA**2 * np.eye(n) + SIGMA_RUN**2 * np.ones((n, n))


@pytest.mark.parametrize("nu", [None, NU])
def test_run_density_equals_the_joint_density_of_each_run(nu):
    with jax.enable_x64(True):
        got = np.asarray(
            run_log_density(RESID, RUN, 3, np.float64(SIGMA), np.float64(SIGMA_RUN), nu)
        )
    for r in range(3):
        e = RESID[RUN == r]
        joint = (
            stats.multivariate_normal(np.zeros(len(e)), covariance(len(e)))
            if nu is None
            else stats.multivariate_t(np.zeros(len(e)), covariance(len(e)), df=nu)
        )
        assert got[r] == pytest.approx(joint.logpdf(e), rel=1e-10)


def test_run_density_broadcasts_over_draws():
    sigma = np.array([[0.01, 0.02], [0.03, 0.015]])
    with jax.enable_x64(True):
        batched = np.asarray(
            run_log_density(
                np.broadcast_to(RESID, (2, 2, 8)),
                RUN,
                3,
                sigma,
                np.full((2, 2), SIGMA_RUN),
                np.full((2, 2), NU),
            )
        )
        one = np.asarray(
            run_log_density(RESID, RUN, 3, np.float64(0.03), np.float64(SIGMA_RUN), NU)
        )
    assert batched.shape == (2, 2, 3)
    np.testing.assert_allclose(batched[1, 0], one, rtol=1e-12)


def test_offset_draws_follow_the_normal_conditional():
    # δ | e for one run: Gaussian conditioning of (δ, e) with cov(δ, e) = s²·1ᵀ.
    e = RESID[RUN == 0]
    cov = covariance(len(e))
    gain = SIGMA_RUN**2 * np.ones(len(e)) @ np.linalg.inv(cov)
    mean, var = gain @ e, SIGMA_RUN**2 - gain @ (SIGMA_RUN**2 * np.ones(len(e)))
    draws = draw_run_offsets(
        np.broadcast_to(RESID, (20_000, 8)),
        RUN,
        3,
        np.full(20_000, SIGMA),
        np.full(20_000, SIGMA_RUN),
        seed=1,
    )[:, 0]
    # 20,000 draws: the sample mean is within 4 standard errors, the sd within 3%.
    assert abs(draws.mean() - mean) < 4 * np.sqrt(var / 20_000)
    assert draws.std() == pytest.approx(np.sqrt(var), rel=0.03)


def test_offset_draws_follow_the_student_t_conditional():
    # Brute force: (δ, e) of one run is jointly multivariate t with scale matrix
    # [[s², s²1ᵀ], [s²1, Σ]]; integrate its density over a grid of δ for the conditional
    # mean and variance.
    e = RESID[RUN == 0]
    n = len(e)
    scale = np.block(
        [
            [np.full((1, 1), SIGMA_RUN**2), np.full((1, n), SIGMA_RUN**2)],
            [np.full((n, 1), SIGMA_RUN**2), covariance(n)],
        ]
    )
    grid = np.linspace(-0.2, 0.2, 40_001)
    joint = stats.multivariate_t(np.zeros(n + 1), scale, df=NU)
    weight = np.exp(joint.logpdf(np.column_stack([grid, np.broadcast_to(e, (len(grid), n))])))
    weight /= weight.sum()
    mean = weight @ grid
    var = weight @ (grid - mean) ** 2
    draws = draw_run_offsets(
        np.broadcast_to(RESID, (40_000, 8)),
        RUN,
        3,
        np.full(40_000, SIGMA),
        np.full(40_000, SIGMA_RUN),
        np.full(40_000, NU),
        seed=2,
    )[:, 0]
    # 40,000 draws: mean within 4 standard errors; the variance of a t with ν + n = 7
    # degrees of freedom has a standard error of about 1% at this size: 6% is 6 of them.
    assert abs(draws.mean() - mean) < 4 * np.sqrt(var / 40_000)
    assert draws.var() == pytest.approx(var, rel=0.06)


def test_run_offsets_and_log_likelihood_block_by_block_equal_one_call(monkeypatch):
    """fit draws run offsets, and log_likelihood computes each run's density, from the
    residuals of a few draws at a time (memory stays bounded at 1e5+ points); the blocks
    follow the generator's order, so the offsets are those of one call over every draw."""
    import bayescale as bs
    from bayescale import posterior as posterior_module

    from conftest import quiet_fit
    from test_pooling import curve_sweep

    monkeypatch.setattr(posterior_module, "RESIDUAL_BLOCK", 7 * 100)  # a few draws a block
    sweep = bs.Sweep.from_frame(curve_sweep(seed=3))
    # 50 warmup and 30 draws: too short to converge, so a convergence warning is certain
    # (30 draws cannot reach the 100 effective draws a chain needs); this test is about
    # how the draws are computed, not their quality.
    post = quiet_fit(
        sweep,
        checkpoints="all",
        likelihood="student_t",  # the run-level Student-t, the densities' harder case
        chains=2,
        warmup=50,
        draws=30,
        seed=4,
        expect=(bs.ConvergenceWarning,),
    )
    points = post.groups["observed_data"].sizes["point"]
    assert 1 < posterior_module.RESIDUAL_BLOCK // points < 30  # several blocks per chain
    draws = post.posterior
    resid = post.groups["observed_data"]["log_loss"].values - post.fitted_log_mean(False)
    args = (
        resid,
        post.groups["constant_data"]["run"].values,
        draws.sizes["run"],
        draws["sigma"].values,
        draws["sigma_run"].values,
        draws["nu"].values,
    )
    np.testing.assert_array_equal(draws["run_offset"].values, draw_run_offsets(*args, seed=4))
    with jax.enable_x64(True):
        once = np.asarray(run_log_density(*args))
    np.testing.assert_allclose(post.log_likelihood()["log_loss"].values, once, rtol=1e-12)
