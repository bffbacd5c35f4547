"""Flags beside the library's keyword arguments: the range of each numeric flag, checked
before any work, and messages rewritten from Python syntax (``loss='val_loss'``) into
flag syntax (``--loss val_loss``)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from bayescale import ranges

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


def flag_of(dest: str) -> str:
    """The flag of a parsed argument's ``dest``: ``n_a`` → ``--n-a``."""
    return "--" + dest.replace("_", "-")


def check_numbers(args) -> None:
    """Every numeric flag given lies in its range (:data:`NUMBERS`)."""
    for dest, (valid, example) in NUMBERS.items():
        values = getattr(args, dest, None)
        for value in values if isinstance(values, list) else [values]:
            if value is not None:
                valid.check(value, flag_of(dest), example)


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


def command_flags(args) -> dict[str, str]:
    """The command's flags by keyword: ``{"loss": "--loss", ...}``."""
    return {dest: flag_of(dest) for dest in vars(args) if dest not in NOT_FLAGS}
