"""The fitted region (bayescale.fitted_region): the hull of the fitted runs in (log N,
log D), the L1 distance from it that the extrapolation error grows with, and the warnings
for queries outside the fitted model sizes and tokens per parameter."""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.spatial import ConvexHull

import bayescale as bs
from bayescale.discrepancy import Discrepancy
from bayescale.errors import ExtrapolationWarning
from bayescale.extrapolation import FittedRange, warn_if_extrapolating
from bayescale.fitinfo import DataInfo
from bayescale.fitted_region import Region, distance
from bayescale.hull import hull

# a ladder: 4 sizes × 4 tokens per parameter, as a user would fit
SIZES = np.array([1e8, 2e8, 4e8, 8e8])
RATIOS = np.array([10.0, 20.0, 40.0, 80.0])
LADDER_N, LADDER_D = np.repeat(SIZES, 4), np.repeat(SIZES, 4) * np.tile(RATIOS, 4)


def l1_distance(vertices: np.ndarray, x: np.ndarray) -> float:
    """The L1 distance from ``x`` to the hull of ``vertices``, as a linear programme:
    minimise sum(u) subject to -u <= x - V'w <= u, w >= 0, sum(w) = 1."""
    k = len(vertices)
    cost = np.r_[np.zeros(k), np.ones(2)]
    a_ub = np.block([[-vertices.T, -np.eye(2)], [vertices.T, -np.eye(2)]])
    b_ub = np.r_[-x, x]
    a_eq = np.r_[np.ones(k), np.zeros(2)][None]
    return linprog(cost, a_ub, b_ub, a_eq, [1.0], bounds=(0, None)).fun


def test_the_hull_is_scipys():
    rng = np.random.default_rng(0)  # any random cloud: the hull must match SciPy's
    for _ in range(20):
        points = rng.normal(size=(30, 2))
        ours = np.array(hull(points[:, 0], points[:, 1]))
        theirs = points[ConvexHull(points).vertices]
        assert sorted(map(tuple, ours)) == sorted(map(tuple, theirs))
        # counter-clockwise: every turn is to the left
        edge, after = np.roll(ours, -1, 0) - ours, np.roll(ours, -2, 0) - np.roll(ours, -1, 0)
        assert (edge[:, 0] * after[:, 1] - edge[:, 1] * after[:, 0] > 0).all()


def test_degenerate_hulls():
    assert hull([1.0, 1.0], [2.0, 2.0]) == ((1.0, 2.0),)
    # collinear points (an isoFLOP sweep at one budget): the segment's two ends
    assert hull([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == ((1.0, 3.0), (3.0, 1.0))
    segment = Region.from_points([1.0, 2.0, 3.0], [3.0, 2.0, 1.0])
    # 1e-12: float64 roundoff of a few subtractions of numbers near 1
    assert segment.distance(2.0, 2.0) == pytest.approx(0.0, abs=1e-12)
    assert segment.distance(2.0, 3.0) == pytest.approx(1.0)  # one e-fold of D above it
    assert Region.from_points([1.0], [2.0]).distance(3.0, 0.0) == pytest.approx(4.0)
    assert Region.everywhere().distance(np.array([1e3, -1e3]), 5.0).tolist() == [0.0, 0.0]


def test_distance_is_the_l1_distance_from_the_hull():
    rng = np.random.default_rng(1)  # any random polygons and queries: exact distances
    for _ in range(10):
        region = Region.from_points(*rng.normal(size=(2, 12)))
        queries = rng.normal(scale=2.0, size=(40, 2))
        ours = region.distance(queries[:, 0], queries[:, 1])
        exact = [l1_distance(region.vertices, q) for q in queries]
        # 1e-7: HiGHS solves the linear programme to its default tolerance, about 1e-7
        np.testing.assert_allclose(ours, exact, atol=1e-7)


def test_distance_is_zero_inside_and_the_same_compiled():
    region = Region.from_points(np.log(LADDER_N), np.log(LADDER_D))
    rng = np.random.default_rng(2)  # random convex combinations of the fitted runs
    w = rng.dirichlet(np.ones(len(LADDER_N)), size=200)
    inside = w @ np.c_[np.log(LADDER_N), np.log(LADDER_D)]
    # 1e-9: points on an edge can test a hair outside it by roundoff (logs near 20)
    assert np.abs(region.distance(inside[:, 0], inside[:, 1])).max() < 1e-9
    queries = np.log([[1e9, 2e10], [5e7, 1e10], [4e8, 4e8], [3e9, 3e11]])
    compiled = jax.jit(lambda edges, a, b: distance(edges, a, b, jnp))(
        region.edges, jnp.asarray(queries[:, 0]), jnp.asarray(queries[:, 1])
    )
    # 1e-5: the compiled kernel runs in float32 (JAX's default), logs near 20: 2e-6 each
    np.testing.assert_allclose(compiled, region.distance(queries[:, 0], queries[:, 1]), atol=1e-5)


def test_distance_grows_in_n_alone_in_d_alone_and_in_compute():
    region = Region.from_points(np.log(LADDER_N), np.log(LADDER_D))
    steps = np.log([1.0, 1.5, 2.5, 5.0, 10.0])
    n_top, d_top = SIZES[-1], SIZES[-1] * RATIOS[-1]  # the largest run
    in_n = region.distance(np.log(n_top) + steps, np.log(d_top / 4))  # at 20 tokens/param
    in_d = region.distance(np.log(n_top), np.log(d_top) + steps)
    in_c = region.distance(np.log(n_top) + steps, np.log(d_top) + steps)
    for h in (in_n, in_d, in_c):
        assert h[0] == pytest.approx(0.0, abs=1e-12)
        assert (np.diff(h) > 0).all()
    # one e-fold of N alone, or of D alone, is one e-fold of distance; the diagonal from
    # the largest run adds one e-fold of compute per e-fold of N and D together
    # 1e-9: float64 roundoff of logs near 20
    np.testing.assert_allclose(in_n, steps, atol=1e-9)
    np.testing.assert_allclose(in_d, steps, atol=1e-9)
    np.testing.assert_allclose(in_c, 2 * steps, atol=1e-9)


def test_the_region_of_old_files_is_the_box_cut_at_the_largest_compute():
    log_n, log_d = (0.0, 2.0), (0.0, 2.0)
    log_c = (math.log(6.0), math.log(6.0) + 3.0)
    region = Region.from_ranges(log_n, log_d, log_c)
    assert region.distance(2.0, 1.0) == pytest.approx(0.0, abs=1e-12)  # a kept corner
    assert region.distance(2.0, 2.0) == pytest.approx(1.0)  # one e-fold above C_max
    assert Region.from_ranges(log_n, (0.0, math.inf), log_c).distance(9.0, 9.0) == 0.0


def test_the_hull_travels_with_the_fit_information():
    data = DataInfo.from_arrays(np.log(LADDER_N), np.log(LADDER_D))
    again = bs.fitinfo.FitInfo.from_dict(
        {**_info_dict(data), "data": {**data.__dict__, "hull": [list(v) for v in data.hull]}}
    ).data
    assert again.hull == data.hull
    # a file written before the hull was kept reads as the box of its ranges
    old = {k: v for k, v in data.__dict__.items() if k != "hull"}
    assert bs.fitinfo.FitInfo.from_dict({**_info_dict(data), "data": old}).data.hull == ()


def _info_dict(data):
    info = bs.fitinfo.FitInfo(
        law="chinchilla",
        likelihood="normal",
        data=data,
        sampler=bs.fitinfo.SamplerInfo(algorithm="test", chains=1, draws=1),
    )
    return info.to_dict()


def test_the_error_widens_a_larger_model_below_the_fitted_compute():
    """The issue's case: an under-trained run 2.5× beyond the fitted sizes sits below the
    largest fitted compute, where an error growing with compute alone added nothing."""
    data = DataInfo.from_arrays(np.log(LADDER_N), np.log(LADDER_D))
    error = Discrepancy.from_draws(np.full((1, 1000), 0.01), data, c=1.0)
    n, d = 2.5 * SIZES[-1], 2.5 * SIZES[-1] * 10  # 10 tokens per parameter
    assert 6 * n * d < 6 * (LADDER_N * LADDER_D).max()
    h = error.region.distance(np.log(n), np.log(d))
    assert h == pytest.approx(math.log(2.5))
    inside = error.region.distance(np.log(LADDER_N), np.log(LADDER_D))
    assert np.abs(inside).max() < 1e-9  # roundoff at vertices and edges, as above


def test_warnings_name_model_size_and_tokens_per_parameter():
    fitted = FittedRange.from_data(DataInfo.from_arrays(np.log(LADDER_N), np.log(LADDER_D)))
    with pytest.warns(ExtrapolationWarning, match=r"model size N = 2e\+09 parameters is 2\.5×"):
        warn_if_extrapolating(fitted, log_n=np.log([2e9]))
    with pytest.warns(ExtrapolationWarning, match=r"tokens per parameter D/N = 200 .* is 2\.5×"):
        warn_if_extrapolating(fitted, log_ratio=np.log([200.0]))
    with pytest.warns(ExtrapolationWarning, match=r"D/N = 4 .* is 2\.5× below"):
        warn_if_extrapolating(fitted, log_ratio=np.log([4.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # inside the 2× threshold on both sides of both ranges: no warning
        warn_if_extrapolating(fitted, log_n=np.log([1.5e9, 5.5e7]), log_ratio=np.log([150.0, 5.5]))
