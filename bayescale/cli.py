"""The ``bayescale`` command line.

::

    bayescale datasets
    bayescale fit chinchilla -o post.nc [--law chinchilla --chains 4 --draws 1000 --seed 0]
    bayescale fit chinchilla -o stack.nc --law chinchilla farseer [--cuts 0.5 0.67 0.83]
    bayescale fit runs.csv -o post.nc --n params --d tokens --loss val_loss
    bayescale fit gadre_overtrain -o post.nc --pooling partial [--vary e,alpha]
    bayescale fit routing_clark2022 -o post.nc --group architecture --pooling partial
    bayescale plan --budget 1e24 [--posterior post.nc | --dataset chinchilla] [--ci 0.9]
    bayescale plan --budget 1e24 --posterior stack.nc
    bayescale plan --budget 1e22 --dataset gadre_overtrain [--group rpj | --group new]
    bayescale plot fit -o fit.png --dataset gadre_overtrain --group rpj [--overwrite]
    bayescale plot frontier -o frontier.png --posterior stack.nc
    bayescale suggest --posterior post.nc --target n_opt --budget 1e24 --max-compute 1e20 -k 4
    bayescale suggest --dataset chinchilla --budget 1e24 --max-compute 1e21 --plot next.png
    bayescale suggest --target loss --n-params 7e10 --n-tokens 1.4e12 --max-compute 1e21
    bayescale --version

Every command takes ``--json`` and then prints one object of strict JSON (RFC 8259) on
standard output. Numbers that JSON cannot hold (infinite, NaN) are written as ``null``,
and the object holding them gets a ``"reason"`` field that says why. A quantity computed
per posterior draw is infinite in a draw that never reaches it (a target loss below that
draw's floor, say), so a row of ``plan --target-loss 1.5 --json`` reads ``"median": null,
..., "reason": "unreachable in 69% of draws"``; the tables print such a value as
``unreachable`` and give the share of draws.

Before any work, numbers are checked against their ranges (:mod:`bayescale.ranges`; a
negative number such as ``--budget -1e22`` is read as a number and refused by name),
files read must be regular files (a named pipe would block), and a command that writes
(``fit -o``, ``plot -o``) checks its output path: not a folder, in a folder that exists
and takes new files, and not a file already there unless ``--overwrite``
(:mod:`bayescale.paths`). The output is written whole or not at all.

User errors print one paragraph and exit with status 2, never a traceback: the errors
bayescale raises on purpose (:class:`~bayescale.errors.BayescaleError`: bad files, bad
columns, bad numbers, bad flag combinations), and file errors (missing, already there, a
folder, not permitted), which in a command concern the files the user named. The library
names its arguments in Python syntax (``loss='val_loss'``); where an argument is a flag of
the command, messages show the flag (``--loss val_loss``). Anything else is a bug and
propagates with its traceback (exit status 1). Bad command-line syntax exits with status
2, from argparse. Warnings about the answer (extrapolation, convergence) go to standard
error and do not change the exit status. A posterior file keeps the warnings of the fit
that made it (``Posterior.warnings``); a command that answers from it repeats them after
its answer (``Warning (when post.nc was fitted): ...``), and a shipped reference fit's too.

Modules that load JAX are imported inside the commands, so ``--help`` and ``--version``
answer without loading it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import sys
import textwrap
import time
import warnings
from collections.abc import Mapping
from pathlib import Path

from bayescale import __version__, ranges
from bayescale.discrepancy import EXTRAPOLATION_ERROR  # numpy only, no JAX
from bayescale.errors import BayescaleError, InputError, SweepValidationError
from bayescale.paths import check_input_file, check_output, replacing

USER_ERRORS = (
    BayescaleError,
    FileExistsError,
    FileNotFoundError,
    IsADirectoryError,
    PermissionError,
)
# bayescale.model.CENTRING and bayescale.curves.CHECKPOINTS, spelt out so that --help need
# not import the model (and JAX) or SciPy; tests/test_cli.py checks that they agree.
CENTRING = ("non-centred", "centred")
CHECKPOINTS = ("final", "all")

NUMBERS = {
    "chains": (ranges.COUNT, "--chains 4"),
    "warmup": (ranges.WHOLE, "--warmup 1000"),
    "draws": (ranges.COUNT, "--draws 1000"),
    "seed": (ranges.SEED, "--seed 0"),
    "target_accept": (ranges.PROBABILITY, "--target-accept 0.95"),
    "extrapolation_error": (ranges.NON_NEGATIVE, "--extrapolation-error 1"),
    "budget": (ranges.POSITIVE, "--budget 1e22"),
    "target_loss": (ranges.POSITIVE, "--target-loss 2.0"),
    "gpus": (ranges.COUNT, "--gpus 1024"),
    "tensor_parallel": (ranges.COUNT, "--tensor-parallel 8"),
    "mfu": (ranges.FRACTION, "--mfu 0.4"),
    "price": (ranges.NON_NEGATIVE, "--price 2.5"),
    "ci": (ranges.PROBABILITY, "--ci 0.9"),
    "cuts": (ranges.PROBABILITY, "--cuts 0.5 0.75"),
    "n_a": (ranges.POSITIVE, "--n-a 4.68e9"),
    "n_b": (ranges.POSITIVE, "--n-b 2.86e9"),
    "max_compute": (ranges.POSITIVE, "--max-compute 1e20"),
    "min_compute": (ranges.POSITIVE, "--min-compute 1e18"),
    "tokens_per_param": (ranges.POSITIVE, "--tokens-per-param 10 40"),
    "k": (ranges.COUNT, "-k 4"),
    "n_params": (ranges.POSITIVE, "--n-params 7e10"),
    "n_tokens": (ranges.POSITIVE, "--n-tokens 1.4e12"),
    "tokens_per_step": (ranges.POSITIVE, "--tokens-per-step 524288"),
}
"""Numeric flags (by ``dest``): the range each must lie in, and an example."""

NOT_FLAGS = ("command", "run", "source", "kind", "fit_warnings")
"""Attributes of the parsed arguments that are not flags (positionals, the command, the
loaded posteriors' fit warnings)."""

NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.I)


class _Parser(argparse.ArgumentParser):
    """argparse's parser, reading a negative number such as ``-1e22`` (or ``-inf``) as a
    value rather than as an unknown option, so that its range check can name the flag
    (Python 3.11's argparse reads only ``-1`` and ``-1.5`` so). Sub-commands' parsers are
    of the same class."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def check_numbers(args) -> None:
    """Every numeric flag given lies in its range (:data:`NUMBERS`)."""
    for dest, (valid, example) in NUMBERS.items():
        values = getattr(args, dest, None)
        for value in values if isinstance(values, list) else [values]:
            if value is not None:
                valid.check(value, _flag(dest), example)


_VALUE = r"'[^']*'|\[[^\]]*\]|\.\.\.|True\b|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b(?!\.\d)"


def flag_syntax(text: str, flags: Mapping[str, str]) -> str:
    """``text`` with the Python keyword arguments that are flags (``flags``: keyword →
    flag) in flag syntax: ``loss='val_loss'`` → ``--loss val_loss``, ``n_a=1e+30`` →
    ``--n-a 1e+30``, ``vary=['e', 'a']`` → ``--vary e,a``, ``loss=...`` → ``--loss LOSS``,
    ``overwrite=True`` → ``--overwrite``, ``group=`` → ``--group``."""
    if not flags:
        return text
    names = "|".join(map(re.escape, flags))

    def as_flag(match: re.Match) -> str:
        flag, value = flags[match.group(1)], match.group(2)
        if value in (None, "True"):
            return flag
        if value == "...":
            return f"{flag} {match.group(1).upper()}"
        if value.startswith("["):
            value = ",".join(part.strip(" '\"") for part in value[1:-1].split(","))
        return f"{flag} {shlex.quote(value.strip(chr(39)))}"

    # a keyword with no value only where no other value follows (``d=None`` stays)
    return re.sub(rf"\b({names})=(?:({_VALUE})|(?![\w.(\['\"]))", as_flag, text)


def _command_flags(args) -> dict[str, str]:
    """The command's flags by keyword: ``{"loss": "--loss", ...}``."""
    return {dest: _flag(dest) for dest in vars(args) if dest not in NOT_FLAGS}


# ---------------------------------------------------------------------------- output
def _print_finished_runs(post) -> None:
    """What a finished run means for each law of ``post`` that reads schedules, once."""
    for finished in dict.fromkeys(_finished_run(m.law.settings) for m in _members(post)):
        if finished:
            print(finished)


def _finished_run(settings) -> str:
    """What a finished run means for a law that reads schedules (its ``settings``), in
    words; ``""`` for a law of finished runs."""
    if "schedule" not in settings:
        return ""
    from bayescale.schedules import Schedule

    schedule = Schedule.from_dict(settings["schedule"])
    return (
        f"finished runs: {schedule.describe()}, stretched to each run's length, "
        f"{settings['tokens_per_step']:,.0f} tokens per step"
    )


def human(value: float, unit: str) -> str:
    """``4.63e10, "parameters"`` -> ``"46.3B"``; ``inf`` -> ``"unreachable"``; ``nan`` ->
    ``"undefined"``; plain 3-4 significant digits otherwise. Hand-written for the LLM
    convention of model and data sizes (k, M, B, T): matplotlib's ``EngFormatter`` gives SI
    prefixes (``46.3G``), and no runtime dependency of bayescale gives ``B``."""
    if math.isinf(value) and value > 0:
        return "unreachable"
    if math.isnan(value):
        return "undefined"
    if math.isfinite(value) and unit in ("parameters", "tokens") and abs(value) < 1e15:
        for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= size:
                return f"{value / size:.3g}{suffix}"
    return f"{value:.4g}"


def _percent(share: float) -> str:
    """A share of draws in words: ``0.69`` as ``69%``, never rounded to 0% or 100%."""
    if 0 < share < 0.005:
        return "<1%"
    if 0.995 < share < 1:
        return ">99%"
    return f"{share:.0%}"


def _row(name: str, row, unit: str, ci: float, width: int = 22) -> str:
    """One line of a table: the median, the ``ci`` interval, the unit, and the share of
    draws that never reach the quantity where there are any."""
    _, lower, upper = _values(ci)
    interval = f"[{human(row[lower], unit)}, {human(row[upper], unit)}]"
    line = f"  {name:<{width}}{human(row['median'], unit):>11}  {interval:<26}{unit}"
    notes = [
        f"{what} in {_percent(share)} of draws"
        for what, share in (
            ("unreachable", row.get("infinite", 0.0)),
            ("undefined", row.get("undefined", 0.0)),
        )
        if share > 0
    ]
    return line + (f"  ({'; '.join(notes)}; see the warning)" if notes else "")


def interval_table(draws, ci: float):
    """``draws.interval(ci)`` with ``infinite`` and ``undefined``: on each row, the share of
    draws in which the quantity is infinite (a size or compute that the draw never reaches)
    or not a number (a query the draw cannot answer, which a warning explains)."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    from bayescale.draws import SAMPLE_DIMS

    table = draws.interval(ci)
    parts = []
    for name, values in draws.dataset.data_vars.items():
        shares = xr.Dataset(
            {
                "infinite": np.isinf(values).mean(SAMPLE_DIMS),
                "undefined": np.isnan(values).mean(SAMPLE_DIMS),
            }
        )
        dims = list(shares.dims)
        part = (
            shares.to_dataframe().reset_index()[[*dims, "infinite", "undefined"]]
            if dims
            else pd.DataFrame({k: [float(v)] for k, v in shares.items()})
        )
        parts.append(part.assign(quantity=name))
    shares = pd.concat(parts, ignore_index=True)
    keys = [c for c in shares.columns if c not in ("infinite", "undefined")]
    # a budget given twice has two rows with one set of keys: one share each, not four
    shares = shares.drop_duplicates(subset=keys)
    out = table.merge(shares, on=keys, how="left", validate="many_to_one")
    out.attrs.update(table.attrs)
    return out


def _blocks(table, by: list[str]):
    """The rows of an :func:`interval_table` in blocks, one per value of the ``by``
    columns as asked: ``(values, rows)``, in the order asked, a budget asked twice in two
    blocks (as the JSON rows keep it twice)."""
    asked = table.groupby(["quantity", *by], sort=False).cumcount()
    for key, rows in table.groupby([*(table[column] for column in by), asked], sort=False):
        yield key[:-1], rows


_CI_HELP = (
    "probability of the equal-tailed intervals, ci_prob (default 0.9); JSON rows name "
    "their bounds as az.summary does: eti_5%% and eti_95%% at 0.9"
)


def _values(ci: float) -> tuple[str, str, str]:
    """The value columns of an :func:`interval_table` (and keys of its JSON rows): the
    ``median`` and the bounds of the ``ci`` interval, named as ``az.summary`` and
    :meth:`~bayescale.draws.Draws.interval` name them (``eti_5%``, ``eti_95%`` at 0.9)."""
    from bayescale.draws import interval_columns

    return ("median", *interval_columns(ci))


def _records(table, ci: float) -> list[dict]:
    """The rows of an :func:`interval_table` for JSON: coordinates a row does not have are
    left out, and a row whose values are not all finite says why."""
    values = _values(ci)
    rows = []
    for record in table.to_dict(orient="records"):
        share = record.pop("infinite", 0.0)
        undefined = record.pop("undefined", 0.0)
        row = {
            k: v
            for k, v in record.items()
            if k in values or not (isinstance(v, float) and math.isnan(v))
        }
        if not all(math.isfinite(row[k]) for k in values if k in row):
            reasons = [f"unreachable in {_percent(share)} of draws"] if share > 0 else []
            reasons += [f"undefined in {_percent(undefined)} of draws"] if undefined > 0 else []
            row["reason"] = "; ".join(reasons) or "not a number in some draws"
        rows.append(row)
    return rows


def _strict(value):
    """``value`` as strict JSON can hold it: numpy scalars as Python ones, infinite, NaN
    and missing numbers as ``None``, and an object that held one with a ``"reason"``
    naming them (unless it gives one)."""
    import pandas as pd

    if isinstance(value, Mapping):
        out = {str(k): _strict(v) for k, v in value.items()}
        odd = [
            f"{k}: {_not_finite(v)}"
            for k, v in value.items()
            if out[str(k)] is None and v is not None
        ]
        if odd and "reason" not in out:
            out["reason"] = "; ".join(odd)
        return out
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value


def _not_finite(value) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "infinite"
    return "not a number" if isinstance(value, float) else "missing"


def emit(data) -> None:
    """Print ``data`` as strict JSON (see the module docstring)."""
    print(json.dumps(_strict(data), indent=2, allow_nan=False, default=str))


# -------------------------------------------------------------------------- posteriors
def _posterior(args, stacks: bool = False):
    """The posterior of ``--posterior`` (a :class:`~bayescale.Stack` where the file holds
    one and the command answers from ``stacks``: ``plan``, ``suggest``, and ``plot`` of the
    figures in ``STACK_PLOTS``), else ``--dataset``'s reference fit, and its label; the
    warnings its fit raised are repeated after the answer (:func:`_keep_fit_warnings`)."""
    path = args.posterior and check_input_file(args.posterior, "--posterior", "posterior file")
    from bayescale.compilation_cache import use_compilation_cache
    from bayescale.posterior import load_posterior
    from bayescale.reference import load_reference
    from bayescale.stack_file import is_stack_file
    from bayescale.stacking import load_stack

    use_compilation_cache()  # the planning kernels compile once per law and shape
    if path and is_stack_file(path):
        if not stacks:
            command = " ".join(filter(None, (args.command, getattr(args, "kind", None))))
            raise InputError(
                f"{str(path)!r} holds a stack of several laws' posteriors; 'bayescale plan' "
                "and 'bayescale suggest' answer from a stack, and 'bayescale plot' draws "
                f"{', '.join(STACK_PLOTS)} "
                f"from one, but 'bayescale {command}' answers from one posterior. Fit one "
                "law (bayescale fit SOURCE --law NAME -o post.nc) and pass that file."
            )
        post, label = load_stack(path), str(path)
    elif path:
        post, label = load_posterior(path), str(path)
    else:
        name = args.dataset or "chinchilla"
        _check_reference(name)
        post, label = load_reference(name), f"reference fit '{name}'"
    _keep_fit_warnings(args, post, label if path else f"the {label}")
    return _finished(args, post), label


def _finished(args, post):
    """``post`` answering for finished runs of ``--schedule`` and ``--tokens-per-step``,
    where either is given (:meth:`~bayescale.Posterior.with_finished_run`)."""
    if args.schedule is None and args.tokens_per_step is None:
        return post
    return post.with_finished_run(args.schedule, args.tokens_per_step)


def _check_reference(name: str) -> None:
    """``--dataset name`` has a reference fit; if not, the error says how to fit the
    dataset, where it is a bundled one."""
    from bayescale.datasets import list_datasets
    from bayescale.reference import reference_names

    if name in reference_names():
        return
    known = f"reference fits: {reference_names()}"
    datasets = sorted(list_datasets()["name"])
    if name in datasets:
        raise InputError(
            f"there is no reference fit for dataset {name!r} ({known}). Fit it first: "
            f"bayescale fit {name} -o post.nc, then pass --posterior post.nc."
        )
    raise InputError(
        f"--dataset {shlex.quote(name)}: there is no bundled dataset of that name "
        f"({known}; bundled datasets: {datasets})."
    )


def _keep_fit_warnings(args, post, source: str) -> None:
    """Keep the warnings that the fit of ``post`` raised, which its file keeps
    (``Posterior.warnings``; a stack's, each component's), on ``args.fit_warnings``, named
    by ``source`` (the file or reference fit ``post`` came from), for :func:`main` to print
    with the answer."""
    components = getattr(post, "components", None)
    members = components.items() if components is not None else [(None, post)]
    for label, member in members:
        where = source if label is None else f"law {label} of {source}"
        args.fit_warnings += [f"Warning (when {where} was fitted): {t}" for t in member.warnings]


def _other_posterior(args, post):
    """Variant B's posterior: ``--b-posterior`` (``post`` again where it names A's file),
    else A's."""
    from bayescale.posterior import load_posterior

    if not args.b_posterior:
        return post
    path = check_input_file(args.b_posterior, "--b-posterior", "posterior file")
    if args.posterior and path.samefile(args.posterior):
        return post
    other = load_posterior(path)
    _keep_fit_warnings(args, other, str(path))
    return _finished(args, other)


def _members(post) -> list:
    """The single posteriors behind ``post``: a stack's components, or ``post`` itself."""
    components = getattr(post, "components", None)
    return list(components.values()) if components is not None else [post]


def _law_record(post) -> dict:
    """The law of ``post`` for JSON output; for a stack, each component's law and weight."""
    weights = getattr(post, "weights", None)
    if weights is None:
        return {"law": post.law.name, "law_settings": dict(post.law.settings)}
    return {
        "laws": {
            label: {
                "law": member.law.name,
                "weight": weights[label],
                "law_settings": dict(member.law.settings),
            }
            for label, member in post.components.items()
        }
    }


def _laws(post) -> str:
    """The law of ``post`` in words: its name, or how many laws a stack mixes."""
    members = _members(post)
    return f"{post.law.name} law" if members[0] is post else f"a mixture of {len(members)} laws"


def _print_weights(post) -> None:
    """For a stack, a line naming its laws and their weights."""
    weights = getattr(post, "weights", None)
    if weights is not None:
        laws = ", ".join(f"{label} {w:.3f}" for label, w in weights.items())
        print(f"laws by stacking weight (leave-future-out): {laws}")


def check_group(post, group: str | None, flag: str = "--group", needed: bool = True) -> None:
    """``group`` (the value of ``flag``) names what ``post`` answers for: nothing when it
    has no groups; a fitted group, or ``new`` under partial pooling, when it has. A
    command that answers for every group at once takes none (``needed=False``). A stack
    answers for what each of its components answers for."""
    members = _members(post)
    if members[0] is not post:
        for member in members:
            check_group(member, group, flag, needed)
        return
    groups = post.groups_fitted
    if not groups:
        if group is not None:
            raise InputError(
                f"{flag} {group}: this posterior has no groups (it was fitted with "
                f"--pooling none); drop {flag}."
            )
        return
    if group is None and not needed:
        return
    partial = post.info.pooling == "partial"
    choices = groups + (["new"] if partial else [])
    if group not in choices:
        new = " ('new': an unseen group drawn from the population)" if partial else ""
        got = "none was given" if group is None else f"got {flag} {group}"
        raise InputError(
            f"this posterior is per group: pass {flag} with one of {choices}{new}; {got}."
        )


def _labels(args) -> tuple[str, str]:
    """Names of the two sides of a comparison: ``--label-a``/``--label-b``, else the
    groups compared, else A and B."""
    return (args.label_a or args.group or "A", args.label_b or args.b_group or "B")


# ---------------------------------------------------------------------------- plan
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
    given = [_flag(dest) for dest, default in HARDWARE.items() if getattr(args, dest) != default]
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
    post, label = _posterior(args, stacks=True)
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
                **_law_record(post),
                "ci_prob": args.ci,
                "interval": "equal-tailed",
                "rows": _records(table, args.ci),
                "p_fits_in_memory": table.attrs.get("p_fits"),
            }
        )
        return 0
    draws = plan.dataset.sizes["chain"] * plan.dataset.sizes["draw"]
    print(f"Compute-optimal allocation from the {label} ({_laws(post)}, {draws} draws)")
    _print_weights(post)
    _print_finished_runs(post)
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
    for key, rows in _blocks(table, by):
        budget = key[-1]
        group = f"group {key[0]}, " if len(by) == 2 else ""
        print(f"{group}budget {budget:.3g} FLOPs")
        for quantity, name, unit in rows_shown:
            match = rows[rows["quantity"] == quantity]
            if not match.empty:
                print(_row(name, match.iloc[0], unit, args.ci))
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
                **_law_record(post),
                "ci_prob": args.ci,
                "rows": _records(table, args.ci),
            }
        )
        return 0
    print(f"Cheapest allocation reaching a target loss, from the {label} ({_laws(post)})")
    _print_weights(post)
    print(f"medians with {args.ci:.0%} equal-tailed credible intervals\n")
    rows = (
        ("compute", "compute", "FLOPs"),
        ("n_opt", "N_opt", "parameters"),
        ("d_opt", "D_opt", "tokens"),
    )
    for (target,), group in _blocks(table, ["target_loss"]):
        print(f"target loss {target:g} nats/token")
        for quantity, name, unit in rows:
            print(_row(name, group[group["quantity"] == quantity].iloc[0], unit, args.ci))
        print()
    return 0


# ----------------------------------------------------------------------------- fit
_COLUMNS = ("n", "d", "loss", "flops")
"""Keyword arguments of :func:`~bayescale.sweep.read_sweep` that name a column."""


def _sweep_file(path, flag: str, columns: dict, group_flag: str):
    """The sweep in the file at ``path`` (the value of ``flag``), read with ``columns``;
    its errors name the column flags (the group column's is ``group_flag``)."""
    from bayescale.sweep import read_sweep

    path = check_input_file(path, flag, "sweep file")
    flags = {**{k: _flag(k) for k in _COLUMNS}, "group": group_flag}
    try:
        return read_sweep(path, **columns)
    except SweepValidationError as err:
        raise SweepValidationError(flag_syntax(str(err), flags)) from None


def _sweep_source(value: str, flag: str, columns: dict, group_flag: str, regroup: bool):
    """The sweep ``value`` (the value of ``flag``) names: a file, read with ``columns``
    (see :func:`_sweep_file`), or a bundled dataset, whose columns are set; ``regroup``:
    ``columns["group"]`` then names another of its columns to group by. A value that looks
    like a path (a suffix, a folder) is a file, so that a missing one is said to be
    missing rather than not a dataset."""
    from bayescale.datasets import list_datasets, load_dataset

    names = sorted(list_datasets()["name"])
    path = Path(value)
    looks_like_path = bool(path.suffix) or "/" in value or os.sep in value
    if path.exists() or (looks_like_path and value not in names):
        return _sweep_file(value, flag, columns, group_flag)
    if value not in names:
        raise InputError(
            f"{value!r} ({flag}) is neither a file nor a bundled dataset; bundled datasets: "
            f"{names}."
        )
    unused = sorted(
        group_flag if k == "group" else _flag(k) for k in columns if not (regroup and k == "group")
    )
    if unused:
        also = f" Only {group_flag} applies to it." if regroup else ""
        raise InputError(
            f"{', '.join(unused)} name columns of a file; the bundled dataset {value!r} has "
            f"its columns set.{also}"
        )
    return load_dataset(value, group=columns.get("group") if regroup else None)


def _fit_sweep(args):
    """The sweep ``fit`` reads: a file, or a bundled dataset (which ``--group`` may group
    by another of its columns)."""
    columns = {k: getattr(args, k) for k in (*_COLUMNS, "group") if getattr(args, k)}
    return _sweep_source(args.source, "source", columns, "--group", regroup=True)


def _posterior_file(args) -> Path:
    """``fit``'s ``-o``, checked before any work: not the sweep file it reads (even with
    ``--overwrite``), a file that can be written (:func:`~bayescale.paths.check_output`),
    and a ``.nc`` name, since a posterior is written as NetCDF."""
    source, out = Path(args.source), Path(args.output)
    if source.is_file() and out.is_file() and out.samefile(source):
        raise InputError(
            f"-o {args.output} is the sweep file being fitted ({args.source}); writing the "
            "posterior there would destroy the data. Choose another name, e.g. -o post.nc."
        )
    out = check_output(out, overwrite=args.overwrite, name="-o", replace_with="--overwrite")
    if out.suffix.lower() != ".nc":
        raise InputError(
            f"-o {out.name}: a posterior is written as NetCDF; use a .nc file name, e.g. "
            "-o post.nc."
        )
    return out


def _vary(text: str | None) -> tuple[str, ...] | None:
    """The parameter names of ``--vary`` (comma-separated, spaces around them allowed), or
    ``None`` when it is not given (every parameter varies)."""
    if text is None:
        return None
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise InputError(
            f"--vary {shlex.quote(text)} names no parameter; give comma-separated names, e.g. "
            "--vary e,alpha, or drop --vary to let every parameter vary by group."
        )
    return names


def cmd_fit(args) -> int:
    out = _posterior_file(args)
    if args.cuts is not None and len(args.law) < 2:
        raise InputError("--cuts weigh several laws; give two or more --law names, or drop --cuts.")
    sweep = _fit_sweep(args)
    settings = {
        "likelihood": args.likelihood,
        "pooling": args.pooling,
        "vary": _vary(args.vary),
        "centring": args.centring,
        "offset_groups": args.offset_groups,
        "checkpoints": args.checkpoints,
        "chains": args.chains,
        "warmup": args.warmup,
        "draws": args.draws,
        "seed": args.seed,
        "device": args.device,
    }
    if args.target_accept is not None:  # else bs.fit's default
        settings["target_accept"] = args.target_accept
    if args.extrapolation_error is not None:  # else the default, or a stack's learned one
        settings["extrapolation_error"] = args.extrapolation_error
    if len(args.law) > 1:
        return _fit_stack(args, out, sweep, settings)
    from bayescale.inference import fit  # JAX: after the quick checks

    post = fit(
        sweep,
        law=args.law[0],
        progress=False if args.quiet else None,  # a bar only on a terminal
        **settings,
    )
    post.save(out, overwrite=args.overwrite)
    summary = post.summary(ci_prob=0.9)
    if args.json:
        emit(
            {
                "wrote": str(out),
                "seconds": post.info.sampler.seconds,
                "warnings": [flag_syntax(w, _command_flags(args)) for w in post.warnings],
                "summary": summary.to_dict(orient="index"),
            }
        )
        return 0
    print(f"wrote {out} ({post.info.sampler.seconds:.1f} s sampling)")
    print(summary.round(4).to_string())
    return 0


def _runs(cut, cuts) -> str:
    """The runs a fit of a stack saw: those below the ``cut``-th of ``cuts``, or all."""
    return "all runs" if cut == "all" else f"runs below cut {cuts[cut]:.3g}"


def _fit_stack(args, out, sweep, settings) -> int:
    """``fit`` with several ``--law``: :func:`bayescale.stack`, saved to ``out``, and its
    weights table."""
    from bayescale.evaluation.lfo import DEFAULT_CUTS
    from bayescale.stacking import stack

    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cuts = tuple(args.cuts or DEFAULT_CUTS)
        mixed = stack(sweep, args.law, cuts=cuts, **settings)
    seconds = time.perf_counter() - started
    mixed.save(out, overwrite=args.overwrite)
    table = mixed.summary()
    fits = mixed.lfo.attrs["fits"]
    # each fit's warnings, named by the law and the runs it was fitted to
    category = {str(w.message): w.category.__name__ for w in caught}
    warned = [
        (category.get(text, "Warning"), f"{f['law']}, {_runs(f['cut'], cuts)}", text)
        for f in fits
        for text in f["warnings"]
    ]
    named = {text for *_, text in warned}
    for w in caught:
        if str(w.message) not in named:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if args.json:
        emit(
            {
                "wrote": str(out),
                "seconds": seconds,
                "fits": len(fits),
                "warnings": [
                    f"{kind} ({where}): {flag_syntax(text, _command_flags(args))}"
                    for kind, where, text in warned
                ],
                "summary": table.to_dict(orient="index"),
            }
        )
        return 0
    for kind, where, text in warned:
        line = f"{kind} ({where}): {flag_syntax(text, _command_flags(args))}"
        print(_paragraph(line), file=sys.stderr)
    print(f"wrote {out} ({len(fits)} fits, {seconds:.1f} s)")
    print(table.round(4).to_string())
    return 0


# ------------------------------------------------------------------------- compare
def _print_rows(table, rows, by, ci: float) -> None:
    width = max(len(name) for _, name, _ in rows) + 2
    for (key,), group in _blocks(table, [by]):
        print(f"{by} {key:.3g}" if isinstance(key, float) else f"{by} {key}")
        for quantity, name, unit in rows:
            row = group[group["quantity"] == quantity].iloc[0]
            print(_row(name, row, unit, ci, width=width))
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


def _check_kind(args) -> None:
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
            unused.setdefault(kinds, []).append(_flag(dest))
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


def _variants(args, post, budgets):
    """:func:`~bayescale.comparisons.compare_variants` of A (``post``, ``--group``) and
    B (``--b-posterior``, ``--b-group``) on the GPUs asked for."""
    from bayescale.comparisons import compare_variants

    other = _other_posterior(args, post)
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
        labels=_labels(args),
    )


def _allocations(args, post, budget):
    """:func:`~bayescale.comparisons.compare_allocations` of ``--n-a`` and ``--n-b``."""
    from bayescale.comparisons import compare_allocations

    check_group(post, args.group)
    return compare_allocations(
        post, budget, args.n_a, args.n_b, labels=_labels(args), group=args.group
    )


def cmd_compare(args) -> int:
    _check_kind(args)
    if args.kind == "allocations":
        return _print_allocations(args, *_posterior(args))
    if args.kind == "schedules":
        return _print_schedules(args, *_posterior(args))
    post, label = _posterior(args)
    table = interval_table(_variants(args, post, args.budget), args.ci)
    label_a, label_b = _labels(args)
    if args.json:
        emit(
            {
                "posterior": label,
                "labels": [label_a, label_b],
                "ci_prob": args.ci,
                "rows": _records(table, args.ci),
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
    result = _allocations(args, post, budget)
    table = result.interval(args.ci)
    final = table[table["quantity"] == "final_difference"].iloc[0]
    _, lower, upper = _values(args.ci)
    p_b = result.dataset.attrs["p_b_lower"]
    label_a, label_b = _labels(args)
    if args.json:
        emit(
            {
                "posterior": label,
                "budget": budget,
                "n_a": args.n_a,
                "n_b": args.n_b,
                "labels": [label_a, label_b],
                "p_b_lower": p_b,
                "final_difference": final[list(_values(args.ci))].to_dict(),
                "ci_prob": args.ci,
            }
        )
        return 0
    print(f"Two allocations of {budget:.3g} FLOPs, from the {label}")
    _print_finished_runs(post)
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


def _schedules(args, post) -> tuple[dict, float]:
    """``{label: Schedule}`` of ``--schedule-a`` and, if given, ``--schedule-b`` (A the
    reference), and the tokens per step: ``--tokens-per-step``, else the fit's."""
    from bayescale.schedules import Schedule

    label_a, label_b = _labels(args)
    schedules = {label_a: Schedule.from_text(args.schedule_a)}
    if args.schedule_b is not None:
        if label_a == label_b:
            raise InputError(f"--label-a and --label-b are both {label_a!r}; give two names.")
        schedules[label_b] = Schedule.from_text(args.schedule_b)
    return schedules, args.tokens_per_step or _members(post)[0].law.settings.get("tokens_per_step")


def _print_schedules(args, post, label) -> int:
    from bayescale.comparisons import compare_schedules

    check_group(post, args.group)
    schedules, tokens = _schedules(args, post)
    result = compare_schedules(post, args.n_params, schedules, tokens, group=args.group)
    table = result.interval(args.ci)
    (label_a, label_b), p_lower = schedules, result.dataset["p_lower"].values
    if args.json:
        emit(
            {
                "posterior": label,
                **_law_record(post),
                "n_params": args.n_params,
                "tokens_per_step": tokens,
                "schedules": {k: v.to_dict() for k, v in schedules.items()},
                "p_lower": dict(zip(schedules, p_lower.tolist(), strict=True)),
                "ci_prob": args.ci,
                "rows": _records(table, args.ci),
            }
        )
        return 0
    _, lower, upper = _values(args.ci)
    print(
        f"Final loss of a new run of {human(args.n_params, 'parameters')} parameters under "
        f"each of two schedules, from the {label}, {tokens:,.0f} tokens per step"
    )
    for side, schedule in schedules.items():
        tokens_seen = human(schedule.total * tokens, "tokens")
        print(f"  {side}: {schedule.describe()}, {tokens_seen} tokens")
    print(f"medians with {args.ci:.0%} equal-tailed intervals\n")
    for side in schedules:
        row = table[(table["quantity"] == "loss") & (table["schedule"] == side)].iloc[0]
        print(f"  final loss {side}: {row['median']:.4f} [{row[lower]:.4f}, {row[upper]:.4f}] nats")
    for quantity, what in (("difference", ""), ("law_difference", ", the law's part")):
        row = table[(table["quantity"] == quantity) & (table["schedule"] == label_b)].iloc[0]
        print(
            f"  final loss {label_b} − {label_a}{what}: {row['median']:+.4f} nats "
            f"[{row[lower]:+.4f}, {row[upper]:+.4f}]"
        )
    print(f"  P({label_b} ends lower than {label_a}) = {p_lower[1]:.3f}")
    return 0


# ---------------------------------------------------------------------------- plot
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
STACK_PLOTS = ("fit", "loss-vs-params", "frontier", "ppc", "isoflops", "excess-compute")
"""The figures whose quantities a stack's mixed draws answer (:mod:`bayescale.plotting`)."""


def _plot_sweep(args, post):
    """The sweep to draw under the posterior: --data, else the reference fit's own."""
    from bayescale.datasets import list_datasets, load_dataset
    from bayescale.reference import reference_names, reference_sweep

    columns = {k: getattr(args, k) for k in _COLUMNS if getattr(args, k)}
    if args.group_column:
        columns["group"] = args.group_column
    if args.data:
        return _sweep_source(args.data, "--data", columns, "--group-column", regroup=False)
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
        return plotting.plot_variants(_variants(args, post, budget), ci_prob=ci)[0]
    if kind == "allocations":
        return plotting.plot_allocations(_allocations(args, post, budget[0]), ci_prob=ci)[0]
    check_group(post, group, needed=kind != "ppc")
    if kind == "schedules":
        schedules, tokens = _schedules(args, post)
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


def _figure_file(path: str, overwrite: bool, flag: str) -> Path:
    """The figure file named by ``flag``, checked before any work: a .png, .svg or .pdf
    name that can be written; and matplotlib's file-only backend, before any figure."""
    import matplotlib

    matplotlib.use("Agg")
    out = Path(path)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise InputError(f"{flag} {out.name}: use a .png, .svg or .pdf file name.")
    return check_output(out, overwrite=overwrite, name=flag, replace_with="--overwrite")


def _save_figure(fig, out: Path) -> None:
    """Write ``fig`` to ``out`` whole (or leave ``out`` as it was), and close it."""
    import matplotlib.pyplot as plt

    try:
        with replacing(out) as partial:
            fig.savefig(partial, format=out.suffix[1:].lower(), dpi=200, bbox_inches="tight")
    finally:
        plt.close(fig)  # a program calling main() repeatedly would otherwise keep them all


def cmd_plot(args) -> int:
    out = _figure_file(args.output, args.overwrite, "-o")
    _check_kind(args)
    post, _ = _posterior(args, stacks=args.kind in STACK_PLOTS)
    _save_figure(_figure(args, post), out)
    if args.json:
        emit({"wrote": str(out), "kind": args.kind, "group": args.group, **_law_record(post)})
    else:
        _print_weights(post)
        print(f"wrote {out}")
    return 0


# ---------------------------------------------------------------------------- suggest
_SUGGEST_COLUMNS = (
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


def _suggest_target(args):
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


def _suggest_candidates(args, ratios) -> bool:
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
    budget, at = _suggest_target(args)
    from bayescale.design import TOKENS_PER_PARAM, suggest_runs
    from bayescale.sweep import read_table

    ratios = tuple(args.tokens_per_param or TOKENS_PER_PARAM)
    candidates = read_table(args.candidates) if _suggest_candidates(args, ratios) else None
    plot = args.plot and _figure_file(args.plot, args.overwrite, "--plot")
    post, label = _posterior(args, stacks=True)
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

        _save_figure(plot_suggestions(post, result)[0], plot)
    if args.json:
        emit(
            {
                "posterior": label,
                **({"wrote": str(plot)} if plot else {}),
                **_law_record(post),
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
                "runs": chosen[list(_SUGGEST_COLUMNS)].to_dict(orient="records"),
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
    print(f"Next runs for {what}, from the {label} ({_laws(post)})")
    _print_finished_runs(post)
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


# --------------------------------------------------------------------------- parser
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
    p.add_argument("--group", help="group of a per-group posterior (A's for variants), or 'new'")
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
        help="schedules: B's, compared with A's (plot draws A's run alone without it), e.g. "
        "wsd:total=24000,peak=3e-4,final=3e-5,decay_start=19200",
    )
    p.add_argument("--label-a", help="name of A (default: its group, or A)")
    p.add_argument("--label-b", help="name of B (default: its group, or B)")
    p.add_argument("--gpu", help="variants: accelerator, e.g. H100")
    p.add_argument("--gpus", type=int, help="variants: number of accelerators")
    p.add_argument("--ci", type=float, default=0.9, help=_CI_HELP)
    _finished_run_options(p)


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
    p.add_argument(
        "--gpu", help="with --budget: accelerator for train time and memory, e.g. H100, A100-80GB"
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
    source = p.add_mutually_exclusive_group()
    source.add_argument("--posterior", help="a posterior file written by 'bayescale fit'")
    source.add_argument("--dataset", help="use the shipped reference fit of this dataset")
    p.add_argument(
        "--group",
        help="for a per-group posterior: a group name, or 'new' for an "
        "unseen group from the population (default: every group and new)",
    )
    p.add_argument("--ci", type=float, default=0.9, help=_CI_HELP)
    _finished_run_options(p)
    _json_option(p)
    p.set_defaults(run=cmd_plan)

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
    source = p.add_mutually_exclusive_group()
    source.add_argument("--posterior", help="a posterior file written by 'bayescale fit'")
    source.add_argument("--dataset", help="use the shipped reference fit of this dataset")
    p.add_argument("--group", help="for a per-group posterior: a group name, or 'new'")
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
        "target's extrapolation error, which runs towards the target shrink",
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


def _paragraph(text: str) -> str:
    """``text`` wrapped at 100 columns, never inside a flag or a path."""
    return textwrap.fill(text, width=100, break_on_hyphens=False, break_long_words=False)


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user error (``USER_ERRORS``) prints one paragraph and returns 2,
    any other exception propagates with its traceback. Warnings go to standard error, each
    distinct one once (a figure may ask about one schedule twice). A command that answers
    from a posterior whose fit warned repeats those warnings after its answer."""
    args = parser().parse_args(argv)
    args.fit_warnings = []
    flags = _command_flags(args)
    said = set()

    def show_warning(message, category, filename, lineno, file=None, line=None):
        text = f"{category.__name__}: {flag_syntax(str(message), flags)}"
        if text not in said:
            said.add(text)
            print(_paragraph(text), file=sys.stderr)

    shown = warnings.showwarning
    warnings.showwarning = show_warning
    try:
        check_numbers(args)
        code = args.run(args)
        for line in args.fit_warnings:
            print(_paragraph(line), file=sys.stderr)
        return code
    except USER_ERRORS as err:
        text = f"bayescale {args.command}: error: {flag_syntax(str(err), flags)}"
        print(_paragraph(text), file=sys.stderr)
        return 2
    finally:
        warnings.showwarning = shown


if __name__ == "__main__":
    sys.exit(main())
