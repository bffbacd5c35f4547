"""The bundled-dataset registry: listing, loading, cards and checksum verification."""

import shutil

import pandas as pd
import pytest

import bayescale.datasets as datasets
from bayescale.datasets import dataset_card, list_datasets, load_dataset
from bayescale.resources import package_dir
from bayescale.sweep import Sweep

EXPECTED = {
    "chinchilla": (245, []),
    "gadre_overtrain": (104, ["c4_original", "rpj", "rw_original"]),
}


def test_list_datasets_has_one_row_per_card_with_the_documented_columns():
    listing = list_datasets()
    assert list(listing.columns) == [
        "name",
        "rows",
        "groups",
        "runs",
        "curves",
        "citation",
        "licence",
    ]
    names = sorted(path.stem for path in package_dir("data").glob("*.json"))
    assert listing["name"].tolist() == names
    assert set(EXPECTED) <= set(names)
    row = listing.set_index("name").loc["gadre_overtrain"]
    assert (row["rows"], row["groups"], row["runs"], row["curves"]) == (104, 3, 104, False)
    assert "arXiv:2403.08540" in row["citation"] and row["licence"] == "MIT"
    assert pd.isna(listing.set_index("name").loc["chinchilla", "runs"])


def test_load_dataset_without_a_name_lists_the_datasets():
    pd.testing.assert_frame_equal(load_dataset(), list_datasets())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_load_dataset_returns_a_sweep_with_the_cards_rows_and_groups(name):
    sweep = load_dataset(name)
    rows, groups = EXPECTED[name]
    assert isinstance(sweep, Sweep)
    assert len(sweep) == rows
    assert sweep.groups == groups
    assert dict(sweep.source) == dataset_card(name)


def test_chinchilla_replication_subset_is_one_exclude_away():
    """The README's step: a stated exclusion, recorded, not warned about."""
    sweep = load_dataset("chinchilla")
    kept = sweep.exclude(sweep.frame["besiroglu_excluded"], "Besiroglu et al. 2024")
    assert len(kept.fit_frame) == 240
    assert kept.derivations[-1].startswith("excluded 5 row(s): Besiroglu et al. 2024 (rows ")


def test_unknown_name_lists_the_valid_names_sorted():
    names = sorted(list_datasets()["name"])
    with pytest.raises(ValueError, match="no bundled dataset named 'chinchila'") as error:
        load_dataset("chinchila")
    assert str(names) in str(error.value)
    with pytest.raises(ValueError, match="available datasets"):
        dataset_card("chinchila")


def test_checksum_mismatch_is_reported_with_the_fix(tmp_path, monkeypatch):
    copy = tmp_path / "data"
    shutil.copytree(package_dir("data"), copy)
    csv = copy / "chinchilla.csv"
    csv.write_bytes(csv.read_bytes().replace(b"False", b"True ", 1))
    monkeypatch.setattr(datasets, "package_dir", lambda kind: copy)
    with pytest.raises(ValueError, match="sha256") as error:
        load_dataset("chinchilla")
    assert "python -m bayescale.ingest chinchilla" in str(error.value)
    assert len(load_dataset("gadre_overtrain")) == 104


def test_package_dir_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="'data', 'models'"):
        package_dir("weights")
