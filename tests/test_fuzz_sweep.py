"""Fuzzing the sweep boundary (issue 20, item 4): generated sweep files and DataFrames.

Each example builds a valid table (model sizes, checkpoints of runs with steps, groups,
FLOPs, a note per row), then applies a few mutations that a careless user or a hostile
tester would make: bad numbers (NaN, ±inf, zero, negatives, text, booleans, lists),
labels that are missing, of other types, with control characters or that collide as
text, a run id reused across model sizes, steps out of order, a repeated row; in files
also a header one field short, trailing delimiters, a renamed, repeated or dropped
column, a wrong delimiter and other encodings; in DataFrames repeated, text or shuffled
row labels and object columns. The table is then read by ``bs.read_sweep`` (CSV, TSV,
gzipped CSV, JSON Lines, Parquet) or ``bs.Sweep.from_frame``.

The promise checked on every example: either a ``SweepValidationError`` whose message
names a column, a row or a line, or a sweep whose rows (in order, under their labels) and
values equal what the input holds and that keeps the sweep's rules (finite positive
numbers, labels as text without control characters, one model size and one group per
run, tokens that never fall as a run's steps grow). Never another exception, and no
warning but a ``SweepWarning``. A table with no mutation, or only harmless ones (a
byte-order mark, shuffled row labels, numbers given as text), must be accepted.

Runtime: 500 mutated files, 500 mutated DataFrames and 150 unmutated of each (1,300
cases) take 20–30 s on 2 shared cores; ``derandomize=True`` runs the same cases every
time. ``--hypothesis-show-statistics`` shows how often each mutation was drawn and how
many cases were refused or accepted.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import bayescale as bs
from bayescale.errors import SweepValidationError, SweepWarning
from bayescale.sweep import CANONICAL

FUZZ = settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CLEAN = settings(FUZZ, max_examples=150)

NUMERIC = ("n_params", "n_tokens", "loss", "flops", "step")
LABELS = ("group", "run")
FILE_KINDS = (".csv", ".tsv", ".csv.gz", ".jsonl", ".parquet")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

# labels that readers like to reinterpret: numbers, NA markers, CSV syntax
TRICKY_LABELS = (
    "01",
    "1e5",
    "1",
    "1.0",
    "NA",
    "null",
    "nan",
    "True",
    "a,b",
    'x"y',
    "a;b",
    " padded ",
    "ünïcødé",
    "#hash",
    "=1+1",
    "😀",
    "\\",
    "[1]",
    "\u2028",
)
text_labels = st.one_of(
    st.sampled_from(TRICKY_LABELS),
    st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=8),
)
BAD_NUMBERS = (
    math.nan,
    math.inf,
    -math.inf,
    0.0,
    -1.0,
    -1e30,
    "abc",
    "1.3B",
    "3,1",
    "",
    "n/a",
    True,
    None,
    [1.0],
)
BAD_LABELS = (
    None,
    "",
    "a\x00",
    "tab\there",
    "line\nbreak",
    "cr\rhere",
    "\x1b[0m",
    True,
    [1],
    {"a": 1},
    2.5,
)


@dataclass
class Table:
    """A sweep table as columns (names may repeat), with its row labels."""

    names: list
    columns: list
    index: list

    def column(self, name):
        return self.columns[self.names.index(name)]

    def rows(self) -> int:
        return len(self.columns[0])


# ------------------------------------------------------------------ strategies
@st.composite
def clean_tables(draw) -> Table:
    """A valid sweep: 1–3 model sizes, 1–3 checkpoints each, 1–900 tokens per parameter."""
    sizes = draw(
        st.lists(st.floats(6.0, 11.0), min_size=1, max_size=3, unique_by=lambda x: round(x, 3))
    )
    checkpoints = draw(st.integers(1, 3))
    tpp = draw(st.floats(1.0, 300.0))
    label_kind = draw(st.sampled_from(["text", "int"]))
    labels = text_labels if label_kind == "text" else st.integers(-(10**6), 10**6)
    groups = draw(st.lists(labels, min_size=len(sizes), max_size=len(sizes)))
    if label_kind == "text":
        runs = draw(st.lists(labels, min_size=len(sizes), max_size=len(sizes), unique=True))
    else:
        first = draw(labels)
        runs = [first + i for i in range(len(sizes))]
    cells = {name: [] for name in ("n_params", "n_tokens", "loss", "group", "run", "step")}
    for size, (exponent, group, run) in enumerate(zip(sizes, groups, runs, strict=True)):
        for k in range(1, checkpoints + 1):
            n = 10.0**exponent
            cells["n_params"].append(n)
            cells["n_tokens"].append(n * tpp * k)
            cells["loss"].append(draw(st.floats(1.5, 6.0)))
            cells["group"].append(group)
            cells["run"].append(run)
            cells["step"].append(100 * k + size)
    cells["flops"] = [
        6.0 * n * d for n, d in zip(cells["n_params"], cells["n_tokens"], strict=True)
    ]
    cells["note"] = [f"row {i}" for i in range(len(cells["loss"]))]
    kept = ["n_params", "n_tokens", "loss"] + [
        name for name in ("group", "run", "step", "flops") if draw(st.booleans())
    ]
    if "step" in kept and "run" not in kept:
        kept.remove("step")
    names = draw(st.permutations(kept + ["note"]))
    return Table(
        list(names), [list(cells[name]) for name in names], list(range(len(cells["loss"])))
    )


@st.composite
def cell_mutations(draw, table: Table) -> list[str]:
    """Mutate cells of ``table`` in place; return what was done."""
    done = []
    rows = table.rows()
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(
            st.sampled_from(
                ["number", "label", "collide", "reuse_run", "swap_steps", "repeat_row", "as_text"]
            )
        )
        numeric = [n for n in table.names if n in NUMERIC]
        labels = [n for n in table.names if n in LABELS]
        row = draw(st.integers(0, rows - 1))
        if kind == "number":
            name = draw(st.sampled_from(numeric))
            table.column(name)[row] = draw(st.sampled_from(BAD_NUMBERS))
        elif kind == "as_text":  # numbers as text: "3.5" is a number to a CSV reader too
            name = draw(st.sampled_from(numeric))
            value = table.column(name)[row]
            if isinstance(value, float):
                table.column(name)[row] = repr(value)
        elif kind == "label" and labels:
            table.column(draw(st.sampled_from(labels)))[row] = draw(st.sampled_from(BAD_LABELS))
        elif kind == "collide" and labels and rows > 1:
            column = table.column(draw(st.sampled_from(labels)))
            other = (row + 1) % rows
            column[row], column[other] = 1, draw(st.sampled_from(["1", 1.0]))
        elif kind == "reuse_run" and "run" in table.names:
            table.column("run")[:] = ["seed0"] * rows
        elif kind == "swap_steps" and "step" in table.names and rows > 1:
            steps = table.column("step")
            other = draw(st.integers(0, rows - 1))
            steps[row], steps[other] = steps[other], steps[row]
        elif kind == "repeat_row":
            for column in table.columns:
                column.append(column[row])
            table.index.append(max(table.index) + 1)
            rows += 1
        else:
            continue
        done.append(kind)
    return done


@st.composite
def header_mutations(draw, table: Table, suffix: str) -> list[str]:
    """Rename, repeat or drop a column (any format); the text-level ones are drawn later."""
    done = []
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["rename", "repeat", "drop"]))
        i = draw(st.integers(0, len(table.names) - 1))
        if kind == "rename":
            table.names[i] = draw(
                st.sampled_from(
                    ["Loss", "n_param", "tokens", "grop", "run ", "excluded", "step", "", "x"]
                )
            )
        elif kind == "repeat":
            table.names.append(table.names[i])
            table.columns.append(list(table.columns[i]))
        elif len(table.names) > 1:
            del table.names[i], table.columns[i]
        done.append(kind)
    if suffix == ".parquet" and "" in table.names:  # parquet names need not be empty
        table.names = [name or "unnamed" for name in table.names]
    return done


# ------------------------------------------------------------------ writers
def csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def encode(text: str, encoding: str) -> bytes:
    """``text`` in ``encoding``, or in UTF-8 where that encoding cannot write it."""
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode("utf-8")


def write_delimited(table: Table, path: Path, sep: str, text: dict) -> Table:
    """Write the table as delimited text, with the text-level mutations in ``text``, and
    return what the file holds."""
    header = table.names[:-1] if text.get("short_header") else list(table.names)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=text.get("delimiter", sep), lineterminator="\n")
    writer.writerow(header)
    for i, row in enumerate(zip(*table.columns, strict=True)):
        cells = [csv_text(value) for value in row]
        writer.writerow(cells + [""] if i in text.get("trailing", ()) else cells)
    data = encode(buffer.getvalue(), text["encoding"])
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return held_delimited(data, table, sep)


def held_delimited(data: bytes, table: Table, sep: str) -> Table:
    """What a delimited file holds, as text cells, parsed by the csv module (not by the
    pandas reader under test). A file that is not UTF-8, or whose rows do not match its
    header, must be refused: only its column names matter then."""
    try:
        decoded = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError:
        return table
    header, *rows = csv.reader(io.StringIO(decoded, newline=""), delimiter=sep)
    if any(len(row) != len(header) for row in rows):
        return Table(header, table.columns, table.index)
    return Table(
        header, [list(column) for column in zip(*rows, strict=True)], list(range(len(rows)))
    )


def write_jsonl(table: Table, path: Path, encoding: str) -> Table:
    lines = []
    for row in zip(*table.columns, strict=True):
        pairs = [
            f"{json.dumps(str(name))}: {json.dumps(value)}"
            for name, value in zip(table.names, row, strict=True)
        ]
        lines.append("{" + ", ".join(pairs) + "}")
    path.write_bytes(encode("\n".join(lines) + "\n", encoding))
    written = [[json.loads(json.dumps(v)) for v in column] for column in table.columns]
    return Table(list(table.names), written, list(range(table.rows())))


def arrow_column(values: list) -> pa.Array:
    """One type per Parquet column: as pyarrow infers it, or else every value as text."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return pa.array([None if v is None else str(v) for v in values])


def write_parquet(table: Table, path: Path) -> Table:
    arrays = [arrow_column(column) for column in table.columns]
    pq.write_table(pa.Table.from_arrays(arrays, names=[str(n) for n in table.names]), path)
    return Table(list(table.names), [a.to_pylist() for a in arrays], list(range(table.rows())))


def to_frame(table: Table, object_columns: set) -> tuple[pd.DataFrame, Table]:
    """The table as a DataFrame, and what the frame holds (pandas infers dtypes)."""
    data = {
        name: pd.Series(column, dtype=object if name in object_columns else None)
        for name, column in zip(table.names, table.columns, strict=True)
    }
    df = pd.DataFrame(data)
    df.index = pd.Index(
        table.index, dtype=object if any(isinstance(label, str) for label in table.index) else None
    )
    held = [df[name].tolist() for name in table.names]
    return df, Table(list(table.names), held, list(df.index))


# ------------------------------------------------------------------ the promise
def as_number(value) -> float:
    return float(value)  # the reader only accepts cells that are numbers or numeric text


def label_text(value) -> str:
    return value if isinstance(value, str) else str(value)


def names_column_or_row(message: str, held: Table) -> bool:
    message = " ".join(message.split())
    names = {str(name) for name in held.names} | set(CANONICAL)
    if any(f"'{name}'" in message for name in names if name):
        return True
    if re.search(r"\bline \d+", message):
        return True
    return any(
        f"rows {label}" in message or f"label(s) {label!r}" in message for label in held.index
    )


def same_cells(got: list, held: list) -> bool:
    return len(got) == len(held) and all(
        a is b or a == b or (pd.isna(a) is True and pd.isna(b) is True)
        for a, b in zip(got, held, strict=True)
    )


def assert_faithful(sweep: bs.Sweep, held: Table, exact_extras: bool) -> None:
    """Every row, in order, with the values the input holds, and the sweep's rules kept."""
    frame = sweep.frame
    assert list(frame.index) == list(held.index)
    assert not frame["excluded"].any()
    values = dict(zip(held.names, held.columns, strict=True))
    for role in NUMERIC:
        if role in values:
            assert frame[role].tolist() == [as_number(v) for v in values[role]], role
    if "n_tokens" not in values and "flops" in values:
        derived = [
            as_number(c) / (6.0 * as_number(n))
            for c, n in zip(values["flops"], values["n_params"], strict=True)
        ]
        assert frame["n_tokens"].tolist() == derived
    for role in LABELS:
        if role in values:
            assert frame[role].tolist() == [label_text(v) for v in values[role]], role
            assert_labels_kept_apart(values[role], frame[role].tolist())
    if "note" in values:
        assert [str(v) for v in frame["note"]] == [str(v) for v in values["note"]]
    extra = {str(name) for name in held.names} - set(CANONICAL) - {""}  # "" is "Unnamed: i"
    assert extra <= set(frame.columns), extra - set(frame.columns)
    if exact_extras:  # a DataFrame's other columns are kept as they are
        for name in extra:
            assert same_cells(frame[name].tolist(), values[name]), name
    assert_rules_kept(frame)


def same_label(a, b) -> bool:
    """Two input labels name one group or run: equal text, or equal numbers."""
    return isinstance(a, str) == isinstance(b, str) and a == b


def assert_labels_kept_apart(values: list, texts: list) -> None:
    """Labels that differ stay different, and equal ones stay equal (1 and "1" must not
    merge, 1 and 1.0 must not split)."""
    for a, text_a in zip(values, texts, strict=True):
        for b, text_b in zip(values, texts, strict=True):
            assert (text_a == text_b) == same_label(a, b), (a, b, text_a, text_b)


def assert_rules_kept(frame: pd.DataFrame) -> None:
    assert frame.index.is_unique
    for role in ("n_params", "n_tokens", "loss", "flops"):
        if role in frame:
            assert np.isfinite(frame[role]).all() and (frame[role] > 0).all(), role
    if "step" in frame:
        assert np.isfinite(frame["step"]).all() and (frame["step"] >= 0).all()
    for role in LABELS:
        if role in frame:
            assert all(isinstance(v, str) and v and not CONTROL.search(v) for v in frame[role])
    if "run" in frame:
        per_run = frame.groupby("run")
        assert (per_run["n_params"].nunique() == 1).all()
        if "group" in frame:
            assert (per_run["group"].nunique() == 1).all()
        if "step" in frame:
            for _, run in per_run:
                ordered = run.sort_values("step", kind="stable")
                earlier = ordered.groupby("step")["n_tokens"].max().cummax().shift()
                assert (
                    ordered["n_tokens"].to_numpy()
                    >= earlier.reindex(ordered["step"]).fillna(0).to_numpy()
                ).all()


def check_promise(read, held: Table, must_accept: bool, exact_extras: bool = False) -> None:
    """``read()`` gives a faithful sweep or a SweepValidationError naming a column or row;
    it may warn only with SweepWarning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sweep = read()
        except SweepValidationError as err:
            assert not must_accept, f"a valid table was refused: {err}"
            assert names_column_or_row(str(err), held), str(err)
            sweep = None
    event("refused" if sweep is None else "accepted")
    others = [w for w in caught if not issubclass(w.category, SweepWarning)]
    assert not others, [f"{w.category.__name__}: {w.message}" for w in others]
    assert not (must_accept and caught), [str(w.message) for w in caught]
    if sweep is not None:
        assert_faithful(sweep, held, exact_extras)


# ------------------------------------------------------------------ properties
def harmful_only(mutations: list[str]) -> list[str]:
    """Numbers written as text are numbers: a sweep with only those must be accepted."""
    return [kind for kind in mutations if kind != "as_text"]


@st.composite
def file_cases(draw, mutate=True):
    table = draw(clean_tables())
    suffix = draw(st.sampled_from(FILE_KINDS))
    harmful = harmful_only(draw(cell_mutations(table))) if mutate else []
    harmful += draw(header_mutations(table, suffix)) if mutate else []
    text = {}
    if suffix in (".csv", ".tsv", ".csv.gz") and mutate:
        rows = table.rows()
        text = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "short_header": st.just(True),
                    "trailing": st.sets(st.integers(0, rows - 1), min_size=1),
                    "delimiter": st.sampled_from([";", "|", "\t" if suffix != ".tsv" else ","]),
                },
            )
        )
        harmful += sorted(text)
    encodings = ["utf-8", "utf-8-sig", "latin-1", "utf-16"] if mutate else ["utf-8"]
    encoding = draw(st.sampled_from(encodings))
    if encoding not in ("utf-8", "utf-8-sig"):
        harmful.append(encoding)
    for kind in harmful:
        event(f"mutation: {kind}")
    return table, suffix, text | {"encoding": encoding}, not harmful


def write(table: Table, path: Path, text: dict) -> Table:
    if path.suffix == ".parquet":
        return write_parquet(table, path)
    if path.suffix == ".jsonl":
        return write_jsonl(table, path, text["encoding"])
    return write_delimited(table, path, "\t" if path.suffix == ".tsv" else ",", text)


def read_file(case) -> None:
    table, suffix, text, must_accept = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"sweep{suffix}"
        held = write(table, path, text)
        check_promise(lambda: bs.read_sweep(path), held, must_accept)


@FUZZ
@given(case=file_cases())
def test_sweep_files_are_read_faithfully_or_refused_by_name(case):
    read_file(case)


@CLEAN
@given(case=file_cases(mutate=False))
def test_valid_sweep_files_are_accepted_unchanged(case):
    read_file(case)


@st.composite
def frame_cases(draw, mutate=True):
    table = draw(clean_tables())
    harmful = harmful_only(draw(cell_mutations(table))) if mutate else []
    if mutate:
        index = draw(st.sampled_from(["default", "shuffled", "text", "repeated"]))
        if index == "shuffled":
            table.index = draw(st.permutations(table.index))
        elif index == "text":
            table.index = [f"r{label}" for label in table.index]
        elif index == "repeated" and table.rows() > 1:
            table.index[-1] = table.index[0]
            harmful.append(index)
    objects = set(draw(st.sets(st.sampled_from(table.names)))) if mutate else set()
    for kind in harmful:
        event(f"mutation: {kind}")
    return table, objects, not harmful


def read_frame(case) -> None:
    table, objects, must_accept = case
    df, held = to_frame(table, objects)
    check_promise(lambda: bs.Sweep.from_frame(df), held, must_accept, exact_extras=True)


@FUZZ
@given(case=frame_cases())
def test_sweep_frames_are_taken_faithfully_or_refused_by_name(case):
    read_frame(case)


@CLEAN
@given(case=frame_cases(mutate=False))
def test_valid_sweep_frames_are_accepted_unchanged(case):
    read_frame(case)
