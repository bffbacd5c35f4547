r"""The two laws of Kaplan et al. 2020.

Joint form (eq. 1.5)
--------------------

.. math::

    L(N, D) = \left[\left(\frac{N_c}{N}\right)^{\alpha_N/\alpha_D}
              + \frac{D_c}{D}\right]^{\alpha_D},
    \qquad
    \log L = \alpha_D \operatorname{logaddexp}\!\left(
        \tfrac{\alpha_N}{\alpha_D}(\log N_c - \log N),\; \log D_c - \log D\right)

with parameters ``log_nc``, ``alpha_n``, ``log_dc``, ``alpha_d``. Kaplan's fit on WebText2
(nats/token): ``N_c = 6.4e13``, ``α_N = 0.076``, ``D_c = 1.8e13``, ``α_D = 0.095``. There is
no irreducible term: the loss goes to zero as ``N, D → ∞``.

Step form (eq. 1.6 and App. B.4)
--------------------------------

.. math::

    L(N, S) = \left(\frac{N_c}{N}\right)^{\alpha_N} + \left(\frac{S_c}{S}\right)^{\alpha_S},
    \qquad
    \log L = \operatorname{logaddexp}\!\left(\alpha_N(\log N_c - \log N),\;
        \alpha_S(\log S_c - \log S)\right)

with parameters ``log_nc``, ``alpha_n``, ``log_sc``, ``alpha_s``. The data axis ``D`` plays
the role of ``S``: Kaplan's ``S`` counts optimizer steps (at the critical batch size); at a
fixed batch of ``B`` tokens, ``D = B·S`` and the same law holds in tokens with
``S_c`` replaced by ``B·S_c``. bayescale's sweeps record tokens, so a fitted ``S_c`` is in
tokens. Kaplan: ``α_N = 0.076``, ``α_S = 0.76``, ``N_c = 6.5e13``, ``S_c = 2.1e3`` steps
(about ``1.1e9`` tokens at his batch of 2^19 tokens).

Optima under ``C = 6ND``
------------------------

With ``x = log N`` and ``h = log(C/6)``, so that ``log D = h − x``, both laws are
(a positive multiple of) ``logaddexp(u(x), v(x))`` of two affine functions of ``x``, one
falling and one rising: convex, with one minimum where the softmax weights
``w_u, w_v`` balance the slopes. That gives closed forms:

* joint form, ``k = α_N/α_D``: ``−k·w_u + w_v = 0`` so ``w_v/w_u = k``, i.e.

  .. math:: \log N_{opt} = \frac{\log k + k \log N_c - \log D_c + h}{1 + k}
            \quad (N_{opt} \propto C^{\alpha_D/(\alpha_N+\alpha_D)});

* step form: ``−α_N w_u + α_S w_v = 0``, i.e.

  .. math:: \log N_{opt} = \frac{\log(\alpha_N/\alpha_S) + \alpha_N \log N_c
            - \alpha_S (\log S_c - h)}{\alpha_N + \alpha_S}
            \quad (N_{opt} \propto C^{\alpha_S/(\alpha_N+\alpha_S)}).

  This is the finite-budget trade-off with ``S`` in tokens at a fixed batch; it is not
  Kaplan's ``C_min``/``S_min`` analysis, which also varies the batch size.

Both are checked against a numeric argmin in the tests.

Excess compute of the step form (App. B.4)
------------------------------------------

A model of ``x = N/N_opt`` times the optimal size reaches the optimal loss with

.. math::

    \frac{S}{S_{min}} = \left[1 + \frac{\alpha_S}{\alpha_N}\left(1 - x^{-\alpha_N}\right)
    \right]^{-1/\alpha_S}, \qquad \frac{C}{C_{opt}} = x \frac{S}{S_{min}},

and never where the bracket is not positive (too small a model). At Kaplan's exponents a
model 2.2× the optimum needs about 45% fewer steps (their Fig. 12).

No shear
--------

In these laws a term is ``α(log N_c − log N)``: the exponent multiplies the intercept, so
``log N_c − α·m`` is not the quantity the data pin down; that quantity, ``α(log N_c − m)``,
is a nonlinear change of variables (Jacobian ``α``), which the linear shear cannot
express. Shifting ``log N_c`` by the constant ``m`` instead would be a pure translation,
which NUTS (with an adapted mass matrix) does not notice. The Kaplan laws therefore use no
shear; the dense mass matrix takes up the (near-linear) correlation of ``log N_c`` with
``α_N``.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from bayescale.bracket import LOG6
from bayescale.laws.law import Law, Theta


def kaplan_log_loss(theta: Theta, log_n, log_d):
    """``log [(N_c/N)^(α_N/α_D) + D_c/D]^α_D`` as ``α_D·logaddexp(...)``."""
    alpha_d = theta["alpha_d"]
    return alpha_d * jnp.logaddexp(
        theta["alpha_n"] / alpha_d * (theta["log_nc"] - log_n), theta["log_dc"] - log_d
    )


def kaplan_optimum(theta: Theta, log_c):
    """Closed-form ``(log N_opt, log D_opt)`` of the joint Kaplan law under ``C = 6ND``."""
    k = theta["alpha_n"] / theta["alpha_d"]
    log_half = log_c - LOG6
    log_n = (jnp.log(k) + k * theta["log_nc"] - theta["log_dc"] + log_half) / (1.0 + k)
    return log_n, log_half - log_n


def kaplan_derived(theta: Theta) -> dict:
    """``N_c``, ``D_c`` and ``n_opt_exponent = α_D/(α_N+α_D)``."""
    return {
        "N_c": np.exp(theta["log_nc"]),
        "D_c": np.exp(theta["log_dc"]),
        "n_opt_exponent": theta["alpha_d"] / (theta["alpha_n"] + theta["alpha_d"]),
    }


def kaplan_steps_log_loss(theta: Theta, log_n, log_d):
    """``log[(N_c/N)^α_N + (S_c/S)^α_S]`` with ``S`` on the data axis, as a logaddexp."""
    return jnp.logaddexp(
        theta["alpha_n"] * (theta["log_nc"] - log_n), theta["alpha_s"] * (theta["log_sc"] - log_d)
    )


def kaplan_steps_optimum(theta: Theta, log_c):
    """Closed-form ``(log N_opt, log D_opt)`` of the step-form Kaplan law under ``C = 6ND``
    (``D = S`` in tokens at a fixed batch)."""
    alpha_n, alpha_s = theta["alpha_n"], theta["alpha_s"]
    log_half = log_c - LOG6
    log_n = (
        jnp.log(alpha_n)
        - jnp.log(alpha_s)
        + alpha_n * theta["log_nc"]
        - alpha_s * (theta["log_sc"] - log_half)
    ) / (alpha_n + alpha_s)
    return log_n, log_half - log_n


def kaplan_steps_excess(theta: Theta, log_c, log_x):
    """``S/S_min`` (tokens at a fixed batch) of a model ``x = exp(log_x)`` times the
    optimum's size, App. B.4; ``inf`` where the bracket is not positive. It does not depend
    on the budget."""
    alpha_n, alpha_s = theta["alpha_n"], theta["alpha_s"]
    inner = 1.0 + (alpha_s / alpha_n) * (1.0 - jnp.exp(-alpha_n * log_x))
    return jnp.where(inner > 0, jnp.abs(inner) ** (-1.0 / alpha_s), jnp.inf)


def kaplan_steps_derived(theta: Theta) -> dict:
    """``N_c``, ``S_c`` and ``n_opt_exponent = α_S/(α_N+α_S)``."""
    return {
        "N_c": np.exp(theta["log_nc"]),
        "S_c": np.exp(theta["log_sc"]),
        "n_opt_exponent": theta["alpha_s"] / (theta["alpha_n"] + theta["alpha_s"]),
    }


# Weakly informative defaults shared by the two forms. Neither has an irreducible term, so
# the exponents come out small and the scales N_c, D_c lie far beyond the data.
#  alpha_n (and alpha_d): Kaplan's 0.076 and 0.095; other corpora and tokenizers give about
#    0.05–0.3 for this form. LogNormal(log 0.1, 0.75) puts 95% on [0.023, 0.43].
#  log_nc: N_c is where the N term equals 1 nat, log N_c = log N + log(L_N)/α_N. For models
#    of 1e6–1e11 parameters at 1.5–6 nats and α_N in 0.05–0.3 that spans about 15–60;
#    Kaplan's 6.4e13 is 31.8. Normal(30, 10) puts 95% on [10, 50].
#  log_dc: by the same argument (D of 1e8–1e13 tokens), Kaplan's 1.8e13 is 30.5;
#    Normal(30, 10).
# Group spreads: exponents pool as log α, and related setups differ by ±15–30% (0.3);
# the log scales take DEFAULT_GROUP_SCALE.
_ALPHA = (math.log(0.1), 0.75)
_LOG_SCALE = (30.0, 10.0)
_EXPONENT_GROUP_SCALE = 0.3

KAPLAN = Law(
    name="kaplan",
    params=("log_nc", "alpha_n", "log_dc", "alpha_d"),
    log_loss=kaplan_log_loss,
    priors={
        "log_nc": lambda: dist.Normal(*_LOG_SCALE),
        "alpha_n": lambda: dist.LogNormal(*_ALPHA),
        "log_dc": lambda: dist.Normal(*_LOG_SCALE),
        "alpha_d": lambda: dist.LogNormal(*_ALPHA),
    },
    optimum=kaplan_optimum,
    derived=kaplan_derived,
    group_scales={"alpha_n": _EXPONENT_GROUP_SCALE, "alpha_d": _EXPONENT_GROUP_SCALE},
    formula="L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D",
)

# Priors as for KAPLAN, and:
#  alpha_s: Kaplan's 0.76; the data term falls much faster than the size term.
#    LogNormal(log 0.5, 0.75) puts 95% on [0.12, 2.2].
#  log_sc: S_c is where the data term equals 1 nat, so with a steep α_S it lies near the
#    data: log S_c = log S + log(L_S)/α_S. In steps Kaplan's 2.1e3 is 7.7; in tokens at a
#    batch of 2^19 it is 1.1e9, i.e. 20.8; sweeps record tokens (1e8–1e13) with data terms
#    of 0.01–1 nats, about 12–30. Normal(16, 8) puts 95% on [0.3, 31.7], covering both.
KAPLAN_STEPS = Law(
    name="kaplan_steps",
    params=("log_nc", "alpha_n", "log_sc", "alpha_s"),
    log_loss=kaplan_steps_log_loss,
    priors={
        "log_nc": lambda: dist.Normal(*_LOG_SCALE),
        "alpha_n": lambda: dist.LogNormal(*_ALPHA),
        "log_sc": lambda: dist.Normal(16.0, 8.0),
        "alpha_s": lambda: dist.LogNormal(math.log(0.5), 0.75),
    },
    optimum=kaplan_steps_optimum,
    excess=kaplan_steps_excess,
    derived=kaplan_steps_derived,
    group_scales={"alpha_n": _EXPONENT_GROUP_SCALE, "alpha_s": _EXPONENT_GROUP_SCALE},
    formula="L = (N_c/N)^alpha_N + (S_c/S)^alpha_S  (S: tokens at a fixed batch)",
)
