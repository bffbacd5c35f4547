r"""Planning quantities computed per posterior draw: loss predictions and the
compute-optimal allocation.

For a budget ``C`` (FLOPs, ``C = 6ND``) every draw ``θ_s`` gives

.. math::

    (N_{opt}, D_{opt})_s = \arg\min_{N D = C/6} L(N, D; θ_s),\qquad
    L^*_s = L(N_{opt,s}, D_{opt,s}; θ_s),

in closed form when the law has one (:mod:`bayescale.laws`). Intervals come from the
draws afterwards; nothing here is computed from a point estimate.

Excess compute (Kaplan et al. 2020, Fig. 12) at budget ``C0``: with ``L* = L^*(C0)``, a
model of size ``N = x·N_opt`` needs the ``D_x`` that solves ``L(N, D_x) = L*`` (bisection in
``log D``; the loss falls monotonically in D). Then

.. math::

    \frac{C}{C_{opt}} = \frac{N D_x}{N_{opt} D_{opt}} = x \frac{D_x}{D_{opt}},
    \qquad \frac{D_x}{D_{opt}} \text{ (tokens, i.e. steps at a fixed batch)}.

When ``L(N, D → ∞) ≥ L*`` the size can never reach ``L*`` and both ratios are ``inf``.
A law with a closed form for ``D_x/D_opt`` (``Law.excess``) uses it instead.

Read from a given run ``(N, D)`` instead (``compute_to_match``): the least ``C_opt`` with
``L^*(C_opt) = L(N, D)`` (the bisection of the compute to reach a loss, below, on the law
alone) and the run's excess compute ``6ND / C_opt``, at least 1.

Loss predictions (``predict_loss``, ``loss_opt``) add the law's error outside the fitted
runs, ``δ_s(N, D)`` of :mod:`bayescale.discrepancy`, at each answer's ``(N, D)``;
allocations are the law's (δ has mean zero over its ``z``, so it prefers no size).

Compute to reach a loss ``L_t``: the smallest ``C`` with ``L^*(C)·e^{δ(N_{opt}, D_{opt})} =
L_t``
(bisection in ``log C`` from 6e5 FLOPs, the smallest budget whose optimum
:mod:`bayescale.optimum` searches, to 1e60), ``inf`` when no compute reaches ``L_t`` (at or
below the law's floor), ``NaN`` when ``L_t`` lies above the loss at 6e5 FLOPs (reached
with less compute than is searched). ``log L^*`` is convex and decreasing in ``log C``, so
with δ's slope added the predicted loss falls to one minimum and, in draws whose δ grows,
rises after it: the bisection runs below that minimum, found first as the sign change of
the slope (central differences, by bisection).

Queries far outside the fitted model sizes or token counts (above or below them), or far
above the fitted compute, raise an :class:`~bayescale.errors.ExtrapolationWarning` stating
how far out they are (:mod:`bayescale.extrapolation`): the inputs, and the answers'
``N_opt`` and ``D_opt``.

Every function here takes a law, draws of its parameters (``{name: (chain, draw)
array}``), and the discrepancy (and, for predictions, the noise draws): whatever produced
the draws. :class:`~bayescale.Posterior`'s methods of the same names pass its own.

Each query is one compiled JAX kernel over (draws × query values), with the law's functions
as static arguments: it compiles once per law, dtype and shape, and the optimum, the
bisections and the exponentials run fused, with no intermediate array on the host. The
arrays it returns are read-only views of the kernel's output (no copy).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import xarray as xr

from bayescale.bracket import LOG_MIN_PARAMS, LOG_MIN_TOKENS
from bayescale.discrepancy import Discrepancy, log_error
from bayescale.draws import SAMPLE_DIMS, Draws, percent
from bayescale.errors import InputError, PlanningWarning
from bayescale.extrapolation import answer_log_values, number, warn_if_extrapolating
from bayescale.laws import LOG6, Law
from bayescale.likelihood import NoiseDraws
from bayescale.optimum import search
from bayescale.ranges import SEED, as_positive, one_positive, positive_pairs

BISECTION_STEPS = 60  # halves a 140-nat bracket to 1e-16: float64 resolution
SLOPE_STEP = 1e-2  # log C step of the central difference that locates the predicted minimum
LOG_D_RANGE = (0.0, 140.0)  # log tokens searched: 1 to 1e60 tokens
# FLOPs searched: from the smallest budget whose optimum bayescale.optimum can search
# (1e3 parameters × 1e2 tokens, 6e5 FLOPs) to 1e60
LOG_C_RANGE = (LOG6 + LOG_MIN_PARAMS + LOG_MIN_TOKENS, math.log(1e60))
EFFICIENT_GRID = (0.05, 20.0)  # N / N_opt searched by efficient_range


def _prepare(law: Law, theta: Mapping, error: Discrepancy | None):
    """Validated draws ``{param: (chain, draw, 1)}``, the discrepancy (none: the law alone)
    and whether the draws are float64 (the kernels then run in float64)."""
    missing = [p for p in law.params if p not in theta]
    if missing:
        raise InputError(
            f"the draws lack the {law.name} law's parameter(s) {missing}; "
            f"expected {list(law.params)}."
        )
    values = {p: np.asarray(theta[p]) for p in law.params}
    shapes = {v.shape for v in values.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != len(SAMPLE_DIMS):
        raise InputError(
            f"each parameter's draws must be one (chain, draw) array of a common "
            f"shape; got shapes {sorted(shapes)}."
        )
    x64 = any(v.dtype == np.float64 for v in values.values())
    error = Discrepancy.none() if error is None else error
    return {p: v[..., None] for p, v in values.items()}, error, x64


def _coords(theta3: Mapping) -> dict:
    chains, draws = next(iter(theta3.values())).shape[:2]
    return {"chain": np.arange(chains), "draw": np.arange(draws)}


def _allocation(optimum, log_loss, theta, log_c):
    """``(log N_opt, log D_opt)``: the closed form ``optimum`` where the law has one, else
    the numeric search of :mod:`bayescale.optimum`."""
    return search(log_loss, theta, log_c) if optimum is None else optimum(theta, log_c)


def _optimum(optimum, log_loss, theta, log_c):
    """``(log N_opt, log D_opt, log L*)``."""
    log_n, log_d = _allocation(optimum, log_loss, theta, log_c)
    return log_n, log_d, log_loss(theta, log_n, log_d)


def bisect(f, lo, hi, steps: int = BISECTION_STEPS):
    """Root of ``f`` (increasing in its argument) between the arrays ``lo`` and ``hi``,
    elementwise: ``steps`` halvings in one ``lax.fori_loop`` (call it inside ``jax.jit``)."""

    def halve(_, bounds):
        low, high = bounds
        mid = 0.5 * (low + high)
        above = f(mid) > 0
        return jnp.where(above, low, mid), jnp.where(above, mid, high)

    low, high = jax.lax.fori_loop(0, steps, halve, (lo, hi))
    return 0.5 * (low + high)


@partial(jax.jit, static_argnums=(0, 1, 2))
def _optimal_kernel(optimum, log_loss, loss, theta, log_c, slope, edges):
    """``(N_opt, D_opt, D_opt/N_opt, L*·e^δ)`` per draw and budget, in one compiled kernel
    (no intermediate array goes back to the host). ``L*`` is the law's linear-space
    ``loss`` where it has one, cheaper than the log-sum-exp of ``log_loss``."""
    log_n, log_d = _allocation(optimum, log_loss, theta, log_c)
    delta = log_error(slope, edges, log_n, log_d, jnp)
    loss_opt = (
        jnp.exp(log_loss(theta, log_n, log_d) + delta)
        if loss is None
        else loss(theta, log_n, log_d) * jnp.exp(delta)
    )
    return jnp.exp(log_n), jnp.exp(log_d), jnp.exp(log_d - log_n), loss_opt


@partial(jax.jit, static_argnums=(0, 1, 2))
def _excess_kernel(optimum, log_loss, excess, theta, log_c, log_x):
    """``D_x / D_opt`` per draw and ratio ``x = exp(log_x)``: the law's closed form
    ``excess`` where it has one; else ``log D_x`` solves ``log L(x·N_opt, D_x) = log L*`` by
    bisection in ``LOG_D_RANGE``, ``inf`` where even ``D = exp(LOG_D_RANGE[1])`` tokens stay
    above ``L*``."""
    if excess is not None:
        return excess(theta, log_c, log_x)
    log_n_opt, log_d_opt, log_star = _optimum(optimum, log_loss, theta, log_c)
    log_n = log_n_opt + log_x
    reachable = log_loss(theta, log_n, LOG_D_RANGE[1]) < log_star
    lo, hi = (jnp.full(log_n.shape, edge, log_n.dtype) for edge in LOG_D_RANGE)
    log_d = bisect(lambda ld: log_star - log_loss(theta, log_n, ld), lo, hi)
    return jnp.exp(jnp.where(reachable, log_d - log_d_opt, jnp.inf))


@partial(jax.jit, static_argnums=(0, 1))
def _reach_kernel(optimum, log_loss, theta, log_target, slope, edges):
    """``(log C, N_opt, D_opt, log L_top, log L_bottom)`` per draw and target: the smallest
    ``log C`` in ``LOG_C_RANGE`` with ``log L^*(C) + δ(C) = log L_t``, by bisection below
    the predicted loss's minimum; ``log C`` is ``inf`` where the bisection ends more than
    ``1e-6`` away from ``L_t``. ``L_top`` is the predicted loss at the smallest budget
    searched and ``L_bottom`` its minimum over the range, which tell why a target was
    missed: above ``L_top``, less compute than searched reaches it; below ``L_bottom``,
    none does."""

    def predicted(lc):
        log_n, log_d, log_star = _optimum(optimum, log_loss, theta, lc)
        return log_star + log_error(slope, edges, log_n, log_d, jnp)

    shape = jnp.broadcast_shapes(log_target.shape, slope.shape, *(v.shape for v in theta.values()))
    lo, hi = (jnp.full(shape, edge, log_target.dtype) for edge in LOG_C_RANGE)
    turn = bisect(lambda lc: predicted(lc + SLOPE_STEP) - predicted(lc - SLOPE_STEP), lo, hi)
    log_c = bisect(lambda lc: log_target - predicted(lc), lo, turn)
    log_n, log_d, _ = _optimum(optimum, log_loss, theta, log_c)
    reached = jnp.abs(predicted(log_c) - log_target) < 1e-6
    log_c, log_n, log_d = (jnp.where(reached, v, jnp.inf) for v in (log_c, log_n, log_d))
    return log_c, jnp.exp(log_n), jnp.exp(log_d), predicted(lo), predicted(turn)


def optimal(law: Law, theta: Mapping, compute, error: Discrepancy | None = None) -> Draws:
    """Per-draw compute-optimal allocation at each budget in ``compute`` (FLOPs): ``n_opt``,
    ``d_opt``, ``tokens_per_param`` and ``loss_opt`` (with the law's error outside the
    fitted runs), dims ``(chain, draw, budget)``."""
    theta3, error, x64 = _prepare(law, theta, error)
    budgets = as_positive(compute, "compute (FLOPs)", "optimal(1e22) or optimal([1e21, 1e22])")
    log_c = np.log(budgets)
    with jax.enable_x64(x64):
        n_opt, d_opt, ratio, loss = (
            np.asarray(v)
            for v in _optimal_kernel(
                law.optimum,
                law.log_loss,
                law.loss,
                theta3,
                log_c[None, None],
                error.slope[..., None],
                error.region.edges,
            )
        )
    dims = (*SAMPLE_DIMS, "budget")
    ds = xr.Dataset(
        {
            "n_opt": (dims, n_opt, {"units": "parameters"}),
            "d_opt": (dims, d_opt, {"units": "tokens"}),
            "tokens_per_param": (dims, ratio, {"units": "tokens/parameter"}),
            "loss_opt": (dims, loss, {"units": "nats/token"}),
        },
        coords={**_coords(theta3), "budget": budgets},
    )
    ds["budget"].attrs["units"] = "FLOPs"
    warn_if_extrapolating(error.fitted, **answer_log_values(ds))
    return Draws(ds)


def predict_loss(
    law: Law,
    theta: Mapping,
    n,
    d,
    noise: NoiseDraws | None = None,
    error: Discrepancy | None = None,
    seed: int = 0,
    inputs: Mapping | None = None,
    offsets=None,
) -> Draws:
    """Draws of the mean loss ``L(n, d)·e^{δ(n, d)}`` (the law with its error outside the
    fitted runs) and, given the ``noise`` draws, of a new run's measured loss
    (:meth:`~bayescale.likelihood.NoiseDraws.predictive`). By default the points are
    finished runs; ``inputs`` gives their conditions instead, for a law that reads them
    (:meth:`bayescale.laws.Law.log_loss_at`), such as checkpoints of a schedule.
    ``offsets``, ``(chain, draw, point)`` or broadcast to it, are the log-loss offsets of
    fitted runs the points belong to (:mod:`bayescale.curves`): the mean then includes
    them, and the predictive draws add a checkpoint's own noise only. A heavy-tailed
    (Student-t, small ν) predictive draw whose loss lies beyond the float range is ``inf``
    (or ``0`` below it), as the draw is; intervals keep it (:func:`bayescale.draws.quantile`)."""
    SEED.check(seed, "seed", "seed=0")
    theta3, error, x64 = _prepare(law, theta, error)
    n, d = positive_pairs(n, d, "n (parameters)", "d (tokens)", "n=7e9, d=1.4e11")
    mu = _log_mean(law, theta3, error, x64, n, d, inputs)
    if offsets is not None:
        mu = mu + np.broadcast_to(offsets, mu.shape)
    dims = (*SAMPLE_DIMS, "point")
    variables = {"loss_mean": (dims, np.exp(mu), {"units": "nats/token"})}
    if noise is not None:
        draws = noise.predictive(np.random.default_rng(seed), mu.shape, offsets is not None)
        with np.errstate(over="ignore"):  # a Student-t draw past float range: inf, honestly
            predictive = np.exp(mu + draws)
        variables["loss_predictive"] = (dims, predictive, {"units": "nats/token"})
    ds = xr.Dataset(
        variables,
        coords={
            **_coords(theta3),
            "point": np.arange(n.size),
            "n_params": ("point", n),
            "n_tokens": ("point", d),
        },
    )
    warn_if_extrapolating(error.fitted, **answer_log_values(ds))
    return Draws(ds)


def _log_mean(law: Law, theta3: Mapping, error: Discrepancy, x64: bool, n, d, inputs):
    """``log L(n, d) + δ(n, d)`` per draw, ``(chain, draw, *n.shape)``: the law at points
    ``(n, d)`` (under ``inputs`` where given) with its error outside the fitted runs."""
    with jax.enable_x64(x64):
        mu = _log_loss_blocks(law, theta3, np.log(n).ravel(), np.log(d).ravel(), inputs)
    mu = mu.reshape(*mu.shape[:2], *n.shape)
    return mu + log_error(error.slope[..., None], error.region.edges, np.log(n), np.log(d))


INPUT_BLOCK = 20_000_000
"""The most numbers one evaluation of a law at per-point inputs may broadcast to (draws ×
the inputs' size, such as points × a schedule's knots): 160 MB in float64."""


def _log_loss_blocks(law: Law, theta3: Mapping, log_n, log_d, inputs) -> np.ndarray:
    """``law.log_loss_at`` at points ``(point,)`` per draw, ``(chain, draw, point)``; with
    ``inputs``, a block of draws at a time of at most ``INPUT_BLOCK`` numbers (the inputs
    may hold per-point and per-row arrays, so they are not split)."""
    log_n, log_d = log_n[None, None], log_d[None, None]
    if not inputs:
        return np.asarray(law.log_loss(theta3, log_n, log_d))
    chains, draws = np.shape(next(iter(theta3.values())))[:2]
    size = sum(np.size(v) for v in inputs.values())
    block = max(1, INPUT_BLOCK // max(1, size))
    rows = [
        np.asarray(
            law.log_loss_at(
                {k: v[c : c + 1, i : i + block] for k, v in theta3.items()},
                log_n,
                log_d,
                inputs,
            )
        )
        for c in range(chains)
        for i in range(0, draws, block)
    ]
    per_chain = len(rows) // chains
    return np.concatenate(
        [np.concatenate(rows[c * per_chain : (c + 1) * per_chain], axis=1) for c in range(chains)],
        axis=0,
    )


def excess_compute(
    law: Law, theta: Mapping, ratio, budget: float, error: Discrepancy | None = None
) -> Draws:
    """Compute and tokens needed by a model of size ``ratio × N_opt`` to reach the optimal
    loss at ``budget``, relative to the optimal allocation, per draw.

    Returns ``compute_ratio`` (``C/C_opt``) and ``tokens_ratio`` (``D/D_opt``, steps at a
    fixed batch size) with dims ``(chain, draw, ratio)``; ``inf`` marks draws where that
    size can never reach the loss, and a :class:`PlanningWarning` says how often.
    """
    theta3, error, x64 = _prepare(law, theta, error)
    x = as_positive(ratio, "ratio (N / N_opt)", "ratio=[0.5, 1, 2]")
    log_c = np.log([one_positive(budget, "budget (FLOPs)", "budget=1e22")])
    with jax.enable_x64(x64):
        tokens_ratio = np.asarray(
            _excess_kernel(
                law.optimum,
                law.log_loss,
                law.excess,
                theta3,
                log_c[None, None],
                np.log(x)[None, None],
            )
        )
    tokens_ratio = np.broadcast_to(tokens_ratio, (*tokens_ratio.shape[:2], x.size))
    dims = (*SAMPLE_DIMS, "ratio")
    ds = xr.Dataset(
        {
            "compute_ratio": (dims, x * tokens_ratio, {"units": "C / C_opt"}),
            "tokens_ratio": (dims, tokens_ratio, {"units": "D / D_opt"}),
        },
        coords={**_coords(theta3), "ratio": x},
        attrs={"budget": float(np.exp(log_c[0]))},
    )
    ds["ratio"].attrs["units"] = "N / N_opt"
    warn_if_extrapolating(error.fitted, **answer_log_values(ds))
    unreachable = np.isinf(tokens_ratio).mean(axis=(0, 1))
    if unreachable.any():
        worst = ", ".join(
            f"{r:g}× ({percent(u)} of draws)" for r, u in zip(x, unreachable, strict=True) if u
        )
        warnings.warn(
            f"sizes that can never reach the optimal loss at {ds.attrs['budget']:.3g}"
            f" FLOPs: {worst}; their ratios are inf.",
            PlanningWarning,
            stacklevel=3,
        )
    return Draws(ds)


def _crossing(log_x, values, level, first: bool):
    """Per row, the ``log_x`` where ``values`` first (or last) comes within ``level``,
    interpolated linearly between grid points (NaN if it never does)."""
    inside = values <= level
    if not first:
        log_x, values, inside = log_x[::-1], values[..., ::-1], inside[..., ::-1]
    i = np.argmax(inside, axis=-1)
    prev = np.maximum(i - 1, 0)
    x0, x1 = log_x[prev], log_x[i]
    v0 = np.take_along_axis(values, prev[..., None], -1)[..., 0]
    v1 = np.take_along_axis(values, i[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(np.isfinite(v0) & (i > 0), (v0 - level) / (v0 - v1), 1.0)
    return np.where(inside.any(-1), x0 + np.clip(t, 0.0, 1.0) * (x1 - x0), np.nan)


def efficient_range(
    law: Law,
    theta: Mapping,
    budget: float,
    tolerance: float = 0.2,
    error: Discrepancy | None = None,
) -> Draws:
    """Per draw, the smallest and largest ``N / N_opt`` whose compute stays within
    ``1 + tolerance`` of optimal at ``budget`` (``tolerance > 0``): excess compute on a log
    grid of 121 ratios in ``EFFICIENT_GRID``, crossings interpolated in log ratio. Where an
    end lies beyond the grid it is the grid's edge, and a :class:`PlanningWarning` says in
    how many draws."""
    budget = one_positive(budget, "budget (FLOPs)", "budget=1e22")
    tolerance = one_positive(
        tolerance, "tolerance", "tolerance=0.2 for sizes within +20% of the optimal compute"
    )
    grid = np.geomspace(*EFFICIENT_GRID, 121)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlanningWarning)  # far sizes are inf: outside anyway
        excess = excess_compute(law, theta, grid, budget, error)
    ratio = excess["compute_ratio"].values
    log_grid = np.log(grid)
    ends = {
        "low": np.exp(_crossing(log_grid, ratio, 1 + tolerance, first=True)),
        "high": np.exp(_crossing(log_grid, ratio, 1 + tolerance, first=False)),
    }
    edges = {"low": (0, EFFICIENT_GRID[0]), "high": (-1, EFFICIENT_GRID[1])}
    clipped = [
        f"{name} at {edge:g}× N_opt in {percent(share)} of draws"
        for name, (i, edge) in edges.items()
        if (share := float(np.mean(ratio[..., i] <= 1 + tolerance)))
    ]
    if clipped:
        warnings.warn(
            f"with tolerance={tolerance:g} the efficient range at {budget:.3g} FLOPs reaches "
            f"beyond the sizes searched ({EFFICIENT_GRID[0]:g}× to {EFFICIENT_GRID[1]:g}× "
            f"N_opt): {', '.join(clipped)} is the grid's edge, not the range's end. Pass a "
            "smaller tolerance.",
            PlanningWarning,
            stacklevel=3,
        )
    ds = xr.Dataset(
        {name: (SAMPLE_DIMS, values, {"units": "N / N_opt"}) for name, values in ends.items()},
        coords={dim: excess.dataset[dim] for dim in SAMPLE_DIMS},
        attrs={"budget": budget, "tolerance": tolerance},
    )
    return Draws(ds)


def compute_to_reach(law: Law, theta: Mapping, loss, error: Discrepancy | None = None) -> Draws:
    """Per draw, the least FLOPs whose optimal allocation reaches ``loss`` (nats), with the
    law's error outside the fitted runs (:mod:`bayescale.discrepancy`), and that
    allocation's ``n_opt`` and ``d_opt``, searched over ``LOG_C_RANGE``; the coordinate
    ``loss_limit`` holds, per draw and target, the loss that explains a missed target
    (below), ``NaN`` where the draw reaches it.

    A target the search cannot answer is marked, and a :class:`PlanningWarning` per kind
    (:func:`warn_unreachable`) gives the share of draws and the losses that explain it:
    ``inf`` where the loss is below the lowest the prediction reaches (the law's floor, or
    the minimum of the loss widened by its extrapolation error), ``NaN`` where it is above
    the loss at the smallest budget searched (every budget searched reaches it; below that
    budget the optimal model would have under 1e3 parameters or 1e2 tokens, where
    :mod:`bayescale.optimum` does not search).
    """
    theta3, error, x64 = _prepare(law, theta, error)
    targets = as_positive(loss, "loss (nats/token)", "compute_to_reach(2.0)")
    with jax.enable_x64(x64):
        log_c, n_opt, d_opt, log_top, log_bottom = (
            np.array(v)
            for v in _reach_kernel(
                law.optimum,
                law.log_loss,
                theta3,
                np.log(targets)[None, None],
                error.slope[..., None],
                error.region.edges,
            )
        )
    above = ~np.isfinite(log_c) & (np.log(targets) > log_top)
    for values in (log_c, n_opt, d_opt):
        values[above] = np.nan
    log_limit = np.where(above, log_top, np.where(np.isinf(log_c), log_bottom, np.nan))
    dims = (*SAMPLE_DIMS, "target_loss")
    ds = xr.Dataset(
        {
            "compute": (dims, np.exp(log_c), {"units": "FLOPs"}),
            "n_opt": (dims, n_opt, {"units": "parameters"}),
            "d_opt": (dims, d_opt, {"units": "tokens"}),
        },
        coords={
            **_coords(theta3),
            "target_loss": targets,
            "loss_limit": (dims, np.exp(log_limit), {"units": "nats/token"}),
        },
    )
    reach = Draws(ds)
    warn_unreachable(reach, stacklevel=3)
    warn_if_extrapolating(error.fitted, **answer_log_values(ds))
    return reach


def compute_to_match(law: Law, theta: Mapping, n, d, error: Discrepancy | None = None) -> Draws:
    """Per draw, the least FLOPs whose compute-optimal run reaches the loss of a finished
    run of ``n`` parameters on ``d`` tokens, ``compute_opt``, and the run's excess compute
    ``compute_ratio = 6·n·d / compute_opt`` (Kaplan et al. 2020, Fig. 12, read from a run:
    1 at the optimum's shape, above 1 at any other), dims ``(chain, draw, point)``, a point
    per pair as :func:`predict_loss` pairs them.

    Both come from the law alone, as the allocations do (module docstring): its error
    outside the fitted runs widens loss predictions but prefers no shape, and read per
    draw it would make the predicted loss along the optimum's path rise again far out, so
    that a far run's loss would seem reached by a much smaller optimal one. Both are
    ``NaN`` where the run's loss lies above the loss at the smallest budget searched
    (:func:`compute_to_reach`), and a :class:`PlanningWarning` says how often.
    """
    theta3, error, x64 = _prepare(law, theta, error)
    n, d = positive_pairs(n, d, "n (parameters)", "d (tokens)", "n=7e9, d=1.4e11")
    n, d = n.ravel(), d.ravel()
    with jax.enable_x64(x64):
        log_target = _log_loss_blocks(law, theta3, np.log(n), np.log(d), None)
        log_c = np.array(
            _reach_kernel(
                law.optimum,
                law.log_loss,
                theta3,
                log_target,
                np.zeros_like(error.slope)[..., None],  # the law alone
                error.region.edges,
            )[0]
        )
    compute = np.where(np.isinf(log_c), np.nan, np.exp(log_c))
    dims = (*SAMPLE_DIMS, "point")
    ds = xr.Dataset(
        {
            "compute_opt": (dims, compute, {"units": "FLOPs"}),
            "compute_ratio": (dims, 6 * n * d / compute, {"units": "C / C_opt"}),
        },
        coords={
            **_coords(theta3),
            "point": np.arange(n.size),
            "n_params": ("point", n),
            "n_tokens": ("point", d),
        },
    )
    share = np.isnan(compute).mean(axis=(0, 1))
    if share.any():
        runs = "; ".join(
            f"{number(n[k])} parameters on {number(d[k])} tokens in {percent(share[k])} of draws"
            for k in np.flatnonzero(share)
        )
        warnings.warn(
            f"runs whose loss lies above the loss at the smallest budget searched "
            f"({number(math.exp(LOG_C_RANGE[0]))} FLOPs, where the optimal model has 1e3 "
            f"parameters): {runs}. Their compute_opt and compute_ratio are NaN.",
            PlanningWarning,
            stacklevel=3,
        )
    warn_if_extrapolating(error.fitted, **answer_log_values(ds))
    return Draws(ds)


def warn_unreachable(reach: Draws, stacklevel: int = 2) -> None:
    """One :class:`PlanningWarning` per kind of target that the :func:`compute_to_reach`
    draws ``reach`` miss, with the share of ``reach``'s draws that miss it and the median
    of their ``loss_limit``: ``NaN`` where the target lies above the loss at the smallest
    budget searched, ``inf`` where it lies below the lowest loss predicted (read from
    ``n_opt``, which stays finite in float32 where ``compute`` may not). Draws mixed from
    several posteriors (:class:`bayescale.Stack`) warn once, for the mixture.

    Parameters
    ----------
    reach
        draws of :func:`compute_to_reach`, with its coordinate ``loss_limit``.
    stacklevel
        as :func:`warnings.warn` takes it, counted from the caller of this function.
    """
    ds = reach.dataset
    dims = (*SAMPLE_DIMS, "target_loss")
    targets = ds["target_loss"].values
    n_opt = ds["n_opt"].transpose(*dims).values
    log_limit = np.log(ds["loss_limit"].transpose(*dims).values)
    above = np.isnan(n_opt) & ~np.isnan(log_limit)
    _warn_missed(targets, above, log_limit, "above", stacklevel + 2)
    _warn_missed(targets, np.isinf(n_opt), log_limit, "below", stacklevel + 2)


def _warn_missed(targets, missed, log_loss, side: str, stacklevel: int) -> None:
    """One :class:`PlanningWarning` for the targets that ``missed`` marks in some draws:
    ``side`` ``"above"`` the loss at the smallest budget searched, or ``"below"`` the lowest
    loss predicted; ``log_loss`` is that loss per draw and target."""
    share = missed.mean(axis=(0, 1))
    if not share.any():
        return
    low, high = (number(math.exp(edge)) for edge in LOG_C_RANGE)
    where = f"the loss at {low} FLOPs is" if side == "above" else "the lowest predicted loss is"
    parts = "; ".join(
        f"{target:g} nats in {percent(share[k])} of draws, where {where} "
        f"{number(float(np.exp(np.median(log_loss[..., k][missed[..., k]]))))} nats (median)"
        for k, target in enumerate(targets)
        if share[k]
    )
    if side == "above":
        message = (
            f"target losses above the loss at the smallest budget searched, {low} FLOPs: "
            f"{parts}. Less compute reaches them, but below that budget the optimal model "
            "would have under 1e3 parameters or 1e2 tokens, where the optimum is not "
            "searched: their compute, n_opt and d_opt are NaN. Targets are losses in nats "
            "per token; a perplexity P is a loss of ln P nats."
        )
    else:
        message = (
            f"target losses below the lowest loss the prediction reaches at any budget up to "
            f"{high} FLOPs (the law's floor, raised where its extrapolation error grows): "
            f"{parts}. No compute reaches them: their compute is inf."
        )
    warnings.warn(message, PlanningWarning, stacklevel=stacklevel)


def predict_curve(
    law: Law,
    theta: Mapping,
    n_params: float,
    schedule,
    tokens_per_step: float,
    steps=None,
    noise: NoiseDraws | None = None,
    error: Discrepancy | None = None,
    seed: int = 0,
    offset=None,
) -> Draws:
    """Draws of the loss curve of one run of ``n_params`` parameters under ``schedule`` (a
    :class:`bayescale.schedules.Schedule`) at ``steps`` (default: 200 steps spread evenly
    after warmup to the end), ``tokens_per_step`` tokens a step, for a law that reads
    schedules: :func:`predict_loss` at each checkpoint's conditions, with ``step`` as a
    coordinate. The predictive draws scatter each checkpoint independently, as a marginal
    band (one run's checkpoints share its offset). ``offset``, ``(chain, draw)``, is the
    log-loss offset of the fitted run this curve continues (``None``: a new run)."""
    if law.conditions is None or not law.conditions.reads_schedules:
        raise InputError(
            f"the {law.name} law does not read learning-rate schedules, so it predicts "
            "finished runs only (predict_loss); fit law='multipower' or 'annealing' to predict "
            "curves."
        )
    n_params = one_positive(n_params, "n_params (parameters)", "n_params=1e9")
    tokens_per_step = one_positive(tokens_per_step, "tokens_per_step", "tokens_per_step=2**19")
    if steps is None:
        steps = np.unique(np.linspace(schedule.warmup + 1, schedule.total, 200).round())
    steps = np.asarray(steps, dtype=np.int64)
    frame = pd.DataFrame(
        {
            "run": "query",
            "step": steps,
            "n_params": n_params,
            "n_tokens": steps * tokens_per_step,
            "schedule": json.dumps(schedule.to_dict()),
        }
    )
    draws = predict_loss(
        law,
        theta,
        frame["n_params"].to_numpy(float),
        frame["n_tokens"].to_numpy(float),
        noise,
        error,
        seed,
        inputs=law.conditions.inputs(frame),
        offsets=None
        if offset is None
        else np.repeat(np.asarray(offset)[..., None], len(steps), -1),
    )
    return Draws(draws.dataset.assign_coords(step=("point", steps)))
