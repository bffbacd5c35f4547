"""Write one bundled dataset, ``<name>.csv`` and its provenance card ``<name>.json``.

Every bundled table shares one tidy schema: ``n_params, n_tokens, loss`` first, then
whichever of ``group, run, step, flops`` apply (in that order), then columns specific
to the dataset. One row is one measured point; loss is in nats.

Both files are written byte for byte reproducibly: the CSV with pandas' shortest
round-trip float text, ``\\n`` line ends and no index; the card as sorted, indented
JSON with a trailing newline. The writer fills in what can be read off the table
(``rows``, ``groups``, ``runs``, ``sha256``) and the ``ingest_command``, so a card
never disagrees with its table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from bayescale.errors import InputError

LEADING = ("n_params", "n_tokens", "loss")
OPTIONAL = ("group", "run", "step", "flops")
CARD_KEYS = (
    "name",
    "title",
    "description",
    "source",
    "citation",
    "licence",
    "licence_status",
    "curves",
    "columns",
    "derived",
    "caveats",
    "raw_sha256",
)
MANIFEST = "MANIFEST.sha256"


def sha256(data: bytes) -> str:
    """Hex sha256 digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def raw_digests(raw: Path, paths: Iterable[str]) -> dict[str, str]:
    """The sha256 of each raw file (paths relative to ``raw``), checked against the manifest.

    When ``raw/MANIFEST.sha256`` lists a file, its digest must match: a mismatch means
    the raw copy is not the one documented in ``SOURCES.md``.
    """
    manifest = {}
    if (raw / MANIFEST).is_file():
        for line in (raw / MANIFEST).read_text(encoding="utf-8").splitlines():
            digest, _, path = line.partition("  ")
            manifest[path] = digest
    digests = {}
    for path in sorted(paths):
        digest = sha256((raw / path).read_bytes())
        if path in manifest and manifest[path] != digest:
            raise InputError(
                f"raw file {path} has sha256 {digest}, but {raw / MANIFEST} records "
                f"{manifest[path]}: the raw copy changed. Restore it from the commit named in "
                "SOURCES.md before ingesting."
            )
        digests[path] = digest
    return digests


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The table as the exact bytes of its CSV file."""
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def card_bytes(card: dict) -> bytes:
    """The card as the exact bytes of its JSON file."""
    text = json.dumps(card, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return text.encode("utf-8")


def _check(frame: pd.DataFrame, card: dict) -> None:
    missing = [key for key in CARD_KEYS if key not in card]
    if missing:
        raise InputError(f"the card for {card.get('name')!r} lacks keys {missing}; add them.")
    columns = list(frame.columns)
    canonical = [c for c in LEADING + OPTIONAL if c in columns]
    if columns[: len(canonical)] != canonical or canonical[:3] != list(LEADING):
        raise InputError(
            f"columns {columns} are out of schema order: expected {list(LEADING)} first, then "
            f"those of {list(OPTIONAL)} that apply, in that order, then dataset-specific ones."
        )
    if set(card["columns"]) != set(columns):
        raise InputError(
            f"the card documents columns {sorted(card['columns'])} but the table has "
            f"{sorted(columns)}; describe every column of the table and no others."
        )
    gaps = frame[list(LEADING)].isna().any()
    if gaps.any():
        raise InputError(
            f"columns {list(gaps[gaps].index)} have missing values; drop or fill those rows."
        )


def write(frame: pd.DataFrame, card: dict, out: Path) -> tuple[Path, Path]:
    """Write ``out/<name>.csv`` and ``out/<name>.json``; return their paths."""
    _check(frame, card)
    data = csv_bytes(frame)
    name = card["name"]
    card = {
        **card,
        "rows": len(frame),
        "groups": sorted(frame["group"].astype(str).unique()) if "group" in frame else [],
        "runs": int(frame["run"].nunique()) if "run" in frame else None,
        "sha256": sha256(data),
        "ingest_command": f"python -m bayescale.ingest {name}",
    }
    out.mkdir(parents=True, exist_ok=True)
    csv_path, card_path = out / f"{name}.csv", out / f"{name}.json"
    csv_path.write_bytes(data)
    card_path.write_bytes(card_bytes(card))
    return csv_path, card_path
