r"""The :class:`Law` type and the registry of laws.

A law owns its maths: the log-loss as a pure JAX function of its parameters ``θ`` (a
mapping of name to array, broadcasting against the data) and ``(log N, log D)``, its
default priors, the quantities users read off it (``E = exp(e)``, the exponent of
``N_opt ∝ C^a``, ...), how its parameters spread across groups under partial pooling,
and, where they exist, closed forms for the compute-optimal allocation and for excess
compute. Code outside a law's definition asks the law; it never asks which law it is.

Working in log space keeps float32 safe at N ≈ 1e12 and C ≈ 1e26.

Reparameterisation (``shear``)
------------------------------

A law also names, for its intercepts, the exponent and the data axis they pair with
(``shear``): the sampler works with ``a − α·m_N`` instead of ``a`` (``m_N`` the mean log N
of the fitted data), which decorrelates each intercept from its exponent. The shear has
unit Jacobian and the prior is still evaluated on ``a``, so the posterior is unchanged.
It helps only where the log-loss depends on the intercept through ``a − α·(log x − o)``,
as in Chinchilla's law (origin ``o = 0``) or a law that measures its intercept at a
reference size (``o = log N_0``); the sampler's centred coordinate is then
``a − α·(m_N − o)`` (:meth:`Law.pivot`). The hierarchical transform
(:mod:`bayescale.hierarchy`) places a sheared intercept's group spread on the same centred
coordinate.

A law whose loss is a sum of positive terms, ``L = E + A/N^α + B/D^β``, names them as
``level``: its irreducible term first, then its sheared intercepts (a law with such a sum
inside it, as the multi-power law's floor ``L_0(N) = E + A_N e^{−α_N x}``, names that
sum's terms, and its level is the sum's log at the centre). At the data's centre
the terms are ``e``, ``a_c = a − α·m_N`` and ``b_c = b − β·m_D`` (logs), and a small ladder
measures their sum and each slope well but the split between them poorly: along the ridge
``E + A_c = const`` the exponent changes with the split, a curved valley (a banana) that a
dense mass matrix cannot straighten. The sampler then works with the level, the shares and
the slopes, which the data measure nearly independently:

.. math::

    \ell = \log(E + A_c + B_c),\quad r_a = a_c − e,\quad r_b = b_c − e,\quad
    s_α = u_α + a_c,\quad s_β = u_β + b_c

(``u`` the unconstrained exponent, ``log α``; ``s_α = \log(α A_c)`` is the log slope
``−∂L/∂\log N`` at the centre). The map to ``(e, a, u_α, b, u_β)`` has unit Jacobian (the
log-sum-exp and its log-ratios have determinant ``Σ softmax = 1``; the rest is
triangular with ones on the diagonal), so the prior is evaluated on the law's parameters
as before, plus the exponents' own ``log |dα/du|``, and the posterior is unchanged.

Conditions of an observed point
-------------------------------

A law's ``log_loss`` is the loss of a *finished* run of ``N`` parameters trained on ``D``
fresh tokens under the law's stated recipe. Some sweeps observe points under other
conditions: a checkpoint part-way through a decaying learning-rate schedule, a run that
repeats its unique tokens. A law that models those conditions says so with
:class:`Conditions`: which per-point inputs it reads from the fitted rows, its log-loss at
those inputs, and the settings of its finished-run form (for example the schedule a
finished run follows) taken from the sweep. The fit evaluates the law at the observed
conditions; every planning query asks the finished-run ``log_loss``.

Writing your own law
--------------------

Give :func:`register_law` a :class:`Law` with a pure-JAX ``log_loss(theta, log_n, log_d)``
and a default prior per parameter; see its docstring for an example. Every planning query,
plot and command then works on it: optima without a closed form are found numerically
(:mod:`bayescale.optimum`), excess compute by bisection (:mod:`bayescale.planning`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from numpyro.distributions.transforms import biject_to

from bayescale.errors import InputError, InputTypeError

DEFAULT_GROUP_SCALE = 0.5
"""Scale of the ``HalfNormal`` prior on a parameter's group spread ``τ`` when its law gives
none: the reducible loss at the typical size differs by up to ~50% between groups."""

Theta = Mapping[str, jnp.ndarray]


@dataclass(frozen=True)
class Conditions:
    """How a law reads points observed under conditions its finished-run form fixes.

    Parameters
    ----------
    inputs
        ``f(frame) -> {name: array}``, the per-point inputs of the fitted rows
        (``frame`` as :attr:`bayescale.Sweep.fit_frame`); arrays whose first axis is the
        point, or the row of a table that points share (which an integer input per point
        indexes, such as the distinct checkpoints of ``multipower``). It validates the
        columns it reads and raises :class:`~bayescale.errors.InputError` naming the
        column, the rows and the fix. A law that reads schedules also takes
        ``logged=``, every row of the sweep, from which a run's logged learning rates
        are read (:func:`bayescale.sweep_schedules.run_schedules`).
    log_loss
        ``f(theta, log_n, log_d, **inputs) -> log L`` at those conditions, pure JAX.
    settings
        ``f(frame) -> {name: value}``, JSON-ready settings of the finished-run form
        that the sweep implies (such as the schedule family its runs used); ``{}`` when
        there are none.
    configure
        ``f(**settings) -> Law``, the law with those settings; stored settings
        rebuild the law when a posterior file is loaded.
    reads_schedules
        whether the inputs place a checkpoint within its run's learning-rate schedule, so
        that a fit uses every checkpoint of a training curve by default; ``False`` for
        inputs that describe finished runs (such as repeated data), fitted on each run's
        final checkpoint by default (:func:`bayescale.curves.select_checkpoints`).
    """

    inputs: Callable
    log_loss: Callable
    settings: Callable = lambda frame: {}
    configure: Callable | None = None
    reads_schedules: bool = True


@dataclass(frozen=True)
class Law:
    """A scaling law: its parameters, default priors, log-loss and what follows from it.

    Parameters
    ----------
    name
        registry name.
    params
        parameter names, in the order they are reported.
    log_loss
        ``f(theta, log_n, log_d) -> log L``, pure JAX, elementwise.
    priors
        ``{param: factory}``; each factory returns a NumPyro distribution (factories,
        so that no JAX array is made at import). A distribution itself is accepted too
        and wrapped in a factory.
    optimum
        optional closed form ``f(theta, log_c) -> (log N_opt, log D_opt)`` under
        ``C = 6ND``; laws without one are optimised numerically.
    loss
        optional ``f(theta, log_n, log_d) -> L``, the law in linear space, equal to
        ``exp(log_loss)``: where it is cheaper (no log-sum-exp), the planning queries use
        it for the loss values they return (no gradients are taken through it).
    excess
        optional closed form ``f(theta, log_c, log_x) -> D_x / D_opt``: the tokens a
        model of ``x·N_opt`` parameters needs to reach the optimal loss at compute
        ``exp(log_c)``, relative to the optimum's (``inf`` where it never does); laws
        without one are solved by bisection.
    derived
        optional ``f(theta) -> {name: value}``, the quantities users read off the
        parameters (``E = exp(e)``, ...), written with NumPy functions so that they apply
        to arrays and ``xarray`` objects alike.
    key_quantities
        names (parameters or derived) that a compact summary shows, such as
        the default pair plot; empty means the parameters.
    labels
        ``{name: label}``, how figures label a parameter or derived quantity
        (matplotlib TeX allowed); a name without a label is shown as it is.
    group_scales
        ``{param: s}``, the scale of the ``HalfNormal(s)`` prior on the group
        spread ``τ_param`` under partial pooling, on the pooling scale of
        :mod:`bayescale.hierarchy`; parameters not named get ``DEFAULT_GROUP_SCALE``.
    shear
        ``{intercept: (exponent, axis)}`` with axis ``"n"`` or ``"d"``, or
        ``(exponent, axis, origin)``; use it only where ``log_loss`` depends on the
        intercept through ``intercept − exponent·(log x − origin)`` (origin 0 unless given;
        see the module docstring).
    level
        the log-terms whose sum is the loss, sampled by level, shares and slopes (see the
        module docstring): first a parameter that is not sheared, then sheared intercepts;
        empty (the default) samples the parameters themselves.
    formula
        the law in one line, for reports.
    conditions
        optional :class:`Conditions`, for laws whose observed points need more
        than ``(N, D)`` (learning-rate schedules, repeated data).
    settings
        the settings of the finished-run form (``Conditions.settings``), stored with
        a posterior; ``{}`` for laws without any.
    """

    name: str
    params: tuple[str, ...]
    log_loss: Callable
    priors: Mapping[str, Callable[[], dist.Distribution]]
    optimum: Callable | None = None
    loss: Callable | None = None
    excess: Callable | None = None
    derived: Callable | None = None
    key_quantities: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    group_scales: Mapping[str, float] = field(default_factory=dict)
    shear: Mapping[str, tuple[str, str, float]] = field(default_factory=dict)
    level: tuple[str, ...] = ()
    formula: str = ""
    conditions: Conditions | None = None
    settings: Mapping = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "params", tuple(self.params))
        object.__setattr__(self, "key_quantities", tuple(self.key_quantities))
        object.__setattr__(self, "level", tuple(self.level))
        if not self.params or len(set(self.params)) != len(self.params):
            raise InputError(
                f"law {self.name!r} needs distinct parameter names, got {list(self.params)}."
            )
        if not callable(self.log_loss):
            raise InputTypeError(
                f"law {self.name!r}: log_loss must be a function "
                f"(theta, log_n, log_d) -> log L, got "
                f"{type(self.log_loss).__name__}."
            )
        for name in ("optimum", "loss", "excess", "derived"):
            if getattr(self, name) is not None and not callable(getattr(self, name)):
                raise InputTypeError(
                    f"law {self.name!r}: {name} must be a function or None, "
                    f"got {type(getattr(self, name)).__name__}."
                )
        missing = set(self.params) - set(self.priors)
        if missing:
            raise InputError(f"law {self.name!r} has no default prior for {sorted(missing)}.")
        unknown = set(self.priors) - set(self.params)
        if unknown:
            raise InputError(
                f"law {self.name!r} has priors for {sorted(unknown)}, which are "
                f"not among its parameters {list(self.params)}."
            )
        unknown = set(self.group_scales) - set(self.params)
        if unknown:
            raise InputError(
                f"law {self.name!r} has group scales for {sorted(unknown)}, "
                f"which are not among its parameters {list(self.params)}."
            )
        self._check_shear()
        self._check_level()
        priors = {k: _factory(v) for k, v in self.priors.items()}
        object.__setattr__(self, "priors", MappingProxyType(priors))
        object.__setattr__(self, "shear", MappingProxyType(dict(self.shear)))
        object.__setattr__(self, "group_scales", MappingProxyType(dict(self.group_scales)))
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))

    def _check_shear(self) -> None:
        full = {}
        for intercept, spec in self.shear.items():
            if not isinstance(spec, tuple | list) or len(spec) not in (2, 3):
                raise InputError(
                    f"law {self.name!r}: shear {intercept!r} must be (exponent, axis) or "
                    f"(exponent, axis, origin), got {spec!r}."
                )
            exponent, axis, origin = (*spec, 0.0) if len(spec) == 2 else spec
            full[intercept] = (exponent, axis, float(origin))
            if intercept not in self.params or exponent not in self.params:
                raise InputError(
                    f"law {self.name!r}: shear {intercept!r}: ({exponent!r}, "
                    f"{axis!r}) names a parameter not in {list(self.params)}."
                )
            if exponent in self.shear:
                raise InputError(
                    f"law {self.name!r}: the exponent {exponent!r} of a shear "
                    "cannot itself be sheared."
                )
            if axis not in ("n", "d"):
                raise InputError(f"law {self.name!r}: shear axis must be 'n' or 'd', got {axis!r}.")
        object.__setattr__(self, "shear", full)

    def _check_level(self) -> None:
        if not self.level:
            return
        first, *rest = self.level
        if first not in self.params or first in self.shear or not rest:
            raise InputError(
                f"law {self.name!r}: level {list(self.level)} must start with a parameter "
                "that is not sheared and go on with at least one sheared intercept."
            )
        unsheared = [name for name in rest if name not in self.shear]
        if unsheared:
            raise InputError(
                f"law {self.name!r}: level names {unsheared}, which are not sheared "
                "intercepts; add them to shear or leave them out of level."
            )

    def pivot(self, intercept: str, centre: Mapping) -> tuple[str, object]:
        """The exponent a sheared ``intercept`` pairs with and where its centred coordinate
        is taken, ``m − origin`` on its axis (``centre`` as ``{"n": m_N, "d": m_D}``): the
        sampler's coordinate is ``intercept − exponent·(m − origin)`` (module docstring)."""
        exponent, axis, origin = self.shear[intercept]
        return exponent, centre[axis] - origin

    def level_params(self) -> tuple[str, ...]:
        """The parameters the level coordinates sample: ``level``'s terms and the exponents
        of its sheared intercepts (none for a law without a ``level``)."""
        return self.level + tuple(self.shear[name][0] for name in self.level[1:])

    def transform(self, name: str):
        """The bijection from the real line onto parameter ``name``'s domain (the support of
        its default prior): identity for real parameters, ``exp`` for positive ones."""
        return biject_to(self.priors[name]().support)

    def quantities(self, theta: Mapping) -> dict:
        """The law's derived quantities of ``theta`` (``{}`` for a law without any). A draw
        far out (``a = 1e151`` in a chain the fit's ConvergenceWarning names as stuck) gives
        ``inf`` or ``NaN`` there, without NumPy's floating-point warnings."""
        if self.derived is None:
            return {}
        with np.errstate(over="ignore", invalid="ignore"):
            return dict(self.derived(theta))

    def label(self, name: str) -> str:
        """How figures label parameter or derived quantity ``name``."""
        return self.labels.get(name, name)

    def log_loss_at(self, theta: Theta, log_n, log_d, inputs: Mapping | None = None):
        """``log L`` at observed points: under their conditions (``inputs``, from
        ``Conditions.inputs``) where given, else the finished-run ``log_loss``."""
        if not inputs:
            return self.log_loss(theta, log_n, log_d)
        if self.conditions is None:
            raise InputError(
                f"law {self.name!r} reads no per-point inputs, got {sorted(inputs)}; "
                "fit a law with conditions (such as 'multipower' for schedules)."
            )
        return self.conditions.log_loss(theta, log_n, log_d, **inputs)

    def configured(self, settings: Mapping) -> Law:
        """The law with its finished-run form set by ``settings`` (itself when empty)."""
        if not settings or dict(settings) == dict(self.settings):
            return self
        if self.conditions is None or self.conditions.configure is None:
            raise InputError(
                f"law {self.name!r} takes no settings, got {sorted(settings)}; the posterior "
                "was fitted with another definition of this law."
            )
        return self.conditions.configure(**settings)

    def group_scale(self, name: str) -> float:
        """Scale of the ``HalfNormal`` prior on parameter ``name``'s group spread."""
        return float(self.group_scales.get(name, DEFAULT_GROUP_SCALE))


def _factory(prior) -> Callable[[], dist.Distribution]:
    """A prior factory from a factory or a distribution."""
    if isinstance(prior, dist.Distribution):
        return lambda: prior
    if not callable(prior):
        raise InputTypeError(
            f"a prior must be a numpyro distribution or a function returning "
            f"one, got {type(prior).__name__}."
        )
    return prior


_REGISTRY: dict[str, Law] = {}


def register_law(law: Law, overwrite: bool = False) -> Law:
    """Add a law to the registry so that ``fit(..., law=name)`` and loading find it.

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


def get_law(law: str | Law, settings: Mapping | None = None) -> Law:
    """Look a law up by name (or pass a :class:`Law` through), configured with
    ``settings`` (:meth:`Law.configured`) when given."""
    if not isinstance(law, Law):
        if law not in _REGISTRY:
            raise InputError(f"unknown law {law!r}; registered laws are {sorted(_REGISTRY)}.")
        law = _REGISTRY[law]
    return law.configured(settings) if settings else law


def available_laws() -> list[str]:
    """Names of the registered laws."""
    return sorted(_REGISTRY)
