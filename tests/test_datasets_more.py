"""The six bundled sweeps added with issue "More bundled data": they load as Sweeps that
agree with their cards, and each keeps the invariants its card documents."""

import numpy as np
import pandas as pd
import pytest

from bayescale.datasets import dataset_card, list_datasets, load_dataset
from bayescale.resources import package_dir
from bayescale.sweep import Sweep

# name: (rows, number of groups, runs, curves)
EXPECTED = {
    "gemstones": (3850, 22, 22, True),
    "hitchhiker_datablations": (9261, 16, 48, True),
    "misfitting": (4852, 11, 261, True),
    "open_athena_isoflops": (273, 3, 273, False),
    "porian_rsld": (1745, 15, None, False),
    "routing_clark2022": (5568, 217, 223, True),
}


@pytest.fixture(scope="module")
def sweeps():
    return {name: load_dataset(name) for name in EXPECTED}


def _table(sweeps, name):
    return sweeps[name].frame


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loads_as_a_sweep_that_matches_its_card(sweeps, name):
    sweep, card = sweeps[name], dataset_card(name)
    rows, n_groups, runs, curves = EXPECTED[name]
    assert isinstance(sweep, Sweep)
    assert len(sweep) == card["rows"] == rows
    assert sweep.groups == card["groups"] and len(card["groups"]) == n_groups
    assert card["runs"] == runs and card["curves"] is curves
    assert dict(sweep.source) == card
    if runs is not None:
        assert sweep.frame["run"].nunique() == runs
    assert (sweep.frame[["n_params", "n_tokens", "loss"]] > 0).all(axis=None)
    assert card["caveats"] and card["derived"] and card["raw_sha256"]


def test_listing_includes_the_new_datasets():
    listing = list_datasets().set_index("name")
    assert set(EXPECTED) <= set(listing.index)
    for name, (rows, n_groups, _runs, curves) in EXPECTED.items():
        assert (listing.loc[name, "rows"], listing.loc[name, "groups"]) == (rows, n_groups)
        assert bool(listing.loc[name, "curves"]) is curves


def test_every_bundled_csv_stays_small():
    for name in EXPECTED:
        assert (package_dir("data") / f"{name}.csv").stat().st_size < 3_000_000, name


def test_routing_tokens_from_steps_and_no_initialisation_rows(sweeps):
    table = _table(sweeps, "routing_clark2022")
    assert (table["step"] > 0).all()
    assert (table["n_tokens"] == table["step"] * 256 * 2048).all()
    assert "flops" not in table  # flops_per_step is a forward-pass estimate, not C
    dense = table[table["router_type"] == "Dense"]
    hk = dense["num_heads"] * dense["kqv_size"]
    d = dense["d_model"]
    assert (dense["n_params"] == dense["num_blocks"] * (5 * d * hk + 8 * d * d + 4 * d)).all()
    main = table[table["main_grid"]]
    assert not main["group"].str.contains("/k=|/rf=").any()
    assert table.loc[~table["main_grid"], "group"].str.contains("/k=|/rf=").all()
    assert table.groupby("run").size().between(23, 26).all()
    # architecture = the group without its size label: one law per architecture over sizes
    without_size = [
        g.replace(f"/{size}", "", 1)
        for g, size in zip(table["group"], table["model_size_label"], strict=True)
    ]
    assert (table["architecture"] == without_size).all()
    regrouped = load_dataset("routing_clark2022", group="architecture")
    assert len(regrouped.groups) == table["architecture"].nunique() == 60
    assert regrouped.frame.groupby("group")["n_params"].nunique().max() == 6
    with pytest.raises(ValueError, match="no column 'shape'"):
        load_dataset("routing_clark2022", group="shape")


def test_gemstones_shapes_and_embedding_free_counts(sweeps):
    table = _table(sweeps, "gemstones")
    assert table.groupby("group").size().eq(175).all()
    assert (table["group"] == table["width"].astype(str) + "x" + table["depth"].astype(str)).all()
    assert (table["n_tokens"] == table["step"] * 2048 * 2048).all()
    assert (table["params_no_embed"] == table["n_params"] - 2 * 50304 * table["width"]).all()


def test_misfitting_runs_finals_and_suspect_rows(sweeps):
    table = _table(sweeps, "misfitting")
    assert table["final"].sum() == 261
    assert table.groupby("run")["final"].sum().eq(1).all()
    assert (
        table.groupby("run")["checkpoint"]
        .max()
        .eq(table.groupby("run")["checkpoints"].first())
        .all()
    )
    assert table["suspect"].sum() == 170
    launch = table["sweep"] == "2024_11_10-23_08_29_sweep_test"
    assert (table["suspect"] == (launch | (table["step"] > table["total_steps"]))).all()
    assert (table.loc[launch, "group"] == "17m").all() and launch.sum() == 168
    assert (table["n_tokens"] == table["step"] * 512 * 2048).all()
    n, d = table["n_params"].astype(float), table["n_tokens"].astype(float)
    assert (table["flops"] == 6.0 * n * d).all()


def test_datablations_groups_hold_three_sizes_and_flag_the_copied_curve(sweeps):
    table = _table(sweeps, "hitchhiker_datablations")
    assert table.groupby("group")["run"].nunique().eq(3).all()
    assert table.groupby("group")["size_label"].nunique().eq(3).all()
    copied = table.loc[table["identical_curve"], "run"].unique()
    assert len(copied) == 2 and set(table.loc[table["identical_curve"], "group"]) == {
        "oscar/3ep",
        "oscar/4ep",
    }
    assert (table["flops"] == 6.0 * table["n_params"] * table["n_tokens"]).all()
    assert (table["unique_tokens"] * table["epochs"]).sub(table["total_tokens"]).abs().lt(1).all()


def test_porian_points_lie_on_their_budget(sweeps):
    table = _table(sweeps, "porian_rsld")
    ratio = 6.0 * table["n_params"] * table["n_tokens"] / table["flops"]
    assert np.allclose(ratio, 1.0, rtol=1e-12, atol=0)
    assert table.groupby("group")["flops"].nunique().isin([11, 12]).all()
    assert "run" not in table


def test_open_athena_marin_groups_flags_and_validation_runs(sweeps):
    table = _table(sweeps, "open_athena_isoflops")
    assert table.groupby("group").size().to_dict() == {"comma": 92, "dclm": 85, "nemotron": 96}
    validation = table["validation_optimal"]
    assert validation.sum() == 15
    assert table.loc[validation, "oa_outlier"].isna().all()
    assert table.loc[~validation, "oa_outlier"].notna().all()
    assert np.allclose(table["flops"] / table["budget"], 1.0, rtol=1e-4, atol=0)
    assert pd.isna(table.loc[table["group"] == "nemotron", "learning_rate"]).all()


def test_multipower_branches_repeat_their_trunks_checkpoints_until_the_rates_part():
    """The bundled trunk column: every branch starts from its trunk's logged losses, exactly,
    and stays within 0.1% of them until their learning rates part (at 400M the WSD runs
    repeat constant_24000's losses to step 16,000 and then differ by at most 0.063%, the
    checkpoints' noise; the bound is that, rounded up); 4 branches of each size are held
    out."""
    frame = load_dataset("multipower_schedules").frame
    branches = frame[frame["trunk"] != frame["run"]]
    assert set(branches["run"].str.split("/").str[1]) == {
        "wsd_20000_24000",
        "wsdld_20000_24000",
        "wsdcon_3",
        "wsdcon_9",
        "wsdcon_18",
    }
    for run, rows in branches.groupby("run"):
        trunk = frame[frame["run"] == rows["trunk"].iloc[0]]
        common = rows.merge(trunk, on="step", suffixes=("", "_trunk"))
        before = common[(common["lr"] == common["lr_trunk"]).cummin()]
        assert (before["loss"].iloc[:2] == before["loss_trunk"].iloc[:2]).all(), run
        np.testing.assert_allclose(before["loss"], before["loss_trunk"], rtol=1e-3, err_msg=run)
    held_out = branches[branches["split"] == "test"].groupby("group")["run"].nunique()
    assert (held_out == 4).all()
