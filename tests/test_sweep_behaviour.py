"""The sweep defects of issue 20, each reproduced as the issue states it.

Silent changes when reading sweeps (a header one field short, trailing delimiters, labels
that merge or vanish, duplicate row labels, an editable ``sweep.frame``), runs that are
not runs, and the README's ``exclude`` step warning as if something were wrong.
"""

from __future__ import annotations

import gzip
import json
import re
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import bayescale as bs
from bayescale.curves import drop_early_checkpoints
from bayescale.errors import SweepValidationError, SweepWarning

SIZES = [1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9]
BASE = {
    "n_params": SIZES[:4],
    "n_tokens": [2e9, 4e9, 8e9, 1.6e10],
    "loss": [3.5, 3.3, 3.1, 2.9],
}


def one_line(text: str) -> str:
    return " ".join(text.split())


def refused(call, *patterns: str) -> str:
    """Run ``call``, which must raise SweepValidationError matching every pattern."""
    with pytest.raises(SweepValidationError) as err:
        call()
    message = one_line(str(err.value))
    for pattern in patterns:
        assert re.search(pattern, message), (pattern, message)
    return message


def curves(run=lambda n: f"run-{n:g}", checkpoints=8) -> pd.DataFrame:
    """Six model sizes with ``checkpoints`` checkpoints each: 48 rows by default."""
    rows = []
    for n in SIZES:
        for k in range(1, checkpoints + 1):
            rows.append(
                {
                    "n_params": n,
                    "n_tokens": 20 * n * k / checkpoints,
                    "loss": 2.0 + 1.0 / k + 1e8 / n,
                    "run": run(n),
                    "step": 1000 * k,
                }
            )
    return pd.DataFrame(rows)


# ------------------------------------------------------------ CSV field counts
def test_header_one_field_short_is_refused_not_shifted(tmp_path):
    """pandas would make n_params the index: n_params gets the tokens, n_tokens the loss."""
    path = tmp_path / "runs.csv"
    path.write_text(
        "n_params,n_tokens,loss\n1e8,2e9,3.5,1.2e18\n2e8,4e9,3.3,4.8e18\n4e8,8e9,3.1,1.92e19\n"
    )
    refused(
        lambda: bs.read_sweep(path),
        r"header names 3 column\(s\) \('n_params', 'n_tokens', 'loss'\)",
        r"every data row has one field more, 4: rows 0, 1, 2 \(file lines 2, 3, 4\)",
        r"first column the row index and shift every other column",
        r"add it",
    )


def test_trailing_delimiter_on_data_rows_names_rows_by_number(tmp_path):
    path = tmp_path / "runs.tsv"
    path.write_text("n_params\tn_tokens\tloss\n1e8\t2e9\t3.5\t\n2e8\t4e9\t3.3\t\n4e8\t8e9\t3.1\n")
    message = refused(
        lambda: bs.read_sweep(path),
        r"2 data row\(s\) have 4 fields: rows 0, 1 \(file lines 2, 3\)",
        r"stray delimiter \('\\t'\), remove it",
    )
    assert "1e8" not in message and "100000000" not in message  # rows by number, not value


def test_rows_with_fewer_fields_are_named(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("n_params,n_tokens,loss,note\n1e8,2e9,3.5,a\n\n2e8,4e9,3.3\n")
    refused(lambda: bs.read_sweep(path), r"1 data row\(s\) have 3 fields: rows 1 \(file lines 4\)")


def test_gzip_that_is_cut_short_is_named(tmp_path):
    path = tmp_path / "runs.csv.gz"
    path.write_bytes(gzip.compress(b"n_params,n_tokens,loss\n1e8,2e9,3.5\n")[:-6])
    refused(lambda: bs.read_sweep(path), r"cannot parse .*runs\.csv\.gz' as gzip")


@pytest.mark.parametrize(
    "content, line",
    [
        ("n_params,n_tokens,loss,note\n1e8,2e9,3.5,a\n2e8,4e9,3.3,café\n".encode("latin-1"), 3),
        ("n_params,n_tokens,loss\n1e8,2e9,3.5\n".encode("utf-16"), 1),
    ],
)
def test_text_that_is_not_utf8_names_the_line(tmp_path, content, line):
    path = tmp_path / "runs.csv"
    path.write_bytes(content)
    refused(
        lambda: bs.read_sweep(path), rf"line {line} is not utf-8 text", r"Save the file as UTF-8"
    )


def test_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_bytes(b"\xef\xbb\xbfn_params,n_tokens,loss\n1e8,2e9,3.5\n")
    assert list(bs.read_sweep(path).frame["n_params"]) == [1e8]


# ------------------------------------------------------------------- labels
def test_int_and_text_labels_that_read_the_same_are_refused():
    df = pd.DataFrame({**BASE, "group": pd.Series([1, "1", 1, "1"], dtype=object)})
    refused(
        lambda: bs.Sweep.from_frame(df),
        r"'group' \(group\) mixes numbers and text that read the same",
        r"rows 0, 1, 2, 3 hold 1, '1', 1, '1'",
        r"astype\(str\)",
    )


def _jsonl(path, labels):
    rows = [
        {"n_params": n, "n_tokens": d, "loss": loss, "group": label}
        for n, d, loss, label in zip(*BASE.values(), labels, strict=True)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_jsonl_labels_1_and_1_0_are_refused_not_merged(tmp_path):
    """pandas made both '1.0'; they are equal numbers, so which label is meant is unclear."""
    path = _jsonl(tmp_path / "runs.jsonl", [1, 1.0, 1, 1.0])
    refused(
        lambda: bs.read_sweep(path),
        r"'group' \(group\) has equal numbers written differently",
        r"rows 0, 1, 2, 3 hold 1, 1.0, 1, 1.0",
    )


def test_jsonl_integer_labels_keep_their_spelling_beside_floats(tmp_path):
    sweep = bs.read_sweep(_jsonl(tmp_path / "runs.jsonl", [1, 2.5, 1, 2.5]))
    assert list(sweep.frame["group"]) == ["1", "2.5", "1", "2.5"]
    assert sweep.groups == ["1", "2.5"]


def test_jsonl_number_and_text_label_are_refused(tmp_path):
    path = _jsonl(tmp_path / "runs.jsonl", [1, "1", 2, 2])
    refused(lambda: bs.read_sweep(path), r"mixes numbers and text .* rows 0, 1 hold 1, '1'")


@pytest.mark.parametrize("label", ["a\x00", "a\tb", "line\nbreak", "bell\x07", "esc\x1b[0m"])
def test_labels_with_control_characters_are_refused(label):
    """'a' and 'a\\x00' once got the same code: the second group silently had no rows."""
    df = pd.DataFrame({**BASE, "group": ["a", label, "a", label]})
    refused(
        lambda: bs.Sweep.from_frame(df),
        r"'group' \(group\) has labels with control characters",
        r"rows 1, 3 hold",
    )


def test_control_character_in_a_csv_label_is_refused(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text('n_params,n_tokens,loss,run\n1e8,2e9,3.5,"a\rb"\n2e8,4e9,3.3,c\n')
    refused(lambda: bs.read_sweep(path), r"'run' \(run\) has labels with control .* rows 0 ")


@pytest.mark.parametrize("label", [True, [1, 2], {"a": 1}, b"x", pd.Timestamp("2024-01-01")])
def test_labels_that_are_neither_text_nor_numbers_are_refused(label):
    df = pd.DataFrame({**BASE, "group": pd.Series(["a", label, "a", "b"], dtype=object)})
    refused(lambda: bs.Sweep.from_frame(df), r"'group' \(group\) has labels that are neither text")


def test_parquet_integer_labels_with_a_gap_are_not_turned_into_floats(tmp_path):
    path = tmp_path / "runs.parquet"
    table = pa.table({**BASE, "group": pa.array([1, 2, 1, 2], pa.int64())})
    pq.write_table(table, path)
    assert bs.read_sweep(path).groups == ["1", "2"]
    pq.write_table(table.set_column(3, "group", pa.array([1, None, 1, 2], pa.int64())), path)
    refused(lambda: bs.read_sweep(path), r"'group' \(group\) has missing .* rows 1 ")


def test_labels_round_trip_exactly():
    labels = ["01", "1", "1.0", " padded ", "NA", "ünï", "😀", "a,b"]
    df = pd.DataFrame(
        {
            "n_params": np.geomspace(1e8, 1e10, len(labels)),
            "n_tokens": np.geomspace(2e9, 2e11, len(labels)),
            "loss": np.linspace(3.5, 2.5, len(labels)),
            "group": labels,
        }
    )
    sweep = bs.Sweep.from_frame(df)
    assert list(sweep.frame["group"]) == labels
    codes = sweep.arrays()["group"]
    assert [sweep.groups[c] for c in codes] == labels


# ---------------------------------------------------------------- row labels
def test_duplicate_row_labels_are_refused():
    """exclude([0]) once excluded both rows labelled 0."""
    df = pd.DataFrame(BASE, index=[0, 0, 1, 2])
    refused(
        lambda: bs.Sweep.from_frame(df),
        r"row label\(s\) 0 appear more than once .* in 2 rows \(positions 0, 1\)",
        r"reset_index\(drop=True\)",
    )


def test_frame_is_a_copy_and_in_place_edits_are_reported():
    sweep = bs.Sweep.from_frame(pd.DataFrame(BASE))
    with pytest.raises(pd.errors.ChainedAssignmentError):  # a warning, an error in the suite
        sweep.frame.loc[0, "loss"] = -1.0
    with pytest.raises(pd.errors.ChainedAssignmentError):
        sweep.frame["loss"] = -1.0
    copy = sweep.frame
    copy.loc[0, "loss"] = -1.0
    assert list(sweep.frame["loss"]) == BASE["loss"]
    assert list(sweep.fit_frame["loss"]) == BASE["loss"]
    np.testing.assert_array_equal(np.exp(sweep.arrays()["log_loss"]), BASE["loss"])


def test_input_frame_edits_do_not_reach_the_sweep():
    df = pd.DataFrame({**BASE, "note": list("abcd")})
    sweep = bs.Sweep.from_frame(df)
    df.loc[0, "loss"] = -1.0
    df.loc[0, "note"] = "changed"
    assert sweep.frame.loc[0, "loss"] == 3.5 and sweep.frame.loc[0, "note"] == "a"


@pytest.mark.parametrize(
    "extra, columns, pattern",
    [
        ("excluded", {}, r"'excluded' is the sweep's exclusion flag"),
        ("flops", {"flops": "C"}, r"'flops' is built from column 'C'"),
        ("n_params", {"n": "N"}, r"'n_params' is built from column 'N'"),
        ("n_tokens", {"d": None, "flops": "C"}, r"'n_tokens' is derived from column 'C'"),
    ],
)
def test_a_column_that_would_be_lost_is_refused(extra, columns, pattern):
    """The sweep's own columns once silently replaced same-named columns of the table."""
    df = pd.DataFrame({**BASE, "N": BASE["n_params"]})
    df["C"] = 6 * df["N"] * df["n_tokens"]
    df[extra] = [True, False, False, False] if extra == "excluded" else df["loss"] * 7
    if "n" in columns:
        df = df.drop(columns="n_params").assign(n_params=df["loss"] * 7)
    refused(lambda: bs.Sweep.from_frame(df, **columns), rf"\['{extra}'\]", pattern, "rename it")


def test_regrouped_dataset_keeps_its_bundled_group_column():
    sweep = bs.load_dataset("routing_clark2022", group="architecture")
    bundled = bs.load_dataset("routing_clark2022")
    assert list(sweep.frame["bundled_group"]) == list(bundled.frame["group"])
    assert list(sweep.frame["group"]) == list(bundled.frame["architecture"])


# ---------------------------------------------------------------------- runs
def test_run_id_reused_across_model_sizes_is_refused():
    """run='seed0' on every row: 40 of 48 rows excluded as early checkpoints, R-hat 1.47."""
    refused(
        lambda: bs.Sweep.from_frame(curves(run=lambda n: "seed0")),
        r"'run' \(run\) gives 1 run id\(s\) \('seed0'\) to rows with different n_params",
        r"in 48 row\(s\): rows 0, 1, 2, 3, 4 \(and 43 more\)",
        r"give each run its own id",
    )


def test_run_spanning_two_groups_is_refused():
    df = curves()
    df["group"] = np.where(df["step"] > 4000, "late", "early")
    refused(
        lambda: bs.Sweep.from_frame(df),
        r"gives 6 run id\(s\) \('run-1.6e\+09', .*\) to rows with different group values",
    )


def test_tokens_that_fall_as_steps_grow_are_refused():
    df = curves()
    later = df.index[(df["run"] == "run-4e+08") & (df["step"] == 6000)]
    df.loc[later, "n_tokens"] = df["n_tokens"][later] / 10  # below the checkpoint at step 5000
    refused(
        lambda: bs.Sweep.from_frame(df),
        r"'n_tokens' \(n_tokens\) falls as 'step' \(step\) grows within run\(s\) 'run-4e\+08'",
        rf"in 1 row\(s\): rows {later[0]} ",
    )


def test_tokens_derived_from_flops_that_fall_name_the_flops_column():
    df = curves()
    df["C"] = 6 * df["n_params"] * df["n_tokens"]
    df.loc[1, "C"] = df.loc[0, "C"] / 2
    refused(
        lambda: bs.Sweep.from_frame(df.drop(columns="n_tokens"), flops="C"),
        r"'C' \(flops\) falls as 'step' \(step\) grows within run\(s\) 'run-1e\+08'",
    )


def test_valid_curves_are_accepted_in_any_row_order():
    df = curves().sample(frac=1.0, random_state=0)
    sweep = bs.Sweep.from_frame(df)
    assert list(sweep.frame.index) == list(df.index)


# ---------------------------------------------------------------- exclusions
def test_readme_exclude_step_does_not_warn_and_is_recorded():
    sweep = bs.load_dataset("chinchilla")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept = sweep.exclude(sweep.frame["besiroglu_excluded"], reason="as Besiroglu et al.")
    rows = list(sweep.frame.index[sweep.frame["besiroglu_excluded"]])
    assert kept.derivations == (
        f"excluded 5 row(s): as Besiroglu et al. (rows {', '.join(map(str, rows))})",
    )
    assert list(kept.frame.index[kept.frame["excluded"]]) == rows


def test_early_checkpoints_the_fit_drops_are_still_warned():
    """The fit's own rule is not the caller's statement, so it is reported."""
    sweep = bs.Sweep.from_frame(curves(checkpoints=12))  # the first at 1/12 of the tokens
    with pytest.warns(SweepWarning, match=r"6 row\(s\) excluded from fitting \(checkpoints "):
        dropped = drop_early_checkpoints(sweep, 0.1)
    assert list(dropped.frame.index[dropped.frame["excluded"]]) == list(range(0, 72, 12))
    assert "checkpoints before 10%" in dropped.derivations[-1]


@pytest.mark.parametrize(
    "rows, pattern",
    [
        (pd.Series([0, 1, 0, 0]), r"holds int64 values, not booleans"),
        (pd.Series([True, False]), r"not indexed like sweep.frame \(rows missing from it: 2, 3"),
        (pd.Series([True] * 4, index=[0, 1, 2, 7]), r"labels not in the sweep: 7"),
        (pd.Series([True, None, False, False], dtype="boolean"), r"missing \(NA\) at rows 1"),
        ([True, False], r"boolean mask has 2 entries but the sweep has 4 rows"),
        ([0, 9], r"cannot exclude rows 9: no such row labels"),
        (3, r"pass a list of row labels \(e.g. \[3\]\)"),
        ("abc", r"rows='abc'"),
    ],
)
def test_exclusions_that_do_not_fit_the_sweep_are_refused(rows, pattern):
    sweep = bs.Sweep.from_frame(pd.DataFrame(BASE))
    refused(lambda: sweep.exclude(rows, reason="test"), pattern)


def test_exclusion_masks_and_labels_agree():
    sweep = bs.Sweep.from_frame(pd.DataFrame(BASE, index=[10, 11, 12, 13]))
    by_label = sweep.exclude([11, 13], reason="test").frame["excluded"]
    by_series = sweep.exclude(sweep.frame["loss"].isin([3.3, 2.9]), "t").frame["excluded"]
    by_array = sweep.exclude(np.array([False, True, False, True]), reason="t").frame["excluded"]
    assert list(by_label) == list(by_series) == list(by_array) == [False, True, False, True]
