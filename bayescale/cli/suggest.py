"""``bayescale suggest``: the next training runs that most shrink a target's uncertainty
per FLOP (:func:`bayescale.design.suggest_runs`)."""

from __future__ import annotations

import math

from bayescale.cli.output import emit, human
from bayescale.cli.plot import figure_file, save_figure
from bayescale.cli.sources import (
    check_group,
    law_record,
    laws_in_words,
    print_finished_runs,
    read_posterior,
)
from bayescale.errors import InputError

_COLUMNS = (
    "rank",
    "n_params",
    "n_tokens",
    "flops",
    "gain",
    "gain_share",
    "step_gain",
    "batch_share",
    "gain_per_cost",
    "ess",
    "step_ess",
)


def _target(args):
    """``(budget, at)`` for ``suggest_runs`` from the flags, checked against --target."""
    points = args.n_params is not None or args.n_tokens is not None
    if args.target == "n_opt":
        if points:
            raise InputError(
                "--target n_opt takes --budget, not --n-params/--n-tokens; drop them, or "
                "use --target loss for a planned run."
            )
        if args.budget is None:
            raise InputError("--target n_opt needs --budget FLOPS, e.g. --budget 1e24.")
        if args.law_only:
            raise InputError(
                "--law-only leaves out the extrapolation error of a loss target, which "
                "--target n_opt does not have; drop it, or use --target loss or region."
            )
        return args.budget, None
    if args.budget is not None:
        raise InputError(
            f"--target {args.target} takes --n-params and --n-tokens, not --budget; drop "
            "--budget, or use --target n_opt."
        )
    if args.n_params is None or args.n_tokens is None:
        example = (
            "--n-params 7e10 --n-tokens 1.4e12"
            if args.target == "loss"
            else "--n-params 1e10 7e10 --n-tokens 2e11 1.4e12"
        )
        raise InputError(
            f"--target {args.target} needs --n-params and --n-tokens (the planned "
            f"run{'' if args.target == 'loss' else 's'}), e.g. {example}."
        )
    return None, (args.n_params, args.n_tokens)


def _candidates(args, ratios) -> bool:
    """Whether the runs to choose from come from ``--candidates``; else the default grid's
    flags are checked: ``--max-compute`` given, ``--tokens-per-param`` in order."""
    if args.candidates is not None:
        flags = (("--min-compute", args.min_compute), ("--tokens-per-param", args.tokens_per_param))
        grid = [flag for flag, value in flags if value is not None]
        if grid:
            one = len(grid) == 1
            raise InputError(
                f"{' and '.join(grid)} shape{'s' if one else ''} the default grid of runs, "
                f"which --candidates replaces; drop {'it' if one else 'them'}, or drop "
                "--candidates."
            )
        return True
    if args.max_compute is None:
        raise InputError(
            "--max-compute FLOPS is needed: the compute of the largest run to suggest, "
            "e.g. --max-compute 1e20 (or give the runs to choose from, --candidates FILE)."
        )
    if not ratios[0] < ratios[1]:
        raise InputError(
            f"--tokens-per-param LOW HIGH needs LOW below HIGH, got {ratios[0]:g} "
            f"{ratios[1]:g}; e.g. --tokens-per-param 10 40."
        )
    return False


def cmd_suggest(args) -> int:
    budget, at = _target(args)
    from bayescale.design import TOKENS_PER_PARAM, suggest_runs
    from bayescale.sweep import read_table

    ratios = tuple(args.tokens_per_param or TOKENS_PER_PARAM)
    candidates = read_table(args.candidates) if _candidates(args, ratios) else None
    plot = args.plot and figure_file(args.plot, args.overwrite, "--plot")
    post, label = read_posterior(args, stacks=True)
    check_group(post, args.group)
    result = suggest_runs(
        post,
        target=args.target,
        budget=budget,
        at=at,
        k=args.k,
        candidates=candidates,
        max_compute=args.max_compute,
        min_compute=args.min_compute,
        tokens_per_param=ratios,
        group=args.group,
        seed=args.seed,
        method=args.method,
        extrapolation=not args.law_only,
    )
    chosen = result[result["rank"].notna()]
    attrs = result.attrs
    target = {"kind": args.target, **{k: attrs[k] for k in ("budget", "at") if k in attrs}}
    if plot:
        from bayescale.plotting import plot_suggestions

        save_figure(plot_suggestions(post, result)[0], plot)
    if args.json:
        emit(
            {
                "posterior": label,
                **({"wrote": str(plot)} if plot else {}),
                **law_record(post),
                "target": target,
                "variance": attrs["variance"],
                "candidates": len(result),
                **(
                    {"candidates_file": args.candidates}
                    if candidates is not None
                    else {"tokens_per_param": list(ratios)}
                ),
                "method": attrs["method"],
                "extrapolation": attrs["extrapolation"],
                "draws": attrs["draws"],
                "outcomes": attrs["outcomes"],
                "seed": attrs["seed"],
                "runs": chosen[list(_COLUMNS)].to_dict(orient="records"),
            }
        )
        return 0
    if args.target == "n_opt":
        what = f"log N_opt at {args.budget:.3g} FLOPs"
    elif args.target == "loss":
        what = "the log loss of the planned run"
    else:
        what = "the mean log loss over the planned runs"
    if args.target != "n_opt":
        what += (
            " (with the law's error outside the fitted runs)"
            if attrs["extrapolation"]
            else " (the law's variance alone)"
        )
    reweighted = attrs["method"] == "reweight"  # only reweighting simulates, and has weights
    how = (
        f"{attrs['outcomes']} simulated outcomes per run"
        if reweighted
        else "a linear update of the draws"
        + (
            ", runs far from the target discounted by the law's error"
            if attrs["extrapolation"]
            else ""
        )
    )
    if candidates is None:
        offered = (
            f"up to {args.max_compute:.3g} FLOPs, {ratios[0]:.3g} to {ratios[1]:.3g} tokens "
            "per parameter"
        )
    else:
        offered = f"from {args.candidates}" + (
            f" up to {args.max_compute:.3g} FLOPs" if args.max_compute is not None else ""
        )
    print(f"Next runs for {what}, from the {label} ({laws_in_words(post)})")
    print_finished_runs(post)
    print(
        f"{len(result)} candidates {offered}; posterior sd now "
        f"{math.sqrt(attrs['variance']):.4g}; {attrs['draws']} draws, {how}\n"
    )
    print(
        f"  {'rank':<5}{'N':>9}{'D':>9}{'D/N':>7}{'FLOPs':>11}{'alone':>9}{'batch':>9}"
        f"{'gain/FLOP':>12}" + (f"{'ESS':>7}" if reweighted else "")
    )
    for row in chosen.itertuples():
        print(
            f"  {int(row.rank):<5}{human(row.n_params, 'parameters'):>9}"
            f"{human(row.n_tokens, 'tokens'):>9}{row.n_tokens / row.n_params:>7.3g}"
            f"{row.flops:>11.3g}{row.gain_share:>9.1%}"
            f"{row.batch_share:>9.1%}{row.gain_per_cost:>12.3g}"
            + (f"{row.step_ess:>7.0f}" if reweighted else "")
        )
    print(
        "\nD/N: tokens per parameter; alone: share of the variance the run removes by "
        "itself; batch: share runs 1 to rank remove together"
        + ("; ESS: effective draws left by the batch's weights." if reweighted else ".")
    )
    if plot:
        print(f"wrote {plot}")
    return 0
