"""nutpie on the PyMC model (:mod:`peers.pymc_model`).

``nutpie.compile_pymc_model`` with its default numba backend, then ``nutpie.sample``
with its defaults: a diagonal mass matrix adapted from draw and gradient variances, or,
with ``low_rank=True``, ``low_rank_modified_mass_matrix=True`` (a diagonal plus low-rank
correction that picks up the intercept–exponent correlations). Chains run in
``cores = min(chains, CPUs)`` threads (nutpie's default, spelt out). ``sheared=True``
fits bayescale's parameterisation.

Timing: ``compile`` is building the PyMC model and ``compile_pymc_model`` (PyTensor
graph rewrites and the numba compile); ``sampling`` is ``nutpie.sample``.
"""

from __future__ import annotations

import os
import time

import nutpie

from peers.figures import idata_figures
from peers.problem import Problem, Settings
from peers.pymc_model import build


def run(
    problem: Problem, settings: Settings, low_rank: bool = False, sheared: bool = False
) -> dict:
    cores = min(settings.chains, os.cpu_count())
    started = time.perf_counter()
    compiled = nutpie.compile_pymc_model(build(problem, sheared))
    compiled_at = time.perf_counter()
    idata = nutpie.sample(
        compiled,
        draws=settings.draws,
        tune=settings.warmup,
        chains=settings.chains,
        cores=cores,
        seed=settings.seed,
        progress_bar=False,
        low_rank_modified_mass_matrix=low_rank,
    )
    done = time.perf_counter()
    return {
        "wall_s": done - started,
        "compile_s": compiled_at - started,
        "sampling_s": done - compiled_at,
        "split": "compile_pymc_model | nutpie.sample",
        "config": {
            "parameterisation": "sheared" if sheared else "plain",
            "mass_matrix": "low-rank modified" if low_rank else "diagonal",
            "init": "nutpie default",
            "backend": "numba",
            "cores": cores,
            "precision": "float64",
        },
        **idata_figures(idata),
    }
