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
For the Kaplan step law the closed form of their App. B.4 is used instead:
``C/C_eff = x·[1 + (α_S/α_N)(1 − x^(−α_N))]^(−1/α_S)``,
``S/S_min = [1 + (α_S/α_N)(1 − x^(−α_N))]^(−1/α_S)``.

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

Each query is one compiled JAX kernel over (draws × query values), with the law's functions
as static arguments: it compiles once per law, dtype and shape, and the optimum, the
bisections and the exponentials run fused, with no intermediate array on the host. The
arrays it returns are read-only views of the kernel's output (no copy).
"""

from __future__ import annotations

import math
import warnings
from functools import partial
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from bayescale import discrepancy
from bayescale.draws import SAMPLE_DIMS, Draws
from bayescale.errors import ExtrapolationWarning, InputError, PlanningWarning
from bayescale.optimum import search

if TYPE_CHECKING:
    from bayescale.posterior import Posterior

EXTRAPOLATION_FACTOR = 100.0


BISECTION_STEPS = 60  # halves a 140-nat bracket to 1e-16: float64 resolution
SLOPE_STEP = 1e-2  # log C step of the central difference that locates the predicted minimum
LOG_D_RANGE = (0.0, 140.0)  # log tokens searched: 1 to 1e60 tokens
LOG_C_RANGE = (math.log(1e6), math.log(1e60))  # FLOPs searched


def as_positive(values, name: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.ndim != 1 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise InputError(f"{name} must be positive finite number(s), got {values!r}.")
    return arr


def warn_if_extrapolating(post: Posterior, log_compute: np.ndarray) -> None:
    """Warn when any query compute exceeds the fitted maximum by EXTRAPOLATION_FACTOR."""
    if np.size(log_compute) == 0:
        return
    fitted_max = post.meta["data"]["log_compute_range"][1]
    beyond = float(np.max(log_compute) - fitted_max)
    if beyond > math.log(EXTRAPOLATION_FACTOR):
        warnings.warn(
            f"extrapolating {math.exp(beyond):.3g}× beyond the largest fitted compute "
            f"({math.exp(fitted_max):.3g} FLOPs): intervals there rest on the law's form "
            "holding that far out.",
            ExtrapolationWarning,
            stacklevel=3,
        )


def derived(post: Posterior) -> dict[str, xr.DataArray]:
    """Interpretable functions of the parameters, per draw (for summaries and plots):
    the law's constants on their natural scale and the exponent of ``N_opt ∝ C^a``."""
    p = post.posterior
    if post.law.name == "chinchilla":
        return {"E": np.exp(p["e"]), "A": np.exp(p["a"]), "B": np.exp(p["b"]),
                "n_opt_exponent": p["beta"] / (p["alpha"] + p["beta"])}
    if post.law.name == "kaplan":
        return {"N_c": np.exp(p["log_nc"]), "D_c": np.exp(p["log_dc"]),
                "n_opt_exponent": p["alpha_d"] / (p["alpha_n"] + p["alpha_d"])}
    if post.law.name == "kaplan_steps":
        return {"N_c": np.exp(p["log_nc"]), "S_c": np.exp(p["log_sc"]),
                "n_opt_exponent": p["alpha_s"] / (p["alpha_n"] + p["alpha_s"])}
    return {}


def _x64(post: Posterior):
    return jax.enable_x64(post.posterior[post.law.params[0]].dtype == np.float64)


def _law_fns(post: Posterior) -> tuple:
    """The law's ``(optimum, log_loss)`` functions: the static (hashable) arguments of the
    compiled kernels below, so that each compiles once per law, dtype and shape."""
    return post.law.optimum, post.law.log_loss


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
    ``loss`` where it has one: for Chinchilla's law the kernel then takes 34–35 ms
    instead of 58–60 (fastest of 21 calls, 4000 draws × 1000 budgets, 2 cores), since
    the log-sum-exp of ``log_loss`` (its maximum, its log and the exponential back) costs
    more than the three exponentials of ``E + A/N^α + B/D^β``."""
    log_n, log_d = _allocation(optimum, log_loss, theta, log_c)
    log_error = discrepancy.log_error(slope, log_c, log_c_max)
    loss_opt = (jnp.exp(log_loss(theta, log_n, log_d) + log_error) if loss is None
                else loss(theta, log_n, log_d) * jnp.exp(log_error))
    return jnp.exp(log_n), jnp.exp(log_d), jnp.exp(log_d - log_n), loss_opt


@partial(jax.jit, static_argnums=(0, 1))
def _excess_kernel(optimum, log_loss, theta, log_c, log_x):
    """``D_x / D_opt`` per draw and ratio ``x = exp(log_x)``: ``log D_x`` solves
    ``log L(x·N_opt, D_x) = log L*`` by bisection in ``LOG_D_RANGE``; ``inf`` where even
    ``D = exp(LOG_D_RANGE[1])`` tokens stay above ``L*``."""
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
        return log_star + discrepancy.log_error(slope, lc, log_c_max)

    shape = jnp.broadcast_shapes(log_target.shape, slope.shape,
                                 *(v.shape for v in theta.values()))
    lo, hi = (jnp.full(shape, edge, log_target.dtype) for edge in LOG_C_RANGE)
    turn = bisect(lambda lc: predicted(lc + SLOPE_STEP) - predicted(lc - SLOPE_STEP), lo, hi)
    log_c = bisect(lambda lc: log_target - predicted(lc), lo, turn)
    log_n, log_d, _ = _optimum(optimum, log_loss, theta, log_c)
    reached = jnp.abs(predicted(log_c) - log_target) < 1e-6
    log_c, log_n, log_d = (jnp.where(reached, v, jnp.inf) for v in (log_c, log_n, log_d))
    return log_c, jnp.exp(log_n), jnp.exp(log_d)


def _sample_coords(post: Posterior) -> dict:
    return {dim: post.posterior[dim] for dim in SAMPLE_DIMS}


def _theta3(post: Posterior, group: str | None) -> dict:
    return {k: v[..., None] for k, v in post.theta(group).items()}


def _error_args(post: Posterior) -> tuple:
    """``(slope, log C_max)`` of the discrepancy, for broadcasting against ``(draws, values)``."""
    return discrepancy.slope(post)[..., None], post.meta["data"]["log_compute_range"][1]


def optimal(post: Posterior, compute, group: str | None = None) -> Draws:
    """Per-draw compute-optimal allocation at each budget in ``compute`` (FLOPs).

    For a per-group fit and ``group=None``: every fitted group, plus ``"new"`` (an unseen
    group from the population) under partial pooling, along a ``group`` dim."""
    if group is None and post.groups_fitted:
        names = post.groups_fitted + (["new"] if post.meta["pooling"] == "partial" else [])
        parts = [optimal(post, compute, g).dataset for g in names]
        return Draws(xr.concat(parts, dim=xr.DataArray(names, dims="group", name="group")))
    budgets = as_positive(compute, "compute (FLOPs)")
    log_c = np.log(budgets)
    warn_if_extrapolating(post, log_c)
    with _x64(post):
        n_opt, d_opt, ratio, loss = (np.asarray(v) for v in _optimal_kernel(
            *_law_fns(post), post.law.loss, _theta3(post, group), log_c[None, None],
            *_error_args(post)))
    dims = (*SAMPLE_DIMS, "budget")
    ds = xr.Dataset(
        {
            "n_opt": (dims, n_opt, {"units": "parameters"}),
            "d_opt": (dims, d_opt, {"units": "tokens"}),
            "tokens_per_param": (dims, ratio, {"units": "tokens/parameter"}),
            "loss_opt": (dims, loss, {"units": "nats/token"}),
        },
        coords={**_sample_coords(post), "budget": budgets},
    )
    ds["budget"].attrs["units"] = "FLOPs"
    return Draws(ds)


def predict_loss(post: Posterior, n, d, group: str | None = None, seed: int = 0) -> Draws:
    """Draws of the mean loss ``L(n, d)·e^{δ(C)}`` (the law with its error beyond the fitted
    compute) and of a new run's measured loss: with noise of scale σ, or for training
    curves ``sqrt(σ² + σ_run²)`` (a new run's offset and its checkpoint's noise,
    :mod:`bayescale.curves`), Normal or Student-t as the fit's likelihood."""
    n, d = np.broadcast_arrays(as_positive(n, "n (parameters)"), as_positive(d, "d (tokens)"))
    log_c = np.log(6.0 * n * d)
    warn_if_extrapolating(post, log_c)
    slope, log_c_max = _error_args(post)
    mu = post.log_mean(np.log(n), np.log(d), group=group)
    mu = mu + discrepancy.log_error(slope, log_c[None, None], log_c_max)
    sigma = discrepancy.new_run_scale(post)[..., None]
    rng = np.random.default_rng(seed)
    if post.meta["likelihood"] == "student_t":
        nu = np.broadcast_to(post.posterior["nu"].values[..., None], mu.shape)
        eps = rng.standard_t(nu)
    else:
        eps = rng.standard_normal(mu.shape)
    dims = (*SAMPLE_DIMS, "point")
    ds = xr.Dataset(
        {
            "loss_mean": (dims, np.exp(mu), {"units": "nats/token"}),
            "loss_predictive": (dims, np.exp(mu + sigma * eps), {"units": "nats/token"}),
        },
        coords={**_sample_coords(post), "point": np.arange(n.size),
                "n_params": ("point", n), "n_tokens": ("point", d)},
    )
    return Draws(ds)


def kaplan_excess(x, alpha_n, alpha_s):
    """Kaplan et al. 2020 App. B.4: ``(C/C_eff, S/S_min)`` at ``x = N/N_eff``; ``inf`` where
    the bracket is not positive (that size cannot reach the loss)."""
    inner = 1.0 + (alpha_s / alpha_n) * (1.0 - x ** (-alpha_n))
    steps = np.where(inner > 0, np.abs(inner) ** (-1.0 / alpha_s), np.inf)
    return x * steps, steps


def excess_compute(post: Posterior, ratio, budget: float, group: str | None = None) -> Draws:
    """Compute and tokens needed by a model of size ``ratio × N_opt`` to reach the optimal
    loss at ``budget``, relative to the optimal allocation, per draw.

    Returns ``compute_ratio`` (``C/C_opt``) and ``tokens_ratio`` (``D/D_opt``, steps at a
    fixed batch size) with dims ``(chain, draw, ratio)``; ``inf`` marks draws where that
    size can never reach the loss, and a :class:`PlanningWarning` says how often.
    """
    x = as_positive(ratio, "ratio (N / N_opt)")
    log_c = np.log(as_positive(budget, "budget (FLOPs)"))[:1]
    warn_if_extrapolating(post, log_c)
    theta = _theta3(post, group)
    if post.law.name == "kaplan_steps":
        compute_ratio, tokens_ratio = kaplan_excess(x, theta["alpha_n"], theta["alpha_s"])
    else:
        with _x64(post):
            tokens_ratio = np.asarray(_excess_kernel(*_law_fns(post), theta, log_c[None, None],
                                                     np.log(x)[None, None]))
        compute_ratio = x * tokens_ratio
    dims = (*SAMPLE_DIMS, "ratio")
    ds = xr.Dataset(
        {
            "compute_ratio": (dims, np.broadcast_to(compute_ratio, tokens_ratio.shape),
                              {"units": "C / C_opt"}),
            "tokens_ratio": (dims, tokens_ratio, {"units": "D / D_opt"}),
        },
        coords={**_sample_coords(post), "ratio": x},
        attrs={"budget": float(np.exp(log_c[0]))},
    )
    ds["ratio"].attrs["units"] = "N / N_opt"
    unreachable = np.isinf(tokens_ratio).mean(axis=(0, 1))
    if unreachable.any():
        worst = ", ".join(f"{r:g}× ({u:.0%} of draws)" for r, u in zip(x, unreachable) if u)
        warnings.warn(f"sizes that can never reach the optimal loss at {ds.attrs['budget']:.3g}"
                      f" FLOPs: {worst}; their ratios are inf.", PlanningWarning, stacklevel=3)
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


def efficient_range(post: Posterior, budget: float, tolerance: float = 0.2,
                    group: str | None = None) -> Draws:
    """Per draw, the smallest and largest ``N / N_opt`` whose compute stays within
    ``1 + tolerance`` of optimal at ``budget``: excess compute on a log grid of 121 ratios
    in [0.05, 20], crossings interpolated in log ratio."""
    grid = np.geomspace(0.05, 20.0, 121)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlanningWarning)  # far sizes are inf: outside anyway
        ratio = excess_compute(post, grid, budget, group)["compute_ratio"].values
    log_grid = np.log(grid)
    ds = xr.Dataset(
        {"low": (SAMPLE_DIMS, np.exp(_crossing(log_grid, ratio, 1 + tolerance, first=True)),
                 {"units": "N / N_opt"}),
         "high": (SAMPLE_DIMS, np.exp(_crossing(log_grid, ratio, 1 + tolerance, first=False)),
                  {"units": "N / N_opt"})},
        coords=_sample_coords(post),
        attrs={"budget": float(budget), "tolerance": tolerance},
    )
    return Draws(ds)


def compute_to_reach(post: Posterior, loss, group: str | None = None) -> Draws:
    """Per draw, the least FLOPs whose optimal allocation reaches ``loss`` (nats), with the
    law's error beyond the fitted compute (:mod:`bayescale.discrepancy`), and that
    allocation's ``n_opt`` and ``d_opt``; ``inf`` where no compute reaches the loss."""
    targets = as_positive(loss, "loss (nats/token)")
    with _x64(post):
        log_c, n_opt, d_opt = (np.asarray(v) for v in _reach_kernel(
            *_law_fns(post), _theta3(post, group), np.log(targets)[None, None],
            *_error_args(post)))
    reached = np.isfinite(log_c)
    dims = (*SAMPLE_DIMS, "target_loss")
    ds = xr.Dataset(
        {
            "compute": (dims, np.exp(log_c), {"units": "FLOPs"}),
            "n_opt": (dims, n_opt, {"units": "parameters"}),
            "d_opt": (dims, d_opt, {"units": "tokens"}),
        },
        coords={**_sample_coords(post), "target_loss": targets},
    )
    missed = ~reached.all(axis=(0, 1))
    if missed.any():
        share = 1 - reached.mean(axis=(0, 1))
        text = ", ".join(f"{t:g} nats ({u:.0%} of draws)" for t, u, m in
                         zip(targets, share, missed) if m)
        warnings.warn(f"target losses that no compute reaches in some draws (below the "
                      f"law's floor E, or beyond where the law's extrapolation error lets "
                      f"the loss fall): {text}; their compute is inf.", PlanningWarning,
                      stacklevel=3)
    warn_if_extrapolating(post, log_c[reached])
    return Draws(ds)
