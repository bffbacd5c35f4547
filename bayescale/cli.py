"""The ``bayescale`` command line.

::

    bayescale datasets
    bayescale fit chinchilla -o post.nc [--law chinchilla --chains 4 --draws 1000 --seed 0]
    bayescale fit gadre_overtrain -o post.nc --pooling partial [--vary e,alpha]
    bayescale fit routing_clark2022 -o post.nc --group architecture --pooling partial
    bayescale plan --budget 1e24 [--posterior post.nc | --dataset chinchilla] [--ci 0.9] [--json]
    bayescale plan --budget 1e22 --dataset gadre_overtrain [--group rpj | --group new]
    bayescale --version

User errors print one paragraph and exit with status 2, never a traceback: the errors
bayescale raises on purpose (:class:`~bayescale.errors.BayescaleError`: bad files, bad
columns, bad numbers, bad flag combinations), and file errors (missing, already there, a
folder, not permitted), which in a command concern the files the user named. Anything else
is a bug and propagates with its traceback (exit status 1). Bad command-line syntax exits
with status 2, from argparse.
Warnings about the answer (extrapolation, convergence) go to standard error and do not
change the exit status.

Modules that load JAX are imported inside the commands, so ``--help`` and ``--version``
answer without loading it.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import warnings
from pathlib import Path

from bayescale import __version__
from bayescale.discrepancy import EXTRAPOLATION_ERROR  # numpy only, no JAX
from bayescale.errors import BayescaleError, InputError

USER_ERRORS = (
    BayescaleError,
    FileExistsError,
    FileNotFoundError,
    IsADirectoryError,
    PermissionError,
)
# bayescale.model.CENTRING, spelt out so that --help need not import the model (and JAX);
# tests/test_cli.py checks that the two agree.
CENTRING = ("non-centred", "centred")


def human(value: float, unit: str) -> str:
    """``4.63e10, "parameters"`` -> ``"46.3B parameters"``; plain 3 significant digits otherwise."""
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size and unit in ("parameters", "tokens"):
            return f"{value / size:.3g}{suffix}"
    return f"{value:.4g}"


def _posterior(args):
    from bayescale.compilation_cache import use_compilation_cache
    from bayescale.posterior import load_posterior
    from bayescale.reference import load_reference, reference_names

    use_compilation_cache()  # the planning kernels compile once per law and shape
    if args.posterior:
        return load_posterior(args.posterior), str(args.posterior)
    name = args.dataset or "chinchilla"
    if name not in reference_names():
        raise InputError(
            f"there is no reference fit for dataset {name!r} (reference fits: "
            f"{reference_names()}). Fit it first: bayescale fit {name} -o post.nc, then "
            "pass --posterior post.nc."
        )
    return load_reference(name), f"reference fit '{name}'"


_ROWS = (
    ("n_opt", "N_opt", "parameters"),
    ("d_opt", "D_opt", "tokens"),
    ("tokens_per_param", "tokens per parameter", "tokens/parameter"),
    ("loss_opt", "loss at optimum", "nats/token"),
)


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

    time = hardware.train_time(
        plan, args.gpu, args.gpus, mfu=args.mfu, price_per_gpu_hour=args.price, seed=0
    )
    if args.gpus % args.tensor_parallel:
        raise InputError(
            f"--gpus {args.gpus} is not a multiple of --tensor-parallel {args.tensor_parallel}."
        )
    # FSDP (ZeRO-3) over the data-parallel GPUs; sequence parallelism with tensor parallelism.
    layout = {
        "tensor_parallel": args.tensor_parallel,
        "recompute": args.recompute,
        "sequence_parallel": args.tensor_parallel > 1,
    }
    memory = hardware.memory_per_gpu(
        plan["n_opt"], zero_stage=3, data_parallel=args.gpus // args.tensor_parallel, **layout
    )
    fits = hardware.fits(
        plan["n_opt"],
        args.gpu,
        zero_stage=3,
        data_parallel=args.gpus // args.tensor_parallel,
        **layout,
    )
    keep = [k for k, _, _ in _HARDWARE_ROWS if k in time or k in memory]
    merged = xr.merge([time, memory], compat="override")[keep]
    table = pd.concat([plan.interval(ci), Draws(merged).interval(ci)], ignore_index=True)
    table.attrs["p_fits"] = {
        float(b): float(v)
        for b, v in zip(fits["budget"].values, fits.mean(("chain", "draw")).values, strict=True)
    }
    return table


def cmd_plan(args) -> int:
    post, label = _posterior(args)
    if (args.budget is None) == (args.target_loss is None):
        raise InputError("give exactly one of --budget FLOPS or --target-loss NATS.")
    if args.target_loss is not None:
        return _print_reach(post, label, args)
    if args.gpus is not None and args.gpu is None:
        raise InputError("--gpus needs --gpu NAME (e.g. --gpu H100).")
    plan = post.optimal(args.budget, group=args.group)
    if args.gpu is not None and "group" in plan.dataset.dims:
        raise InputError(
            "train time and memory are per plan: with a per-group posterior pass "
            f"--group NAME (one of {post.groups_fitted}) or --group new."
        )
    if args.gpu is not None:
        if args.gpus is None:
            raise InputError("--gpu needs --gpus COUNT (e.g. --gpus 1024).")
        table = _hardware_table(args, plan, args.ci)
    else:
        table = plan.interval(args.ci)
    if args.json:
        records = table.to_dict(orient="records")
        print(
            json.dumps(
                {
                    "posterior": label,
                    "law": post.law.name,
                    "ci_prob": args.ci,
                    "interval": "equal-tailed",
                    "rows": records,
                    "p_fits_in_memory": table.attrs.get("p_fits"),
                },
                indent=2,
            )
        )
        return 0
    draws = post.posterior.sizes["chain"] * post.posterior.sizes["draw"]
    print(f"Compute-optimal allocation from the {label} ({post.law.name} law, {draws} draws)")
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
    for key, rows in table.groupby(by, sort=False):
        budget = key[-1]
        group = f"group {key[0]}, " if len(by) == 2 else ""
        print(f"{group}budget {budget:.3g} FLOPs")
        for key, name, unit in rows_shown:
            match = rows[rows["quantity"] == key]
            if match.empty:
                continue
            row = match.iloc[0]
            interval = f"[{human(row.lower, unit)}, {human(row.upper, unit)}]"
            print(f"  {name:<22}{human(row['median'], unit):>10}  {interval:<24}{unit}")
        if "p_fits" in table.attrs:
            print(
                f"  {'P(fits in memory)':<22}{table.attrs['p_fits'][float(budget)]:>10.2f}"
                "  (10% headroom kept free)"
            )
        print()
    return 0


def _print_reach(post, label, args) -> int:
    table = post.compute_to_reach(args.target_loss, group=args.group).interval(args.ci)
    if args.json:
        print(
            json.dumps(
                {
                    "posterior": label,
                    "law": post.law.name,
                    "ci_prob": args.ci,
                    "rows": table.to_dict(orient="records"),
                },
                indent=2,
                default=str,
            )
        )
        return 0
    print(f"Cheapest allocation reaching a target loss, from the {label} ({post.law.name} law)")
    print(f"medians with {args.ci:.0%} equal-tailed credible intervals\n")
    rows = (
        ("compute", "compute", "FLOPs"),
        ("n_opt", "N_opt", "parameters"),
        ("d_opt", "D_opt", "tokens"),
    )
    for target, group in table.groupby("target_loss", sort=True):
        print(f"target loss {target:g} nats/token")
        for key, name, unit in rows:
            row = group[group["quantity"] == key].iloc[0]
            interval = f"[{human(row.lower, unit)}, {human(row.upper, unit)}]"
            print(f"  {name:<22}{human(row['median'], unit):>10}  {interval:<24}{unit}")
        print()
    return 0


def cmd_fit(args) -> int:
    from bayescale.datasets import list_datasets, load_dataset
    from bayescale.inference import fit
    from bayescale.sweep import read_sweep

    out = Path(args.output)
    if out.exists() and not args.overwrite:
        raise FileExistsError(f"{str(out)!r} exists; pass --overwrite to replace it.")
    columns = {
        k: getattr(args, k) for k in ("n", "d", "loss", "flops", "group") if getattr(args, k)
    }
    if Path(args.source).exists():
        sweep = read_sweep(args.source, **columns)
    elif args.source in set(list_datasets()["name"]):
        unused = sorted(f"--{k}" for k in columns if k != "group")
        if unused:
            raise InputError(
                f"{', '.join(unused)} name columns of a file; the bundled dataset "
                f"{args.source!r} has its columns set. Only --group applies to it."
            )
        sweep = load_dataset(args.source, group=args.group)
    else:
        raise FileNotFoundError(
            f"{args.source!r} is neither a file nor a bundled dataset; bundled datasets: "
            f"{sorted(list_datasets()['name'])}."
        )
    vary = tuple(args.vary.split(",")) if args.vary else None
    post = fit(
        sweep,
        law=args.law,
        likelihood=args.likelihood,
        pooling=args.pooling,
        vary=vary,
        centring=args.centring,
        chains=args.chains,
        warmup=args.warmup,
        draws=args.draws,
        seed=args.seed,
        device=args.device,
        extrapolation_error=args.extrapolation_error,
        progress=not args.quiet,
    )
    post.save(out, overwrite=args.overwrite)
    print(f"wrote {out} ({post.info.sampler.seconds:.1f} s sampling)")
    print(post.summary(ci_prob=0.9).round(4).to_string())
    return 0


def _print_rows(table, rows, by) -> None:
    for key, group in table.groupby(by, sort=True):
        print(f"{by} {key:.3g}" if isinstance(key, float) else f"{by} {key}")
        for quantity, name, unit in rows:
            row = group[group["quantity"] == quantity].iloc[0]
            interval = f"[{human(row.lower, unit)}, {human(row.upper, unit)}]"
            print(f"  {name:<26}{human(row['median'], unit):>10}  {interval:<24}{unit}")
        print()


def cmd_compare(args) -> int:
    from bayescale.comparisons import compare_allocations, compare_variants
    from bayescale.posterior import load_posterior

    post, label = _posterior(args)
    if args.kind == "allocations":
        if args.n_a is None or args.n_b is None or len(args.budget) != 1:
            raise InputError(
                "compare allocations needs one --budget and both --n-a and --n-b "
                "(model sizes in parameters)."
            )
        result = compare_allocations(
            post,
            args.budget[0],
            args.n_a,
            args.n_b,
            labels=(args.label_a, args.label_b),
            group=args.group,
        )
        table = result.interval(args.ci)
        final = table[table["quantity"] == "final_difference"].iloc[0]
        p_b = result.dataset.attrs["p_b_lower"]
        if args.json:
            print(
                json.dumps(
                    {
                        "posterior": label,
                        "budget": args.budget[0],
                        "n_a": args.n_a,
                        "n_b": args.n_b,
                        "p_b_lower": p_b,
                        "final_difference": final[["median", "lower", "upper"]].to_dict(),
                        "ci_prob": args.ci,
                    },
                    indent=2,
                )
            )
            return 0
        print(f"Two allocations of {args.budget[0]:.3g} FLOPs, from the {label}")
        print(
            f"  {args.label_a}: {human(args.n_a, 'parameters')} parameters on "
            f"{human(args.budget[0] / (6 * args.n_a), 'tokens')} tokens"
        )
        print(
            f"  {args.label_b}: {human(args.n_b, 'parameters')} parameters on "
            f"{human(args.budget[0] / (6 * args.n_b), 'tokens')} tokens"
        )
        print(
            f"  final loss {args.label_b} − {args.label_a}: {final['median']:+.4f} nats "
            f"[{final['lower']:+.4f}, {final['upper']:+.4f}] ({args.ci:.0%})"
        )
        print(f"  P({args.label_b} ends lower than {args.label_a}) = {p_b:.3f}")
        return 0
    other = load_posterior(args.b_posterior) if args.b_posterior else post
    if args.gpu is None or args.gpus is None:
        raise InputError("compare variants needs --gpu NAME and --gpus COUNT.")
    result = compare_variants(
        post,
        other,
        args.budget,
        hardware=args.gpu,
        n_gpus=args.gpus,
        group_a=args.group,
        group_b=args.b_group,
        mfu=args.mfu,
        labels=(args.label_a, args.label_b),
    )
    table = result.interval(args.ci)
    if args.json:
        print(
            json.dumps(
                {
                    "posterior": label,
                    "labels": [args.label_a, args.label_b],
                    "ci_prob": args.ci,
                    "rows": table.to_dict(orient="records"),
                },
                indent=2,
            )
        )
        return 0
    print(
        f"{args.label_a} against {args.label_b}, each at its own compute-optimal size, on "
        f"{args.gpus} × {args.gpu} (FSDP, selective recomputation)"
    )
    print(f"medians with {args.ci:.0%} equal-tailed intervals; differences are A − B\n")
    _print_rows(
        table,
        (
            ("memory_diff_gb", "memory per GPU, A − B", "GB"),
            ("memory_ratio", "memory per GPU, A / B", "ratio"),
            ("hours_diff", "training time, A − B", "hours"),
            ("hours_ratio", "training time, A / B", "ratio"),
        ),
        "budget",
    )
    return 0


PLOTS = (
    "fit",
    "loss-vs-params",
    "frontier",
    "pairs",
    "ppc",
    "isoflops",
    "excess-compute",
    "allocations",
    "variants",
)


def _plot_sweep(args, post):
    """The sweep to draw under the posterior: --data, else the reference fit's own."""
    from bayescale.datasets import list_datasets, load_dataset
    from bayescale.reference import reference_names, reference_sweep
    from bayescale.sweep import read_sweep

    if args.data:
        if Path(args.data).exists():
            return read_sweep(args.data)
        return load_dataset(args.data)
    name = args.dataset or (None if args.posterior else "chinchilla")
    if name in reference_names():
        return reference_sweep(name)
    source = post.info.data.source.get("name")
    if source in set(list_datasets()["name"]):
        return load_dataset(source)
    raise InputError(
        "this plot draws the data too: pass --data PATH (the sweep file the "
        "posterior was fitted to) or a bundled dataset name."
    )


def cmd_plot(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from bayescale import comparisons, plotting
    from bayescale.posterior import load_posterior

    out = Path(args.output)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise InputError(f"-o {out.name}: use a .png, .svg or .pdf file name.")
    post, _ = _posterior(args)
    budget = args.budget or [1e22]
    kind = args.kind
    if kind == "fit":
        fig, _ = plotting.plot_fit(post, _plot_sweep(args, post), ci_prob=args.ci)
    elif kind == "isoflops":
        fig, _ = plotting.plot_isoflops(post, _plot_sweep(args, post), ci_prob=args.ci)
    elif kind == "loss-vs-params":
        fig, _ = plotting.plot_loss_vs_params(post, ci_prob=args.ci)
    elif kind == "frontier":
        fig, _ = plotting.plot_frontier(post, ci_prob=args.ci)
    elif kind == "pairs":
        fig, _ = plotting.plot_pairs(post, ci_prob=args.ci)
    elif kind == "ppc":
        fig, _ = plotting.plot_ppc(post, ci_prob=args.ci)
    elif kind == "excess-compute":
        fig, _ = plotting.plot_excess_compute(post, budget[0], group=args.group, ci_prob=args.ci)
    elif kind == "allocations":
        if args.n_a is None or args.n_b is None:
            raise InputError("plot allocations needs --n-a and --n-b (model sizes).")
        result = comparisons.compare_allocations(
            post,
            budget[0],
            args.n_a,
            args.n_b,
            labels=(args.label_a, args.label_b),
            group=args.group,
        )
        fig, _ = plotting.plot_allocations(result, ci_prob=args.ci)
    else:
        other = load_posterior(args.b_posterior) if args.b_posterior else post
        result = comparisons.compare_variants(
            post,
            other,
            budget,
            hardware=args.gpu or "H100",
            n_gpus=args.gpus or 16,
            group_a=args.group,
            group_b=args.b_group,
            labels=(args.label_a, args.label_b),
        )
        fig, _ = plotting.plot_variants(result, ci_prob=args.ci)
    fig.savefig(out, dpi=200, bbox_inches="tight")
    print(f"wrote {out}")
    return 0


def cmd_datasets(args) -> int:
    import pandas as pd

    from bayescale.datasets import list_datasets

    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print(list_datasets().to_string(index=False))
    return 0


def _comparison_options(p) -> None:
    """Options shared by ``compare`` and ``plot``: the posterior(s), groups, sizes, hardware."""
    source = p.add_mutually_exclusive_group()
    source.add_argument("--posterior", help="a posterior file (variant A's, for variants)")
    source.add_argument("--dataset", help="use the shipped reference fit of this dataset")
    p.add_argument("--group", help="group of a per-group posterior (A's for variants), or 'new'")
    p.add_argument("--b-group", help="variants: group of B")
    p.add_argument("--b-posterior", help="variants: B's posterior file (default: A's)")
    p.add_argument("--n-a", type=float, help="allocations: model size A (parameters)")
    p.add_argument("--n-b", type=float, help="allocations: model size B (parameters)")
    p.add_argument("--label-a", default="A")
    p.add_argument("--label-b", default="B")
    p.add_argument("--gpu", help="variants: accelerator, e.g. H100")
    p.add_argument("--gpus", type=int, help="variants: number of accelerators")
    p.add_argument("--ci", type=float, default=0.9, help="credible mass (default 0.9)")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="bayescale",
        description="Bayesian scaling laws: fit posteriors to LM sweeps and plan training runs.",
    )
    top.add_argument("--version", action="version", version=f"bayescale {__version__}")
    sub = top.add_subparsers(dest="command", required=True)

    sub.add_parser("datasets", help="list the bundled sweep datasets").set_defaults(
        run=cmd_datasets
    )

    p = sub.add_parser("fit", help="fit a law to a CSV/Parquet/JSONL file or a bundled dataset")
    p.add_argument("source", help="path to a sweep file, or a bundled dataset name")
    p.add_argument("-o", "--output", required=True, help="posterior file to write (.nc)")
    p.add_argument("--law", default="chinchilla")
    p.add_argument("--likelihood", default="student_t", choices=("student_t", "normal"))
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("cpu", "gpu"), default=None)
    p.add_argument("--n", help="column holding model size (default n_params)")
    p.add_argument("--d", help="column holding training tokens (default n_tokens)")
    p.add_argument("--loss", help="column holding the loss (default loss)")
    p.add_argument("--flops", help="column holding training FLOPs (tokens derived if no --d)")
    p.add_argument(
        "--group",
        help="column holding group labels (for a bundled dataset: "
        "another of its columns to group by, e.g. architecture)",
    )
    p.add_argument(
        "--pooling",
        choices=("none", "partial", "separate"),
        default="none",
        help="one law (none), hierarchical over groups (partial), or one per group",
    )
    p.add_argument(
        "--vary",
        help="with --pooling partial: comma-separated parameters that vary by group (default: all)",
    )
    p.add_argument(
        "--centring",
        choices=CENTRING,
        default="non-centred",
        help="with --pooling partial: how group values are sampled; centred suits "
        "groups the data pin down, e.g. many runs per group",
    )
    p.add_argument(
        "--extrapolation-error",
        type=float,
        default=EXTRAPOLATION_ERROR,
        help="scale of the law's error beyond the fitted compute in loss "
        f"predictions, per e-fold in units of the noise (default "
        f"{EXTRAPOLATION_ERROR:g}; 0 turns it off)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace the output file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_fit)

    p = sub.add_parser(
        "plan",
        help="compute-optimal N, D and loss for a FLOP budget, with "
        "train time and memory on given hardware",
    )
    p.add_argument("--budget", type=float, nargs="+", help="FLOPs, e.g. 1e24")
    p.add_argument(
        "--target-loss",
        type=float,
        nargs="+",
        help="the inverse question: compute needed to reach this loss (nats)",
    )
    p.add_argument("--gpu", help="accelerator for train time and memory, e.g. H100, A100-80GB")
    p.add_argument("--gpus", type=int, help="number of accelerators")
    p.add_argument(
        "--mfu",
        type=float,
        help="fixed model FLOPs utilisation in (0, 1]; default: a distribution centred on 0.45",
    )
    p.add_argument("--price", type=float, help="price per GPU-hour, for the cost")
    p.add_argument(
        "--tensor-parallel",
        type=int,
        default=1,
        help="tensor-parallel degree for the memory estimate (default 1)",
    )
    p.add_argument(
        "--recompute",
        choices=("selective", "full", "none"),
        default="selective",
        help="activation recomputation for the memory estimate (default selective)",
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument("--posterior", help="a posterior file written by 'bayescale fit'")
    source.add_argument("--dataset", help="use the shipped reference fit of this dataset")
    p.add_argument(
        "--group",
        help="for a per-group posterior: a group name, or 'new' for an "
        "unseen group from the population (default: every group and new)",
    )
    p.add_argument("--ci", type=float, default=0.9, help="credible mass (default 0.9)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=cmd_plan)

    p = sub.add_parser(
        "compare",
        help="two allocations at one budget, or two variants (groups "
        "or posteriors) at their own optima",
    )
    p.add_argument("kind", choices=("allocations", "variants"))
    p.add_argument("--budget", type=float, nargs="+", required=True, help="FLOPs")
    _comparison_options(p)
    p.add_argument("--mfu", type=float, help="fixed MFU in (0, 1] (default: a distribution)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_compare)

    p = sub.add_parser("plot", help="credible-interval figures (see docs/gallery)")
    p.add_argument("kind", choices=PLOTS)
    p.add_argument("-o", "--output", required=True, help="file to write: .png, .svg or .pdf")
    p.add_argument("--data", help="the sweep to draw (file or bundled name), for fit/isoflops")
    p.add_argument(
        "--budget",
        type=float,
        nargs="+",
        help="FLOPs (excess-compute, allocations: one; variants: several)",
    )
    _comparison_options(p)
    p.set_defaults(run=cmd_plot)
    return top


def _show_warning(message, category, filename, lineno, file=None, line=None):
    text = textwrap.fill(f"{category.__name__}: {message}", width=100)
    print(text, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user error (``USER_ERRORS``) prints one paragraph and returns 2,
    any other exception propagates with its traceback."""
    args = parser().parse_args(argv)
    shown = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        return args.run(args)
    except USER_ERRORS as err:
        print(textwrap.fill(f"bayescale {args.command}: error: {err}", width=100), file=sys.stderr)
        return 2
    finally:
        warnings.showwarning = shown


if __name__ == "__main__":
    sys.exit(main())
