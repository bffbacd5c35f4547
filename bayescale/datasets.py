"""Bundled sweep tables: list them, read their provenance cards, load them as Sweeps.

Each dataset is a tidy CSV (``n_params, n_tokens, loss`` first, then ``group, run,
step, flops`` where they apply, then dataset-specific columns) with a JSON card
beside it holding the citation, licence, column descriptions, what was derived,
caveats and the CSV's sha256. The files ship inside the wheel, so this works after
a plain ``pip install`` from any directory. ``python -m bayescale.ingest``
regenerates them from the raw published files.

Example::

    import bayescale as bs
    bs.list_datasets()                    # one row per bundled dataset
    sweep = bs.load_dataset("chinchilla")  # a validated Sweep; its card is sweep.source
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pandas as pd

from bayescale.errors import InputError
from bayescale.resources import package_dir
from bayescale.sweep import Sweep

_OPTIONAL = ("group", "run", "step", "flops")


def _names(folder: Path) -> list[str]:
    return sorted(path.stem for path in folder.glob("*.json"))


def _read_card(folder: Path, name: str) -> dict:
    names = _names(folder)
    if name not in names:
        raise InputError(f"no bundled dataset named {name!r}; available datasets: {names}.")
    return json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))


def dataset_card(name: str) -> dict:
    """The provenance card of dataset ``name``: citation, licence, columns, caveats, checksums.

    Parameters
    ----------
    name
        a bundled dataset's name (:func:`list_datasets`).

    Returns
    -------
    dict
        the card, as stored beside the dataset's CSV.
    """
    return _read_card(package_dir("data"), name)


def _reference(work: dict) -> str:
    where = f"arXiv:{work['arxiv']}" if work.get("arxiv") else work.get("url", "no paper")
    return f"{work['short']} {work['year']} ({where})"


def _citation(citation: dict) -> str:
    text = _reference(citation)
    extraction = citation.get("extraction")
    if extraction:
        text += f"; extracted by {_reference(extraction)}"
    return text


def list_datasets() -> pd.DataFrame:
    """One row per bundled dataset: name, rows, groups, runs, curves, citation, licence.

    Returns
    -------
    pandas.DataFrame
        columns ``name``, ``rows``, ``groups`` (the number of groups), ``runs`` (missing
        for a dataset without runs), ``curves`` (whether it holds training curves),
        ``citation`` and ``licence``.
    """
    folder = package_dir("data")
    cards = [_read_card(folder, name) for name in _names(folder)]
    return pd.DataFrame(
        {
            "name": pd.Series([card["name"] for card in cards], dtype=object),
            "rows": pd.Series([card["rows"] for card in cards], dtype="int64"),
            "groups": pd.Series([len(card["groups"]) for card in cards], dtype="int64"),
            "runs": pd.Series([card["runs"] for card in cards], dtype="Int64"),
            "curves": pd.Series([card["curves"] for card in cards], dtype=bool),
            "citation": pd.Series([_citation(card["citation"]) for card in cards], dtype=object),
            "licence": pd.Series([card["licence"] for card in cards], dtype=object),
        }
    )


def load_dataset(name: str | None = None, group: str | None = None) -> Sweep | pd.DataFrame:
    """Load bundled dataset ``name`` as a :class:`~bayescale.sweep.Sweep`.

    The CSV's sha256 is checked against its card before it is parsed, and the card
    becomes ``sweep.source``.

    Parameters
    ----------
    name
        a bundled dataset's name; ``None`` returns :func:`list_datasets` instead.
    group
        another column of the table to group by (the card's ``columns`` lists them),
        e.g. ``load_dataset("routing_clark2022", group="architecture")`` for one group per
        architecture across model sizes. ``None`` uses the bundled ``group`` column, which
        stays on the sweep as ``bundled_group`` when another column groups it.

    Returns
    -------
    Sweep or pandas.DataFrame
        the validated sweep, or the table of datasets when ``name`` is ``None``.
    """
    if name is None:
        return list_datasets()
    folder = package_dir("data")
    card = _read_card(folder, name)
    path = folder / f"{name}.csv"
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != card["sha256"]:
        raise InputError(
            f"{path} has sha256 {digest}, but its card records {card['sha256']}: the file "
            f"was modified or is corrupted. Reinstall bayescale, or in a repository checkout "
            f"regenerate it with `python -m bayescale.ingest {name}`."
        )
    frame = pd.read_csv(io.BytesIO(data))
    present = {column: column if column in frame.columns else None for column in _OPTIONAL}
    if group is not None:
        if group not in frame.columns:
            raise InputError(
                f"dataset {name!r} has no column {group!r} to group by; its "
                f"columns: {list(frame.columns)}."
            )
        if group != "group" and "group" in frame.columns:  # kept, beside the new groups
            frame = frame.rename(columns={"group": "bundled_group"})
        present["group"] = group
    labels = [present[role] for role in ("group", "run") if present[role] is not None]
    if labels:  # as written, like read_sweep: a label "07" stays "07", not the number 7
        text = pd.read_csv(io.BytesIO(data), usecols=labels, dtype=str, keep_default_na=False)
        for column in labels:
            frame[column] = text[column].astype(object).where(text[column] != "", None)
    return Sweep.from_frame(frame, n="n_params", d="n_tokens", loss="loss", source=card, **present)
