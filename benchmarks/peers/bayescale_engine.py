"""bayescale itself: ``bs.fit(sweep, progress=False)`` with the given sampler settings.

Its defaults: sheared intercepts, dense mass matrix, chains started near the posterior's
mode with its Laplace covariance as the first mass matrix (``bayescale.starts``; the
``bayescale-prior-start`` engine passes ``init="prior"``), chains
in parallel, one per CPU device (``fit`` asks JAX for ``max(cores, chains)`` of them;
``$BAYESCALE_CPU_DEVICES`` overrides the count; ``bayescale.devices``), float64 on the
CPU, JAX's persistent compilation cache at ``$BAYESCALE_JAX_CACHE`` (``off`` disables it;
the benchmark's cold mode does).

Timing: ``wall`` is the whole ``bs.fit`` call (validation, compile, sampling,
diagnostics, packing the posterior); ``compile`` is JAX's compile time inside it
(:mod:`peers.jax_timing`, persistent-cache reads included); ``sampling`` is bayescale's
own ``info.sampler.seconds`` (``MCMC.run`` and fetching the draws) less that
compile time. ``sampler_seconds`` keeps bayescale's figure as it reports it.
"""

from __future__ import annotations

import time
import warnings

import bayescale as bs
from bayescale.reference import reference_sweep

from peers.figures import draw_figures
from peers.jax_timing import compile_clock
from peers.problem import DATASET, LAW_PARAMS, Problem, Settings


def run(problem: Problem, settings: Settings, init: str = "laplace") -> dict:
    sweep = reference_sweep(DATASET)  # the rows Problem.from_reference took
    started = time.perf_counter()
    with compile_clock() as clock, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        post = bs.fit(
            sweep,
            chains=settings.chains,
            warmup=settings.warmup,
            draws=settings.draws,
            seed=settings.seed,
            init=init,
            progress=False,
        )
    wall = time.perf_counter() - started
    sampler = post.info.sampler
    stats = post.groups["sample_stats"]
    return {
        "wall_s": wall,
        "compile_s": clock.seconds,
        "sampling_s": sampler.seconds - clock.seconds,
        "sampler_seconds": sampler.seconds,
        "split": "JAX compile events inside bs.fit; sampling = info.sampler.seconds − compile",
        **clock.figures(),
        "config": {
            "parameterisation": "sheared",
            "mass_matrix": "dense" if sampler.dense_mass else "diagonal",
            "init": sampler.init,
            "chain_method": sampler.chain_method,
            "devices": sampler.devices,
            "precision": sampler.precision,
        },
        "warnings": sorted({str(w.message) for w in caught}),
        **draw_figures(
            {p: post.posterior[p].values for p in LAW_PARAMS},
            stats["diverging"].values,
            stats["n_steps"].values,
        ),
    }
