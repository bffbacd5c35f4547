"""PyMC's own NUTS on the PyMC model (:mod:`peers.pymc_model`), plain intercepts.

``pm.sample`` with its defaults: ``jitter+adapt_diag`` initialisation, diagonal mass
matrix, target acceptance 0.8, PyTensor's C backend, chains in
``cores = min(chains, CPUs)`` processes (PyMC's default, spelt out).

Timing: ``sampling`` is PyMC's own ``sampling_time`` (tuning and draws, all chains);
``compile`` is the rest of ``pm.sample`` (building and compiling the PyTensor functions,
initialisation, starting the chain processes, and the convergence checks it runs at the
end), so it is an upper bound on compile time.
"""

from __future__ import annotations

import logging
import os
import time

import pymc as pm

from peers.figures import idata_figures
from peers.problem import Problem, Settings
from peers.pymc_model import build


def run(problem: Problem, settings: Settings) -> dict:
    logging.getLogger("pymc").setLevel(logging.ERROR)
    cores = min(settings.chains, os.cpu_count())
    started = time.perf_counter()
    with build(problem):
        idata = pm.sample(
            draws=settings.draws,
            tune=settings.warmup,
            chains=settings.chains,
            cores=cores,
            random_seed=settings.seed,
            progressbar=False,
        )
    wall = time.perf_counter() - started
    sampling = float(idata.posterior.attrs["sampling_time"])
    return {
        "wall_s": wall,
        "compile_s": wall - sampling,
        "sampling_s": sampling,
        "split": "pm.sample − its sampling_time | sampling_time",
        "config": {
            "parameterisation": "plain",
            "mass_matrix": "diagonal",
            "init": "jitter+adapt_diag",
            "backend": "PyTensor C",
            "cores": cores,
            "precision": "float64",
        },
        **idata_figures(idata),
    }
