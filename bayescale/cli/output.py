"""What the commands print: sizes in words (``46.3B``), tables of medians and credible
intervals with the share of draws that never reach a quantity, strict JSON, and
paragraphs wrapped for the terminal."""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Mapping


def human(value: float, unit: str) -> str:
    """``4.63e10, "parameters"`` -> ``"46.3B"``; ``inf`` -> ``"unreachable"``; ``nan`` ->
    ``"undefined"``; plain 3-4 significant digits otherwise. Hand-written for the LLM
    convention of model and data sizes (k, M, B, T): matplotlib's ``EngFormatter`` gives SI
    prefixes (``46.3G``), and no runtime dependency of bayescale gives ``B``."""
    if math.isinf(value) and value > 0:
        return "unreachable"
    if math.isnan(value):
        return "undefined"
    if math.isfinite(value) and unit in ("parameters", "tokens") and abs(value) < 1e15:
        for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= size:
                return f"{value / size:.3g}{suffix}"
    return f"{value:.4g}"


def table_row(name: str, row, unit: str, ci: float, width: int = 22) -> str:
    """One line of a table: the median, the ``ci`` interval, the unit, and the share of
    draws that never reach the quantity where there are any."""
    from bayescale.draws import percent

    _, lower, upper = value_columns(ci)
    interval = f"[{human(row[lower], unit)}, {human(row[upper], unit)}]"
    line = f"  {name:<{width}}{human(row['median'], unit):>11}  {interval:<26}{unit}"
    notes = [
        f"{what} in {percent(share)} of draws"
        for what, share in (
            ("unreachable", row.get("infinite", 0.0)),
            ("undefined", row.get("undefined", 0.0)),
        )
        if share > 0
    ]
    return line + (f"  ({'; '.join(notes)}; see the warning)" if notes else "")


def interval_table(draws, ci: float):
    """``draws.interval(ci)`` with ``infinite`` and ``undefined``: on each row, the share of
    draws in which the quantity is infinite (a size or compute that the draw never reaches)
    or not a number (a query the draw cannot answer, which a warning explains)."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    from bayescale.draws import SAMPLE_DIMS

    table = draws.interval(ci)
    parts = []
    for name, values in draws.dataset.data_vars.items():
        shares = xr.Dataset(
            {
                "infinite": np.isinf(values).mean(SAMPLE_DIMS),
                "undefined": np.isnan(values).mean(SAMPLE_DIMS),
            }
        )
        dims = list(shares.dims)
        part = (
            shares.to_dataframe().reset_index()[[*dims, "infinite", "undefined"]]
            if dims
            else pd.DataFrame({k: [float(v)] for k, v in shares.items()})
        )
        parts.append(part.assign(quantity=name))
    shares = pd.concat(parts, ignore_index=True)
    keys = [c for c in shares.columns if c not in ("infinite", "undefined")]
    # a budget given twice has two rows with one set of keys: one share each, not four
    shares = shares.drop_duplicates(subset=keys)
    out = table.merge(shares, on=keys, how="left", validate="many_to_one")
    out.attrs.update(table.attrs)
    return out


def blocks(table, by: list[str]):
    """The rows of an :func:`interval_table` in blocks, one per value of the ``by``
    columns as asked: ``(values, rows)``, in the order asked, a budget asked twice in two
    blocks (as the JSON rows keep it twice)."""
    asked = table.groupby(["quantity", *by], sort=False).cumcount()
    for key, rows in table.groupby([*(table[column] for column in by), asked], sort=False):
        yield key[:-1], rows


def value_columns(ci: float) -> tuple[str, str, str]:
    """The value columns of an :func:`interval_table` (and keys of its JSON rows): the
    ``median`` and the bounds of the ``ci`` interval, named as ``az.summary`` and
    :meth:`~bayescale.draws.Draws.interval` name them (``eti_5%``, ``eti_95%`` at 0.9)."""
    from bayescale.draws import interval_columns

    return ("median", *interval_columns(ci))


def records(table, ci: float) -> list[dict]:
    """The rows of an :func:`interval_table` for JSON: coordinates a row does not have are
    left out, and a row whose values are not all finite says why."""
    from bayescale.draws import percent

    values = value_columns(ci)
    rows = []
    for record in table.to_dict(orient="records"):
        share = record.pop("infinite", 0.0)
        undefined = record.pop("undefined", 0.0)
        row = {
            k: v
            for k, v in record.items()
            if k in values or not (isinstance(v, float) and math.isnan(v))
        }
        if not all(math.isfinite(row[k]) for k in values if k in row):
            reasons = [f"unreachable in {percent(share)} of draws"] if share > 0 else []
            reasons += [f"undefined in {percent(undefined)} of draws"] if undefined > 0 else []
            row["reason"] = "; ".join(reasons) or "not a number in some draws"
        rows.append(row)
    return rows


def strict(value):
    """``value`` as strict JSON can hold it: numpy scalars as Python ones, infinite, NaN
    and missing numbers as ``None``, and an object that held one with a ``"reason"``
    naming them (unless it gives one)."""
    import pandas as pd

    if isinstance(value, Mapping):
        out = {str(k): strict(v) for k, v in value.items()}
        odd = [
            f"{k}: {_not_finite(v)}"
            for k, v in value.items()
            if out[str(k)] is None and v is not None
        ]
        if odd and "reason" not in out:
            out["reason"] = "; ".join(odd)
        return out
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value


def _not_finite(value) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "infinite"
    return "not a number" if isinstance(value, float) else "missing"


def emit(data) -> None:
    """Print ``data`` as strict JSON (see the module docstring)."""
    print(json.dumps(strict(data), indent=2, allow_nan=False, default=str))


def paragraph(text: str) -> str:
    """``text`` wrapped at 100 columns, never inside a flag or a path."""
    return textwrap.fill(text, width=100, break_on_hyphens=False, break_long_words=False)
