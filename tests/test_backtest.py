"""Extrapolation backtests and the Huber + bootstrap baseline."""

from __future__ import annotations

import sys
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.evaluation import baseline
from bayescale.evaluation.backtest import TABLE_COLUMNS
from bayescale.evaluation.splits import train_mask

from conftest import TRUTH, synthetic_sweep

SMALL_GRID = {"e": (0.0, 0.5), "a": (5.0,), "alpha": (0.5,), "b": (5.0, 10.0), "beta": (0.5,)}


def curve_sweep(seed=0) -> bs.Sweep:
    """Training curves: every run of the synthetic grid with checkpoints at 1/8, 1/4, 1/2
    and all of its tokens."""
    runs = synthetic_sweep(seed=seed, sizes=4, tokens_per_size=3)
    rows = []
    for i, run in runs.iterrows():
        for share in (0.125, 0.25, 0.5, 1.0):
            rows.append(
                {
                    "n_params": run["n_params"],
                    "n_tokens": share * run["n_tokens"],
                    "loss": run["loss"] * (1 + 0.1 * (1 - share)),
                    "run": f"r{i}",
                    "step": int(1000 * share),
                }
            )
    return bs.Sweep.from_frame(pd.DataFrame(rows))


# ---------------------------------------------------------------- the baseline
def test_huber_fit_recovers_noise_free_parameters():
    sweep = bs.Sweep.from_frame(synthetic_sweep(sigma=0.0))
    fit = baseline.fit_huber(sweep, top=20)
    for name in baseline.PARAMS:
        assert fit.params[name] == pytest.approx(TRUTH[name], abs=1e-3), name
    assert fit.objective < 1e-12
    assert fit.constants["E"] == pytest.approx(1.8, rel=1e-3)


def test_grid_is_hoffmanns_and_screening_keeps_the_best_starts():
    starts = baseline.grid_starts()
    assert starts.shape == (4500, 5)
    data = baseline._arrays(bs.Sweep.from_frame(synthetic_sweep()), None)
    kept = baseline._screen(data, baseline.DELTA, starts, 7)
    assert kept.shape == (7, 5)
    with pytest.raises(ValueError, match="top must be"):
        baseline._screen(data, baseline.DELTA, starts, 0)
    with pytest.raises(ValueError, match="lacks"):
        baseline.grid_starts({"e": (0.0,)})


def test_bootstrap_shapes_and_noise_widens():
    sweep = bs.Sweep.from_frame(synthetic_sweep(sigma=0.02))
    boot = baseline.bootstrap(sweep, n_boot=12, grid=SMALL_GRID, seed=3)
    assert boot.theta.shape == (12, 5) and boot.scale.shape == (12,)
    assert np.all(boot.scale > 0) and boot.unit == "points"
    n, d = np.array([1e10, 2e10]), np.array([2e11, 4e11])
    plain = boot.draws(n, d)
    noisy = boot.draws(n, d, noise=True, per_replicate=50)
    assert plain.shape == (12, 2) and noisy.shape == (600, 2)
    assert np.all(np.std(np.log(noisy), axis=0) > np.std(np.log(plain), axis=0))
    again = baseline.bootstrap(sweep, n_boot=12, grid=SMALL_GRID, seed=3)
    np.testing.assert_array_equal(again.theta, boot.theta)


def test_bootstrap_resamples_runs_of_curves():
    boot = baseline.bootstrap(curve_sweep(), n_boot=3, grid=SMALL_GRID)
    assert boot.unit == "runs"


def test_baseline_input_errors():
    sweep = bs.Sweep.from_frame(synthetic_sweep().head(5))
    with pytest.raises(ValueError, match="more than 5 points"):
        baseline.fit_huber(sweep, grid=SMALL_GRID)
    with pytest.raises(TypeError, match="Sweep"):
        baseline.fit_huber(synthetic_sweep())
    with pytest.raises(ValueError, match="n_boot"):
        baseline.bootstrap(bs.Sweep.from_frame(synthetic_sweep()), n_boot=1)


# --------------------------------------------------------------------- splits
@pytest.mark.parametrize("split", ["compute", "n_params"])
@pytest.mark.parametrize("frac", [0.2, 0.5, 0.7])
def test_split_never_divides_a_run(split, frac):
    sweep = curve_sweep()
    mask = train_mask(sweep, split, frac=frac)
    runs = sweep.fit_frame["run"]
    assert mask.groupby(runs).nunique().max() == 1
    assert mask.any() and not mask.all()
    key = (
        6 * sweep.fit_frame["n_params"] * sweep.fit_frame["n_tokens"]
        if split == "compute"
        else sweep.fit_frame["n_params"]
    )
    final = key.groupby(runs).transform("max")
    assert final[mask].max() < final[~mask].min()  # the small runs train


def test_threshold_split():
    sweep = bs.Sweep.from_frame(synthetic_sweep())
    n = sweep.fit_frame["n_params"]
    mask = train_mask(sweep, "n_params", threshold=float(np.median(n)))
    assert mask.equals(n <= np.median(n))


def test_invalid_splits_raise_clear_errors():
    sweep = curve_sweep()
    with pytest.raises(ValueError, match=r"unknown split 'tokens'.*compute"):
        train_mask(sweep, "tokens")
    with pytest.raises(ValueError, match=r"frac must lie in \(0, 1\)"):
        train_mask(sweep, "compute", frac=1.5)
    with pytest.raises(ValueError, match="not both"):
        train_mask(sweep, "compute", frac=0.5, threshold=1e20)
    with pytest.raises(ValueError, match="leaves no training runs"):
        train_mask(sweep, "compute", threshold=1.0)
    with pytest.raises(ValueError, match="holds out no runs"):
        train_mask(sweep, "n_params", threshold=1e15)
    with pytest.raises(ValueError, match="positive number"):
        train_mask(sweep, "compute", threshold=-3.0)
    split_run = np.zeros(len(sweep.frame), dtype=bool)
    split_run[:2] = True  # half of run r0
    with pytest.raises(ValueError, match="both sides"):
        train_mask(sweep, split_run)
    with pytest.raises(ValueError, match="boolean mask"):
        train_mask(sweep, np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="baseline=False"):
        bs.backtest(sweep, law="kaplan")
    with pytest.raises(ValueError, match="ci_prob"):
        bs.backtest(sweep, levels=(0.5, 1.2))


# ------------------------------------------------------------------- backtest
@pytest.fixture(scope="module")
def small_backtest():
    # any seeds: the tests of this fixture check the table's structure and its arithmetic,
    # not how well a method did
    sweep = bs.Sweep.from_frame(synthetic_sweep(sizes=6, tokens_per_size=4, seed=2))
    with warnings.catch_warnings():  # tiny draw counts: convergence warnings are expected
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        return bs.backtest(
            sweep,
            frac=0.7,
            fit_kwargs={"chains": 2, "warmup": 150, "draws": 150},
            n_boot=10,
            top=5,
            seed=1,
        )


def test_backtest_table_has_the_documented_columns(small_backtest):
    table = small_backtest.table
    expected = []
    for column in TABLE_COLUMNS:
        stem = column.removesuffix("*")
        expected += [f"{stem}{level}" for level in (50, 80, 90)] if stem != column else [column]
    assert expected[5:8] == ["coverage_50", "coverage_80", "coverage_90"]
    assert expected[-4:] == ["interval_score_50", "interval_score_80", "interval_score_90", "wis"]
    assert list(table.columns) == expected
    assert list(table["method"]) == [
        "bayescale",
        "bayescale_mean",
        "bayescale_no_discrepancy",
        "bootstrap",
        "bootstrap_noise",
        "conformal",
    ]
    assert (table["group"] == "all").all()


def test_backtest_scores_are_sane(small_backtest):
    table, split = small_backtest.table, small_backtest.split
    coverage = table.filter(like="coverage_")
    assert ((coverage >= 0) & (coverage <= 1)).all().all()
    # nested intervals: coverage cannot fall as the level rises
    assert (coverage.diff(axis=1).iloc[:, 1:] >= 0).all().all()
    assert (table["are_median"] >= 0).all() and (table["width"] > 0).all()
    assert split["n_train"] + split["n_test"] == 24
    assert (table["n_test"] == split["n_test"]).all()
    assert split["extrapolation"] > 1
    assert table["extrapolation"].iloc[0] == pytest.approx(split["extrapolation"])
    points = small_backtest.points
    assert len(points) == 6 * split["n_test"]  # six methods
    assert (points["compute_ratio"] > 1).all()
    inside = (points["eti_5%"] <= points["median"]) & (points["median"] <= points["eti_95%"])
    assert inside.all()


def test_backtest_table_averages_the_points_interval_scores(small_backtest):
    points, table = small_backtest.points, small_backtest.table.set_index("method")
    means = points.groupby("method")[["interval_score_50", "interval_score_90", "wis"]].mean()
    pd.testing.assert_frame_equal(
        table.loc[means.index, means.columns], means, check_names=False, rtol=1e-12
    )
    # the score is the width plus a penalty for a miss: never below the width (log loss)
    with np.errstate(divide="ignore"):  # the infinite conformal interval's lower bound, 0
        width = np.log(points["eti_95%"]) - np.log(points["eti_5%"])
    assert (points["interval_score_90"] >= width - 1e-12).all()


def test_backtest_conformal_calibrates_on_the_largest_training_runs(small_backtest):
    predictor = small_backtest.conformal["all"]
    n_train = small_backtest.split["n_train"]
    # 17 training runs, the largest third (above the 2/3 quantile of compute) calibrate
    assert predictor.fit.n_points + predictor.residuals.size == n_train == 17
    assert predictor.residuals.size == 6
    assert predictor.cut < small_backtest.split["train_max_compute"]
    points = small_backtest.points
    ours = points[points["method"] == "conformal"]
    values = predictor.intervals(ours["n_params"], ours["n_tokens"], (0.5, 0.8, 0.9))
    for name, value in values.items():
        np.testing.assert_allclose(ours[name], value)
    # 6 calibration runs: a 90% interval needs 9, so it is infinite and always covers
    assert predictor.quantile(0.9) == np.inf and ours["covered_90"].all()
    assert np.isfinite(predictor.quantile(0.5))


def test_backtest_result_is_immutable(small_backtest):
    with pytest.raises(AttributeError):
        small_backtest.table = None
    with pytest.raises(TypeError):
        small_backtest.split["n_test"] = 0
    assert "held-out" in repr(small_backtest)


def test_grouped_backtest_checks_the_baseline_before_sampling():
    big = synthetic_sweep(seed=4).assign(group="big")
    small = synthetic_sweep(seed=5, sizes=2, tokens_per_size=3).assign(group="small")
    sweep = bs.Sweep.from_frame(pd.concat([big, small], ignore_index=True))
    with pytest.raises(ValueError, match=r"\['small'\] keep at most 5 training points"):
        bs.backtest(sweep, split="n_params", threshold=1e9, fit_kwargs={"pooling": "partial"})


def test_curve_backtest_by_n_scores_each_held_out_runs_final_checkpoint():
    """Split by N, every checkpoint fitted: the held-out runs are scored once each, at their
    final checkpoint, by every method, and the conformal baseline calibrates by N."""
    sweep = curve_sweep()  # 4 sizes x 3 token counts = 12 runs of 4 checkpoints
    with warnings.catch_warnings():
        # tiny draw counts, and 3 training sizes that barely pin A/N^alpha: expected
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        warnings.simplefilter("ignore", bs.PriorDominatedWarning)
        result = bs.backtest(
            sweep,
            split="n_params",
            # every checkpoint from 1/8 of a run on: the held-out runs keep 4 rows each
            fit_kwargs={"chains": 2, "warmup": 100, "draws": 100, "checkpoints": "all"},
            n_boot=5,
            top=5,
            seed=0,
        )
    frame = sweep.fit_frame
    # the 75% quantile of the 12 runs' N lies between the third and the largest size
    largest = frame["n_params"].max()
    runs = frame.loc[frame["n_params"] == largest, "run"].unique()
    assert len(runs) == 3
    final = frame.groupby("run")["n_tokens"].max()
    for method, points in result.points.groupby("method"):
        assert sorted(points["run"]) == sorted(runs), method
        np.testing.assert_array_equal(points["n_tokens"], final[points["run"]].to_numpy())
    assert result.split["n_test"] == 3
    assert "conformal" in set(result.table["method"])
    predictor = result.conformal["all"]
    assert predictor.key == "n_params"
    # 9 training runs; by N the 3 runs of the third size calibrate, one residual each
    assert predictor.residuals.size == 3 and predictor.fit.n_points == 6 * 4
    assert np.isfinite(result.table.set_index("method").loc["bayescale", "wis"])


def test_backtest_learns_the_error_scale_from_the_training_runs_alone(monkeypatch):
    """learn_error: leave-future-out on the training runs only (no held-out run is seen)
    sets the fit's extrapolation error; stand-in fits keep this fast."""
    sweep = bs.Sweep.from_frame(synthetic_sweep())
    seen = []

    def fake_fit(train, law, **kwargs):
        seen.append(set(train.fit_frame.index))
        rng = np.random.default_rng(len(seen))  # each stand-in fit its own draws
        draws = {p: TRUTH[p] + 0.005 * rng.standard_normal((1, 200)) for p in law.params}
        draws["sigma"] = np.full((1, 200), 0.01)
        return bs.Posterior.from_idata(az.from_dict(posterior=draws), law=law, sweep=train)

    # the module, not bs.evaluation.backtest, which is the function of that name
    monkeypatch.setattr(sys.modules["bayescale.evaluation.backtest"], "fit", fake_fit)
    monkeypatch.setattr(sys.modules["bayescale.evaluation.lfo"], "fit", fake_fit)
    prior = bs.discrepancy.ScalePrior(log_median=0.0, log_sd=1.0)  # any proper prior will do
    result = bs.backtest(sweep, baseline=False, learn_error=prior)
    held_out = set(result.points["row"])
    assert len(seen) == 4  # the fit, then three leave-future-out cuts
    assert all(not (rows & held_out) for rows in seen)
    learned = result.meta["extrapolation_error"]
    assert result.posterior.info.extrapolation_error == learned["value"]
    low, high = learned["interval_90"]
    assert low <= learned["value"] <= high


def test_backtest_stacks_laws_on_the_training_runs_alone(monkeypatch):
    """laws=: the stack's fits (each law on every training run and at three cuts) see no
    held-out run, and the stack and each of its laws are scored as methods; stand-in fits
    keep this fast."""
    sweep = bs.Sweep.from_frame(synthetic_sweep())
    seen = []

    def fake_fit(train, law, **kwargs):
        seen.append(set(train.fit_frame.index))
        rng = np.random.default_rng(len(seen))  # each stand-in fit its own draws
        truth = {**TRUTH, "beta_n": 0.0}  # chinchilla_beta_n with beta_n = 0 is Chinchilla's
        draws = {p: truth[p] + 0.005 * rng.standard_normal((1, 200)) for p in law.params}
        draws["sigma"] = np.full((1, 200), 0.01)
        return bs.Posterior.from_idata(az.from_dict(posterior=draws), law=law, sweep=train)

    for module in ("backtest", "lfo"):
        monkeypatch.setattr(sys.modules[f"bayescale.evaluation.{module}"], "fit", fake_fit)
    monkeypatch.setattr("bayescale.stacking.fit", fake_fit)
    laws = ("chinchilla", "chinchilla_beta_n")
    result = bs.backtest(sweep, baseline=False, learn_error=True, laws=laws)
    held_out = set(result.points["row"])
    # the single fit and its three cuts, then each law's full fit and three cuts
    assert len(seen) == 4 + len(laws) * 4
    assert all(not (rows & held_out) for rows in seen)
    methods = set(result.table["method"])
    assert {"stack", "law:chinchilla", "law:chinchilla_beta_n"} <= methods
    weights = result.meta["stack_weights"]
    assert set(weights) == set(laws) and sum(weights.values()) == pytest.approx(1.0)
