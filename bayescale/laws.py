r"""Scaling laws as pure JAX functions of log model size and log tokens.

Every law maps parameters ``θ`` (a mapping of name to array, broadcasting against the
data) and ``(log N, log D)`` to ``log L``. Working in log space keeps float32 safe at
N ≈ 1e12 and C ≈ 1e26.

Chinchilla (Hoffmann et al. 2022, eq. 2)
----------------------------------------

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

(Set the derivative of ``A N^{-α} + B (C/6N)^{-β}`` in N to zero.)

Kaplan, joint form (Kaplan et al. 2020, eq. 1.5)
------------------------------------------------

.. math::

    L(N, D) = \left[\left(\frac{N_c}{N}\right)^{\alpha_N/\alpha_D}
              + \frac{D_c}{D}\right]^{\alpha_D},
    \qquad
    \log L = \alpha_D \operatorname{logaddexp}\!\left(
        \tfrac{\alpha_N}{\alpha_D}(\log N_c - \log N),\; \log D_c - \log D\right)

with parameters ``log_nc``, ``alpha_n``, ``log_dc``, ``alpha_d``. Kaplan's fit on WebText2
(nats/token): ``N_c = 6.4e13``, ``α_N = 0.076``, ``D_c = 1.8e13``, ``α_D = 0.095``. There is
no irreducible term: the loss goes to zero as ``N, D → ∞``.

Kaplan, step form (Kaplan et al. 2020, eq. 1.6 and App. B.4)
------------------------------------------------------------

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

Optima of the Kaplan laws under ``C = 6ND``
-------------------------------------------

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

Both are checked against a numeric argmin in the tests. Laws without a closed form are
optimised numerically (:func:`bayescale.optimum.numeric_optimum`).

Reparameterisation (``shear``)
------------------------------

A law also names, for its intercepts, the exponent and the data axis they pair with
(``shear``): the sampler works with ``a − α·m_N`` instead of ``a`` (``m_N`` the mean log N
of the fitted data), which decorrelates each intercept from its exponent. The shear has
unit Jacobian and the prior is still evaluated on ``a``, so the posterior is unchanged.

It helps only where the log-loss depends on the intercept through ``a − α·log x``, as in
Chinchilla. In the Kaplan laws a term is ``α(log N_c − log N)``: the exponent multiplies
the intercept, so ``a − α·m`` is not the quantity the data pin down; that quantity,
``α(log N_c − m)``, is a nonlinear change of variables (Jacobian ``α``), which the linear
shear cannot express. Shifting ``log N_c`` by the constant ``m`` instead would be a pure
translation, which NUTS (with an adapted mass matrix) does not notice. The Kaplan laws
therefore use no shear; the dense mass matrix takes up the (near-linear) correlation of
``log N_c`` with ``α_N``.

Writing your own law
--------------------

Give :func:`register_law` a :class:`Law` with a pure-JAX ``log_loss(theta, log_n, log_d)``
and a default prior per parameter; see its docstring for an example.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from numpyro.distributions.transforms import biject_to

from bayescale.errors import InputError, InputTypeError

LOG6 = math.log(6.0)

Theta = Mapping[str, jnp.ndarray]


@dataclass(frozen=True)
class Law:
    """A scaling law: its parameters, default priors and log-loss function.

    Parameters
    ----------
    name : registry name.
    params : parameter names, in the order they are reported.
    log_loss : ``f(theta, log_n, log_d) -> log L``, pure JAX.
    priors : ``{param: factory}``; each factory returns a NumPyro distribution (factories,
        so that no JAX array is made at import). A distribution itself is accepted too
        and wrapped in a factory.
    optimum : optional closed form ``f(theta, log_c) -> (log N_opt, log D_opt)`` under
        ``C = 6ND``; laws without one are optimised numerically.
    loss : optional ``f(theta, log_n, log_d) -> L``, the law in linear space, equal to
        ``exp(log_loss)``: where it is cheaper (no log-sum-exp), the planning queries use
        it for the loss values they return (no gradients are taken through it).
    shear : ``{intercept: (exponent, axis)}`` with axis ``"n"`` or ``"d"``; use it only
        where ``log_loss`` depends on the intercept through ``intercept − exponent·log x``
        (see the module docstring).
    formula : the law in one line, for reports.
    """

    name: str
    params: tuple[str, ...]
    log_loss: Callable
    priors: Mapping[str, Callable[[], dist.Distribution]]
    optimum: Callable | None = None
    loss: Callable | None = None
    shear: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    formula: str = ""

    def transform(self, name: str):
        """The bijection from the real line onto parameter ``name``'s domain (the support of
        its default prior): identity for real parameters, ``exp`` for positive ones."""
        return biject_to(self.priors[name]().support)

    def __post_init__(self):
        object.__setattr__(self, "params", tuple(self.params))
        if not self.params or len(set(self.params)) != len(self.params):
            raise InputError(f"law {self.name!r} needs distinct parameter names, got "
                             f"{list(self.params)}.")
        if not callable(self.log_loss):
            raise InputTypeError(f"law {self.name!r}: log_loss must be a function "
                            f"(theta, log_n, log_d) -> log L, got {type(self.log_loss).__name__}.")
        for name in ("optimum", "loss"):
            if getattr(self, name) is not None and not callable(getattr(self, name)):
                raise InputTypeError(f"law {self.name!r}: {name} must be a function or None, got "
                                f"{type(getattr(self, name)).__name__}.")
        missing = set(self.params) - set(self.priors)
        if missing:
            raise InputError(f"law {self.name!r} has no default prior for {sorted(missing)}.")
        unknown = set(self.priors) - set(self.params)
        if unknown:
            raise InputError(f"law {self.name!r} has priors for {sorted(unknown)}, which are "
                             f"not among its parameters {list(self.params)}.")
        for intercept, pair in self.shear.items():
            exponent, axis = pair
            if intercept not in self.params or exponent not in self.params:
                raise InputError(f"law {self.name!r}: shear {intercept!r}: ({exponent!r}, "
                                 f"{axis!r}) names a parameter not in {list(self.params)}.")
            if exponent in self.shear:
                raise InputError(f"law {self.name!r}: the exponent {exponent!r} of a shear "
                                 "cannot itself be sheared.")
            if axis not in ("n", "d"):
                raise InputError(f"law {self.name!r}: shear axis must be 'n' or 'd', got "
                                 f"{axis!r}.")
        priors = {k: _factory(v) for k, v in self.priors.items()}
        object.__setattr__(self, "priors", MappingProxyType(priors))
        object.__setattr__(self, "shear", MappingProxyType(dict(self.shear)))


def _factory(prior) -> Callable[[], dist.Distribution]:
    """A prior factory from a factory or a distribution."""
    if isinstance(prior, dist.Distribution):
        return lambda: prior
    if not callable(prior):
        raise InputTypeError(f"a prior must be a numpyro distribution or a function returning one, "
                        f"got {type(prior).__name__}.")
    return prior


def chinchilla_log_loss(theta: Theta, log_n, log_d):
    """``log(E + A/N^α + B/D^β)`` as one three-term log-sum-exp: shifted by the largest
    term (held constant for gradients, as in ``logsumexp``), three exponentials and one log,
    where two nested ``logaddexp`` need two of each."""
    terms = (theta["e"], theta["a"] - theta["alpha"] * log_n, theta["b"] - theta["beta"] * log_d)
    top = jax.lax.stop_gradient(jnp.maximum(jnp.maximum(terms[0], terms[1]), terms[2]))
    return top + jnp.log(jnp.exp(terms[0] - top) + jnp.exp(terms[1] - top)
                         + jnp.exp(terms[2] - top))


def chinchilla_loss(theta: Theta, log_n, log_d):
    """``E + A/N^α + B/D^β`` itself: three exponentials, no log-sum-exp (planning outputs;
    the sampler uses :func:`chinchilla_log_loss`). Every term is positive, so float32 stays
    accurate; a term beyond float range is ``inf``, as the loss it stands for."""
    return (jnp.exp(theta["e"]) + jnp.exp(theta["a"] - theta["alpha"] * log_n)
            + jnp.exp(theta["b"] - theta["beta"] * log_d))


def chinchilla_optimum(theta: Theta, log_c):
    """Closed-form ``(log N_opt, log D_opt)`` at compute ``C = exp(log_c)`` with ``C = 6ND``."""
    alpha, beta = theta["alpha"], theta["beta"]
    log_g = (jnp.log(alpha) + theta["a"] - jnp.log(beta) - theta["b"]) / (alpha + beta)
    log_half = log_c - LOG6
    log_n = log_g + beta / (alpha + beta) * log_half
    return log_n, log_half - log_n


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
    shear={"a": ("alpha", "n"), "b": ("beta", "d")},
    formula="L = E + A/N^alpha + B/D^beta",
)



def kaplan_log_loss(theta: Theta, log_n, log_d):
    """``log [(N_c/N)^(α_N/α_D) + D_c/D]^α_D`` as ``α_D·logaddexp(...)``."""
    alpha_d = theta["alpha_d"]
    return alpha_d * jnp.logaddexp(theta["alpha_n"] / alpha_d * (theta["log_nc"] - log_n),
                                   theta["log_dc"] - log_d)


def kaplan_optimum(theta: Theta, log_c):
    """Closed-form ``(log N_opt, log D_opt)`` of the joint Kaplan law under ``C = 6ND``."""
    k = theta["alpha_n"] / theta["alpha_d"]
    log_half = log_c - LOG6
    log_n = (jnp.log(k) + k * theta["log_nc"] - theta["log_dc"] + log_half) / (1.0 + k)
    return log_n, log_half - log_n


# Weakly informative defaults shared by the two Kaplan forms. Neither has an irreducible
# term, so the exponents come out small and the scales N_c, D_c lie far beyond the data.
#  alpha_n (and alpha_d): Kaplan's 0.076 and 0.095; other corpora and tokenizers give about
#    0.05–0.3 for this form. LogNormal(log 0.1, 0.75) puts 95% on [0.023, 0.43].
#  log_nc: N_c is where the N term equals 1 nat, log N_c = log N + log(L_N)/α_N. For models
#    of 1e6–1e11 parameters at 1.5–6 nats and α_N in 0.05–0.3 that spans about 15–60;
#    Kaplan's 6.4e13 is 31.8. Normal(30, 10) puts 95% on [10, 50].
#  log_dc: by the same argument (D of 1e8–1e13 tokens), Kaplan's 1.8e13 is 30.5;
#    Normal(30, 10).
_KAPLAN_ALPHA = (math.log(0.1), 0.75)
_KAPLAN_LOG_SCALE = (30.0, 10.0)

KAPLAN = Law(
    name="kaplan",
    params=("log_nc", "alpha_n", "log_dc", "alpha_d"),
    log_loss=kaplan_log_loss,
    priors={
        "log_nc": lambda: dist.Normal(*_KAPLAN_LOG_SCALE),
        "alpha_n": lambda: dist.LogNormal(*_KAPLAN_ALPHA),
        "log_dc": lambda: dist.Normal(*_KAPLAN_LOG_SCALE),
        "alpha_d": lambda: dist.LogNormal(*_KAPLAN_ALPHA),
    },
    optimum=kaplan_optimum,
    shear={},  # exponents multiply the intercepts: no linear shear applies (module docstring)
    formula="L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D",
)


def kaplan_steps_log_loss(theta: Theta, log_n, log_d):
    """``log[(N_c/N)^α_N + (S_c/S)^α_S]`` with ``S`` on the data axis, as a logaddexp."""
    return jnp.logaddexp(theta["alpha_n"] * (theta["log_nc"] - log_n),
                         theta["alpha_s"] * (theta["log_sc"] - log_d))


def kaplan_steps_optimum(theta: Theta, log_c):
    """Closed-form ``(log N_opt, log D_opt)`` of the step-form Kaplan law under ``C = 6ND``
    (``D = S`` in tokens at a fixed batch)."""
    alpha_n, alpha_s = theta["alpha_n"], theta["alpha_s"]
    log_half = log_c - LOG6
    log_n = (jnp.log(alpha_n) - jnp.log(alpha_s) + alpha_n * theta["log_nc"]
             - alpha_s * (theta["log_sc"] - log_half)) / (alpha_n + alpha_s)
    return log_n, log_half - log_n


# Weakly informative defaults (alpha_n and log_nc as for KAPLAN above):
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
        "log_nc": lambda: dist.Normal(*_KAPLAN_LOG_SCALE),
        "alpha_n": lambda: dist.LogNormal(*_KAPLAN_ALPHA),
        "log_sc": lambda: dist.Normal(16.0, 8.0),
        "alpha_s": lambda: dist.LogNormal(math.log(0.5), 0.75),
    },
    optimum=kaplan_steps_optimum,
    shear={},  # α_N(log N_c − log N) is a product, not a shear of an intercept
    formula="L = (N_c/N)^alpha_N + (S_c/S)^alpha_S  (S: tokens at a fixed batch)",
)

_REGISTRY: dict[str, Law] = {law.name: law for law in (CHINCHILLA, KAPLAN, KAPLAN_STEPS)}


def register_law(law: Law, overwrite: bool = False) -> Law:
    """Add a user law to the registry so that ``fit(..., law=name)`` and loading find it.

    A law is a pure-JAX function ``log_loss(theta, log_n, log_d) -> log L`` (elementwise,
    broadcasting ``theta`` against the data; it must accept ``log_d`` even if it ignores
    it) plus a default prior per parameter. Work in log space (``jnp.logaddexp``) so that
    float32 stays accurate. Without a closed-form ``optimum``, the compute-optimal
    allocation is found numerically. For example, a pure power law in model size:

    >>> import jax.numpy as jnp
    >>> import numpyro.distributions as dist
    >>> import bayescale as bs
    >>> def power_log_loss(theta, log_n, log_d):
    ...     # L = E + A / N^alpha; the loss ignores D
    ...     return jnp.logaddexp(theta["e"], theta["a"] - theta["alpha"] * log_n)
    >>> law = bs.register_law(bs.Law(
    ...     name="power_n",
    ...     params=("e", "a", "alpha"),
    ...     log_loss=power_log_loss,
    ...     priors={"e": lambda: dist.Normal(0.5, 1.0), "a": lambda: dist.Normal(6.0, 3.0),
    ...             "alpha": lambda: dist.LogNormal(-1.2, 0.75)},
    ...     shear={"a": ("alpha", "n")},  # a enters as a − α·log N
    ...     formula="L = E + A/N^alpha",
    ... ))
    >>> bs.get_law("power_n") is law
    True

    then ``bs.fit(sweep, law="power_n")``. Registering a name twice raises unless
    ``overwrite=True``.
    """
    if not isinstance(law, Law):
        raise InputTypeError(f"register_law expects a bayescale.Law, got {type(law).__name__}.")
    if law.name in _REGISTRY and not overwrite:
        raise InputError(f"a law named {law.name!r} is registered already; pass overwrite=True.")
    _REGISTRY[law.name] = law
    return law


def get_law(law: str | Law) -> Law:
    """Look a law up by name (or pass a :class:`Law` through)."""
    if isinstance(law, Law):
        return law
    if law not in _REGISTRY:
        raise InputError(f"unknown law {law!r}; registered laws are {sorted(_REGISTRY)}.")
    return _REGISTRY[law]


def available_laws() -> list[str]:
    """Names of the registered laws."""
    return sorted(_REGISTRY)
