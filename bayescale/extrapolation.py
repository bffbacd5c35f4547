r"""Where a query leaves the fitted data, and the warning that says so.

A posterior knows the ranges of the points it was fitted to (``post.info.data``): model
size ``N``, tokens ``D``, compute ``C = 6ND`` and tokens per parameter ``D/N``, in logs. A
query value ``x`` fitted over ``[x_min, x_max]`` lies outside that range by the factor

.. math::

    f(x) = \max\left(\frac{x}{x_{max}},\ \frac{x_{min}}{x}\right),

and one of ``C`` by ``C / C_max``: compute is checked above its range only (below it a
query leaves the data through ``N``, ``D`` or ``D/N``). A query raises one
:class:`~bayescale.errors.ExtrapolationWarning` naming each quantity, its value, the
fitted range and the factor, when

- ``N`` or ``D/N`` lies more than :data:`SHAPE_FACTOR` (2×) outside its range: a model
  twice the largest fitted size, or a run trained on more than twice (or under half) the
  tokens per parameter of any fitted run, asks the law about a shape of run it was never
  shown. The law's form carries the answer there, and a ladder's errors at the next size
  are mostly errors of form (``docs/calibration/backtest.md``);
- ``D`` lies, or ``C`` lies above, more than :data:`EXTRAPOLATION_FACTOR` (100×) outside:
  planning is extrapolation in compute, and a law fitted on a ladder is asked about
  budgets beyond it as a matter of course; at 100× it is far.

Inputs (budgets, sizes, token counts) are checked value by value; an answer known per
draw (``N_opt``, ``D_opt``, the compute that reaches a loss) by its median over the draws
whose answer is finite. How far a query lies from the fitted runs also widens its loss
interval (:mod:`bayescale.discrepancy`), warning or not.

The same values can be read back from a query's answer (:func:`answer_log_values`): so
draws mixed from several posteriors fitted to the same runs (:class:`bayescale.Stack`)
are checked once, by the mixture's medians, rather than once per posterior.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import xarray as xr

from bayescale.draws import SAMPLE_DIMS
from bayescale.errors import ExtrapolationWarning
from bayescale.fitinfo import LOG6

EXTRAPOLATION_FACTOR = 100.0
"""Queries beyond this factor outside the fitted range of D, or above that of C, warn."""
SHAPE_FACTOR = 2.0
"""Queries beyond this factor outside the fitted range of N or of D/N warn."""

UNBOUNDED = (-math.inf, math.inf)

# Each range: its name and unit in a warning, whether a query below it is checked, and
# the factor beyond which a query warns (module docstring).
QUANTITIES = {
    "log_n": ("model size N", "parameters", True, SHAPE_FACTOR),
    "log_ratio": ("tokens per parameter D/N", "tokens/parameter", True, SHAPE_FACTOR),
    "log_d": ("tokens D", "tokens", True, EXTRAPOLATION_FACTOR),
    "log_compute": ("compute C", "FLOPs", False, EXTRAPOLATION_FACTOR),
}


@dataclass(frozen=True)
class FittedRange:
    """The fitted ranges of ``log N``, ``log D``, ``log C`` and ``log(D/N)`` (``(low,
    high)`` each; unbounded by default: nothing is an extrapolation)."""

    log_n: tuple[float, float] = UNBOUNDED
    log_d: tuple[float, float] = UNBOUNDED
    log_compute: tuple[float, float] = UNBOUNDED
    log_ratio: tuple[float, float] = UNBOUNDED

    @classmethod
    def from_data(cls, data) -> FittedRange:
        """From a posterior's :class:`~bayescale.fitinfo.DataInfo`; ``D/N``'s range from
        its hull's vertices (unbounded for a file written before hulls were kept)."""
        ratios = [d - n for n, d in data.hull]
        return cls(
            log_n=tuple(map(float, data.log_n_range)),
            log_d=tuple(map(float, data.log_d_range)),
            log_compute=tuple(map(float, data.log_compute_range)),
            log_ratio=(min(ratios), max(ratios)) if ratios else UNBOUNDED,
        )

    def outside(self, **log_values) -> list[str]:
        """A phrase for each quantity (``log_n=``, ``log_d=``, ``log_compute=``,
        ``log_ratio=``: arrays of log values) whose farthest finite value lies more than its
        factor outside its range (module docstring)."""
        out = []
        for key, values in log_values.items():
            name, unit, below_too, limit = QUANTITIES[key]
            values = np.asarray(values, dtype=float)
            values = values[np.isfinite(values)]
            low, high = getattr(self, key)
            if values.size == 0:
                continue
            above = float(values.max()) - high
            below = low - float(values.min()) if below_too else -math.inf
            if max(above, below) <= math.log(limit):
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


def answer_log_values(answer: xr.Dataset) -> dict[str, np.ndarray]:
    """What a query checks against the fitted ranges (module docstring), read back from
    its ``answer`` by what the answer holds, as keywords of :meth:`FittedRange.outside`:

    - the points it predicts (coordinates ``n_params`` and ``n_tokens``: ``predict_loss``,
      ``predict_curve``, ``compute_to_match``): their ``N``, ``D``, ``D/N`` and ``C = 6ND``;
    - an allocation per draw (variables ``n_opt`` and ``d_opt``: ``optimal``,
      ``compute_to_reach``): the medians over draws of its ``N``, ``D``, ``D/N`` and
      ``C = 6ND``;
    - the budgets it answers (coordinate or attribute ``budget``: ``optimal``,
      ``excess_compute``, ``efficient_range``): their ``C``, in place of the allocation's.

    Parameters
    ----------
    answer
        the dataset of a query's :class:`~bayescale.draws.Draws`, dims ``(chain, draw,
        ...)``.

    Returns
    -------
    dict
        ``log_n``, ``log_d``, ``log_ratio`` and ``log_compute`` arrays, those the answer
        holds.
    """
    out = {}
    if "n_params" in answer.coords and "n_tokens" in answer.coords:
        log_n, log_d = np.log(answer["n_params"].values), np.log(answer["n_tokens"].values)
        out.update(
            log_n=log_n, log_d=log_d, log_ratio=log_d - log_n, log_compute=LOG6 + log_n + log_d
        )
    if "n_opt" in answer.data_vars and "d_opt" in answer.data_vars:
        with np.errstate(invalid="ignore", divide="ignore"):  # inf and NaN: missed targets
            log_n, log_d = (
                np.log(answer[name].transpose(*SAMPLE_DIMS, ...).values.astype(float))
                for name in ("n_opt", "d_opt")
            )
            out.update(
                log_n=median_over_draws(log_n),
                log_d=median_over_draws(log_d),
                log_ratio=median_over_draws(log_d - log_n),
                log_compute=median_over_draws(LOG6 + log_n + log_d),
            )
    budget = answer["budget"].values if "budget" in answer.coords else answer.attrs.get("budget")
    if budget is not None:
        out["log_compute"] = np.log(np.atleast_1d(np.asarray(budget, dtype=float)))
    return out


def warn_if_extrapolating(fitted: FittedRange, stacklevel: int = 4, **log_values) -> None:
    """One :class:`ExtrapolationWarning` naming every quantity of ``log_values`` that lies
    far outside ``fitted`` (module docstring); nothing when none does."""
    phrases = fitted.outside(**log_values)
    if phrases:
        warnings.warn(
            f"extrapolating outside the fitted data: {'; '.join(phrases)}. Answers there "
            "rest on the law's form holding that far out; their loss intervals widen with "
            "the distance (bayescale.discrepancy).",
            ExtrapolationWarning,
            stacklevel=stacklevel,
        )
