"""Leave-future-out scores, stacking weights and the posterior over laws.

Most tests need no sampling: posteriors are built from draws made here around known
parameters (:meth:`bayescale.Posterior.from_idata`), and where a test runs the
leave-future-out loop it replaces :func:`bayescale.fit` with that construction, so the
loop's selection of training and scored runs is checked without NUTS. The statistical
test, that the true law out-predicts a misspecified one, fits for real and is ``slow``.

Seeds (of made-up draws, lpd arrays, sweeps and stacks) are fixed only so that a failure
reproduces; each is the next small integer, none was chosen for passing, and the
assertions they feed are identities (weights, shares, draws selected) that hold for any
seed. The slow test's margin is stated where it is asserted.
"""

from __future__ import annotations

import dataclasses
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st
from scipy import special, stats

import bayescale as bs
from bayescale.discrepancy import PRIOR_SCALES, ScalePrior
from bayescale.evaluation import lfo as lfo_mod
from bayescale.evaluation.error_scale import learn, log_density_by_scale, pool
from bayescale.evaluation.lfo import (
    DEFAULT_CUTS,
    lfo_bands,
    lfo_summary,
    log_predictive_density,
    refit_model,
    stacking_objective,
    stacking_weights,
)
from bayescale.evaluation.splits import scored_rows
from bayescale.likelihood import NoiseDraws
from bayescale.stacking import Stack, shares

from conftest import TRUTH, chinchilla_log_loss_np, synthetic_sweep

CHAINS, DRAWS = 2, 500  # iid draws: ESS ≈ 1000, far above the 100-per-chain warning level
SPREAD = 0.005  # scatter of the made-up draws around their centre (log-parameters)
SIGMA = 0.01  # noise scale of log loss, that of synthetic_sweep


def made_up_posterior(
    sweep: bs.Sweep,
    law="chinchilla",
    shift: float = 0.0,
    nu: float | None = None,
    extrapolation_error: float = 0.0,
    draws: int = DRAWS,
    seed: int = 0,
) -> bs.Posterior:
    """A posterior of iid draws around ``TRUTH`` (``alpha`` moved by ``shift``), with noise
    scale near ``SIGMA`` and, given ``nu``, a Student-t likelihood."""
    law = bs.get_law(law)
    rng = np.random.default_rng(seed)
    centre = {**TRUTH, "alpha": TRUTH["alpha"] + shift}
    shape = (CHAINS, draws)
    post = {p: centre[p] + SPREAD * rng.standard_normal(shape) for p in law.params}
    post["sigma"] = SIGMA * np.exp(0.1 * rng.standard_normal(shape))
    if nu is not None:
        post["nu"] = nu * np.exp(0.1 * rng.standard_normal(shape))
    return bs.Posterior.from_idata(
        az.from_dict(posterior=post),
        law=law,
        sweep=sweep,
        extrapolation_error=extrapolation_error,
        seed=seed,
    )


@pytest.fixture(scope="module")
def sweep():
    return bs.Sweep.from_frame(synthetic_sweep())


# ------------------------------------------------------------------ stacking weights
def test_a_law_that_predicts_every_point_better_gets_all_the_weight():
    base = np.random.default_rng(0).normal(2.0, 1.0, size=30)
    lpd = np.column_stack([base + 3.0, base])  # law 0 is e³ ≈ 20× more likely at each point
    weights = stacking_weights(lpd)
    # The objective rises monotonically towards w = (1, 0), a vertex; the optimiser's
    # gradient tolerance (1e-10 on a sum over 30 points) leaves w_1 far below 1e-8.
    assert weights[0] > 1 - 1e-8
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert stacking_objective(lpd, weights) == pytest.approx(lpd[:, 0].sum(), abs=1e-6)


@pytest.mark.parametrize("first, second", [(1, 2), (3, 7), (5, 5)])
def test_laws_that_each_predict_some_points_share_by_the_points(first, second):
    # Law 0 alone gives density to `first` points, law 1 to `second` others. The objective
    # is first·log w + second·log(1 − w) (+ constants), maximised at w = first/(first+second).
    lpd = np.full((first + second, 2), -np.inf)
    lpd[:first, 0] = 1.5
    lpd[first:, 1] = -0.5
    weights = stacking_weights(lpd)
    assert weights == pytest.approx([first / (first + second), second / (first + second)], abs=1e-6)


def test_identical_laws_score_the_same_under_any_weights():
    lpd_one = np.random.default_rng(1).normal(1.0, 2.0, size=25)
    lpd = np.column_stack([lpd_one, lpd_one, lpd_one])
    for weights in ([1, 0, 0], [0.2, 0.3, 0.5], [1 / 3] * 3):
        assert stacking_objective(lpd, weights) == pytest.approx(lpd_one.sum(), abs=1e-9)
    weights = stacking_weights(lpd)
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert stacking_objective(lpd, weights) == pytest.approx(lpd_one.sum(), abs=1e-9)


def test_stacking_weights_match_arviz_compare():
    """ArviZ solves the same problem inside az.compare(method="stacking"), from ELPDData."""
    lpd = np.random.default_rng(2).normal(0.0, 2.0, size=(40, 3))
    index = ["elpd_loo", "se", "p_loo", "n_samples", "n_data_points", "warning", "loo_i", "scale"]
    elpds = {
        f"m{j}": az.ELPDData(
            data=[lpd[:, j].sum(), 1.0, 1.0, 1000, 40, False, xr.DataArray(lpd[:, j]), "log"],
            index=index,
        )
        for j in range(3)
    }
    theirs = az.compare(elpds, method="stacking")["weight"].sort_index().to_numpy()
    ours = stacking_weights(pd.DataFrame(lpd, columns=[f"m{j}" for j in range(3)]))
    assert list(ours.index) == ["m0", "m1", "m2"]
    # ArviZ's SLSQP stops at its default tolerance (1e-6 on the objective): weights agree
    # to about 1e-5 there, so 1e-4 is the check.
    np.testing.assert_allclose(ours.to_numpy(), theirs, atol=1e-4)
    # and ours is no worse at the optimum
    assert stacking_objective(lpd, ours) >= stacking_objective(lpd, theirs) - 1e-9


@pytest.mark.parametrize(
    "lpd, message",
    [
        (np.zeros(3), "points, models"),
        (np.zeros((0, 2)), "points, models"),
        (np.array([[0.0, np.nan]]), "NaN"),
        (np.array([[0.0, -np.inf], [-np.inf, -np.inf]]), r"point\(s\) \[1\]"),
    ],
)
def test_stacking_weights_refuse_bad_tables(lpd, message):
    with pytest.raises(bs.InputError, match=message):
        stacking_weights(lpd)


def test_one_model_gets_weight_one():
    assert stacking_weights(np.zeros((4, 1))).tolist() == [1.0]


# ------------------------------------------------------------------------- the bands
def test_bands_order_runs_by_compute(sweep):
    band = lfo_bands(sweep)
    frame = sweep.fit_frame
    compute = 6.0 * frame["n_params"] * frame["n_tokens"]
    assert sorted(band.unique()) == [-1, 0, 1, 2]
    for k in range(-1, 2):  # every run of a band is smaller than every run of the next
        assert compute[band == k].max() < compute[band == k + 1].min()
    for k, threshold in enumerate(band.attrs["thresholds"]):
        assert compute[band < k].max() == threshold
    # The default cuts train on half the 48 runs and split the rest into thirds (ties in
    # compute could move a run across a cut; this grid has none).
    assert band.value_counts().sort_index().tolist() == [24, 8, 8, 8]


def curves_sweep() -> bs.Sweep:
    """Runs of synthetic_sweep's model sizes, each with three checkpoints (a third, two
    thirds and all of its tokens)."""
    frame = synthetic_sweep(sizes=6, tokens_per_size=3)
    rows = []
    for run, row in frame.iterrows():
        for share in (1 / 3, 2 / 3, 1.0):
            n_tokens = share * row["n_tokens"]
            log_loss = chinchilla_log_loss_np(TRUTH, row["n_params"], n_tokens)
            rows.append(
                {"run": f"r{run}", "n_params": row["n_params"], "n_tokens": n_tokens,
                 "loss": float(np.exp(log_loss))}
            )  # fmt: skip
    return bs.Sweep.from_frame(pd.DataFrame(rows))


def test_a_run_keeps_its_checkpoints_in_one_band_and_scores_its_final_one():
    sweep = curves_sweep()
    band = lfo_bands(sweep, cuts=(0.5, 0.75))
    frame = sweep.fit_frame
    assert (band.groupby(frame["run"]).nunique() == 1).all()
    scored = frame.loc[scored_rows(sweep)]
    assert scored["run"].is_unique and len(scored) == frame["run"].nunique()
    final = frame.groupby("run")["n_tokens"].max()
    assert (scored["n_tokens"].to_numpy() == final.loc[scored["run"]].to_numpy()).all()


@pytest.mark.parametrize(
    "cuts, error, message",
    [
        ((0.6, 0.5), bs.InputError, "increase"),
        ((), bs.InputError, "at least one"),
        ((0.5, 1.0), bs.InputError, r"\(0, 1\)"),
        ("0.5", bs.InputTypeError, "sequence"),
        ((0.5, True), bs.InputTypeError, "number"),
    ],
)
def test_bad_cuts_are_refused(sweep, cuts, error, message):
    with pytest.raises(error, match=message):
        lfo_bands(sweep, cuts)


def test_cuts_between_equal_compute_levels_are_refused():
    # Four isoFLOP levels of six runs each (powers of two, so 6·N·D is exact): the 0.55 and
    # 0.6 quantiles of the 24 runs' compute both fall on the third level, so no run lies
    # between the two cuts.
    level = np.repeat(np.arange(4), 6)
    log2_n = 27 + np.tile(np.arange(6), 4)
    frame = pd.DataFrame(
        {"n_params": 2.0**log2_n, "n_tokens": 2.0 ** (66 + level - log2_n), "loss": 3.0}
    )
    with pytest.raises(bs.InputError, match="too few distinct compute levels"):
        lfo_bands(bs.Sweep.from_frame(frame), cuts=(0.55, 0.6))


# -------------------------------------------------------------- predictive density
@pytest.mark.parametrize("nu", [None, 5.0])
def test_predictive_density_is_the_mean_density_over_draws(sweep, nu):
    post = made_up_posterior(sweep, nu=nu)
    frame = synthetic_sweep(seed=5, sizes=3, tokens_per_size=2)
    ours = log_predictive_density(post, frame)
    theta = {p: post.posterior[p].values.reshape(-1, 1) for p in post.law.params}
    resid = np.log(frame["loss"].to_numpy()) - chinchilla_log_loss_np(
        theta, frame["n_params"].to_numpy(), frame["n_tokens"].to_numpy()
    )
    sigma = post.posterior["sigma"].values.reshape(-1, 1)
    if nu is None:
        logp = stats.norm.logpdf(resid, scale=sigma)
    else:
        logp = stats.t.logpdf(resid, df=post.posterior["nu"].values.reshape(-1, 1), scale=sigma)
    expected = special.logsumexp(logp, axis=0) - np.log(logp.shape[0])
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-10)  # both float64


def test_per_group_posteriors_predict_each_row_with_its_group():
    frame = synthetic_sweep()
    frame["group"] = np.where(frame.index % 2, "g1", "g0")
    sweep = bs.Sweep.from_frame(frame)
    rng = np.random.default_rng(3)
    shape = (CHAINS, DRAWS, 2)
    centre = {**TRUTH, "alpha": TRUTH["alpha"] + np.array([0.0, 0.05])}  # g1's alpha is off
    law = bs.get_law("chinchilla")
    draws = {p: centre[p] + SPREAD * rng.standard_normal(shape) for p in law.params}
    draws["sigma"] = SIGMA * np.exp(0.1 * rng.standard_normal(shape[:2]))
    idata = az.from_dict(
        posterior=draws, dims={p: ["group"] for p in law.params}, coords={"group": ["g0", "g1"]}
    )
    post = bs.Posterior.from_idata(idata, law=law, sweep=sweep, extrapolation_error=0.0)
    assert post.info.pooling == "separate"
    ours = log_predictive_density(post, frame)
    code = (frame["group"] == "g1").to_numpy(int)
    theta = {p: draws[p].reshape(-1, 2)[:, code] for p in law.params}
    resid = np.log(frame["loss"].to_numpy()) - chinchilla_log_loss_np(
        theta, frame["n_params"].to_numpy(), frame["n_tokens"].to_numpy()
    )
    logp = stats.norm.logpdf(resid, scale=draws["sigma"].reshape(-1, 1))
    expected = special.logsumexp(logp, axis=0) - np.log(logp.shape[0])
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-10)
    with pytest.raises(bs.InputError, match="cannot predict an unseen group"):
        log_predictive_density(post, frame.assign(group="g2"))


def test_predictive_density_widens_beyond_the_fitted_compute(sweep):
    """The law's error beyond the fitted compute (bayescale.discrepancy) is zero inside it
    and spreads the prediction beyond it."""
    plain = made_up_posterior(sweep)
    widened = plain.with_extrapolation_error(1.0)
    frame = sweep.fit_frame.iloc[:3]  # inside the fitted range
    np.testing.assert_array_equal(
        log_predictive_density(plain, frame), log_predictive_density(widened, frame)
    )
    far = pd.DataFrame({"n_params": [5e11], "n_tokens": [1e13]})  # 4 e-folds of compute out
    truth = float(np.exp(chinchilla_log_loss_np(TRUTH, 5e11, 1e13)))
    # at the law's own prediction the wider density is lower; 20% off, it is higher
    at_mean = far.assign(loss=truth)
    off = far.assign(loss=1.2 * truth)
    assert log_predictive_density(widened, at_mean) < log_predictive_density(plain, at_mean)
    assert log_predictive_density(widened, off) > log_predictive_density(plain, off)


# ------------------------------------------------------- the loop, without sampling
BIASED = dataclasses.replace(bs.get_law("chinchilla"), name="chinchilla_biased")
BIAS = 0.02  # alpha of the biased law's made-up draws, moved from the truth


def fake_fit(seen):
    """A stand-in for bs.fit: made-up draws around the truth (the biased law's with alpha
    off by BIAS), recording each training sweep in ``seen``."""

    def fit(sweep, law, **kwargs):
        seen.append((law.name, sweep, kwargs))
        shift = BIAS if law.name == BIASED.name else 0.0
        return made_up_posterior(sweep, law, shift=shift)

    return fit


def test_each_cut_trains_on_smaller_runs_and_scores_the_next_band(sweep, monkeypatch):
    seen = []
    monkeypatch.setattr(lfo_mod, "fit", fake_fit(seen))
    frame = bs.leave_future_out(sweep, ["chinchilla", BIASED], chains=1)
    band = lfo_bands(sweep)
    assert len(seen) == 2 * len(DEFAULT_CUTS)
    for name, _, kwargs in seen:
        # every cut padded to the whole sweep: one compiled sampler for all of them
        padding = {"pad_to": len(sweep.fit_frame)}
        assert kwargs == {"seed": 0, "progress": False, "chains": 1, **padding}
        assert name in ("chinchilla", BIASED.name)
    compute = 6.0 * sweep.fit_frame["n_params"] * sweep.fit_frame["n_tokens"]
    for k in range(len(DEFAULT_CUTS)):
        train = seen[2 * k][1].fit_frame
        assert set(train.index) == set(band.index[band < k])
        scored = frame[(frame["cut"] == k) & (frame["law"] == "chinchilla")]
        assert set(scored["point"]) == set(band.index[band == k])
        assert compute[scored["point"]].min() > compute[train.index].max()
        assert (scored["compute_ratio"] > 1).all()
    # each held-out run is scored once per law
    assert frame.groupby("law")["point"].apply(lambda p: p.is_unique).all()
    assert len(frame) == 2 * int((band >= 0).sum())
    assert list(frame.columns) == list(lfo_mod.COLUMNS)
    assert [f["cut"] for f in frame.attrs["fits"]] == [0, 0, 1, 1, 2, 2]
    # the truth predicts the larger runs better than a law whose exponent is off
    table = lfo_summary(frame)
    assert table.index[0] == "chinchilla"
    assert table.loc["chinchilla", "weight_lfo"] > 0.5


def test_curves_fit_their_final_checkpoints_and_score_final_ones(monkeypatch):
    sweep = curves_sweep()
    seen = []
    monkeypatch.setattr(lfo_mod, "fit", fake_fit(seen))
    frame = bs.leave_future_out(sweep, ["chinchilla"], cuts=(0.5, 0.75))
    finals = set(scored_rows(sweep))
    assert set(frame["point"]) <= finals
    assert "run" in frame.columns
    for _, train, _ in seen:  # a law without schedules fits each run's final checkpoint
        assert set(train.fit_frame.index) <= finals


# ----------------------------------------------------------------------- compare
def test_compare_adds_leave_future_out_columns(sweep, monkeypatch):
    monkeypatch.setattr(lfo_mod, "fit", fake_fit([]))
    frame = bs.leave_future_out(sweep, {"true": "chinchilla", "biased": BIASED})
    posts = {
        "true": made_up_posterior(sweep),
        "biased": made_up_posterior(sweep, BIASED, shift=BIAS),
    }
    with warnings.catch_warnings():  # made-up draws: some Pareto k may be high; not tested
        warnings.simplefilter("ignore", bs.ComparisonWarning)
        plain = bs.compare(posts)
        table = bs.compare(posts, lfo=frame)
    assert list(table.columns) == [*plain.columns, *lfo_mod.SUMMARY_COLUMNS]
    pd.testing.assert_frame_equal(table[plain.columns], plain)
    summary = lfo_summary(frame)
    for column in lfo_mod.SUMMARY_COLUMNS:
        np.testing.assert_array_equal(table[column], summary.loc[table.index, column])
    with pytest.raises(bs.InputError, match="label the laws"):
        bs.compare(posts, lfo=frame.replace({"law": {"true": "other"}}))
    with pytest.raises(bs.InputError, match="not both"):
        bs.compare(posts, sweep, lfo=frame)


def test_refit_model_rebuilds_a_fit(synthetic_posterior):
    model = refit_model(synthetic_posterior)
    assert model.law.name == "chinchilla"
    assert model.fit_kwargs == {
        "pooling": "none",
        "likelihood": "student_t",
        "extrapolation_error": synthetic_posterior.info.extrapolation_error,
        "chains": 2,
        "warmup": 300,
        "draws": 300,
        "seed": 1,
        "progress": False,
    }  # the settings of conftest's synthetic_posterior
    info = synthetic_posterior.info
    custom = dataclasses.replace(info, priors={**info.priors, "alpha": "Normal(loc=0.3)"})
    with pytest.raises(bs.InputError, match=r"priors other than the defaults for \['alpha'\]"):
        refit_model(dataclasses.replace(synthetic_posterior, info=custom))


def test_refit_model_refuses_draws_from_elsewhere(sweep):
    with pytest.raises(bs.InputError, match="sampled outside bayescale"):
        refit_model(made_up_posterior(sweep))


# -------------------------------------------------------------- the mixture of laws
@given(
    weights=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5).filter(lambda w: sum(w) > 0),
    total=st.integers(1, 5000),
)
def test_shares_sum_to_the_total_and_round_each_weight(weights, total):
    w = np.asarray(weights) / sum(weights)
    counts = shares(w, total)
    assert counts.sum() == total
    assert (np.abs(counts - w * total) < 1).all()  # largest remainders: off by under one


@pytest.fixture(scope="module")
def pair(sweep):
    """Two made-up posteriors whose optima differ: the truth's and one with alpha off."""
    return {"true": made_up_posterior(sweep), "biased": made_up_posterior(sweep, shift=0.05)}


def test_weight_one_returns_the_first_posteriors_draws(pair):
    mixed = Stack(pair, {"true": 1.0, "biased": 0.0})
    for query in (
        lambda p: p.optimal([1e21, 1e23]),
        lambda p: p.predict_loss([1e9, 1e10], [2e10, 2e11], seed=3),
        lambda p: p.excess_compute([0.5, 2.0], 1e22),
        lambda p: p.compute_to_reach(2.2),
        lambda p: p.compute_to_match([1e9, 1e10], [2e10, 2e11]),
    ):
        ours, theirs = query(mixed).dataset, query(pair["true"]).dataset
        for name in theirs.data_vars:
            np.testing.assert_array_equal(ours[name].values, theirs[name].values)
        assert (ours["law"].values == "true").all()


def test_equal_weights_take_half_the_draws_from_each(pair):
    mixed = Stack(pair, {"true": 0.5, "biased": 0.5}, seed=4)
    draws = mixed.optimal(1e22)
    labels = draws["law"].values.ravel()
    assert (labels == "true").sum() == (labels == "biased").sum() == CHAINS * DRAWS // 2
    chosen = mixed.selection()
    values = draws["n_opt"].values.reshape(-1)
    for label, post in pair.items():
        own = post.optimal(1e22)["n_opt"].values.reshape(-1)
        np.testing.assert_array_equal(values[labels == label], own[chosen[label]])
    # one stack pairs its draws across queries: the same draws of the same laws
    other = mixed.predict_loss(1e9, 2e10)
    np.testing.assert_array_equal(other["law"].values, draws["law"].values)
    # the draws that form the mixture are the seed's: another seed picks others
    again = Stack(pair, mixed.weights, seed=4).selection()
    reseeded = Stack(pair, mixed.weights, seed=5).selection()
    assert all(np.array_equal(chosen[label], again[label]) for label in pair)
    assert not all(np.array_equal(chosen[label], reseeded[label]) for label in pair)
    # the mixture's interval spans both laws' optima
    table = draws.interval(0.9)
    assert set(table["quantity"]) == {"n_opt", "d_opt", "tokens_per_param", "loss_opt"}
    low, high = table.loc[table["quantity"] == "n_opt", ["eti_5%", "eti_95%"]].iloc[0]
    medians = [np.median(p.optimal(1e22)["n_opt"].values) for p in pair.values()]
    assert low < min(medians) and max(medians) < high


def test_components_of_different_sizes_give_one_chain_of_the_fewest_draws(sweep, pair):
    short = made_up_posterior(sweep, shift=0.05, draws=300)
    mixed = Stack({"true": pair["true"], "short": short}, {"true": 0.25, "short": 0.75})
    draws = mixed.optimal(1e22)
    assert dict(draws.dataset.sizes) == {"chain": 1, "draw": CHAINS * 300, "budget": 1}
    labels = draws["law"].values.ravel()
    assert (labels == "true").sum() == CHAINS * 300 // 4


@pytest.mark.parametrize(
    "weights, message",
    [
        ({"true": 0.5, "biased": 0.4}, "sum to 1"),
        ({"true": 1.5, "biased": -0.5}, "non-negative"),
        ({"true": 1.0}, "one weight per component"),
    ],
)
def test_bad_weights_are_refused(pair, weights, message):
    with pytest.raises(bs.InputError, match=message):
        Stack(pair, weights)


def test_stack_weighs_full_fits_by_leave_future_out(sweep, monkeypatch):
    seen = []
    monkeypatch.setattr(lfo_mod, "fit", fake_fit(seen))
    monkeypatch.setattr("bayescale.stacking.fit", fake_fit(seen))
    mixed = bs.stack(sweep, ["chinchilla", BIASED], cuts=(0.5, 0.75))
    assert len(seen) == 2 * 2 + 2  # two laws at two cuts, then on every point
    assert all(len(train.fit_frame) == len(sweep.fit_frame) for _, train, _ in seen[-2:])
    summary = mixed.summary()
    expected = lfo_summary(mixed.lfo)["weight_lfo"]
    np.testing.assert_allclose(summary["weight"], expected.loc[summary.index])
    assert summary["draws"].sum() == CHAINS * DRAWS
    assert [f["cut"] for f in mixed.lfo.attrs["fits"]][-2:] == ["all", "all"]
    with pytest.raises(bs.InputError, match="at least two laws"):
        bs.stack(sweep, ["chinchilla"])


# --------------------------------------------------------------------- with sampling
@pytest.mark.slow
def test_the_true_law_predicts_larger_runs_better_than_a_misspecified_one():
    """Chinchilla's law, which simulated the sweep, against Kaplan et al.'s joint law,
    which has no irreducible loss: fitted on the smaller runs, Kaplan's law bends its
    exponents to mimic the floor and under-predicts the larger runs' loss.

    The sweep is conftest's grid (48 runs, noise 0.01 in log loss, seed 0); 1 chain of
    300 draws per fit keeps the 6 fits near a minute. The check is the difference of
    elpd_lfo against its standard error (dse_lfo): at this noise the laws differ by
    many standard errors, not by chance.
    """
    sweep = bs.Sweep.from_frame(synthetic_sweep())
    with warnings.catch_warnings():  # short chains: ESS warnings say so; the scores do not use ESS
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        frame = bs.leave_future_out(
            sweep, ["chinchilla", "kaplan"], chains=1, warmup=300, draws=300, seed=0
        )
    table = lfo_summary(frame)
    print(table)
    assert table.index[0] == "chinchilla"
    gap = table.loc["chinchilla", "elpd_lfo"] - table.loc["kaplan", "elpd_lfo"]
    assert gap > 4 * table.loc["kaplan", "dse_lfo"]
    assert table.loc["chinchilla", "weight_lfo"] > 0.9


@pytest.mark.slow
def test_a_fitted_stack_answers_planning_queries():
    """bs.stack end to end on real fits of two laws (8 fits of 1 chain × 200 draws)."""
    sweep = bs.Sweep.from_frame(synthetic_sweep())
    with warnings.catch_warnings():  # short chains: ESS warnings say so; not what is tested
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        mixed = bs.stack(
            sweep, ["chinchilla", "chinchilla_beta_n"], cuts=(0.5, 0.75), chains=1,
            warmup=200, draws=200,
        )  # fmt: skip
    summary = mixed.summary()
    print(summary)
    assert summary["weight"].sum() == pytest.approx(1.0)
    assert summary["draws"].sum() == 200
    table = mixed.optimal(1e22).interval(0.9)
    assert (table["eti_5%"] <= table["median"]).all()
    assert (table["median"] <= table["eti_95%"]).all()


# ------------------------------------------------- the extrapolation error's scale
def quantile_draws(count: int) -> np.ndarray:
    """``z`` at evenly spaced Normal quantiles: an average over them is a quadrature of the
    Normal, accurate to about 1e-4 here, so the tests below are deterministic."""
    return stats.norm.ppf((np.arange(count) + 0.5) / count)[None]


def test_density_by_scale_integrates_the_error_out_exactly_for_normal_noise():
    sigma, h = 0.01, np.array([0.0, 1.0, 2.5])
    z = quantile_draws(4000)
    noise = NoiseDraws(sigma=np.full(z.shape, sigma), nu=None)
    resid = np.broadcast_to(np.array([0.0, 0.02, -0.05]), (*z.shape, 3))
    scales = np.array([0.5, 2.0])
    ours = log_density_by_scale(resid, sigma * z, noise, h, scales)
    # the error c·σ·z·h plus Normal(σ) noise is Normal with variance σ²(1 + c²h²)
    spread = sigma * np.sqrt(1.0 + (scales[None] * h[:, None]) ** 2)
    expected = stats.norm.logpdf(resid[0, 0][:, None], scale=spread)
    # the quantile rule's z has variance 1 − 3.3e-4 (not 1), which moves these log densities
    # by under 5e-4; 2e-3 is four times that, far below the differences between scales
    np.testing.assert_allclose(ours, expected, atol=2e-3)


def test_the_learned_scale_covers_the_true_one():
    """Runs simulated with the error at c* = 2: the posterior's intervals cover c* as often
    as they say, over 20 independent sweeps of 100 scored runs."""
    # c* = 2, inside the bundled sweeps' range (0.5–6.5); σ that of synthetic_sweep; 200
    # quantile z's integrate the error to 1e-3, far below the posterior's spread of log c
    truth, sigma, z = 2.0, 0.01, quantile_draws(200)
    noise = NoiseDraws(sigma=np.full(z.shape, sigma), nu=None)
    wide = ScalePrior(log_median=0.0, log_sd=3.0)  # flat over the grid where it matters
    covered = {0.9: 0, 0.5: 0}
    for seed in range(20):  # independent seeds, none chosen
        rng = np.random.default_rng(seed)
        h = rng.uniform(0.5, 3.0, 100)  # distances of held-out runs: 1.6× to 20× out
        resid = sigma * np.sqrt(1.0 + (truth * h) ** 2) * rng.standard_normal(100)
        lpd = log_density_by_scale(np.broadcast_to(resid, (*z.shape, 100)), sigma * z, noise, h)
        learned = learn(lpd, wide)
        for level in covered:
            low, high = learned.interval(level)
            covered[level] += low <= truth <= high
    # binomial(20, 0.9): 15-20 covered with probability 0.989; binomial(20, 0.5): 5-15
    # with probability 0.988 (two-sided: too narrow and too wide both fail)
    assert 15 <= covered[0.9] <= 20
    assert 5 <= covered[0.5] <= 15


def test_pooling_across_sweeps_finds_their_centre_and_spread():
    log_c = np.log(PRIOR_SCALES)
    # two sweeps whose likelihoods of log c are Normal(log 1, 0.2) and Normal(log 4, 0.2):
    # the marginal likelihood is maximised at mu = log 2 and tau² + 0.2² = (log 4 / 2)²
    logliks = [stats.norm.logpdf(log_c, centre, 0.2) for centre in (0.0, np.log(4.0))]
    prior = pool(logliks)
    step = log_c[1] - log_c[0]
    assert abs(prior.log_median - np.log(2.0)) <= step  # mu's grid is every other scale
    tau = np.sqrt((np.log(4.0) / 2) ** 2 - 0.2**2)
    assert abs(prior.log_sd / tau - 1) < 0.04  # tau's grid steps 7%: half a step


def test_a_stack_learns_each_laws_scale_unless_given(sweep, monkeypatch):
    monkeypatch.setattr(lfo_mod, "fit", fake_fit([]))
    monkeypatch.setattr("bayescale.stacking.fit", fake_fit([]))
    mixed = bs.stack(sweep, ["chinchilla", BIASED], cuts=(0.5, 0.75))
    learned = mixed.lfo.attrs["extrapolation_error"]
    for label, post in mixed.components.items():
        low, high = learned[label]["interval_90"]
        assert post.info.extrapolation_error == pytest.approx(learned[label]["value"])
        assert low <= learned[label]["value"] <= high
    given = bs.stack(sweep, ["chinchilla", BIASED], cuts=(0.5, 0.75), extrapolation_error=0.5)
    assert "extrapolation_error" not in given.lfo.attrs


def test_learning_the_scale_needs_a_leave_future_out_frame(sweep, monkeypatch):
    with pytest.raises(bs.InputError, match=r"needs the frame bs\.leave_future_out returns"):
        bs.learn_extrapolation_error(pd.DataFrame({"lpd": [0.0]}))
    monkeypatch.setattr(lfo_mod, "fit", fake_fit([]))
    frame = bs.leave_future_out(sweep, ["chinchilla", BIASED], cuts=(0.5, 0.75))
    with pytest.raises(bs.InputError, match="law must be one of"):
        bs.learn_extrapolation_error(frame)
    assert bs.learn_extrapolation_error(frame, "chinchilla").value > 0
