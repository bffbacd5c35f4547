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
table keeps every row, in input order, with its values; rows a user excludes stay on
the sweep, flagged in the ``excluded`` column, and are listed in a
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

Files (:func:`read_sweep`) are checked for duplicated column names before pandas can
rename them (``x``, ``x.1``), and label columns (``group``, ``run``) are read as text,
so that labels such as ``"01"`` or ``"NA"`` keep their exact spelling.
"""

from __future__ import annotations

import difflib
import json
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from bayescale.errors import SweepValidationError, SweepWarning

CANONICAL = ("n_params", "n_tokens", "loss", "group", "run", "step", "flops")
_POSITIVE = ("n_params", "n_tokens", "loss", "flops")
_NUMERIC = ("n_params", "n_tokens", "loss", "flops", "step")
_SHOWN_ROWS = 5

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


@dataclass(frozen=True)
class Sweep:
    """A validated sweep table. Build it with :meth:`from_frame` or :func:`read_sweep`.

    ``frame`` holds the canonical columns first, then an ``excluded`` flag, then
    every other column the user gave, unchanged.
    """

    frame: pd.DataFrame
    derivations: tuple[str, ...] = ()
    source: Mapping = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "source", MappingProxyType(dict(self.source)))

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

        Each argument names the column of ``df`` that holds that quantity. Optional
        columns (``group``, ``run``, ``step``, ``flops``) are used when present under
        the given name. When ``d`` is missing and ``flops`` is given, tokens are derived
        as ``flops / (6 · n)``.
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
                labels = df[roles[role]]
                missing = labels.isna() | labels.map(lambda v: isinstance(v, str) and v == "")
                if missing.any():
                    _fail(
                        roles[role],
                        role,
                        "has missing (or empty) labels",
                        df.index[missing],
                        labels[missing],
                        f"Give every row a {role} label.",
                    )
                out[role] = labels.astype(str)

        frame = pd.DataFrame({c: out[c] for c in CANONICAL if c in out}, index=df.index)
        duplicated = frame.duplicated(keep=False)
        if duplicated.any():
            _fail(
                ", ".join(frame.columns),
                "all canonical columns",
                "repeats identical points",
                frame.index[duplicated],
                frame.index[duplicated],
                "Remove copies with df.drop_duplicates(), or give replicate runs "
                "distinct run ids (run=...).",
            )
        _check_units(out, roles, df.index)
        frame["excluded"] = False
        used = {c for c in roles.values() if c is not None}
        extra = df[[c for c in df.columns if c not in used and c not in frame.columns]]
        frame = pd.concat([frame, extra], axis=1)
        return cls(frame=frame, derivations=tuple(derivations), source=source or {})

    # ----------------------------------------------------------------- views
    @property
    def fit_frame(self) -> pd.DataFrame:
        """The rows a fit uses: every row not excluded."""
        return self.frame[~self.frame["excluded"]]

    @property
    def has_groups(self) -> bool:
        return "group" in self.frame.columns

    @property
    def groups(self) -> list[str]:
        """Sorted group labels of the fitted rows (empty without a group column)."""
        if not self.has_groups:
            return []
        return sorted(self.fit_frame["group"].unique())

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        n = self.fit_frame["n_params"]
        excluded = int(self.frame["excluded"].sum())
        name = self.source.get("name", "user table")
        return (
            f"Sweep({name}: {len(self.frame)} points, {excluded} excluded, "
            f"{len(self.groups) or 1} group(s), N {n.min():.3g}–{n.max():.3g})"
        )

    # ----------------------------------------------------------- operations
    def exclude(self, rows, reason: str) -> Sweep:
        """Return a new sweep with ``rows`` (index labels or a boolean mask) left out of fits.

        The rows stay on the sweep, flagged ``excluded``, and are listed in a
        :class:`SweepWarning` together with ``reason``.
        """
        mask = pd.Series(False, index=self.frame.index)
        if isinstance(rows, pd.Series) and rows.dtype == bool:
            mask = rows.reindex(self.frame.index, fill_value=False)
        else:
            labels = list(rows)
            unknown = [r for r in labels if r not in self.frame.index]
            if unknown:
                raise SweepValidationError(
                    f"cannot exclude rows {_rows_text(unknown)}: no such row labels in the "
                    "sweep. Pass index labels of sweep.frame or a boolean mask."
                )
            mask.loc[labels] = True
        newly = mask & ~self.frame["excluded"]
        if newly.any():
            warnings.warn(
                f"{int(newly.sum())} row(s) excluded from fitting ({reason}): rows "
                f"{_rows_text(self.frame.index[newly])}. They remain on the sweep "
                "(sweep.frame, excluded=True).",
                SweepWarning,
                stacklevel=2,
            )
        frame = self.frame.copy()
        frame.loc[mask, "excluded"] = True
        note = f"excluded {int(newly.sum())} row(s): {reason}"
        return Sweep(frame=frame, derivations=self.derivations + (note,), source=self.source)

    def arrays(self) -> dict[str, np.ndarray]:
        """The fitted rows as arrays: log N, log D, log loss, and integer group/run codes."""
        fit = self.fit_frame
        out = {
            "log_n": np.log(fit["n_params"].to_numpy(float)),
            "log_d": np.log(fit["n_tokens"].to_numpy(float)),
            "log_loss": np.log(fit["loss"].to_numpy(float)),
        }
        if self.has_groups:
            out["group"] = np.searchsorted(self.groups, fit["group"].to_numpy(str))
        return out


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


def _read_delimited(path: Path, sep: str, labels: Iterable[str]) -> pd.DataFrame:
    header = (
        pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False)
        .iloc[0]
        .tolist()
    )
    _refuse_duplicates(path, header)
    df = pd.read_csv(path, sep=sep)
    text = [c for c in labels if c in df.columns]
    if text and not df.empty:
        # labels keep their spelling: "01" stays "01", "NA" stays "NA"; only an empty
        # cell is a missing label
        raw = pd.read_csv(path, sep=sep, usecols=text, dtype=str, keep_default_na=False)
        raw.index = df.index
        for column in text:
            df[column] = raw[column].astype(object).where(raw[column] != "", None)
    return df


class _DuplicateKeys(Exception):
    """A JSON object repeats a key (``json`` would silently keep the last value)."""


def _reject_duplicate_keys(pairs):
    if _duplicates(key for key, _ in pairs):
        raise _DuplicateKeys([key for key, _ in pairs])
    return dict(pairs)


def _read_jsonl(path: Path) -> pd.DataFrame:
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
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
    return pd.DataFrame.from_records(records)


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq  # ImportError -> install hint below

    _refuse_duplicates(path, pq.read_schema(path).names, where="the schema")
    return pd.read_parquet(path)


def read_sweep(path: str | Path, **columns) -> Sweep:
    """Read a sweep from CSV, Parquet or JSON Lines (chosen by suffix) and validate it.

    ``columns`` are passed to :meth:`Sweep.from_frame` (``n=``, ``d=``, ``loss=``, ...).
    Duplicated column names in the file are an error (readers would rename or drop
    them), and label columns (``group``, ``run``) are read as text, exactly as written.
    """
    path = Path(path)
    if not path.exists():
        raise SweepValidationError(f"no file at {str(path)!r}; check the path.")
    if path.is_dir():
        raise SweepValidationError(f"{str(path)!r} is a directory; pass the sweep file in it.")
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    labels = [columns.get(role, role) for role in ("group", "run")]
    labels = [label for label in labels if label is not None]
    readers = {
        ".csv": lambda p: _read_delimited(p, ",", labels),
        ".csv.gz": lambda p: _read_delimited(p, ",", labels),
        ".tsv": lambda p: _read_delimited(p, "\t", labels),
        ".parquet": _read_parquet,
        ".jsonl": _read_jsonl,
    }
    if suffix not in readers:
        raise SweepValidationError(
            f"cannot read {path.name!r}: unknown suffix {suffix!r}; expected one of "
            f"{sorted(readers)}."
        )
    if path.stat().st_size == 0:
        raise SweepValidationError(
            f"{str(path)!r} is empty (zero bytes): the file holds no header and no rows. "
            "Write the sweep table into it, with a header line naming the columns."
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
    return Sweep.from_frame(df, **columns, source={"name": path.name, "path": str(path)})
