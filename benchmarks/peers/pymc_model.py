"""The flagship model in PyMC, as a PyMC user writes it (:mod:`peers.problem` has the maths).

``build(problem, sheared=True)`` samples the intercepts in bayescale's parameterisation
instead: flat ``a_c``, ``b_c``, with ``a = a_c + α·m_N`` and ``b = b_c + β·m_D`` as
deterministics and their priors added as potentials. PyMC samples the positive
parameters (α, β, σ, ν) on the log scale, as the other engines do.
"""

from __future__ import annotations

import pymc as pm
import pytensor.tensor as pt

from peers.problem import Problem

FAMILIES = {
    "normal": (pm.Normal, ("mu", "sigma")),
    "lognormal": (pm.LogNormal, ("mu", "sigma")),
    "halfnormal": (pm.HalfNormal, ("sigma",)),
    "gamma": (pm.Gamma, ("alpha", "beta")),
}


def _prior(problem: Problem, name: str):
    """The PyMC class and keyword arguments of the prior of ``name``."""
    family, *numbers = problem.priors[name]
    cls, names = FAMILIES[family]
    return cls, dict(zip(names, numbers, strict=True))


def _variable(problem: Problem, name: str):
    cls, kwargs = _prior(problem, name)
    return cls(name, **kwargs)


def _intercept(problem: Problem, name: str, exponent, centre: float, sheared: bool):
    if not sheared:
        return _variable(problem, name)
    value = pm.Deterministic(name, pm.Flat(f"{name}_c") + exponent * centre)
    cls, kwargs = _prior(problem, name)
    pm.Potential(f"{name}_prior", pm.logp(cls.dist(**kwargs), value))
    return value


def build(problem: Problem, sheared: bool = False) -> pm.Model:
    with pm.Model() as model:
        e = _variable(problem, "e")
        alpha = _variable(problem, "alpha")
        beta = _variable(problem, "beta")
        a = _intercept(problem, "a", alpha, problem.centre_n, sheared)
        b = _intercept(problem, "b", beta, problem.centre_d, sheared)
        mu = pt.logaddexp(e, pt.logaddexp(a - alpha * problem.log_n, b - beta * problem.log_d))
        sigma = _variable(problem, "sigma")
        nu = _variable(problem, "nu")
        pm.StudentT("log_loss", nu=nu, mu=mu, sigma=sigma, observed=problem.log_loss)
    return model
