"""The law's error beyond the fitted compute (bayescale.discrepancy): zero inside the
fitted range, linear in log compute beyond it with a Normal(0, (c·σ)²) slope per draw,
leaves allocations alone, and compute_to_reach finds the first crossing of the widened
prediction."""

import numpy as np
import pytest

import bayescale as bs
from bayescale import discrepancy
from bayescale.fitinfo import FitInfo


def _delta(post, n, d):
    """Per-draw δ at points, recovered from predict_loss against the law alone."""
    pred = post.predict_loss(n, d)["loss_mean"].values
    return np.log(pred) - post.log_mean(np.log(n), np.log(d))


def test_zero_inside_the_fitted_range_and_normal_slope_beyond(synthetic_posterior):
    post = synthetic_posterior
    log_c_max = post.info.data.log_compute_range[1]
    assert post.info.extrapolation_error == discrepancy.EXTRAPOLATION_ERROR
    n = np.array([1e8, 5e9, 5e10, 5e11])
    d = 20.0 * n
    beyond = np.maximum(np.log(6.0 * n * d) - log_c_max, 0.0)
    assert beyond[0] == 0 and beyond[1] == 0 and beyond[2] > 2 and beyond[3] > 6
    with pytest.warns(bs.ExtrapolationWarning):
        delta = _delta(post, n, d)
    np.testing.assert_allclose(delta[..., :2], 0.0, atol=1e-12)  # exp then log: roundoff
    # linear in log C: δ / Δ is one slope per draw, the same at both far points
    per_efold = delta[..., 2:] / beyond[2:]
    np.testing.assert_allclose(per_efold[..., 0], per_efold[..., 1], rtol=1e-9, atol=1e-12)
    sigma = post.posterior["sigma"].values
    z = (per_efold[..., 0] / (post.info.extrapolation_error * sigma)).ravel()
    # 600 draws of Normal(0, 1): the mean's sd is 0.041 and the sd's about 0.029, so
    # ±0.15 is over 3.5 of their sds (the seed is fixed; this checks the scale is σ·c).
    assert abs(z.mean()) < 0.15 and abs(z.std() - 1.0) < 0.15


def test_scaled_by_extrapolation_error(synthetic_posterior):
    n, d = np.array([5e11]), np.array([1e13])
    with pytest.warns(bs.ExtrapolationWarning):
        base = _delta(synthetic_posterior.with_extrapolation_error(1.0), n, d)
        doubled = _delta(synthetic_posterior.with_extrapolation_error(2.0), n, d)
        off = _delta(synthetic_posterior.with_extrapolation_error(0.0), n, d)
    np.testing.assert_allclose(doubled, 2.0 * base, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(off, 0.0, atol=1e-12)
    for bad in (-1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="extrapolation_error"):
            synthetic_posterior.with_extrapolation_error(bad)


def test_allocations_unchanged_and_loss_opt_widened(synthetic_posterior):
    post = synthetic_posterior
    off = post.with_extrapolation_error(0.0)
    budgets = [1e21, 1e24]  # inside, and 30x beyond the fitted 3e22 FLOPs
    on_plan, off_plan = post.optimal(budgets), off.optimal(budgets)
    for name in ("n_opt", "d_opt", "tokens_per_param"):
        np.testing.assert_array_equal(on_plan[name].values, off_plan[name].values)
    log_ratio = np.log(on_plan["loss_opt"].values / off_plan["loss_opt"].values)
    np.testing.assert_allclose(log_ratio[..., 0], 0.0, atol=1e-12)
    # δ = slope · h at each draw's optimum, h its distance from the fitted runs
    error = post.discrepancy()
    h = error.region.distance(np.log(on_plan["n_opt"].values), np.log(on_plan["d_opt"].values))
    assert (h[..., 0] == 0).all() and (h[..., 1] > 0).all()
    # rtol 1e-6: the log of a ratio of two kernel outputs against a NumPy product, a few
    # roundings apart; atol 1e-9 for the budget of 1e21, where both are 0 up to roundoff
    np.testing.assert_allclose(log_ratio, error.slope[..., None] * h, rtol=1e-6, atol=1e-9)


def test_compute_to_reach_is_the_first_crossing_of_the_widened_loss(synthetic_posterior):
    # c = 5 gives many draws whose predicted loss turns upward inside the grid below, so
    # both branches are checked: the first crossing, and inf when the minimum stays above.
    post = synthetic_posterior.with_extrapolation_error(5.0)
    grid = np.geomspace(1e20, 1e32, 2401)  # 0.0115 nat apart in log C
    with pytest.warns(bs.ExtrapolationWarning):
        loss = post.optimal(grid)["loss_opt"].values.reshape(-1, grid.size)
    target = float(np.median(loss[:, np.searchsorted(grid, 1e24)]))
    with pytest.warns((bs.ExtrapolationWarning, bs.PlanningWarning)):
        reach = post.compute_to_reach(target)["compute"].values.ravel()
    below = loss <= target
    crosses = below.any(axis=1)
    first = np.argmax(below, axis=1)
    ok = crosses & (first > 0)
    assert ok.sum() > 300
    # the reached compute lies between the grid points around the first crossing
    assert np.all(reach[ok] >= grid[first[ok] - 1] * (1 - 1e-9))
    assert np.all(reach[ok] <= grid[first[ok]] * (1 + 1e-9))
    # draws whose predicted loss bottoms out inside the grid above the target never reach it
    bottom = np.argmin(loss, axis=1)
    stuck = ~crosses & (bottom < grid.size - 1)
    assert stuck.sum() > 20
    assert np.isinf(reach[stuck]).all()


def test_saved_posteriors_keep_it_and_format1_files_without_it_use_the_default(
    synthetic_posterior, tmp_path
):
    path = synthetic_posterior.with_extrapolation_error(0.5).save(tmp_path / "p.nc")
    assert bs.load_posterior(path).info.extrapolation_error == 0.5
    # the earliest format-1 files predate the setting: they read with c = 1, the default
    # when it was introduced (FitInfo's), as they always have
    meta = synthetic_posterior.info.to_dict()
    meta.pop("extrapolation_error")
    constant = synthetic_posterior.groups["constant_data"]
    older = FitInfo.from_format1(meta, constant["log_n"].values, constant["log_d"].values)
    assert older.extrapolation_error == 1.0
