"""Split-conformal intervals (bayescale.evaluation.conformal) and the interval score."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayescale as bs
from bayescale.evaluation import conformal as conformal_mod
from bayescale.evaluation.backtest import (
    _conformal_fits,
    _conformal_values,
    _score,
    interval_score,
)
from bayescale.evaluation.baseline import fit_huber
from bayescale.evaluation.conformal import Conformal, conformal, conformal_quantile

from conftest import synthetic_sweep

# Five L-BFGS starts are plenty on a noise-free-ish synthetic grid and keep each fit fast.
TOP = 5


# ------------------------------------------------------------ the conformal quantile
def test_quantile_is_the_rank_ceil_n_plus_1_times_level():
    residuals = np.arange(9.0, 0.0, -1.0)  # 9 values, unsorted on purpose
    assert conformal_quantile(residuals, 0.9) == 9.0  # k = ceil(10 * 0.9) = 9
    assert conformal_quantile(residuals, 0.5) == 5.0  # k = ceil(10 * 0.5) = 5
    assert conformal_quantile(residuals, 0.55) == 6.0  # k = ceil(5.5) = 6
    # 8 residuals: k = ceil(9 * 0.9) = 9 > 8, no finite quantile covers 90%
    assert conformal_quantile(residuals[1:], 0.9) == math.inf
    # 99 residuals at level 0.55: (n + 1)·level = 55 exactly, though 100 * 0.55 is
    # 55.00000000000001 in floating point; the 55th smallest, not the 56th
    assert conformal_quantile(np.arange(1.0, 100.0), 0.55) == 55.0


def test_conformal_intervals_cover_at_least_their_level():
    """The finite-sample guarantee: for exchangeable residuals a split-conformal 90%
    interval covers a new point with probability in [0.9, 0.9 + 1/(n + 1)]."""
    # 20 calibration residuals: k = ceil(21 * 0.9) = 19, and for continuous residuals the
    # coverage is exactly k / (n + 1) = 19/21 = 0.905 (the test point's rank is uniform on
    # 1..21), inside the guarantee [0.9, 0.9 + 1/21]. n = 20 also tells the rank apart from
    # the usual mistake ceil(n * 0.9) = 18, whose coverage 18/21 = 0.857 fails the test.
    n_cal, level = 20, 0.9
    exact = 19 / 21
    assert level <= exact <= level + 1 / (n_cal + 1)
    # 2,000 independent calibration/test sets: the number covered is Binomial(2000, 19/21)
    # (mean 1,810, sd 13); k = 18 would cover 1,714 on average, far outside the allowance
    sets = 2000
    rng = np.random.default_rng(0)  # any seed: the allowance below holds for 99.9% of them
    # heavy-tailed, skewed errors: the guarantee needs exchangeability only, no Normal
    errors = rng.standard_t(3, size=(sets, n_cal + 1)) + rng.exponential(size=(sets, n_cal + 1))
    residuals = np.abs(errors)  # the law predicts 0 here; |log L − log L̂| = |error|
    q = np.array([conformal_quantile(r[:n_cal], level) for r in residuals])
    covered = int((residuals[:, n_cal] <= q).sum())
    # two-sided 99.9% binomial range at the exact coverage: the test fails by chance with
    # probability 0.001
    low, high = stats.binom.ppf([0.0005, 0.9995], sets, exact)
    assert low <= covered <= high, (covered, low, high)


# ------------------------------------------------------------------ on a sweep
@pytest.fixture(scope="module")
def sweep():
    # 8 sizes x 6 token counts = 48 runs, noise 0.01 on log loss (conftest's defaults)
    return bs.Sweep.from_frame(synthetic_sweep(seed=3))


def test_conformal_calibrates_on_the_largest_runs(sweep):
    predictor = conformal(sweep, calibration=1 / 3, top=TOP)
    frame = sweep.fit_frame
    compute = 6 * frame["n_params"] * frame["n_tokens"]
    cut = np.quantile(compute, 1 - 1 / 3)  # as train_mask computes it
    calib = frame[compute > cut]
    # the proper part is every run at or below the 2/3 quantile of compute
    assert predictor.fit.n_points == int((compute <= cut).sum())
    assert predictor.residuals.size == len(calib) == len(frame) - predictor.fit.n_points
    assert predictor.cut == compute[compute <= cut].max() < compute[compute > cut].min()
    expected = np.abs(
        np.log(calib["loss"]) - predictor.fit.log_loss(calib["n_params"], calib["n_tokens"])
    )
    np.testing.assert_allclose(predictor.residuals, np.sort(expected))
    # the same fit as fit_huber on the proper runs alone
    proper = sweep.exclude(compute > cut, reason="calibration runs")
    again = fit_huber(proper, top=TOP)
    np.testing.assert_allclose(predictor.fit.theta, again.theta)


def test_conformal_intervals_are_the_point_prediction_times_exp_q(sweep):
    predictor = conformal(sweep, key="n_params", top=TOP)
    assert predictor.key == "n_params"
    n, d = np.array([1e10, 3e10]), np.array([2e11, 6e11])
    values = predictor.intervals(n, d, (0.5, 0.9))
    point = np.exp(predictor.fit.log_loss(n, d))
    np.testing.assert_allclose(values["median"], point)
    for level, (lower, upper) in ((0.5, ("eti_25%", "eti_75%")), (0.9, ("eti_5%", "eti_95%"))):
        q = predictor.quantile(level)
        assert 0 < q < math.inf
        np.testing.assert_allclose(values[lower], point * np.exp(-q))
        np.testing.assert_allclose(values[upper], point * np.exp(q))


def test_too_few_calibration_runs_give_an_infinite_interval(sweep):
    fit = fit_huber(sweep, top=TOP)
    # 8 residuals: a 90% interval needs 9 (module docstring), an 80% one 4
    predictor = Conformal(fit=fit, residuals=np.linspace(0.01, 0.08, 8), key="compute", cut=1.0)
    values = predictor.intervals([1e10], [2e11], (0.8, 0.9))
    assert values["eti_5%"][0] == 0.0 and values["eti_95%"][0] == math.inf
    assert 0.0 < values["eti_10%"][0] < values["eti_90%"][0] < math.inf
    with pytest.raises(ValueError, match="read-only"):
        predictor.residuals[0] = 0.0


def test_impossible_conformal_splits_name_the_argument_and_the_fix(sweep):
    for bad in (0.0, 1.0, True, "third"):
        with pytest.raises(ValueError, match=r"calibration must be a share .* \(0, 1\)"):
            conformal(sweep, calibration=bad)
    with pytest.raises(ValueError, match=r"unknown key 'tokens'.*n_params"):
        conformal(sweep, key="tokens")
    # 48 runs, 0.9 calibrate: about 5 left to fit five parameters on
    with pytest.raises(ValueError, match=r"calibration=0\.9 leaves 5 point\(s\).*lower calib"):
        conformal(sweep, calibration=0.9, top=TOP)
    # every run of one size: no split by n_params can hold out the largest
    one_size = bs.Sweep.from_frame(synthetic_sweep(sizes=1, tokens_per_size=12))
    with pytest.raises(ValueError, match=r"calibration=0\.333 cannot split.*Change calibration="):
        conformal(one_size, key="n_params", top=TOP)
    with pytest.raises(ValueError, match="no group 'x'"):
        conformal(sweep, group="x")
    with pytest.raises(TypeError, match=r"expects a bayescale\.Sweep, got DataFrame"):
        conformal(synthetic_sweep())


def test_backtest_checks_the_conformal_split_before_sampling(sweep):
    # fails in the conformal split, before NUTS would start (the test takes seconds)
    with pytest.raises(ValueError, match=r"calibration=0\.95 leaves"):
        bs.backtest(sweep, calibration=0.95, top=TOP)


# ----------------------------------------------------------------- interval score
def test_interval_score_by_hand():
    # 90% interval [1, 3], so alpha = 0.1 and a miss costs 2/alpha = 20 per unit
    assert interval_score(1.0, 3.0, 2.0, 0.9) == pytest.approx(2.0)  # inside: the width
    assert interval_score(1.0, 3.0, 4.0, 0.9) == pytest.approx(2.0 + 20 * 1.0)  # 1 above
    assert interval_score(1.0, 3.0, 0.5, 0.9) == pytest.approx(2.0 + 20 * 0.5)  # 0.5 below
    # a 50% interval's misses cost 2/0.5 = 4 per unit
    assert interval_score(1.0, 3.0, 4.0, 0.5) == pytest.approx(2.0 + 4 * 1.0)


def test_score_uses_log_loss_and_the_weighted_interval_score():
    # two points, one 90% interval [2, 4] with median 3; the second loss lies above it
    values = {"median": np.array([3.0, 3.0]), "eti_5%": np.full(2, 2.0), "eti_95%": np.full(2, 4.0)}
    observed = np.array([2.5, 5.0])
    scored = _score(values, observed, (0.9,))
    width = np.log(4.0) - np.log(2.0)
    by_hand = np.array([width, width + 20 * (np.log(5.0) - np.log(4.0))])
    np.testing.assert_allclose(scored["interval_score_90"], by_hand)
    # WIS with K = 1: (|y - m| / 2 + alpha / 2 * IS) / (K + 1/2), on log loss
    wis = (0.5 * np.abs(np.log(observed) - np.log(3.0)) + 0.05 * by_hand) / 1.5
    np.testing.assert_allclose(scored["wis"], wis)
    assert list(scored["covered_90"]) == [True, False]
    # an infinite interval (lower bound 0) scores inf and covers
    infinite = {"median": np.array([3.0]), "eti_5%": np.zeros(1), "eti_95%": np.full(1, np.inf)}
    scored = _score(infinite, np.array([2.5]), (0.9,))
    assert scored["interval_score_90"].iloc[0] == math.inf and scored["covered_90"].iloc[0]


def test_default_share_keeps_a_finite_90_percent_interval_from_27_runs():
    # the module docstring's claim: of 27 runs of distinct compute (9 sizes x 3 token
    # counts) the default third, 9 runs, calibrates, the fewest for a finite 90% interval
    sweep = bs.Sweep.from_frame(synthetic_sweep(sizes=9, tokens_per_size=3))
    predictor = conformal(sweep, top=TOP)
    assert predictor.residuals.size == 9 and predictor.fit.n_points == 18
    assert predictor.quantile(0.9) == predictor.residuals[-1] < math.inf
    assert conformal_mod.DEFAULT_CALIBRATION == 1 / 3


def test_grouped_backtests_calibrate_each_group_and_skip_unseen_ones():
    """Per-group fits: each held-out group with training runs gets its own predictor,
    calibrated on its own largest runs; a group without training runs gets none (NA)."""
    # two groups of 48 runs each, different noise seeds (any two differ)
    frames = [synthetic_sweep(seed=s).assign(group=g) for s, g in ((4, "a"), (5, "b"))]
    train = bs.Sweep.from_frame(pd.concat(frames, ignore_index=True))
    test = pd.DataFrame(
        {"n_params": [1e10, 1e10, 1e10], "n_tokens": [2e11] * 3, "group": ["a", "b", "c"]}
    )
    fits = _conformal_fits(train, test, True, 1 / 3, "compute", TOP)
    assert sorted(fits) == ["a", "b"]
    for label in fits:
        alone = conformal(train, group=label, top=TOP)
        np.testing.assert_allclose(fits[label].residuals, alone.residuals)
        assert fits[label].residuals.size == 16  # the largest third of the group's 48 runs
    values = _conformal_values(fits, test, True, (0.9,))
    for i, label in enumerate(("a", "b")):
        expected = fits[label].intervals([1e10], [2e11], (0.9,))
        for name, value in expected.items():
            assert values[name][i] == pytest.approx(value[0])
    assert all(np.isnan(values[name][2]) for name in values)
