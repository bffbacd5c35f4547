"""Offsets shared by a group of runs (bayescale.likelihood): the density and the offset
draws against dense Gaussian algebra, a fit that carries them, and new runs of a fitted
group predicted with their share."""

from __future__ import annotations

from dataclasses import replace

import jax
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayescale as bs
from bayescale.errors import InputError
from bayescale.evaluation import score_curves
from bayescale.likelihood import (
    draw_run_offsets,
    draw_shared_offsets,
    run_groups,
    shared_log_density,
)
from bayescale.model_inputs import model_inputs
from bayescale.schedules import cosine

from conftest import quiet_fit
from test_curves import curve_rows, multipower_point_mass
from test_pooling import curve_sweep

RUN = np.array([0, 0, 2, 1, 1, 2, 2, 3, 3, 0])  # unsorted; run 2 lies in group 1
GROUP = np.array([0, 0, 1, 0, 0, 1, 1, 1, 1, 0])  # each point's offset group
RESID = np.array([0.03, 0.01, -0.02, 0.04, 0.02, -0.01, 0.0, -0.03, -0.02, 0.02])
SIGMA, SIGMA_RUN, SIGMA_SHARED = 0.01, 0.02, 0.03


def covariance(points):
    """``σ² I + s² [same run] + s_g² [same group]`` over the given points."""
    run, group = RUN[points], GROUP[points]
    return (
        SIGMA**2 * np.eye(len(run))
        + SIGMA_RUN**2 * (run[:, None] == run[None])
        + SIGMA_SHARED**2 * (group[:, None] == group[None])
    )


def test_run_groups_reads_each_runs_group_from_its_points():
    np.testing.assert_array_equal(run_groups(GROUP, RUN, 4), [0, 0, 1, 1])


def test_shared_density_equals_the_joint_density_of_each_offset_group():
    with jax.enable_x64(True):
        got = np.asarray(
            shared_log_density(
                RESID,
                RUN,
                4,
                run_groups(GROUP, RUN, 4),
                2,
                np.float64(SIGMA),
                np.float64(SIGMA_RUN),
                np.float64(SIGMA_SHARED),
            )
        )
    for g in range(2):
        points = np.flatnonzero(GROUP == g)
        joint = stats.multivariate_normal(np.zeros(len(points)), covariance(points))
        assert got[g] == pytest.approx(joint.logpdf(RESID[points]), rel=1e-10)


def test_shared_and_run_offset_draws_follow_the_joint_conditional():
    # (η_0, η_1, δ_0, ..., δ_3, e) is jointly Normal: condition the offsets on e densely.
    group = np.asarray(run_groups(GROUP, RUN, 4))
    runs = np.arange(4)
    offsets_cov = np.block(
        [
            [SIGMA_SHARED**2 * np.eye(2), SIGMA_SHARED**2 * (np.arange(2)[:, None] == group)],
            [
                SIGMA_SHARED**2 * (group[:, None] == np.arange(2)),
                SIGMA_RUN**2 * np.eye(4) + SIGMA_SHARED**2 * (group[:, None] == group),
            ],
        ]
    )
    cross = np.vstack(  # cov(offsets, e): η_g with e_i in g, δ_r with e_i in r or its group
        [
            SIGMA_SHARED**2 * (np.arange(2)[:, None] == GROUP),
            SIGMA_RUN**2 * (runs[:, None] == RUN) + SIGMA_SHARED**2 * (group[:, None] == GROUP),
        ]
    )
    gain = cross @ np.linalg.inv(covariance(np.arange(len(RUN))))
    mean, var = gain @ RESID, np.diag(offsets_cov - gain @ cross.T)

    n = 20_000
    args = (np.broadcast_to(RESID, (n, len(RUN))), RUN, 4)
    scales = (np.full(n, SIGMA), np.full(n, SIGMA_RUN))
    rng = np.random.default_rng(1)  # any seed: the allowances below are in standard errors
    shared = draw_shared_offsets(*args, group, 2, *scales, np.full(n, SIGMA_SHARED), rng)
    own = draw_run_offsets(*args, *scales, seed=rng, shared=shared[:, group])
    draws = np.column_stack([shared, own])
    # 20,000 draws: each sample mean within 4 standard errors (a miss has chance 6e-5 per
    # value, 4e-4 over the six), each sd within 3% (its standard error is 0.5%: 6 of them).
    assert np.all(np.abs(draws.mean(0) - mean) < 4 * np.sqrt(var / n))
    np.testing.assert_allclose(draws.std(0), np.sqrt(var), rtol=0.03)


# ------------------------------------------------------------------------------ in a fit
def family_sweep():
    """Eight runs of eight sizes in four families of two, each family's sizes far apart
    (runs r and r + 4), so that families do not stand in for a trend in N."""
    frame = curve_sweep(seed=5)  # any seed: the tests read what a fit holds, not its values
    return frame.assign(family=frame["run"].str[1:].astype(int) % 4)


@pytest.mark.parametrize(
    "frame, kwargs, message",
    [
        (family_sweep(), {"offset_groups": "nope"}, "not a column"),
        (family_sweep(), {"offset_groups": "family", "likelihood": "student_t"}, "'normal'"),
        (family_sweep().assign(family=np.arange(64)), {"offset_groups": "family"}, "several"),
        (family_sweep().assign(family=np.nan), {"offset_groups": "family"}, "is empty"),
        (
            family_sweep().drop_duplicates("run", keep="last"),
            {"offset_groups": "family"},
            "training curves",
        ),
    ],
)
def test_offset_groups_refuse_what_they_cannot_fit(frame, kwargs, message):
    with pytest.raises(InputError, match=message):
        model_inputs(bs.Sweep.from_frame(frame), checkpoints="all", **kwargs)


def test_a_fit_with_offset_groups_carries_them_everywhere(tmp_path):
    sweep = bs.Sweep.from_frame(family_sweep())
    # 2 × (150 + 150) draws: enough to run every path; too few for the ESS of the law and
    # of the two offset scales (the test is about what the fit holds, not its quality).
    post = quiet_fit(
        sweep,
        checkpoints="all",
        offset_groups="family",
        chains=2,
        warmup=150,
        draws=150,
        seed=0,
        tolerate=("divergent transition", "ESS below", "R-hat above 1.01"),
    )
    assert post.info.curves.offset_groups == "family"
    labels = ["0.0", "1.0", "2.0", "3.0"]
    assert list(post.posterior["offset_group"].values) == labels
    assert post.posterior["shared_offset"].dims == ("chain", "draw", "offset_group")
    assert "sigma_shared" in post.summary().index
    assert post.likelihood_unit == "offset_group"
    assert post.log_likelihood()["log_loss"].dims == ("chain", "draw", "offset_group")
    assert post.idata.posterior_predictive["log_loss"].shape[-1] == len(sweep.fit_frame)
    # a new run of a fitted family: its family's share plus a new run's own scatter
    new = post.new_run_offset("1.0", seed=3)  # any seed: the allowance is in standard errors
    shared = post.posterior["shared_offset"].sel(offset_group="1.0").values
    assert new.shape == shared.shape
    # its own scatter, in units of each draw's sigma_run, is standard Normal: 300 independent
    # values, whose sd has standard error sqrt(1/600) = 0.041, so 0.1 is 2.4 of them. (Pooled
    # over the draws instead, the scatter is a scale mixture, whose sd scatters more the
    # wider sigma_run's posterior: sqrt(1/600) would understate it.)
    own = (new - shared) / post.posterior["sigma_run"].values
    assert np.std(own) == pytest.approx(1.0, abs=0.1)
    with pytest.raises(InputError, match="not an offset group"):
        post.new_run_offset("9.0")
    path = tmp_path / "post.nc"
    post.save(path)
    assert bs.load_posterior(path).info.curves.offset_groups == "family"


def test_a_new_run_of_a_fitted_offset_group_is_predicted_with_its_share():
    shared = 0.02
    post = multipower_point_mass({"a": shared}, sigma_run=0.0)  # no run scatter of its own
    posterior = post.posterior.assign(
        sigma_shared=(("chain", "draw"), [[0.01]]),
        shared_offset=(("chain", "draw", "offset_group"), [[[shared]]]),
    ).assign_coords(offset_group=["100000000.0"])
    post = replace(
        post,
        groups={**post.groups, "posterior": posterior},
        info=replace(post.info, curves=replace(post.info.curves, offset_groups="n_params")),
    )
    schedule = cosine(1000, 3e-4, 3e-5, warmup=100)
    steps = [200, 400, 600, 800, 999]
    law = [
        post.predict_curve(n, schedule, 2.0**19, steps=steps)["loss_mean"].values.ravel()
        for n in (1e8, 2e8)
    ]
    # new runs at the law times e^shared: exact in the fitted size; at another size a new
    # run of a new group, predicted without the share
    rows = pd.concat(
        [curve_rows("b", None), curve_rows("c", None, n_params=2e8)], ignore_index=True
    )
    rows["loss"] = np.concatenate(law) * np.exp(shared)
    rows["group"] = np.where(rows["run"] == "b", "fitted size", "other size")
    table = score_curves(post, rows, ci_prob=0.9)
    assert table.loc["fitted size", "mean_rel_error"] < 1e-12  # exact but for rounding
    np.testing.assert_allclose(table.loc["other size", "mean_rel_error"], 1 - np.exp(-shared))
