"""Stan through PyStan 3 (``pip install pystan``), the Stan interface that works here.

PyStan's wheel (through httpstan) ships stanc, the Stan headers and the libraries, so a
model compiles with the system's C++ compiler and nothing else. The other interfaces
fetch Stan itself from GitHub on first use, which the development machine (PyPI only)
cannot reach: see :data:`OTHER_INTERFACES`.

The program (:data:`PROGRAM`) is the model written the obvious way, plain intercepts, and
sampled with Stan's defaults: diagonal mass matrix, inits uniform on (−2, 2) in the
unconstrained space, target acceptance 0.8, maximum tree depth 10; httpstan runs the
chains in ``min(chains, CPUs)`` processes.

Timing: ``compile`` is ``stan.build`` (stanc, then the C++ build; httpstan keeps built
models in its cache under ``$XDG_CACHE_HOME``); ``sampling`` is ``posterior.sample``
(the chains plus moving the draws back to Python). httpstan also caches *fits*, keyed by
program, data and seed, and would hand a rerun its old draws; the cached fits of the
model are deleted before sampling so that every run samples.
"""

from __future__ import annotations

import os
import shutil
import time

import arviz as az
import httpstan.cache
import stan

from peers.figures import idata_figures
from peers.problem import Problem, Settings

PROGRAM = """
data {
  int<lower=1> n;
  vector[n] log_n;
  vector[n] log_d;
  vector[n] log_loss;
  real e_loc;  real<lower=0> e_scale;
  real a_loc;  real<lower=0> a_scale;
  real b_loc;  real<lower=0> b_scale;
  real alpha_loc;  real<lower=0> alpha_scale;
  real beta_loc;  real<lower=0> beta_scale;
  real<lower=0> sigma_scale;
  real<lower=0> nu_shape;  real<lower=0> nu_rate;
}
parameters {
  real e;
  real a;
  real<lower=0> alpha;
  real b;
  real<lower=0> beta;
  real<lower=0> sigma;
  real<lower=0> nu;
}
model {
  vector[n] mu;
  for (i in 1:n)
    mu[i] = log_sum_exp(e, log_sum_exp(a - alpha * log_n[i], b - beta * log_d[i]));
  e ~ normal(e_loc, e_scale);
  a ~ normal(a_loc, a_scale);
  b ~ normal(b_loc, b_scale);
  alpha ~ lognormal(alpha_loc, alpha_scale);
  beta ~ lognormal(beta_loc, beta_scale);
  sigma ~ normal(0, sigma_scale);
  nu ~ gamma(nu_shape, nu_rate);
  log_loss ~ student_t(nu, mu, sigma);
}
"""

OTHER_INTERFACES = {
    "cmdstanpy 1.3.2": "cmdstanpy.install_cmdstan() downloads CmdStan from GitHub: "
    "'Cannot connect to CmdStan github repo'",
    "bridgestan 2.9.0": "bridgestan.compile_model() downloads its sources from GitHub: "
    "'Failed to download BridgeStan 2.9.0 from github.com'",
}
FAMILY_ARGS = {
    "normal": ("loc", "scale"),
    "lognormal": ("loc", "scale"),
    "halfnormal": ("scale",),
    "gamma": ("shape", "rate"),
}


def stan_data(problem: Problem) -> dict:
    data = {
        "n": int(problem.log_n.size),
        "log_n": problem.log_n.tolist(),
        "log_d": problem.log_d.tolist(),
        "log_loss": problem.log_loss.tolist(),
    }
    for name, (family, *numbers) in problem.priors.items():
        data.update(
            {
                f"{name}_{arg}": value
                for arg, value in zip(FAMILY_ARGS[family], numbers, strict=True)
            }
        )
    return data


def run(problem: Problem, settings: Settings) -> dict:
    started = time.perf_counter()
    posterior = stan.build(PROGRAM, data=stan_data(problem), random_seed=settings.seed)
    built = time.perf_counter()
    shutil.rmtree(httpstan.cache.model_directory(posterior.model_name) / "fits", ignore_errors=True)
    cleared = time.perf_counter()
    fit = posterior.sample(
        num_chains=settings.chains, num_warmup=settings.warmup, num_samples=settings.draws
    )
    done = time.perf_counter()
    return {
        "wall_s": done - started - (cleared - built),
        "compile_s": built - started,
        "sampling_s": done - cleared,
        "split": "stan.build | posterior.sample",
        "config": {
            "parameterisation": "plain",
            "mass_matrix": "diagonal",
            "init": "uniform(-2, 2) unconstrained",
            "backend": "Stan (httpstan)",
            "cores": min(settings.chains, os.cpu_count()),
            "precision": "float64",
        },
        "interfaces_not_used": OTHER_INTERFACES,
        **idata_figures(az.from_pystan(posterior=fit)),
    }
