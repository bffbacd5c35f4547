"""Learning-rate schedules of the bundled curve datasets: which carry a ``schedule`` column,
that each agrees with its run's logged learning-rate columns and covers its checkpoints, and
that a law reading schedules fits a bundled table; the datasets without one say why on
their card."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.errors import SweepValidationError
from bayescale.ingest import misfitting
from bayescale.schedules import Schedule
from bayescale.sweep_schedules import run_schedules

from conftest import quiet_fit

REPO = Path(__file__).resolve().parents[1]
RAW = REPO.parent / "shared" / "data" / "raw"
WITH_SCHEDULES = ("misfitting", "multipower_schedules")
WITHOUT_SCHEDULES = ("gemstones", "routing_clark2022")

needs_raw = pytest.mark.skipif(
    not (RAW / "misfitting").is_dir(),
    reason=f"raw misfitting files not found under {RAW}; they live outside the repository "
    "(shared/data/raw), so re-ingestion cannot be checked here",
)


def _trusted(name: str) -> pd.DataFrame:
    """The dataset's rows, less those its card says to exclude from fits (``suspect``)."""
    frame = bs.load_dataset(name).frame
    return frame[~frame["suspect"]] if "suspect" in frame else frame


@pytest.fixture(scope="module")
def misfit() -> pd.DataFrame:
    return _trusted("misfitting")


def test_curve_datasets_carry_a_schedule_or_their_card_says_why_not():
    for name in WITH_SCHEDULES:
        assert "schedule" in bs.dataset_card(name)["columns"], name
    for name in WITHOUT_SCHEDULES:
        card = bs.dataset_card(name)
        assert "schedule" not in card["columns"], name
        reasons = [c for c in card["caveats"] if c.startswith("No schedule column: ")]
        assert len(reasons) == 1, name


@pytest.mark.parametrize("name", WITH_SCHEDULES)
def test_each_run_has_one_schedule_that_reads_back_as_written(name):
    frame = bs.load_dataset(name).frame
    per_run = frame.groupby("run")["schedule"].unique()
    assert per_run.map(len).eq(1).all()
    for run, (text,) in per_run.items():
        rebuilt = Schedule.from_dict(text)
        assert json.dumps(rebuilt.to_dict(), sort_keys=True) == text, run


@pytest.mark.parametrize("name", WITH_SCHEDULES)
def test_schedules_cover_every_trusted_checkpoint(name):
    frame = _trusted(name)
    runs = run_schedules(frame)  # refuses a schedule that ends before a checkpoint
    assert sorted(runs) == sorted(frame["run"].unique())
    for run, (schedule, _, steps, _) in runs.items():
        assert steps.max() <= schedule.total, run


def test_misfitting_schedules_agree_with_the_logged_learning_rate_columns(misfit):
    for run, rows in misfit.groupby("run"):
        schedule = Schedule.from_dict(rows["schedule"].iloc[0])
        peak_lr, total_steps = rows["peak_lr"].iloc[0], rows["total_steps"].iloc[0]
        assert schedule.kind == "cosine", run
        assert schedule.total == total_steps, run
        # peak_lr is the rate the warmup reaches and the cosine starts from (to rounding:
        # rel=1e-12 is a few float64 operations' error on a learning rate near 1e-3)
        assert schedule.lr([schedule.warmup])[0] == pytest.approx(peak_lr, rel=1e-12), run
        assert np.all(np.diff(schedule.lr()[schedule.warmup :]) <= 0), run  # then decays
        # the sweep's END_LR_RATIO (0.1) and NUM_WARMUP_STEPS (50), the same for every run
        assert schedule.final == pytest.approx(0.1 * peak_lr, rel=1e-12), run
        assert schedule.warmup == 50, run
        # a trusted run's last checkpoint is the end of its schedule
        assert rows["step"].iloc[-1] == schedule.total, run


def test_misfitting_tokens_per_step_is_the_sweeps_batch(misfit):
    per_step = {tokens for *_, tokens in run_schedules(misfit).values()}
    assert per_step == {512 * 2048}  # GLOBAL_BATCH_SIZE sequences of SEQ_LEN tokens


def test_misfitting_suspect_runs_past_their_schedule_are_refused():
    # the card's caveat: the first checkpoints of two misfitting_70m 250-step runs are
    # labelled step 256, past the end of their 250-step schedule
    frame = bs.load_dataset("misfitting").frame
    with pytest.raises(SweepValidationError, match=re.escape("misfitting_70m/steps=250/lr=0.001")):
        run_schedules(frame)


@pytest.mark.slow  # the multi-power law's sampler compiles for about 40 s
def test_a_multipower_fit_reads_the_misfitting_schedules():
    sweep = bs.load_dataset("misfitting")
    picked = [
        "misfitting_17m/steps=4000/lr=0.002",
        "misfitting_35m/steps=4000/lr=0.002",
        "misfitting_50m/steps=4000/lr=0.002",
    ]
    subset = sweep.exclude(~sweep.frame["run"].isin(picked), reason="three runs, for speed")
    # 50 + 50 draws of one chain are too few for the ESS and contraction checks; the test is
    # that the schedules reach the law, not what it infers
    post = quiet_fit(
        subset,
        law="multipower",
        chains=1,
        warmup=50,
        draws=50,
        seed=0,
        min_fraction=0,
        tolerate=(bs.ConvergenceWarning, bs.PriorDominatedWarning),
    )
    assert post.posterior.sizes["draw"] == 50
    # the finished run it answers for: the sweep's cosine family at its longest run's length
    expected = misfitting.schedule(0.002, 4000).to_dict()
    assert post.info.law_settings == {"schedule": expected, "tokens_per_step": 512 * 2048}
    # and the rates its runs trained at: one peak, and the lowest rate after it
    lr = misfitting.schedule(0.002, 4000).lr()
    last = int(subset.fit_frame["step"].max())
    assert post.info.curves.peak_lr == (0.002, 0.002)
    assert post.info.curves.lowest_lr == lr[np.argmax(lr) : last + 1].min()


@needs_raw
def test_misfitting_build_gives_every_run_the_schedule_of_its_labels():
    frame, card = misfitting.build(RAW)
    settings = frame[["peak_lr", "total_steps", "schedule"]].drop_duplicates()
    assert settings[["peak_lr", "total_steps"]].value_counts().max() == 1
    for lr, total, text in settings.itertuples(index=False):
        assert json.loads(text) == misfitting.schedule(lr, total).to_dict()
    assert "ASSUMED" in card["columns"]["schedule"]
