r"""What figures write: axis labels with their units, numbers as text, and what was drawn
(the group; for a :class:`~bayescale.Stack`, the laws it mixes and their weights).

Compute is labelled in FLOPs or in PF-days: one PF-day is
:math:`10^{15}\,\mathrm{FLOP/s} \times 86400\,\mathrm{s} = 8.64\times10^{19}` FLOPs
(:data:`PF_DAY`).
"""

from __future__ import annotations

import math

PF_DAY = 8.64e19
"""FLOPs in one petaflop/s-day."""

LOSS_LABEL = "loss $L$ (nats/token)"
N_LABEL = "model size $N$ (parameters)"
D_LABEL = "training tokens $D$ (tokens)"
C_LABEL = "compute $C = 6ND$ (FLOPs)"


def pct(ci_prob: float) -> str:
    """``0.9`` as ``90%``."""
    return f"{100 * ci_prob:g}%"


def sci(x: float) -> str:
    """``x`` as mathtext, e.g. ``$1.3\\times10^{23}$``."""
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"${mantissa}\\times10^{{{int(exponent)}}}$"


def fmt_interval(median: float, low: float, high: float) -> str:
    """``median [low, high]`` with two significant digits of the interval's width."""
    width = abs(high - low) or abs(median) or 1.0
    digits = max(0, 1 - math.floor(math.log10(width)))
    return f"{median:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def count_label(n: float) -> str:
    """``4.68e9`` as ``4.68B``; ``7.5e7`` as ``75M``."""
    for scale, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.3g}"


def tex(label: str) -> str:
    r"""A label for a mathtext subscript: ``\mathrm{...}`` with spaces escaped."""
    return r"\mathrm{" + label.replace(" ", r"\ ").replace("_", r"\_") + "}"


def probability(p: float, draws: int) -> str:
    """``p`` to two decimals, saying so when every draw (or none) agrees."""
    if p >= 1.0:
        return f"1.00 (all {draws} draws)"
    if p <= 0.0:
        return f"0.00 (none of {draws} draws)"
    return f"{p:.2f}"


def group_words(group: str) -> str:
    """How a title names the group drawn: ``"group rpj"``, or ``"a new group"``."""
    return "a new group" if group == "new" else f"group {group}"


def mixture_words(post) -> str:
    """How a figure names the laws a :class:`~bayescale.Stack` mixes, by weight:
    ``"mixture of chinchilla 0.75, farseer 0.25"``; empty for one posterior."""
    weights = getattr(post, "weights", None)
    if weights is None:
        return ""
    return "mixture of " + ", ".join(f"{label} {w:.2f}" for label, w in weights.items())


def drawn_words(post, group: str | None) -> str:
    """How a title names what was drawn: the group (:func:`group_words`) and the laws of a
    stack (:func:`mixture_words`), e.g. ``"group rpj; mixture of chinchilla 0.75, farseer
    0.25"``; empty for one posterior without groups."""
    parts = (group_words(group) if group is not None else "", mixture_words(post))
    return "; ".join(part for part in parts if part)
