r"""The compute-optimal allocation of any law, found numerically.

Under ``C = 6ND`` write ``x = log N`` and ``h = log(C/6)``, so that ``log D = h − x``.
The optimum is

.. math::

    x^* = \arg\min_{x \in [x_{lo},\, x_{hi}]} g(x), \qquad g(x) = \log L(x,\; h - x;\; θ),

searched in the bracket

.. math::

    x_{lo} = \log 10^3, \qquad x_{hi} = h - \log 10^2,

i.e. at least a thousand parameters and at least a hundred tokens: wide enough to hold
the optimum of any law fitted to a language-model sweep at any budget from ``6e5``
FLOPs up (the bracket is empty below that, and the result is NaN).

The search is bisection on the sign of the slope ``g'(x)``, taken exactly by forward-mode
autodiff (``jax.jvp``) of the law along the constraint: if ``g'(mid) > 0`` the minimum lies
left of ``mid``, otherwise right. ``BISECTION_STEPS = 64`` halvings shrink a bracket of
width at most about 65 (``C`` up to 1e30) below 1e-17, so the result is the argmin to
the precision of the dtype: about 1e-12 in log N in float64 and a few float32 ulps
(about 1e-5 at log N ≈ 25) in float32. Comparing values of ``g`` (golden section) could
do no better than ``√eps`` in ``x``, because ``g`` is flat (quadratic) at its minimum
(``3e-4`` in float32); the slope crosses zero linearly, so its sign resolves ``x`` to
``eps``.

Bisection on the slope finds *the* minimum when ``g`` is unimodal on the bracket. For the
built-in laws ``g`` is convex: each is (a positive multiple of) a log-sum-exp of affine
functions of ``x`` — Chinchilla ``logsumexp(e, a − αx, b − β(h − x))``, Kaplan
``α_D·logaddexp(k(log N_c − x), log D_c − h + x)``, Kaplan steps
``logaddexp(α_N(log N_c − x), α_S(log S_c − h + x))`` — and log-sum-exp is convex and
non-decreasing in each argument. For a user law that is not unimodal along the
constraint the result is a local minimum. Where the minimum lies outside the bracket
(e.g. a law that ignores ``D``, whose loss falls with ``N`` forever) the nearer edge is
returned; :func:`bracket` gives the edges so that callers can detect that.

Everything runs in one jitted ``lax.fori_loop``, vectorized over whatever shape ``θ`` and
``log C`` broadcast to (posterior draws × budgets), in the dtype of the inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

import jax
import jax.numpy as jnp

from bayescale.bracket import BISECTION_STEPS, LOG6, bracket
from bayescale.errors import InputError
from bayescale.laws.law import Law, get_law


def numeric_optimum(law: str | Law, theta: Mapping, log_c, steps: int = BISECTION_STEPS):
    """``(log N_opt, log D_opt)`` minimizing ``law`` along ``C = 6ND``, per draw and budget.

    Parameters
    ----------
    law : a :class:`~bayescale.laws.Law` or a registered name.
    theta : ``{param: array}`` for the law's parameters, e.g. shape ``(chain, draw, 1)``.
    log_c : log compute in FLOPs, e.g. shape ``(1, 1, budgets)``.
    steps : bisection halvings (the default resolves ``log N`` to the dtype's precision).

    Returns arrays of the broadcast shape of ``theta`` and ``log_c``, in their dtype
    (float64 only with ``jax_enable_x64``). NaN where the budget is below ``6e5`` FLOPs
    (empty bracket) or the law is not finite at the optimum.
    """
    law = get_law(law)
    missing = [p for p in law.params if p not in theta]
    if missing:
        raise InputError(
            f"theta lacks the {law.name} parameter(s) {missing}; expected {list(law.params)}."
        )
    values = [theta[p] for p in law.params]
    dtype = jnp.result_type(float, *values, log_c)
    theta = {p: jnp.asarray(v, dtype) for p, v in zip(law.params, values, strict=True)}
    return search(law.log_loss, theta, jnp.asarray(log_c, dtype), int(steps))


@partial(jax.jit, static_argnums=(0, 3))
def search(log_loss, theta, log_c, steps: int = BISECTION_STEPS):
    """The search behind :func:`numeric_optimum`, without its checks and casts: ``log_loss``
    is static (one compilation per law function, dtype and shape), ``theta`` and ``log_c``
    are arrays. Callable inside other jitted functions."""
    shape = jnp.broadcast_shapes(log_c.shape, *(v.shape for v in theta.values()))
    lo, hi = (jnp.broadcast_to(edge, shape) for edge in bracket(log_c))
    log_half = jnp.broadcast_to(log_c - LOG6, shape)

    def along(x):  # log L on the constraint, elementwise in x
        return log_loss(theta, x, log_half - x)

    def halve(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        _, slope = jax.jvp(along, (mid,), (jnp.ones_like(mid),))
        rising = slope > 0
        return jnp.where(rising, lo, mid), jnp.where(rising, mid, hi)

    lo_end, hi_end = jax.lax.fori_loop(0, steps, halve, (lo, hi))
    log_n = 0.5 * (lo_end + hi_end)
    ok = (hi >= lo) & jnp.isfinite(along(log_n))
    log_n = jnp.where(ok, log_n, jnp.nan)
    return log_n, log_half - log_n
