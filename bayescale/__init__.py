"""bayescale: Bayesian scaling laws for neural language models.

``import bayescale as bs``; then ``bs.load_dataset("chinchilla")``, ``bs.fit(sweep)``,
``post.optimal(1e24).interval(0.9)``.

Importing bayescale changes nothing in the process: each public name is imported from
its module on first use (PEP 562), so ``import bayescale`` and ``bayescale --help`` do not
load JAX, and nothing here touches JAX's configuration. :func:`fit` gives its chains CPU
devices when it starts (:mod:`bayescale.devices`); :func:`use_cpu_devices` does it up
front, for programs that run JAX code of their own before the first fit.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"  # the one home of the version: pyproject.toml reads it from here

__all__ = [
    "ACCELERATORS",
    "Architecture",
    "BacktestResult",
    "BayescaleError",
    "ComparisonWarning",
    "Conditions",
    "ConvergenceWarning",
    "Draws",
    "ExtrapolationWarning",
    "InputError",
    "InputTypeError",
    "Law",
    "MemoryWarning",
    "MisfitWarning",
    "PerformanceWarning",
    "PlanningWarning",
    "Posterior",
    "PosteriorFileError",
    "PriorDominatedWarning",
    "Stack",
    "StartWarning",
    "Sweep",
    "SweepValidationError",
    "SweepWarning",
    "available_laws",
    "backtest",
    "compare",
    "dataset_card",
    "fit",
    "get_accelerator",
    "get_law",
    "learn_extrapolation_error",
    "leave_future_out",
    "list_datasets",
    "load_dataset",
    "load_posterior",
    "load_reference",
    "load_stack",
    "memory_per_gpu",
    "min_gpus",
    "pymc_model",
    "read_sweep",
    "register_law",
    "stack",
    "stacking_weights",
    "suggest_runs",
    "train_time",
    "use_cpu_devices",
]

# The module each public name is imported from (tests/test_cli.py checks that every name
# in __all__ is found).
_EXPORTS = {
    "bayescale.datasets": ("dataset_card", "list_datasets", "load_dataset"),
    "bayescale.design": ("suggest_runs",),
    "bayescale.devices": ("use_cpu_devices",),
    "bayescale.draws": ("Draws",),
    "bayescale.errors": (
        "BayescaleError",
        "ComparisonWarning",
        "ConvergenceWarning",
        "ExtrapolationWarning",
        "InputError",
        "InputTypeError",
        "MemoryWarning",
        "MisfitWarning",
        "PerformanceWarning",
        "PlanningWarning",
        "PosteriorFileError",
        "PriorDominatedWarning",
        "StartWarning",
        "SweepValidationError",
        "SweepWarning",
    ),
    "bayescale.evaluation": ("BacktestResult", "backtest", "compare"),
    "bayescale.evaluation.error_scale": ("learn_extrapolation_error",),
    "bayescale.evaluation.lfo": ("leave_future_out", "stacking_weights"),
    "bayescale.hardware": (
        "ACCELERATORS",
        "Architecture",
        "get_accelerator",
        "memory_per_gpu",
        "min_gpus",
        "train_time",
    ),
    "bayescale.inference": ("fit",),
    "bayescale.laws": ("Conditions", "Law", "available_laws", "get_law", "register_law"),
    "bayescale.posterior": ("Posterior", "load_posterior"),
    "bayescale.pymc_frontend": ("pymc_model",),
    "bayescale.reference": ("load_reference",),
    "bayescale.stacking": ("Stack", "load_stack", "stack"),
    "bayescale.sweep": ("Sweep", "read_sweep"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


SUBMODULES = ("comparisons", "plotting", "schedules")
"""Submodules reached as attributes: ``bs.schedules.cosine(...)``."""


def __getattr__(name: str):
    """Import a public name (or a submodule of ``SUBMODULES``) on first access, and keep
    it here."""
    if name in SUBMODULES:
        value = importlib.import_module(f"bayescale.{name}")
        globals()[name] = value
        return value
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'bayescale' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's own names and the public names, loaded or not."""
    return sorted(set(globals()) | set(__all__) | set(SUBMODULES))
