"""Command line: ``python -m bayescale.ingest [NAME ...] [--raw PATH] [--out PATH]``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bayescale.ingest import DEFAULT_OUT, DEFAULT_RAW, SOURCES, ingest


def main(argv: list[str] | None = None) -> int:
    """Ingest the named sources (all registered ones when none are named)."""
    parser = argparse.ArgumentParser(
        prog="python -m bayescale.ingest",
        description="Rebuild bundled sweep tables and their provenance cards from raw files.",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"sources to ingest (default: all of {', '.join(sorted(SOURCES))})",
    )
    parser.add_argument(
        "--raw",
        type=Path,
        default=DEFAULT_RAW,
        help="folder holding the raw files and SOURCES.md (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="folder to write <name>.csv and <name>.json into (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(SOURCES))
    if unknown:
        parser.error(f"unknown source(s) {unknown}; choose from {sorted(SOURCES)}.")
    if not args.raw.is_dir():
        parser.error(
            f"raw folder {args.raw} does not exist; pass --raw PATH to the folder "
            "that holds the raw sweep files and SOURCES.md."
        )
    for name in args.names or sorted(SOURCES):
        csv_path, card_path = ingest(name, args.raw, args.out)
        card = json.loads(card_path.read_text(encoding="utf-8"))
        print(
            f"{name}: {card['rows']} rows, {len(card['groups'])} groups -> "
            f"{csv_path}, {card_path.name}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
