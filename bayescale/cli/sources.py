"""What a command reads: the posterior it answers from (a file, a stack, or a shipped
reference fit, with the warnings of the fit that made it), the groups it answers for,
and a sweep named by a file or a bundled dataset."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from bayescale.cli.flags import flag_of, flag_syntax
from bayescale.errors import InputError, SweepValidationError
from bayescale.paths import check_input_file

COLUMNS = ("n", "d", "loss", "flops")
"""Keyword arguments of :func:`~bayescale.sweep.read_sweep` that name a column."""

STACK_PLOTS = ("fit", "loss-vs-params", "frontier", "ppc", "isoflops", "excess-compute")
"""The figures whose quantities a stack's mixed draws answer (:mod:`bayescale.plotting`)."""


def read_posterior(args, stacks: bool = False):
    """The posterior of ``--posterior`` (a :class:`~bayescale.Stack` where the file holds
    one and the command answers from ``stacks``: ``plan``, ``predict``, ``suggest``, and
    ``plot`` of the figures in ``STACK_PLOTS``), else ``--dataset``'s reference fit, and its
    label; the warnings its fit raised are repeated after the answer
    (:func:`_keep_fit_warnings`)."""
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
                f"{str(path)!r} holds a stack of several laws' posteriors; 'bayescale plan', "
                "'bayescale predict' and 'bayescale suggest' answer from a stack, and "
                f"'bayescale plot' draws {', '.join(STACK_PLOTS)} from one, but "
                f"'bayescale {command}' answers from one posterior. Fit one law (bayescale "
                "fit SOURCE --law NAME -o post.nc) and pass that file."
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
    by ``source`` (the file or reference fit ``post`` came from), for
    :func:`bayescale.cli.main` to print with the answer."""
    components = getattr(post, "components", None)
    members = components.items() if components is not None else [(None, post)]
    for label, member in members:
        where = source if label is None else f"law {label} of {source}"
        args.fit_warnings += [f"Warning (when {where} was fitted): {t}" for t in member.warnings]


def other_posterior(args, post):
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


def members_of(post) -> list:
    """The single posteriors behind ``post``: a stack's components, or ``post`` itself."""
    components = getattr(post, "components", None)
    return list(components.values()) if components is not None else [post]


def law_record(post) -> dict:
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


def laws_in_words(post) -> str:
    """The law of ``post`` in words: its name, or how many laws a stack mixes."""
    members = members_of(post)
    return f"{post.law.name} law" if members[0] is post else f"a mixture of {len(members)} laws"


def print_weights(post) -> None:
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
    members = members_of(post)
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
    choices = post.groups_answered
    if group not in choices:
        new = " ('new': an unseen group drawn from the population)" if "new" in choices else ""
        got = "none was given" if group is None else f"got {flag} {group}"
        raise InputError(
            f"this posterior is per group: pass {flag} with one of {choices}{new}; {got}."
        )


def print_finished_runs(post) -> None:
    """What a finished run means for each law of ``post`` that reads schedules, once."""
    for finished in dict.fromkeys(finished_run(m.law.settings) for m in members_of(post)):
        if finished:
            print(finished)


def finished_run(settings) -> str:
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


def _sweep_file(path, flag: str, columns: dict, group_flag: str):
    """The sweep in the file at ``path`` (the value of ``flag``), read with ``columns``;
    its errors name the column flags (the group column's is ``group_flag``)."""
    from bayescale.sweep import read_sweep

    path = check_input_file(path, flag, "sweep file")
    flags = {**{k: flag_of(k) for k in COLUMNS}, "group": group_flag}
    try:
        return read_sweep(path, **columns)
    except SweepValidationError as err:
        raise SweepValidationError(flag_syntax(str(err), flags)) from None


def sweep_source(value: str, flag: str, columns: dict, group_flag: str, regroup: bool):
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
        group_flag if k == "group" else flag_of(k)
        for k in columns
        if not (regroup and k == "group")
    )
    if unused:
        also = f" Only {group_flag} applies to it." if regroup else ""
        raise InputError(
            f"{', '.join(unused)} name columns of a file; the bundled dataset {value!r} has "
            f"its columns set.{also}"
        )
    return load_dataset(value, group=columns.get("group") if regroup else None)
