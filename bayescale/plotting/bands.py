r"""Credible bands: the median and equal-tailed interval of a quantity over posterior draws.

A quantity computed per draw, :math:`q_s(x)` for the draws :math:`s` of all chains, is
summarised at each :math:`x` by its median and the equal-tailed ``ci_prob`` interval

.. math:: \bigl[\,Q_{(1 - p)/2}(q_s(x)),\; Q_{(1 + p)/2}(q_s(x))\,\bigr], \quad p = \text{ci\_prob},

with :math:`Q` the empirical quantile over draws. A band is drawn as that interval
shaded, with the median as its line; nothing comes from a point estimate.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import xarray as xr

from bayescale.draws import SAMPLE_DIMS, eti


def samples(values) -> np.ndarray:
    """Stack ``(chain, draw, ...)`` values to ``(sample, ...)``."""
    if isinstance(values, xr.DataArray):
        values = values.transpose(*SAMPLE_DIMS, ...).values
    values = np.asarray(values, dtype=float)
    return values.reshape(-1, *values.shape[2:])


def sample_count(ds: xr.Dataset) -> int:
    """The number of draws of ``ds``, all chains together."""
    return int(np.prod([ds.sizes[d] for d in SAMPLE_DIMS]))


def summary(values, ci_prob: float):
    """Median and equal-tailed interval over draws of ``(chain, draw, ...)`` values."""
    draws = samples(values)
    low, high = eti(draws, ci_prob, axis=0)
    return np.median(draws, axis=0), low, high


def band(ax, x, values, ci_prob: float, color, alpha=0.22, **line_kw):
    """Median line plus ``ci_prob`` band of per-draw values ``(chain, draw, len(x))``.

    Draws one ``Line2D`` over one ``PolyCollection``; returns a legend handle showing
    both.
    """
    median, low, high = summary(values, ci_prob)
    ax.fill_between(x, low, high, color=color, alpha=alpha, linewidth=0)
    ax.plot(x, median, color=color, **line_kw)
    return band_handle(color, alpha, **line_kw)


def widest(values, ci_prob: float) -> float:
    """The largest half-width of the ``ci_prob`` band relative to its median, over all
    points: how wide a band is where it may be narrower than its line (a figure says so,
    so that an invisible band is not read as missing)."""
    median, low, high = summary(values, ci_prob)
    return float(np.nanmax((high - low) / (2.0 * np.abs(median))))


def width_words(width: float) -> str:
    """A relative half-width as a figure states it, e.g. ``±0.4%``."""
    return f"±{width:.2g}" if width >= 10 else f"±{100 * width:.2g}%"


def band_handle(color, alpha=0.22, **line_kw):
    """A legend handle for a median line over its band."""
    line_kw.pop("zorder", None)
    return (
        mpl.patches.Patch(color=color, alpha=alpha, linewidth=0),
        mpl.lines.Line2D([], [], color=color, **line_kw),
    )
