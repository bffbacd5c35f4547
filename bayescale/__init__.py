"""bayescale: Bayesian scaling laws for neural language models.

``import bayescale as bs``; then ``bs.load_dataset("chinchilla")``, ``bs.fit(sweep)``,
``post.optimal(1e24).interval(0.9)``.
"""

__version__ = "0.1.0"

from bayescale.devices import use_cpu_cores  # noqa: E402

use_cpu_cores()  # before anything runs JAX: a CPU device per chain, for parallel chains

from bayescale.backtest import BacktestResult, backtest  # noqa: E402
from bayescale.comparison import compare  # noqa: E402
from bayescale.datasets import dataset_card, list_datasets, load_dataset  # noqa: E402
from bayescale.draws import Draws  # noqa: E402
from bayescale.errors import (  # noqa: E402
    ComparisonWarning,
    ConvergenceWarning,
    ExtrapolationWarning,
    PlanningWarning,
    PosteriorFileError,
    PriorDominatedWarning,
    SweepValidationError,
    SweepWarning,
)
from bayescale.hardware import (  # noqa: E402
    ACCELERATORS,
    Architecture,
    get_accelerator,
    memory_per_gpu,
    min_gpus,
    train_time,
)
from bayescale.inference import fit  # noqa: E402
from bayescale.laws import Law, available_laws, get_law, register_law  # noqa: E402
from bayescale.posterior import Posterior, load_posterior  # noqa: E402
from bayescale.reference import load_reference  # noqa: E402
from bayescale.sweep import Sweep, read_sweep  # noqa: E402

__all__ = [
    "ACCELERATORS",
    "Architecture",
    "BacktestResult",
    "ComparisonWarning",
    "ConvergenceWarning",
    "Draws",
    "ExtrapolationWarning",
    "Law",
    "Posterior",
    "PlanningWarning",
    "PosteriorFileError",
    "PriorDominatedWarning",
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
    "list_datasets",
    "load_dataset",
    "load_posterior",
    "load_reference",
    "memory_per_gpu",
    "min_gpus",
    "read_sweep",
    "register_law",
    "train_time",
]
