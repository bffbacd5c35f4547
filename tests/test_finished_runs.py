"""Planning for finished runs of a stated schedule, and comparing schedules for one run,
from Python and the command line (a law that reads schedules: issue 23, item 3)."""

from __future__ import annotations

import dataclasses
import json

import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest

import bayescale as bs
from bayescale import schedules as bss
from bayescale.cli import main
from bayescale.comparisons import compare_schedules
from bayescale.errors import ExtrapolationWarning, InputError
from bayescale.fitinfo import CurveInfo
from bayescale.sweep_schedules import fitted_rates, warn_if_rates_outside

from conftest import point_mass
from test_curves import multipower_point_mass
from test_multipower import sweep_rows

matplotlib.use("Agg")

TOKENS = 2.0**19
COSINE = bss.cosine(20000, 3e-4, 3e-5, warmup=1000)
WSD = bss.wsd(20000, 3e-4, 3e-5, decay_start=16000, warmup=1000)
CONSTANT = bss.constant(20000, 3e-4, warmup=1000)
SPEC = {  # the same schedules written as the command line takes them
    "cosine": "cosine:total=20000,peak=3e-4,final=3e-5,warmup=1000",
    "wsd": "wsd:total=20000,peak=3e-4,final=3e-5,decay_start=16000,warmup=1000",
    "constant": "constant:total=20000,peak=3e-4,warmup=1000",
}


@pytest.fixture(scope="module")
def post():
    return multipower_point_mass({"a": 0.0})


@pytest.mark.parametrize(
    "text, schedule",
    [
        (SPEC["cosine"], COSINE),
        (SPEC["wsd"], WSD),
        ("constant:total=20000,peak=3e-4,warmup=1000", CONSTANT),
        ("linear: total=100, peak=1e-3, final=1e-4", bss.linear(100, 1e-3, 1e-4)),
        (
            "wsd:total=100,peak=1e-3,final=1e-4,decay_start=80,decay=cosine",
            bss.wsd(100, 1e-3, 1e-4, 80, decay="cosine"),
        ),
        (
            "piecewise:boundaries=40/100,values=1e-3/1e-4,warmup=5",
            bss.piecewise([40, 100], [1e-3, 1e-4], warmup=5),
        ),
        ("array:lr=0/1e-3/5e-4", bss.from_array([0, 1e-3, 5e-4])),
        (json.dumps(COSINE.to_dict()), COSINE),
    ],
)
def test_a_schedule_reads_from_one_line(text, schedule):
    assert bss.Schedule.from_text(text) == schedule


@pytest.mark.parametrize(
    "text, message",
    [
        ("cosin:total=10,peak=1e-3,final=1e-4", "does not start with a family"),
        ("total=10", "does not start with a family"),
        ("cosine:total=10,peak", "'peak' is not name=value"),
        ("cosine:total=10,peak=1e-3", "does not fit cosine"),
        ("cosine:total=1e4,peak=1e-3,final=1e-4", "total must be a whole number"),
        ("cosine:total=10,peak=1e-3,final=1e-4,decay=linear", "does not fit cosine"),
    ],
)
def test_a_schedule_line_that_does_not_read_names_the_problem(text, message):
    with pytest.raises(InputError, match=message):
        bss.Schedule.from_text(text)


def test_finished_runs_of_a_stated_schedule_are_its_curve_at_the_end(post):
    """A finished run of N parameters on D tokens under a schedule of D / tokens-per-step
    steps is that schedule's curve at its last step (no stretching needed)."""
    d = WSD.total * TOKENS
    finished = post.with_finished_run(WSD, TOKENS).predict_loss(1e8, d)["loss_mean"]
    curve = post.predict_curve(1e8, WSD, TOKENS, steps=[WSD.total])["loss_mean"]
    # the finished-run form integrates the schedule (bayescale.schedules.run_features,
    # <= 2.4e-8 relative); the curve's decay sum is compressed to 32 knots, whose loss is
    # within 4.0e-5 (relative) of the exact sum, the worst at the end of a WSD decay
    # (bayescale.schedules, "Knots"): the two agree within 5e-5
    np.testing.assert_allclose(finished.values.ravel(), curve.values.ravel(), rtol=5e-5)
    # a schedule of another family answers differently: the sweep's default is a cosine,
    # whose finished run ends 2% higher here; 1e-4 is twice the agreement above, so any
    # change of schedule the comparison could not see would still fail
    default = post.predict_loss(1e8, d)["loss_mean"].values
    assert not np.allclose(default, finished.values, rtol=1e-4)


def test_with_finished_run_keeps_what_it_is_not_given_and_survives_a_file(post, tmp_path):
    wsd = post.with_finished_run(SPEC["wsd"])
    assert wsd.law.settings["schedule"] == WSD.to_dict()
    assert wsd.law.settings["tokens_per_step"] == post.law.settings["tokens_per_step"]
    longer = wsd.with_finished_run(tokens_per_step=2 * TOKENS)
    assert longer.law.settings["schedule"] == WSD.to_dict()
    assert longer.law.settings["tokens_per_step"] == 2 * TOKENS
    assert post.law.settings["schedule"] != WSD.to_dict()  # the original is unchanged
    back = bs.load_posterior(wsd.save(tmp_path / "wsd.nc"))
    assert dict(back.law.settings) == dict(wsd.law.settings)
    assert back.info.law_settings == dict(wsd.law.settings)


def test_a_float32_answer_after_a_float64_plan(post):
    # planning switches precision per posterior (jax.enable_x64): a float64 plan jits the
    # law's sums, and a float32 answer after it once failed on a float64 copy of a constant
    post.optimal(1e20)  # any budget: the plan only has to run in float64
    theta = {k: jnp.float32(v.item()) for k, v in post.theta().items()}
    log_loss = post.law.log_loss(theta, jnp.float32(np.log(1e8)), jnp.float32(np.log(1e10)))
    assert log_loss.dtype == jnp.float32 and np.isfinite(log_loss)


def test_a_stack_answers_for_the_stated_schedule_in_every_component(post):
    stack = bs.Stack({"one": post, "two": post}, {"one": 0.5, "two": 0.5})
    wsd = stack.with_finished_run(WSD)
    assert all(c.law.settings["schedule"] == WSD.to_dict() for c in wsd.components.values())
    assert dict(wsd.weights) == dict(stack.weights)
    chinchilla = point_mass("chinchilla", {"e": 0.5, "a": 6, "b": 7, "alpha": 0.3, "beta": 0.3})
    mixed = bs.Stack(
        {"multipower": post, "chinchilla": chinchilla}, {"multipower": 0.5, "chinchilla": 0.5}
    )
    with pytest.raises(InputError, match="'chinchilla' reads no learning-rate schedule"):
        mixed.with_finished_run(WSD)


def test_a_fit_records_the_rates_its_runs_trained_at():
    cosine, constant = bss.cosine(8000, 3e-4, 3e-5, 500), bss.constant(6000, 1e-4, 500)
    frame = sweep_rows({"cosine": cosine, "constant": constant})
    cut = frame[~((frame["run"] == "cosine") & (frame["step"] > 6000))]
    # the cosine run's checkpoints stop at step 6,000: it reached lr(6000), not its final
    assert fitted_rates(cut) == {"peak_lr": (1e-4, 3e-4), "lowest_lr": cosine.lr([6000])[0]}


FITTED = CurveInfo(runs=3, peak_lr=(3e-4, 3e-4), lowest_lr=3e-5)


@pytest.mark.parametrize(
    "schedule, message",
    [
        (bss.cosine(20000, 3e-4, 3e-5), None),
        # inside the 2× factor: a peak 1.9× above, a floor 1.875× below (2× exactly would
        # test float rounding of the ratio, not the rule)
        (bss.cosine(20000, 5.7e-4, 1.6e-5), None),
        (bss.cosine(20000, 1e-3, 3e-5), r"peak learning rate 0.001 is 3.33× above .* \(0.0003\)"),
        (bss.constant(20000, 1e-4), r"peak learning rate 0.0001 is 3× below"),
        (bss.cosine(20000, 3e-4, 1e-6), r"decays to 1e-06, 30× below the lowest rate"),
        (bss.wsd(20000, 3e-4, 0.0, 16000), r"decays to 0, below the lowest rate .* \(3e-05\)"),
    ],
)
def test_a_schedule_outside_the_fitted_rates_warns(schedule, message):
    if message is None:
        warn_if_rates_outside(FITTED, schedule)  # warnings are errors in the tests
        return
    with pytest.warns(ExtrapolationWarning, match=message):
        warn_if_rates_outside(FITTED, schedule)
    warn_if_rates_outside(CurveInfo(runs=3), schedule)  # a file without rates: no check


def test_finished_runs_and_curves_of_a_schedule_outside_the_fitted_rates_warn(post, tmp_path):
    fitted = dataclasses.replace(post, info=dataclasses.replace(post.info, curves=FITTED))
    to_zero = bss.wsd(20000, 3e-4, 0.0, decay_start=16000, warmup=1000)
    with pytest.warns(ExtrapolationWarning, match="decays to 0"):
        fitted.with_finished_run(to_zero)
    with pytest.warns(ExtrapolationWarning, match="decays to 0"):
        fitted.predict_curve(1e8, to_zero, TOKENS)
    fitted.with_finished_run(WSD)  # the fitted rates: no warning
    back = bs.load_posterior(fitted.save(tmp_path / "rates.nc"))
    assert back.info.curves == FITTED


def test_the_command_line_says_each_warning_once(tmp_path, capsys):
    # the figure asks about WSD to 0 twice (its final loss, its curve): one warning printed
    flags = ["--dataset", "multipower_schedules", "--n-params", "4e8"]
    flags += ["--schedule-a", "cosine:total=24000,peak=3e-4,final=3e-5,warmup=2160"]
    flags += ["--schedule-b", "wsd:total=24000,peak=3e-4,final=0,decay_start=19200,warmup=2160"]
    assert main(["plot", "schedules", "-o", str(tmp_path / "s.png"), *flags]) == 0
    err = capsys.readouterr().err
    assert err.count("ExtrapolationWarning") == 1 and "decays to 0" in err


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda post: point_mass(
                "chinchilla", {"e": 0.5, "a": 6, "b": 7, "alpha": 0.3, "beta": 0.3}
            ),
            "reads no learning-rate schedule",
        ),
        (lambda post: post.with_finished_run(bss.from_array([1e-3, 1e-4])), "not an array"),
        (lambda post: post.with_finished_run(tokens_per_step=-1.0), "tokens_per_step must be"),
    ],
)
def test_with_finished_run_refuses_what_it_cannot_answer(post, make, message):
    with pytest.raises(InputError, match=message):
        result = make(post)
        result.with_finished_run(COSINE)


def test_compare_schedules_pairs_the_draws_and_gives_a_table(post):
    result = compare_schedules(post, 1e8, {"cosine": COSINE, "wsd": WSD, "k": CONSTANT}, TOKENS)
    table = result.interval(0.9)
    assert set(table["quantity"]) == {"loss", "difference", "law_difference"}
    loss = result.dataset["loss"]
    np.testing.assert_allclose(
        result.dataset["difference"].values, (loss - loss.sel(schedule="cosine")).values
    )
    lower = (loss < loss.sel(schedule="cosine")).mean(("chain", "draw"))
    np.testing.assert_array_equal(result.dataset["p_lower"].values, lower.values)
    # the law's part: its final losses at the end of each schedule, one draw under both
    law = {
        label: post.predict_curve(1e8, s, TOKENS, steps=[s.total])["loss_mean"].values
        for label, s in (("cosine", COSINE), ("k", CONSTANT))
    }
    np.testing.assert_allclose(
        result.dataset["law_difference"].sel(schedule="k").values.ravel(),
        (law["k"] - law["cosine"]).ravel(),
    )
    # a run that never decays its learning rate ends higher than one that does
    assert float(result.dataset["law_difference"].sel(schedule="k").squeeze()) > 0


def test_the_runs_of_two_schedules_deviate_independently():
    """One new run per schedule: with every draw at one point of the law, the difference
    of the two runs' final losses spreads as two independent new runs' deviations do,
    around the law's difference."""
    # σ = σ_run = 0.01: a new run deviates by 1.4% of its loss (sd), enough to measure
    one = multipower_point_mass({"a": 0.0}, sigma_run=0.01)
    draws = 4000  # as a default fit's 4 × 1000: the sd below to 1.1% per standard error
    groups = {
        **one.groups,
        "posterior": one.posterior.isel(draw=[0] * draws).assign_coords(draw=range(draws)),
    }
    post = dataclasses.replace(one, groups=groups)
    # compare_schedules' default seed; with the 5-standard-error bounds below, a miss at
    # any seed has probability below 1e-6, so no seed is picked
    result = compare_schedules(post, 1e8, {"cosine": COSINE, "wsd": WSD}, TOKENS).dataset
    law_a, law_b = (
        float(post.predict_curve(1e8, s, TOKENS, steps=[s.total])["loss_mean"].values.flat[0])
        for s in (COSINE, WSD)
    )
    # e^δ with δ ~ Normal(0, s²), s = hypot(σ, σ_run): variance (e^{s²} − 1) e^{s²}
    s2 = 0.01**2 + 0.01**2
    spread = np.sqrt((np.exp(s2) - 1) * np.exp(s2) * (law_a**2 + law_b**2))
    difference = result["difference"].sel(schedule="wsd").values.ravel()
    # a sample sd of 4000 Normal-like values is within 1/sqrt(2·4000) = 1.1% of the
    # truth per standard error; 5 standard errors (5.6%) bound a miss at 6e-7
    assert abs(difference.std() / spread - 1) < 0.056
    # its mean, (L_B − L_A)·e^{s²/2}, within 5 standard errors of a mean of 4000
    expected = (law_b - law_a) * np.exp(s2 / 2)
    assert abs(difference.mean() - expected) < 5 * spread / np.sqrt(draws)
    np.testing.assert_allclose(result["law_difference"].sel(schedule="wsd"), law_b - law_a)


def test_plot_schedules_draws_each_schedule_and_its_rates(post):
    schedules = {"cosine": COSINE, "wsd": WSD}
    fig, (left, right) = bs.plotting.plot_schedules(post, 1e8, schedules, TOKENS)
    assert len(left.lines) == 2
    wsd = left.lines[1]
    np.testing.assert_allclose(wsd.get_ydata(), WSD.lr(wsd.get_xdata() / TOKENS))
    assert len(right.lines) == 2
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[0].startswith("cosine: final") and "vs cosine" in labels[1]
    # a run far shorter than the other still has its curve within the axes
    short = bss.constant(200, 3e-4, warmup=10)
    fig, (_, right) = bs.plotting.plot_schedules(
        post, 1e8, {"long": COSINE, "short": short}, TOKENS
    )
    low, high = right.get_ylim()
    assert low < right.lines[1].get_ydata()[-1] < high
    # one schedule: one run, its final loss in the legend and nothing to compare with
    fig, (left, right) = bs.plotting.plot_schedules(post, 1e8, {"wsd": WSD}, TOKENS)
    assert len(left.lines) == len(right.lines) == 1
    (label,) = [t.get_text() for t in fig.legends[0].get_texts()]
    assert label.startswith("wsd: final") and "vs" not in label


@pytest.fixture(scope="module")
def post_file(post, tmp_path_factory):
    return str(post.save(tmp_path_factory.mktemp("post") / "multipower.nc"))


def test_plan_answers_for_the_stated_schedule(post_file, capsys):
    main(["plan", "--posterior", post_file, "--budget", "1e20", "--schedule", SPEC["wsd"]])
    out = capsys.readouterr().out
    assert "finished runs: wsd 0.0003 → 3e-05, linear decay from step 16,000" in out
    plan = ["plan", "--posterior", post_file, "--budget", "1e20", "--json"]
    main(plan)
    default = json.loads(capsys.readouterr().out)
    main([*plan, "--schedule", SPEC["wsd"]])
    stated = json.loads(capsys.readouterr().out)
    assert stated["law_settings"]["schedule"] == WSD.to_dict()
    assert stated["rows"] != default["rows"]


def test_compare_schedules_from_the_command_line(post_file, capsys):
    flags = ["--posterior", post_file, "--n-params", "1e8"]
    flags += ["--schedule-a", SPEC["cosine"], "--schedule-b", SPEC["wsd"]]
    main(["compare", "schedules", *flags, "--json"])
    out = json.loads(capsys.readouterr().out)
    expected = compare_schedules(bs.load_posterior(post_file), 1e8, {"A": COSINE, "B": WSD}, TOKENS)
    assert out["p_lower"] == {"A": 0.0, "B": float(expected.dataset["p_lower"].sel(schedule="B"))}
    assert out["schedules"] == {"A": COSINE.to_dict(), "B": WSD.to_dict()}
    main(["compare", "schedules", *flags, "--label-a", "cosine", "--label-b", "wsd"])
    text = capsys.readouterr().out
    assert "final loss wsd − cosine" in text and "P(wsd ends lower than cosine)" in text


def test_compare_several_schedules_from_the_command_line(post_file, capsys):
    """Each --schedule-b SPEC is compared with A, as the library compares them."""
    flags = ["--posterior", post_file, "--n-params", "1e8", "--schedule-a", SPEC["cosine"]]
    flags += ["--schedule-b", SPEC["wsd"], SPEC["constant"]]
    main(["compare", "schedules", *flags, "--json"])
    out = json.loads(capsys.readouterr().out)
    schedules = {"A": COSINE, "B": WSD, "C": CONSTANT}
    expected = compare_schedules(bs.load_posterior(post_file), 1e8, schedules, TOKENS)
    assert out["p_lower"] == dict(
        zip(schedules, expected.dataset["p_lower"].values.tolist(), strict=True)
    )
    assert out["schedules"] == {k: v.to_dict() for k, v in schedules.items()}
    main(["compare", "schedules", *flags, "--label-a", "cosine", "--label-b", "wsd", "flat"])
    text = capsys.readouterr().out
    assert "under each of 3 schedules" in text
    for other in ("wsd", "flat"):
        assert f"final loss {other} − cosine" in text
        assert f"P({other} ends lower than cosine)" in text


def test_plot_schedules_from_the_command_line(post_file, tmp_path, capsys):
    out = tmp_path / "schedules.png"
    flags = ["--n-params", "1e8", "--schedule-a", SPEC["cosine"], "--schedule-b", SPEC["wsd"]]
    main(["plot", "schedules", "-o", str(out), "--posterior", post_file, *flags])
    assert out.stat().st_size > 0
    alone = tmp_path / "one.png"
    main(["plot", "schedules", "-o", str(alone), "--posterior", post_file, *flags[:4]])
    assert alone.stat().st_size > 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["compare", "schedules", "--n-params", "1e8"], "needs --n-params"),
        (
            ["compare", "schedules", "--n-params", "1e8", "--schedule-a", SPEC["wsd"]],
            "needs --n-params, --schedule-a and --schedule-b",
        ),
        (
            ["plot", "schedules", "-o", "x.png", "--n-params", "1e8"],
            "needs --n-params and --schedule-a",
        ),
        (
            ["plot", "schedules", "-o", "x.png", "--n-params", "1e8", "--schedule-a", SPEC["wsd"]]
            + ["--label-b", "wsd"],
            "--label-b names --schedule-b's run",
        ),
        (
            ["compare", "schedules", "--n-params", "1e8", "--budget", "1e20"],
            "does not use --budget",
        ),
        (
            ["compare", "schedules", "--n-params", "1e8", "--schedule-a", SPEC["cosine"]]
            + ["--schedule-b", SPEC["wsd"], SPEC["constant"], "--label-b", "wsd"],
            "--label-b names each --schedule-b SPEC: give 2 names, got 1",
        ),
        (
            ["compare", "schedules", "--n-params", "1e8", "--schedule-a", SPEC["cosine"]]
            + ["--schedule-b", SPEC["wsd"], SPEC["constant"], "--label-b", "A", "C"],
            "repeat ['A']; give each a name of its own",
        ),
        (
            ["compare", "allocations", "--budget", "1e20", "--n-a", "1e8", "--n-b", "2e8"]
            + ["--label-b", "x", "y"],
            "compares A with one B: give one --label-b",
        ),
        (["compare", "allocations", "--budget", "1e20", "--n-a", "1e8", "--n-b", "2e8"], None),
        (["plan", "--budget", "1e20", "--schedule", SPEC["wsd"]], "reads no learning-rate"),
        (
            [
                "plan",
                "--budget",
                "1e20",
                "--posterior",
                "MULTIPOWER",
                "--schedule",
                "cosine:total=10",
            ],
            "does not fit cosine",
        ),
        (["plot", "pairs", "-o", "x.png", "--schedule", SPEC["wsd"]], "does not use --schedule"),
    ],
)
def test_schedule_flags_that_do_not_fit_the_question_are_named(argv, message, post_file, capsys):
    argv = [post_file if arg == "MULTIPOWER" else arg for arg in argv]
    if message is None:  # allocations on the shipped Chinchilla fit needs no schedule
        assert main(argv) == 0
        return
    assert main(argv) != 0
    assert message in capsys.readouterr().err.replace("\n", " ")
