r"""The usual non-Bayesian recipe, as a baseline: a Huber fit with L-BFGS plus a bootstrap.

This is Approach 3 of Hoffmann et al. 2022 (arXiv:2203.15556, Sec. 3.3) as
Besiroglu et al. 2024 redid it in their Chinchilla replication (arXiv:2404.10102). The
Chinchilla law

.. math::

    \log \hat L(N, D; θ) = \operatorname{logsumexp}(e,\; a - α \log N,\; b - β \log D),
    \qquad θ = (e, a, α, b, β),\ E = \exp(e),\ A = \exp(a),\ B = \exp(b),

is fitted by minimising the Huber loss of the log-loss residuals,

.. math::

    \hat θ = \arg\min_θ \sum_i w_i\,
        \mathrm{Huber}_δ\big(\log \hat L(N_i, D_i; θ) - \log L_i\big),
    \qquad
    \mathrm{Huber}_δ(r) = \begin{cases} r^2/2 & |r| \le δ \\ δ(|r| - δ/2) & |r| > δ,
    \end{cases}

with ``δ = 1e-3`` (:data:`DELTA`) and ``w_i = 1``. The minimiser is L-BFGS-B (scipy, no
bounds, i.e. plain L-BFGS; analytic gradient) started from every point of Hoffmann's
grid (:data:`HOFFMANN_GRID`: ``e ∈ {−1, −0.5, …, 1}``, ``a, b ∈ {0, 5, …, 25}``,
``α, β ∈ {0, 0.5, …, 2}``, 4,500 starts); the start with the lowest final objective
wins. Running L-BFGS-B from all 4,500 starts makes a fit take minutes (timings:
``docs/performance.md``, "Figures formerly quoted in docstrings"), so by default the
objective is first evaluated at every grid point at once (vectorised) and L-BFGS-B
runs from the :data:`TOP_STARTS` = 100 grid points with the lowest objective;
``top=None`` runs from every start, Hoffmann's recipe exactly. On
Besiroglu et al.'s 240 points a third of all 4,500 starts (46 of the 100 screened ones,
all of the best 10) end in the best minimum; most others stop in a worse one at about
11 times its objective. The screened and the full search find the same minimum (their
objectives agree to 1e-15 relative; ``docs/calibration/backtest.py --full-grid`` checks it).

The objective handed to the optimiser is divided by δ. This changes neither the minimiser
nor the recipe, only the scale that the optimiser's stopping tolerances see: with
``δ = 1e-3`` the raw sum is of order 1e-3, and scipy's default ``ftol`` (relative to
``max(|f|, 1)``) then stops well before the minimum. On Besiroglu et al.'s 240 points the
fit gives ``E = 1.817, A = 478, B = 2140, α = 0.3473, β = 0.3672``; their printed values
(``E = 1.82, A = 482, B = 2085, α = 0.348, β = 0.366``) are rounded, and the objective at
them is higher than at this fit.

Bootstrap (as Besiroglu et al. 2024 do for their intervals): resample the points with
replacement (the weights ``w_i`` become multinomial counts), refit from the full-data
optimum, repeat ``B`` times (:data:`N_BOOT`). For training curves the resampled unit is
the run (all checkpoints of a drawn run enter together), since checkpoints of one run are
not independent. The replicates give two predictive distributions for a new point:

``bootstrap``
    the spread of the law's prediction ``log \hat L(N, D; θ_b)`` over replicates. This is
    what is usually reported (e.g. Besiroglu et al.'s intervals on N_opt and the loss
    surface), but it is a confidence band for the law's *mean*: it ignores the scatter of
    an individual run around the law (seeds, evaluation noise), so it is too narrow as an
    interval for a measured loss.
``bootstrap + noise``
    the same, plus observation noise: each replicate's prediction plus ``ε ~ Normal(0,
    s_b)`` on log loss, with ``s_b`` the robust residual scale of replicate ``b``
    (``1.4826 · MAD`` of its residuals times ``sqrt(n / (n − 5))`` for the five fitted
    parameters). MAD rather than RMS because the Huber fit lets outliers lie far out.

Failed fits are said, not hidden (a :class:`~bayescale.errors.ConvergenceWarning`, kept
on ``HuberFit.warnings``): L-BFGS-B stopping short of a minimum from the winning start
(iteration limit or line-search failure), and a degenerate minimum, where a term of the
law carries under :data:`TERM_SHARE_MIN` of the fitted loss ``L̂`` at every point
(``max_i E/L̂_i``, ``max_i (A/N_i^α)/L̂_i`` or ``max_i (B/D_i^β)/L̂_i``: the data do not
see that term, and its constants trade against the others), or an exponent lies at or
beyond the edge of Hoffmann's grid, ``0 < α, β < 2``. On sweeps that do not separate the
terms (one token count per size, or a fixed ratio ``D/N``) such minima win: for example
``E = 10⁻⁶`` after 1,800 iterations, or ``β`` left at its start of 2. The bootstrap counts
its replicates that end so.

Only the Chinchilla law is implemented; everything is numpy and scipy.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

from bayescale.errors import ConvergenceWarning, InputError, InputTypeError
from bayescale.sweep import Sweep

PARAMS = ("e", "a", "alpha", "b", "beta")  # the order of bayescale's chinchilla law
DELTA = 1e-3
N_BOOT = 200
#: Hoffmann et al. 2022's initialisation grid (as used by Besiroglu et al. 2024).
HOFFMANN_GRID = MappingProxyType(
    {
        "e": (-1.0, -0.5, 0.0, 0.5, 1.0),
        "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
        "alpha": (0.0, 0.5, 1.0, 1.5, 2.0),
        "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
        "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
    }
)
#: L-BFGS-B settings: tight tolerances on the δ-scaled objective (see the module docstring).
OPTIONS = MappingProxyType({"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9, "maxcor": 20})
#: scipy's L-BFGS-B status when the line search finds no decrease (ABNORMAL_TERMINATION).
NO_DECREASE = 2
MAD_TO_SD = 1.4826
TOP_STARTS = 100
TERM_SHARE_MIN = 0.1  # a term below this share of the fitted loss at every point is unseen
EXPONENT_RANGE = (0.0, 2.0)  # the span of Hoffmann's grid in α and β


def grid_starts(grid: Mapping | None = None) -> np.ndarray:
    """All combinations of a grid (default :data:`HOFFMANN_GRID`) as ``(starts, 5)`` in
    :data:`PARAMS` order."""
    grid = HOFFMANN_GRID if grid is None else grid
    missing = [p for p in PARAMS if p not in grid]
    if missing:
        raise InputError(f"the start grid lacks {missing}; give values for each of {list(PARAMS)}.")
    return np.array(list(itertools.product(*(np.atleast_1d(grid[p]) for p in PARAMS))), float)


def log_law(theta: np.ndarray, log_n, log_d) -> np.ndarray:
    """``log L`` of the Chinchilla law; ``theta[..., k]`` in :data:`PARAMS` order, the data
    broadcasting against ``theta[..., 0]``."""
    e, a, alpha, b, beta = np.moveaxis(np.asarray(theta, float), -1, 0)
    terms = np.stack(np.broadcast_arrays(e, a - alpha * log_n, b - beta * log_d))
    return logsumexp(terms, axis=0)


def _objective(theta, log_n, log_d, log_loss, weights, delta):
    """Σ w·Huber_δ(r)/δ and its gradient."""
    e, a, alpha, b, beta = theta
    terms = np.stack([np.full_like(log_n, e), a - alpha * log_n, b - beta * log_d])
    top = terms.max(axis=0)
    expd = np.exp(terms - top)
    total = expd.sum(axis=0)
    r = top + np.log(total) - log_loss
    soft = expd / total
    small = np.abs(r) <= delta
    value = np.where(small, 0.5 * r * r, delta * (np.abs(r) - 0.5 * delta)) / delta
    psi = weights * np.clip(r, -delta, delta) / delta
    grad = np.array(
        [
            psi @ soft[0],
            psi @ soft[1],
            -(psi * log_n) @ soft[1],
            psi @ soft[2],
            -(psi * log_d) @ soft[2],
        ]
    )
    return float(weights @ value), grad


def _minimise(start, log_n, log_d, log_loss, weights, delta):
    """L-BFGS-B from ``start``. A stop because the line search found no decrease (status
    :data:`NO_DECREASE`, common within float64 resolution of a minimum, and whether it
    happens there depends on the machine's rounding) is restarted once from where it
    stopped; a restart that gains no more than ``ftol`` of the objective, the test by which
    L-BFGS-B itself converges, makes it a converged stop."""

    def run(x0):
        return minimize(
            _objective,
            x0,
            args=(log_n, log_d, log_loss, weights, delta),
            jac=True,
            method="L-BFGS-B",
            options=dict(OPTIONS),
        )

    result = run(start)
    if result.status != NO_DECREASE:
        return result
    again = run(result.x)
    gain = result.fun - again.fun
    if again.status == NO_DECREASE and gain <= OPTIONS["ftol"] * max(abs(result.fun), 1.0):
        again.success = True
        again.message = "converged: restarted where the line search found no decrease, no gain"
    return again


def _problems(theta: np.ndarray, result, data: dict) -> list[str]:
    """What is wrong with the minimum ``theta`` that ``result`` (scipy's) reached: L-BFGS-B
    stopping short, a term unseen in the data, an exponent at the grid's edge (module
    docstring). Empty for a proper fit."""
    out = []
    if not result.success:
        out.append(
            f"L-BFGS-B stopped short of a minimum after {result.nit} iterations ({result.message})"
        )
    e, a, alpha, b, beta = theta
    log_fit = log_law(theta, data["log_n"], data["log_d"])
    terms = {
        "E": np.full_like(log_fit, e),
        "A/N^alpha": a - alpha * data["log_n"],
        "B/D^beta": b - beta * data["log_d"],
    }
    for name, log_term in terms.items():
        share = float(np.exp(np.max(log_term - log_fit)))
        if share < TERM_SHARE_MIN:
            out.append(f"{name} is at most {share:.2g} of the fitted loss at any point")
    low, high = EXPONENT_RANGE
    for name, value in (("alpha", alpha), ("beta", beta)):
        if not low < value < high:
            out.append(
                f"{name} = {value:.3g} lies at or beyond the grid's edge ({low:g}, {high:g})"
            )
    return out


def _robust_scale(residuals: np.ndarray, n_params: int = len(PARAMS)) -> float:
    n = residuals.size
    mad = np.median(np.abs(residuals - np.median(residuals)))
    return float(MAD_TO_SD * mad * np.sqrt(n / max(n - n_params, 1)))


def _arrays(sweep: Sweep, group: str | None) -> dict[str, np.ndarray]:
    if not isinstance(sweep, Sweep):
        raise InputTypeError(
            f"expected a bayescale.Sweep, got {type(sweep).__name__}; build one "
            "with bs.Sweep.from_frame(df, ...)."
        )
    frame = sweep.fit_frame
    if group is not None:
        if group not in sweep.groups:
            raise InputError(
                f"no group {group!r} among the fitted rows; groups are {sweep.groups}."
            )
        frame = frame[frame["group"] == group]
    if len(frame) <= len(PARAMS):
        raise InputError(
            f"the Huber fit needs more than {len(PARAMS)} points (one per "
            f"parameter); got {len(frame)}"
            f"{f' in group {group!r}' if group is not None else ''}."
        )
    out = {
        "log_n": np.log(frame["n_params"].to_numpy(float)),
        "log_d": np.log(frame["n_tokens"].to_numpy(float)),
        "log_loss": np.log(frame["loss"].to_numpy(float)),
    }
    curves = "run" in frame.columns and frame["run"].duplicated().any()
    out["cluster"] = (
        np.unique(frame["run"].astype(str).to_numpy(), return_inverse=True)[1]
        if curves
        else np.arange(len(frame))
    )
    return out


@dataclass(frozen=True)
class HuberFit:
    """The Huber / L-BFGS point estimate of the Chinchilla law (Hoffmann's Approach 3)."""

    params: Mapping[str, float]
    objective: float
    scale: float
    n_points: int
    delta: float
    starts: int
    warnings: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def theta(self) -> np.ndarray:
        return np.array([self.params[p] for p in PARAMS])

    @property
    def constants(self) -> dict[str, float]:
        """``E, A, B, alpha, beta`` on their natural scale, as papers print them."""
        p = self.params
        return {
            "E": float(np.exp(p["e"])),
            "A": float(np.exp(p["a"])),
            "B": float(np.exp(p["b"])),
            "alpha": p["alpha"],
            "beta": p["beta"],
        }

    def log_loss(self, n, d) -> np.ndarray:
        """``log L̂(n, d)`` at the point estimate."""
        return log_law(self.theta, np.log(np.asarray(n, float)), np.log(np.asarray(d, float)))

    def __repr__(self) -> str:
        c = self.constants
        return (
            f"HuberFit(E={c['E']:.4g}, A={c['A']:.4g}, B={c['B']:.4g}, "
            f"alpha={c['alpha']:.4g}, beta={c['beta']:.4g}; {self.n_points} points, "
            f"{self.starts} starts)"
        )


def _screen(data: dict, delta: float, starts: np.ndarray, top: int | None) -> np.ndarray:
    """The ``top`` starts with the lowest Huber objective, evaluated all at once."""
    if top is None or top >= len(starts):
        return starts
    if top < 1:
        raise InputError(f"top must be a positive number of starts or None, got {top!r}.")
    r = log_law(starts[:, None, :], data["log_n"][None], data["log_d"][None]) - data["log_loss"]
    value = np.where(np.abs(r) <= delta, 0.5 * r * r, delta * (np.abs(r) - 0.5 * delta)).sum(1)
    value = np.where(np.isfinite(value), value, np.inf)
    return starts[np.argsort(value, kind="stable")[:top]]


def _fit(data: dict, delta: float, starts: np.ndarray, weights=None):
    """``(θ, objective, problems)`` of the best minimum over ``starts`` (:func:`_problems`)."""
    weights = np.ones_like(data["log_n"]) if weights is None else weights
    best = None
    for start in starts:
        result = _minimise(start, data["log_n"], data["log_d"], data["log_loss"], weights, delta)
        finite = np.isfinite(result.fun) and np.all(np.isfinite(result.x))
        if finite and (best is None or result.fun < best.fun):
            best = result
    if best is None:
        raise RuntimeError(
            "every L-BFGS start failed (non-finite objective); check the sweep for extreme values."
        )
    return best.x, float(best.fun) * delta, _problems(best.x, best, data)


def fit_huber(
    sweep: Sweep,
    *,
    group: str | None = None,
    delta: float = DELTA,
    grid: Mapping | None = None,
    top: int | None = TOP_STARTS,
) -> HuberFit:
    """Fit the Chinchilla law to ``sweep``'s fitted rows (of one ``group`` if given) by
    Huber loss and L-BFGS-B from the ``top`` best starts of ``grid`` (default Hoffmann's
    4,500; ``top=None``: from every start). A failed fit warns (module docstring)."""
    data = _arrays(sweep, group)
    starts = _screen(data, delta, grid_starts(grid), top)
    theta, value, problems = _fit(data, delta, starts)
    residuals = log_law(theta, data["log_n"], data["log_d"]) - data["log_loss"]
    fit = HuberFit(
        params=dict(zip(PARAMS, map(float, theta), strict=True)),
        objective=value,
        scale=_robust_scale(residuals),
        n_points=len(residuals),
        delta=delta,
        starts=len(starts),
    )
    if problems:
        message = (
            f"the Huber fit{f' of group {group!r}' if group is not None else ''} failed: "
            f"{'; '.join(problems)} ({fit!r}). Its point estimate and bootstrap intervals "
            "mean little. The sweep may not separate the law's terms: add runs that vary N "
            "and D independently (several token counts per size), or use the Bayesian fit "
            "(bs.fit), whose priors keep each term in range."
        )
        warnings.warn(message, ConvergenceWarning, stacklevel=2)
        fit = replace(fit, warnings=(message,))
    return fit


@dataclass(frozen=True)
class Bootstrap:
    """Bootstrap replicates of the Huber fit. ``params[p]`` has shape ``(B,)``; ``scale`` is
    each replicate's robust residual scale of log loss."""

    fit: HuberFit
    params: Mapping[str, np.ndarray]
    scale: np.ndarray
    unit: str
    seed: int

    def __post_init__(self):
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def __repr__(self) -> str:
        return (
            f"Bootstrap({self.scale.size} replicates resampling {self.unit}; "
            f"full-data fit {self.fit!r})"
        )

    @property
    def theta(self) -> np.ndarray:
        return np.stack([self.params[p] for p in PARAMS], axis=-1)

    def log_mean(self, n, d) -> np.ndarray:
        """The law's ``log L`` per replicate at points ``(n, d)``: shape ``(B, points)``."""
        log_n = np.log(np.atleast_1d(np.asarray(n, float)))
        log_d = np.log(np.atleast_1d(np.asarray(d, float)))
        return log_law(self.theta[:, None, :], log_n[None], log_d[None])

    def draws(
        self, n, d, noise: bool = False, per_replicate: int = 20, seed: int | None = None
    ) -> np.ndarray:
        """Predictive draws of the loss at ``(n, d)``, shape ``(samples, points)``.

        ``noise=False``: one draw per replicate, the law's prediction (``B`` samples).
        ``noise=True``: ``per_replicate`` draws per replicate with ``Normal(0, s_b)`` added
        on log loss (``B · per_replicate`` samples); ``seed`` defaults to the bootstrap's.
        """
        mu = self.log_mean(n, d)
        if not noise:
            return np.exp(mu)
        rng = np.random.default_rng(self.seed + 1 if seed is None else seed)
        eps = rng.standard_normal((mu.shape[0], per_replicate, mu.shape[1]))
        out = mu[:, None, :] + self.scale[:, None, None] * eps
        return np.exp(out.reshape(-1, mu.shape[1]))


def bootstrap(
    sweep: Sweep,
    *,
    group: str | None = None,
    n_boot: int = N_BOOT,
    delta: float = DELTA,
    grid: Mapping | None = None,
    top: int | None = TOP_STARTS,
    seed: int = 0,
    fit: HuberFit | None = None,
) -> Bootstrap:
    """Bootstrap the Huber fit: ``n_boot`` resamples of the points (of the runs, for
    training curves) with replacement, each refitted from the full-data optimum (``fit``,
    computed with :func:`fit_huber` when not given)."""
    if n_boot < 2:
        raise InputError(f"n_boot must be at least 2, got {n_boot!r}; e.g. n_boot=200.")
    data = _arrays(sweep, group)
    fit = fit_huber(sweep, group=group, delta=delta, grid=grid, top=top) if fit is None else fit
    rng = np.random.default_rng(seed)
    cluster = data["cluster"]
    n_clusters = int(cluster.max()) + 1
    thetas, scales = np.empty((n_boot, len(PARAMS))), np.empty(n_boot)
    failed = 0
    for i in range(n_boot):
        counts = rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters))
        weights = counts[cluster].astype(float)
        theta, _, problems = _fit(data, delta, fit.theta[None], weights=weights)
        failed += bool(problems)
        residuals = log_law(theta, data["log_n"], data["log_d"]) - data["log_loss"]
        thetas[i] = theta
        scales[i] = _robust_scale(np.repeat(residuals, weights.astype(int)))
    if failed:
        warnings.warn(
            f"{failed} of {n_boot} bootstrap replicates ended short of a minimum or "
            "degenerate (a term of the law unseen, or an exponent at the grid's edge; see "
            "bayescale.evaluation.baseline): the bootstrap intervals include those fits.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return Bootstrap(
        fit=fit,
        params={p: thetas[:, k] for k, p in enumerate(PARAMS)},
        scale=scales,
        unit="runs" if n_clusters < cluster.size else "points",
        seed=seed,
    )
