"""The non-Bayesian recipe: Huber loss, L-BFGS from Hoffmann's grid, and a bootstrap.

:func:`bayescale.evaluation.baseline.fit_huber` (L-BFGS-B from the 100 best of Hoffmann's
4,500 grid starts) then :func:`bayescale.evaluation.baseline.bootstrap` with its default 200
replicates, each refitted from the full-data optimum. It has no priors, no likelihood and no
sampler: the replicates are independent, so ESS and R-hat do not apply, and the medians
are those of the bootstrap replicates (the figures Besiroglu et al. 2024 report).

Timing: nothing is compiled (``compile`` is empty); ``point_fit`` is the full-data fit,
``sampling`` is the bootstrap, ``wall`` both.
"""

from __future__ import annotations

import time

import numpy as np

from bayescale.evaluation.baseline import N_BOOT, bootstrap, fit_huber
from bayescale.reference import reference_sweep

from peers.problem import DATASET, LAW_PARAMS, Problem, Settings


def run(problem: Problem, settings: Settings) -> dict:
    sweep = reference_sweep(DATASET)  # the rows Problem.from_reference took
    started = time.perf_counter()
    point = fit_huber(sweep)
    fitted = time.perf_counter()
    replicates = bootstrap(sweep, fit=point, seed=settings.seed)
    done = time.perf_counter()
    return {
        "wall_s": done - started,
        "compile_s": None,
        "point_fit_s": fitted - started,
        "sampling_s": done - fitted,
        "split": "fit_huber | bootstrap",
        "config": {"starts": point.starts, "bootstrap_replicates": N_BOOT, "precision": "float64"},
        "point_estimate": dict(point.params),
        "median": {p: float(np.median(replicates.params[p])) for p in LAW_PARAMS},
        "sd": {p: float(np.std(replicates.params[p])) for p in LAW_PARAMS},
    }
