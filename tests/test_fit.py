"""Fitting: parameter recovery, agreement with the published replication, seeds,
diagnostics, the Posterior API and save/load."""

from __future__ import annotations

import json
import warnings

import numpy as np
import numpyro.distributions as dist
import pytest
import xarray as xr

import bayescale as bs

from conftest import TRUTH, quiet_fit, synthetic_sweep


def test_recovers_known_parameters():
    """Truths inside their 94% intervals, over 4 synthetic sweeps × 5 parameters.

    One sweep is one noise draw: seed 0's own least-squares fit sits 2.9 standard errors
    from the true ``e``, so a per-sweep check would fail on a correct model. Calibrated
    94% intervals miss Binomial(20, 0.06) times: P(misses >= 4) = 0.03, so at most 3
    misses are allowed; intervals twice too narrow would miss about half the time.
    """
    misses, rows = 0, []
    for seed in range(4):
        sweep = bs.Sweep.from_frame(synthetic_sweep(seed=seed))
        # R-hat (needs < 1.01) and ESS (>= 100 a chain) of 2 chains × 500 draws sit near
        # their thresholds and cross them by chance; a divergence or any other warning fails.
        post = quiet_fit(
            sweep,
            chains=2,
            warmup=500,
            draws=500,
            seed=seed,
            tolerate=("R-hat above 1.01", "ESS below"),
        )
        table = post.summary(0.94)
        for name, truth in TRUTH.items():
            low, high = table.loc[name, "eti_3%"], table.loc[name, "eti_97%"]
            inside = low <= truth <= high
            misses += not inside
            rows.append(
                f"seed {seed} {name:>5}: truth {truth:8.4f} in [{low:8.4f}, {high:8.4f}]"
                f" {'ok' if inside else 'MISS'}"
            )
    print("\n".join(rows))
    assert misses <= 3, "\n".join(rows)


def test_agrees_with_besiroglu_replication():
    """Besiroglu et al. 2024 (240 points, Huber loss): E 1.817, A 482, B 2085, α 0.348,
    β 0.366, a = β/(α+β) 0.513. Each must lie inside our 95% interval."""
    sweep = bs.load_dataset("chinchilla")
    sweep = sweep.exclude(sweep.frame["besiroglu_excluded"], reason="Besiroglu")
    post = quiet_fit(sweep, chains=4, warmup=500, draws=500, seed=0)
    table = post.summary(ci_prob=0.95)
    published = {
        "E": 1.817,
        "A": 482.0,
        "B": 2085.0,
        "alpha": 0.348,
        "beta": 0.366,
        "n_opt_exponent": 0.513,
    }
    print(table.loc[list(published)])
    for name, value in published.items():
        low, high = table.loc[name, "eti_2.5%"], table.loc[name, "eti_97.5%"]
        assert low <= value <= high, f"{name}: published {value} outside [{low:.4g}, {high:.4g}]"
    assert not post.warnings, post.warnings


def test_same_seed_same_draws_other_seed_other_draws():
    sweep = bs.Sweep.from_frame(synthetic_sweep(seed=3))
    # 100 warmup and 100 draws are too few to converge: a convergence warning is certain
    # (a chain needs 100 effective draws of every parameter), and which ones fire (low ESS,
    # R-hat, a few divergences in the short adaptation) is the seed's; this test is about
    # seeds, so each fit expects some, and the same seed must give the same ones.
    short = {"chains": 2, "warmup": 100, "draws": 100, "expect": (bs.ConvergenceWarning,)}
    one = quiet_fit(sweep, seed=7, **short)
    two = quiet_fit(sweep, seed=7, **short)
    three = quiet_fit(sweep, seed=8, **short)
    xr.testing.assert_identical(one.posterior, two.posterior)
    assert one.warnings == two.warnings
    assert not np.allclose(one.posterior["alpha"], three.posterior["alpha"])


def test_convergence_problems_are_warned_and_kept():
    sweep = bs.Sweep.from_frame(synthetic_sweep(seed=4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        post = bs.fit(sweep, chains=2, warmup=20, draws=20, progress=False)
    assert [str(w.message) for w in caught] == list(post.warnings)
    assert any(issubclass(w.category, bs.ConvergenceWarning) for w in caught)
    assert any("bulk ESS below 200" in w and "draws=" in w for w in post.warnings)


def test_prior_override_and_bad_prior():
    sweep = bs.Sweep.from_frame(synthetic_sweep(seed=5))
    # A prior of sd 0.001 on α is far tighter than anything the sweep can pin: the
    # posterior is the prior, and saying so is the fit's job. One chain of 100 draws
    # cannot reach 100 effective draws of every parameter: low ESS is certain.
    post = quiet_fit(
        sweep,
        chains=1,
        warmup=100,
        draws=100,
        priors={"alpha": dist.TruncatedNormal(0.34, 0.001, low=0.0)},
        expect=(r"prior-dominated for alpha \(", "ESS below"),
    )
    assert post.info.priors["alpha"] == (
        "LeftTruncatedDistribution(Normal(loc=0.34, scale=0.001), low=0)"
    )
    assert abs(float(post.posterior["alpha"].mean()) - 0.34) < 0.01
    with pytest.raises(ValueError, match=r"unknown parameter.*'gamma'"):
        bs.fit(sweep, priors={"gamma": dist.Normal(0, 1)})
    with pytest.raises(TypeError, match="numpyro distribution"):
        bs.fit(sweep, priors={"alpha": 0.3})


def test_idata_has_the_groups_and_provenance(synthetic_posterior):
    idata = synthetic_posterior.idata
    for group in ("posterior", "sample_stats", "log_likelihood", "observed_data", "constant_data"):
        assert group in idata.groups(), group
    meta = json.loads(idata.attrs["bayescale"])["info"]  # the file header (posterior_file)
    assert meta["law"] == "chinchilla" and meta["bayescale_version"] == bs.__version__
    assert set(meta["priors"]) == {"e", "a", "alpha", "b", "beta", "sigma", "nu"}
    assert idata.log_likelihood["log_loss"].shape == (2, 300, 48)


def test_log_likelihood_block_by_block_is_each_points_density(synthetic_posterior, monkeypatch):
    """log_likelihood runs a few draws at a time (memory bounded at 1e6 points): every
    entry is its point's Student-t (or, under a Normal likelihood, Normal) log density
    under its own draw, as scipy computes it (to float64 rounding: log densities of order
    1, evaluated in a different order)."""
    from dataclasses import replace

    from scipy import stats

    from bayescale import posterior as posterior_module

    post = synthetic_posterior
    points = post.groups["observed_data"].sizes["point"]
    monkeypatch.setattr(posterior_module, "RESIDUAL_BLOCK", 7 * points)  # 7 draws a block
    y = post.groups["observed_data"]["log_loss"].values
    mu, draws = post.fitted_log_mean(), post.posterior
    sigma, nu = draws["sigma"].values[..., None], draws["nu"].values[..., None]
    assert post.info.likelihood == "student_t"
    np.testing.assert_allclose(
        post.log_likelihood()["log_loss"].values, stats.t.logpdf(y, nu, mu, sigma), atol=1e-12
    )
    normal = replace(post, groups={**post.groups, "posterior": post.posterior.drop_vars("nu")})
    np.testing.assert_allclose(
        normal.log_likelihood()["log_loss"].values, stats.norm.logpdf(y, mu, sigma), atol=1e-12
    )


def test_predict_loss_mean_and_predictive(synthetic_posterior):
    pred = synthetic_posterior.predict_loss([1e8, 1e9], [2e9, 2e10], seed=0)
    assert pred["loss_mean"].dims == ("chain", "draw", "point")
    mean, predictive = pred["loss_mean"].values, pred["loss_predictive"].values
    assert np.all(mean > 0) and np.all(np.isfinite(predictive))
    # predictive draws add observation noise, so they spread more than the mean's draws
    assert np.all(predictive.std(axis=(0, 1)) > mean.std(axis=(0, 1)))


def test_optimal_interval_is_tidy_and_per_draw(synthetic_posterior):
    draws = synthetic_posterior.optimal([1e21, 1e22])
    assert draws["n_opt"].dims == ("chain", "draw", "budget")
    table = draws.interval(0.9)
    assert set(table["quantity"]) == {"n_opt", "d_opt", "tokens_per_param", "loss_opt"}
    low, high = table["eti_5%"], table["eti_95%"]
    assert (low <= table["median"]).all() and (table["median"] <= high).all()
    np.testing.assert_allclose(
        (6 * draws["n_opt"] * draws["d_opt"]).values / draws["budget"].values, 1.0, rtol=1e-9
    )
    with pytest.raises(ValueError, match="ci_prob"):
        draws.interval(1.5)
    with pytest.raises(bs.InputTypeError, match=r"ci_prob must be a number.*'0\.9' \(str\)"):
        draws.interval("0.9")


def test_save_load_round_trip_is_exact(synthetic_posterior, tmp_path):
    path = synthetic_posterior.save(tmp_path / "post.nc")
    loaded = bs.load_posterior(path)
    for name, group in synthetic_posterior.groups.items():
        xr.testing.assert_identical(group, loaded.groups[name])
    assert loaded.info == synthetic_posterior.info
    assert loaded.warnings == synthetic_posterior.warnings
    xr.testing.assert_identical(
        synthetic_posterior.optimal(1e22).dataset, loaded.optimal(1e22).dataset
    )
    with pytest.raises(bs.InputError, match="overwrite=True"):
        synthetic_posterior.save(path)
    synthetic_posterior.save(path, overwrite=True)


def test_corrupted_and_foreign_files(tmp_path, synthetic_posterior):
    path = synthetic_posterior.save(tmp_path / "post.nc")
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(bs.PosteriorFileError, match="truncated or corrupted"):
        bs.load_posterior(truncated)
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"x": ("i", [1.0])}).to_netcdf(foreign, engine="h5netcdf")
    with pytest.raises(bs.PosteriorFileError):
        bs.load_posterior(foreign)
    with pytest.raises(bs.PosteriorFileError, match="no posterior file"):
        bs.load_posterior(tmp_path / "missing.nc")


def test_reference_fit_matches_its_spec():
    post = bs.load_reference("chinchilla")
    assert post.law.name == "chinchilla"
    assert post.info.sampler.chains * post.info.sampler.draws == 4000
    assert post.info.data.points == 240 and post.info.data.excluded == 5
    assert not post.warnings


def test_single_model_size_is_reported_as_prior_dominated():
    df = synthetic_sweep(seed=6)
    df["n_params"] = 1e9  # every point at one N: A and α cannot be told apart from E
    # Unidentified on purpose: along the ridge where E, A and α trade off, NUTS diverges
    # (90 of 600 draws), the chains disagree (R-hat of α 1.13) and mix slowly (ESS of α 16).
    with pytest.warns(bs.SweepWarning, match="every fitted point has one model size"):
        post = quiet_fit(
            bs.Sweep.from_frame(df),
            chains=2,
            warmup=300,
            draws=300,
            expect=(
                r"prior-dominated for .*alpha",
                "divergent transition",
                r"R-hat above 1\.01 for .*alpha",
                "ESS below",
            ),
        )
    assert any("prior-dominated" in w for w in post.warnings)
    # the posterior keeps what its points cannot inform, for answers read from its file
    assert any(w.startswith("every fitted point has one model size") for w in post.warnings)


def test_mass_matrix_shrinkage_only_where_warmup_windows_are_short():
    from functools import partial

    from bayescale.laws import get_law
    from bayescale.model import scaling_model
    from bayescale.nuts import latent_size, regularize_mass_matrix
    from bayescale.priors import resolve_priors

    # NumPyro's shortest warmup window is 25 draws at warmup 1000 (and at 200): an
    # unshrunk covariance estimate is nonsingular up to 24 latent dimensions
    assert not regularize_mass_matrix(7, 1000) and not regularize_mass_matrix(14, 200)
    assert not regularize_mass_matrix(24, 1000) and regularize_mass_matrix(25, 1000)
    assert regularize_mass_matrix(3, 10)  # too short a warmup for any slow window
    # non-centred group values (scale near 1): shrunk below 2 draws per dimension, up to 12
    assert not regularize_mass_matrix(12, 1000, True) and regularize_mass_matrix(13, 1000, True)
    law = get_law("chinchilla")
    data = {
        "log_n": np.full(30, 20.0),
        "log_d": np.full(30, 23.0),
        "log_loss": np.zeros(30),
        "group": np.arange(30) % 4,
        "centre": {"n": 20.0, "d": 23.0},
    }
    pooled = partial(
        scaling_model,
        law=law,
        likelihood="student_t",
        pooling="none",
        vary=(),
        n_groups=1,
        n_runs=0,
        priors=resolve_priors(law, "student_t", None),
    )
    assert latent_size(pooled, data) == 7  # e, a, α, b, β, σ, ν
    vary = ("e", "alpha")
    partial_model = partial(
        scaling_model,
        law=law,
        likelihood="student_t",
        pooling="partial",
        vary=vary,
        n_groups=4,
        n_runs=0,
        priors=resolve_priors(law, "student_t", None, vary=vary),
    )
    # μ and τ of e and α, their 4 group deviations each, shared a, b, β, and σ, ν
    assert latent_size(partial_model, data) == 4 + 8 + 3 + 2
