"""The convex hull of points in the plane (Andrew's monotone chain), without JAX: the fit
information keeps the hull of the fitted points in ``(log N, log D)``
(:mod:`bayescale.fitted_region` measures distances from it)."""

from __future__ import annotations

import numpy as np


def hull(log_n, log_d) -> tuple[tuple[float, float], ...]:
    """The vertices of the convex hull of the points ``(log N, log D)``, counter-clockwise
    from the leftmost (lowest ``log D`` among ties), collinear points dropped (module
    docstring)."""
    log_n, log_d = np.broadcast_arrays(np.asarray(log_n, float), np.asarray(log_d, float))
    points = sorted(set(zip(log_n.ravel(), log_d.ravel(), strict=True)))
    if len(points) <= 2:
        return tuple((float(a), float(b)) for a, b in points)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    def chain(sequence):
        out = []
        for p in sequence:
            while len(out) >= 2 and cross(out[-2], out[-1], p) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = chain(points), chain(reversed(points))
    return tuple((float(a), float(b)) for a, b in lower[:-1] + upper[:-1])
