r"""Chinchilla's law (Hoffmann et al. 2022, eq. 2).

.. math::

    L(N, D) = E + \frac{A}{N^\alpha} + \frac{B}{D^\beta},
    \qquad
    \log L = \operatorname{logsumexp}(e,\; a - \alpha \log N,\; b - \beta \log D)

with ``E = exp(e)``, ``A = exp(a)``, ``B = exp(b)``. Under ``C = 6ND`` the optimum is
closed-form:

.. math::

    G = \left(\frac{\alpha A}{\beta B}\right)^{1/(\alpha+\beta)},\quad
    N_{opt} = G \left(\frac{C}{6}\right)^{\beta/(\alpha+\beta)},\quad
    D_{opt} = G^{-1} \left(\frac{C}{6}\right)^{\alpha/(\alpha+\beta)}.

(Set the derivative of ``A N^{-α} + B (C/6N)^{-β}`` in N to zero.) So ``N_opt ∝ C^a`` with
``a = β/(α+β)``, reported as ``n_opt_exponent``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from bayescale.bracket import LOG6
from bayescale.laws.law import Law, Theta


def chinchilla_log_loss(theta: Theta, log_n, log_d):
    """``log(E + A/N^α + B/D^β)`` as one three-term log-sum-exp: shifted by the largest
    term (held constant for gradients, as in ``logsumexp``), three exponentials and one log,
    where two nested ``logaddexp`` need two of each."""
    terms = (theta["e"], theta["a"] - theta["alpha"] * log_n, theta["b"] - theta["beta"] * log_d)
    top = jax.lax.stop_gradient(jnp.maximum(jnp.maximum(terms[0], terms[1]), terms[2]))
    return top + jnp.log(
        jnp.exp(terms[0] - top) + jnp.exp(terms[1] - top) + jnp.exp(terms[2] - top)
    )


def chinchilla_loss(theta: Theta, log_n, log_d):
    """``E + A/N^α + B/D^β`` itself: three exponentials, no log-sum-exp (planning outputs;
    the sampler uses :func:`chinchilla_log_loss`). Every term is positive, so float32 stays
    accurate; a term beyond float range is ``inf``, as the loss it stands for."""
    return (
        jnp.exp(theta["e"])
        + jnp.exp(theta["a"] - theta["alpha"] * log_n)
        + jnp.exp(theta["b"] - theta["beta"] * log_d)
    )


def chinchilla_optimum(theta: Theta, log_c):
    """Closed-form ``(log N_opt, log D_opt)`` at compute ``C = exp(log_c)`` with ``C = 6ND``."""
    alpha, beta = theta["alpha"], theta["beta"]
    log_g = (jnp.log(alpha) + theta["a"] - jnp.log(beta) - theta["b"]) / (alpha + beta)
    log_half = log_c - LOG6
    log_n = log_g + beta / (alpha + beta) * log_half
    return log_n, log_half - log_n


def chinchilla_derived(theta: Theta) -> dict:
    """``E``, ``A``, ``B`` on their natural scale and ``n_opt_exponent = β/(α+β)``."""
    return {
        "E": np.exp(theta["e"]),
        "A": np.exp(theta["a"]),
        "B": np.exp(theta["b"]),
        "n_opt_exponent": theta["beta"] / (theta["alpha"] + theta["beta"]),
    }


CHINCHILLA = Law(
    name="chinchilla",
    params=("e", "a", "alpha", "b", "beta"),
    log_loss=chinchilla_log_loss,
    # Weakly informative defaults (see docs/priors.md for the reasoning):
    #  e = log E: irreducible loss of LM cross-entropy in nats sits around 1–3;
    #    Normal(0.5, 1) puts 95% on E in [0.23, 12].
    #  a, b = log A, log B: published fits span about 2 (Kaplan-like exponents) to 8;
    #    Normal(6, 3) covers that with room either side.
    #  alpha, beta: published exponents span 0.07 (Kaplan's α_N) to about 0.8;
    #    LogNormal(log 0.3, 0.75) puts 95% on [0.069, 1.3] and excludes negative exponents.
    priors={
        "e": lambda: dist.Normal(0.5, 1.0),
        "a": lambda: dist.Normal(6.0, 3.0),
        "alpha": lambda: dist.LogNormal(math.log(0.3), 0.75),
        "b": lambda: dist.Normal(6.0, 3.0),
        "beta": lambda: dist.LogNormal(math.log(0.3), 0.75),
    },
    optimum=chinchilla_optimum,
    loss=chinchilla_loss,
    derived=chinchilla_derived,
    key_quantities=("E", "alpha", "beta", "n_opt_exponent"),
    labels={
        "E": "$E$ (nats/token)",
        "A": "$A$ (nats/token)",
        "B": "$B$ (nats/token)",
        "alpha": r"$\alpha$ (exponent of $N$)",
        "beta": r"$\beta$ (exponent of $D$)",
        "n_opt_exponent": r"$a = \beta/(\alpha+\beta)$",
    },
    # Group spreads under partial pooling (pooling scales of bayescale.hierarchy):
    #  e: irreducible losses of related datasets or model families differ by tens of
    #    percent (Gadre et al.'s three corpora: E within about ±15%);
    #  alpha, beta pool as log α: published exponents of related setups differ by about
    #    ±0.05–0.1 around 0.3, i.e. ±15–30%;
    #  a, b pool as centred intercepts: DEFAULT_GROUP_SCALE (0.5).
    group_scales={"e": 0.2, "alpha": 0.3, "beta": 0.3},
    shear={"a": ("alpha", "n"), "b": ("beta", "d")},
    level=("e", "a", "b"),
    formula="L = E + A/N^alpha + B/D^beta",
)
