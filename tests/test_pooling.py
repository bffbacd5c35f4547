"""Hierarchical pooling, training curves with run offsets, and model comparison."""

from __future__ import annotations

import multiprocessing
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest

import bayescale as bs

from conftest import chinchilla_log_loss_np, quiet_fit

SHARED = {"a": np.log(450.0), "b": np.log(2000.0), "beta": 0.37}
POPULATION = {"e": (np.log(1.8), 0.05), "alpha": (np.log(0.34), 0.08)}  # e, log α: mean, sd


def grouped_sweep(n_groups=4, seed=0, sigma=0.01):
    """Groups whose e and α are drawn from a known population; a 6 × 5 grid per group."""
    rng = np.random.default_rng(seed)
    e = POPULATION["e"][0] + POPULATION["e"][1] * rng.standard_normal(n_groups)
    alpha = np.exp(POPULATION["alpha"][0] + POPULATION["alpha"][1] * rng.standard_normal(n_groups))
    rows = []
    for g in range(n_groups):
        n = np.repeat(np.geomspace(5e7, 5e9, 6), 5)
        d = n * np.tile(np.geomspace(3, 150, 5), 6)
        log_loss = chinchilla_log_loss_np({**SHARED, "e": e[g], "alpha": alpha[g]}, n, d)
        loss = np.exp(log_loss + sigma * rng.standard_normal(n.size))
        rows.append(pd.DataFrame({"n_params": n, "n_tokens": d, "loss": loss, "group": f"g{g}"}))
    truth = {f"e[g{g}]": e[g] for g in range(n_groups)}
    truth |= {f"alpha[g{g}]": alpha[g] for g in range(n_groups)}
    return pd.concat(rows, ignore_index=True), truth


def test_partial_pooling_recovers_groups_and_population():
    """13 truths (4 groups × e, α; shared a, b, β; population means of e and α) against
    94% intervals: a calibrated model misses Binomial(13, 0.06) times, P(>= 3) = 0.04, so
    at most 2 misses are allowed."""
    df, truth = grouped_sweep(seed=0)
    truth |= SHARED | {"mu_e": POPULATION["e"][0], "mu_alpha": np.exp(POPULATION["alpha"][0])}
    # KNOWN PROBLEM: four groups barely inform the group scales τ, whose posterior is wide
    # and heavy-tailed: NUTS hits its maximum tree depth there (95 of 800 transitions), and
    # τ mixes slowly (R-hat 1.03, ESS 89 of the 200 needed), so those two may fire. At
    # target_accept 0.9 it also diverged (2); 0.95, as that warning advises, does not.
    post = quiet_fit(
        bs.Sweep.from_frame(df),
        pooling="partial",
        vary=("e", "alpha"),
        chains=2,
        warmup=400,
        draws=400,
        seed=0,
        target_accept=0.95,
        expect=("hit the maximum tree depth",),
        tolerate=("R-hat above 1.01", "ESS below"),
    )
    table = post.summary(0.94)
    rows = [(k, v, table.loc[k, "eti_3%"], table.loc[k, "eti_97%"]) for k, v in truth.items()]
    report = "\n".join(
        f"{k:>12}: truth {v:8.4f} in [{lo:8.4f}, {hi:8.4f}]" for k, v, lo, hi in rows
    )
    print(report)
    misses = sum(not lo <= v <= hi for _, v, lo, hi in rows)
    assert misses <= 2, report
    # planning answers per group and for a new group, which is the least certain
    plan = post.optimal(1e22)
    assert list(plan["n_opt"]["group"].values) == ["g0", "g1", "g2", "g3", "new"]
    width = plan["n_opt"].quantile(0.95, ("chain", "draw")) / plan["n_opt"].quantile(
        0.05, ("chain", "draw")
    )
    assert float(width.sel(group="new").squeeze()) > float(width.sel(group="g0").squeeze())
    with pytest.raises(ValueError, match="per group"):  # the law's parameters: one group's
        post.theta()
    assert post.predict_loss(1e9, 2e10, group="new")["loss_mean"].shape == (2, 400, 1)
    assert {v.dtype for v in post.theta("new").values()} == {post.posterior["alpha"].dtype}


def test_pooling_errors_are_clear():
    df, _ = grouped_sweep(seed=1)
    sweep = bs.Sweep.from_frame(df)
    with pytest.raises(ValueError, match="unknown pooling"):
        bs.fit(sweep, pooling="hierarchical")
    with pytest.raises(ValueError, match="must name parameters"):
        bs.fit(sweep, pooling="partial", vary=("gamma",))
    with pytest.raises(bs.SweepValidationError, match="at least two groups"):
        bs.fit(bs.Sweep.from_frame(df.drop(columns="group")), pooling="partial")


def test_centred_and_non_centred_group_values_are_the_same_model():
    """The centred form samples each group's pooled value u_g = T⁻¹(θ_g) (θ_g − α_g·m for
    the sheared intercept a) directly; the non-centred form samples z_g with u_g =
    loc + τ·z_g. Same model: at matching points the joint densities differ by exactly the
    Jacobian of u ↦ z, −Σ log τ over groups and varying parameters, and give the same θ_g."""
    import jax
    from numpyro.infer.util import log_density

    from bayescale.model_inputs import model_inputs

    df, _ = grouped_sweep(seed=3)
    vary = ("a", "alpha")
    forms = {
        c: model_inputs(bs.Sweep.from_frame(df), pooling="partial", vary=vary, centring=c)
        for c in ("non-centred", "centred")
    }
    rng = np.random.default_rng(0)
    shared = {
        "mu_a_centred": -0.4,
        "mu_alpha": 0.33,
        "tau_a": 0.2,
        "tau_alpha": 0.07,
        "e": 0.6,
        "b_centred": -1.2,
        "beta": 0.37,
        "sigma": 0.01,
        "nu": 8.0,
    }
    z = {p: rng.standard_normal(4) for p in vary}
    inputs = forms["non-centred"]
    m = inputs.centre["n"]
    u = {
        "alpha": np.log(shared["mu_alpha"]) + shared["tau_alpha"] * z["alpha"],
        "a": shared["mu_a_centred"] + shared["tau_a"] * z["a"],
    }
    values = {
        "non-centred": shared | {"z_a": z["a"], "z_alpha": z["alpha"]},
        "centred": shared | {"u_a": u["a"], "u_alpha": u["alpha"]},
    }
    density, theta = {}, {}
    for centring, form in forms.items():
        with jax.enable_x64(True):
            lp, trace = log_density(
                form.model, (), {**form.args, "centre": form.centre}, values[centring]
            )
            density[centring] = float(lp)
            theta[centring] = {p: np.asarray(trace[p]["value"]) for p in vary}
    jacobian = -len(z["a"]) * (np.log(shared["tau_a"]) + np.log(shared["tau_alpha"]))
    np.testing.assert_allclose(density["centred"], density["non-centred"] + jacobian, rtol=1e-12)
    np.testing.assert_allclose(theta["centred"]["alpha"], np.exp(u["alpha"]), rtol=1e-12)
    np.testing.assert_allclose(theta["centred"]["a"], u["a"] + np.exp(u["alpha"]) * m, rtol=1e-12)
    for p in vary:
        np.testing.assert_allclose(theta["centred"][p], theta["non-centred"][p], rtol=1e-12)


def test_centring_errors_are_clear():
    df, _ = grouped_sweep(seed=1)
    sweep = bs.Sweep.from_frame(df)
    with pytest.raises(ValueError, match="centring must be one of"):
        bs.fit(sweep, pooling="partial", centring="noncentered")
    with pytest.raises(ValueError, match="applies to pooling='partial'"):
        bs.fit(sweep, centring="centred")


def test_group_values_reach_points_the_same_by_mask_and_by_gather():
    """The GPU's masked sum (by_point) equals the gather, in value and in gradient."""
    import jax
    import jax.numpy as jnp

    from bayescale.model import by_point

    group = jnp.asarray([0, 2, 1, 2, 2, 0, 1])
    values = jnp.asarray([[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]])  # (chains, groups)
    weights = jnp.arange(1.0, 8.0)

    def loss(v, masked):
        return jnp.sum(weights * jnp.sin(by_point(v, group, 3, masked)))

    np.testing.assert_array_equal(by_point(values, group, 3, True), values[:, group])
    np.testing.assert_allclose(
        jax.grad(loss)(values, True), jax.grad(loss)(values, False), rtol=1e-12
    )


def test_separate_pooling_has_no_new_group():
    df, _ = grouped_sweep(n_groups=2, seed=2)
    # 150 draws of one chain: the ESS of some parameters (19 to 87) is certain to miss 100
    post = quiet_fit(
        bs.Sweep.from_frame(df),
        pooling="separate",
        chains=1,
        warmup=150,
        draws=150,
        expect=("ESS below",),
    )
    assert post.posterior["alpha"].dims == ("chain", "draw", "group")
    with pytest.raises(ValueError, match="no population"):
        post.optimal(1e21, group="new")
    assert post.optimal(1e21, group="g1")["n_opt"].shape == (1, 150, 1)


def curve_sweep(seed=0, runs=8, run_sd=0.02, sigma=0.003):
    """Training curves: each run (one size) logs 8 checkpoints from 15% to 100% of its
    tokens; a run-level offset (seed luck) shifts all checkpoints of a run together."""
    rng = np.random.default_rng(seed)
    rows = []
    for r, n in enumerate(np.geomspace(5e7, 5e9, runs)):
        d = 40 * n * np.linspace(0.15, 1.0, 8)
        offset = run_sd * rng.standard_normal()
        log_loss = chinchilla_log_loss_np({**SHARED, "e": np.log(1.8), "alpha": 0.34}, n, d)
        loss = np.exp(log_loss + offset + sigma * rng.standard_normal(8))
        rows.append(
            pd.DataFrame(
                {
                    "n_params": n,
                    "n_tokens": d,
                    "loss": loss,
                    "run": f"r{r}",
                    "step": np.arange(1, 9) * 1000,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_run_offsets_widen_intervals_that_independence_makes_too_narrow():
    df = curve_sweep(seed=0)
    # 2 × 400 draws: the ESS of e, a and α (119 to 182) sits under the 200 needed, and the
    # run offsets' scale near zero can give a few divergences (2 of 800 here). The
    # independent fit treats 64 checkpoints of 8 runs as independent, which they are
    # not, on purpose: it also diverged here (5 of 800), which another CPU may not repeat.
    curves = quiet_fit(
        bs.Sweep.from_frame(df),
        checkpoints="all",  # simulated as finished runs: every checkpoint is one
        likelihood="student_t",  # as the independent fit below, so only the offsets differ
        chains=2,
        warmup=400,
        draws=400,
        seed=0,
        tolerate=("divergent transition", "ESS below", "R-hat above 1.01"),
    )
    naive = quiet_fit(
        bs.Sweep.from_frame(df.drop(columns=["run", "step"])),
        chains=2,
        warmup=400,
        draws=400,
        seed=0,
        tolerate=("divergent transition", "ESS below", "R-hat above 1.01"),
    )
    assert "run_offset" in curves.posterior and "run_offset" not in naive.posterior

    def width(post, name):
        lo, hi = np.quantile(post.posterior[name].values, [0.03, 0.97])
        return hi - lo

    for name, truth in (("e", np.log(1.8)), ("alpha", 0.34)):
        lo, hi = np.quantile(curves.posterior[name].values, [0.03, 0.97])
        print(
            name,
            "curve-aware",
            (lo, hi),
            "width",
            width(curves, name),
            "independent width",
            width(naive, name),
        )
        assert lo <= truth <= hi
        assert width(naive, name) < width(curves, name)
    # E is pinned by the level of the curves, i.e. by replication within runs: 64
    # checkpoints carry about 8 runs' worth of it, so independence shrinks its interval by
    # about sqrt(8/64) = 0.35. (α is pinned by differences between runs, which both models
    # see, so its interval shrinks less.)
    assert width(naive, "e") < 0.6 * width(curves, "e")
    # a new run's measured loss carries a new offset: its predictive scale per draw is
    # sqrt(σ² + σ_run²), here ~7x σ alone. Scaled by it, the draws are Student-t(ν): the
    # interquartile range is 1.35 (Normal) to 1.63 (ν = 2); 800 draws give it an sd of
    # ~0.08, so (1.1, 1.9) is over 3 sds from both ends.
    pred = curves.predict_loss(5e8, 1e10)
    noise = np.log(pred["loss_predictive"].values / pred["loss_mean"].values)[..., 0]
    post = curves.posterior
    scaled = noise / np.hypot(post["sigma"].values, post["sigma_run"].values)
    q1, q3 = np.quantile(scaled, [0.25, 0.75])
    assert 1.1 < q3 - q1 < 1.9, (q1, q3)


def test_curves_without_schedules_fit_final_checkpoints_by_default_and_say_why():
    df = curve_sweep(seed=1)
    sweep = bs.Sweep.from_frame(df)
    with pytest.warns(bs.SweepWarning, match=r"56 row\(s\) excluded.*law='multipower'"):
        # 50 warmup and 50 draws: too few to converge, a convergence warning is certain
        # (50 draws cannot make 100 effective ones); 8 final points barely measure a, b
        # (their prior-dominated warning fires or not with the draws); this test is about
        # which rows are fitted
        post = quiet_fit(
            sweep,
            chains=1,
            warmup=50,
            draws=50,
            expect=(bs.ConvergenceWarning,),
            tolerate=(bs.PriorDominatedWarning,),
        )
    assert post.info.data.points == 8 and post.info.data.excluded == 56
    assert "run_offset" not in post.posterior  # one point per run: no run structure left
    final = sweep.frame.groupby("run")["n_tokens"].transform("max") == sweep.frame["n_tokens"]
    assert np.allclose(
        np.sort(post.groups["observed_data"]["log_loss"].values),
        np.sort(np.log(sweep.frame.loc[final, "loss"].values)),
    )
    with pytest.raises(bs.InputError, match="checkpoints must be one of"):
        bs.fit(sweep, checkpoints="last")


def test_early_checkpoints_are_excluded_when_all_are_fitted_and_reported():
    df = curve_sweep(seed=1)
    df.loc[df.index[::8], "n_tokens"] *= 0.3  # first checkpoint of each run: at 4.5%
    sweep = bs.Sweep.from_frame(df)
    with pytest.warns(bs.SweepWarning, match=r"8 row\(s\) excluded.*before 10%"):
        post = quiet_fit(
            sweep,
            checkpoints="all",
            chains=1,
            warmup=50,
            draws=50,
            expect=(bs.ConvergenceWarning,),  # as above
        )
    assert post.info.data.excluded == 8 and post.info.data.points == 56
    kept = quiet_fit(
        sweep,
        checkpoints="all",
        min_fraction=0,
        chains=1,
        warmup=50,
        draws=50,
        expect=(bs.ConvergenceWarning,),
    )
    assert kept.info.data.points == 64


KAPLAN_LAWS = {
    # law: (log-loss of (log_nc, n, d), other parameters)
    "kaplan": lambda log_nc, n, d: (
        0.095 * np.logaddexp(0.076 / 0.095 * (log_nc - np.log(n)), np.log(1.8e13) - np.log(d))
    ),
    "kaplan_steps": lambda log_nc, n, d: np.logaddexp(
        0.076 * (log_nc - np.log(n)), 0.76 * (np.log(1.1e9) - np.log(d))
    ),
}


@pytest.mark.parametrize("law_name", sorted(KAPLAN_LAWS))
def test_kaplan_laws_under_partial_pooling(law_name):
    rng = np.random.default_rng(3)
    rows = []
    for g, log_nc in enumerate([31.5, 32.0, 32.5]):
        n = np.repeat(np.geomspace(1e7, 1e9, 5), 4)
        d = n * np.tile(np.geomspace(5, 100, 4), 5)
        log_loss = KAPLAN_LAWS[law_name](log_nc, n, d)
        rows.append(
            pd.DataFrame(
                {
                    "n_params": n,
                    "n_tokens": d,
                    "group": f"g{g}",
                    "loss": np.exp(log_loss + 0.005 * rng.standard_normal(n.size)),
                }
            )
        )
    # three groups barely inform the group scale: the ESS of τ (11 to 39 in 200 draws) is
    # certain to miss the 100 needed
    post = quiet_fit(
        bs.Sweep.from_frame(pd.concat(rows, ignore_index=True)),
        law=law_name,
        pooling="partial",
        vary=("log_nc",),
        chains=1,
        warmup=200,
        draws=200,
        expect=("ESS below",),
    )
    assert post.posterior["log_nc"].dims == ("chain", "draw", "group")
    assert np.isfinite(post.optimal(1e21)["n_opt"].values).all()
    # The groups' log N_c are 31.5, 32.0 and 32.5; the sweep pins each step between them to
    # a posterior sd of about 0.03. So every draw must order the groups as the truths do,
    # and each step's median lie within 0.1 (3.3 sds) of 0.5: a calibrated fit misses
    # that with P < 0.001 per step.
    step = np.diff(post.posterior["log_nc"].values, axis=-1)
    print("steps in log N_c: median", np.median(step, axis=(0, 1)), "sd", step.std(axis=(0, 1)))
    assert np.all(step > 0)
    np.testing.assert_allclose(np.median(step, axis=(0, 1)), 0.5, atol=0.1)


def test_compare_ranks_pooling_modes():
    df, _ = grouped_sweep(n_groups=3, seed=4)
    sweep = bs.Sweep.from_frame(df)
    # 2 × 200 draws: low ESS is certain in both (61 to 116 of the 200 needed). KNOWN
    # PROBLEM: both also diverge (3 and 2) and their chains disagree (R-hat up to 1.04); the
    # partial fit, where all five parameters vary over three groups, hits the maximum tree
    # depth 207 times. The pooled law cannot fit three different groups, so its A is barely
    # constrained (contraction 0.65).
    expect = {
        "none": (bs.ConvergenceWarning, r"prior-dominated for a \("),
        "partial": (bs.ConvergenceWarning,),
    }
    fits = {
        name: quiet_fit(
            sweep, pooling=name, chains=2, warmup=200, draws=200, seed=1, expect=expect[name]
        )
        for name in ("none", "partial")
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ComparisonWarning)  # tiny fits: k may be high
        table = bs.compare(fits)
    # groups truly differ (τ_e = 0.05 ≫ σ = 0.01): the pooled law must lose
    assert table.index[0] == "partial", table
    assert {"elpd_loo", "pareto_k_bad"} <= set(table.columns)
    with pytest.raises(ValueError, match="at least two"):
        bs.compare({"one": fits["none"]})


def _new_group_pit(seed: int) -> float:
    """One sweep of :func:`test_new_group_predictive_coverage`: fit four groups, return the
    PIT of the held-out group's centre point under the new-group predictive."""
    warnings.simplefilter("error")  # the suite's filter, which a fresh process lacks
    df, _ = grouped_sweep(n_groups=5, seed=100 + seed)
    train, test = df[df["group"] != "g4"], df[df["group"] == "g4"]
    # KNOWN PROBLEM: four groups barely inform the group scales τ. In 12 trial sweeps
    # every fit warned: chains disagreeing on τ (R-hat above 1.01) in all, low ESS of τ,
    # maximum tree depth hits, and divergences in 7 (1 to 52 of 600 draws).
    post = quiet_fit(
        bs.Sweep.from_frame(train),
        pooling="partial",
        vary=("e", "alpha"),
        chains=2,
        warmup=300,
        draws=300,
        seed=seed,
        target_accept=0.9,
        tolerate=(bs.ConvergenceWarning,),
    )
    log_n, log_d = np.log(test["n_params"].values), np.log(test["n_tokens"].values)
    centre = int(np.argmin(np.abs(log_n - log_n.mean()) + np.abs(log_d - log_d.mean())))
    point = test.iloc[centre]
    pred = post.predict_loss(point["n_params"], point["n_tokens"], group="new", seed=seed)
    return float(np.mean(pred["loss_predictive"].values < point["loss"]))


@pytest.mark.slow
def test_new_group_predictive_coverage():
    """Hold out one group, fit the other four with partial pooling, and predict the
    held-out group's loss as a new group's, over 20 independent simulated sweeps.

    What is independent is the sweep, not the point: the held-out group's 30 points share
    its one draw of (e, α) from the population, so they are covered nearly all together
    (in 12 trial sweeps the PITs of one group's points spanned at most 0.36, and the 50%
    intervals held at most 3 of a group's 30 points, or all 30). Each sweep gives one check,
    at the point nearest the centre of the grid (log N and log D). A calibrated predictive
    puts it at a Uniform(0, 1) quantile (nearly: the population is fixed, not drawn from
    the prior; the 12 trial sweeps' PITs were consistent with uniform), so the central
    - 90% interval holds it Binomial(20, 0.9) times: P(<= 13) = 0.0024, so at least 14;
    - 50% interval holds it Binomial(20, 0.5) times: P(<= 4) = P(>= 16) = 0.0059, so 5 to
      15. This side fails intervals that are too wide: twice too wide, the 50% interval
      holds 82% of points and 16 or more of 20 with P = 0.72.
    A calibrated model fails with P < 0.015.

    The fits run four to a fresh process (the four share their compiled sampler): 20 fits
    in one process crashed inside XLA (JAX 0.10.2: a segfault in compilation or in the
    compilation cache) in 3 of 3 runs (``docs/performance.md``); a crash now fails this
    test alone, with the pool's error.
    """
    levels = {0.9: (14, 20), 0.5: (5, 15)}  # interval: allowed number of sweeps it covers
    context = multiprocessing.get_context("spawn")
    pits = []
    for first in range(0, 20, 4):  # a fresh pool (one process) for each four fits
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            pits += pool.map(_new_group_pit, range(first, first + 4))
    covered = {level: sum(abs(pit - 0.5) <= level / 2 for pit in pits) for level in levels}
    report = "\n".join(f"sweep {seed:2d}: PIT {pit:.3f}" for seed, pit in enumerate(pits))
    report += f"\ncovered: {covered}"
    print(report)
    for level, (low, high) in levels.items():
        assert low <= covered[level] <= high, f"{level:.0%} interval\n{report}"
