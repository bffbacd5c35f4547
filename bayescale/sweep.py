"""The input table: a validated sweep of (model size, tokens, loss) points.

A sweep has one row per measured point and these canonical columns:

==========  =====================================================  ========
column      meaning                                                required
==========  =====================================================  ========
n_params    model size N, parameters                               yes
n_tokens    training tokens D seen when ``loss`` was measured      yes [*]_
loss        loss in nats (cross-entropy per token)                 yes
group       model family / dataset / architecture label            no
run         training-run id: points of one run share it            no
step        optimizer step of a checkpoint                         no
flops       training compute C in FLOPs                            no
==========  =====================================================  ========

.. [*] When only ``flops`` is given, ``n_tokens = flops / (6 · n_params)`` is
   derived (the ``C = 6ND`` approximation) and recorded in ``Sweep.derivations``.

Validation happens once, at the boundary (:meth:`Sweep.from_frame`), and raises
:class:`~bayescale.errors.SweepValidationError` naming the column, the offending rows
(first few plus a count) and the fix. Nothing is dropped or changed silently: a valid
table keeps every row, in input order, under its own row label, with its values; rows
are named by those labels, so they must be unique. ``Sweep.frame`` is a copy: editing
it cannot bypass validation (pandas reports an edit of ``sweep.frame[...]`` in place as
chained assignment); build a new sweep from the edited table instead.

Labels. ``group`` and ``run`` values are text: a number becomes ``str(number)``, text
stays as written. A label column is refused when that conversion would merge or split
labels (the number ``1`` and the text ``"1"`` in one column, or the equal numbers ``1``
and ``1.0``), when a label is neither text nor a number, and when a label holds a
control character (``\\x00``, a tab, a line break): such labels print unreadably and
some array code truncates them (``"a\\x00"`` would become ``"a"``).

Runs. A run is one training run: all its rows (checkpoints) share one model size and
one group, and with a ``step`` column its tokens never fall as the step grows. A run id
reused across model sizes (``run="seed0"`` on every row) would tie unrelated runs
together, so each of these is refused, naming the runs and rows.

Exclusions. :meth:`Sweep.exclude` is a stated decision, not a problem: it does not
warn. The rows stay on the sweep, flagged in the ``excluded`` column, and the reason
and the rows are recorded in ``Sweep.derivations`` (and so in every fit's ``info``).
Exclusions the package makes on its own, such as the early checkpoints of training
curves (:mod:`bayescale.curves`), are reported with a
:class:`~bayescale.errors.SweepWarning`.

Plausibility of units. Mixed units pass every per-column check (all values are
positive numbers) yet make the fit meaningless, so :meth:`Sweep.from_frame` also looks
at tokens per parameter, ``D / N``, and emits a :class:`~bayescale.errors.SweepWarning`
(never an error: unusual sweeps exist, and nothing is changed or dropped) when

* a row has ``D / N`` outside ``[1e-3, 1e5]`` (:data:`TOKENS_PER_PARAM_RANGE`), or
* every row has ``D / N < 1`` (:data:`MIN_LARGEST_TOKENS_PER_PARAM`): no run of the
  sweep trained on even one token per parameter.

The first catches tokens counted in sequences (``D`` a factor 2048 too small), model
size in millions or billions, and FLOPs in the wrong unit; the second catches the
model-size and token columns swapped (a 20-tokens-per-parameter sweep reads as 0.05),
and sequences-for-tokens in sweeps that stay inside the per-row range. The bounds come
from real sweeps: across the bundled datasets (``bs.list_datasets()``), ``D / N`` spans
6.1e-3 (early checkpoints of the smallest ``porian_rsld`` models) to 1.9e4 (the same
dataset's longest runs), and every dataset's largest ``D / N`` is at least 20
(``hitchhiker_datablations``). The per-row bounds sit about 6x and 5x beyond those
extremes, so no bundled dataset triggers either warning.

Files (:func:`read_sweep`) are read as UTF-8 text (errors name the line) and checked
before pandas can reinterpret them: duplicated column names (pandas renames them ``x``,
``x.1``) and, in CSV and TSV files, data rows with more or fewer fields than the header
(with one field more in every row pandas silently takes the first column as the row
index and shifts every other column by one) are refused. Label columns (``group``,
``run``) are read as written: as text from CSV and TSV, so that ``"01"`` or ``"NA"``
keep their spelling, and as JSON or Parquet gave each value, so that JSON's ``1``
does not become ``1.0`` because another row holds ``2.5``.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import json
import warnings
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from bayescale.errors import SweepValidationError, SweepWarning

CANONICAL = ("n_params", "n_tokens", "loss", "group", "run", "step", "flops")
_POSITIVE = ("n_params", "n_tokens", "loss", "flops")
_NUMERIC = ("n_params", "n_tokens", "loss", "flops", "step")
_SHOWN_ROWS = 5
#: Characters refused in labels: control characters (Unicode category Cc: NUL, tab, line
#: breaks, escape, ...) and lone surrogates (Cs), which are not text.
_CONTROL = r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]"
_NUMBER_TYPES = (int, float, np.integer, np.floating)

#: Plausible tokens per parameter ``D / N`` of one row. Bundled datasets span 6.1e-3 to
#: 1.9e4 (both in ``porian_rsld``); outside ``[1e-3, 1e5]`` a row most likely mixes units
#: (tokens counted in sequences of ~2048 tokens, model size in millions, FLOPs in
#: PF-days). See the module docstring.
TOKENS_PER_PARAM_RANGE = (1e-3, 1e5)
#: The largest ``D / N`` of a real sweep is at least this: every bundled dataset reaches
#: 20 or more, and a sweep in which no run sees one token per parameter most likely has
#: model size and tokens swapped, or tokens counted in sequences.
MIN_LARGEST_TOKENS_PER_PARAM = 1.0


def _rows_text(labels: Iterable) -> str:
    labels = list(labels)
    shown = ", ".join(str(label) for label in labels[:_SHOWN_ROWS])
    more = len(labels) - _SHOWN_ROWS
    return f"{shown} (and {more} more)" if more > 0 else shown


def _fail(column: str, role: str, problem: str, rows: Iterable, values: Iterable, fix: str):
    rows, values = list(rows), list(values)
    raise SweepValidationError(
        f"column {column!r} ({role}) {problem} in {len(rows)} row(s): rows {_rows_text(rows)} "
        f"hold {_rows_text(repr(v) for v in values)}. {fix}"
    )


_ARGUMENT = {
    "n_params": "n",
    "n_tokens": "d",
    "loss": "loss",
    "group": "group",
    "run": "run",
    "step": "step",
    "flops": "flops",
}


def _edits(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, swaps."""
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, start=1):
        row = [i]
        for j, cb in enumerate(b, start=1):
            best = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                best = min(best, rows[-2][j - 2] + 1)
            row.append(best)
        rows.append(row)
    return rows[-1][-1]


def _near_misses(name: str, columns: Iterable) -> list[str]:
    """Columns that are probably ``name`` misspelt: same up to case, separators and a
    plural ``s``, or (for names of 4+ letters) one edit away."""

    def key(text: str) -> str:
        return "".join(ch for ch in text.casefold() if ch.isalnum()).removesuffix("s")

    return [
        str(c)
        for c in columns
        if key(str(c)) == key(name) or (len(name) >= 4 and _edits(str(c), name) <= 1)
    ]


def _resolve(df: pd.DataFrame, role: str, name: str | None, required: bool) -> str | None:
    if name is None:
        return None
    if name in df.columns:
        return name
    if not required and name == role:
        # an optional canonical column that the table lacks; a near-miss is not used,
        # but never silently: it may be a misspelling
        near = _near_misses(name, df.columns)
        if near:
            arg = _ARGUMENT[role]
            instead = (
                "tokens are derived from flops instead"
                if role == "n_tokens"
                else f"the sweep has no {role} column"
            )
            warnings.warn(
                f"column {near[0]!r} looks like a misspelling of {role!r}, which the table "
                f"lacks, so it was not used ({instead}; {near[0]!r} stays on the sweep as "
                f"an extra column, unchanged). If it holds {role}, pass {arg}={near[0]!r}; "
                f"if not, pass {arg}=None to silence this warning.",
                SweepWarning,
                stacklevel=3,
            )
        return None
    close = difflib.get_close_matches(str(name), [str(c) for c in df.columns], n=1)
    arg = _ARGUMENT[role]
    hint = f" Did you mean {close[0]!r}? Pass {arg}={close[0]!r}." if close else ""
    other = (
        " (or give training FLOPs with flops=...; tokens are then derived)" if arg == "d" else ""
    )
    raise SweepValidationError(
        f"column {name!r} for {role} is missing; the table has columns "
        f"{sorted(map(str, df.columns))}.{hint} Name the column that holds {role} with "
        f"{arg}=...{other}."
    )


def _scalar_float(value) -> float:
    """One cell as a float, or NaN when it is not a real number (text, bool, list, ...)."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return np.nan
    if isinstance(value, str):
        number = pd.to_numeric(value, errors="coerce")
        return np.nan if isinstance(number, (bool, np.bool_)) else float(number)
    try:
        return float(value)
    except OverflowError:  # an integer beyond the float range
        return np.inf
    except (TypeError, ValueError):  # complex numbers, lists, dicts, timestamps
        return np.nan


def _as_float(raw: pd.Series) -> pd.Series:
    dtype = raw.dtype
    if (
        pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
        and not pd.api.types.is_complex_dtype(dtype)
    ):
        return raw.astype(float)
    return raw.map(_scalar_float, na_action="ignore").astype(float)


def _numeric(df: pd.DataFrame, column: str, role: str) -> pd.Series:
    raw = df[column]
    values = _as_float(raw)
    bad = values.isna() & raw.notna()
    if bad.any():
        _fail(
            column,
            role,
            "has non-numeric values",
            df.index[bad],
            raw[bad],
            "Convert them to numbers (e.g. '1.3B' -> 1.3e9) or remove those rows.",
        )
    missing = ~np.isfinite(values)
    if missing.any():
        _fail(
            column,
            role,
            "has missing or infinite values",
            df.index[missing],
            raw[missing],
            "Fill in the measured value or remove those rows before building the Sweep.",
        )
    return values


def _label_kind(kind: type) -> str | None:
    """``"text"`` or ``"number"`` for values of a usable label type, None for others."""
    if issubclass(kind, str):
        return "text"
    if issubclass(kind, (bool, np.bool_)):
        return None
    return "number" if issubclass(kind, _NUMBER_TYPES) else None


def _type_codes(values: np.ndarray) -> tuple[np.ndarray, list[type]]:
    """Each value's type as a code into the list of types (integer codes: NumPy compares
    some classes, such as ``pd.Timestamp``, with ``==`` as a scalar)."""
    seen: dict[type, int] = {}
    codes = np.fromiter(
        (seen.setdefault(type(value), len(seen)) for value in values),
        dtype=np.intp,
        count=len(values),
    )
    return codes, list(seen)


def _distinct_labels(values: np.ndarray, type_codes: np.ndarray) -> tuple[np.ndarray, list]:
    """Each value's code, and the distinct values: equal values of one type share a code,
    values of different types never do (pandas alone would merge 1, 1.0 and True)."""
    codes = np.empty(len(values), dtype=np.intp)
    distinct: list = []
    for type_code in np.unique(type_codes):
        where = np.flatnonzero(type_codes == type_code)
        part, uniques = pd.factorize(values[where])
        codes[where] = part + len(distinct)
        distinct.extend(uniques)
    return codes, distinct


def _label_texts(labels: pd.Series, column: str, role: str) -> pd.Series:
    """The labels as text, refusing what the conversion would merge, split or garble."""
    missing = labels.isna() | labels.eq("")
    if missing.any():
        _fail(
            column,
            role,
            "has missing (or empty) labels",
            labels.index[missing],
            labels[missing],
            f"Give every row a {role} label.",
        )
    values = labels.to_numpy(dtype=object)
    type_codes, types = _type_codes(values)
    kind_of = {kind: _label_kind(kind) for kind in types}
    odd = np.isin(type_codes, [i for i, kind in enumerate(types) if kind_of[kind] is None])
    if odd.any():
        _fail(
            column,
            role,
            "has labels that are neither text nor numbers",
            labels.index[odd],
            labels[odd],
            f"Write each {role} label as text (or a number); remove those rows "
            "or convert them deliberately, e.g. df[col].map(my_naming).",
        )
    codes, distinct = _distinct_labels(values, type_codes)
    table = pd.DataFrame(
        {
            "value": pd.Series(distinct, dtype=object),
            "kind": [kind_of[type(value)] for value in distinct],
            "text": [str(value) for value in distinct],
        }
    )

    def refuse(bad: pd.Series, problem: str, fix: str) -> None:
        rows = np.isin(codes, table.index[bad.to_numpy()])
        _fail(column, role, problem, labels.index[rows], labels[rows], fix)

    control = table["text"].str.contains(_CONTROL)
    if control.any():
        refuse(
            control,
            "has labels with control characters (NUL, tab, line break, ...)",
            "Remove those characters from the labels (e.g. df[col].str.replace("
            "r'[\\x00-\\x1f\\x7f]', '', regex=True)), or remove those rows.",
        )
    kinds = table.groupby("text")["kind"].nunique()
    mixed = table["text"].isin(kinds.index[kinds > 1])
    if mixed.any():
        refuse(
            mixed,
            "mixes numbers and text that read the same (they would merge into one label)",
            "Write the labels one way: df[col].astype(str) if they name one "
            f"{role}, distinct names if not; or remove those rows.",
        )
    numbers = table[table["kind"] == "number"]
    spellings: dict = {}  # equal numbers (1, 1.0, np.int64(1)) share a key
    for value, text in zip(numbers["value"], numbers["text"], strict=True):
        spellings.setdefault(value, set()).add(text)
    split = (table["kind"] == "number") & table["value"].map(
        lambda value: len(spellings.get(value, ())) > 1
    )
    if split.any():
        refuse(
            split,
            "has equal numbers written differently (they would become different labels)",
            "Write each label one way (e.g. all 1, or all 1.0), or "
            f"as distinct text if they are different {role}s; or remove those rows.",
        )
    return pd.Series(table["text"].to_numpy()[codes], index=labels.index, dtype=object)


def _check_runs(out: dict, roles: dict, index: pd.Index) -> None:
    """Refuse runs that span model sizes or groups, and tokens that fall as steps grow."""
    runs = out["run"]
    for role in ("n_params", "group"):
        if role not in out:
            continue
        spread = out[role].groupby(runs).nunique() > 1
        shared = runs.isin(spread.index[spread])
        if shared.any():
            names = list(spread.index[spread])
            _fail(
                roles["run"],
                "run",
                f"gives {len(names)} run id(s) ({_rows_text(repr(r) for r in names)}) to "
                f"rows with different {role} values",
                index[shared],
                out[role][shared],
                "A run id names one training run, "
                f"with one {role}: give each run its own id (e.g. combine the seed and "
                "the model size), correct or remove those rows, or pass run=None if the "
                "column is not a run id.",
            )
    if "step" in out:
        _check_token_order(out, roles, index)


def _check_token_order(out: dict, roles: dict, index: pd.Index) -> None:
    """Within a run, a checkpoint at a later step cannot have seen fewer tokens."""
    points = pd.DataFrame({"run": out["run"], "step": out["step"], "tokens": out["n_tokens"]})
    per_step = points.groupby(["run", "step"], sort=True)["tokens"].max()
    before = per_step.groupby(level="run").cummax().groupby(level="run").shift()
    keys = pd.MultiIndex.from_frame(points[["run", "step"]])
    earlier = before.reindex(keys).to_numpy()
    falls = pd.Series(points["tokens"].to_numpy() < earlier, index=index)
    if falls.any():
        names = sorted(points["run"][falls].unique())
        role = "n_tokens" if roles["n_tokens"] else "flops"
        _fail(
            roles[role],
            role,
            f"falls as {roles['step']!r} (step) grows within run(s) "
            f"{_rows_text(repr(r) for r in names)}",
            index[falls],
            out[role][falls],
            "Tokens seen can only grow during a run: check that "
            "the step and token columns describe the same checkpoints and that each run "
            "id names one run; correct or remove those rows.",
        )


def _check_units(out: dict, roles: dict, index: pd.Index) -> None:
    """Warn (never fail, never change) when tokens per parameter look like mixed units."""
    n_col, d_col = roles["n_params"], roles["n_tokens"]
    if d_col is None:
        tokens = f"tokens derived from column {roles['flops']!r} (flops) as C / (6N)"
        swap = ""
        units = (
            f"check that {roles['flops']!r} holds training FLOPs (not PF-days or "
            f"FLOPs per token) and {n_col!r} holds parameters (not millions)"
        )
    else:
        tokens = f"column {d_col!r} (n_tokens)"
        swap = f"if model size and tokens are swapped, pass n={d_col!r}, d={n_col!r}; "
        units = (
            f"if {d_col!r} counts sequences or batches, multiply it by the sequence "
            f"length (and batch size); if {n_col!r} or {d_col!r} is in millions or "
            "billions, convert it to plain counts"
        )
    # log space: 1e300 / 1e-300 must not overflow into a misleading inf
    log_ratio = np.log(out["n_tokens"].to_numpy(float)) - np.log(out["n_params"].to_numpy(float))
    ratio = np.exp(np.clip(log_ratio, -700.0, 700.0))
    low, high = TOKENS_PER_PARAM_RANGE
    kept = "Nothing was changed or dropped; if the values are right, ignore this warning."
    if ratio.max() < MIN_LARGEST_TOKENS_PER_PARAM:
        largest = int(np.argmax(ratio))
        warnings.warn(
            f"implausible units: {tokens} divided by column {n_col!r} (n_params) is below "
            f"{MIN_LARGEST_TOKENS_PER_PARAM:g} token per parameter in every row, rows "
            f"{_rows_text(index)} (largest D/N {ratio[largest]:.3g}, at row "
            f"{index[largest]}), but real sweeps reach at least ~20 tokens per parameter. "
            f"Likely fix: {swap}{units}. {kept}",
            SweepWarning,
            stacklevel=3,
        )
        return
    for outside, side, bound in ((ratio < low, "below", low), (ratio > high, "above", high)):
        if outside.any():
            warnings.warn(
                f"implausible units: {tokens} divided by column {n_col!r} (n_params) gives "
                f"tokens per parameter {side} {bound:g} in {int(outside.sum())} row(s): rows "
                f"{_rows_text(index[outside])} have D/N "
                f"{_rows_text(f'{r:.3g}' for r in ratio[outside])}, while real sweeps stay "
                f"within about {low:g} to {high:g}. Likely fix: {swap}{units}. {kept}",
                SweepWarning,
                stacklevel=3,
            )


def _check_index(index: pd.Index) -> None:
    """Rows are named by their labels (in errors, in :meth:`Sweep.exclude`): one each."""
    repeated = index.duplicated(keep=False)
    if repeated.any():
        labels = list(dict.fromkeys(index[repeated]))
        positions = np.flatnonzero(repeated)
        raise SweepValidationError(
            f"row label(s) {_rows_text(repr(label) for label in labels)} appear more than "
            f"once in the table's index, in {len(positions)} rows (positions "
            f"{_rows_text(positions)}); rows are named by their labels (in errors and in "
            "sweep.exclude), so each must be unique. Number the rows with "
            "df.reset_index(drop=True), or df.reset_index() to keep the old labels as a column."
        )


def _check_extra_names(extra: list, canonical: pd.Index, roles: dict) -> None:
    """An unused column may not share a name with a column the sweep builds: it would be
    lost."""
    taken = [c for c in extra if c in canonical]
    if not taken:
        return

    def built(column: str) -> str:
        if column == "excluded":
            return (
                "'excluded' is the sweep's exclusion flag (to exclude rows, rename the column "
                "and pass it to sweep.exclude(mask, reason=...))"
            )
        if roles.get(column):
            return f"{column!r} is built from column {roles[column]!r}"
        return f"{column!r} is derived from column {roles['flops']!r}"

    raise SweepValidationError(
        f"column name(s) {[str(c) for c in taken]} of the table are names of the sweep's own "
        f"columns: {'; '.join(built(c) for c in taken)}. The table's column would be lost: "
        "rename it (df.rename(columns=...)), or pass it as that quantity (e.g. n='n_params')."
    )


@dataclass(frozen=True)
class Sweep:
    """A validated sweep table. Build it with :meth:`from_frame` or :func:`read_sweep`.

    ``frame`` holds the canonical columns first, then an ``excluded`` flag, then
    every other column the user gave, unchanged. It is a copy of the validated table,
    which only the sweep's own methods (:meth:`exclude`) derive new sweeps from.
    """

    _table: pd.DataFrame
    derivations: tuple[str, ...] = ()
    source: Mapping = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "source", MappingProxyType(dict(self.source)))

    @property
    def frame(self) -> pd.DataFrame:
        """The validated table, as a copy (pandas copies on write, so this is cheap):
        changing a sweep means building a new one, through validation again."""
        return self._table.copy(deep=False)

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        n: str = "n_params",
        d: str | None = "n_tokens",
        loss: str = "loss",
        group: str | None = "group",
        run: str | None = "run",
        step: str | None = "step",
        flops: str | None = "flops",
        source: Mapping | None = None,
    ) -> Sweep:
        """Validate ``df`` and map its columns onto the canonical ones.

        Each column argument names the column of ``df`` that holds that quantity. Optional
        columns (``group``, ``run``, ``step``, ``flops``) are used when present under
        the given name. When ``d`` is missing and ``flops`` is given, tokens are derived
        as ``flops / (6 · n)``. A column name given explicitly that ``df`` lacks is an
        error; a default optional name that ``df`` lacks is skipped, with a warning when a
        column looks like a misspelling of it.

        Parameters
        ----------
        df
            the sweep table, one row per measured point; columns not named here stay on
            the sweep as extra columns, unchanged.
        n
            the column of parameter counts (required; values > 0).
        d
            the column of training tokens (values > 0). ``None``, or the default name when
            the table lacks it, derives tokens from ``flops``; one of the two is required.
        loss
            the column of measured losses (required; values > 0).
        group
            the column of group labels (dataset, architecture, ...), read as text; used
            by pooled fits. ``None`` or a missing default name means no groups.
        run
            the column of run ids, read as text; with ``step``, several checkpoints per
            run form training curves. ``None`` or a missing default name means no runs.
        step
            the column of optimizer steps of each checkpoint (values >= 0), optional.
        flops
            the column of training FLOPs (values > 0), optional; used to derive tokens
            when ``d`` is not given.
        source
            where the table came from (for example ``{"name": ..., "path": ...}``), kept
            as ``sweep.source`` and recorded in every fit's ``info``.

        Returns
        -------
        Sweep
            the validated sweep, no row excluded.
        """
        if not isinstance(df, pd.DataFrame):
            raise SweepValidationError(
                f"expected a pandas DataFrame, got {type(df).__name__}. "
                "Use bayescale.read_sweep(path) for files."
            )
        if df.empty:
            raise SweepValidationError("the table has no rows: a sweep needs measured points.")
        dupes = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        if dupes:
            raise SweepValidationError(
                f"column name(s) {dupes} appear more than once; rename them so each is unique."
            )
        _check_index(df.index)
        roles = {
            "n_params": _resolve(df, "n_params", n, required=True),
            "loss": _resolve(df, "loss", loss, required=True),
            "group": _resolve(df, "group", group, required=False),
            "run": _resolve(df, "run", run, required=False),
            "step": _resolve(df, "step", step, required=False),
            "flops": _resolve(df, "flops", flops, required=False),
        }
        flops_col = roles["flops"]
        d_required = flops_col is None
        roles["n_tokens"] = _resolve(df, "n_tokens", d, required=d_required) if d else None
        if roles["n_tokens"] is None and flops_col is None:
            raise SweepValidationError(
                "neither tokens nor FLOPs were given (d=None): pass d='<tokens column>' or "
                "flops='<FLOPs column>' (tokens are then derived as flops / (6·n))."
            )
        numeric = [(role, roles[role]) for role in _NUMERIC if roles[role] is not None]
        for i, (role, column) in enumerate(numeric):
            for other, other_column in numeric[i + 1 :]:
                if column == other_column:
                    raise SweepValidationError(
                        f"column {column!r} was given for both {role} and {other}; each "
                        f"quantity needs its own column. Pass {_ARGUMENT[role]}=... and "
                        f"{_ARGUMENT[other]}=... naming different columns."
                    )

        out = {}
        for role in _NUMERIC:
            column = roles[role]
            if column is None:
                continue
            values = _numeric(df, column, role)
            if role in _POSITIVE:
                bad = values <= 0
                what = "has values <= 0"
            else:
                bad = values < 0
                what = "has negative values"
            if bad.any():
                _fail(
                    column,
                    role,
                    what,
                    df.index[bad],
                    df[column][bad],
                    f"{role} must be {'> 0' if role in _POSITIVE else '>= 0'}; correct or "
                    "remove those rows.",
                )
            out[role] = values

        derivations = []
        if "n_tokens" not in out:
            out["n_tokens"] = out["flops"] / (6.0 * out["n_params"])
            bad = ~np.isfinite(out["n_tokens"]) | (out["n_tokens"] <= 0)
            if bad.any():
                _fail(
                    flops_col,
                    "flops",
                    f"over 6 · {roles['n_params']!r} gives no finite, positive token count",
                    df.index[bad],
                    df[flops_col][bad],
                    "Check both columns' units (FLOPs and parameters), or give tokens "
                    "directly with d=....",
                )
            derivations.append(
                f"n_tokens = {flops_col} / (6 · {roles['n_params']}) (C = 6ND), "
                "because no token column was given"
            )
        for role in ("group", "run"):
            if roles[role] is not None:
                out[role] = _label_texts(df[roles[role]], roles[role], role)
        if "run" in out:
            _check_runs(out, roles, df.index)

        frame = pd.DataFrame({c: out[c] for c in CANONICAL if c in out}, index=df.index)
        duplicated = frame.duplicated(keep=False)
        if duplicated.any():
            _fail(
                ", ".join(frame.columns),
                "all canonical columns",
                "repeats identical points",
                frame.index[duplicated],
                [tuple(point) for point in frame[duplicated].itertuples(index=False)],
                "Remove copies with df.drop_duplicates(), or give replicate runs "
                "distinct run ids (run=...).",
            )
        _check_units(out, roles, df.index)
        frame["excluded"] = False
        used = {c for c in roles.values() if c is not None}
        extra = [c for c in df.columns if c not in used]
        _check_extra_names(extra, frame.columns, roles)
        frame = pd.concat([frame, df[extra]], axis=1)
        return cls(_table=frame, derivations=tuple(derivations), source=source or {})

    # ----------------------------------------------------------------- views
    @property
    def fit_frame(self) -> pd.DataFrame:
        """The rows a fit uses: every row not excluded."""
        return self._table[~self._table["excluded"]]

    @property
    def has_groups(self) -> bool:
        return "group" in self._table.columns

    @property
    def groups(self) -> list[str]:
        """Sorted group labels of the fitted rows (empty without a group column)."""
        if not self.has_groups:
            return []
        return sorted(self.fit_frame["group"].unique())

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        n = self.fit_frame["n_params"]
        excluded = int(self._table["excluded"].sum())
        name = self.source.get("name", "user table")
        return (
            f"Sweep({name}: {len(self._table)} points, {excluded} excluded, "
            f"{len(self.groups) or 1} group(s), N {n.min():.3g}–{n.max():.3g})"
        )

    # ----------------------------------------------------------- operations
    def exclude(self, rows, reason: str) -> Sweep:
        """Return a new sweep with ``rows`` left out of fits, for ``reason``.

        The rows stay on the sweep, flagged ``excluded``; the reason and the rows are
        recorded in ``derivations``, which every fit keeps in its ``info``. A stated
        exclusion is the caller's decision, so it does not warn; a mask or label that does
        not fit the sweep is an error.

        Parameters
        ----------
        rows
            row labels of ``sweep.frame`` (a list), or a boolean mask: a Series indexed
            like ``sweep.frame``, or a list or array with one entry per row.
        reason
            why the rows are left out, recorded in ``derivations``.

        Returns
        -------
        Sweep
            a new sweep; this one is unchanged.
        """
        mask = self._exclusion_mask(rows)
        newly = mask & ~self._table["excluded"]
        table = self._table.copy()
        table.loc[mask, "excluded"] = True
        note = f"excluded {int(newly.sum())} row(s): {reason}"
        if newly.any():
            note += f" (rows {_rows_text(self._table.index[newly])})"
        return Sweep(_table=table, derivations=self.derivations + (note,), source=self.source)

    def _exclusion_mask(self, rows) -> pd.Series:
        """``rows`` of :meth:`exclude` as a boolean Series over the sweep's rows."""
        index = self._table.index
        if isinstance(rows, pd.Series):
            return _series_mask(rows, index)
        if isinstance(rows, (str, bytes)) or not np.iterable(rows):
            raise SweepValidationError(
                f"cannot exclude rows={rows!r}: pass a list of row labels (e.g. [{rows!r}]) "
                "or a boolean mask over sweep.frame."
            )
        values = list(rows)
        if values and all(_is_bool(v) for v in values):
            if len(values) != len(index):
                raise SweepValidationError(
                    f"cannot exclude rows: the boolean mask has {len(values)} entries but the "
                    f"sweep has {len(index)} rows. Give one entry per row of sweep.frame."
                )
            return pd.Series(values, index=index, dtype=bool)
        unknown = [label for label in values if not _has_label(index, label)]
        if unknown:
            raise SweepValidationError(
                f"cannot exclude rows {_rows_text(repr(u) for u in unknown)}: no such row "
                "labels in the sweep. Pass index labels of sweep.frame or a boolean mask."
            )
        repeated = pd.Index(values)[pd.Index(values).duplicated()].unique()
        if len(repeated):
            raise SweepValidationError(
                f"cannot exclude rows: labels {_rows_text(repr(r) for r in repeated)} are "
                "given more than once. A list of 0s and 1s meant as a mask is read as row "
                "labels: pass booleans instead (np.asarray(flags, dtype=bool)); a list of "
                "labels names each row once."
            )
        return pd.Series(index.isin(values), index=index)

    def arrays(self) -> dict[str, np.ndarray]:
        """The fitted rows as arrays: log N, log D, log loss, and integer group/run codes."""
        fit = self.fit_frame
        out = {
            "log_n": np.log(fit["n_params"].to_numpy(float)),
            "log_d": np.log(fit["n_tokens"].to_numpy(float)),
            "log_loss": np.log(fit["loss"].to_numpy(float)),
        }
        if self.has_groups:
            out["group"] = pd.Index(self.groups).get_indexer(fit["group"])
        return out


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def _has_label(index: pd.Index, label) -> bool:
    try:
        return label in index
    except TypeError:  # an unhashable value (a list, a dict) is no row label
        return False


def _series_mask(rows: pd.Series, index: pd.Index) -> pd.Series:
    """A boolean Series over exactly the sweep's rows; anything else is refused, not
    aligned (a missing row would silently count as not excluded)."""
    flags = pd.api.types.is_bool_dtype(rows.dtype) or rows.map(_is_bool).all()
    if not flags:
        raise SweepValidationError(
            f"cannot exclude rows: the Series passed holds {rows.dtype} values, not booleans, "
            "so it is neither a mask nor clearly a list of labels. Pass a boolean mask "
            "(e.g. flags.astype(bool) for 0/1 flags) or the labels as a list (list(labels))."
        )
    missing = index.difference(rows.index)
    extra = rows.index.difference(index)
    if len(missing) or len(extra) or rows.index.has_duplicates:
        raise SweepValidationError(
            "cannot exclude rows: the boolean mask is not indexed like sweep.frame (rows "
            f"missing from it: {_rows_text(missing) or 'none'}; labels not in the sweep: "
            f"{_rows_text(extra) or 'none'}; repeated labels: "
            f"{_rows_text(rows.index[rows.index.duplicated()].unique()) or 'none'}). Build the "
            "mask from sweep.frame, e.g. sweep.frame['loss'] > 5."
        )
    unknown = rows.isna()
    if unknown.any():
        raise SweepValidationError(
            f"cannot exclude rows: the boolean mask is missing (NA) at rows "
            f"{_rows_text(rows.index[unknown])}. Fill it with True or False."
        )
    return rows.reindex(index).astype(bool)


def _duplicates(names: Iterable) -> list[str]:
    names = [str(name) for name in names]
    return sorted({name for name in names if names.count(name) > 1})


def _refuse_duplicates(path: Path, names: Iterable, where: str = "the header") -> None:
    dupes = _duplicates(names)
    if dupes:
        raise SweepValidationError(
            f"{str(path)!r}: column name(s) {dupes} appear more than once in {where}; "
            "rename them in the file so each is unique (readers would otherwise rename "
            f"one silently, e.g. {dupes[0]!r} -> {dupes[0] + '.1'!r}, or keep only the "
            "last)."
        )


def _file_text(path: Path) -> str:
    """The file as UTF-8 text (a byte-order mark is dropped; ``.gz`` is decompressed)."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise SweepValidationError(
                f"cannot parse {str(path)!r} as gzip ({err}): the file is not gzip-compressed or "
                "is cut short. Compress the sweep table again (gzip sweep.csv)."
            ) from err
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise SweepValidationError(
            f"cannot parse {str(path)!r}: line {line} is not utf-8 text (byte "
            f"{data[err.start]:#04x} at offset {err.start}: {err.reason}). Save the file as "
            "UTF-8 (e.g. pandas' to_csv writes UTF-8; iconv -f latin1 -t utf-8 converts)."
        ) from err


def _is_blank(record: list[str]) -> bool:
    """A line pandas skips: empty, or only spaces (an empty quoted field is a row)."""
    return not record or (len(record) == 1 and record[0] != "" and not record[0].strip())


def _check_fields(path: Path, text: str, sep: str) -> list[str]:
    """The header's names, after checking that every data row has as many fields.

    With one field more in every data row pandas makes the first column the row index and
    shifts every other column by one; with more in some rows it fails naming rows by value,
    and with fewer it pads them with missing values."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    header, wrong, rows = None, [], 0
    try:
        for record in reader:
            if _is_blank(record):
                continue
            if header is None:
                header = record
                continue
            if len(record) != len(header):
                wrong.append((rows, reader.line_num, len(record)))
            rows += 1
    except csv.Error as err:
        raise SweepValidationError(
            f"cannot parse {str(path)!r}: line {reader.line_num}: {err}. Fix that line "
            "(quote fields that hold the delimiter, quotes or line breaks)."
        ) from err
    if wrong:
        _refuse_fields(path, header, wrong, rows, sep)
    return header or []


def _refuse_fields(path: Path, header: list[str], wrong: list, rows: int, sep: str) -> None:
    numbers, lines, counts = zip(*wrong, strict=True)
    names = ", ".join(repr(name) for name in header)
    every = len(wrong) == rows and set(counts) == {len(header) + 1}
    if every:
        problem = f"every data row has one field more, {len(header) + 1}"
    else:
        problem = f"{len(wrong)} data row(s) have {_rows_text(sorted(set(counts)))} fields"
    shift = (
        " Read as it is, pandas would make the first column the row index and shift every "
        "other column by one."
        if every
        else ""
    )
    raise SweepValidationError(
        f"{str(path)!r}: the header names {len(header)} column(s) ({names}) but {problem}: "
        f"rows {_rows_text(numbers)} (file lines {_rows_text(lines)}).{shift} Fix: if the "
        "header lacks a column name, add it; if those rows end with a stray delimiter "
        f"({sep!r}), remove it; quote fields that contain the delimiter; fill in missing "
        "fields (an empty field between delimiters is a missing value); or remove those rows."
    )


DELIMITED = {".csv": ",", ".csv.gz": ",", ".tsv": "\t"}
"""The delimited text files :func:`read_sweep` reads, by suffix, and their delimiters."""


def _read_delimited(path: Path, sep: str, labels: Iterable[str]) -> pd.DataFrame:
    text = _file_text(path)
    _refuse_duplicates(path, _check_fields(path, text, sep))
    df = pd.read_csv(io.StringIO(text), sep=sep)
    text_labels = [c for c in labels if c in df.columns]
    if text_labels and not df.empty:
        # labels keep their spelling: "01" stays "01", "NA" stays "NA"; only an empty
        # cell is a missing label
        raw = pd.read_csv(
            io.StringIO(text), sep=sep, usecols=text_labels, dtype=str, keep_default_na=False
        )
        raw.index = df.index
        for column in text_labels:
            df[column] = raw[column].astype(object).where(raw[column] != "", None)
    return df


class _DuplicateKeys(Exception):
    """A JSON object repeats a key (``json`` would silently keep the last value)."""


def _reject_duplicate_keys(pairs):
    if _duplicates(key for key, _ in pairs):
        raise _DuplicateKeys([key for key, _ in pairs])
    return dict(pairs)


def _read_jsonl(path: Path, labels: Iterable[str]) -> pd.DataFrame:
    records = []
    for number, line in enumerate(_file_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, object_pairs_hook=_reject_duplicate_keys)
        except _DuplicateKeys as err:
            _refuse_duplicates(path, err.args[0], where=f"line {number}")
        except ValueError as err:
            raise SweepValidationError(
                f"cannot parse {str(path)!r} as JSON Lines: line {number} is not valid "
                f"JSON ({err}). Write one JSON object per line."
            ) from err
        if not isinstance(record, dict):
            raise SweepValidationError(
                f"cannot parse {str(path)!r} as JSON Lines: line {number} holds a "
                f"{type(record).__name__}, not an object. Write one JSON object "
                '(\'{"n_params": ..., "n_tokens": ..., "loss": ...}\') per line.'
            )
        records.append(record)
    if not records:
        raise SweepValidationError(f"{str(path)!r} holds no JSON objects: the file has no rows.")
    # rows are labelled 0, 1, ... like the other readers; values are kept as JSON gave them
    df = pd.DataFrame.from_records(records)
    for column in labels:
        if column in df.columns:  # as written: pandas would turn 1 into 1.0 beside a 2.5
            df[column] = pd.Series([r.get(column) for r in records], index=df.index, dtype=object)
    return df


def _read_parquet(path: Path, labels: Iterable[str]) -> pd.DataFrame:
    import pyarrow.parquet as pq  # ImportError -> install hint below

    names = pq.read_schema(path).names
    _refuse_duplicates(path, names, where="the schema")
    df = pd.read_parquet(path)
    label_columns = [c for c in labels if c in names]
    if label_columns:  # as stored: pandas turns integers with a missing value into floats
        table = pq.read_table(path, columns=label_columns)
        for column in label_columns:
            df[column] = pd.Series(table.column(column).to_pylist(), index=df.index, dtype=object)
    return df


def _suffix(path: Path) -> str:
    return "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix


def read_table(path: str | Path, labels: Iterable[str] = ()) -> pd.DataFrame:
    """The table in a CSV, TSV, Parquet or JSON Lines file (chosen by suffix), read as
    :func:`read_sweep` reads a sweep's: UTF-8, duplicated column names and CSV rows with
    more or fewer fields than the header refused, the columns named in ``labels`` kept as
    written. An unreadable file raises :class:`~bayescale.errors.SweepValidationError`
    naming it and the fix."""
    path = Path(path)
    if not path.exists():
        raise SweepValidationError(f"no file at {str(path)!r}; check the path.")
    if path.is_dir():
        raise SweepValidationError(f"{str(path)!r} is a directory; pass the file in it.")
    suffix = _suffix(path)
    readers = {
        **{
            ending: partial(_read_delimited, sep=sep, labels=labels)
            for ending, sep in DELIMITED.items()
        },
        ".parquet": lambda p: _read_parquet(p, labels),
        ".jsonl": lambda p: _read_jsonl(p, labels),
    }
    if suffix not in readers:
        raise SweepValidationError(
            f"cannot read {path.name!r}: unknown suffix {suffix!r}; expected one of "
            f"{sorted(readers)}."
        )
    if path.stat().st_size == 0:
        raise SweepValidationError(
            f"{str(path)!r} is empty (zero bytes): the file holds no header and no rows. "
            "Write the table into it, with a header line naming the columns."
        )
    try:
        df = readers[suffix](path)
    except ImportError as err:
        raise SweepValidationError(
            f"reading {path.name!r} needs pyarrow: pip install 'bayescale[parquet]'."
        ) from err
    except SweepValidationError:
        raise
    except (ValueError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise SweepValidationError(f"cannot parse {str(path)!r} as {suffix}: {err}") from err
    return df


def read_sweep(path: str | Path, **columns) -> Sweep:
    """Read a sweep from CSV, Parquet or JSON Lines (chosen by suffix) and validate it.

    Files are UTF-8. Duplicated column names in the file are an error (readers would
    rename or drop them), as are CSV or TSV rows with more or fewer fields than the
    header; label columns (``group``, ``run``) are read exactly as written. Other columns
    of a CSV or TSV file are read as :func:`pandas.read_csv` reads them: a column of
    ``01`` and ``NA`` becomes ``1.0`` and a missing value. To keep such a column's text, read
    the file with ``pandas.read_csv(path, dtype={column: str}, keep_default_na=False)`` and
    pass the frame to :meth:`Sweep.from_frame`.

    Parameters
    ----------
    path
        the file: ``.csv``, ``.csv.gz``, ``.tsv``, ``.parquet`` (needs pyarrow) or
        ``.jsonl``.
    **columns
        passed to :meth:`Sweep.from_frame` (``n=``, ``d=``, ``loss=``, ...) to name the
        file's columns; ``source`` holds the file's name and path, and what a ``source=``
        mapping given here adds to them.

    Returns
    -------
    Sweep
        the validated sweep.
    """
    path = Path(path)
    labels = [columns.get(role, role) for role in ("group", "run")]
    df = read_table(path, [label for label in labels if label is not None])
    if len(df.columns) == 0:
        raise SweepValidationError(
            f"{str(path)!r} has no columns: a sweep needs at least n_params, n_tokens (or "
            "flops) and loss columns."
        )
    if df.empty:
        raise SweepValidationError(
            f"{str(path)!r} has a header ({sorted(map(str, df.columns))}) but no data rows: "
            "a sweep needs measured points. Add one row per (model size, tokens, loss) point."
        )
    given = columns.pop("source", None) or {}
    if not isinstance(given, Mapping):
        raise SweepValidationError(
            f"source must be a mapping (e.g. {{'paper': 'Hoffmann et al. 2022'}}), got "
            f"{type(given).__name__}; read_sweep adds the file's name and path to it."
        )
    source = {"name": path.name, "path": str(path), **given}
    try:
        return Sweep.from_frame(df, **columns, source=source)
    except SweepValidationError as err:
        if _suffix(path) not in DELIMITED:
            raise
        raise SweepValidationError(
            f"{err} (Rows count the data rows of {path.name!r} from 0, blank lines left "
            "out: row 0 is the first row under the header.)"
        ) from err
