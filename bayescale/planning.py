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

Loss predictions (``predict_loss``, ``loss_opt``) add the law's error beyond the fitted
compute, ``δ_s(C)`` of :mod:`bayescale.discrepancy`; allocations do not change, since δ is
constant in N at fixed compute.

Compute to reach a loss ``L_t``: the smallest ``C`` with ``L^*(C)·e^{δ(C)} = L_t``
(bisection in ``log C``), ``inf`` when no compute reaches ``L_t`` (at or below the law's
floor). ``log L^*`` is convex and decreasing in ``log C``, so with δ's slope added the
predicted loss falls to one minimum and, in draws whose δ grows, rises after it: the
bisection runs below that minimum, found first as the sign change of the slope (central
differences, by bisection).

Queries beyond ``EXTRAPOLATION_FACTOR`` times the largest fitted compute raise an
:class:`~bayescale.errors.ExtrapolationWarning` stating how far out they are.

Every function here takes a law, draws of its parameters (``{name: (chain, draw)
array}``), and the discrepancy (and, for predictions, the noise draws): whatever produced
the draws. :class:`~bayescale.Posterior`'s methods of the same names pass its own.

Each query is one compiled JAX kernel over (draws × query values), with the law's functions
as static arguments: it compiles once per law, dtype and shape, and the optimum, the
bisections and the exponentials run fused, with no intermediate array on the host. The
arrays it returns are read-only views of the kernel's output (no copy).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from bayescale.discrepancy import EXTRAPOLATION_FACTOR, Discrepancy, log_error
from bayescale.draws import SAMPLE_DIMS, Draws
from bayescale.errors import ExtrapolationWarning, InputError, PlanningWarning
from bayescale.laws import Law
from bayescale.likelihood import NoiseDraws
from bayescale.optimum import search

BISECTION_STEPS = 60  # halves a 140-nat bracket to 1e-16: float64 resolution
SLOPE_STEP = 1e-2  # log C step of the central difference that locates the predicted minimum
LOG_D_RANGE = (0.0, 140.0)  # log tokens searched: 1 to 1e60 tokens
LOG_C_RANGE = (math.log(1e6), math.log(1e60))  # FLOPs searched


def as_positive(values, name: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.ndim != 1 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise InputError(f"{name} must be positive finite number(s), got {values!r}.")
    return arr


def warn_if_extrapolating(error: Discrepancy, log_compute: np.ndarray) -> None:
    """Warn when any query compute exceeds the fitted maximum by EXTRAPOLATION_FACTOR."""
    if np.size(log_compute) == 0 or not math.isfinite(error.log_c_max):
        return
    beyond = float(np.max(log_compute) - error.log_c_max)
    if beyond > math.log(EXTRAPOLATION_FACTOR):
        warnings.warn(
            f"extrapolating {math.exp(beyond):.3g}× beyond the largest fitted compute "
            f"({math.exp(error.log_c_max):.3g} FLOPs): intervals there rest on the law's form "
            "holding that far out.",
            ExtrapolationWarning,
            stacklevel=4,
        )


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
def _optimal_kernel(optimum, log_loss, loss, theta, log_c, slope, log_c_max):
    """``(N_opt, D_opt, D_opt/N_opt, L*·e^δ)`` per draw and budget, in one compiled kernel
    (no intermediate array goes back to the host). ``L*`` is the law's linear-space
    ``loss`` where it has one, cheaper than the log-sum-exp of ``log_loss``."""
    log_n, log_d = _allocation(optimum, log_loss, theta, log_c)
    delta = log_error(slope, log_c, log_c_max)
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
def _reach_kernel(optimum, log_loss, theta, log_target, slope, log_c_max):
    """``(log C, N_opt, D_opt)`` per draw and target: the smallest ``log C`` in ``LOG_C_RANGE``
    with ``log L^*(C) + δ(C) = log L_t``, by bisection below the predicted loss's minimum;
    ``inf`` where the bisection ends more than ``1e-6`` away from ``L_t`` (no compute
    reaches the target)."""

    def predicted(lc):
        log_star = _optimum(optimum, log_loss, theta, lc)[2]
        return log_star + log_error(slope, lc, log_c_max)

    shape = jnp.broadcast_shapes(log_target.shape, slope.shape, *(v.shape for v in theta.values()))
    lo, hi = (jnp.full(shape, edge, log_target.dtype) for edge in LOG_C_RANGE)
    turn = bisect(lambda lc: predicted(lc + SLOPE_STEP) - predicted(lc - SLOPE_STEP), lo, hi)
    log_c = bisect(lambda lc: log_target - predicted(lc), lo, turn)
    log_n, log_d, _ = _optimum(optimum, log_loss, theta, log_c)
    reached = jnp.abs(predicted(log_c) - log_target) < 1e-6
    log_c, log_n, log_d = (jnp.where(reached, v, jnp.inf) for v in (log_c, log_n, log_d))
    return log_c, jnp.exp(log_n), jnp.exp(log_d)


def optimal(law: Law, theta: Mapping, compute, error: Discrepancy | None = None) -> Draws:
    """Per-draw compute-optimal allocation at each budget in ``compute`` (FLOPs): ``n_opt``,
    ``d_opt``, ``tokens_per_param`` and ``loss_opt`` (with the law's error beyond the
    fitted compute), dims ``(chain, draw, budget)``."""
    theta3, error, x64 = _prepare(law, theta, error)
    budgets = as_positive(compute, "compute (FLOPs)")
    log_c = np.log(budgets)
    warn_if_extrapolating(error, log_c)
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
                error.log_c_max,
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
    return Draws(ds)


def predict_loss(
    law: Law,
    theta: Mapping,
    n,
    d,
    noise: NoiseDraws | None = None,
    error: Discrepancy | None = None,
    seed: int = 0,
) -> Draws:
    """Draws of the mean loss ``L(n, d)·e^{δ(C)}`` (the law with its error beyond the fitted
    compute) and, given the ``noise`` draws, of a new run's measured loss
    (:meth:`~bayescale.likelihood.NoiseDraws.predictive`)."""
    theta3, error, x64 = _prepare(law, theta, error)
    n, d = np.broadcast_arrays(as_positive(n, "n (parameters)"), as_positive(d, "d (tokens)"))
    log_c = np.log(6.0 * n * d)
    warn_if_extrapolating(error, log_c)
    with jax.enable_x64(x64):
        mu = np.asarray(law.log_loss(theta3, np.log(n)[None, None], np.log(d)[None, None]))
    mu = mu + log_error(error.slope[..., None], log_c[None, None], error.log_c_max)
    dims = (*SAMPLE_DIMS, "point")
    variables = {"loss_mean": (dims, np.exp(mu), {"units": "nats/token"})}
    if noise is not None:
        draws = noise.predictive(np.random.default_rng(seed), mu.shape)
        variables["loss_predictive"] = (dims, np.exp(mu + draws), {"units": "nats/token"})
    ds = xr.Dataset(
        variables,
        coords={
            **_coords(theta3),
            "point": np.arange(n.size),
            "n_params": ("point", n),
            "n_tokens": ("point", d),
        },
    )
    return Draws(ds)


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
    x = as_positive(ratio, "ratio (N / N_opt)")
    log_c = np.log(as_positive(budget, "budget (FLOPs)"))[:1]
    warn_if_extrapolating(error, log_c)
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
    unreachable = np.isinf(tokens_ratio).mean(axis=(0, 1))
    if unreachable.any():
        worst = ", ".join(
            f"{r:g}× ({u:.0%} of draws)" for r, u in zip(x, unreachable, strict=True) if u
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
    ``1 + tolerance`` of optimal at ``budget``: excess compute on a log grid of 121 ratios
    in [0.05, 20], crossings interpolated in log ratio."""
    grid = np.geomspace(0.05, 20.0, 121)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlanningWarning)  # far sizes are inf: outside anyway
        excess = excess_compute(law, theta, grid, budget, error)
    ratio = excess["compute_ratio"].values
    log_grid = np.log(grid)
    ds = xr.Dataset(
        {
            "low": (
                SAMPLE_DIMS,
                np.exp(_crossing(log_grid, ratio, 1 + tolerance, first=True)),
                {"units": "N / N_opt"},
            ),
            "high": (
                SAMPLE_DIMS,
                np.exp(_crossing(log_grid, ratio, 1 + tolerance, first=False)),
                {"units": "N / N_opt"},
            ),
        },
        coords={dim: excess.dataset[dim] for dim in SAMPLE_DIMS},
        attrs={"budget": float(budget), "tolerance": tolerance},
    )
    return Draws(ds)


def compute_to_reach(law: Law, theta: Mapping, loss, error: Discrepancy | None = None) -> Draws:
    """Per draw, the least FLOPs whose optimal allocation reaches ``loss`` (nats), with the
    law's error beyond the fitted compute (:mod:`bayescale.discrepancy`), and that
    allocation's ``n_opt`` and ``d_opt``; ``inf`` where no compute reaches the loss."""
    theta3, error, x64 = _prepare(law, theta, error)
    targets = as_positive(loss, "loss (nats/token)")
    with jax.enable_x64(x64):
        log_c, n_opt, d_opt = (
            np.asarray(v)
            for v in _reach_kernel(
                law.optimum,
                law.log_loss,
                theta3,
                np.log(targets)[None, None],
                error.slope[..., None],
                error.log_c_max,
            )
        )
    reached = np.isfinite(log_c)
    dims = (*SAMPLE_DIMS, "target_loss")
    ds = xr.Dataset(
        {
            "compute": (dims, np.exp(log_c), {"units": "FLOPs"}),
            "n_opt": (dims, n_opt, {"units": "parameters"}),
            "d_opt": (dims, d_opt, {"units": "tokens"}),
        },
        coords={**_coords(theta3), "target_loss": targets},
    )
    missed = ~reached.all(axis=(0, 1))
    if missed.any():
        share = 1 - reached.mean(axis=(0, 1))
        text = ", ".join(
            f"{t:g} nats ({u:.0%} of draws)"
            for t, u, m in zip(targets, share, missed, strict=True)
            if m
        )
        warnings.warn(
            f"target losses that no compute reaches in some draws (below the "
            f"law's floor E, or beyond where the law's extrapolation error lets "
            f"the loss fall): {text}; their compute is inf.",
            PlanningWarning,
            stacklevel=3,
        )
    warn_if_extrapolating(error, log_c[reached])
    return Draws(ds)
