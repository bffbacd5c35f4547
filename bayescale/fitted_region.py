r"""The fitted region: the convex hull of the fitted points in ``(log N, log D)``, and how
far a query lies outside it.

A law fitted on a ladder of runs is tested only where the runs are. A query at ``x =
(\log N, \log D)`` leaves that region by

.. math::

    h(x) = \min_{y \in H} \big(|x_N − y_N| + |x_D − y_D|\big),

the L1 distance from ``H``, the convex hull of the fitted points, in e-folds: zero inside
the hull, growing with the e-folds of ``N`` alone, of ``D`` alone, or of both. Beyond an
edge of constant compute (``\log N + \log D`` fixed) it equals the e-folds of compute
``C = 6ND`` beyond that edge, since ``\log C = \log 6 + \log N + \log D``: moving along
the diagonal adds one e-fold of compute per e-fold of ``N`` and ``D`` together.

The hull (:func:`bayescale.hull.hull`) has one vertex when every point is the same and
two when they lie on a line (an isoFLOP sweep at one budget), and ``h`` is then the
distance from that point or segment. :meth:`Region.distance` is exact: the L1 distance
from a segment is a convex piecewise-linear function of the position along it, smallest
at an end or where one coordinate matches, and ``h`` is the least over the edges of those
few candidates.

A region of no points is everywhere (``h = 0``): a posterior that knows nothing about the
data it came from (a point mass at published constants) has no distance to grow with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bayescale.fitinfo import LOG6
from bayescale.hull import hull


@dataclass(frozen=True)
class Region:
    """A convex polygon in ``(log N, log D)`` by its edges: ``starts`` and ``steps``
    (``(k, 2)``: edge ``i`` runs from ``starts[i]`` to ``starts[i] + steps[i]``) and
    ``inverse`` (``1 / steps``, 0 where a step is 0)."""

    starts: np.ndarray
    steps: np.ndarray
    inverse: np.ndarray

    @classmethod
    def from_vertices(cls, vertices) -> Region:
        """From hull vertices in counter-clockwise order (:func:`hull`); none: everywhere."""
        starts = np.asarray(vertices, float).reshape(-1, 2)
        steps = np.roll(starts, -1, axis=0) - starts
        with np.errstate(divide="ignore"):
            inverse = np.where(steps != 0, 1.0 / np.where(steps != 0, steps, 1.0), 0.0)
        return cls(starts=starts, steps=steps, inverse=inverse)

    @classmethod
    def everywhere(cls) -> Region:
        """The region of no points: ``h = 0`` everywhere."""
        return cls.from_vertices(())

    @classmethod
    def from_data(cls, data) -> Region:
        """The region of a posterior's :class:`~bayescale.fitinfo.DataInfo`: the hull it
        kept, or, from a file written before hulls were kept, :meth:`from_ranges`."""
        if data.hull:
            return cls.from_vertices(data.hull)
        return cls.from_ranges(data.log_n_range, data.log_d_range, data.log_compute_range)

    @classmethod
    def from_points(cls, log_n, log_d) -> Region:
        """The hull of the points ``(log N, log D)``."""
        return cls.from_vertices(hull(log_n, log_d))

    @classmethod
    def from_ranges(cls, log_n, log_d, log_compute) -> Region:
        """The box of the ``(low, high)`` ranges of ``log N`` and ``log D`` cut at the
        largest compute: the region of a posterior that kept its ranges but not its points.
        Everywhere when a range is unbounded."""
        bounds = (*log_n, *log_d, log_compute[1])
        if not all(math.isfinite(b) for b in bounds):
            return cls.everywhere()
        top = log_compute[1] - LOG6  # log N + log D at the largest compute
        corners = [(n, d) for n in log_n for d in log_d]
        kept = [(n, d) for n, d in corners if n + d <= top]
        cut = [(n, top - n) for n in log_n if log_d[0] <= top - n <= log_d[1]]
        cut += [(top - d, d) for d in log_d if log_n[0] <= top - d <= log_n[1]]
        points = np.array(kept + cut).reshape(-1, 2)
        return cls.from_points(points[:, 0], points[:, 1])

    @property
    def vertices(self) -> np.ndarray:
        """The hull's vertices, ``(k, 2)``."""
        return self.starts

    def extended(self, log_n, log_d) -> Region:
        """The hull of this region and the points ``(log N, log D)``."""
        log_n = np.concatenate([self.starts[:, 0], np.ravel(log_n)])
        log_d = np.concatenate([self.starts[:, 1], np.ravel(log_d)])
        return Region.from_points(log_n, log_d)

    @property
    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(starts, steps, inverse)``: what :func:`distance` needs, as arrays (a compiled
        kernel takes them as arguments)."""
        return self.starts, self.steps, self.inverse

    def distance(self, log_n, log_d) -> np.ndarray:
        """``h`` at ``(log N, log D)``, broadcast (:func:`distance`)."""
        return distance(self.edges, log_n, log_d)


def distance(edges, log_n, log_d, xp=np):
    """``h``, the L1 distance in e-folds from the region of ``edges``
    (:attr:`Region.edges`; module docstring), broadcast over ``log_n`` and ``log_d``, in
    the array library ``xp`` (NumPy, or ``jax.numpy`` inside a compiled kernel)."""
    starts, steps, inverse = edges
    log_n, log_d = xp.asarray(log_n), xp.asarray(log_d)
    if starts.shape[0] == 0:
        return xp.zeros(xp.broadcast_shapes(log_n.shape, log_d.shape))
    x = xp.stack(xp.broadcast_arrays(log_n, log_d), axis=-1)[..., None, :]  # (..., 1, 2)
    offset = x - starts  # (..., k, 2)
    along = xp.stack(
        [xp.zeros_like(offset[..., 0]), xp.ones_like(offset[..., 0])]
        + [xp.clip(offset[..., j] * inverse[:, j], 0.0, 1.0) for j in (0, 1)],
        axis=-1,
    )  # (..., k, 4): the candidate positions along each edge
    gap = offset[..., None, :] - along[..., None] * steps[:, None, :]
    h = xp.abs(gap).sum(axis=-1).min(axis=(-2, -1))
    if starts.shape[0] < 3:
        return h
    turn = steps[:, 0] * offset[..., 1] - steps[:, 1] * offset[..., 0]
    return xp.where(turn.min(axis=-1) >= 0, 0.0, h)
