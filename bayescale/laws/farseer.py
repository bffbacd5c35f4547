r"""Farseer's law (Li et al. 2025, arXiv:2506.10972), whose data exponent depends on N.

.. math::

    L(N, D) = e^{s N^q + S} + e^{B N^b + Q}\, D^{-e^{A N^a + E}},

``N`` in parameters and ``D`` in tokens: a size term ``U(N) = e^{s N^q + S}``, and a data
term whose coefficient ``B(N) = e^{B N^b + Q}`` and exponent ``β(N) = e^{A N^a + E}`` both
change with the model size. The form is not invariant to the unit of ``D`` (an exponent
that varies with ``N`` pivots the data term about ``D = 1``), so the unit is part of the
law: tokens, as written.

Sampled coordinates
-------------------

The paper's nine constants are hard to sample: ``s`` and ``q`` enter as a product (the data
pin ``s·q``, the slope, and leave a ridge along it), at ``q → 0`` the term degenerates
(``s N^q + S → s + S + s·q·log N``), and ``B(N)`` is the data term at one token, ten
decades from any run: a change of 0.04 in ``β(N)`` needs a factor of e in ``B(N)`` to
leave the data term at ``2·10^10`` tokens as it was, so the two are tightly coupled. The
law is sampled in equivalent local coordinates at ``N_0 = 10^9`` parameters and
``D_0 = 2·10^10`` tokens (:data:`N0`, :data:`D0`: 20 tokens per parameter), with
``x = log(N/N_0)`` and the Box–Cox transform ``bc(x, p) = (e^{p x} − 1)/p`` (``= x`` at
``p = 0``, smooth through it):

.. math::

    \log U(N) &= u - α\, \mathrm{bc}(x, q), \\
    β(N) &= β_0 \exp\!\big((γ/β_0)\, \mathrm{bc}(x, -f_β)\big), \\
    \log B(N) &= v + β_0 \log D_0 + (κ + γ \log D_0)\, \mathrm{bc}(x, -f_B), \\
    \log L &= \operatorname{logaddexp}\!\big(\log U(N),\; \log B(N) - β(N) \log D\big).

Each is the paper's term exactly (``s N^q + S`` is an affine function of ``(N/N_0)^q``,
i.e. of ``bc(x, q)``; likewise ``B N^b + Q`` and ``A N^a + E``), with readable
parameters:

* ``u = log U(N_0)``, the log loss of a ``10^9``-parameter model trained on unlimited
  data; ``alpha = −d log U/d log N`` at ``N_0``, the size term's local slope; ``q``, its
  curvature: ``q < 0`` flattens to a floor ``e^S`` (Chinchilla's ``E + A/N^α`` has the
  same slope and curvature at ``N_0`` with ``q = −α E/U(N_0)``), ``q > 0`` bends down
  with no floor;
* ``v``, the log data term at ``(N_0, D_0)``; ``kappa``, its slope in ``log N`` at ``D_0``
  (0: the data term at ``D_0`` does not change with ``N``, as in Chinchilla's law);
* ``beta = β(N_0)``; ``gamma = dβ/d log N`` at ``N_0`` (0: a constant exponent);
* ``fade_beta = −a ≥ 0`` and ``fade_b = −b ≥ 0``: the rates (per e-fold of ``N``) at which
  the changes of ``β(N)`` and ``B(N)`` level off toward large models.

The fades are positive by assumption: the paper's form with ``a > 0`` sends ``β(N)`` to 0
or to infinity faster than any power of ``N`` once past the data, and the law's loss at a
fixed budget then keeps falling toward the largest models. Fitted to the bundled
``chinchilla`` sweep with ``a`` and ``b`` free in sign (``Normal(0, 0.15)`` each, the other
priors as here; 4 chains × 500 draws), ``a = −0.005 ± 0.064`` and, in a fifth of the
draws, the compute-optimal model at every budget from ``10^18`` to ``10^24`` FLOPs is the
largest the search allows, trained on 100 tokens. With ``a, b < 0``, ``β(N)`` and ``B(N)``
level off at finite values (``β_∞ = β_0 e^{γ/(β_0 f_β)}``).

Back to the paper's constants (``N`` in parameters, ``D`` in tokens;
:func:`farseer_derived`), and from them (:func:`farseer_theta`), with
``κ_1 = κ + γ log D_0``:

.. math::

    s = -\frac{α}{q} N_0^{-q},\ S = u + \frac{α}{q};\quad
    B = \frac{κ_1}{b} N_0^{-b},\ Q = v + β_0 \log D_0 - \frac{κ_1}{b};\quad
    A = \frac{γ}{β_0 a} N_0^{-a},\ E = \log β_0 - \frac{γ}{β_0 a}.

With ``κ = γ = 0`` the data term is Chinchilla's ``B/D^β``, and with ``q → −α`` the size
term is close to ``E + A/N^α`` (equal to first order). No shear: ``v`` and ``kappa`` sit at
``D_0`` already, inside most sweeps (the pivot moves the sampler's coordinates, not the
law).

Optimum
-------

No closed form, and ``log L`` need not be unimodal along ``C = 6ND`` (the curvatures can
make a second minimum at sizes far from the data). Bisection on the slope, which assumes
one minimum, would return whichever minimum its halvings reach, so the law brings its
own optimum (:func:`farseer_optimum`): the loss at :data:`SCAN_POINTS` evenly spaced
``log N`` across the bracket of :mod:`bayescale.optimum`, then bisection on the exact
slope in the two cells beside the lowest point. That is the global minimum for any law
whose minima lie at least a cell apart (a cell is at most half an e-fold of ``N`` at
``C ≤ 10^30``); where the lowest point is the bracket's edge, the edge, as
:mod:`bayescale.optimum` returns. How often the form is not unimodal (on prior draws with
plausible losses and on a fit to the bundled ``chinchilla`` sweep) is in
``docs/priors.md``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from bayescale.bracket import BISECTION_STEPS, LOG6, bracket
from bayescale.laws.law import Law, Theta

N0 = 1e9
"""The reference model size of the sampled coordinates, in parameters."""
D0 = 2e10
"""The reference token count of the sampled coordinates (20 tokens per parameter at N0)."""

LOG_N0 = math.log(N0)
LOG_D0 = math.log(D0)
SCAN_POINTS = 129  # log N values scanned along C = 6ND before the bisection
_SERIES = 1e-4  # |p·x| below which bc uses its series: error (p x)³/24 < 1e-13 relative


def box_cox(x, p):
    """``(e^{p x} − 1)/p``, equal to ``x`` at ``p = 0`` and smooth through it, gradients
    included (the series branch never divides by zero)."""
    z = p * x
    small = jnp.abs(z) < _SERIES
    safe = jnp.where(small, 1.0, z)
    ratio = jnp.where(small, 1.0 + z / 2.0 + z * z / 6.0, jnp.expm1(safe) / safe)
    return x * ratio


def _exponent_change(theta: Theta, x):
    """``β(N) − β_0`` at ``x = log(N/N_0)``, without cancellation near ``N_0``."""
    beta = theta["beta"]
    return beta * jnp.expm1(theta["gamma"] / beta * box_cox(x, -theta["fade_beta"]))


def farseer_exponent(theta: Theta, log_n):
    """The data exponent ``β(N)``."""
    return theta["beta"] + _exponent_change(theta, log_n - LOG_N0)


def farseer_log_loss(theta: Theta, log_n, log_d):
    """``log L`` as a ``logaddexp`` of the size term and the data term, each in log space
    and each about ``(N_0, D_0)``: the data term is written as
    ``v + κ_1 bc(x, −f_B) − (β(N) − β_0) log D_0 − β(N) log(D/D_0)``, which keeps its
    terms of order one."""
    x = log_n - LOG_N0
    log_u = theta["u"] - theta["alpha"] * box_cox(x, theta["q"])
    slope = theta["kappa"] + theta["gamma"] * LOG_D0
    change = _exponent_change(theta, x)
    log_data = (
        theta["v"]
        + slope * box_cox(x, -theta["fade_b"])
        - change * LOG_D0
        - (theta["beta"] + change) * (log_d - LOG_D0)
    )
    return jnp.logaddexp(log_u, log_data)


def farseer_optimum(theta: Theta, log_c):
    """``(log N_opt, log D_opt)`` minimizing the law along ``C = 6ND``: the global minimum
    on the bracket of :mod:`bayescale.optimum` (a scan, then bisection on the exact slope
    beside the lowest point; see the module docstring). Elementwise over the broadcast
    shape of ``theta`` and ``log_c``; NaN where the bracket is empty or the law is not
    finite at the optimum."""
    log_c = jnp.asarray(log_c)
    shape = jnp.broadcast_shapes(log_c.shape, *(jnp.shape(v) for v in theta.values()))
    lo, hi = (jnp.broadcast_to(edge, shape) for edge in bracket(log_c))
    log_half = jnp.broadcast_to(log_c - LOG6, shape)

    def along(x, theta=theta, log_half=log_half):  # log L on the constraint
        return farseer_log_loss(theta, x, log_half - x)

    cell = (hi - lo) / (SCAN_POINTS - 1)
    grid = lo[..., None] + cell[..., None] * jnp.arange(SCAN_POINTS)
    scan = along(grid, {k: jnp.expand_dims(v, -1) for k, v in theta.items()}, log_half[..., None])
    best = jnp.argmin(jnp.where(jnp.isnan(scan), jnp.inf, scan), axis=-1)
    low = jnp.maximum(lo + (best - 1) * cell, lo)
    high = jnp.minimum(lo + (best + 1) * cell, hi)

    def halve(_, bounds):
        low, high = bounds
        mid = 0.5 * (low + high)
        rising = jax.jvp(along, (mid,), (jnp.ones_like(mid),))[1] > 0
        return jnp.where(rising, low, mid), jnp.where(rising, mid, high)

    low, high = jax.lax.fori_loop(0, BISECTION_STEPS, halve, (low, high))
    log_n = 0.5 * (low + high)
    log_n = jnp.where((hi >= lo) & jnp.isfinite(along(log_n)), log_n, jnp.nan)
    return log_n, log_half - log_n


def farseer_theta(s, q, S, B, b, Q, A, a, E) -> dict:
    """The law's parameters from the paper's constants (``N`` in parameters, ``D`` in
    tokens; ``q`` nonzero, ``a`` and ``b`` negative)."""
    beta = math.exp(A * N0**a + E)
    gamma = beta * A * a * N0**a
    return {
        "u": s * N0**q + S,
        "alpha": -s * q * N0**q,
        "q": q,
        "v": B * N0**b + Q - beta * LOG_D0,
        "kappa": B * b * N0**b - gamma * LOG_D0,
        "fade_b": -b,
        "beta": beta,
        "gamma": gamma,
        "fade_beta": -a,
    }


def farseer_derived(theta: Theta) -> dict:
    """The paper's constants ``s, S, B, b, Q, A, a, E`` (``N`` in parameters, ``D`` in
    tokens), ``beta_1e11`` and ``beta_inf``, the data exponents of a ``10^11``-parameter
    model and of the largest models. NumPy, so that it applies to arrays and xarray."""
    q, beta = theta["q"], theta["beta"]
    a, b = -theta["fade_beta"], -theta["fade_b"]
    shift = theta["gamma"] / (beta * a)
    slope = theta["kappa"] + theta["gamma"] * LOG_D0
    return {
        "s": -theta["alpha"] / q * np.exp(-q * LOG_N0),
        "S": theta["u"] + theta["alpha"] / q,
        "B": slope / b * np.exp(-b * LOG_N0),
        "b": b,
        "Q": theta["v"] + beta * LOG_D0 - slope / b,
        "A": shift * np.exp(-a * LOG_N0),
        "a": a,
        "E": np.log(beta) - shift,
        "beta_1e11": beta * np.exp(shift * np.expm1(a * math.log(100.0))),
        "beta_inf": beta * np.exp(-shift),
    }


FARSEER = Law(
    name="farseer",
    params=("u", "alpha", "q", "v", "kappa", "fade_b", "beta", "gamma", "fade_beta"),
    log_loss=farseer_log_loss,
    optimum=farseer_optimum,
    # Defaults, in the local coordinates at N0 = 1e9, D0 = 2e10 (docs/priors.md). The
    # references are Besiroglu et al.'s Chinchilla fit (E=1.82, A=482, α=0.348, B=2085,
    # β=0.366) read at (N0, D0), the bundled sweeps, and this law's fit to the bundled
    # chinchilla sweep (240 points), which the scales below hold within 2 sd.
    #  u: Besiroglu's E + A/N0^α = 2.18 nats, log 0.78; the lowest losses of the 0.5e9-2e9
    #    parameter runs of the bundled sweeps lie at 2.29-2.92 (U(N0) a little below).
    #    Normal(0.8, 0.5) puts 95% on U(N0) in [0.84, 5.9] nats.
    #  alpha: Besiroglu's local slope α·A N0^-α/(E + A N0^-α) = 0.057; Chinchilla-like fits
    #    with α in 0.07-0.8 and a reducible share of 5-50% span about 0.01-0.3.
    #    LogNormal(log 0.06, 0.75) puts 95% on [0.014, 0.26].
    #  q: Besiroglu's law has q = -α·E/U(N0) = -0.29 at N0; a law with a floor has q < 0,
    #    Farseer's form allows q > 0 (no floor). Normal(-0.3, 0.3): 84% on q < 0.
    #  v: Besiroglu's data term at (N0, D0) is 2085·D0^-0.366 = 0.35 nats, log -1.04.
    #    Normal(-1, 1) puts 95% on [0.05, 2.6] nats.
    #  beta: as Chinchilla's β (LogNormal(log 0.3, 0.75): 95% on [0.069, 1.3]).
    #  kappa, gamma: how the data term at D0 and its exponent change with N. Chinchilla's
    #    law has neither (0); the chinchilla sweep measures kappa = 0.23 ± 0.02 and
    #    gamma = -0.063 ± 0.007. Normal(0, 0.2) and Normal(0, 0.04): over the three decades
    #    of a sweep (6.9 e-folds) the data term at D0 may change by up to e^±2.8 and β by
    #    up to ±0.55 (2 sd, before the fade).
    #  fade_b, fade_beta: the changes level off over about 1/fade e-folds of N.
    #    LogNormal(log 0.05, 1) puts 95% on [0.007, 0.36], i.e. over 3-140 e-folds; toward
    #    0 the law is a pure power of N over any realistic range, so the data do not bound
    #    a fade from below and the prior's lower tail sets it (a tail that NUTS samples well
    #    on the log scale). The chinchilla sweep measures fade_b = 0.22 ± 0.02 and
    #    fade_beta = 0.03 ± 0.02.
    priors={
        "u": lambda: dist.Normal(0.8, 0.5),
        "alpha": lambda: dist.LogNormal(math.log(0.06), 0.75),
        "q": lambda: dist.Normal(-0.3, 0.3),
        "v": lambda: dist.Normal(-1.0, 1.0),
        "kappa": lambda: dist.Normal(0.0, 0.2),
        "fade_b": lambda: dist.LogNormal(math.log(0.05), 1.0),
        "beta": lambda: dist.LogNormal(math.log(0.3), 0.75),
        "gamma": lambda: dist.Normal(0.0, 0.04),
        "fade_beta": lambda: dist.LogNormal(math.log(0.05), 1.0),
    },
    derived=farseer_derived,
    key_quantities=("alpha", "q", "beta", "gamma", "beta_inf"),
    labels={
        "u": r"$\log U(N_0)$",
        "alpha": r"$\alpha$ (slope of $U$ at $N_0$)",
        "q": r"$q$ (curvature of $\log U$)",
        "v": r"$\log B(N_0) D_0^{-\beta(N_0)}$",
        "kappa": r"$\kappa$ (slope in $\log N$ of the data term at $D_0$)",
        "fade_b": r"$f_B = -b$",
        "beta": r"$\beta(N_0)$ (exponent of $D$)",
        "gamma": r"$\gamma = d\beta/d\log N$ at $N_0$",
        "fade_beta": r"$f_\beta = -a$",
        "beta_1e11": r"$\beta(10^{11})$",
        "beta_inf": r"$\beta(\infty)$",
        "s": "$s$ (Farseer)",
        "S": "$S$ (Farseer)",
        "B": "$B$ (Farseer)",
        "b": "$b$ (Farseer)",
        "Q": "$Q$ (Farseer)",
        "A": "$A$ (Farseer)",
        "a": "$a$ (Farseer)",
        "E": r"$E$ (Farseer, intercept of $\log\beta$)",
    },
    # Group spreads under partial pooling (pooling scales of bayescale.hierarchy): alpha,
    # beta and the fades pool as logs and differ by ±15-30% between related setups (0.3);
    # u as e does in Chinchilla's law (0.2), v (the log data term at D0) by 0.3; kappa,
    # gamma and q by half their prior scale.
    group_scales={
        "u": 0.2,
        "alpha": 0.3,
        "q": 0.15,
        "v": 0.3,
        "kappa": 0.1,
        "fade_b": 0.3,
        "beta": 0.3,
        "gamma": 0.02,
        "fade_beta": 0.3,
    },
    formula="L = exp(s*N^q + S) + exp(B*N^b + Q) * D^(-exp(A*N^a + E)),  a, b < 0",
)
