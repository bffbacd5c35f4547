"""The engines of the flagship benchmark (``benchmarks/flagship.py``), one module each.

Every engine is a function ``run(problem, settings, **options) -> dict`` that fits the
flagship problem (:mod:`peers.problem`) and returns its timings (``wall_s``,
``compile_s``, ``sampling_s``, and ``split``, which says how the two were separated) and
its figures (:mod:`peers.figures`). An engine's module imports its libraries at the top,
so importing it is the engine's import time, and a missing library is found before any
work by :meth:`Engine.missing`.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from peers.problem import Problem, Settings


@dataclass(frozen=True)
class Engine:
    """One configuration of one library: where its ``run`` lives and what it needs."""

    name: str
    module: str
    about: str
    requires: tuple[str, ...]
    options: Mapping = field(default_factory=dict)

    def missing(self) -> list[str]:
        """Required top-level modules that are not installed."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def run(self, problem: Problem, settings: Settings) -> dict:
        """Import the engine's module (timed as ``import_s``), then fit."""
        started = time.perf_counter()
        module = importlib.import_module(f"peers.{self.module}")
        imported = time.perf_counter() - started
        return {"import_s": imported, **module.run(problem, settings, **self.options)}


ENGINES = {
    engine.name: engine
    for engine in (
        Engine(
            "bayescale",
            "bayescale_engine",
            "bs.fit: sheared, dense mass, chains started "
            "near the mode with the Laplace covariance as first mass matrix, a CPU device per "
            "chain",
            ("bayescale",),
        ),
        Engine(
            "bayescale-prior-start",
            "bayescale_engine",
            "bs.fit(init='prior'): the same, "
            "chains started at the prior mean with the identity mass matrix",
            ("bayescale",),
            {"init": "prior"},
        ),
        Engine(
            "numpyro",
            "numpyro_engine",
            "NumPyro NUTS defaults: plain, diagonal mass, init_to_uniform, sequential chains",
            ("numpyro",),
        ),
        Engine(
            "numpyro-sheared",
            "numpyro_engine",
            "the same with bayescale's sheared intercepts",
            ("numpyro",),
            {"sheared": True},
        ),
        Engine(
            "nutpie",
            "nutpie_engine",
            "PyMC model, nutpie defaults (numba, diagonal mass)",
            ("pymc", "nutpie", "numba"),
        ),
        Engine(
            "nutpie-lowrank",
            "nutpie_engine",
            "nutpie, low-rank modified mass matrix",
            ("pymc", "nutpie", "numba"),
            {"low_rank": True},
        ),
        Engine(
            "nutpie-sheared",
            "nutpie_engine",
            "nutpie defaults, bayescale's sheared intercepts",
            ("pymc", "nutpie", "numba"),
            {"sheared": True},
        ),
        Engine(
            "nutpie-lowrank-sheared",
            "nutpie_engine",
            "nutpie low-rank, bayescale's sheared intercepts",
            ("pymc", "nutpie", "numba"),
            {"low_rank": True, "sheared": True},
        ),
        Engine("pymc", "pymc_engine", "pm.sample defaults (PyTensor C, diagonal mass)", ("pymc",)),
        Engine(
            "stan",
            "stan_engine",
            "Stan via PyStan 3 (httpstan), defaults, plain",
            ("stan", "httpstan"),
        ),
        Engine(
            "huber",
            "huber_engine",
            "L-BFGS + Huber point fit, 200-replicate bootstrap",
            ("bayescale", "scipy"),
        ),
    )
}
