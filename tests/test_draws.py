"""Highest-density intervals (:func:`bayescale.draws.hdi`, ArviZ's ``az.hdi`` underneath)
against a brute-force narrowest window and against the hand-written rule they replace,
with and without infinite draws; and quantiles (:func:`bayescale.draws.quantile`) with
infinite draws."""

from __future__ import annotations

import numpy as np
import pytest

from bayescale.draws import hdi, quantile
from bayescale.errors import InputError


def brute_force_hdi(x: np.ndarray, ci_prob: float) -> tuple[float, float]:
    """Among all pairs of sorted draws ``i < j`` at least ``floor(ci_prob · n)`` apart, the
    one with the smallest ``x[j] − x[i]`` (the first on ties): the narrowest window holding
    the share."""
    x = np.sort(x)
    n = len(x)
    width = int(np.floor(ci_prob * n))
    best = min(
        ((x[j] - x[i], i, j) for i in range(n) for j in range(i + width, n)),
        key=lambda t: (t[0], t[1]),
    )
    return x[best[1]], x[best[2]]


def sorted_window_hdi(values: np.ndarray, ci_prob: float) -> tuple[np.ndarray, np.ndarray]:
    """The hand-written rule ``hdi`` had before it called ``az.hdi``: windows of sorted
    draws, a NaN width (``inf − inf``) counted as infinite, the first narrowest taken."""
    x = np.sort(values, axis=0)
    n = x.shape[0]
    width = int(np.floor(ci_prob * n))
    with np.errstate(invalid="ignore"):
        spans = x[width:] - x[: n - width]
    start = np.argmin(np.where(np.isnan(spans), np.inf, spans), axis=0)
    low = np.take_along_axis(x, start[None], axis=0)[0]
    high = np.take_along_axis(x, (start + width)[None], axis=0)[0]
    return low, high


# seed 0: fixed samples for reproducibility; each check compares two computations of the
# same interval (ArviZ's and a brute-force window), exact for any sample
RNG = np.random.default_rng(0)
SAMPLES = {
    "normal": RNG.normal(size=50),
    "skewed": RNG.lognormal(sigma=1.0, size=200),  # the HDI sits left of the ETI here
    "bimodal": np.r_[RNG.normal(-3, 0.5, 60), RNG.normal(3, 0.5, 40)],
    "ties": RNG.integers(0, 5, 30).astype(float),  # equal widths: the first window wins
}


@pytest.mark.parametrize("name", list(SAMPLES))
@pytest.mark.parametrize("ci_prob", [0.5, 0.9])
def test_hdi_is_the_narrowest_window(name, ci_prob):
    x = SAMPLES[name]
    assert hdi(x, ci_prob) == brute_force_hdi(x, ci_prob)


def test_hdi_of_many_quantities_along_any_axis():
    """Each row of draws (axis 1) gets the interval a 1-d call gives it; the shape of the
    rest is kept and float32 stays float32 (the bounds are draws)."""
    x = RNG.gamma(2.0, size=(3, 4, 80)).astype(np.float32)
    low, high = hdi(x, 0.8, axis=2)
    assert low.shape == high.shape == (3, 4) and low.dtype == np.float32
    for i, j in np.ndindex(3, 4):
        assert (low[i, j], high[i, j]) == brute_force_hdi(x[i, j], 0.8)


@pytest.mark.parametrize("n_inf", [1, 9, 10, 50, 90, 91, 95, 100])
def test_infinite_draws_give_the_interval_they_gave_before(n_inf):
    """An unreachable size is an inf draw. With 100 draws a 90% window holds 91, so up to
    9 inf draws leave finite windows, 10–90 make every window reach inf, and from 91 on
    some window lies wholly at inf (az.hdi's inf − inf); at every count the interval is
    what the hand-written rule gave, without a NaN or a warning."""
    x = np.r_[RNG.normal(size=100 - n_inf), np.full(n_inf, np.inf)]
    RNG.shuffle(x)
    low, high = hdi(x, 0.9)
    assert (low, high) == sorted_window_hdi(x, 0.9)
    assert not np.isnan([low, high]).any()
    if n_inf < 10:
        assert np.isfinite(high)
    else:
        assert low == x.min() and high == np.inf


def test_infinite_draws_in_some_quantities_only():
    x = RNG.normal(size=(120, 3))
    # a 90% window of 120 draws holds floor(0.9 · 120) + 1 = 109 of them
    x[:10, 1] = np.inf  # 110 finite draws: a finite window still holds the share
    x[:115, 2] = np.inf  # 5 finite: every window, and some wholly, at inf
    low, high = hdi(x, 0.9)
    old_low, old_high = sorted_window_hdi(x, 0.9)
    np.testing.assert_array_equal(low, old_low)
    np.testing.assert_array_equal(high, old_high)
    assert np.isinf(high[2]) and np.isfinite(high[:2]).all()


def test_nan_draws_are_left_out():
    x = np.r_[SAMPLES["normal"], np.full(5, np.nan)]
    assert hdi(x, 0.9) == brute_force_hdi(SAMPLES["normal"], 0.9)
    assert np.isnan(hdi(np.full(10, np.nan), 0.9)).all()


def test_too_few_draws_for_the_share():
    with pytest.raises(InputError, match="too few draws"):
        hdi(np.arange(5.0), 0.1)  # floor(0.1 · 5) = 0: no window holds two draws


def test_a_quantitys_quantiles_are_its_own_draws_alone():
    """Infinite draws of one quantity (a target that some draws never reach) switch its
    quantiles to the inverse CDF, and leave another quantity's interpolated as before: an
    answer does not depend on what else was asked with it."""
    q = [0.5, 0.05, 0.95]
    finite = SAMPLES["normal"]
    unreachable = np.r_[finite[:-3], np.full(3, np.inf)]
    both = quantile(np.stack([finite, unreachable], axis=1), q)
    np.testing.assert_array_equal(both[:, 0], np.quantile(finite, q, method="linear"))
    np.testing.assert_array_equal(both[:, 1], np.quantile(unreachable, q, method="inverted_cdf"))
    assert np.isinf(quantile(unreachable, 0.999))
