r"""The multi-power law (Luo et al. 2025, arXiv:2503.12811): loss curves that follow the
learning-rate schedule, extended in model size so that one law covers a ladder.

For a run of ``N`` parameters with learning rate ``η_i`` at step ``i``, the loss at step
``t`` is

.. math::

    L(t) = L_0(N) + A(N)\,(S_1(t) + S_W)^{-\alpha(N)} - B(N)\,LD(t),

    LD(t) = \sum_{k=1}^{t} (\eta_{k-1} - \eta_k)\,
            G\!\left(\eta_k^{-\gamma} S_k(t)\right),\qquad
    G(x) = 1 - (C x + 1)^{-\beta},

with ``S_1(t) + S_W = Σ_{i≤t} η_i`` and ``S_k(t) = Σ_{i=k}^{t} η_i``; the indexing and the
compression of the sum into knots are :mod:`bayescale.schedules`'. In model size, about
``N_0 = 10^8`` (``x = log(N/N_0)``):

.. math::

    L_0(N) = E + A_N e^{-\alpha_N x},\quad
    A(N) = e^{a + a_s x},\quad
    \alpha(N) = \alpha\, e^{\alpha_s x},\quad
    B(N) = e^{b + b_s x},

and ``C, β, γ`` shared: the authors' fits at 25M / 100M / 400M parameters give C = 2.07 /
2.13 / 2.02, β = 0.583 / 0.598 / 0.594, γ = 0.641 / 0.655 / 0.635, while α falls
monotonically, 0.508 / 0.453 / 0.429 (a shared α would misplace ``A S^{-α}`` at 25M by
0.6% of the loss at 24,000 steps, six times the fits' error), so α is log-linear in
``log N``. ``L_0`` = 3.040 / 2.651 / 2.375 is a power law with a floor
(``E ≈ 1.70``, ``A_N ≈ 0.95``, ``α_N ≈ 0.25`` through the three), ``log A`` and ``log B``
are close to linear in ``log N`` (slopes 0.06 and 0.13 an e-fold).

The law's parameters: ``e = log E``, ``u = log A_N``, ``alpha_n``, ``a``, ``a_slope``,
``alpha``, ``alpha_slope``, ``b``, ``b_slope``, ``c = C``, ``beta``, ``gamma``. ``A``,
``B`` and ``C`` carry learning-rate units (``S`` is a sum of learning rates): a sweep with a
peak learning rate ten times larger has ``A`` ``10^α`` times, ``B`` ten times and ``C``
``10^{1−γ}`` times smaller. ``log L`` is ``NaN`` where ``B·LD`` exceeds the rest (a
parameter draw that predicts a negative loss).

Observed points and finished runs
---------------------------------

The fit reads each checkpoint's schedule (:class:`~bayescale.laws.Conditions`,
:func:`multipower_inputs`): a ``schedule`` column (``Schedule.to_dict()`` as JSON, one
per run) or an ``lr`` column, with a ``step`` column. The decay sum depends on ``C, β,
γ`` and the schedule up to the checkpoint only, so checkpoints at the same step of the same
schedule (runs of different sizes) share it: the inputs hold the knots once per distinct
(schedule, step) row, and where ``C, β, γ`` are one value for all points (not per group)
the sum is computed once per row. Planning asks the finished-run form
``log_loss(θ, log N, log D)``: a run of the law's schedule family (its ``settings``) to
its end at ``T = D / tokens_per_step`` steps, by :func:`bayescale.schedules.run_features`.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd

from bayescale.laws.law import Conditions, Law, Theta
from bayescale.schedules import DEFAULT_KNOTS, Schedule, checkpoint_features, run_features
from bayescale.sweep_schedules import (
    DEFAULT_RUN,
    DEFAULT_TOKENS_PER_STEP,
    finished_run,
    implied_run,
    run_schedules,
)

N0 = 1e8
"""The reference model size, in parameters."""
LOG_N0 = math.log(N0)
DEFAULT_SETTINGS = DEFAULT_RUN
"""The finished run of the registered law (:data:`bayescale.sweep_schedules.DEFAULT_RUN`)."""


def decay_sums(theta: Theta, knot_log_lr, knot_drop, knot_log_area):
    r"""``Σ_j D_j G(C η_j^{-γ} S_j)`` over the knots (last axis), from ``log η_j``, ``D_j``
    and ``log S_j``: with ``z_j = log C − γ log η_j + log S_j``,
    ``G = 1 − (1 + e^{z})^{-β} = −expm1(−β·softplus(z))``, one exponential and two
    logarithm-like functions per knot, finite for any ``z``. ``θ`` broadcasts against the
    knots' leading axes."""
    z = (
        jnp.log(jnp.asarray(theta["c"]))[..., None]
        - jnp.asarray(theta["gamma"])[..., None] * knot_log_lr
        + knot_log_area
    )
    g = -jnp.expm1(-jnp.asarray(theta["beta"])[..., None] * jax.nn.softplus(z))
    return jnp.sum(knot_drop * g, axis=-1)


def size_terms(theta: Theta, x, lr_sum):
    """``L_0(N) + A(N)·S^{−α(N)}`` at ``x = log(N/N_0)`` and learning-rate sum ``S`` (module
    docstring): the law before its decay term, shared with the annealing law
    (:mod:`bayescale.laws.annealing`)."""
    floor = jnp.exp(jnp.logaddexp(theta["e"], theta["u"] - theta["alpha_n"] * x))
    alpha = theta["alpha"] * jnp.exp(theta["alpha_slope"] * x)
    return floor + jnp.exp(theta["a"] + theta["a_slope"] * x - alpha * jnp.log(lr_sum))


def _log_loss(theta: Theta, log_n, lr_sum, decay):
    """``log L`` from ``S_1 + S_W`` and the decay sum ``Σ_j D_j G_j``."""
    x = log_n - LOG_N0
    decay_term = jnp.exp(theta["b"] + theta["b_slope"] * x) * decay
    return jnp.log(size_terms(theta, x, lr_sum) - decay_term)


def _per_point(value) -> bool:
    """Whether a parameter takes its own value at each point (a per-group parameter spread
    over the points) rather than one value for all of them."""
    return jnp.shape(value)[-1:] not in ((), (1,))


def multipower_point_log_loss(
    theta: Theta, log_n, log_d, lr_sum, row, knot_log_lr, knot_drop, knot_log_area
):
    """``log L`` at checkpoints (the inputs of :func:`multipower_inputs`): ``S_1 + S_W``
    per point, and the knots of each distinct checkpoint row (schedule and step) that
    ``row`` indexes. Where ``C``, ``β`` and ``γ`` are the same at every point the decay sum
    is computed once per row and gathered, else per point from the gathered knots."""
    del log_d  # the schedule's sums carry the run's progress
    if any(_per_point(theta[p]) for p in ("c", "beta", "gamma")):
        decay = decay_sums(theta, knot_log_lr[row], knot_drop[row], knot_log_area[row])
    else:
        decay = decay_sums(theta, knot_log_lr, knot_drop, knot_log_area)[..., row]
    return _log_loss(theta, log_n, lr_sum, decay)


def multipower_run_log_loss(theta: Theta, log_n, log_d, *, schedule, tokens_per_step):
    """``log L`` of finished runs: ``schedule``'s family run to ``D / tokens_per_step``
    steps."""
    log_steps = jnp.asarray(log_d) - math.log(tokens_per_step)
    features = run_features(schedule, log_steps)
    decay = decay_sums(
        theta,
        jnp.log(features["knot_lr"]),
        features["knot_drop"],
        jnp.log(features["knot_area"]),
    )
    return _log_loss(theta, log_n, features["lr_sum"], decay)


def multipower_inputs(
    frame: pd.DataFrame, knots: int = DEFAULT_KNOTS, logged: pd.DataFrame | None = None
) -> dict:
    """The law's inputs at the fitted rows: per point ``lr_sum`` (``S_1 + S_W``) and
    ``row``, the index of its distinct (schedule, step) row; per row the knots of
    :func:`bayescale.schedules.checkpoint_features`, as ``knot_log_lr`` (``log η_j``),
    ``knot_drop`` and ``knot_log_area`` (``log S_j``), padded to a common width with zero
    drops. Runs of different sizes under the same schedule share their rows, so the decay
    sum, which depends on the schedule and the step only, is computed once for them.

    Columns read: ``step``, ``n_tokens`` (tokens per step must be constant within a run),
    ``run`` (each row is its own run without it) and either ``schedule`` (JSON of
    ``Schedule.to_dict()``, the same on every row of a run) or ``lr`` (the learning rate
    logged at each checkpoint, read by :func:`bayescale.schedules.from_logged`; ``logged``:
    more rows whose rates join each run's log, :func:`bayescale.sweep_schedules.run_schedules`).
    Problems raise :class:`~bayescale.errors.SweepValidationError` naming the column, rows
    and fix.
    """
    by_schedule: dict[Schedule, list] = {}
    for schedule, where, step, _ in run_schedules(frame, "multipower", logged).values():
        by_schedule.setdefault(schedule, []).append((where, step))
    lr_sum, row = np.empty(len(frame)), np.empty(len(frame), dtype=np.int64)
    tables, start = [], 0
    for schedule, runs in by_schedule.items():
        steps = np.unique(np.concatenate([step for _, step in runs]))
        features = checkpoint_features(schedule, steps, knots)
        for where, step in runs:
            index = np.searchsorted(steps, step)
            lr_sum[where] = features["lr_sum"][index]
            row[where] = start + index
        tables.append(features)
        start += steps.size
    width = max(t["knot_lr"].shape[1] for t in tables)

    def stack(name, fill, transform=lambda v: v):
        return np.concatenate(
            [
                np.pad(
                    transform(t[name]),
                    ((0, 0), (0, width - t[name].shape[1])),
                    constant_values=fill,
                )
                for t in tables
            ]
        )

    return {
        "lr_sum": lr_sum,
        "row": row,
        "knot_log_lr": stack("knot_lr", 0.0, np.log),
        "knot_drop": stack("knot_drop", 0.0),
        "knot_log_area": stack("knot_area", 0.0, np.log),
    }


def single_size_theta(l0, a, alpha, b, c, beta, gamma) -> dict:
    """The law's parameters that reproduce the authors' law of one size, ``L_0 + A (S_1 +
    S_W)^{-α} − B·LD`` with constants ``(L0, A, α, B, C, β, γ)``, at ``N = N_0``: every
    slope in ``log N`` zero and the floor's second term ``e^{-60}``, below float64
    resolution of ``L_0`` (so its exponent ``α_N``, 0.25 here, changes nothing)."""
    return {
        "e": math.log(l0),
        "u": -60.0,
        "alpha_n": 0.25,
        "a": math.log(a),
        "a_slope": 0.0,
        "alpha": alpha,
        "alpha_slope": 0.0,
        "b": math.log(b),
        "b_slope": 0.0,
        "c": c,
        "beta": beta,
        "gamma": gamma,
    }


def multipower_settings(frame: pd.DataFrame) -> dict:
    """The finished-run form the sweep implies (:func:`bayescale.sweep_schedules.implied_run`)."""
    return implied_run(frame, "multipower")


def multipower_law(schedule=None, tokens_per_step: float = DEFAULT_TOKENS_PER_STEP) -> Law:
    """The law whose finished runs follow ``schedule``'s family (a :class:`Schedule` or
    its ``to_dict()``; the default cosine recipe when ``None``) with ``tokens_per_step``
    tokens per optimiser step."""
    schedule, settings = finished_run(schedule, tokens_per_step)
    return Law(
        name="multipower",
        params=PARAMS,
        log_loss=partial(
            multipower_run_log_loss, schedule=schedule, tokens_per_step=settings["tokens_per_step"]
        ),
        priors=PRIORS,
        derived=multipower_derived,
        key_quantities=("E", "alpha", "alpha_n", "beta", "gamma"),
        labels=LABELS,
        group_scales=GROUP_SCALES,
        shear=SIZE_SHEAR,
        level=SIZE_LEVEL,
        formula=(
            "L = L0(N) + A(N)*(sum_i lr_i)^-alpha(N) - B(N)*sum_k (lr_{k-1} - lr_k)"
            "*(1 - (C*lr_k^-gamma*S_k + 1)^-beta)"
        ),
        conditions=Conditions(
            inputs=multipower_inputs,
            log_loss=multipower_point_log_loss,
            settings=multipower_settings,
            configure=multipower_law,
        ),
        settings=settings,
    )


SIZE_SHEAR = {"u": ("alpha_n", "n", LOG_N0)}
"""``L_0``'s size term ``A_N e^{−α_N x}`` enters through ``u − α_N·(log N − log N_0)``."""
SIZE_LEVEL = ("e", "u")
"""``L_0(N) = E + A_N e^{−α_N x}`` sampled on level coordinates at the data's centre
(:mod:`bayescale.laws.law`): three sizes pin ``L_0`` at the centre, its slope and its
curvature in ``log N``, not ``E``, ``A_N`` and ``α_N`` apart, a curved ridge."""


def size_derived(theta: Theta) -> dict:
    """``E``, ``A_N``, and ``L0`` and ``A`` at ``N_0``: the natural scale of
    :func:`size_terms`' parameters. NumPy, so that it applies to arrays and xarray."""
    return {
        "E": np.exp(theta["e"]),
        "A_N": np.exp(theta["u"]),
        "L0_N0": np.exp(theta["e"]) + np.exp(theta["u"]),
        "A": np.exp(theta["a"]),
    }


def multipower_derived(theta: Theta) -> dict:
    """:func:`size_derived` and ``B`` at ``N_0``."""
    return {**size_derived(theta), "B": np.exp(theta["b"])}


PARAMS = (
    "e",
    "u",
    "alpha_n",
    "a",
    "a_slope",
    "alpha",
    "alpha_slope",
    "b",
    "b_slope",
    "c",
    "beta",
    "gamma",
)

# Priors, centred on the authors' fits (25M / 100M / 400M parameters, peak learning rate
# 3e-4; values in the module docstring) and wide enough for other setups:
#  e: their L0 through the three sizes gives E ≈ 1.70 (log 0.53); Normal(0.5, 1) puts 95% on
#    E in [0.23, 12] nats.
#  u, alpha_n: L0(N0) − E ≈ 0.95 (log −0.05) and α_N ≈ 0.25; Normal(0, 1) and
#    LogNormal(log 0.3, 0.75) (95% on [0.07, 1.3], Chinchilla's α range).
#  a, b, c: log A(N0) = −0.51, log B(N0) = 6.08, C ≈ 2.1 at peak 3e-4; a peak from 3e-5 to
#    3e-3 moves them by ±1.0, ±2.3 and ±0.83 (module docstring). Normal(−0.5, 1),
#    Normal(6, 1.5) and LogNormal(log 2, 1) keep those within 2 sd.
#  a_slope, b_slope: 0.06 and 0.13 an e-fold of N; Normal(0, 0.3) lets either change by
#    e^±1.2 per decade (2 sd).
#  alpha, alpha_slope: α(N0) = 0.45, log α falls 0.06 an e-fold; LogNormal(log 0.45, 0.5)
#    (95% on [0.17, 1.2]) and Normal(0, 0.1).
#  beta, gamma: 0.58-0.60 and 0.64-0.66; LogNormal(log 0.6, 0.5) each (95% on [0.23, 1.6]).
PRIORS = {
    "e": lambda: dist.Normal(0.5, 1.0),
    "u": lambda: dist.Normal(0.0, 1.0),
    "alpha_n": lambda: dist.LogNormal(math.log(0.3), 0.75),
    "a": lambda: dist.Normal(-0.5, 1.0),
    "a_slope": lambda: dist.Normal(0.0, 0.3),
    "alpha": lambda: dist.LogNormal(math.log(0.45), 0.5),
    "alpha_slope": lambda: dist.Normal(0.0, 0.1),
    "b": lambda: dist.Normal(6.0, 1.5),
    "b_slope": lambda: dist.Normal(0.0, 0.3),
    "c": lambda: dist.LogNormal(math.log(2.0), 1.0),
    "beta": lambda: dist.LogNormal(math.log(0.6), 0.5),
    "gamma": lambda: dist.LogNormal(math.log(0.6), 0.5),
}

# Group spreads under partial pooling (pooling scales of bayescale.hierarchy; positive
# parameters pool as logs). Groups (datasets, architectures) move the size terms: the floor
# e as in Chinchilla's law (0.2), u, a and b by ±30% (0.3), the exponents alpha and
# alpha_n by ±20% (0.2). The decay-response shape (c, beta, gamma) and the slopes in log N
# transfer between setups in the authors' ablations: a tenth to a fifth of their prior scale.
GROUP_SCALES = {
    "e": 0.2,
    "u": 0.3,
    "alpha_n": 0.2,
    "a": 0.3,
    "a_slope": 0.05,
    "alpha": 0.2,
    "alpha_slope": 0.02,
    "b": 0.3,
    "b_slope": 0.05,
    "c": 0.2,
    "beta": 0.1,
    "gamma": 0.1,
}

LABELS = {
    "e": r"$\log E$",
    "u": r"$\log A_N$",
    "alpha_n": r"$\alpha_N$ (exponent of $N$ in $L_0$)",
    "a": r"$\log A(N_0)$",
    "a_slope": r"$d\log A/d\log N$",
    "alpha": r"$\alpha(N_0)$ (exponent of the LR sum)",
    "alpha_slope": r"$d\log\alpha/d\log N$",
    "b": r"$\log B(N_0)$",
    "b_slope": r"$d\log B/d\log N$",
    "c": "$C$",
    "beta": r"$\beta$",
    "gamma": r"$\gamma$",
    "E": "$E$ (nats/token)",
    "A_N": "$A_N$ (nats/token)",
    "L0_N0": "$L_0(N_0)$ (nats/token)",
    "A": "$A(N_0)$",
    "B": "$B(N_0)$",
}

MULTIPOWER = multipower_law()
