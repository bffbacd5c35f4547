"""Turn the raw published sweep files into the bundled tables under ``data/``.

Each source has its own module with a ``build(raw) -> (frame, card)`` function that
reads files under the raw folder (``shared/data/raw``, documented in its
``SOURCES.md``) and returns the tidy table and its provenance card;
:func:`bayescale.ingest.card.write` then writes both. ``SOURCES`` registers the
builders by dataset name: a new source is one module plus one entry here.

Run ``python -m bayescale.ingest [NAME ...] [--raw PATH] [--out PATH]``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from bayescale.errors import InputError
from bayescale.ingest import (
    chinchilla,
    gadre,
    gemstones,
    hitchhiker,
    misfitting,
    multipower,
    open_athena,
    porian,
    routing,
)
from bayescale.ingest.card import write

REPO = Path(__file__).resolve().parents[2]
DEFAULT_RAW = REPO.parent / "shared" / "data" / "raw"
DEFAULT_OUT = REPO / "data"

SOURCES: dict[str, Callable[[Path], tuple[pd.DataFrame, dict]]] = {
    "chinchilla": chinchilla.build,
    "gadre_overtrain": gadre.build,
    "gemstones": gemstones.build,
    "hitchhiker_datablations": hitchhiker.build,
    "misfitting": misfitting.build,
    "multipower_schedules": multipower.build,
    "open_athena_isoflops": open_athena.build,
    "porian_rsld": porian.build,
    "routing_clark2022": routing.build,
}


def ingest(name: str, raw: Path = DEFAULT_RAW, out: Path = DEFAULT_OUT) -> tuple[Path, Path]:
    """Build the dataset ``name`` from ``raw`` and write its CSV and card into ``out``."""
    if name not in SOURCES:
        raise InputError(f"unknown source {name!r}; registered sources: {sorted(SOURCES)}.")
    frame, card = SOURCES[name](Path(raw))
    if card["name"] != name:
        raise InputError(
            f"the builder registered as {name!r} returned a card named {card['name']!r}; "
            "make the registry key and the card name agree."
        )
    return write(frame, card, Path(out))


__all__ = ["DEFAULT_OUT", "DEFAULT_RAW", "SOURCES", "ingest"]
