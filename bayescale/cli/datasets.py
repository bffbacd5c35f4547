"""``bayescale datasets``: the bundled sweeps."""

from __future__ import annotations

from bayescale.cli.output import emit


def cmd_datasets(args) -> int:
    import pandas as pd

    from bayescale.datasets import list_datasets

    table = list_datasets()
    if args.json:
        emit({"datasets": table.to_dict(orient="records")})
        return 0
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print(table.to_string(index=False))
    return 0
