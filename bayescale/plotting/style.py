"""The paper style, axes, colour scales and legends every figure shares.

A figure made here (``ax=None``) is drawn under :data:`PAPER`, small fonts and thin
lines, and sized for a paper: :data:`SINGLE` (3.4 in wide) for one panel,
:data:`DOUBLE` (7 in) for two. Axes the caller passes keep the caller's own style.
"""

from __future__ import annotations

import contextlib

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

from bayescale.errors import InputError

SINGLE = (3.4, 2.6)
"""Size in inches of a one-panel figure."""
DOUBLE = (7.0, 2.6)
"""Size in inches of a two-panel figure."""
PAPER = {
    "font.size": 7.5,
    "axes.labelsize": 7.5,
    "axes.titlesize": 7.5,
    "xtick.labelsize": 6.5,
    "ytick.labelsize": 6.5,
    "legend.fontsize": 6.0,
    "legend.frameon": False,
    "lines.linewidth": 1.1,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "figure.dpi": 150,
    "savefig.dpi": 200,
}
"""Matplotlib rc settings of the figures made here."""


def paper_style(ax, rc=PAPER):
    """The style ``rc`` while a new figure is made and drawn on (``ax is None``); the
    caller's own style otherwise."""
    return mpl.rc_context(rc) if ax is None else contextlib.nullcontext()


def figure_axes(ax, figsize, shape=None):
    """``(fig, ax)``: the caller's axes, or a new paper-sized figure. ``shape`` is that of
    the axes array a multi-panel figure needs: ``(2,)`` side by side, ``(k, k)`` a grid."""
    if ax is not None:
        axes = np.asarray(ax, dtype=object)
        if shape is not None and axes.shape != shape:
            raise InputError(
                f"expected axes of shape {shape}, got shape {axes.shape}; pass "
                "e.g. plt.subplots(*shape)[1], or leave axes=None."
            )
        return axes.flat[0].figure, ax
    grid = (1, 1) if shape is None else (1, shape[0]) if len(shape) == 1 else shape
    fig, new = plt.subplots(*grid, figsize=figsize, layout="constrained", squeeze=False)
    return fig, (new[0, 0] if shape is None else new.reshape(shape))


def log_axes(ax, x=True, y=False):
    """Put the x (and optionally y) axis of ``ax`` on a log scale."""
    if x:
        ax.set_xscale("log")
    if y:
        ax.set_yscale("log")


def log_norm(values) -> LogNorm:
    """A log colour scale spanning ``values`` (widened 2× each way when they are all
    equal, so a single value still gets a scale)."""
    values = np.asarray(values, dtype=float)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        low, high = low / 2.0, high * 2.0
    return LogNorm(low, high)


def colorbar(fig, ax, norm, cmap, label):
    """A slim colourbar for ``norm`` and ``cmap`` beside ``ax``."""
    mappable = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
    bar = fig.colorbar(mappable, ax=ax, pad=0.02, fraction=0.06, aspect=25)
    bar.set_label(label)
    return bar


def marker(label, **kw):
    """A legend handle for markers drawn elsewhere."""
    kw = {"color": "0.3", "ls": "none", "marker": "o", "ms": 3, **kw}
    return mpl.lines.Line2D([], [], label=label, **kw)


def legend(ax, handles, **kw):
    """A legend from handles: artists carrying labels, or ``(artist, label)`` pairs."""
    artists, labels = [], []
    for handle in handles:
        artist, label = (
            handle
            if isinstance(handle, tuple) and isinstance(handle[1], str)
            else (handle, handle.get_label())
        )
        artists.append(artist)
        labels.append(label)
    return ax.legend(artists, labels, handlelength=1.6, **kw)
