"""Posterior draws of derived quantities, and their intervals.

Every query (``optimal``, ``predict_loss``, ...) returns a :class:`Draws`: an
``xarray.Dataset`` whose variables carry ``(chain, draw, ...)`` dims, one value per
posterior draw. Intervals are taken over ``(chain, draw)`` at the end, never before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.errors import InputError
from bayescale.ranges import PROBABILITY

SAMPLE_DIMS = ("chain", "draw")


def quantile(values: np.ndarray, q, axis=0) -> np.ndarray:
    """Quantiles that keep ``inf`` draws (an unreachable size, say) as ``inf``: linear
    interpolation when every draw is finite, the inverse CDF otherwise (no inf − inf)."""
    method = "linear" if np.isfinite(values).all() else "inverted_cdf"
    return np.quantile(values, q, axis=axis, method=method)


def eti(values: np.ndarray, ci_prob: float, axis=0) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed interval: the (1−p)/2 and (1+p)/2 quantiles."""
    tail = (1.0 - ci_prob) / 2.0
    low, high = quantile(values, [tail, 1.0 - tail], axis=axis)
    return low, high


def hdi(values: np.ndarray, ci_prob: float, axis=0) -> tuple[np.ndarray, np.ndarray]:
    """Highest-density interval: the narrowest window holding a ``ci_prob`` share of draws."""
    x = np.sort(np.moveaxis(values, axis, 0), axis=0)
    n = x.shape[0]
    width = int(np.floor(ci_prob * n))
    if width < 1:
        raise InputError(f"too few draws ({n}) for a {ci_prob:.0%} HDI.")
    spans = x[width:] - x[: n - width]
    start = np.argmin(np.where(np.isnan(spans), np.inf, spans), axis=0)
    low = np.take_along_axis(x, start[None], axis=0)[0]
    high = np.take_along_axis(x, (start + width)[None], axis=0)[0]
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
        """A tidy frame: one row per quantity and coordinate, with median and interval.

        ``kind`` is ``"eti"`` (equal-tailed, the default: invariant under the log
        transforms these quantities live on) or ``"hdi"``.
        """
        ci_prob = check_ci_prob(ci_prob)
        if kind not in ("eti", "hdi"):
            raise InputError(f"unknown interval kind {kind!r}; choose 'eti' or 'hdi'.")
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
                    "lower": np.ravel(low),
                    "upper": np.ravel(high),
                },
                index=index,
            ).reset_index(drop=not other)
            frame.insert(0, "quantity", name)
            frame["units"] = da.attrs.get("units", "")
            frames.append(frame)
        out = pd.concat(frames, ignore_index=True)
        out.attrs.update(ci_prob=ci_prob, kind=kind)
        return out
