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
    bayescale predict --n-params 7e10 --n-tokens 3e11 1.4e12 [--posterior post.nc]
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

One module per command (:mod:`~bayescale.cli.fit`, :mod:`~bayescale.cli.plan`,
:mod:`~bayescale.cli.predict`, :mod:`~bayescale.cli.compare`,
:mod:`~bayescale.cli.suggest`, :mod:`~bayescale.cli.plot`, :mod:`~bayescale.cli.datasets`);
:mod:`~bayescale.cli.arguments` builds the parser, :mod:`~bayescale.cli.flags` checks
numbers and speaks in flags, :mod:`~bayescale.cli.sources` reads posteriors and sweeps,
:mod:`~bayescale.cli.output` prints tables and JSON. Modules that load JAX are imported
inside the commands, so ``--help`` and ``--version`` answer without loading it.
"""

from __future__ import annotations

import sys
import warnings

from bayescale.cli.arguments import parser
from bayescale.cli.flags import check_numbers, command_flags, flag_syntax
from bayescale.cli.output import paragraph
from bayescale.errors import BayescaleError

__all__ = ["main", "parser"]

USER_ERRORS = (
    BayescaleError,
    FileExistsError,
    FileNotFoundError,
    IsADirectoryError,
    PermissionError,
)


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user error (``USER_ERRORS``) prints one paragraph and returns 2,
    any other exception propagates with its traceback. Warnings go to standard error, each
    distinct one once (a figure may ask about one schedule twice). A command that answers
    from a posterior whose fit warned repeats those warnings after its answer."""
    args = parser().parse_args(argv)
    args.fit_warnings = []
    flags = command_flags(args)
    said = set()

    def show_warning(message, category, filename, lineno, file=None, line=None):
        text = f"{category.__name__}: {flag_syntax(str(message), flags)}"
        if text not in said:
            said.add(text)
            print(paragraph(text), file=sys.stderr)

    shown = warnings.showwarning
    warnings.showwarning = show_warning
    try:
        check_numbers(args)
        code = args.run(args)
        for line in args.fit_warnings:
            print(paragraph(line), file=sys.stderr)
        return code
    except USER_ERRORS as err:
        text = f"bayescale {args.command}: error: {flag_syntax(str(err), flags)}"
        print(paragraph(text), file=sys.stderr)
        return 2
    finally:
        warnings.showwarning = shown
