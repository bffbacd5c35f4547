"""``bayescale plot``: credible-interval figures, each written whole to a .png, .svg or
.pdf file."""

from __future__ import annotations

from pathlib import Path

from bayescale.cli.compare import allocations_of, check_kind, schedules_of, variants_of
from bayescale.cli.output import emit
from bayescale.cli.sources import (
    COLUMNS,
    STACK_PLOTS,
    check_group,
    law_record,
    print_weights,
    read_posterior,
    sweep_source,
)
from bayescale.errors import InputError
from bayescale.paths import check_output, replacing

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
    "schedules",
)


def _plot_sweep(args, post):
    """The sweep to draw under the posterior: --data, else the reference fit's own."""
    from bayescale.datasets import list_datasets, load_dataset
    from bayescale.reference import reference_names, reference_sweep

    columns = {k: getattr(args, k) for k in COLUMNS if getattr(args, k)}
    if args.group_column:
        columns["group"] = args.group_column
    if args.data:
        return sweep_source(args.data, "--data", columns, "--group-column", regroup=False)
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


def _figure(args, post):
    """The figure ``bayescale plot KIND`` draws."""
    from bayescale import plotting

    budget, group, ci = args.budget, args.group, args.ci
    kind = args.kind
    if kind == "variants":
        return plotting.plot_variants(variants_of(args, post, budget), ci_prob=ci)[0]
    if kind == "allocations":
        return plotting.plot_allocations(allocations_of(args, post, budget[0]), ci_prob=ci)[0]
    check_group(post, group, needed=kind not in ("ppc", "frontier"))
    if kind == "schedules":
        schedules, tokens = schedules_of(args, post)
        return plotting.plot_schedules(
            post, args.n_params, schedules, tokens, group=group, ci_prob=ci
        )[0]
    if kind == "fit":
        return plotting.plot_fit(post, _plot_sweep(args, post), group=group, ci_prob=ci)[0]
    if kind == "isoflops":
        return plotting.plot_isoflops(post, _plot_sweep(args, post), group=group, ci_prob=ci)[0]
    if kind == "excess-compute":
        return plotting.plot_excess_compute(post, budget[0], group=group, ci_prob=ci)[0]
    figures = {
        "loss-vs-params": plotting.plot_loss_vs_params,
        "frontier": plotting.plot_frontier,
        "pairs": plotting.plot_pairs,
        "ppc": plotting.plot_ppc,
    }
    return figures[kind](post, group=group, ci_prob=ci)[0]


def figure_file(path: str, overwrite: bool, flag: str) -> Path:
    """The figure file named by ``flag``, checked before any work: a .png, .svg or .pdf
    name that can be written; and matplotlib's file-only backend, before any figure."""
    import matplotlib

    matplotlib.use("Agg")
    out = Path(path)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise InputError(f"{flag} {out.name}: use a .png, .svg or .pdf file name.")
    return check_output(out, overwrite=overwrite, name=flag, replace_with="--overwrite")


def save_figure(fig, out: Path) -> None:
    """Write ``fig`` to ``out`` whole (or leave ``out`` as it was), and close it."""
    import matplotlib.pyplot as plt

    try:
        with replacing(out) as partial:
            fig.savefig(partial, format=out.suffix[1:].lower(), dpi=200, bbox_inches="tight")
    finally:
        plt.close(fig)  # a program calling main() repeatedly would otherwise keep them all


def cmd_plot(args) -> int:
    out = figure_file(args.output, args.overwrite, "-o")
    check_kind(args)
    post, _ = read_posterior(args, stacks=args.kind in STACK_PLOTS)
    save_figure(_figure(args, post), out)
    if args.json:
        emit({"wrote": str(out), "kind": args.kind, "group": args.group, **law_record(post)})
    else:
        print_weights(post)
        print(f"wrote {out}")
    return 0
