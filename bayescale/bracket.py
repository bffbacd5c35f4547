"""Where compute-optimal searches look: the constraint ``C = 6ND`` and the bracket in
``log N`` that every numeric optimum searches (:mod:`bayescale.optimum`, and laws that
search on their own).

With ``h = log(C/6)``, ``log D = h − log N``. The bracket holds at least a thousand
parameters and at least a hundred tokens, ``[log 10^3, h − log 10^2]``: wide enough for the
optimum of any law fitted to a language-model sweep at any budget from ``6e5`` FLOPs up
(below that the bracket is empty). ``BISECTION_STEPS = 64`` halvings shrink a bracket of
width at most about 65 (``C`` up to 1e30) below 1e-17, the resolution of float64.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

LOG6 = math.log(6.0)
MIN_PARAMS = 1e3
MIN_TOKENS = 1e2
BISECTION_STEPS = 64

LOG_MIN_PARAMS = math.log(MIN_PARAMS)
LOG_MIN_TOKENS = math.log(MIN_TOKENS)


def bracket(log_c):
    """The search interval ``(log N_lo, log N_hi)`` in log N at compute ``exp(log_c)``."""
    log_c = jnp.asarray(log_c)
    return jnp.full_like(log_c, LOG_MIN_PARAMS), log_c - LOG6 - LOG_MIN_TOKENS
