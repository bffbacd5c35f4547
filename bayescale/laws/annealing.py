r"""The scaling law with learning-rate annealing (Tissue et al. 2024, arXiv:2408.11029): loss
curves that follow the learning-rate schedule through two sums over it, extended in model
size so that one law covers a ladder.

For a run of ``N`` parameters with learning rate ``η_i`` at step ``i``, the loss at step
``t`` is

.. math::

    L(t) = L_0(N) + A(N)\, S_1(t)^{-\alpha(N)} - C(N)\, S_2(t),

    S_1(t) = \sum_{i=0}^{t} \eta_i,\qquad
    S_2(t) = \sum_{i=1}^{t} m_i,\qquad
    m_i = \lambda\, m_{i-1} + (\eta_{i-1} - \eta_i),\quad m_0 = 0,

the *forward area* ``S_1`` and the *annealing area* ``S_2``, whose momentum ``m_i`` carries
each drop of the learning rate on with decay factor ``λ`` (:data:`DEFAULT_DECAY_FACTOR`,
0.999, the paper's choice; a setting of the law, not a parameter). In closed form,
``S_2(t) = Σ_{k=1}^{t} (η_{k−1} − η_k)(1 − λ^{t−k+1})/(1 − λ)``: a drop counts fully
once a few times ``1/(1 − λ) = 1000`` steps have passed. With ``λ`` fixed, ``S_1`` and
``S_2`` depend on the schedule only, so they are inputs computed once per checkpoint and
the law costs no more than Chinchilla's. On the training split of the bundled
``multipower_schedules`` (below), least squares with ``λ`` = 0.99 / 0.995 / 0.999 / 0.9995
leaves a root-mean-square error of 1.40 / 1.18 / 1.44 / 2.38 e-3 in ``log L`` and predicts
the held-out schedules with a mean relative error of 0.22 / 0.21 / 0.19 / 0.24%: the
paper's value is kept.

What we assume of the paper's conventions: ``η`` is the learning rate itself, not
normalised by its peak (runs at different peaks then differ in ``S_1`` and ``S_2``, and
``A`` and ``C`` carry learning-rate units: a peak ten times larger makes ``A`` ``10^α``
times and ``C`` ten times smaller); steps are indexed as in :mod:`bayescale.schedules`
(``η_0 = lr(0)``, 0 under a warmup), so ``S_1`` is the multi-power law's ``S_1 + S_W``;
the warmup counts in ``S_1`` but not in ``S_2``: drops before the learning rate first falls
(the rise of a warmup, however long) are left out of the momentum. Counting the rise as
negative annealing would lower ``S_2`` by about ``peak/(1 − λ)`` (−0.3 at a peak of 3e-4)
for the rest of every run, a constant ``L_0`` absorbs (by 0.1 nats in a least-squares fit
to the bundled training split) and that would tie ``L_0`` to the warmup. Without the
warmup in ``S_1`` the law fits four times worse there (root-mean-square error 6.4e-3
against 1.4e-3 in ``log L``): checkpoints just after the warmup have ``S_1`` near zero.
A rise after the first fall (a re-warmup) counts, and raises the loss.

In model size, about ``N_0 = 10^8`` (``x = log(N/N_0)``), as the multi-power law
(:mod:`bayescale.laws.multipower`):

.. math::

    L_0(N) = E + A_N e^{-\alpha_N x},\quad
    A(N) = e^{a + a_s x},\quad
    \alpha(N) = \alpha\, e^{\alpha_s x},\quad
    C(N) = e^{c + c_s x}.

Least-squares fits of the law per size to the training split of the bundled
``multipower_schedules`` (25M / 100M / 400M parameters, peak 3e-4, checkpoints from 10% of
each run) give ``L_0`` = 3.164 / 2.799 / 2.533, ``A`` = 0.507 / 0.582 / 0.644, ``α`` =
0.522 / 0.465 / 0.428 and ``C`` = 0.401 / 0.481 / 0.568. ``C`` rises by 0.13 an e-fold of
``N``, the slope of the multi-power law's ``B`` on the same curves: a ``C`` shared across
sizes would misplace the loss after a full decay (``S_2 ≈ 0.27``) at 25M by 0.02 nats,
0.7% of the loss and ten times the curves' noise, so ``C`` is log-linear in ``log N``.
(As we read the paper, its extension to model size adds a power law in ``N`` to ``L_0``
and keeps the other constants shared; on this ladder ``A``, ``α`` and ``C`` all move.)

The law's parameters: ``e = log E``, ``u = log A_N``, ``alpha_n``, ``a``, ``a_slope``,
``alpha``, ``alpha_slope``, ``c``, ``c_slope``. ``log L`` is ``NaN`` where ``C·S_2``
exceeds the rest (a parameter draw that predicts a negative loss).

Observed points and finished runs
---------------------------------

The fit reads each checkpoint's schedule as the multi-power law does
(:mod:`bayescale.sweep_schedules`: a ``schedule`` or an ``lr`` column, with a ``step``
column) and computes ``S_1`` and ``S_2`` exactly, step by step in float64
(:func:`annealing_sums`). Planning asks the finished-run form
``log_loss(θ, log N, log D)``: a run of the law's schedule family (its ``settings``) to
its end at ``T = D / tokens_per_step`` steps, continuous in ``T``: ``S_1`` by
:func:`bayescale.schedules.run_features`, ``S_2`` by :func:`run_annealing_area`.
"""

from __future__ import annotations

import math
from functools import partial

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd

from bayescale.laws.law import Conditions, Law, Theta
from bayescale.laws.multipower import LOG_N0, SIZE_LEVEL, SIZE_SHEAR, size_derived, size_terms
from bayescale.schedules import (
    DEFAULT_DECAY_FACTOR,
    annealing_sums,
    check_decay_factor,
    run_annealing_area,
    run_features,
)
from bayescale.sweep_schedules import (
    DEFAULT_TOKENS_PER_STEP,
    finished_run,
    implied_run,
    run_schedules,
)

NAME = "annealing"


def _log_loss(theta: Theta, log_n, lr_sum, area):
    """``log L`` from ``S_1`` and ``S_2``."""
    x = log_n - LOG_N0
    return jnp.log(size_terms(theta, x, lr_sum) - jnp.exp(theta["c"] + theta["c_slope"] * x) * area)


def annealing_point_log_loss(theta: Theta, log_n, log_d, lr_sum, annealing_area):
    """``log L`` at checkpoints, from their ``S_1`` and ``S_2`` (:func:`annealing_inputs`)."""
    del log_d  # the schedule's sums carry the run's progress
    return _log_loss(theta, log_n, lr_sum, annealing_area)


def annealing_run_log_loss(
    theta: Theta, log_n, log_d, *, schedule, tokens_per_step, decay_factor=DEFAULT_DECAY_FACTOR
):
    """``log L`` of finished runs: ``schedule``'s family run to ``D / tokens_per_step``
    steps."""
    log_steps = jnp.asarray(log_d) - math.log(tokens_per_step)
    lr_sum = run_features(schedule, log_steps)["lr_sum"]
    return _log_loss(theta, log_n, lr_sum, run_annealing_area(schedule, log_steps, decay_factor))


def annealing_inputs(
    frame: pd.DataFrame,
    decay_factor: float = DEFAULT_DECAY_FACTOR,
    logged: pd.DataFrame | None = None,
) -> dict:
    """The law's inputs at the fitted rows: ``S_1`` and ``S_2`` of each checkpoint.

    Parameters
    ----------
    frame
        sweep rows with ``step``, ``n_tokens``, ``run`` and a ``schedule`` or ``lr``
        column (:func:`bayescale.sweep_schedules.run_schedules`); problems raise
        :class:`~bayescale.errors.SweepValidationError` naming the column, rows and fix.
    decay_factor
        ``λ``, in (0, 1).
    logged
        more rows whose logged rates join each run's (``run_schedules``).

    Returns
    -------
    ``{"lr_sum": S_1, "annealing_area": S_2}``, float64 arrays, one value per row.
    """
    decay_factor = check_decay_factor(decay_factor)
    lr_sum, area = np.empty(len(frame)), np.empty(len(frame))
    sums = {}  # runs of different sizes share their schedule's sums
    for schedule, where, step, _ in run_schedules(frame, NAME, logged).values():
        if schedule not in sums:
            sums[schedule] = annealing_sums(schedule, decay_factor)
        lr_sum[where], area[where] = (s[step] for s in sums[schedule])
    return {"lr_sum": lr_sum, "annealing_area": area}


def annealing_settings(frame: pd.DataFrame, decay_factor: float = DEFAULT_DECAY_FACTOR) -> dict:
    """The finished-run form the sweep implies
    (:func:`bayescale.sweep_schedules.implied_run`), with the law's ``decay_factor``."""
    return {**implied_run(frame, NAME), "decay_factor": check_decay_factor(decay_factor)}


def annealing_law(
    schedule=None,
    tokens_per_step: float = DEFAULT_TOKENS_PER_STEP,
    decay_factor: float = DEFAULT_DECAY_FACTOR,
) -> Law:
    """The annealing law with decay factor ``λ`` and its finished-run form.

    Parameters
    ----------
    schedule
        the schedule family of finished runs, a :class:`~bayescale.schedules.Schedule`
        or its ``to_dict()``; the default cosine recipe
        (:data:`bayescale.sweep_schedules.DEFAULT_RUN`) when ``None``.
    tokens_per_step
        tokens per optimiser step of finished runs.
    decay_factor
        ``λ`` of the annealing momentum, in (0, 1).

    Returns
    -------
    The :class:`~bayescale.laws.Law`; ``bs.fit(sweep, law=annealing_law(decay_factor=0.99))``
    fits it.
    """
    schedule, settings = finished_run(schedule, tokens_per_step)
    decay_factor = check_decay_factor(decay_factor)
    settings["decay_factor"] = decay_factor
    return Law(
        name=NAME,
        params=PARAMS,
        log_loss=partial(
            annealing_run_log_loss,
            schedule=schedule,
            tokens_per_step=settings["tokens_per_step"],
            decay_factor=decay_factor,
        ),
        priors=PRIORS,
        derived=annealing_derived,
        key_quantities=("E", "alpha", "alpha_n", "C"),
        labels=LABELS,
        group_scales=GROUP_SCALES,
        shear=SIZE_SHEAR,
        level=SIZE_LEVEL,
        formula=(
            "L = L0(N) + A(N)*S1^-alpha(N) - C(N)*S2, S1 = sum_i lr_i, S2 = sum_i m_i, "
            f"m_i = {decay_factor:g}*m_(i-1) + lr_(i-1) - lr_i"
        ),
        conditions=Conditions(
            inputs=partial(annealing_inputs, decay_factor=decay_factor),
            log_loss=annealing_point_log_loss,
            settings=partial(annealing_settings, decay_factor=decay_factor),
            configure=annealing_law,
        ),
        settings=settings,
    )


def annealing_derived(theta: Theta) -> dict:
    """:func:`bayescale.laws.multipower.size_derived` and ``C`` at ``N_0``."""
    return {**size_derived(theta), "C": np.exp(theta["c"])}


PARAMS = ("e", "u", "alpha_n", "a", "a_slope", "alpha", "alpha_slope", "c", "c_slope")

# Priors, centred on a least-squares fit of the law to the training split of the bundled
# multipower_schedules (cosine 24k, constant 24k, two-stage at 25M / 100M / 400M, peak 3e-4,
# λ = 0.999, checkpoints from 10% of each run; the paper's fits are not in these units):
# e = 0.48, u = 0.17, alpha_n = 0.19, a = −0.55, a_slope = 0.086, alpha = 0.47,
# alpha_slope = −0.071, c = −0.74, c_slope = 0.12. Widths as the multi-power law's:
#  e, u: Normal(0.5, 1) and Normal(0.2, 1): 95% on E in [0.23, 12] nats, on
#    L0(N0) − E in [0.17, 8.7].
#  alpha_n: LogNormal(log 0.2, 0.75), 95% on [0.05, 0.87] (Chinchilla's α range and below).
#  a, c: a peak learning rate from 3e-5 to 3e-3 moves log A by ±α·log 10 = ±1.1 and log C
#    by ±log 10 = ±2.3 (module docstring); Normal(−0.55, 1) and Normal(−0.75, 1.5) keep
#    those within about 1.5 sd.
#  a_slope, c_slope: Normal(0, 0.3): either may change by e^±1.2 per decade of N (2 sd).
#  alpha, alpha_slope: LogNormal(log 0.47, 0.5) (95% on [0.18, 1.3]) and Normal(0, 0.1).
PRIORS = {
    "e": lambda: dist.Normal(0.5, 1.0),
    "u": lambda: dist.Normal(0.2, 1.0),
    "alpha_n": lambda: dist.LogNormal(math.log(0.2), 0.75),
    "a": lambda: dist.Normal(-0.55, 1.0),
    "a_slope": lambda: dist.Normal(0.0, 0.3),
    "alpha": lambda: dist.LogNormal(math.log(0.47), 0.5),
    "alpha_slope": lambda: dist.Normal(0.0, 0.1),
    "c": lambda: dist.Normal(-0.75, 1.5),
    "c_slope": lambda: dist.Normal(0.0, 0.3),
}

# Group spreads under partial pooling (pooling scales of bayescale.hierarchy; positive
# parameters pool as logs), as the multi-power law's: groups (datasets, architectures) move
# the floor e by 0.2, u, a and c by ±30% (0.3), the exponents alpha and alpha_n by ±20%
# (0.2); the slopes in log N transfer between setups: a sixth of their prior scale.
GROUP_SCALES = {
    "e": 0.2,
    "u": 0.3,
    "alpha_n": 0.2,
    "a": 0.3,
    "a_slope": 0.05,
    "alpha": 0.2,
    "alpha_slope": 0.02,
    "c": 0.3,
    "c_slope": 0.05,
}

LABELS = {
    "e": r"$\log E$",
    "u": r"$\log A_N$",
    "alpha_n": r"$\alpha_N$ (exponent of $N$ in $L_0$)",
    "a": r"$\log A(N_0)$",
    "a_slope": r"$d\log A/d\log N$",
    "alpha": r"$\alpha(N_0)$ (exponent of the forward area)",
    "alpha_slope": r"$d\log\alpha/d\log N$",
    "c": r"$\log C(N_0)$",
    "c_slope": r"$d\log C/d\log N$",
    "E": "$E$ (nats/token)",
    "A_N": "$A_N$ (nats/token)",
    "L0_N0": "$L_0(N_0)$ (nats/token)",
    "A": "$A(N_0)$",
    "C": "$C(N_0)$",
}

ANNEALING = annealing_law()
