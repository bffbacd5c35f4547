r"""Chinchilla's law with a data exponent that depends on model size.

.. math::

    L(N, D) = E + \frac{A}{N^\alpha} + \frac{B}{D^{β(N)}}, \qquad
    β(N) = β + β_N \log\frac{N}{N_0},

    \log L = \operatorname{logsumexp}\big(e,\; a - α \log N,\; b - β(N) \log D\big),

with ``E = exp(e)``, ``A = exp(a)``, ``B = exp(b)``, ``N_0 = 10^9`` parameters (:data:`N0`)
and ``D`` in tokens. ``beta`` is the exponent of a ``10^9``-parameter model, ``beta_n`` its
change per e-fold of ``N``; ``β_N = 0`` is Chinchilla's law. The term
``β_N \log(N/N_0) \log D`` couples size and data, so the loss surface bends in a way no
choice of Chinchilla's five constants can follow. The choice of ``N_0`` only moves ``β``
(``β + β_N \log(N_0'/N_0)`` at another reference), not the law.

Chosen from the bundled data (``docs/priors.md``): on the ``chinchilla`` sweep it beats
Chinchilla's law by 12 (se 7) in PSIS-LOO, and on held-out larger runs it predicts better
on ``porian_rsld`` and ``open_athena_isoflops`` and as well on ``chinchilla``. An exponent
pivoting at ``D = 2·10^10`` tokens instead of one token did worse, and a smoothly broken
power law in ``D`` fitted better but its chains did not agree.

Optimum
-------

No closed form. Along ``C = 6ND`` (``x = log N``, ``h = log(C/6)``) the data term's log is
``b − (β + β_N (x − x_0))(h − x)``, a quadratic in ``x`` with second derivative
``2 β_N``: for ``β_N ≥ 0`` the three terms are convex and so is their log-sum-exp, and
:mod:`bayescale.optimum`'s bisection finds the one minimum. For ``β_N < 0`` (the sign the
bundled sweeps give) the data term is concave, but only slightly: its slope in ``x`` is
``β(N) + β_N (x − h)``, which falls by ``2|β_N|`` per e-fold of ``N``;
``tests/test_more_laws.py`` checks the numeric optimum against a brute-force grid on prior
draws, and ``docs/priors.md`` states how often the loss along the constraint has more than
one minimum.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from bayescale.laws.chinchilla import CHINCHILLA
from bayescale.laws.law import Law, Theta

N0 = 1e9
"""The model size at which ``beta`` is the data exponent, in parameters."""
LOG_N0 = math.log(N0)


def beta_n_log_loss(theta: Theta, log_n, log_d):
    """``log(E + A/N^α + B/D^β(N))`` as one three-term log-sum-exp, shifted by the largest
    term (held constant for gradients, as in ``logsumexp``)."""
    exponent = theta["beta"] + theta["beta_n"] * (log_n - LOG_N0)
    terms = (theta["e"], theta["a"] - theta["alpha"] * log_n, theta["b"] - exponent * log_d)
    top = jax.lax.stop_gradient(jnp.maximum(jnp.maximum(terms[0], terms[1]), terms[2]))
    return top + jnp.log(
        jnp.exp(terms[0] - top) + jnp.exp(terms[1] - top) + jnp.exp(terms[2] - top)
    )


def beta_n_derived(theta: Theta) -> dict:
    """``E``, ``A``, ``B`` on their natural scale and ``beta_1e11``, the data exponent of a
    ``10^11``-parameter model."""
    return {
        "E": np.exp(theta["e"]),
        "A": np.exp(theta["a"]),
        "B": np.exp(theta["b"]),
        "beta_1e11": theta["beta"] + theta["beta_n"] * math.log(100.0),
    }


CHINCHILLA_BETA_N = Law(
    name="chinchilla_beta_n",
    params=("e", "a", "alpha", "b", "beta", "beta_n"),
    log_loss=beta_n_log_loss,
    # Chinchilla's defaults for e, a, alpha, b, beta (bayescale/laws/chinchilla.py), and:
    #  beta_n: 0 is Chinchilla's law. At D ≈ 1e10 tokens (log D ≈ 23) the data term changes
    #    by a factor e^(-23·β_N) per e-fold of N, so |β_N| = 0.01 already moves it by 26% per
    #    e-fold, and β by 0.07 across the three decades of a sweep; Normal(0, 0.01) allows
    #    twice that (2 sd). The bundled sweeps give -0.002 to -0.004 (docs/priors.md).
    priors={**CHINCHILLA.priors, "beta_n": lambda: dist.Normal(0.0, 0.01)},
    derived=beta_n_derived,
    key_quantities=("E", "alpha", "beta", "beta_n"),
    labels={
        **{k: v for k, v in CHINCHILLA.labels.items() if k != "n_opt_exponent"},
        "beta": r"$\beta$ (exponent of $D$ at $N_0$)",
        "beta_n": r"$\beta_N = d\beta/d\log N$",
        "beta_1e11": r"$\beta(10^{11})$",
    },
    # As Chinchilla's, and beta_n by a fraction of its prior scale (it pools as itself).
    group_scales={**CHINCHILLA.group_scales, "beta_n": 0.005},
    shear={"a": ("alpha", "n"), "b": ("beta", "d")},
    # the loss is the sum of the three terms, sampled as Chinchilla's are; the level is
    # exact where log N is 1e9's (elsewhere beta_n shifts the data term), and any level
    # is a change of coordinates with unit Jacobian (bayescale/laws/law.py)
    level=("e", "a", "b"),
    formula="L = E + A/N^alpha + B/D^(beta + beta_n*log(N/1e9))",
)
