"""Posterior draws of derived quantities, and their intervals.

Every query (``optimal``, ``predict_loss``, ...) returns a :class:`Draws`: an
``xarray.Dataset`` whose variables carry ``(chain, draw, ...)`` dims, one value per
posterior draw. Intervals are taken over ``(chain, draw)`` at the end, never before.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.errors import InputError
from bayescale.ranges import PROBABILITY

SAMPLE_DIMS = ("chain", "draw")


def quantile(values: np.ndarray, q, axis=0) -> np.ndarray:
    """Quantiles that keep ``inf`` draws (an unreachable size, say) as ``inf``: along
    ``axis``, linear interpolation where every draw is finite, the inverse CDF where some
    are not (no inf − inf). Each quantity's quantiles are its own draws' alone, whatever the
    other quantities of ``values`` hold."""
    values = np.asarray(values)
    finite = np.isfinite(values).all(axis=axis)
    with np.errstate(invalid="ignore"):  # inf − inf in the columns replaced below
        linear = np.quantile(values, q, axis=axis, method="linear")
    if finite.all():
        return linear
    return np.where(finite, linear, np.quantile(values, q, axis=axis, method="inverted_cdf"))


def eti(values: np.ndarray, ci_prob: float, axis=0) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed interval: the (1−p)/2 and (1+p)/2 quantiles."""
    tail = (1.0 - ci_prob) / 2.0
    low, high = quantile(values, [tail, 1.0 - tail], axis=axis)
    return low, high


def hdi(values: np.ndarray, ci_prob: float, axis=0) -> tuple[np.ndarray, np.ndarray]:
    """Highest-density interval: the narrowest window holding a ``ci_prob`` share of draws,
    as :func:`arviz.hdi` computes it (the numbers of ``az.summary``'s ``hdi_*`` columns).

    A draw at ``inf`` (a size that is never reached) makes every window reaching it
    infinitely wide, so a finite window wins wherever one holds the share; where none
    does, the interval is ``(smallest draw, inf)``, the first of equally wide windows.
    One step is ours: once more than a ``ci_prob`` share of draws is ``inf``, ``az.hdi``
    measures a window between two of them as ``inf − inf`` (NaN, which its ``argmin``
    picks), giving ``(inf, inf)``; that lower bound is replaced by the smallest draw, so
    the rule above holds at every share. NaN draws (a size beyond the range searched) are
    left out (``skipna=True``).

    Parameters
    ----------
    values
        the draws, along ``axis``; any other axes index quantities, each with its own
        interval.
    ci_prob
        the share of draws the interval holds, in (0, 1).
    axis
        the axis of draws.

    Returns
    -------
    tuple of numpy.ndarray
        ``(low, high)``, each of the shape of ``values`` without ``axis``.
    """
    from bayescale.diagnostics import arviz  # ArviZ is slow to import; only HDIs need it

    x = np.moveaxis(np.asarray(values), axis, 0)
    n = x.shape[0]
    if int(np.floor(ci_prob * n)) < 1:
        raise InputError(f"too few draws ({n}) for a {ci_prob:.0%} HDI.")
    # az.hdi reads an array of ndim >= 3 as (chain, draw, *shape): one chain of all draws
    with np.errstate(invalid="ignore"):  # inf − inf, handled below
        bounds = arviz().hdi(x if x.ndim == 1 else x[None], hdi_prob=ci_prob, skipna=True)
    low, high = np.moveaxis(np.asarray(bounds, dtype=x.dtype), -1, 0)
    low = np.where(np.isposinf(low), np.fmin.reduce(x, axis=0), low)  # fmin: NaN left out
    return low[()], high[()]  # numpy scalars for one quantity, as np.quantile gives


INTERVAL_KINDS = ("eti", "hdi")


def percent(share: float) -> str:
    """A share of draws in words: ``0.69`` as ``69%``, never rounded to 0% or 100%."""
    if 0 < share < 0.005:
        return "<1%"
    if 0.995 < share < 1:
        return ">99%"
    return f"{share:.0%}"


def interval_columns(ci_prob: float, kind: str = "eti") -> tuple[str, str]:
    """The names of an interval's two bounds, as ``az.summary`` names them: ``eti_5%``
    and ``eti_95%`` for a 90% equal-tailed interval, ``hdi_5%`` and ``hdi_95%`` for a
    90% highest-density one (``hdi_2.5%``, ``hdi_97.5%`` at 0.95), with more digits where
    six would give both bounds one name (``ci_prob`` within about 1e-6 of 0).
    :meth:`Draws.interval`, :meth:`~bayescale.posterior.Posterior.summary`, the backtest's
    points and the command line's JSON rows all use these names."""
    ci_prob = check_ci_prob(ci_prob)
    if kind not in INTERVAL_KINDS:
        raise InputError(f"unknown interval kind {kind!r}; choose 'eti' or 'hdi'.")
    alpha = 1.0 - ci_prob  # the very expression of az.summary, so the labels agree
    for digits in (6, 10, 17):  # 6 is az.summary's :g; more only where the two would meet
        low, high = (f"{kind}_{100 * q:.{digits}g}%" for q in (alpha / 2, 1 - alpha / 2))
        if low != high:
            break
    return low, high


def check_ci_prob(ci_prob: float) -> float:
    """``ci_prob`` as a float in (0, 1); a string, boolean or other non-number raises
    :class:`~bayescale.errors.InputTypeError`, a number outside raises
    :class:`~bayescale.errors.InputError`."""
    return float(PROBABILITY.check(ci_prob, "ci_prob", "ci_prob=0.9"))


@dataclass(frozen=True)
class Draws:
    """Draws of derived quantities (``.dataset``), summarised by :meth:`interval`."""

    dataset: xr.Dataset

    def __getitem__(self, name: str) -> xr.DataArray:
        return self.dataset[name]

    def __repr__(self) -> str:
        names = ", ".join(self.dataset.data_vars)
        dims = dict(self.dataset.sizes)
        return f"Draws({names}; dims {dims})"

    @property
    def names(self) -> list[str]:
        return list(self.dataset.data_vars)

    def interval(self, ci_prob: float = 0.9, kind: str = "eti") -> pd.DataFrame:
        """A tidy frame: one row per quantity and coordinate, with its ``median`` and the
        two bounds of its ``ci_prob`` interval, named as ``az.summary`` names them
        (:func:`interval_columns`: ``eti_5%`` and ``eti_95%`` for the default 90%
        equal-tailed interval), then ``units``. ``attrs`` hold ``ci_prob`` and ``kind``.

        Parameters
        ----------
        ci_prob
            the interval's probability, in (0, 1): the name ArviZ 1.0 gives it; the
            ``az.summary`` of ArviZ 0.x calls it ``hdi_prob``.
        kind
            ``"eti"`` (equal-tailed, the default: invariant under the log transforms these
            quantities live on) or ``"hdi"`` (highest density).

        Returns
        -------
        pandas.DataFrame
            columns ``quantity``, one per non-sample dimension, ``median``, the two bounds
            and ``units``.
        """
        ci_prob = check_ci_prob(ci_prob)
        lower, upper = interval_columns(ci_prob, kind)
        tail = (1.0 - ci_prob) / 2.0
        frames = []
        for name, da in self.dataset.data_vars.items():
            other = [d for d in da.dims if d not in SAMPLE_DIMS]
            values = np.asarray(da.transpose(*SAMPLE_DIMS, *other).values, dtype=float)
            values = values.reshape(-1, *values.shape[2:])  # one axis of draws, first
            if kind == "eti":  # the median and both bounds from one selection
                median, low, high = quantile(values, [0.5, tail, 1.0 - tail], axis=0)
            else:
                median, (low, high) = quantile(values, 0.5, axis=0), hdi(values, ci_prob)
            index = (
                pd.MultiIndex.from_product([da[d].values for d in other], names=other)
                if other
                else pd.RangeIndex(1)
            )
            frame = pd.DataFrame(
                {
                    "median": np.ravel(median),
                    lower: np.ravel(low),
                    upper: np.ravel(high),
                },
                index=index,
            ).reset_index(drop=not other)
            frame.insert(0, "quantity", name)
            frame["units"] = da.attrs.get("units", "")
            frames.append(frame)
        out = pd.concat(frames, ignore_index=True)
        out.attrs.update(ci_prob=ci_prob, kind=kind)
        return out


def every_group(query):
    """A query method of a posterior (:class:`~bayescale.Posterior`,
    :class:`~bayescale.Stack`) that, given no ``group`` on a per-group posterior, answers
    for every group the posterior answers for (its ``groups_answered``: the fitted groups,
    and ``"new"`` under partial pooling), as if asked for each in turn, along a ``group``
    dimension. Each group's warnings are raised with its group named first (``"group rpj:
    extrapolating …"``), so that they say whose they are; every warning points at the line
    that asked."""
    signature = inspect.signature(query)

    @functools.wraps(query)
    def answer(self, *args, **kwargs) -> Draws:
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as error:  # as a call without the decorator names it
            raise TypeError(f"{query.__qualname__}() {error}") from None
        group = bound.arguments.pop("group", None)
        if group is not None or not self.groups_fitted:
            return _asked(lambda: query(*bound.args, group=group, **bound.kwargs))
        groups = self.groups_answered
        parts = [
            _asked(lambda g=g: query(*bound.args, group=g, **bound.kwargs), f"group {g}: ")
            for g in groups
        ]
        dim = xr.DataArray(groups, dims="group", name="group")
        return Draws(xr.concat([part.dataset for part in parts], dim=dim))

    return answer


def _asked(call, prefix: str = ""):
    """``call()``, each warning it raised raised again after it, ``prefix`` first, at the
    line that asked (user ← answer ← here), also when ``call`` raises."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            return call()
    finally:
        for w in caught:
            warnings.warn(f"{prefix}{w.message}", w.category, stacklevel=3)
