"""The ranges numeric arguments must lie in, and the check that names the argument.

A :class:`Range` is a set of valid values: whole numbers or finite reals between two
bounds, each open or closed. :meth:`Range.check` returns the value or raises
:class:`~bayescale.errors.InputError` (:class:`~bayescale.errors.InputTypeError` for a
value that is not a number) naming the argument, the value, the range and an example.
The same ranges serve Python and the command line; the caller spells the argument and
the example in its own syntax (``chains``, ``chains=4``; ``--chains``, ``--chains 4``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from bayescale.errors import InputError, InputTypeError

INT32_MAX = 2**31 - 1
"""The largest count: JAX counts (and indexes arrays) in 32-bit integers by default."""


@dataclass(frozen=True)
class Range:
    """Valid values: ``low`` to ``high`` (``low_open``/``high_open``: bound excluded),
    whole numbers only when ``whole``; always finite."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    whole: bool = False

    def describe(self) -> str:
        """The range in words, e.g. ``a whole number ≥ 1`` or ``a number in (0, 1]``."""
        kind = "a whole number" if self.whole else "a number"
        if math.isinf(self.high) or self.high == INT32_MAX:  # the cap is named when passed
            return f"{kind} {'>' if self.low_open else '≥'} {self.low:g}"
        if self.whole:
            return f"{kind} from {self.low:g} to {self.high:.0f}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"{kind} in {left}{self.low:g}, {self.high:g}{right}"

    def contains(self, value) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return math.isfinite(value) and above and below

    def check(self, value, name: str, example: str):
        """``value`` if it lies in the range; otherwise an error naming ``name``, the
        value, the range and ``example``."""
        number = numbers.Integral if self.whole else numbers.Real
        if isinstance(value, bool) or not isinstance(value, number):
            raise InputTypeError(
                f"{name} must be {self.describe()}, got {value!r} "
                f"({type(value).__name__}); e.g. {example}."
            )
        if not self.contains(value):
            cap = f" and at most {INT32_MAX}" if self.high == INT32_MAX < value else ""
            raise InputError(
                f"{name} must be {self.describe()}{cap}, got {value!r}; e.g. {example}."
            )
        return value


COUNT = Range(low=1, high=INT32_MAX, whole=True)
"""Chains, draws, GPUs, parallel degrees: 1, 2, 3, ..."""
WHOLE = Range(low=0, high=INT32_MAX, whole=True)
"""Warmup iterations: 0, 1, 2, ..."""
SEED = Range(low=0, high=2**32 - 1, whole=True)
"""Seeds: in 32-bit mode JAX keeps a seed's low 32 bits, so a larger seed would give a
smaller one's draws."""
POSITIVE = Range(low=0, low_open=True)
"""Budgets, model sizes, losses."""
NON_NEGATIVE = Range(low=0)
"""Prices, scales that 0 turns off."""
PROBABILITY = Range(low=0, high=1, low_open=True, high_open=True)
"""Credible masses, target acceptance rates."""
FRACTION = Range(low=0, high=1, low_open=True)
"""Utilisations: above 0, at most 1."""
SHARE = Range(low=0, high=1, high_open=True)
"""Shares that 0 turns off and 1 would make everything: the early checkpoints dropped."""


def as_positive(values, name: str, example: str = "") -> np.ndarray:
    """``values`` (a number or a flat list of numbers) as a 1-d float array, each in
    :data:`POSITIVE`; anything else (booleans, text, nothing, zero,
    negatives, NaN, inf) raises an error that names ``name``, the value, the range and
    ``example``."""
    fix = f"; e.g. {example}" if example else ""
    valid = f"{POSITIVE.describe()}, or a flat list of them"
    items = np.ravel(np.asarray(values, dtype=object))
    kinds = {type(v).__name__ for v in items if isinstance(v, bool | np.bool_ | str | bytes)}
    if kinds:
        raise InputTypeError(
            f"{name} must be {valid}, got {values!r} ({' and '.join(sorted(kinds))}: not a "
            f"number){fix}."
        )
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError) as err:
        raise InputTypeError(f"{name} must be {valid}, got {values!r}{fix}.") from err
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"{name} must be {valid}, got {values!r}{fix}.")
    bad = arr[~(np.isfinite(arr) & (arr > POSITIVE.low))]  # POSITIVE.contains, vectorized
    if bad.size:
        shown = f" ({', '.join(f'{v:g}' for v in bad[:5])} not)" if arr.size > 1 else ""
        raise InputError(f"{name} must be {valid}, got {values!r}{shown}{fix}.")
    return arr


def positive_pairs(
    n, d, n_name: str, d_name: str, example: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` and ``d`` (each a number or a flat list, :func:`as_positive`) as two 1-d float
    arrays of one length: equal lengths pair up, a single value is repeated against the
    other's; other lengths raise an error naming both and ``example``."""
    n, d = as_positive(n, n_name, example), as_positive(d, d_name, example)
    if n.size != d.size and 1 not in (n.size, d.size):
        fix = f"; e.g. {example}" if example else ""
        raise InputError(
            f"{n_name} has {n.size} values and {d_name} {d.size}: give one of each per run, "
            f"or a single value of either to pair with all of the other's (for a grid, "
            f"ravel np.meshgrid(n, d)){fix}."
        )
    n, d = np.broadcast_arrays(n, d)
    return np.array(n, dtype=float), np.array(d, dtype=float)


def one_positive(value, name: str, example: str = "") -> float:
    """One number in :data:`POSITIVE`, checked by it (a one-element array
    or list counts as its element)."""
    items = np.ravel(np.asarray(value, dtype=object))
    if items.size != 1:
        fix = f"; e.g. {example}" if example else ""
        raise InputError(
            f"{name} must be a single number ({POSITIVE.describe()}), got {value!r}{fix}."
        )
    item = items[0].item() if isinstance(items[0], np.generic) else items[0]
    return float(POSITIVE.check(item, name, example))
