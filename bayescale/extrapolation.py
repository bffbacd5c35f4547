r"""Where a query leaves the fitted data, and the warning that says so.

A posterior knows the ranges of the points it was fitted to (``post.info.data``): model
size ``N``, tokens ``D`` and compute ``C = 6ND``, in logs. A query value ``x`` of ``N``
or ``D``, fitted over ``[x_min, x_max]``, lies outside that range by the factor

.. math::

    f(x) = \max\left(\frac{x}{x_{max}},\ \frac{x_{min}}{x}\right),

and one of ``C`` by ``C / C_max``: compute is checked above its range, where the law's
own error grows (:mod:`bayescale.discrepancy`); below it a query leaves the data through
``N`` or ``D``, which are checked on both sides (a small model on few tokens sits below
the fitted compute without being far from the fitted sizes or token counts). A query with
``f > EXTRAPOLATION_FACTOR`` in any of them raises one
:class:`~bayescale.errors.ExtrapolationWarning` naming each such quantity, its value, the
fitted range and the factor. Inputs (budgets, sizes, token counts) are checked value by
value; an answer known per draw (``N_opt``, ``D_opt``, the compute that reaches a loss)
by its median over the draws whose answer is finite.

Since ``C = 6ND``, 100× outside in ``N`` or in ``D`` alone, the other inside, is as far
from the data as 100× in compute.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from bayescale.errors import ExtrapolationWarning

EXTRAPOLATION_FACTOR = 100.0
"""Queries beyond this factor outside the fitted range of N or D, or above that of C,
warn."""

UNBOUNDED = (-math.inf, math.inf)

# Each range: its name and unit in a warning, and whether a query below it is checked.
QUANTITIES = {
    "log_n": ("model size N", "parameters", True),
    "log_d": ("tokens D", "tokens", True),
    "log_compute": ("compute C", "FLOPs", False),
}


@dataclass(frozen=True)
class FittedRange:
    """The fitted ranges of ``log N``, ``log D`` and ``log C`` (``(low, high)`` each;
    unbounded by default: nothing is an extrapolation)."""

    log_n: tuple[float, float] = UNBOUNDED
    log_d: tuple[float, float] = UNBOUNDED
    log_compute: tuple[float, float] = UNBOUNDED

    @classmethod
    def from_data(cls, data) -> FittedRange:
        """From a posterior's :class:`~bayescale.fitinfo.DataInfo`."""
        return cls(
            log_n=tuple(map(float, data.log_n_range)),
            log_d=tuple(map(float, data.log_d_range)),
            log_compute=tuple(map(float, data.log_compute_range)),
        )

    def outside(self, **log_values) -> list[str]:
        """A phrase for each quantity (``log_n=``, ``log_d=``, ``log_compute=``: arrays of
        log values) whose farthest finite value lies more than ``EXTRAPOLATION_FACTOR``
        outside its range (module docstring)."""
        out = []
        for key, values in log_values.items():
            name, unit, below_too = QUANTITIES[key]
            values = np.asarray(values, dtype=float)
            values = values[np.isfinite(values)]
            low, high = getattr(self, key)
            if values.size == 0:
                continue
            above = float(values.max()) - high
            below = low - float(values.min()) if below_too else -math.inf
            if max(above, below) <= math.log(EXTRAPOLATION_FACTOR):
                continue
            value, side, factor = (
                (values.max(), "above", above) if above >= below else (values.min(), "below", below)
            )
            out.append(
                f"{name} = {number(math.exp(value))} {unit} is {number(math.exp(factor))}× "
                f"{side} the fitted range ({number(math.exp(low))} to "
                f"{number(math.exp(high))})"
            )
        return out


def number(x: float) -> str:
    """A number for a message: three significant digits, in exponent form when large or
    small (never hundreds of digits)."""
    return f"{x:.3g}"


def median_over_draws(log_values) -> np.ndarray:
    """Per query, the median over the leading ``(chain, draw)`` axes of the finite draws
    (NaN where none is finite)."""
    values = np.asarray(log_values, dtype=float)
    values = values.reshape(-1, *values.shape[2:])
    out = np.full(values.shape[1:], np.nan)
    for index in np.ndindex(out.shape):
        column = values[(slice(None), *index)]
        finite = column[np.isfinite(column)]
        if finite.size:
            out[index] = np.median(finite)
    return out


def warn_if_extrapolating(fitted: FittedRange, stacklevel: int = 4, **log_values) -> None:
    """One :class:`ExtrapolationWarning` naming every quantity of ``log_values`` that lies
    far outside ``fitted`` (module docstring); nothing when none does."""
    phrases = fitted.outside(**log_values)
    if phrases:
        warnings.warn(
            f"extrapolating far outside the fitted data: {'; '.join(phrases)}. Answers there "
            "rest on the law's form holding that far out.",
            ExtrapolationWarning,
            stacklevel=stacklevel,
        )
