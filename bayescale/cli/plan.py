"""``bayescale plan``: compute-optimal N, D and loss for a budget, with train time, cost
and memory on given hardware; or the compute that reaches a target loss."""

from __future__ import annotations

from bayescale.cli.flags import flag_of
from bayescale.cli.output import blocks, emit, interval_table, records, table_row
from bayescale.cli.sources import (
    check_group,
    law_record,
    laws_in_words,
    print_finished_runs,
    print_weights,
    read_posterior,
)
from bayescale.errors import InputError

_ROWS = (
    ("n_opt", "N_opt", "parameters"),
    ("d_opt", "D_opt", "tokens"),
    ("tokens_per_param", "tokens per parameter", "tokens/parameter"),
    ("loss_opt", "loss at optimum", "nats/token"),
)


HARDWARE = {
    "gpu": None,
    "gpus": None,
    "mfu": None,
    "price": None,
    "tensor_parallel": 1,
    "recompute": "selective",
}
"""``plan``'s flags (by ``dest``) about the hardware to train on, and their defaults."""

_HARDWARE_ROWS = (
    ("days", "training time", "days"),
    ("gpu_hours", "GPU-hours", "GPU-hours"),
    ("cost", "cost", "currency"),
    ("total_gb", "memory per GPU", "GB"),
)


def _hardware_table(args, plan, ci):
    """Train time, GPU-hours, cost and memory per GPU for the plan's draws."""
    import pandas as pd
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
        plan, args.gpu, args.gpus, mfu=args.mfu, price_per_gpu_hour=args.price, seed=0
    ).dataset
    # FSDP (ZeRO-3) over the data-parallel GPUs; sequence parallelism with tensor parallelism.
    layout = {
        "tensor_parallel": args.tensor_parallel,
        "recompute": args.recompute,
        "sequence_parallel": args.tensor_parallel > 1,
    }
    data_parallel = args.gpus // args.tensor_parallel
    memory = hardware.memory_per_gpu(
        plan["n_opt"], zero_stage=3, data_parallel=data_parallel, **layout
    )
    fits = hardware.check_fits(
        plan["n_opt"], args.gpu, zero_stage=3, data_parallel=data_parallel, **layout
    )
    keep = [k for k, _, _ in _HARDWARE_ROWS if k in time or k in memory]
    merged = xr.merge([time, memory], compat="override")[keep]
    table = pd.concat(
        [interval_table(plan, ci), interval_table(Draws(merged), ci)], ignore_index=True
    )
    table.attrs["p_fits"] = {
        float(b): float(v)
        for b, v in zip(fits["budget"].values, fits.mean(("chain", "draw")).values, strict=True)
    }
    return table


def _check_hardware(args) -> None:
    """``plan``'s hardware flags (:data:`HARDWARE`), where any is given: with ``--budget``
    (a target loss has no hardware answer), and with both ``--gpu`` and ``--gpus``."""
    given = [flag_of(dest) for dest, default in HARDWARE.items() if getattr(args, dest) != default]
    if not given:
        return
    flags = ", ".join(given)
    if args.target_loss is not None:
        raise InputError(
            f"{flags}: training time, cost and memory are answered for a --budget, not a "
            "--target-loss. Plan the target loss first, then pass the compute it needs as "
            f"--budget FLOPS with {flags}."
        )
    needed = {"--gpu": "--gpu NAME", "--gpus": "--gpus COUNT"}
    missing = [words for flag, words in needed.items() if flag not in given]
    if missing:
        raise InputError(
            f"{flags} {'needs' if len(given) == 1 else 'need'} {' and '.join(missing)}, the "
            "hardware to train on (e.g. --gpu H100 --gpus 1024); give it, or drop "
            f"{'it' if len(given) == 1 else 'them'}."
        )


def cmd_plan(args) -> int:
    if (args.budget is None) == (args.target_loss is None):
        raise InputError("give exactly one of --budget FLOPS or --target-loss NATS.")
    _check_hardware(args)
    post, label = read_posterior(args, stacks=True)
    if args.target_loss is not None:
        check_group(post, args.group)
        return _print_reach(post, label, args)
    check_group(post, args.group, needed=args.gpu is not None)
    plan = post.optimal(args.budget, group=args.group)
    if args.gpu is not None:
        table = _hardware_table(args, plan, args.ci)
    else:
        table = interval_table(plan, args.ci)
    if args.json:
        emit(
            {
                "posterior": label,
                **law_record(post),
                "ci_prob": args.ci,
                "interval": "equal-tailed",
                "rows": records(table, args.ci),
                "p_fits_in_memory": table.attrs.get("p_fits"),
            }
        )
        return 0
    draws = plan.dataset.sizes["chain"] * plan.dataset.sizes["draw"]
    print(f"Compute-optimal allocation from the {label} ({laws_in_words(post)}, {draws} draws)")
    print_weights(post)
    print_finished_runs(post)
    print(f"medians with {args.ci:.0%} equal-tailed credible intervals\n")
    if args.gpu is not None:
        mfu = f"MFU {args.mfu}" if args.mfu else "MFU ~ Beta(45, 55) (mean 0.45)"
        print(
            f"on {args.gpus} × {args.gpu}, {mfu}; memory: FSDP (ZeRO-3) over "
            f"{args.gpus // args.tensor_parallel} data-parallel GPUs, tensor parallel "
            f"{args.tensor_parallel}, {args.recompute} recomputation, sequence 4096, "
            "micro-batch 1\n"
        )
    rows_shown = _ROWS + (_HARDWARE_ROWS if args.gpu is not None else ())
    by = ["group", "budget"] if "group" in table.columns else ["budget"]
    for key, rows in blocks(table, by):
        budget = key[-1]
        group = f"group {key[0]}, " if len(by) == 2 else ""
        print(f"{group}budget {budget:.3g} FLOPs")
        for quantity, name, unit in rows_shown:
            match = rows[rows["quantity"] == quantity]
            if not match.empty:
                print(table_row(name, match.iloc[0], unit, args.ci))
        if "p_fits" in table.attrs:
            print(
                f"  {'P(fits in memory)':<22}{table.attrs['p_fits'][float(budget)]:>11.2f}"
                "  (10% headroom kept free)"
            )
        print()
    return 0


def _print_reach(post, label, args) -> int:
    draws = post.compute_to_reach(args.target_loss, group=args.group)
    table = interval_table(draws, args.ci)
    if args.json:
        emit(
            {
                "posterior": label,
                **law_record(post),
                "ci_prob": args.ci,
                "rows": records(table, args.ci),
            }
        )
        return 0
    print(f"Cheapest allocation reaching a target loss, from the {label} ({laws_in_words(post)})")
    print_weights(post)
    print(f"medians with {args.ci:.0%} equal-tailed credible intervals\n")
    rows = (
        ("compute", "compute", "FLOPs"),
        ("n_opt", "N_opt", "parameters"),
        ("d_opt", "D_opt", "tokens"),
    )
    for (target,), group in blocks(table, ["target_loss"]):
        print(f"target loss {target:g} nats/token")
        for quantity, name, unit in rows:
            print(table_row(name, group[group["quantity"] == quantity].iloc[0], unit, args.ci))
        print()
    return 0
