"""The bundled ``multipower_schedules`` table: 27 loss curves of Luo et al. (2025) whose stored
schedules reproduce the logged learning rates, and whose ingestion is reproducible."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale import schedules
from bayescale.errors import InputError
from bayescale.ingest import SOURCES, ingest
from bayescale.ingest.multipower import NAME, TOKENS_PER_STEP, build

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
RAW = REPO.parent / "shared" / "data" / "raw"
TRAIN = {"cosine_24000", "constant_24000", "wsdcon_9"}

needs_raw = pytest.mark.skipif(
    not (RAW / "multipower_schedules").is_dir(),
    reason=f"raw multipower_schedules files not found under {RAW}; they live outside the "
    "repository (shared/data/raw), so re-ingestion cannot be checked here",
)


@pytest.fixture(scope="module")
def sweep():
    return bs.load_dataset(NAME)


def test_loads_as_a_sweep_of_27_runs_in_3_sizes(sweep):
    frame = sweep.frame
    assert sweep.groups == ["100M", "25M", "400M"]
    assert frame["run"].nunique() == 27
    assert frame.groupby("group")["run"].nunique().to_dict() == {"100M": 9, "25M": 9, "400M": 9}
    assert len(frame) == sweep.source["rows"]
    sizes = frame.groupby("group")["n_params"].unique().map(list).to_dict()
    assert sizes == {"100M": [100_000_000], "25M": [25_000_000], "400M": [400_000_000]}
    assert (frame["n_tokens"] == frame["step"] * TOKENS_PER_STEP).all()
    assert frame.groupby("run")["step"].apply(lambda s: s.is_monotonic_increasing).all()


def test_split_is_the_authors_three_training_runs_per_size(sweep):
    per_run = sweep.frame.groupby("run")["split"].unique()
    assert per_run.map(len).eq(1).all()
    for run, (split,) in per_run.items():
        assert split == ("train" if run.partition("/")[2] in TRAIN else "test"), run
    assert (per_run.map(lambda v: v[0]) == "train").sum() == 9
    assert set(sweep.source["published"]["split"]["train"]) == TRAIN


def test_stored_schedules_reproduce_the_logged_learning_rates(sweep):
    for run, rows in sweep.frame.groupby("run"):
        assert rows["schedule"].nunique() == 1, run
        schedule = schedules.Schedule.from_dict(json.loads(rows["schedule"].iloc[0]))
        np.testing.assert_allclose(
            schedule.lr(rows["step"].to_numpy()), rows["lr"].to_numpy(), rtol=1e-9, err_msg=run
        )


def test_card_states_assumptions_and_training_loss():
    card = bs.dataset_card(NAME)
    assert card["licence"] == "MIT"
    assert card["source"]["commit"] == "8da9f1902602f3391b971a811e3cc51604541769"
    assert card["citation"]["arxiv"] == "2503.12811"
    assert "ASSUMED" in card["columns"]["n_params"] and "ASSUMED" in card["columns"]["n_tokens"]
    assert card["columns"]["loss"].startswith("training loss")
    figures = card["published"]["figures"]
    assert sorted(figures) == ["100M", "25M", "400M"]
    assert figures["25M"]["r2"] == 0.9988 and figures["400M"]["worst_rel"] == 0.00995
    assert figures["100M"]["constants"]["L0"] == pytest.approx(2.6514477)


@needs_raw
def test_ingest_reproduces_the_bundled_files(tmp_path):
    assert NAME in SOURCES
    csv_path, card_path = ingest(NAME, RAW, tmp_path)
    assert csv_path.read_bytes() == (DATA / f"{NAME}.csv").read_bytes()
    assert card_path.read_bytes() == (DATA / f"{NAME}.json").read_bytes()


def _raw_copy(tmp_path):
    shutil.copytree(RAW / "multipower_schedules", tmp_path / "multipower_schedules")
    for path in (tmp_path / "multipower_schedules").rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return tmp_path


@needs_raw
def test_build_refuses_a_logged_lr_that_its_schedule_does_not_give(tmp_path):
    raw = _raw_copy(tmp_path)
    path = raw / "multipower_schedules/loss_curve_repo/csv_100/wsd_20000_24000.csv"
    table = pd.read_csv(path)
    table.loc[150, "lr"] *= 1 + 1e-6
    table.to_csv(path, index=False)
    with pytest.raises(InputError, match="differs from the rebuilt wsd_20000_24000 schedule"):
        build(raw)


@needs_raw
def test_build_refuses_a_checkpoint_at_the_end_of_the_schedule(tmp_path):
    raw = _raw_copy(tmp_path)
    path = raw / "multipower_schedules/loss_curve_repo/csv_25/cosine_24000.csv"
    table = pd.read_csv(path)
    end = pd.DataFrame({"step": [24_000], "lr": [3e-5], "loss": [3.30]})
    pd.concat([table, end]).to_csv(path, index=False)
    with pytest.raises(InputError, match="at or past the schedule's 24000 steps"):
        build(raw)
