"""``bayescale plan``: compute-optimal N, D and loss for a budget, with train time, cost
and memory on given hardware; or the compute that reaches a target loss."""

from __future__ import annotations

from bayescale.cli import hardware
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


def _check_hardware(args) -> None:
    """``plan``'s hardware flags, where any is given: with ``--budget`` (a target loss has no
    hardware answer), and with both ``--gpu`` and ``--gpus``."""
    flags = hardware.given(args)
    if flags and args.target_loss is not None:
        named = ", ".join(flags)
        raise InputError(
            f"{named}: training time, cost and memory are answered for a --budget, not a "
            "--target-loss. Plan the target loss first, then pass the compute it needs as "
            f"--budget FLOPS with {named}."
        )
    hardware.check_complete(flags)


def cmd_plan(args) -> int:
    if (args.budget is None) == (args.target_loss is None):
        raise InputError("give exactly one of --budget FLOPS or --target-loss NATS.")
    _check_hardware(args)
    post, label = read_posterior(args, stacks=True)
    if args.target_loss is not None:
        check_group(post, args.group, needed=False)
        return _print_reach(post, label, args)
    check_group(post, args.group, needed=args.gpu is not None)
    plan = post.optimal(args.budget, group=args.group)
    table, p_fits = interval_table(plan, args.ci), None
    if args.gpu is not None:
        import pandas as pd

        extra, p_fits = hardware.hardware_table(args, plan["n_opt"], plan["d_opt"], args.ci)
        table = pd.concat([table, extra], ignore_index=True)
    if args.json:
        emit(
            {
                "posterior": label,
                **law_record(post),
                "ci_prob": args.ci,
                "interval": "equal-tailed",
                "rows": records(table, args.ci),
                "p_fits_in_memory": p_fits,
            }
        )
        return 0
    draws = plan.dataset.sizes["chain"] * plan.dataset.sizes["draw"]
    print(f"Compute-optimal allocation from the {label} ({laws_in_words(post)}, {draws} draws)")
    print_weights(post)
    print_finished_runs(post)
    print(f"medians with {args.ci:.0%} equal-tailed credible intervals\n")
    if args.gpu is not None:
        print(hardware.describe(args) + "\n")
    by = ["group", "budget"] if "group" in table.columns else ["budget"]
    for key, rows in blocks(table, by):
        budget = key[-1]
        group = f"group {key[0]}, " if len(by) == 2 else ""
        print(f"{group}budget {budget:.3g} FLOPs")
        for quantity, name, unit in _ROWS:
            match = rows[rows["quantity"] == quantity]
            if not match.empty:
                print(table_row(name, match.iloc[0], unit, args.ci))
        if p_fits is not None:
            hardware.print_rows(rows, args.ci, p_fits[float(budget)])
        print()
    return 0


def _print_reach(post, label, args) -> int:
    """The answer to ``--target-loss``: for the ``--group`` named, else for every group the
    posterior answers for."""
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
    by = ["group", "target_loss"] if "group" in table.columns else ["target_loss"]
    for key, block in blocks(table, by):
        group = f"group {key[0]}, " if len(by) == 2 else ""
        print(f"{group}target loss {key[-1]:g} nats/token")
        for quantity, name, unit in rows:
            print(table_row(name, block[block["quantity"] == quantity].iloc[0], unit, args.ci))
        print()
    return 0
