"""Ingestion: the committed data/ files are exactly what the ingest code produces."""

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from bayescale.ingest import SOURCES, ingest
from bayescale.ingest.__main__ import main
from bayescale.ingest.card import raw_digests, write

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
RAW = REPO.parent / "shared" / "data" / "raw"

needs_raw = pytest.mark.skipif(
    not RAW.is_dir(),
    reason=f"raw sweep files not found at {RAW}; they live outside the repository "
    "(shared/data/raw), so re-ingestion cannot be checked here",
)


def _card(name):
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def _table(name):
    return pd.read_csv(DATA / f"{name}.csv")


@needs_raw
def test_reingest_reproduces_committed_files_byte_for_byte(tmp_path):
    assert main(["--raw", str(RAW), "--out", str(tmp_path)]) == 0
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == sorted(f"{name}.{ext}" for name in SOURCES for ext in ("csv", "json"))
    for name in written:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


@needs_raw
@pytest.mark.parametrize("name", sorted(SOURCES))
def test_card_raw_checksums_match_raw_files(name):
    recorded = _card(name)["raw_sha256"]
    assert recorded == raw_digests(RAW, recorded)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_card_matches_its_table(name):
    card, table = _card(name), _table(name)
    assert card["name"] == name
    assert card["sha256"] == hashlib.sha256((DATA / f"{name}.csv").read_bytes()).hexdigest()
    assert card["rows"] == len(table)
    groups = sorted(table["group"].astype(str).unique()) if "group" in table else []
    assert card["groups"] == groups
    assert card["runs"] == (table["run"].nunique() if "run" in table else None)
    assert sorted(card["columns"]) == sorted(table.columns)
    assert list(table.columns[:3]) == ["n_params", "n_tokens", "loss"]
    assert card["ingest_command"] == f"python -m bayescale.ingest {name}"


def test_chinchilla_flags_the_five_highest_losses_and_derives_tokens():
    table = _table("chinchilla")
    assert len(table) == 245 and "group" not in table
    flagged = table[table["besiroglu_excluded"]]
    assert len(flagged) == 5
    assert flagged["loss"].min() > table.loc[~table["besiroglu_excluded"], "loss"].max()
    assert (table["n_tokens"] == table["flops"] / (6.0 * table["n_params"])).all()


def test_gadre_loss_is_c4_val_with_three_groups():
    table = _table("gadre_overtrain")
    assert len(table) == 104 and table["run"].is_unique
    assert table.groupby("group").size().to_dict() == {
        "c4_original": 34,
        "rpj": 35,
        "rw_original": 35,
    }
    assert (table["loss"] == table["loss_c4_val"]).all()
    assert (table["flops"] == 6.0 * table["n_params"] * table["n_tokens"]).all()
    assert len([c for c in table.columns if c.startswith("loss_")]) == 8


def _minimal_card(columns):
    card = dict.fromkeys(
        (
            "title",
            "description",
            "source",
            "citation",
            "licence",
            "licence_status",
            "curves",
            "derived",
            "caveats",
            "raw_sha256",
        ),
        "",
    )
    return {**card, "name": "toy", "columns": dict.fromkeys(columns, "doc")}


def test_write_is_deterministic_and_fills_in_table_facts(tmp_path):
    frame = pd.DataFrame(
        {
            "n_params": [1e8, 2e8],
            "n_tokens": [1e9, 2e9],
            "loss": [3.1, 2.9],
            "group": ["b", "a"],
            "run": ["r1", "r2"],
        }
    )
    card = _minimal_card(frame.columns)
    first = [path.read_bytes() for path in write(frame, card, tmp_path / "one")]
    second = [path.read_bytes() for path in write(frame, card, tmp_path / "two")]
    assert first == second
    written = json.loads(first[1])
    assert (written["rows"], written["groups"], written["runs"]) == (2, ["a", "b"], 2)
    assert written["sha256"] == hashlib.sha256(first[0]).hexdigest()
    assert first[0].startswith(b"n_params,n_tokens,loss,group,run\n") and b"\r" not in first[0]


def test_write_rejects_out_of_order_or_undocumented_columns(tmp_path):
    frame = pd.DataFrame({"n_params": [1e8], "loss": [3.0], "n_tokens": [1e9]})
    with pytest.raises(ValueError, match="schema order"):
        write(frame, _minimal_card(frame.columns), tmp_path)
    frame = frame[["n_params", "n_tokens", "loss"]].assign(extra=1)
    with pytest.raises(ValueError, match="describe every column"):
        write(frame, _minimal_card(["n_params", "n_tokens", "loss"]), tmp_path)


def test_raw_digests_reject_a_file_that_differs_from_the_manifest(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"x\n1\n")
    (tmp_path / "MANIFEST.sha256").write_text(f"{'0' * 64}  a.csv\n")
    with pytest.raises(ValueError, match="raw copy changed"):
        raw_digests(tmp_path, ["a.csv"])


def test_unknown_source_names_the_registered_ones(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["nope", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert str(sorted(SOURCES)) in capsys.readouterr().err
    with pytest.raises(ValueError, match="registered sources"):
        ingest("nope", tmp_path, tmp_path)


def test_missing_raw_folder_says_how_to_fix(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--raw", str(tmp_path / "absent"), "--out", str(tmp_path)])
    assert "pass --raw PATH" in capsys.readouterr().err
