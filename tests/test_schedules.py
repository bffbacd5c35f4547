"""Learning-rate schedules: the authors' arrays, conversions, validation and the sums the
multi-power law reads (exact, knots, finished runs)."""

import importlib.util
import json
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bayescale import schedules as bss
from bayescale.errors import InputError

RAW = Path(os.environ.get("BAYESCALE_RAW", Path(__file__).resolve().parents[2] / "shared/data/raw"))
MULTIPOWER_RAW = RAW / "multipower_schedules"

# The authors' fitted constants (L0, A, α, B, C, β, γ) per model size, src/config.py.
PUBLISHED = {
    "25": (3.04045406, 0.52468604, 0.50786857, 363.78751622, 2.06560812, 0.58279013, 0.64142257),
    "100": (2.6514477, 0.60115152, 0.45295811, 437.9464276, 2.13245612, 0.59785199, 0.65523644),
    "400": (2.37474466, 0.65421216, 0.42878731, 523.42464371, 2.02462735, 0.59350493, 0.63472457),
}


def authors_schedules():
    """The nine schedules of the authors' runs, built with this module."""
    return {
        "cosine_24000": bss.cosine(24000, 3e-4, 3e-5, warmup=2160),
        "cosine_72000": bss.cosine(72000, 3e-4, 3e-5, warmup=2160),
        "constant_24000": bss.constant(24000, 3e-4, warmup=2160),
        "constant_72000": bss.constant(72000, 3e-4, warmup=2160),
        "wsd_20000_24000": bss.wsd(24000, 3e-4, 3e-5, 20000, 2160, decay="exponential"),
        "wsdld_20000_24000": bss.wsd(24000, 3e-4, 3e-5, 20000, 2160, decay="linear"),
        # the authors compute the second stage's rate as int * 1e-5
        **{
            f"wsdcon_{n}": bss.piecewise([8000, 16000], [3e-4, n * 1e-5], warmup=2160)
            for n in (3, 9, 18)
        },
    }


def exact_loss(params, lr, t):
    """The multi-power law at a checkpoint logged at step ``t``, step by step as in the
    authors' evaluation code (NumPy, float64); a drop with no training after it (a decay to
    0, ``S_k(t) = 0``) counts 0, as the module docstring says."""
    l0, a, alpha, b, c, beta, gamma = params
    cum = np.cumsum(lr)
    k = np.arange(1, t + 1)
    area = cum[t] - cum[k - 1]
    trained = area > 0
    g = np.zeros(k.size)
    g[trained] = 1 - (1 + c * lr[k[trained]] ** (-gamma) * area[trained]) ** (-beta)
    return l0 + a * cum[t] ** (-alpha) - b * np.sum((lr[k - 1] - lr[k]) * g)


def knot_loss(params, features):
    """The same law from knots (NumPy, float64)."""
    l0, a, alpha, b, c, beta, gamma = params
    g = 1 - (1 + c * features["knot_lr"] ** (-gamma) * features["knot_area"]) ** (-beta)
    decay = np.sum(features["knot_drop"] * g, axis=-1)
    return l0 + a * features["lr_sum"] ** (-alpha) - b * decay


@pytest.mark.skipif(not MULTIPOWER_RAW.is_dir(), reason=f"raw files not found at {RAW}")
@pytest.mark.parametrize("name", sorted(authors_schedules()))
def test_constructors_reproduce_the_authors_arrays_exactly(name):
    spec = importlib.util.spec_from_file_location("lrs", MULTIPOWER_RAW / "src/lr_schedules.py")
    lrs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lrs)
    kind, *rest = name.split("_")
    if kind == "cosine":
        theirs = lrs.cosine_lrs(2160, int(rest[0]), 3e-4, 3e-5, False)
    elif kind == "constant":
        theirs = lrs.const_lrs(2160, int(rest[0]), 3e-4, False)
    elif kind == "wsdcon":
        theirs = lrs.two_stage_lrs(2160, 16000, 3e-4, int(rest[0]) * 1e-5, 8000, False)
    else:
        maker = lrs.wsd_lrs if kind == "wsd" else lrs.wsdld_lrs
        theirs = maker(2160, 24000, 20000, 3e-4, 3e-5, False)
    schedule = authors_schedules()[name]
    assert np.array_equal(schedule.lr(np.arange(schedule.total)), theirs)


def test_end_value_and_indexing():
    schedule = bss.cosine(10, 1.0, 0.1, warmup=3)
    lr = schedule.lr()
    assert lr.shape == (11,)
    assert lr[:3].tolist() == [0.0, 0.5, 1.0]  # np.linspace(0, peak, warmup)
    assert lr[3] == 1.0 and lr[10] == pytest.approx(0.1, abs=1e-15)
    assert schedule.lr([10, 3]).tolist() == [lr[10], lr[3]]


@pytest.mark.parametrize(
    "schedule",
    [
        bss.constant(100, 3e-4, warmup=10),
        bss.cosine(100, 3e-4, 3e-5, warmup=10),
        bss.linear(100, 3e-4, 3e-5),
        bss.wsd(100, 3e-4, 3e-5, 80, warmup=10, decay="cosine"),
        bss.piecewise([40, 70, 100], [3e-4, 1e-4, 3e-5], warmup=10),
        bss.from_array(np.linspace(1e-4, 1e-5, 50)),
    ],
    ids=lambda s: s.kind,
)
def test_to_dict_round_trips_through_json(schedule):
    text = json.dumps(schedule.to_dict())
    back = bss.Schedule.from_dict(json.loads(text))
    assert back == schedule
    assert bss.Schedule.from_dict(text) == schedule
    assert np.array_equal(back.lr(), schedule.lr())


def test_stretched_keeps_warmup_steps_and_phase_fractions():
    long = bss.wsd(24000, 3e-4, 3e-5, 20000, 2160).stretched(72000)
    assert (long.total, long.warmup, long.decay_start) == (72000, 2160, 60000)
    assert bss.cosine(24000, 3e-4, 3e-5, 2160).stretched(48000) == bss.cosine(
        48000, 3e-4, 3e-5, 2160
    )
    stages = bss.piecewise([8000, 16000], [3e-4, 3e-5], 2160).stretched(32000)
    assert stages.boundaries == (16000, 32000)
    with pytest.raises(InputError, match="no family"):
        bss.from_array([1e-4, 1e-4]).stretched(10)
    with pytest.raises(InputError, match="warmup"):
        bss.constant(24000, 3e-4, 2160).stretched(2000)


def test_a_short_stretch_keeps_every_phase():
    # a 1-step decay of 1,000 steps is 0.01 steps of 10: rounded up to the one step it needs
    assert bss.wsd(1000, 3e-4, 3e-5, decay_start=999).stretched(10).decay_start == 9
    # stages at 0.5 and 1 steps of 10 move after the warmup, one step each
    stages = bss.piecewise([100, 200, 1000], [1e-3, 5e-4, 1e-4], warmup=5)
    assert stages.stretched(10).boundaries == (6, 7, 10)
    # where the phases have room, they keep their fractions of the run
    assert stages.stretched(100).boundaries == (10, 20, 100)
    # a wsd without a stable phase keeps none
    assert bss.wsd(100, 3e-4, 3e-5, decay_start=10, warmup=10).stretched(20).decay_start == 10


@pytest.mark.parametrize(
    ("schedule", "total", "shortest"),
    [
        (bss.piecewise([100, 200, 1000], [1e-3, 5e-4, 1e-4], warmup=5), 7, 8),
        (bss.wsd(1000, 3e-4, 3e-5, decay_start=999, warmup=5), 6, 7),
        (bss.wsd(1000, 3e-4, 3e-5, decay_start=5, warmup=5), 5, 6),
        (bss.cosine(1000, 3e-4, 3e-5, warmup=5), 5, 6),
    ],
    ids=lambda v: getattr(v, "kind", v),
)
def test_a_stretch_too_short_for_the_shape_names_the_shortest(schedule, total, shortest):
    with pytest.raises(InputError, match=rf"to total={total} steps.*shortest stretch is "):
        schedule.stretched(total)
    with pytest.raises(InputError, match=rf"total={shortest};"):
        schedule.stretched(total)
    assert schedule.stretched(shortest).total == shortest


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: bss.constant(100, 0.0), "peak must be a positive"),
        (lambda: bss.cosine(100, 3e-4, -1e-5), "final must be a finite learning rate >= 0"),
        (
            lambda: bss.wsd(100, 3e-4, 0.0, 50, decay="exponential"),
            "exponential decay never reaches 0",
        ),
        (lambda: bss.constant(100, 3e-4, warmup=100), "warmup .* shorter than the run"),
        (lambda: bss.wsd(100, 3e-4, 3e-5, decay_start=100), "decay_start=100 lies outside"),
        (lambda: bss.wsd(100, 3e-4, 3e-5, 50, warmup=60), "decay_start=50 lies outside"),
        (lambda: bss.wsd(100, 3e-4, 3e-5, 50, decay="step"), "decay must be one of"),
        (lambda: bss.piecewise([50, 40], [1e-4, 1e-5]), "increase strictly"),
        (lambda: bss.piecewise([50, 100], [1e-4]), "one value per stage"),
        (lambda: bss.from_array([1e-4, 0.0, 1e-4]), r"non-positive learning rates at steps \[1\]"),
        # a decay to 0 may end the run (step 4), a gap may not (step 2)
        (
            lambda: bss.from_array([0.0, 1e-4, 0.0, 1e-4, 0.0]),
            r"non-positive learning rates at steps \[2\]",
        ),
        (lambda: bss.constant(100.5, 3e-4), "total must be a whole number"),
        (lambda: bss.piecewise([100.0, 200.0], [1e-4, 1e-5]), "boundaries must be a whole"),
        (lambda: bss.cosine(100, 1e-4, 1e-3), "final=0.001 exceeds peak=0.0001"),
        (lambda: bss.linear(100, 1e-4, 1e-3), "final=0.001 exceeds peak"),
        (lambda: bss.wsd(100, 1e-4, 1e-3, 50), "final=0.001 exceeds peak"),
        (
            lambda: bss.from_array([0, 1e-3, np.nan, 1e-4, np.inf]),
            r"lr holds non-finite learning rates .* at steps \[2, 4\]",
        ),
        (
            lambda: bss.from_logged([0, 10, 20], [1e-3, np.nan, 1e-4]),
            r"non-finite learning rates .* at logged steps \[10\] \(positions \[1\]\)",
        ),
        (lambda: bss.from_array(["a", "b"]), "lr must be an array of numbers"),
        (lambda: bss.from_logged(["a"], [1e-3]), "steps must be an array of numbers"),
        (lambda: bss.Schedule.from_dict({"kind": ["cosine"]}), r"needs 'kind'.*\['cosine'\]"),
        (lambda: bss.Schedule.from_dict({"kind": "step"}), "needs 'kind'"),
        (
            lambda: bss.Schedule.from_dict({"kind": "cosine", "total": 10}),
            r"does not fit cosine.*cosine takes total, peak, final \(and optionally warmup\)",
        ),
        (lambda: bss.constant(10, 1e-4).lr([11]), r"steps must lie in 0 \.\.\. total \(10\)"),
        (lambda: bss.checkpoint_features(bss.constant(10, 1e-4), [0, 5]), "1 ... total"),
    ],
)
def test_invalid_schedules_name_the_argument(make, message):
    with pytest.raises(InputError, match=message):
        make()


def test_from_logged_interpolates_linearly_from_zero():
    schedule = bss.from_logged([4, 8, 12], [1e-3, 1e-3, 5e-4])
    lr = schedule.lr()
    assert schedule.total == 12
    assert np.allclose(lr[:5], [0, 2.5e-4, 5e-4, 7.5e-4, 1e-3], rtol=0, atol=1e-18)
    assert np.allclose(lr[8:], [1e-3, 8.75e-4, 7.5e-4, 6.25e-4, 5e-4], rtol=0, atol=1e-18)
    held = bss.from_logged([4, 8], [1e-3, 5e-4], start=None).lr()
    assert np.all(held[:5] == 1e-3)


def test_one_step_blocks_are_the_exact_sum():
    schedule = bss.wsd(300, 3e-4, 3e-5, 200, warmup=20, decay="exponential")
    steps = np.array([1, 19, 20, 150, 201, 250, 300])
    features = bss.checkpoint_features(schedule, steps, knots=None)
    exact = [exact_loss(PUBLISHED["100"], schedule.lr(), t) for t in steps]
    # float64 sums of a few hundred terms of size <= 0.1: rounding ~1e-15
    assert np.allclose(knot_loss(PUBLISHED["100"], features), exact, rtol=1e-13, atol=0)


@pytest.mark.parametrize("name", ["cosine_72000", "wsd_20000_24000", "wsdld_20000_24000"])
def test_default_knots_match_the_exact_sum_on_real_schedules(name):
    schedule = authors_schedules()[name]
    steps = np.unique(np.r_[np.linspace(2160, schedule.total, 25), schedule.total - 1])
    steps = np.r_[steps.astype(int), np.arange(20000, 20400, 37)]
    features = bss.checkpoint_features(schedule, steps)
    for params in PUBLISHED.values():
        exact = np.array([exact_loss(params, schedule.lr(), t) for t in steps])
        # the module docstring measures <= 4.0e-5 at K = 32 over dense checkpoints of the
        # authors' schedules; 5e-5 is 12 times below the curves' noise (σ ≈ 6e-4)
        assert np.max(np.abs(knot_loss(params, features) / exact - 1)) < 5e-5


def test_knots_leave_out_blocks_without_a_drop():
    schedule = bss.constant(24000, 3e-4, warmup=2160)
    features = bss.checkpoint_features(schedule, np.array([2000, 12000, 24000]), knots=32)
    live = features["knot_drop"] != 0
    # the warmup's rise is the only drop: each checkpoint past it keeps the knots of the
    # warmup (K/2 equal shares of the rise, plus the lags that fall in it), all live
    assert live.sum(axis=1).max() == features["knot_drop"].shape[1] <= 32
    assert np.all(live[:, 0]) and np.all(features["knot_drop"][live] < 0)
    exact = [exact_loss(PUBLISHED["25"], schedule.lr(), t) for t in (2000, 12000, 24000)]
    assert np.allclose(knot_loss(PUBLISHED["25"], features), exact, rtol=5e-5, atol=0)


DECAYS_TO_ZERO = [
    bss.cosine(24000, 3e-4, 0.0, warmup=2160),
    bss.linear(24000, 3e-4, 0.0, warmup=2160),
    bss.wsd(24000, 3e-4, 0.0, 19200, warmup=2160),
    bss.wsd(24000, 3e-4, 0.0, 19200, warmup=2160, decay="cosine"),
]


@pytest.mark.parametrize("schedule", DECAYS_TO_ZERO, ids=lambda s: f"{s.kind}-{s.decay}")
def test_a_decay_to_zero_ends_where_its_last_trained_step_left_the_loss(schedule):
    steps = np.array([5000, 19200, 22000, 23999, 24000])
    exact = np.array([exact_loss(PUBLISHED["100"], schedule.lr(), t) for t in steps])
    # step 24,000 is at rate 0: it trains nothing, so the loss is step 23,999's
    assert schedule.lr([24000])[0] == 0 and exact[-1] == exact[-2]
    one_step = bss.checkpoint_features(schedule, steps, knots=None)
    # float64 sums of 24,000 terms of size <= 0.1: rounding ~1e-14
    assert np.allclose(knot_loss(PUBLISHED["100"], one_step), exact, rtol=1e-12, atol=0)
    knots = bss.checkpoint_features(schedule, steps)
    # the module docstring's criterion for K = 32: a tenth of the curves' noise (6e-4)
    assert np.max(np.abs(knot_loss(PUBLISHED["100"], knots) / exact - 1)) < 6e-5


@pytest.mark.parametrize(
    "schedule", DECAYS_TO_ZERO[:1] + DECAYS_TO_ZERO[3:], ids=lambda s: f"{s.kind}-{s.decay}"
)
def test_a_cosine_decay_to_zero_keeps_finite_gradients_in_float32(schedule):
    # near the end of a cosine decay to 0, 1 − cos and x − sin x cancel in float32; the law
    # takes the logs of the knots' rates and areas, whose gradients must stay finite
    def logs(log_steps):
        features = bss.run_features(schedule, log_steps)
        return jnp.sum(jnp.log(features["knot_lr"]) + jnp.log(features["knot_area"]))

    # runs of 1e3 to 1e9 steps: from a short ladder rung to far past any real run
    log_steps = jnp.log(jnp.geomspace(1e3, 1e9, 200, dtype=jnp.float32))
    assert np.all(np.isfinite(np.asarray(jax.vmap(jax.grad(logs))(log_steps))))


@pytest.mark.parametrize(
    "schedule",
    [
        *authors_schedules().values(),
        bss.wsd(30000, 1e-3, 1e-5, 24000, warmup=500, decay="cosine"),
        bss.linear(5000, 6e-4, 6e-5, warmup=1),
        bss.cosine(5000, 6e-4, 6e-5),
        *DECAYS_TO_ZERO,
    ],
    ids=lambda s: f"{s.kind}-{s.total}",
)
def test_finished_run_features_match_the_exact_sum_at_the_end(schedule):
    with jax.enable_x64(True):
        features = bss.run_features(schedule, np.log(float(schedule.total)))
        features = {k: np.asarray(v) for k, v in features.items()}
    for params in PUBLISHED.values():
        exact = exact_loss(params, schedule.lr(), schedule.total)
        # Gauss-Legendre on smooth pieces and the midpoint rule for the step sums: measured
        # <= 2.4e-8 relative on these schedules; 1e-6 is 1000 times below the data's noise
        assert abs(knot_loss(params, features) / exact - 1) < 1e-6


def test_finished_run_features_are_differentiable_and_vectorised():
    schedule = bss.wsd(24000, 3e-4, 3e-5, 20000, 2160)

    def lr_sum(log_steps):
        return bss.run_features(schedule, log_steps)["lr_sum"]

    log_steps = np.log(np.array([[5000.0, 24000.0], [1e5, 1e6]]))
    assert lr_sum(log_steps).shape == (2, 2)
    grad = jax.grad(lambda x: lr_sum(x).sum())(log_steps)
    # a longer run of the family sums more learning rate
    assert np.all(np.isfinite(grad)) and np.all(grad > 0)


def test_describe_names_the_family_rates_steps_and_warmup():
    assert bss.cosine(24000, 3e-4, 3e-5, warmup=2160).describe() == (
        "cosine 0.0003 → 3e-05 over 24,000 steps (2,160 warmup)"
    )
    assert bss.constant(100, 1e-3).describe() == "constant 0.001 over 100 steps"
    wsd = bss.wsd(1000, 1e-3, 1e-4, decay_start=800, warmup=10).describe()
    assert "wsd 0.001 → 0.0001" in wsd and "decay from step 800" in wsd
