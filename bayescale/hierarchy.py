r"""The hierarchical transform: group values of a law's parameters from a population.

Under partial pooling each varying parameter ``p`` of group ``g`` sits on a real-valued
*pooling scale* ``u_g``, Normal around the population's location with spread ``τ_p``:

.. math::

    u_g \sim \mathcal N(\mathrm{loc}_p, τ_p), \qquad θ_{g,p} = T_p(u_g),

* for an ordinary parameter, ``T_p`` is the law's bijection onto the parameter's domain
  (identity for real parameters, ``exp`` for exponents, so exponents pool as ``log α`` and
  a new group can never draw a negative one) and ``loc_p = T_p⁻¹(μ_p)``;
* for an intercept the law shears (``a`` paired with ``α`` on axis ``N``, centre ``m``),
  the spread sits on the centred intercept: ``u_g = a_g − α_g·m``, ``loc = μ_a − μ_α·m``,
  so groups differ in the loss term at the sweep's typical size, which is what the data
  identify (as ``brms`` places intercept priors at centred predictors). ``μ_α`` is the
  exponent's population mean when it varies too, else its shared value.

Sampled non-centred, ``u_g = loc + τ·z_g`` with ``z_g ~ Normal(0, 1)``; centred, ``u_g``
itself. A new, unseen group draws ``z`` from ``Normal(0, 1)`` per posterior draw. The model
(:mod:`bayescale.model`) and new-group prediction (:meth:`bayescale.Posterior.theta`) both
go through :func:`group_values`, so the two agree draw for draw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bayescale.laws import Law

NEW_GROUP = "new"
"""The label that asks a partial-pooling posterior for an unseen group (a sweep's own group
may not carry it: :func:`bayescale.model_inputs.model_inputs` refuses one)."""


def ordered(law: Law) -> list[str]:
    """Parameters with every sheared intercept after the exponent it pairs with."""
    return [p for p in law.params if p not in law.shear] + [p for p in law.params if p in law.shear]


def population_loc(law: Law, name: str, mu: Mapping, centre: Mapping):
    """``loc`` of parameter ``name`` on its pooling scale, from the population values ``mu``
    (every parameter of the law: population means of varying ones, shared values of the
    others) and the data's ``centre`` (``{"n": m_N, "d": m_D}``)."""
    if name in law.shear:
        exponent, pivot = law.pivot(name, centre)
        return mu[name] - mu[exponent] * pivot
    return law.transform(name).inv(mu[name])


def from_pooling_scale(law: Law, name: str, u, theta: Mapping, centre: Mapping):
    """``θ_name`` from its pooling-scale value ``u``; a sheared intercept needs its group's
    exponent in ``theta``."""
    if name in law.shear:
        exponent, pivot = law.pivot(name, centre)
        return u + theta[exponent] * pivot
    return law.transform(name)(u)


def group_values(
    law: Law, mu: Mapping, vary, centre: Mapping, draw: Callable[[str, object], object]
) -> dict:
    """Every parameter of a group: ``mu``'s value for the shared ones, and for each in
    ``vary`` the value whose pooling-scale ``u = draw(name, loc)``. ``draw`` decides how
    ``u`` comes about: sampled by the model (centred or non-centred), or ``loc + τ·z`` for
    a new group."""
    theta = dict(mu)
    for name in ordered(law):
        if name in vary:
            u = draw(name, population_loc(law, name, mu, centre))
            theta[name] = from_pooling_scale(law, name, u, theta, centre)
    return theta
