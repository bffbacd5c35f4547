"""Sweep construction, validation errors and file reading."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.errors import SweepValidationError


def frame(**overrides):
    df = pd.DataFrame(
        {
            "n_params": [1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9],
            "n_tokens": [2e9, 4e9, 8e9, 1.6e10, 3.2e10, 6.4e10],
            "loss": [3.5, 3.3, 3.1, 2.9, 2.7, 2.6],
        }
    )
    for key, value in overrides.items():
        df[key] = value
    return df


def test_canonical_frame_keeps_extra_columns():
    df = frame(note=list("abcdef"))
    sweep = bs.Sweep.from_frame(df)
    assert list(sweep.frame.columns) == ["n_params", "n_tokens", "loss", "excluded", "note"]
    assert len(sweep) == 6 and not sweep.frame["excluded"].any()


def test_user_column_names_are_mapped():
    df = frame().rename(columns={"n_params": "N", "n_tokens": "D", "loss": "val_loss"})
    sweep = bs.Sweep.from_frame(df, n="N", d="D", loss="val_loss")
    np.testing.assert_array_equal(sweep.frame["n_params"], df["N"])


def test_tokens_derived_from_flops_and_recorded():
    df = frame()
    df["C"] = 6 * df["n_params"] * df["n_tokens"]
    sweep = bs.Sweep.from_frame(df.drop(columns="n_tokens"), flops="C")
    np.testing.assert_allclose(sweep.frame["n_tokens"], df["n_tokens"], rtol=1e-12)
    assert any("flops" in d.lower() or "C /" in d for d in sweep.derivations)


def test_missing_column_names_it_and_suggests():
    df = frame().rename(columns={"loss": "los"})
    with pytest.raises(SweepValidationError, match=r"'loss'.*missing.*Did you mean 'los'"):
        bs.Sweep.from_frame(df)


def test_no_tokens_and_no_flops():
    with pytest.raises(SweepValidationError, match=r"'n_tokens'.*missing.*d=\.\.\..*flops="):
        bs.Sweep.from_frame(frame().drop(columns="n_tokens"))
    with pytest.raises(SweepValidationError, match="neither tokens nor FLOPs"):
        bs.Sweep.from_frame(frame(), d=None)


def test_non_numeric_names_rows_and_values():
    df = frame()
    df["loss"] = df["loss"].astype(object)
    df.loc[2, "loss"] = "3.1 nats"
    with pytest.raises(SweepValidationError, match=r"'loss'.*non-numeric.*rows 2.*'3.1 nats'"):
        bs.Sweep.from_frame(df)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf(bad):
    df = frame()
    df.loc[[1, 4], "n_tokens"] = bad
    with pytest.raises(SweepValidationError, match=r"'n_tokens'.*missing or infinite.*rows 1, 4"):
        bs.Sweep.from_frame(df)


@pytest.mark.parametrize("bad", [0.0, -1e9])
def test_non_positive(bad):
    df = frame()
    df.loc[3, "n_params"] = bad
    with pytest.raises(SweepValidationError, match=r"'n_params'.*<= 0.*rows 3.*remove"):
        bs.Sweep.from_frame(df)


def test_many_bad_rows_are_counted():
    df = frame()
    df = pd.concat([df] * 3, ignore_index=True)
    df["n_tokens"] = df["n_tokens"] * np.arange(1, 19)
    df.loc[:, "loss"] = -1.0
    with pytest.raises(SweepValidationError, match=r"18 row\(s\).*and 13 more"):
        bs.Sweep.from_frame(df)


def test_duplicate_rows_reported():
    df = pd.concat([frame(), frame().iloc[[2]]], ignore_index=True)
    with pytest.raises(
        SweepValidationError, match=r"repeats identical points.*rows 2, 6.*drop_duplicates"
    ):
        bs.Sweep.from_frame(df)


def test_duplicated_column_names():
    df = frame()
    df.columns = ["n_params", "n_params", "loss"]
    with pytest.raises(SweepValidationError, match="more than once"):
        bs.Sweep.from_frame(df)


def test_fewer_points_than_parameters():
    sweep = bs.Sweep.from_frame(frame().iloc[:4])
    with pytest.raises(SweepValidationError, match=r"4 fitted point\(s\).*7 parameters"):
        bs.fit(sweep, progress=False)


def test_exclude_records_rows_and_keeps_them():
    """A stated exclusion does not warn (warnings are errors here): it is recorded."""
    sweep = bs.Sweep.from_frame(frame())
    smaller = sweep.exclude([0, 5], reason="outliers")
    assert smaller.derivations[-1] == "excluded 2 row(s): outliers (rows 0, 5)"
    assert len(smaller) == 6 and smaller.frame["excluded"].sum() == 2
    assert len(smaller.fit_frame) == 4
    assert not sweep.frame["excluded"].any()  # the original is untouched


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_read_sweep_formats(tmp_path, suffix):
    df = frame(group=["x", "x", "x", "y", "y", "y"])
    path = tmp_path / f"sweep{suffix}"
    {
        ".csv": lambda p: df.to_csv(p, index=False),
        ".jsonl": lambda p: df.to_json(p, orient="records", lines=True),
        ".parquet": lambda p: df.to_parquet(p),
    }[suffix](path)
    sweep = bs.read_sweep(path)
    assert sweep.groups == ["x", "y"]
    np.testing.assert_allclose(sweep.frame["loss"], df["loss"])


def test_read_sweep_empty_and_unknown(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(SweepValidationError, match="empty"):
        bs.read_sweep(empty)
    other = tmp_path / "sweep.xlsx"
    other.write_text("a")
    with pytest.raises(SweepValidationError, match=r"unknown suffix '\.xlsx'"):
        bs.read_sweep(other)
