r"""The flagship problem every engine fits: data, priors and sampler settings.

The model (bayescale's defaults for the Chinchilla law, Student-t likelihood)::

    log L_i = logsumexp(e, a − α·log N_i, b − β·log D_i)
    log loss_i ~ StudentT(ν, log L_i, σ)
    e ~ Normal(0.5, 1)          a, b ~ Normal(6, 3)        α, β ~ LogNormal(log 0.3, 0.75)
    σ ~ HalfNormal(0.1)         ν ~ Gamma(2, rate 0.1)

The numbers above are for reading; the code takes them from bayescale's own default
priors (:meth:`Problem.from_reference`) and refuses a prior family it does not know, so
the benchmark cannot drift into comparing a different model.

Two parameterisations of the intercepts are fitted:

* *plain*: the sampler sees ``a`` and ``b`` (what one writes the obvious way);
* *sheared* (bayescale's): the sampler sees ``a_c = a − α·m_N`` and ``b_c = b − β·m_D``
  with ``m_N``, ``m_D`` the means of log N and log D over the fitted rows, a flat density
  on ``a_c``, ``b_c`` and the prior density added on ``a``, ``b``. The map
  ``(α, a) → (α, a_c)`` is triangular with unit diagonal, so the posterior is unchanged.

Positive parameters (α, β, σ, ν) are sampled on the log scale by every engine.
The problem travels to engine subprocesses as a JSON file (:meth:`save` / :meth:`load`),
so an engine process imports only its own libraries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LAW_PARAMS = ("e", "a", "alpha", "b", "beta")
DATASET = "chinchilla"


@dataclass(frozen=True)
class Settings:
    """Sampler settings shared by every engine."""

    chains: int = 4
    warmup: int = 1000
    draws: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class Problem:
    """Fitted rows of the Chinchilla sweep and the numbers of the default priors.

    ``priors[name]`` is ``(family, *numbers)``: ``("normal", loc, scale)``,
    ``("lognormal", loc, scale)`` (of log x), ``("halfnormal", scale)`` or
    ``("gamma", concentration, rate)``.
    """

    log_n: np.ndarray
    log_d: np.ndarray
    log_loss: np.ndarray
    priors: dict

    @property
    def centre_n(self) -> float:
        return float(self.log_n.mean())

    @property
    def centre_d(self) -> float:
        return float(self.log_d.mean())

    @classmethod
    def from_reference(cls) -> Problem:
        """The reference Chinchilla sweep's fitted rows and bayescale's default priors."""
        import numpyro.distributions as dist

        from bayescale.laws import CHINCHILLA
        from bayescale.priors import NOISE_PRIORS
        from bayescale.reference import reference_sweep

        numbers = {
            dist.LogNormal: lambda p: ("lognormal", float(p.loc), float(p.scale)),
            dist.Normal: lambda p: ("normal", float(p.loc), float(p.scale)),
            dist.HalfNormal: lambda p: ("halfnormal", float(p.scale)),
            dist.Gamma: lambda p: ("gamma", float(p.concentration), float(p.rate)),
        }
        factories = {**CHINCHILLA.priors, **NOISE_PRIORS}
        priors = {}
        for name in (*LAW_PARAMS, "sigma", "nu"):
            prior = factories[name]()
            if type(prior) not in numbers:
                raise TypeError(
                    f"bayescale's default prior for {name!r} is now {prior!r}; "
                    "teach benchmarks/peers (every engine) that family first."
                )
            priors[name] = numbers[type(prior)](prior)
        data = reference_sweep(DATASET).arrays()
        return cls(data["log_n"], data["log_d"], data["log_loss"], priors)

    def save(self, path: Path) -> None:
        doc = {
            "log_n": self.log_n.tolist(),
            "log_d": self.log_d.tolist(),
            "log_loss": self.log_loss.tolist(),
            "priors": self.priors,
        }
        Path(path).write_text(json.dumps(doc), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Problem:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(
            *(np.asarray(doc[k], float) for k in ("log_n", "log_d", "log_loss")),
            {k: tuple(v) for k, v in doc["priors"].items()},
        )

    def describe(self) -> dict:
        """The problem in words and numbers, for the JSON report."""
        return {
            "dataset": DATASET,
            "points": int(self.log_n.size),
            "centre_log_n": self.centre_n,
            "centre_log_d": self.centre_d,
            "priors": {k: list(v) for k, v in self.priors.items()},
            "likelihood": "student_t",
        }
