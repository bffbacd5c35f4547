"""Where bayescale's gradients per draw go: the dense mass matrix NumPyro adapts, side by side.

    python benchmarks/mass_matrix.py [--chains 4 --warmup 1000 --draws 1000]

The flagship problem (bayescale's model of the 240 Chinchilla runs: sheared intercepts,
Student-t likelihood, default priors, float64), sampled by NumPyro's NUTS with a dense
mass matrix three ways, in one process:

* ``adapted``: NumPyro's windowed adaptation with Stan's regularisation, which shrinks
  each window's covariance towards ``1e-3 · I`` (bayescale's setting until it measured
  this; now only for fits with many latent dimensions, see
  :func:`bayescale.nuts.regularize_mass_matrix`);
* ``adapted, unregularised``: the same adaptation with ``regularize_mass_matrix=False``
  (bayescale's setting for this fit);
* ``fixed empirical``: no mass-matrix adaptation; the inverse mass matrix is the
  covariance of the ``adapted`` run's draws in the unconstrained space (the best a dense
  matrix can do here; the step size is still adapted).

Prints gradient evaluations per draw, the adapted step sizes, min bulk ESS over e, a, α,
b, β and ESS per second of the whole ``MCMC.run`` (compile included, the same for all
three), and the posterior's largest correlation and smallest sd in the unconstrained space.
"""

from __future__ import annotations

import argparse
import time
import warnings
from functools import partial

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer import MCMC, NUTS
from numpyro.infer.util import unconstrain_fn

from bayescale.laws import get_law
from bayescale.model import scaling_model
from bayescale.priors import resolve_priors
from bayescale.reference import reference_sweep
from bayescale.starts import init_near_prior_mean

LAW_PARAMS = ("e", "a", "alpha", "b", "beta")


def problem():
    """The flagship model and its data, as :func:`bayescale.fit` builds them."""
    law = get_law("chinchilla")
    data = reference_sweep("chinchilla").arrays()
    model = partial(
        scaling_model,
        law=law,
        priors=resolve_priors(law, "student_t", None, vary=(), runs=False),
        likelihood="student_t",
        pooling="none",
        vary=(),
        n_groups=1,
        n_runs=0,
    )
    kwargs = {k: data[k] for k in ("log_n", "log_d", "log_loss")}
    kwargs["centre"] = {"n": float(data["log_n"].mean()), "d": float(data["log_d"].mean())}
    return model, kwargs


def sample(kernel, kwargs, args) -> tuple[MCMC, dict]:
    mcmc = MCMC(
        kernel,
        num_warmup=args.warmup,
        num_samples=args.draws,
        num_chains=args.chains,
        chain_method="vectorized",
        progress_bar=False,
    )
    started = time.perf_counter()
    mcmc.run(
        jax.random.PRNGKey(args.seed), **kwargs, extra_fields=("num_steps", "adapt_state.step_size")
    )
    seconds = time.perf_counter() - started
    extra = mcmc.get_extra_fields(group_by_chain=True)
    draws = mcmc.get_samples(group_by_chain=True)
    ess = az.ess(az.convert_to_dataset({p: np.asarray(draws[p]) for p in LAW_PARAMS}))
    min_ess = min(float(ess[p]) for p in LAW_PARAMS)
    return mcmc, {
        "gradients per draw": float(np.mean(extra["num_steps"])),
        "step size": float(np.mean(np.asarray(extra["adapt_state.step_size"])[:, -1])),
        "min bulk ESS": min_ess,
        "seconds": seconds,
        "ESS/s": min_ess / seconds,
    }


def unconstrained(mcmc: MCMC, model, kwargs) -> tuple[tuple, np.ndarray]:
    """The sampled sites' names and their draws in the unconstrained space."""
    draws = mcmc.get_samples()
    sites = next(iter(mcmc.last_state.adapt_state.inverse_mass_matrix))
    rows = [
        unconstrain_fn(model, (), kwargs, {k: v[i] for k, v in draws.items()})
        for i in range(len(draws["e"]))
    ]
    return sites, np.stack([np.concatenate([np.ravel(row[s]) for s in sites]) for row in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    warnings.simplefilter("ignore", FutureWarning)
    model, kwargs = problem()

    def nuts(**options):
        return NUTS(model, dense_mass=True, init_strategy=init_near_prior_mean, **options)

    results = {}
    mcmc, results["adapted"] = sample(nuts(), kwargs, args)
    sites, z = unconstrained(mcmc, model, kwargs)
    cov = np.cov(z.T)
    _, results["adapted, unregularised"] = sample(nuts(regularize_mass_matrix=False), kwargs, args)
    fixed = nuts(inverse_mass_matrix={sites: jnp.asarray(cov)}, adapt_mass_matrix=False)
    _, results["fixed empirical"] = sample(fixed, kwargs, args)

    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd) - np.eye(len(sd))
    print(
        f"flagship problem, {args.chains} chains x ({args.warmup} + {args.draws}); "
        f"unconstrained sites {', '.join(sites)}: sd {sd.min():.4f} to {sd.max():.3f}, "
        f"largest |correlation| {np.abs(corr).max():.3f}"
    )
    columns = list(next(iter(results.values())))
    print(f"{'dense mass matrix':<26}" + "".join(f"{c:>20}" for c in columns))
    for name, row in results.items():
        print(f"{name:<26}" + "".join(f"{row[c]:>20.3g}" for c in columns))


if __name__ == "__main__":
    main()
