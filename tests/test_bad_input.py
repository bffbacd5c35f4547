"""Bad input fails safely: property tests over Sweep.from_frame, read_sweep and the CLI.

Every bad table gives a ``SweepValidationError`` (or, for implausible units, the
documented ``SweepWarning``) whose message names the column, the rows and the fix; the
CLI prints it and exits with status 2, never a traceback. A valid table keeps every
row, in input order, with its values.
"""

from __future__ import annotations

import json
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayescale as bs
from bayescale.cli import main
from bayescale.cli.flags import flag_syntax
from bayescale.errors import SweepValidationError, SweepWarning
from bayescale.model_inputs import model_inputs
from bayescale.sweep import MIN_LARGEST_TOKENS_PER_PARAM, TOKENS_PER_PARAM_RANGE

FAST = settings(max_examples=25, deadline=None, derandomize=True)
# capsys is reset by hand (readouterr) in every example of the CLI properties
CLI = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

NUMERIC = ("n_params", "n_tokens", "loss", "flops", "step")
FORMATS = (".csv", ".jsonl", ".parquet")
# cells a user might leave in a numeric column by mistake
GARBAGE = ("abc", "1.3B", "3,1", "~2e9", "n/a", "?", "-", "3.1 nats", "1e9 tokens")

# group labels that readers like to reinterpret: numbers, NA markers, CSV syntax
TRICKY_LABELS = (
    "01",
    "1e5",
    "1",
    "NA",
    "null",
    "None",
    "nan",
    "True",
    "a,b",
    'x"y',
    " padded ",
    "ünïcødé",
    "#hash",
    "=1+1",
    "'q'",
    "😀",
    "a;b",
    "\\",
    "{}",
    "[1]",
)
# control characters (NUL, tab, line breaks) are refused in labels (test_sweep_behaviour.py)
labels_text = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc")),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() != "")
labels = st.one_of(st.sampled_from(TRICKY_LABELS), labels_text)


# ------------------------------------------------------------------ strategies
@st.composite
def sweeps(draw, min_rows=2, max_rows=10, with_labels=True, shuffle=True):
    """A valid sweep table: distinct model sizes, 1–2000 tokens per parameter, rows in a
    random order with their original labels (so the index is not sorted)."""
    rows = draw(st.integers(min_rows, max_rows))
    exponents = draw(
        st.lists(
            st.floats(6.0, 12.0), min_size=rows, max_size=rows, unique_by=lambda x: round(x, 6)
        )
    )
    n = 10.0 ** np.array(exponents)
    tpp = 10.0 ** np.array(draw(st.lists(st.floats(0.0, 3.3), min_size=rows, max_size=rows)))
    loss = draw(st.lists(st.floats(1.5, 6.0), min_size=rows, max_size=rows))
    df = pd.DataFrame({"n_params": n, "n_tokens": n * tpp, "loss": loss})
    df["flops"] = 6.0 * df["n_params"] * df["n_tokens"]
    df["step"] = draw(st.lists(st.integers(0, 10**6), min_size=rows, max_size=rows))
    if with_labels:
        df["group"] = draw(st.lists(labels, min_size=rows, max_size=rows))
    df["note"] = [f"row {i}" for i in range(rows)]
    if shuffle:
        order = draw(st.permutations(range(rows)))
        df = df.iloc[list(order)]
    return df


def bad_values(column):
    """Values that make ``column`` invalid: NaN, ±inf, zero, negatives, text, bools."""
    values = [np.nan, np.inf, -np.inf, -1.0, -1e30, True, "abc"]
    if column != "step":  # step counts from 0
        values.append(0.0)
    return st.one_of(
        st.sampled_from(values),
        st.sampled_from(GARBAGE),
        st.floats(max_value=-1e-300, allow_nan=False),
    )


@st.composite
def corrupted(draw):
    """A valid sweep (default row labels 0..n-1) with bad values in some rows of one
    numeric column; returns the frame, the column and the bad row labels."""
    df = draw(sweeps(shuffle=False))
    column = draw(st.sampled_from(NUMERIC))
    rows = sorted(draw(st.sets(st.sampled_from(list(df.index)), min_size=1)))
    value = draw(bad_values(column))
    df[column] = df[column].astype(object)
    for row in rows:
        df.at[row, column] = value
    return df, column, rows


# ------------------------------------------------------------------ helpers
def one_line(text: str) -> str:
    return " ".join(text.split())


def assert_names_column_rows_fix(message: str, column: str, rows) -> None:
    message = one_line(message)
    assert f"'{column}'" in message, message
    shown = ", ".join(str(r) for r in list(rows)[:5])
    assert f"rows {shown}" in message, message
    assert f"{len(rows)} row(s)" in message, message
    assert "remove those rows" in message, message  # every per-row error says how to fix


def plain(value):
    """A cell as JSON writes it: numpy scalars as Python ones, NaN as null."""
    if isinstance(value, float) and np.isnan(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def write(df: pd.DataFrame, path: Path) -> Path:
    """Write ``df`` as a user would, by suffix (no index column)."""
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as handle:
            for record in df.to_dict(orient="records"):
                handle.write(json.dumps({k: plain(v) for k, v in record.items()}) + "\n")
    else:
        out = df.copy()
        for column in out.columns:  # parquet columns have one type: mixed -> text
            if out[column].dtype == object and not all(isinstance(v, str) for v in out[column]):
                if all(
                    isinstance(v, (float, int)) and not isinstance(v, bool) for v in out[column]
                ):
                    out[column] = out[column].astype(float)
                else:
                    out[column] = out[column].astype(str)
        out.to_parquet(path, index=False)
    return path


def cli_fit(path: Path, capsys, *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["fit", str(path), "-o", str(path.with_suffix(".nc")), "--quiet", *extra])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, one_line(captured.err)


def assert_kept(sweep: bs.Sweep, df: pd.DataFrame, n="n_params", d="n_tokens") -> None:
    """Every input row, in input order, with values equal to the input."""
    frame = sweep.frame
    assert len(frame) == len(df)
    assert list(frame.index) == list(df.index)
    np.testing.assert_array_equal(frame["n_params"].to_numpy(), df[n].astype(float).to_numpy())
    np.testing.assert_array_equal(frame["n_tokens"].to_numpy(), df[d].astype(float).to_numpy())
    np.testing.assert_array_equal(frame["loss"].to_numpy(), df["loss"].astype(float).to_numpy())
    for column in ("flops", "step"):
        if column in df:
            np.testing.assert_array_equal(
                frame[column].to_numpy(), df[column].astype(float).to_numpy()
            )
    if "group" in df:
        assert list(frame["group"]) == [str(g) for g in df["group"]]
    if "note" in df:
        assert list(frame["note"]) == list(df["note"])
    assert not frame["excluded"].any()


# ------------------------------------------------- valid tables are kept as given
@FAST
@given(df=sweeps())
def test_valid_sweep_keeps_every_row_in_order(df):
    sweep = bs.Sweep.from_frame(df)  # warnings are errors: a valid sweep warns of nothing
    assert_kept(sweep, df)
    arrays = sweep.arrays()
    np.testing.assert_allclose(arrays["log_n"], np.log(df["n_params"].to_numpy()))
    assert [sweep.groups[code] for code in arrays["group"]] == list(df["group"])


@FAST
@given(df=sweeps(shuffle=True), suffix=st.sampled_from(FORMATS))
def test_valid_file_keeps_every_row_and_exact_labels(df, suffix):
    """Labels such as '01', 'NA', 'a,b' or ' padded ' come back exactly as written."""
    df = df.reset_index(drop=True)  # a file's rows are labelled 0..n-1 in file order
    with tempfile.TemporaryDirectory() as tmp:
        sweep = bs.read_sweep(write(df, Path(tmp) / f"sweep{suffix}"))
    assert_kept(sweep, df)


# ---------------------------------------------- NaN, inf, <= 0 and text in numbers
@FAST
@given(case=corrupted())
def test_bad_numbers_in_frame(case):
    df, column, rows = case
    with pytest.raises(SweepValidationError) as err:
        bs.Sweep.from_frame(df)
    assert_names_column_rows_fix(str(err.value), column, rows)


@FAST
@given(case=corrupted(), suffix=st.sampled_from(FORMATS))
def test_bad_numbers_in_files(case, suffix):
    df, column, rows = case
    with tempfile.TemporaryDirectory() as tmp:
        path = write(df, Path(tmp) / f"bad{suffix}")
        with pytest.raises(SweepValidationError) as err:
            bs.read_sweep(path)
    assert_names_column_rows_fix(str(err.value), column, rows)


@CLI
@given(case=corrupted())
def test_bad_numbers_cli_exit_2(case, capsys):
    df, column, rows = case
    with tempfile.TemporaryDirectory() as tmp:
        code, err = cli_fit(write(df, Path(tmp) / "bad.csv"), capsys)
    assert code == 2
    assert err.startswith("bayescale fit: error:")
    assert_names_column_rows_fix(err, column, rows)


@pytest.mark.parametrize("value", [[1.0], {"n": 1}, 1 + 2j, pd.Timestamp("2024-01-01"), b"x"])
def test_non_scalar_cells_are_named_not_crashing(value):
    df = pd.DataFrame(
        {
            "n_params": [1e8, 2e8, 4e8],
            "n_tokens": [2e9, 4e9, 8e9],
            "loss": pd.Series([3.0, value, 2.8], dtype=object),
        }
    )
    with pytest.raises(SweepValidationError, match=r"'loss'.*non-numeric.*rows 1 .*remove"):
        bs.Sweep.from_frame(df)


def test_integer_beyond_float_range():
    df = pd.DataFrame(
        {
            "n_params": pd.Series([1e8, 10**400, 4e8], dtype=object),
            "n_tokens": [2e9, 4e9, 8e9],
            "loss": [3.0, 2.9, 2.8],
        }
    )
    with pytest.raises(SweepValidationError, match=r"'n_params'.*infinite.*rows 1"):
        bs.Sweep.from_frame(df)


def test_bool_column_is_not_a_number():
    df = pd.DataFrame({"n_params": [1e8, 2e8], "n_tokens": [True, True], "loss": [3.0, 2.9]})
    with pytest.raises(SweepValidationError, match=r"'n_tokens'.*non-numeric.*rows 0, 1"):
        bs.Sweep.from_frame(df)


def test_same_column_for_two_quantities():
    df = pd.DataFrame({"N": [1e8, 2e8], "D": [2e9, 4e9], "loss": [3.0, 2.9]})
    with pytest.raises(
        SweepValidationError,
        match=r"'N' was given for both n_params and "
        r"n_tokens.*n=\.\.\. and d=\.\.\.",
    ):
        bs.Sweep.from_frame(df, n="N", d="N")


def test_derived_tokens_that_overflow():
    df = pd.DataFrame({"n_params": [1e-300, 2e8], "flops": [1e300, 1e20], "loss": [3.0, 2.9]})
    with pytest.raises(
        SweepValidationError, match=r"'flops'.*no finite, positive token count.*rows 0 .*units"
    ):
        bs.Sweep.from_frame(df, d=None)


# ------------------------------------------------------------------- empty files
EMPTY = {
    "zero bytes csv": ("sweep.csv", b"", r"empty \(zero bytes\)"),
    "zero bytes jsonl": ("sweep.jsonl", b"", r"empty \(zero bytes\)"),
    "zero bytes parquet": ("sweep.parquet", b"", r"empty \(zero bytes\)"),
    "header only": ("sweep.csv", b"n_params,n_tokens,loss\n", r"header .* but no data rows"),
    "header only tsv": ("sweep.tsv", b"n_params\tn_tokens\tloss\n", r"no data rows"),
    "blank lines csv": ("sweep.csv", b"\n\n\n", r"cannot parse .*\.csv"),
    "blank lines jsonl": ("sweep.jsonl", b"\n  \n", r"holds no JSON objects"),
    "not json": ("sweep.jsonl", b'{"n_params": 1e8}\nnot json\n', r"line 2 is not valid JSON"),
    "json array": ("sweep.jsonl", b"[1, 2, 3]\n", r"line 1 holds a list, not an object"),
    "empty objects": ("sweep.jsonl", b"{}\n{}\n", r"has no columns"),
    "not parquet": ("sweep.parquet", b"n_params,n_tokens,loss\n1,2,3\n", r"cannot parse"),
    "not utf-8": ("sweep.csv", b"n_params,n_tokens,loss\n\xff\xfe,1,2\n", r"cannot parse.*utf-8"),
}


def _empty_path(tmp_path, name):
    file, content, pattern = EMPTY[name]
    path = tmp_path / file
    path.write_bytes(content)
    return path, pattern


@pytest.mark.parametrize("name", EMPTY)
def test_empty_and_unreadable_files(tmp_path, name):
    path, pattern = _empty_path(tmp_path, name)
    with pytest.raises(SweepValidationError, match=pattern):
        bs.read_sweep(path)


def test_header_only_parquet(tmp_path):
    path = tmp_path / "sweep.parquet"
    pd.DataFrame({"n_params": [1e8], "n_tokens": [2e9], "loss": [3.0]}).iloc[:0].to_parquet(path)
    with pytest.raises(SweepValidationError, match=r"header .*'loss'.* but no data rows"):
        bs.read_sweep(path)


@pytest.mark.parametrize("name", ["zero bytes csv", "header only", "blank lines jsonl", "not json"])
def test_empty_files_cli_exit_2(tmp_path, capsys, name):
    path, pattern = _empty_path(tmp_path, name)
    code, err = cli_fit(path, capsys)
    assert code == 2 and re.search(pattern, err), err


# ------------------------------------------------------ duplicated column names
@FAST
@given(
    df=sweeps(shuffle=False, max_rows=4),
    column=st.sampled_from(["n_params", "n_tokens", "loss", "group", "note"]),
    suffix=st.sampled_from([".csv", ".jsonl", ".parquet"]),
)
def test_duplicated_column_in_file_is_named(df, column, suffix):
    """pandas would read a second 'loss' as 'loss.1' (CSV) or keep one value (JSON)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"dup{suffix}"
        names = list(df.columns) + [column]
        data = [df[c] for c in df.columns] + [df[column]]
        if suffix == ".csv":
            pd.concat(data, axis=1, keys=range(len(names))).set_axis(names, axis=1).to_csv(
                path, index=False
            )
        elif suffix == ".jsonl":  # json.dumps cannot repeat a key: write the text by hand
            lines = []
            for i in range(len(df)):
                pairs = [
                    f"{json.dumps(name)}: {json.dumps(plain(series.iloc[i]))}"
                    for name, series in zip(names, data, strict=True)
                ]
                lines.append("{" + ", ".join(pairs) + "}")
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        else:
            pq.write_table(pa.table([pa.array(s.tolist()) for s in data], names=names), path)
        with pytest.raises(SweepValidationError) as err:
            bs.read_sweep(path)
    message = one_line(str(err.value))
    assert f"['{column}'] appear more than once" in message, message
    assert "rename them" in message


def test_mangled_name_that_is_real_is_not_a_duplicate(tmp_path):
    """A file that really has columns 'loss' and 'loss.1' is fine."""
    path = tmp_path / "sweep.csv"
    path.write_text("n_params,n_tokens,loss,loss.1\n1e8,2e9,3.0,3.1\n2e8,4e9,2.9,3.0\n")
    sweep = bs.read_sweep(path)
    assert list(sweep.frame["loss.1"]) == [3.1, 3.0]


def test_duplicated_column_cli_exit_2(tmp_path, capsys):
    path = tmp_path / "dup.csv"
    path.write_text("n_params,n_tokens,loss,n_tokens\n1e8,2e9,3.0,2e9\n")
    code, err = cli_fit(path, capsys)
    assert code == 2 and "['n_tokens'] appear more than once" in err, err


# ---------------------------------------------------------- misspelled columns
@st.composite
def typos(draw, word):
    """One edit of ``word``: delete, insert, replace, swap neighbours, or change case."""
    i = draw(st.integers(0, len(word) - 1))
    letter = draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz_"))
    kind = draw(st.sampled_from(["delete", "insert", "replace", "swap", "upper"]))
    out = {
        "delete": word[:i] + word[i + 1 :],
        "insert": word[:i] + letter + word[i:],
        "replace": word[:i] + letter + word[i + 1 :],
        "swap": word[:i] + word[i + 1 : i + 2] + word[i] + word[i + 2 :],
        "upper": word[:i] + word[i].upper() + word[i + 1 :],
    }[kind]
    return out


@st.composite
def misspelled(draw):
    df = draw(sweeps(shuffle=False, with_labels=False, max_rows=4)).drop(columns="flops")
    role = draw(st.sampled_from(["n_params", "n_tokens", "loss"]))
    typo = draw(typos(role).filter(lambda t: t != role and t not in df.columns))
    return df.rename(columns={role: typo}), role, typo


def assert_suggests(message: str, role: str, typo: str, cli: bool = False) -> None:
    """The message suggests the close column, as Python (``loss='x'``) or as a flag of the
    command line (``--loss x``)."""
    message = one_line(message)
    assert f"column '{role}' for {role} is missing" in message, message
    arg = {"n_params": "n", "n_tokens": "d", "loss": "loss"}[role]
    fix = f"--{arg} {typo}" if cli else f"{arg}='{typo}'"
    assert f"Did you mean '{typo}'? Pass {fix}." in message, message


@FAST
@given(case=misspelled(), suffix=st.sampled_from((None,) + FORMATS))
def test_misspelled_column_suggests_close_match(case, suffix):
    df, role, typo = case
    with pytest.raises(SweepValidationError) as err:
        if suffix is None:
            bs.Sweep.from_frame(df)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                bs.read_sweep(write(df, Path(tmp) / f"typo{suffix}"))
    assert_suggests(str(err.value), role, typo)


@CLI
@given(case=misspelled())
def test_misspelled_column_cli_exit_2(case, capsys):
    df, role, typo = case
    with tempfile.TemporaryDirectory() as tmp:
        code, err = cli_fit(write(df, Path(tmp) / "typo.csv"), capsys)
    assert code == 2
    assert_suggests(err, role, typo, cli=True)


@pytest.mark.parametrize(
    "role, typo, arg",
    [("group", "groups", "group"), ("run", "Run", "run"), ("step", "stpe", "step")],
)
def test_misspelled_optional_column_warns_and_is_kept(role, typo, arg):
    """An optional column under a near-miss name is not guessed, but not ignored quietly."""
    df = pd.DataFrame(
        {
            "n_params": [1e8, 2e8],
            "n_tokens": [2e9, 4e9],
            "loss": [3.0, 2.9],
            typo: ["a", "b"] if role != "step" else [10, 20],
        }
    )
    with pytest.warns(
        SweepWarning,
        match=rf"'{typo}' looks like a misspelling of '{role}'"
        rf".*pass {arg}='{typo}'.*{arg}=None",
    ):
        sweep = bs.Sweep.from_frame(df)
    assert role not in sweep.frame and list(sweep.frame[typo]) == list(df[typo])
    bs.Sweep.from_frame(df, **{arg: None})  # silenced: no warning (warnings are errors)


def test_misspelled_tokens_with_flops_warns():
    df = pd.DataFrame({"n_params": [1e8, 2e8], "n_tokns": [2e9, 4e9], "loss": [3.0, 2.9]})
    df["flops"] = 6 * df["n_params"] * df["n_tokns"]
    with pytest.warns(
        SweepWarning,
        match=r"'n_tokns' looks like a misspelling of 'n_tokens'"
        r".*derived from flops.*d='n_tokns'",
    ):
        sweep = bs.Sweep.from_frame(df)
    np.testing.assert_allclose(sweep.frame["n_tokens"], df["n_tokns"], rtol=1e-12)


# ------------------------------------------------------------------- mixed units
def _plausible(draw, rows):
    """A sweep of 20–200 tokens per parameter (the usual compute-optimal regime)."""
    n = 10.0 ** np.array(
        draw(
            st.lists(
                st.floats(7.0, 10.0), min_size=rows, max_size=rows, unique_by=lambda x: round(x, 6)
            )
        )
    )
    tpp = np.array(draw(st.lists(st.floats(20.0, 200.0), min_size=rows, max_size=rows)))
    return pd.DataFrame(
        {
            "n_params": n,
            "n_tokens": n * tpp,
            "loss": draw(st.lists(st.floats(2.0, 4.0), min_size=rows, max_size=rows)),
        }
    )


@FAST
@given(data=st.data(), seq_len=st.sampled_from([512, 1024, 2048, 4096]))
def test_tokens_given_as_sequences_warns(data, seq_len):
    df = _plausible(data.draw, data.draw(st.integers(1, 8)))
    df["n_tokens"] = df["n_tokens"] / seq_len
    with pytest.warns(SweepWarning) as record:
        sweep = bs.Sweep.from_frame(df)
    message = one_line(str(record[0].message))
    assert "'n_tokens'" in message and "'n_params'" in message
    assert f"rows {', '.join(str(r) for r in df.index[:5])}" in message
    assert "multiply it by the sequence length" in message
    assert_kept(sweep, df)  # nothing changed or dropped


@FAST
@given(data=st.data())
def test_swapped_model_size_and_tokens_warns(data):
    df = _plausible(data.draw, data.draw(st.integers(1, 8)))
    swapped = df.rename(columns={"n_params": "n_tokens", "n_tokens": "n_params"})
    with pytest.warns(
        SweepWarning,
        match=r"every row.*swapped, pass n='n_tokens', "
        r"d='n_params'",
    ):
        sweep = bs.Sweep.from_frame(swapped)
    assert_kept(sweep, swapped)


@FAST
@given(data=st.data(), scale=st.sampled_from([1e6, 1e9]))
def test_model_size_in_millions_in_some_rows_warns_naming_them(data, scale):
    df = _plausible(data.draw, data.draw(st.integers(2, 8)))
    rows = sorted(
        data.draw(st.sets(st.sampled_from(list(df.index)), min_size=1, max_size=len(df) - 1))
    )
    df.loc[rows, "n_params"] = df.loc[rows, "n_params"] / scale
    with pytest.warns(SweepWarning) as record:
        sweep = bs.Sweep.from_frame(df)
    message = one_line(str(record[0].message))
    assert f"above {TOKENS_PER_PARAM_RANGE[1]:g} in {len(rows)} row(s)" in message, message
    assert f"rows {', '.join(str(r) for r in rows[:5])}" in message, message
    assert "millions or billions" in message
    assert_kept(sweep, df)


def test_flops_in_wrong_unit_warns_naming_flops():
    df = pd.DataFrame({"N": [1e8, 2e8, 4e8], "C": [1.2e19, 4.8e19, 1.9e20], "loss": [3, 2.9, 2.8]})
    df["C"] = df["C"] / 8.64e19  # PF-days, not FLOPs
    with pytest.warns(
        SweepWarning,
        match=r"derived from column 'C' \(flops\).*'N'.*every row"
        r".*holds training FLOPs \(not PF-days",
    ):
        sweep = bs.Sweep.from_frame(df, n="N", d=None, flops="C")
    np.testing.assert_array_equal(sweep.frame["flops"], df["C"])


@pytest.mark.filterwarnings("always::bayescale.errors.SweepWarning")
def test_swapped_columns_cli_warns_on_stderr(tmp_path, capsys):
    """The CLI shows the warning; this tiny sweep then fails the fit's size check (exit 2)."""
    path = tmp_path / "swapped.csv"
    pd.DataFrame(
        {"n_params": [2e9, 4e9, 8e9], "n_tokens": [1e8, 2e8, 4e8], "loss": [3.0, 2.9, 2.8]}
    ).to_csv(path, index=False)
    code, err = cli_fit(path, capsys)
    assert "SweepWarning" in err and "swapped" in err and "rows 0, 1, 2" in err, err
    assert code == 2 and "fitted point(s)" in err


def test_bundled_datasets_are_plausible():
    """The bounds are set from real sweeps: no bundled dataset may trigger them."""
    low, high = TOKENS_PER_PARAM_RANGE
    for name in bs.list_datasets()["name"]:
        with warnings.catch_warnings():
            warnings.simplefilter("error", SweepWarning)
            frame = bs.load_dataset(name).frame
        ratio = frame["n_tokens"] / frame["n_params"]
        assert low < ratio.min() and ratio.max() < high, name
        assert ratio.max() >= 20 * MIN_LARGEST_TOKENS_PER_PARAM, name


# ---------------------------------------------------------- unusual but valid
def test_single_model_size_is_accepted():
    df = pd.DataFrame(
        {
            "n_params": [1e9] * 5,
            "n_tokens": [2e10, 4e10, 8e10, 1.6e11, 3.2e11],
            "loss": [3.0, 2.9, 2.8, 2.75, 2.7],
        }
    )
    sweep = bs.Sweep.from_frame(df)
    assert_kept(sweep, df)
    assert sweep.frame["n_params"].nunique() == 1


@pytest.mark.parametrize(
    ("column", "axis", "fix"),
    [("n_params", "model size", "other model sizes"), ("n_tokens", "token count", "other lengths")],
)
def test_a_fit_on_one_model_size_or_one_token_count_warns_before_sampling(column, axis, fix):
    """Accepted (a user may ask about that size or length alone), but the law's terms in
    the missing axis are their priors': the fit says so before it samples."""
    varied = np.geomspace(1e8, 1e10, 8)
    df = pd.DataFrame(
        {"n_params": varied, "n_tokens": varied * 20, "loss": 3.0 - 0.05 * np.arange(8)}
    )
    df[column] = 2e10
    with pytest.warns(
        SweepWarning,
        match=rf"every fitted point has one {axis}, {column} = 2e\+10 \(8 points\)"
        rf".*Fix: add runs of {fix}\.$",
    ):
        inputs = model_inputs(bs.Sweep.from_frame(df))
    (kept,) = inputs.data_warnings  # the fit keeps it on the posterior
    assert kept.startswith(f"every fitted point has one {axis}, {column}")


def test_curves_that_all_end_at_one_length_are_told_to_fit_their_checkpoints():
    """Final checkpoints of runs of one length (gemstones) leave one token count; the advice
    names the fit's argument, which the CLI shows as its flag."""
    with pytest.warns(SweepWarning) as caught:
        model_inputs(bs.load_dataset("gemstones"))
    (message,) = [str(w.message) for w in caught if "one token count" in str(w.message)]
    assert "n_tokens = 3.501e+11 (22 points)" in message
    cli_text = flag_syntax(message, {"checkpoints": "--checkpoints"})
    assert "--checkpoints all where every run holds its learning rate constant" in cli_text


def test_single_group_and_single_row():
    df = pd.DataFrame({"n_params": [1e9], "n_tokens": [2e10], "loss": [3.0], "group": ["only"]})
    sweep = bs.Sweep.from_frame(df)
    assert sweep.groups == ["only"] and len(sweep) == 1
    assert_kept(sweep, df)


@FAST
@given(exponent=st.integers(20, 300), tpp=st.floats(1.0, 1e3))
def test_huge_values_are_kept(exponent, tpp):
    n = 10.0**exponent
    df = pd.DataFrame(
        {"n_params": [n, 2 * n], "n_tokens": [n * tpp, 2 * n * tpp], "loss": [1e30, 2e30]}
    )
    sweep = bs.Sweep.from_frame(df)
    assert_kept(sweep, df)
    assert all(np.isfinite(v).all() for v in sweep.arrays().values())


@FAST
@given(
    value=st.sampled_from([1e30, 1e100, 1e300]), column=st.sampled_from(["n_params", "n_tokens"])
)
def test_one_huge_value_warns_but_keeps_it(value, column):
    df = pd.DataFrame(
        {"n_params": [1e8, 2e8, 4e8], "n_tokens": [2e9, 4e9, 8e9], "loss": [3.0, 2.9, 2.8]}
    )
    df.loc[1, column] = value
    with pytest.warns(SweepWarning, match=r"implausible units.*rows 1 have D/N"):
        sweep = bs.Sweep.from_frame(df)
    assert_kept(sweep, df)


def test_unsorted_rows_keep_their_order_and_labels():
    df = pd.DataFrame(
        {"n_params": [4e8, 1e8, 2e8], "n_tokens": [8e9, 2e9, 4e9], "loss": [2.8, 3.0, 2.9]},
        index=[7, 3, 5],
    )
    sweep = bs.Sweep.from_frame(df)
    assert list(sweep.frame.index) == [7, 3, 5]
    np.testing.assert_allclose(np.exp(sweep.arrays()["log_n"]), [4e8, 1e8, 2e8])


@pytest.mark.parametrize("label", ["", pd.NA, None])
def test_empty_group_label_is_missing(label):
    df = pd.DataFrame(
        {
            "n_params": [1e8, 2e8],
            "n_tokens": [2e9, 4e9],
            "loss": [3.0, 2.9],
            "group": pd.Series(["a", label], dtype=object),
        }
    )
    with pytest.raises(
        SweepValidationError, match=r"'group'.*missing \(or empty\) labels.*rows 1 .*label"
    ):
        bs.Sweep.from_frame(df)


def test_empty_group_cell_in_csv_is_missing(tmp_path, capsys):
    path = tmp_path / "sweep.csv"
    path.write_text("n_params,n_tokens,loss,group\n1e8,2e9,3.0,a\n2e8,4e9,2.9,\n")
    with pytest.raises(SweepValidationError, match=r"'group'.*missing.*rows 1 "):
        bs.read_sweep(path)
    code, err = cli_fit(path, capsys)
    assert code == 2 and "'group'" in err
