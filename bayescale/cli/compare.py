"""``bayescale compare``: two allocations at one budget, two variants at their own optima,
or schedules for one run (each against the first)."""

from __future__ import annotations

from bayescale.cli.flags import flag_of
from bayescale.cli.output import (
    blocks,
    emit,
    human,
    interval_table,
    records,
    table_row,
    value_columns,
)
from bayescale.cli.sources import (
    check_group,
    law_record,
    members_of,
    other_posterior,
    print_finished_runs,
    read_posterior,
)
from bayescale.errors import InputError


def side_labels(args) -> tuple[str, str]:
    """Names of the two sides of a comparison: ``--label-a``/``--label-b`` (one name,
    :func:`check_kind`), else the groups compared, else A and B."""
    return (args.label_a or args.group or "A", (args.label_b or [args.b_group or "B"])[0])


def _print_rows(table, rows, by, ci: float) -> None:
    width = max(len(name) for _, name, _ in rows) + 2
    for (key,), group in blocks(table, [by]):
        print(f"{by} {key:.3g}" if isinstance(key, float) else f"{by} {key}")
        for quantity, name, unit in rows:
            row = group[group["quantity"] == quantity].iloc[0]
            print(table_row(name, row, unit, ci, width=width))
        print()


KIND_FLAGS = {
    "n_a": ("allocations",),
    "n_b": ("allocations",),
    "n_params": ("schedules",),
    "schedule_a": ("schedules",),
    "schedule_b": ("schedules",),
    "label_a": ("allocations", "variants", "schedules"),
    "label_b": ("allocations", "variants", "schedules"),
    "b_group": ("variants",),
    "b_posterior": ("variants",),
    "gpu": ("variants",),
    "gpus": ("variants",),
    "mfu": ("variants",),
    "budget": ("allocations", "variants", "excess-compute"),
    # the finished runs that planning answers for (the figures of the law and its
    # optima); a schedule comparison names its own schedules
    "schedule": (
        "allocations",
        "variants",
        "fit",
        "loss-vs-params",
        "frontier",
        "isoflops",
        "excess-compute",
    ),
}
"""Flags of ``compare`` and ``plot`` (by ``dest``) that only some kinds use: those kinds."""


def check_kind(args) -> None:
    """The flags of ``bayescale compare|plot KIND`` suit KIND, before any work: none that
    only other kinds use (:data:`KIND_FLAGS`), and those KIND needs: one ``--budget`` for
    allocations and excess-compute, and ``--n-a`` and ``--n-b`` for allocations; for
    variants, ``--budget``, ``--gpu``, ``--gpus`` and a B to compare with; for schedules,
    ``--n-params`` and ``--schedule-a`` (and ``--schedule-b`` to compare,
    :func:`_check_schedule_flags`)."""
    command = f"'bayescale {args.command} {args.kind}'"
    unused: dict[tuple, list[str]] = {}
    for dest, kinds in KIND_FLAGS.items():
        if getattr(args, dest, None) is not None and args.kind not in kinds:
            unused.setdefault(kinds, []).append(flag_of(dest))
    if unused:
        flags = "; ".join(f"{', '.join(f)} (for {' or '.join(k)})" for k, f in unused.items())
        them = "them" if sum(map(len, unused.values())) > 1 else "it"
        raise InputError(f"{command} does not use {flags}; drop {them}.")
    budgets = len(args.budget or ())
    if args.kind in ("allocations", "excess-compute") and budgets != 1:
        raise InputError(
            f"{command} answers for one --budget FLOPS (e.g. --budget 1e21); got "
            f"{budgets or 'none'}."
        )
    if args.kind == "schedules":
        _check_schedule_flags(args, command)
    elif len(args.label_b or ()) > 1:
        raise InputError(
            f"{command} compares A with one B: give one --label-b, got {args.label_b}."
        )
    if args.kind == "allocations" and (args.n_a is None or args.n_b is None):
        raise InputError(
            f"{command} needs both --n-a and --n-b, the model sizes in parameters (e.g. "
            "--n-a 4.68e9 --n-b 2.86e9)."
        )
    if args.kind != "variants":
        return
    if not budgets or args.gpu is None or args.gpus is None:
        raise InputError(
            f"{command} needs --budget FLOPS (one or more), --gpu NAME and --gpus COUNT, "
            "e.g. --budget 1e21 --gpu H100 --gpus 16."
        )
    if args.b_posterior is None and args.b_group is None:
        raise InputError(
            f"{command} compares A with B: give B as --b-posterior FILE (another posterior) "
            "or --b-group GROUP (another group of A's posterior)."
        )


def variants_of(args, post, budgets):
    """:func:`~bayescale.comparisons.compare_variants` of A (``post``, ``--group``) and
    B (``--b-posterior``, ``--b-group``) on the GPUs asked for."""
    from bayescale.comparisons import compare_variants

    other = other_posterior(args, post)
    check_group(post, args.group)
    check_group(other, args.b_group, flag="--b-group")
    return compare_variants(
        post,
        other,
        budgets,
        hardware=args.gpu,
        n_gpus=args.gpus,
        group_a=args.group,
        group_b=args.b_group,
        mfu=getattr(args, "mfu", None),
        labels=side_labels(args),
    )


def allocations_of(args, post, budget):
    """:func:`~bayescale.comparisons.compare_allocations` of ``--n-a`` and ``--n-b``."""
    from bayescale.comparisons import compare_allocations

    check_group(post, args.group)
    return compare_allocations(
        post, budget, args.n_a, args.n_b, labels=side_labels(args), group=args.group
    )


def cmd_compare(args) -> int:
    check_kind(args)
    if args.kind == "allocations":
        return _print_allocations(args, *read_posterior(args))
    if args.kind == "schedules":
        return _print_schedules(args, *read_posterior(args))
    post, label = read_posterior(args)
    table = interval_table(variants_of(args, post, args.budget), args.ci)
    label_a, label_b = side_labels(args)
    if args.json:
        emit(
            {
                "posterior": label,
                "labels": [label_a, label_b],
                "ci_prob": args.ci,
                "rows": records(table, args.ci),
            }
        )
        return 0
    print(
        f"{label_a} against {label_b}, each at its own compute-optimal size, on "
        f"{args.gpus} × {args.gpu} (FSDP, selective recomputation)"
    )
    print(
        f"medians with {args.ci:.0%} equal-tailed intervals; differences are "
        f"{label_a} − {label_b}\n"
    )
    _print_rows(
        table,
        (
            ("memory_diff_gb", f"memory per GPU, {label_a} − {label_b}", "GB"),
            ("memory_ratio", f"memory per GPU, {label_a} / {label_b}", "ratio"),
            ("hours_diff", f"training time, {label_a} − {label_b}", "hours"),
            ("hours_ratio", f"training time, {label_a} / {label_b}", "ratio"),
        ),
        "budget",
        args.ci,
    )
    return 0


def _print_allocations(args, post, label) -> int:
    budget = args.budget[0]
    result = allocations_of(args, post, budget)
    table = result.interval(args.ci)
    final = table[table["quantity"] == "final_difference"].iloc[0]
    _, lower, upper = value_columns(args.ci)
    p_b = result.dataset.attrs["p_b_lower"]
    label_a, label_b = side_labels(args)
    if args.json:
        emit(
            {
                "posterior": label,
                "budget": budget,
                "n_a": args.n_a,
                "n_b": args.n_b,
                "labels": [label_a, label_b],
                "p_b_lower": p_b,
                "final_difference": final[list(value_columns(args.ci))].to_dict(),
                "ci_prob": args.ci,
            }
        )
        return 0
    print(f"Two allocations of {budget:.3g} FLOPs, from the {label}")
    print_finished_runs(post)
    for side, n in ((label_a, args.n_a), (label_b, args.n_b)):
        print(
            f"  {side}: {human(n, 'parameters')} parameters on "
            f"{human(budget / (6 * n), 'tokens')} tokens"
        )
    print(
        f"  final loss {label_b} − {label_a}: {final['median']:+.4f} nats "
        f"[{final[lower]:+.4f}, {final[upper]:+.4f}] ({args.ci:.0%})"
    )
    print(f"  P({label_b} ends lower than {label_a}) = {p_b:.3f}")
    return 0


def _check_schedule_flags(args, command: str) -> None:
    """``compare schedules`` needs ``--n-params``, ``--schedule-a`` and ``--schedule-b``;
    ``plot schedules`` draws ``--schedule-a``'s run alone when ``--schedule-b`` is not
    given."""
    needed = ["--n-params", "--schedule-a"] + (
        ["--schedule-b"] if args.command == "compare" else []
    )
    if any(getattr(args, flag[2:].replace("-", "_")) is None for flag in needed):
        raise InputError(
            f"{command} needs {', '.join(needed[:-1])} and {needed[-1]}, e.g. --n-params 4e8 "
            "--schedule-a cosine:total=24000,peak=3e-4,final=3e-5,warmup=2160"
            + (
                " --schedule-b wsd:total=24000,peak=3e-4,final=3e-5,decay_start=19200,warmup=2160"
                if args.command == "compare"
                else " (and --schedule-b for a second run to compare with)"
            )
            + "."
        )
    if args.schedule_b is None and args.label_b is not None:
        raise InputError(f"{command}: --label-b names --schedule-b's run; give --schedule-b.")
    if args.label_b is not None and len(args.label_b) != len(args.schedule_b):
        raise InputError(
            f"{command}: --label-b names each --schedule-b SPEC: give {len(args.schedule_b)} "
            f"names, got {len(args.label_b)} ({args.label_b})."
        )
    labels = _schedule_labels(args)
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise InputError(
            f"{command}: the schedules' names {labels} (--label-a, else the group or A; then "
            f"--label-b, else B, C, ...) repeat {repeated}; give each a name of its own."
        )


def _schedule_labels(args) -> list[str]:
    """The names of ``--schedule-a``'s run and of each ``--schedule-b`` SPEC's:
    ``--label-a`` (else the group, else A), then ``--label-b`` (else B, C, ...)."""
    others = args.label_b or [chr(ord("B") + k) for k in range(len(args.schedule_b or ()))]
    return [args.label_a or args.group or "A", *others]


def schedules_of(args, post) -> tuple[dict, float]:
    """``{label: Schedule}`` of ``--schedule-a`` and of each ``--schedule-b`` SPEC given (A
    the reference; :func:`_schedule_labels`), and the tokens per step:
    ``--tokens-per-step``, else the fit's."""
    from bayescale.schedules import Schedule

    specs = [args.schedule_a, *(args.schedule_b or ())]
    schedules = {
        label: Schedule.from_text(spec)
        for label, spec in zip(_schedule_labels(args), specs, strict=True)
    }
    return schedules, args.tokens_per_step or members_of(post)[0].law.settings.get(
        "tokens_per_step"
    )


def _print_schedules(args, post, label) -> int:
    from bayescale.comparisons import compare_schedules

    check_group(post, args.group)
    schedules, tokens = schedules_of(args, post)
    result = compare_schedules(post, args.n_params, schedules, tokens, group=args.group)
    table = result.interval(args.ci)
    p_lower = result.dataset["p_lower"].values
    if args.json:
        emit(
            {
                "posterior": label,
                **law_record(post),
                "n_params": args.n_params,
                "tokens_per_step": tokens,
                "schedules": {k: v.to_dict() for k, v in schedules.items()},
                "p_lower": dict(zip(schedules, p_lower.tolist(), strict=True)),
                "ci_prob": args.ci,
                "rows": records(table, args.ci),
            }
        )
        return 0
    _, lower, upper = value_columns(args.ci)
    print(
        f"Final loss of a new run of {human(args.n_params, 'parameters')} parameters under "
        f"each of {len(schedules)} schedules, from the {label}, {tokens:,.0f} tokens per step"
    )
    for side, schedule in schedules.items():
        tokens_seen = human(schedule.total * tokens, "tokens")
        print(f"  {side}: {schedule.describe()}, {tokens_seen} tokens")
    print(f"medians with {args.ci:.0%} equal-tailed intervals\n")
    for side in schedules:
        row = table[(table["quantity"] == "loss") & (table["schedule"] == side)].iloc[0]
        print(f"  final loss {side}: {row['median']:.4f} [{row[lower]:.4f}, {row[upper]:.4f}] nats")
    reference, *others = schedules
    for k, side in enumerate(others, start=1):
        for quantity, what in (("difference", ""), ("law_difference", ", the law's part")):
            row = table[(table["quantity"] == quantity) & (table["schedule"] == side)].iloc[0]
            print(
                f"  final loss {side} − {reference}{what}: {row['median']:+.4f} nats "
                f"[{row[lower]:+.4f}, {row[upper]:+.4f}]"
            )
        print(f"  P({side} ends lower than {reference}) = {p_lower[k]:.3f}")
    return 0
