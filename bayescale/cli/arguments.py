"""The command line's parser: its commands, their flags and help texts."""

from __future__ import annotations

import argparse
import re

from bayescale import __version__
from bayescale.cli.compare import cmd_compare
from bayescale.cli.datasets import cmd_datasets
from bayescale.cli.fit import cmd_fit
from bayescale.cli.hardware import HARDWARE
from bayescale.cli.plan import cmd_plan
from bayescale.cli.plot import PLOTS, cmd_plot
from bayescale.cli.predict import cmd_predict
from bayescale.cli.suggest import cmd_suggest
from bayescale.discrepancy import EXTRAPOLATION_ERROR  # numpy only, no JAX

# bayescale.model.CENTRING and bayescale.curves.CHECKPOINTS, spelt out so that --help need
# not import the model (and JAX) or SciPy; tests/test_cli.py checks that they agree.
CENTRING = ("non-centred", "centred")
CHECKPOINTS = ("final", "all")

NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.I)


class _Parser(argparse.ArgumentParser):
    """argparse's parser, reading a negative number such as ``-1e22`` (or ``-inf``) as a
    value rather than as an unknown option, so that its range check can name the flag
    (Python 3.11's argparse reads only ``-1`` and ``-1.5`` so). Sub-commands' parsers are
    of the same class."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER


# --group of the commands that answer for every group of a per-group posterior by default
EVERY_GROUP_HELP = (
    "for a per-group posterior: a group name, or 'new' for an unseen group from the "
    "population (default: every group and new; one is needed with --gpu)"
)
CI_HELP = (
    "probability of the equal-tailed intervals, ci_prob (default 0.9); JSON rows name "
    "their bounds as az.summary does: eti_5%% and eti_95%% at 0.9"
)


def _json_option(p) -> None:
    p.add_argument(
        "--json",
        action="store_true",
        help="print strict JSON instead of text (infinite values as null, with a reason)",
    )


def _comparison_options(p) -> None:
    """Options shared by ``compare`` and ``plot``: the posterior(s), groups, sizes, hardware."""
    source = p.add_mutually_exclusive_group()
    source.add_argument("--posterior", help="a posterior file (variant A's, for variants)")
    source.add_argument("--dataset", help="use the shipped reference fit of this dataset")
    p.add_argument(
        "--group",
        help="group of a per-group posterior (A's for variants), or 'new'; plot ppc and plot "
        "frontier draw every group without it",
    )
    p.add_argument("--b-group", help="variants: group of B (of --b-posterior, else of A's)")
    p.add_argument("--b-posterior", help="variants: B's posterior file (or --b-group)")
    p.add_argument("--n-a", type=float, help="allocations: model size A (parameters)")
    p.add_argument("--n-b", type=float, help="allocations: model size B (parameters)")
    p.add_argument("--n-params", type=float, help="schedules: the run's model size (parameters)")
    p.add_argument(
        "--schedule-a",
        metavar="SPEC",
        help="schedules: A's learning-rate schedule, the reference (bayescale.schedules."
        "Schedule.from_text), e.g. cosine:total=24000,peak=3e-4,final=3e-5,warmup=2160",
    )
    p.add_argument(
        "--schedule-b",
        metavar="SPEC",
        nargs="+",
        help="schedules: B's, compared with A's (plot draws A's run alone without it), e.g. "
        "wsd:total=24000,peak=3e-4,final=3e-5,decay_start=19200; several compare each with A",
    )
    p.add_argument("--label-a", help="name of A (default: its group, or A)")
    p.add_argument(
        "--label-b",
        nargs="+",
        help="name of B (default: its group, or B); schedules: one per --schedule-b SPEC "
        "(default B, C, ...)",
    )
    p.add_argument("--gpu", help="variants: accelerator, e.g. H100")
    p.add_argument("--gpus", type=int, help="variants: number of accelerators")
    p.add_argument("--ci", type=float, default=0.9, help=CI_HELP)
    _finished_run_options(p)


def _hardware_options(p, gpu_help: str = "") -> None:
    """``--gpu``, ``--gpus``, ``--mfu``, ``--price``, ``--tensor-parallel`` and
    ``--recompute``: the hardware to train on (:mod:`bayescale.cli.hardware`)."""
    p.add_argument(
        "--gpu", help=f"{gpu_help}accelerator for train time and memory, e.g. H100, A100-80GB"
    )
    p.add_argument("--gpus", type=int, help="number of accelerators (with --gpu)")
    p.add_argument(
        "--mfu",
        type=float,
        help="fixed model FLOPs utilisation in (0, 1]; default: a distribution centred on 0.45 "
        "(with --gpu)",
    )
    p.add_argument("--price", type=float, help="price per GPU-hour, for the cost (with --gpu)")
    p.add_argument(
        "--tensor-parallel",
        type=int,
        default=HARDWARE["tensor_parallel"],
        help="tensor-parallel degree for the memory estimate (with --gpu; default 1)",
    )
    p.add_argument(
        "--recompute",
        choices=("selective", "full", "none"),
        default=HARDWARE["recompute"],
        help="activation recomputation for the memory estimate (with --gpu; default selective)",
    )


def _posterior_options(p, group_help: str) -> None:
    """``--posterior`` or ``--dataset``, the posterior a command answers from, and
    ``--group``."""
    source = p.add_mutually_exclusive_group()
    source.add_argument("--posterior", help="a posterior file written by 'bayescale fit'")
    source.add_argument("--dataset", help="use the shipped reference fit of this dataset")
    p.add_argument("--group", help=group_help)


def _finished_run_options(p) -> None:
    """``--schedule`` and ``--tokens-per-step``: the finished runs that a law reading
    learning-rate schedules answers for."""
    p.add_argument(
        "--schedule",
        metavar="SPEC",
        help="for a law that reads schedules (multipower, annealing): answer for finished runs "
        "of this schedule's family, stretched to each run's length (default: the family the "
        "sweep used), e.g. wsd:total=24000,peak=3e-4,final=3e-5,decay_start=19200,warmup=2160 "
        "(bayescale.schedules.Schedule.from_text)",
    )
    p.add_argument(
        "--tokens-per-step",
        type=float,
        help="with --schedule's laws: tokens per optimiser step of those runs (default: the "
        "sweep's)",
    )


def _column_options(p, group_flag: str, group_help: str) -> None:
    """Flags naming the columns of a sweep file."""
    p.add_argument("--n", help="column holding model size (default n_params)")
    p.add_argument("--d", help="column holding training tokens (default n_tokens)")
    p.add_argument("--loss", help="column holding the loss (default loss)")
    p.add_argument("--flops", help="column holding training FLOPs (tokens derived if no --d)")
    p.add_argument(group_flag, help=group_help)


def parser() -> argparse.ArgumentParser:
    top = _Parser(
        prog="bayescale",
        description="Bayesian scaling laws: fit posteriors to LM sweeps and plan training runs.",
    )
    top.add_argument("--version", action="version", version=f"bayescale {__version__}")
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("datasets", help="list the bundled sweep datasets")
    _json_option(p)
    p.set_defaults(run=cmd_datasets)

    p = sub.add_parser("fit", help="fit a law to a CSV/Parquet/JSONL file or a bundled dataset")
    p.add_argument("source", help="path to a sweep file, or a bundled dataset name")
    p.add_argument("-o", "--output", required=True, help="posterior file to write (.nc)")
    p.add_argument(
        "--law",
        nargs="+",
        default=["chinchilla"],
        help="the law to fit; several laws are mixed by leave-future-out stacking weights "
        "and saved as one stack file (default chinchilla)",
    )
    p.add_argument(
        "--cuts",
        type=float,
        nargs="+",
        help="with several --law: increasing fractions of the runs (by compute) to train on "
        "before scoring the larger ones (default 0.5 0.667 0.833)",
    )
    p.add_argument(
        "--likelihood",
        default=None,
        choices=("student_t", "normal"),
        help="noise model (default: student_t for finished runs, normal for training curves)",
    )
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--target-accept",
        type=float,
        help="NUTS's target acceptance rate (default 0.8); raise it (e.g. 0.95) where a fit "
        "diverges",
    )
    p.add_argument("--device", choices=("cpu", "gpu"), default=None)
    _column_options(
        p,
        "--group",
        "column holding group labels (for a bundled dataset: another of its columns to "
        "group by, e.g. architecture)",
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
        "--checkpoints",
        choices=CHECKPOINTS,
        help="training curves: fit each run's final checkpoint, or all of them (default: all "
        "for a law that reads learning-rate schedules, else final)",
    )
    p.add_argument(
        "--offset-groups",
        metavar="COLUMN",
        help="training curves: runs with the same value of this column (e.g. n_params) "
        "share part of their offset, which new runs of that value inherit",
    )
    p.add_argument(
        "--extrapolation-error",
        type=float,
        help="scale of the law's error outside the fitted runs in loss "
        f"predictions, per e-fold of distance from the fitted runs in units of the noise "
        f"(default {EXTRAPOLATION_ERROR:.3g}, learned on the bundled sweeps; with several "
        "--law, each law's learned on this sweep too; 0 turns it off)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace the output file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _json_option(p)
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
    _hardware_options(p, "with --budget: ")
    _posterior_options(p, EVERY_GROUP_HELP)
    p.add_argument("--ci", type=float, default=0.9, help=CI_HELP)
    _finished_run_options(p)
    _json_option(p)
    p.set_defaults(run=cmd_plan)

    p = sub.add_parser(
        "predict",
        help="the final loss of planned runs of N parameters on D tokens, and each run's "
        "excess compute over the compute-optimal run of the same loss",
    )
    p.add_argument(
        "--n-params",
        type=float,
        nargs="+",
        required=True,
        help="parameters of each planned run, e.g. 7e9",
    )
    p.add_argument(
        "--n-tokens",
        type=float,
        nargs="+",
        required=True,
        help="training tokens of each planned run, paired with --n-params in order (one "
        "value pairs with each of the other's), e.g. 1.4e12",
    )
    _hardware_options(p)
    _posterior_options(p, EVERY_GROUP_HELP)
    p.add_argument("--ci", type=float, default=0.9, help=CI_HELP)
    _finished_run_options(p)
    _json_option(p)
    p.set_defaults(run=cmd_predict)

    p = sub.add_parser(
        "compare",
        help="two allocations at one budget, or two variants (groups "
        "or posteriors) at their own optima",
    )
    p.add_argument("kind", choices=("allocations", "variants", "schedules"))
    p.add_argument(
        "--budget",
        type=float,
        nargs="+",
        help="FLOPs (allocations: one; variants: one or more)",
    )
    _comparison_options(p)
    p.add_argument("--mfu", type=float, help="fixed MFU in (0, 1] (default: a distribution)")
    _json_option(p)
    p.set_defaults(run=cmd_compare)

    p = sub.add_parser(
        "suggest",
        help="the next training runs that most shrink the uncertainty of a target per FLOP",
    )
    p.add_argument(
        "--target",
        choices=("n_opt", "loss", "region"),
        default="n_opt",
        help="N_opt at --budget (default), the loss of a planned run, or the loss over "
        "several planned runs (--n-params, --n-tokens)",
    )
    p.add_argument("--budget", type=float, help="--target n_opt: FLOPs, e.g. 1e24")
    p.add_argument("--n-params", type=float, nargs="+", help="planned run(s): parameters")
    p.add_argument("--n-tokens", type=float, nargs="+", help="planned run(s): tokens")
    p.add_argument("--max-compute", type=float, help="FLOPs of the largest run to suggest")
    p.add_argument(
        "--min-compute",
        type=float,
        help="FLOPs of the smallest run to suggest (default: the smallest fitted run's)",
    )
    p.add_argument(
        "--candidates",
        metavar="FILE",
        help="the runs to choose from: a table (.csv, .tsv, .parquet, .jsonl) with columns "
        "n_params and n_tokens, rows counted from 0 under the header (default: a grid up to "
        "--max-compute)",
    )
    p.add_argument(
        "--tokens-per-param",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        help="tokens per parameter of the candidate runs (default 2 200): offer the shapes "
        "you will ask about, e.g. 10 40 (docs/guide/planning.md)",
    )
    p.add_argument("-k", "--k", type=int, default=4, help="runs to suggest (default 4)")
    _posterior_options(p, "for a per-group posterior: a group name, or 'new'")
    p.add_argument(
        "--method",
        choices=["linear", "reweight"],
        default="linear",
        help="the criterion: a linear update of the draws (default) or importance "
        "reweighting by simulated outcomes (bayescale.design)",
    )
    p.add_argument(
        "--law-only",
        action="store_true",
        help="--target loss or region: value runs by the law's variance alone, without the "
        "law's error: the target's extrapolation error, which runs towards the target "
        "shrink, and the discount of runs far from the target",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated outcomes")
    p.add_argument(
        "--plot",
        metavar="FILE",
        help="also draw the candidates and the chosen runs (.png, .svg or .pdf; "
        "bayescale.plotting.plot_suggestions)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace the --plot file")
    _finished_run_options(p)
    _json_option(p)
    p.set_defaults(run=cmd_suggest)

    p = sub.add_parser("plot", help="credible-interval figures (see docs/gallery)")
    p.add_argument("kind", choices=PLOTS)
    p.add_argument("-o", "--output", required=True, help="file to write: .png, .svg or .pdf")
    p.add_argument("--data", help="the sweep to draw (file or bundled name), for fit/isoflops")
    _column_options(p, "--group-column", "column of --data holding group labels (default group)")
    p.add_argument(
        "--budget",
        type=float,
        nargs="+",
        help="FLOPs: one for excess-compute and allocations, one or more for variants",
    )
    _comparison_options(p)
    p.add_argument("--overwrite", action="store_true", help="replace the output file")
    _json_option(p)
    p.set_defaults(run=cmd_plot)
    return top
