r"""The data-constrained law of Muennighoff et al. 2023 (arXiv:2305.16264, eq. 5): Chinchilla's
law in an effective data size and an effective model size, for runs that repeat their unique
tokens.

A run of ``N`` parameters trained on ``D`` tokens drawn from ``U_D ≤ D`` unique tokens
repeats them ``R_D = D/U_D − 1`` times. Its loss is

.. math::

    L = E + \frac{A}{N'^{\alpha}} + \frac{B}{D'^{\beta}},\qquad
    D' = U_D + U_D R_D^* \left(1 - e^{-R_D/R_D^*}\right),\qquad
    N' = U_N + U_N R_N^* \left(1 - e^{-R_N/R_N^*}\right),

with ``U_N = min(N, N_opt(U_D))`` and ``R_N = N/U_N − 1``. ``N_opt(D)`` is the model size
that Chinchilla's law ``E + A/N^α + B/D^β`` makes compute-optimal for ``D`` tokens:

.. math::

    G = \left(\frac{\alpha A}{\beta B}\right)^{1/(\alpha+\beta)},\qquad
    N_{opt}(D) = G\,(D G)^{\beta/\alpha},

the inverse of Chinchilla's ``D_opt(C) = G^{-1}(C/6)^{α/(α+β)}`` composed with
``N_opt(C) = G (C/6)^{β/(α+β)}``. The ``k``-th repetition of a token is worth
``e^{−k/R_D^*}`` of a fresh one (``dD'/dD = e^{−R_D/R_D^*}``), so ``D'`` saturates at
``U_D (1 + R_D^*)``; parameters beyond ``N_opt(U_D)`` decay alike with ``R_N^*``. These are
the definitions of the authors' README (``huggingface/datablations``, "Parametric Fit"),
whose fit on C4 gives ``E = e^{0.6254804}``, ``A = e^{6.255414}``, ``B = e^{7.3049974}``,
``α = β = 0.3526596``, ``R_D^* = 15.387756``, ``R_N^* = 5.309743`` (:data:`PUBLISHED`).

The law's parameters: ``e = log E``, ``a = log A``, ``b = log B``, ``alpha``, ``beta``,
``r_d = R_D^*`` and ``r_n = R_N^*``. It is computed in log space (float32 stays accurate at
``N ≈ 10^{12}``): ``log N_opt(U) = (β/α) log U + (log α + a − log β − b)/α``, and each
effective size as

.. math::

    \log X' = \log U_X + \operatorname{log1p}\!\left(-R^* \operatorname{expm1}(-R/R^*)\right),
    \qquad R = \operatorname{expm1}(\log X - \log U_X),

then ``log L = logsumexp(e, a − α log N', b − β log D')`` as Chinchilla's law. ``N'`` and
``D'`` are continuously differentiable in ``N``, ``D`` and the parameters at ``R = 0``,
where the ``min`` switches (both sides have slope 1 in ``X`` and 0 in ``U_X``).

Observed points and finished runs
---------------------------------

The fit reads each row's unique tokens from a ``unique_tokens`` column
(:func:`data_constrained_inputs`). By default it fits each run's final checkpoint: a
checkpoint part-way through its run is not a finished run of that length.

Planning asks the finished-run form ``log_loss(θ, log N, log D)``: by default a run on
fresh data, ``U_D = D``. Then ``R_D = 0`` and, for ``N ≤ N_opt(D)``, ``R_N = 0``: the law is
Chinchilla's exactly. A model larger than ``N_opt(D)`` is not: its excess parameters decay
(``N' < N``), so its loss lies above Chinchilla's. Along ``C = 6ND`` the two laws agree up
to and at Chinchilla's optimum (the curve ``N = N_opt(D)`` crosses the constraint there) and
the law is above Chinchilla's beyond it, so the optimum is Chinchilla's closed form
(:func:`bayescale.laws.chinchilla.chinchilla_optimum`).

With a budget of unique data, :func:`data_constrained_law` with ``unique_tokens=U``
answers every planning query for runs that draw from ``U`` unique tokens (``U_D = min(U,
D)``): ``dataclasses.replace(posterior, law=data_constrained_law(unique_tokens=U))``. Its
optimum has no known closed form (the authors' README asks for one); it is found by
bisection on the slope along the constraint (:mod:`bayescale.optimum`), which assumes one
minimum: the tests check it against a brute-force grid over budgets and unique-token
counts. Where the compute far exceeds what the unique tokens support (``10^8`` unique
tokens at ``10^21`` FLOPs under the authors' constants), both decays saturate, ``N' ≈
N_opt(U)(1 + R_N^*)`` and ``D' ≈ U (1 + R_D^*)``, and the loss is flat to float64 over
e-folds of ``N``: every size there is optimal, and the optimum returned is one of them.
"""

from __future__ import annotations

import math
import numbers
from functools import partial

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd

from bayescale.errors import InputError, SweepValidationError
from bayescale.laws.chinchilla import chinchilla_derived, chinchilla_log_loss, chinchilla_optimum
from bayescale.laws.law import Conditions, Law, Theta
from bayescale.sweep import _rows_text

PUBLISHED = {
    "e": 0.6254804,
    "a": 6.255414,
    "b": 7.3049974,
    "alpha": 0.3526596,
    "beta": 0.3526596,
    "r_d": 15.387756,
    "r_n": 5.309743,
}
"""The authors' constants on this law's scale (``huggingface/datablations`` README)."""

UNIQUE_COLUMN = "unique_tokens"
_TOKENS_RTOL = 1e-3  # logged token counts fall short of the planned budget by up to ~1e-4
# log(X/U_X) is capped here: e^40 repetitions leave exp(-R/R*) below 1e-100 for any
# R* < 1e15, so the cap changes no value, and it keeps expm1 finite (and its gradient
# free of inf·0) at the far edges of the prior and of the optimum's bracket.
_LOG_RATIO_MAX = 40.0


def effective_log_size(log_unique, log_total, star):
    """``log(U + U·R*·(1 − e^{−R/R*}))`` with ``R = total/U − 1``, for ``log_total ≥
    log_unique`` (module docstring)."""
    repeats = jnp.expm1(jnp.minimum(log_total - log_unique, _LOG_RATIO_MAX))
    return log_unique + jnp.log1p(-star * jnp.expm1(-repeats / star))


def log_optimal_size(theta: Theta, log_d):
    """``log N_opt(D)``, the model size Chinchilla's law makes compute-optimal for ``D``
    tokens."""
    alpha, beta = theta["alpha"], theta["beta"]
    return (beta * log_d + jnp.log(alpha) + theta["a"] - jnp.log(beta) - theta["b"]) / alpha


def data_constrained_point_log_loss(theta: Theta, log_n, log_d, log_u):
    """``log L`` of runs of ``N`` parameters on ``D`` tokens drawn from ``U`` unique ones
    (``U`` above ``D`` counts as ``D``: a run sees at most ``D`` distinct tokens)."""
    log_u = jnp.minimum(log_u, log_d)
    log_unique_n = jnp.minimum(log_n, log_optimal_size(theta, log_u))
    effective = {
        "log_n": effective_log_size(log_unique_n, log_n, theta["r_n"]),
        "log_d": effective_log_size(log_u, log_d, theta["r_d"]),
    }
    return chinchilla_log_loss(theta, effective["log_n"], effective["log_d"])


def fresh_log_loss(theta: Theta, log_n, log_d):
    """``log L`` of finished runs on fresh data (``U = D``)."""
    return data_constrained_point_log_loss(theta, log_n, log_d, log_d)


def budget_log_loss(theta: Theta, log_n, log_d, *, log_unique):
    """``log L`` of finished runs that draw their tokens from ``exp(log_unique)`` unique
    ones."""
    return data_constrained_point_log_loss(theta, log_n, log_d, log_unique)


# ------------------------------------------------------------------ the sweep's rows
def data_constrained_inputs(frame: pd.DataFrame) -> dict:
    """Per-point input of the fitted rows: ``log_u``, the log of column ``unique_tokens``.

    ``unique_tokens`` is the number of distinct tokens the run trained on: positive and at
    most ``n_tokens`` (up to a relative ``1e-3``, for logged token counts that fall short
    of the planned budget; such a row counts as ``n_tokens`` unique tokens). Problems raise
    :class:`~bayescale.errors.SweepValidationError` naming the column, rows and fix.
    """
    if UNIQUE_COLUMN not in frame.columns:
        raise SweepValidationError(
            f"law 'data_constrained' reads each run's unique tokens; the sweep has no column "
            f"{UNIQUE_COLUMN!r}. Add one: the number of distinct tokens the run trained on "
            "(n_tokens / epochs for a run that repeats its data; n_tokens for fresh data)."
        )
    unique = pd.to_numeric(frame[UNIQUE_COLUMN], errors="coerce").to_numpy(float)
    tokens = frame["n_tokens"].to_numpy(float)
    bad = ~(np.isfinite(unique) & (unique > 0))
    if bad.any():
        raise SweepValidationError(
            f"column {UNIQUE_COLUMN!r} must hold positive token counts; rows "
            f"{_rows_text(frame.index[bad])} hold "
            f"{_rows_text(repr(v) for v in frame[UNIQUE_COLUMN][bad])}. Fix or remove those "
            "rows (for fresh data the unique tokens are n_tokens)."
        )
    over = unique > tokens * (1 + _TOKENS_RTOL)
    if over.any():
        pairs = zip(unique[over], tokens[over], strict=True)
        raise SweepValidationError(
            f"column {UNIQUE_COLUMN!r} exceeds 'n_tokens' in rows {_rows_text(frame.index[over])} "
            f"({_rows_text(f'{u:.4g} > {d:.4g}' for u, d in pairs)}): "
            "a run cannot see more distinct tokens than it trains on. Give the unique tokens "
            "the run saw, min(pool size, n_tokens) for a checkpoint before the end of the "
            "first pass, or check the two columns' units."
        )
    return {"log_u": np.log(unique)}


def data_constrained_law(unique_tokens: float | None = None) -> Law:
    """The law whose finished runs draw from ``unique_tokens`` unique tokens (fresh data,
    ``U = D``, when ``None``)."""
    if unique_tokens is None:
        log_loss, optimum, settings = fresh_log_loss, chinchilla_optimum, {}
    else:
        if not (
            isinstance(unique_tokens, numbers.Real)
            and not isinstance(unique_tokens, bool)
            and math.isfinite(unique_tokens)
            and unique_tokens > 0
        ):
            raise InputError(
                f"unique_tokens must be a positive number of tokens, got {unique_tokens!r}; "
                "pass e.g. unique_tokens=25e9, or None for fresh data."
            )
        log_loss = partial(budget_log_loss, log_unique=math.log(unique_tokens))
        optimum, settings = None, {"unique_tokens": float(unique_tokens)}
    return Law(
        name="data_constrained",
        params=PARAMS,
        log_loss=log_loss,
        priors=PRIORS,
        optimum=optimum,
        derived=chinchilla_derived,
        key_quantities=("E", "alpha", "beta", "r_d", "r_n"),
        labels=LABELS,
        group_scales=GROUP_SCALES,
        # a and b enter as a − α·log N' and b − β·log D', with log N', log D' within a few
        # units of log N, log D on sweeps of a few repetitions, so the shear and the level
        # coordinates decorrelate them as they do in Chinchilla's law (they change only the
        # sampler's geometry; docs/performance.md measures it on the datablations runs).
        shear={"a": ("alpha", "n"), "b": ("beta", "d")},
        level=("e", "a", "b"),
        formula=(
            "L = E + A/N'^alpha + B/D'^beta,  D' = U + U*R_D*(1 - exp(-(D/U - 1)/R_D*)),  "
            "N' = U_N + U_N*R_N*(1 - exp(-(N/U_N - 1)/R_N*)),  U_N = min(N, N_opt(U))"
        ),
        conditions=Conditions(
            inputs=data_constrained_inputs,
            log_loss=data_constrained_point_log_loss,
            configure=data_constrained_law,
            reads_schedules=False,
        ),
        settings=settings,
    )


PARAMS = ("e", "a", "alpha", "b", "beta", "r_d", "r_n")

# Priors, centred on the authors' constants (PUBLISHED) and as wide as Chinchilla's defaults:
#  e, a, b: Normal(0.63, 1), Normal(6.26, 3), Normal(7.30, 3); 95% on E in [0.26, 13] nats
#    and on A, B over e^±6, the span of published Chinchilla-type fits (log A, log B from
#    about 2 to 8) with room either side.
#  alpha, beta: LogNormal(log 0.353, 0.75): 95% on [0.081, 1.5], published exponents
#    span 0.07-0.8.
#  r_d: LogNormal(log 15.4, 1): 95% on [2.2, 110] repetitions for the value of a repeated
#    token to fall by e; the authors' fit is 15.4, and their runs show little loss up to
#    4 epochs and a plateau by 40 (both inside the range).
#  r_n: LogNormal(log 5.3, 1): 95% on [0.75, 38], the same relative width about 5.3.
PRIORS = {
    "e": lambda: dist.Normal(0.63, 1.0),
    "a": lambda: dist.Normal(6.26, 3.0),
    "alpha": lambda: dist.LogNormal(math.log(0.353), 0.75),
    "b": lambda: dist.Normal(7.30, 3.0),
    "beta": lambda: dist.LogNormal(math.log(0.353), 0.75),
    "r_d": lambda: dist.LogNormal(math.log(15.4), 1.0),
    "r_n": lambda: dist.LogNormal(math.log(5.3), 1.0),
}

# Group spreads under partial pooling (pooling scales of bayescale.hierarchy): e, alpha and
# beta as in Chinchilla's law (0.2, 0.3, 0.3); a and b the default. No published fit
# measures how R_D* and R_N* differ between corpora; 0.3 on their logs (±35%) treats them
# like the exponents.
GROUP_SCALES = {"e": 0.2, "alpha": 0.3, "beta": 0.3, "r_d": 0.3, "r_n": 0.3}

LABELS = {
    "E": "$E$ (nats/token)",
    "A": "$A$ (nats/token)",
    "B": "$B$ (nats/token)",
    "alpha": r"$\alpha$ (exponent of $N'$)",
    "beta": r"$\beta$ (exponent of $D'$)",
    "r_d": r"$R_D^*$ (repetitions per e-fold of a token's value)",
    "r_n": r"$R_N^*$ (excess parameters' decay)",
    "n_opt_exponent": r"$a = \beta/(\alpha+\beta)$",
}

DATA_CONSTRAINED = data_constrained_law()
