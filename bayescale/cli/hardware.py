"""The hardware flags of ``plan`` and ``predict``: training time, GPU-hours, cost and memory
per GPU of runs on ``--gpus`` × ``--gpu``, per posterior draw.

Memory is for FSDP (ZeRO-3) over the data-parallel GPUs, with sequence parallelism where
tensor parallelism is used (:mod:`bayescale.hardware`)."""

from __future__ import annotations

from bayescale.cli.flags import flag_of
from bayescale.cli.output import interval_table, table_row
from bayescale.errors import InputError

HARDWARE = {
    "gpu": None,
    "gpus": None,
    "mfu": None,
    "price": None,
    "tensor_parallel": 1,
    "recompute": "selective",
}
"""The hardware flags (by ``dest``) and their defaults."""

ROWS = (
    ("days", "training time", "days"),
    ("gpu_hours", "GPU-hours", "GPU-hours"),
    ("cost", "cost", "currency"),
    ("total_gb", "memory per GPU", "GB"),
)
"""The rows the hardware adds to a table: quantity, name, unit."""


def given(args) -> list[str]:
    """The hardware flags given (:data:`HARDWARE`)."""
    return [flag_of(dest) for dest, default in HARDWARE.items() if getattr(args, dest) != default]


def check_complete(flags: list[str]) -> None:
    """Hardware flags, where any are given, include ``--gpu`` and ``--gpus``."""
    needed = {"--gpu": "--gpu NAME", "--gpus": "--gpus COUNT"}
    missing = [words for flag, words in needed.items() if flag not in flags]
    if flags and missing:
        raise InputError(
            f"{', '.join(flags)} {'needs' if len(flags) == 1 else 'need'} "
            f"{' and '.join(missing)}, the hardware to train on (e.g. --gpu H100 --gpus "
            f"1024); give it, or drop {'it' if len(flags) == 1 else 'them'}."
        )


def hardware_table(args, n, d, ci: float):
    """Training time, GPU-hours, cost (with ``--price``) and memory per GPU of runs of ``n``
    parameters on ``d`` tokens (DataArrays with dims ``(chain, draw, key)``), as an
    :func:`~bayescale.cli.output.interval_table`, and per value of ``key`` the share of
    draws that fit in memory."""
    import xarray as xr

    from bayescale import hardware
    from bayescale.draws import Draws

    if args.gpus % args.tensor_parallel:
        raise InputError(
            f"--gpus {args.gpus} is not a multiple of --tensor-parallel {args.tensor_parallel}; "
            "choose a tensor-parallel degree that divides the GPU count, e.g. "
            "--tensor-parallel 8 with --gpus 1024."
        )
    time = hardware.train_time(
        None, args.gpu, args.gpus, mfu=args.mfu, price_per_gpu_hour=args.price, seed=0, n=n, d=d
    )
    layout = {
        "zero_stage": 3,
        "data_parallel": args.gpus // args.tensor_parallel,
        "tensor_parallel": args.tensor_parallel,
        "recompute": args.recompute,
        "sequence_parallel": args.tensor_parallel > 1,
    }
    memory = hardware.memory_per_gpu(n, **layout)
    fits = hardware.check_fits(n, args.gpu, **layout).mean(("chain", "draw"))
    keep = [k for k, _, _ in ROWS if k in time or k in memory]
    merged = xr.merge([time, memory], compat="override")[keep]
    (key,) = fits.dims
    values = fits[key].values.tolist()
    shares = dict(zip(values, fits.values.tolist(), strict=True))
    return interval_table(Draws(merged), ci), shares


def describe(args) -> str:
    """The hardware, the MFU and the memory layout in words."""
    mfu = f"MFU {args.mfu}" if args.mfu else "MFU ~ Beta(45, 55) (mean 0.45)"
    return (
        f"on {args.gpus} × {args.gpu}, {mfu}; memory: FSDP (ZeRO-3) over "
        f"{args.gpus // args.tensor_parallel} data-parallel GPUs, tensor parallel "
        f"{args.tensor_parallel}, {args.recompute} recomputation, sequence 4096, "
        "micro-batch 1"
    )


def print_rows(rows, ci: float, p_fits: float, width: int = 22) -> None:
    """The hardware rows of one run's block of a table, and P(fits in memory)."""
    for quantity, name, unit in ROWS:
        match = rows[rows["quantity"] == quantity]
        if not match.empty:
            print(table_row(name, match.iloc[0], unit, ci, width=width))
    print(f"  {'P(fits in memory)':<{width}}{p_fits:>11.2f}  (10% headroom kept free)")
