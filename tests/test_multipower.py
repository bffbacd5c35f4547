"""The multi-power law: its sums against the definition, the authors' published errors,
reading schedules from a sweep's rows, and its finished-run form."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from test_schedules import MULTIPOWER_RAW, PUBLISHED, authors_schedules, exact_loss

from bayescale import schedules as bss
from bayescale.errors import SweepValidationError, SweepWarning
from bayescale.ingest.multipower import PUBLISHED_SPLIT
from bayescale.laws import get_law
from bayescale.laws.multipower import (
    DEFAULT_SETTINGS,
    LOG_N0,
    MULTIPOWER,
    multipower_inputs,
    multipower_law,
    multipower_point_log_loss,
    multipower_settings,
    single_size_theta,
)
from bayescale.model_inputs import model_inputs
from bayescale.sweep import Sweep
from bayescale.sweep_schedules import run_schedules

TEST_SET = tuple(PUBLISHED_SPLIT["test"])  # the authors' held-out schedules
# The authors' README, per size: mean and worst relative error averaged over TEST_SET
PUBLISHED_ERRORS = {"25": (0.00110, 0.00409), "100": (0.00142, 0.00583), "400": (0.00168, 0.00995)}

THETA = {  # a ladder near the authors' fits (module docstring)
    "e": 0.53,
    "u": -0.05,
    "alpha_n": 0.25,
    "a": -0.51,
    "a_slope": 0.06,
    "alpha": 0.45,
    "alpha_slope": -0.06,
    "b": 6.08,
    "b_slope": 0.13,
    "c": 2.1,
    "beta": 0.59,
    "gamma": 0.64,
}


def law_inputs(features):
    """The law's inputs from :func:`checkpoint_features`, one row per checkpoint."""
    return {
        "lr_sum": jnp.asarray(features["lr_sum"]),
        "row": jnp.arange(len(features["lr_sum"])),
        "knot_log_lr": jnp.log(features["knot_lr"]),
        "knot_drop": jnp.asarray(features["knot_drop"]),
        "knot_log_area": jnp.log(features["knot_area"]),
    }


def law_loss(theta, features, log_n=LOG_N0):
    n = len(features["lr_sum"])
    inputs = law_inputs(features)
    return np.exp(np.asarray(multipower_point_log_loss(theta, jnp.full(n, log_n), None, **inputs)))


@pytest.mark.parametrize(
    "schedule",
    [
        bss.constant(200, 3e-4, warmup=20),
        bss.cosine(200, 3e-4, 3e-5, warmup=20),
        bss.wsd(200, 3e-4, 3e-5, 150, warmup=20, decay="exponential"),
        bss.piecewise([100, 200], [3e-4, 3e-5], warmup=20),
    ],
    ids=lambda s: s.kind,
)
def test_law_with_one_step_blocks_is_the_definition(schedule):
    steps = np.array([1, 10, 20, 21, 99, 100, 101, 151, 199, 200])
    with jax.enable_x64(True):
        got = law_loss(
            single_size_theta(*PUBLISHED["25"]), bss.checkpoint_features(schedule, steps, None)
        )
    want = [exact_loss(PUBLISHED["25"], schedule.lr(), t) for t in steps]
    # float64 throughout; sums of <= 200 terms: rounding ~1e-15 relative
    assert np.allclose(got, want, rtol=1e-12, atol=0)


@pytest.mark.skipif(not MULTIPOWER_RAW.is_dir(), reason=f"raw files not found at {MULTIPOWER_RAW}")
@pytest.mark.parametrize("size", sorted(PUBLISHED))
def test_published_constants_reproduce_the_published_errors(size):
    schedules = authors_schedules()
    theta = single_size_theta(*PUBLISHED[size])
    means, worsts = [], []
    for name in TEST_SET:
        table = pd.read_csv(MULTIPOWER_RAW / f"loss_curve_repo/csv_{size}/{name}.csv")
        schedule = schedules[name]
        table = table[table["step"] < schedule.total]  # the authors' loader drops step=total
        with jax.enable_x64(True):
            pred = law_loss(theta, bss.checkpoint_features(schedule, table["step"].to_numpy()))
        error = np.abs(pred - table["loss"].to_numpy()) / table["loss"].to_numpy()
        means.append(error.mean())
        worsts.append(error.max())
    mean, worst = PUBLISHED_ERRORS[size]
    # published to three significant digits (±5e-6); the knots move the loss by < 1.3e-5
    # relative, so each error by as much: 2e-5 covers both
    assert np.mean(means) == pytest.approx(mean, abs=2e-5)
    assert np.mean(worsts) == pytest.approx(worst, abs=2e-5)


def sweep_rows(schedules, tokens_per_step=2**19, n_params=1e8, every=2000):
    """A sweep table of runs with a 'schedule' column, loss from THETA."""
    rows = []
    for run, schedule in schedules.items():
        steps = np.arange(every, schedule.total + 1, every)
        features = bss.checkpoint_features(schedule, steps)
        loss = law_loss(THETA, features, math.log(n_params))
        for step, value in zip(steps, loss, strict=True):
            rows.append(
                {
                    "run": run,
                    "n_params": n_params,
                    "n_tokens": step * tokens_per_step,
                    "loss": value,
                    "step": step,
                    "schedule": json.dumps(schedule.to_dict()),
                    "lr": schedule.lr([step])[0],
                }
            )
    return pd.DataFrame(rows)


def test_inputs_from_schedule_column_are_each_runs_features():
    schedules = {"a": bss.cosine(8000, 3e-4, 3e-5, 500), "b": bss.constant(6000, 3e-4, 500)}
    frame = sweep_rows(schedules).sample(frac=1, random_state=0).sort_values(["run", "step"])
    frame = frame.set_index(np.arange(len(frame))[::-1])
    inputs = multipower_inputs(frame)
    for run, schedule in schedules.items():
        where = np.flatnonzero(frame["run"].to_numpy() == run)
        direct = bss.checkpoint_features(schedule, frame["step"].to_numpy()[where])
        width = direct["knot_lr"].shape[1]
        rows = inputs["row"][where]
        assert np.array_equal(inputs["lr_sum"][where], direct["lr_sum"])
        assert np.array_equal(inputs["knot_drop"][rows, :width], direct["knot_drop"])
        assert np.array_equal(inputs["knot_log_area"][rows, :width], np.log(direct["knot_area"]))
        assert np.all(inputs["knot_drop"][rows, width:] == 0)


def test_a_schedule_column_in_one_line_text_reads_as_its_json():
    schedules = {"a": bss.cosine(8000, 3e-4, 3e-5, 500), "b": bss.wsd(6000, 3e-4, 3e-5, 5000)}
    frame = sweep_rows(schedules)
    text = {"a": "cosine:total=8000,peak=3e-4,final=3e-5,warmup=500"}
    text["b"] = "wsd:total=6000,peak=3e-4,final=3e-5,decay_start=5000"
    written = frame.assign(schedule=frame["run"].map(text))
    expected, got = multipower_inputs(frame), multipower_inputs(written)
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert np.array_equal(got[name], value), name


def test_an_lr_column_may_decay_to_zero_at_the_last_checkpoint():
    frame = sweep_rows({"a": bss.linear(8000, 3e-4, 0.0, 500)}).drop(columns="schedule")
    assert frame["lr"].iloc[-1] == 0
    inputs = multipower_inputs(frame)
    assert all(np.all(np.isfinite(value)) for value in inputs.values())


def test_runs_that_share_a_schedule_share_their_rows_and_the_law_gathers_them():
    schedule = bss.wsd(8000, 3e-4, 3e-5, 6000, warmup=500)
    frame = pd.concat(
        [
            sweep_rows({"small": schedule}, n_params=3e7),
            sweep_rows({"large": schedule}, n_params=3e8, every=1000),
        ],
        ignore_index=True,
    )
    inputs = multipower_inputs(frame)
    # 2000, 4000, 6000, 8000 twice and 1000 ... 8000: eight distinct steps
    assert len(inputs["knot_drop"]) == 8 and len(inputs["row"]) == len(frame)
    log_n = np.log(frame["n_params"].to_numpy())
    with jax.enable_x64(True):
        shared = multipower_point_log_loss(THETA, log_n, None, **inputs)
        # C, β and γ per point (a pooled fit's per-group values): the per-point path
        per_point = {**THETA, **{p: np.full(len(frame), THETA[p]) for p in ("c", "beta", "gamma")}}
        separate = multipower_point_log_loss(per_point, log_n, None, **inputs)
    # sweep_rows evaluates each run on its own in float32
    assert np.allclose(np.exp(shared), frame["loss"], rtol=1e-6, atol=0)
    assert np.allclose(separate, shared, rtol=1e-13, atol=0)


def test_lr_column_interpolates_between_checkpoints():
    frame = sweep_rows({"a": bss.linear(8000, 3e-4, 3e-5)}, every=500).drop(columns="schedule")
    inputs = multipower_inputs(frame)
    exact = bss.checkpoint_features(bss.linear(8000, 3e-4, 3e-5), frame["step"].to_numpy())
    # a linear schedule is linear between checkpoints, so the sums differ only by the first
    # 500 steps (ramped from 0 at step 0): one offset for every checkpoint, float64 rounding
    offset = exact["lr_sum"] - inputs["lr_sum"]
    assert 0 < offset[0] < 500 * 3e-4
    assert np.ptp(offset) < 1e-12


def test_an_lr_column_of_constant_stages_reads_as_their_steps():
    # a two-stage run logged every 500 steps, its drop at a logged step: read as linear
    # between the logged steps, the drop would start 500 steps early
    two = bss.piecewise([4000, 8000], [3e-4, 9e-5])
    frame = sweep_rows({"a": two}, every=500).drop(columns="schedule")
    (schedule, *_), *_ = run_schedules(frame).values()
    assert np.array_equal(schedule.lr()[500:], two.lr()[500:])
    # a linear decay from a constant stage stays linear: its first decaying interval has a
    # decaying one after it
    wsd = bss.wsd(8000, 3e-4, 3e-5, decay_start=6000, decay="linear")
    # linear between logged steps is exact here, up to float64 rounding of np.interp (1e-12)
    frame = sweep_rows({"a": wsd}, every=500).drop(columns="schedule")
    (schedule, *_), *_ = run_schedules(frame).values()
    assert np.allclose(schedule.lr()[500:], wsd.lr()[500:], rtol=1e-12, atol=0)


def test_a_fit_reads_a_runs_rates_at_its_excluded_checkpoints_too():
    # checkpoints before 10% of a run are not fitted, but their logged rates still say how
    # the run got to its first fitted one: without them the warmup would seem to ramp from
    # 0 at step 0 to step 1000 instead of 250
    schedule = bss.cosine(8000, 3e-4, 3e-5, warmup=250)
    frame = pd.concat(
        [sweep_rows({f"{n:g}": schedule}, n_params=n, every=250) for n in (3e7, 3e8)],
        ignore_index=True,
    ).drop(columns="schedule")
    with pytest.warns(SweepWarning, match="before 10% of their run's tokens"):
        inputs = model_inputs(Sweep.from_frame(frame), "multipower")
    fitted = frame["step"].to_numpy() >= 800
    every_row = multipower_inputs(frame)["lr_sum"]
    assert np.array_equal(inputs.args["inputs"]["lr_sum"], every_row[fitted])


def test_a_branch_logged_from_its_branch_point_takes_its_trunk_s_rates_before_it():
    constant = bss.constant(8000, 3e-4, warmup=500)
    cooldown = bss.wsd(8000, 3e-4, 3e-5, decay_start=6000, warmup=500, decay="linear")
    trunk = sweep_rows({"constant": constant}, every=250)
    branch = sweep_rows({"cooldown": cooldown}, every=250)
    branch = branch[branch["step"] > 6000]  # logged from the branch on, as a resumed run
    frame = pd.concat([trunk, branch], ignore_index=True).drop(columns="schedule")
    frame["trunk"] = "constant"
    schedules = {run: schedule for run, (schedule, *_) in run_schedules(frame).items()}
    assert np.array_equal(schedules["cooldown"].lr()[:6001], schedules["constant"].lr()[:6001])
    # after the warmup (which the logged rates give at steps 250 and 500 only) and across
    # the branch point, the branch's own declared schedule (linear pieces: exact up to
    # float64 rounding of np.interp, 1e-12)
    assert np.allclose(schedules["cooldown"].lr()[500:], cooldown.lr()[500:], rtol=1e-12, atol=0)
    alone = run_schedules(frame[frame["run"] == "cooldown"])["cooldown"][0]
    assert not np.allclose(alone.lr()[:6000], cooldown.lr()[:6000])


def bad(frame, column, rows, value):
    frame = frame.copy()
    frame.loc[rows, column] = value
    return frame


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["schedule", "lr"]), "no column 'schedule' or 'lr'"),
        (lambda f: f.drop(columns=["step"]), "no column 'step'"),
        (lambda f: bad(f, "step", [2], 2000), "column 'step' goes backwards .* rows 2"),
        (lambda f: bad(f, "n_tokens", [1], 1.0), "column 'n_tokens' is not a constant"),
        (
            lambda f: bad(f, "schedule", [3], json.dumps(bss.cosine(6000, 3e-4, 3e-5).to_dict())),
            "one schedule per run",
        ),
        (
            lambda f: bad(
                f, "schedule", [0, 1, 2, 3], json.dumps(bss.constant(6000, 3e-4).to_dict())
            ),
            "ends at step 6000, before its checkpoint at step 8000",
        ),
        (
            lambda f: bad(f.drop(columns="schedule"), "lr", [1], 0.0),
            "column 'lr' must hold positive",
        ),
        (lambda f: bad(f, "schedule", [0, 1, 2, 3], '{"kind": "cosine"}'), "column 'schedule'"),
    ],
)
def test_inputs_reject_bad_rows_naming_the_column(change, message):
    frame = sweep_rows({"a": bss.cosine(8000, 3e-4, 3e-5, 500)})
    with pytest.raises(SweepValidationError, match=message):
        multipower_inputs(change(frame))


def test_settings_pick_the_most_common_family_and_configure_the_law():
    frame = sweep_rows(
        {
            "c1": bss.cosine(8000, 3e-4, 3e-5, 500),
            "c2": bss.cosine(12000, 3e-4, 3e-5, 500),
            "k": bss.constant(6000, 3e-4, 500),
            **{f"p{i}": bss.piecewise([3000, 6000], [3e-4, 3e-5], 500) for i in range(3)},
        },
        tokens_per_step=2**20,
    )
    settings = multipower_settings(frame)
    assert settings == {
        "schedule": bss.cosine(12000, 3e-4, 3e-5, 500).to_dict(),
        "tokens_per_step": 2.0**20,
    }
    law = MULTIPOWER.configured(settings)
    assert dict(law.settings) == settings
    assert law.configured(json.loads(json.dumps(settings))) is law
    assert get_law("multipower").configured(DEFAULT_SETTINGS) is get_law("multipower")


def test_finished_run_form_is_the_checkpoint_form_at_the_end_of_the_run():
    schedule = bss.wsd(20000, 3e-4, 3e-5, 16000, warmup=1000, decay="cosine")
    law = multipower_law(schedule, tokens_per_step=2**19)
    log_n = np.log(np.array([3e7, 1e8, 1e9]))
    with jax.enable_x64(True):
        finished = np.exp(law.log_loss(THETA, log_n, np.log(20000 * 2.0**19) + 0 * log_n))
        at_end = law_loss(THETA, bss.checkpoint_features(schedule, [20000] * 3, None), log_n)
    # the quadrature of run_features: <= 2.4e-8 relative (tests/test_schedules.py)
    assert np.allclose(finished, at_end, rtol=1e-6, atol=0)


def test_finished_run_form_in_float32_matches_float64_with_finite_gradients():
    law = MULTIPOWER
    log_n = np.log(np.array([1e7, 1e8, 1e10, 1e12]))
    log_d = np.log(np.array([1e9, 1e10, 1e12, 1e14]))
    with jax.enable_x64(True):
        want = np.asarray(law.log_loss(THETA, log_n, log_d))
    theta32 = {k: jnp.float32(v) for k, v in THETA.items()}
    got = np.asarray(law.log_loss(theta32, jnp.float32(log_n), jnp.float32(log_d)))
    assert got.dtype == np.float32
    # float32 resolution 6e-8 relative, over ~100 knots and a cancellation of the decay
    # term (~0.1 nats) against L0 (~2-3 nats): 1e-5 in log L
    assert np.allclose(got, want, rtol=0, atol=1e-5)
    grad = jax.grad(lambda th: law.log_loss(th, jnp.float32(log_n), jnp.float32(log_d)).sum())(
        theta32
    )
    assert all(np.isfinite(v) for v in grad.values())
