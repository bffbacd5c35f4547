"""What the calibration scripts that fit with sampler settings from their command line share:
that command line, the line that says how a report was generated, and its tables."""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd

import bayescale as bs


def run_and_report(
    description: str,
    run: Callable[[dict], pd.DataFrame],
    write: Callable[[pd.DataFrame, dict, float], Path],
    *,
    chains: int,
    warmup: int,
    draws: int,
) -> None:
    """Read ``--chains``, ``--warmup`` and ``--draws`` (defaults as given), measure with
    ``run(sampler)`` on the CPU and write its table with ``write(table, sampler, seconds)``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--chains", type=int, default=chains)
    parser.add_argument("--warmup", type=int, default=warmup)
    parser.add_argument("--draws", type=int, default=draws)
    args = parser.parse_args()
    bs.use_cpu_devices()
    sampler = {"chains": args.chains, "warmup": args.warmup, "draws": args.draws}
    started = time.perf_counter()
    table = run(sampler)
    print(f"wrote {write(table, sampler, time.perf_counter() - started)}")


def generated(script: str, sampler: dict, seconds: float) -> str:
    """The report's line saying when, by which command and on what it was generated."""
    return (
        f"Generated {date.today()} by `python docs/calibration/{script} --chains "
        f"{sampler['chains']} --warmup {sampler['warmup']} --draws {sampler['draws']}` "
        f"(bayescale {bs.__version__}, Python {platform.python_version()}, "
        f"{platform.machine()} CPU, {seconds / 60:.0f} min). Do not edit by hand; rerun the "
        "script."
    )


def markdown_table(table: pd.DataFrame) -> list[str]:
    """``table``'s lines as a Markdown table, its columns as the header."""
    return [
        "| " + " | ".join(map(str, table.columns)) + " |",
        "|" + "---|" * len(table.columns),
        *("| " + " | ".join(str(v) for v in row) + " |" for row in table.to_numpy()),
    ]
