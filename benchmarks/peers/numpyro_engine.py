"""Plain NumPyro, written the obvious way.

``NUTS(model)`` with its defaults: diagonal mass matrix, ``init_to_uniform``, target
acceptance 0.8, maximum tree depth 10. ``MCMC``'s default ``chain_method="parallel"``
falls back (with a warning) to running the chains one after another on a single CPU
device, so that is what runs here, spelt out as ``"sequential"``. Float64, as every
engine here. With ``sheared=True`` the intercepts are sampled in bayescale's
parameterisation (:mod:`peers.problem`); nothing else changes, so the difference between
the two runs is the parameterisation alone.

Timing: ``wall`` is ``MCMC.run`` plus fetching the draws; ``compile`` is JAX's own
compile time inside it (:mod:`peers.jax_timing`); ``sampling`` is the rest.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints
from numpyro.infer import MCMC, NUTS

from peers.figures import draw_figures
from peers.jax_timing import compile_clock
from peers.problem import Problem, Settings

FAMILIES = {
    "normal": dist.Normal,
    "lognormal": dist.LogNormal,
    "halfnormal": dist.HalfNormal,
    "gamma": dist.Gamma,
}


def _prior(problem: Problem, name: str) -> dist.Distribution:
    family, *numbers = problem.priors[name]
    return FAMILIES[family](*numbers)


def _intercept(problem: Problem, name: str, exponent, centre, sheared: bool):
    if not sheared:
        return numpyro.sample(name, _prior(problem, name))
    centred = numpyro.sample(f"{name}_c", dist.ImproperUniform(constraints.real, (), ()))
    value = numpyro.deterministic(name, centred + exponent * centre)
    numpyro.factor(f"{name}_prior", _prior(problem, name).log_prob(value))
    return value


def model(log_n, log_d, log_loss, *, problem: Problem, sheared: bool):
    e = numpyro.sample("e", _prior(problem, "e"))
    alpha = numpyro.sample("alpha", _prior(problem, "alpha"))
    beta = numpyro.sample("beta", _prior(problem, "beta"))
    a = _intercept(problem, "a", alpha, problem.centre_n, sheared)
    b = _intercept(problem, "b", beta, problem.centre_d, sheared)
    mu = jnp.logaddexp(e, jnp.logaddexp(a - alpha * log_n, b - beta * log_d))
    sigma = numpyro.sample("sigma", _prior(problem, "sigma"))
    nu = numpyro.sample("nu", _prior(problem, "nu"))
    numpyro.sample("log_loss", dist.StudentT(nu, mu, sigma), obs=log_loss)


def run(problem: Problem, settings: Settings, sheared: bool = False) -> dict:
    numpyro.enable_x64()
    started = time.perf_counter()
    mcmc = MCMC(
        NUTS(model),
        num_warmup=settings.warmup,
        num_samples=settings.draws,
        num_chains=settings.chains,
        chain_method="sequential",
        progress_bar=False,
    )
    with compile_clock() as clock:
        mcmc.run(
            jax.random.PRNGKey(settings.seed),
            problem.log_n,
            problem.log_d,
            problem.log_loss,
            problem=problem,
            sheared=sheared,
            extra_fields=("diverging", "num_steps"),
        )
        draws = jax.device_get(mcmc.get_samples(group_by_chain=True))
        extra = jax.device_get(mcmc.get_extra_fields(group_by_chain=True))
    wall = time.perf_counter() - started
    return {
        "wall_s": wall,
        "compile_s": clock.seconds,
        "sampling_s": wall - clock.seconds,
        "split": "JAX compile events inside MCMC.run; sampling = the rest",
        **clock.figures(),
        "config": {
            "parameterisation": "sheared" if sheared else "plain",
            "mass_matrix": "diagonal",
            "init": "init_to_uniform",
            "chain_method": "sequential",
            "precision": "float64",
        },
        **draw_figures(draws, extra["diverging"], extra["num_steps"]),
    }
