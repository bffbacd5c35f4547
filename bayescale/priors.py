"""Priors: the noise model's defaults and resolving user overrides against a law's defaults.

Each law carries weakly-informative defaults for its own parameters (see
:mod:`bayescale.laws`). The likelihood is on log loss, so the noise parameters are
scale-free:

``sigma ~ HalfNormal(0.1)``
    residual standard deviation of log loss. Published sweeps scatter by 0.5–5% around
    their fitted laws (run-to-run seeds, evaluation noise, read-off error in digitised
    figures), i.e. sigma ≈ 0.005–0.05; HalfNormal(0.1) has its 95% point at 0.2.
``nu ~ Gamma(2, 0.1)``
    degrees of freedom of the Student-t likelihood (Juárez & Steel 2010): mean 20, so it
    is near-Normal unless the data contain outliers, as digitised sweeps do.

Hierarchical fits add, for each parameter ``p`` that varies by group, a spread
``tau_p ~ HalfNormal(s_p)`` on log-loss units (see :mod:`bayescale.model`):

* ``e``: 0.2 — irreducible losses of related datasets or model families differ by tens
  of percent (Gadre et al.'s three corpora: E within about ±15%);
* exponents: 0.3 on the log scale (exponents pool as ``log α``) — published exponents of
  related setups differ by about ±0.05–0.1 around 0.3, i.e. ±15–30%;
* centred intercepts and parameters of other laws: 0.5 — the reducible loss at the typical
  size differs by up to ~50% between groups.

Training curves add ``sigma_run ~ HalfNormal(0.05)``: seed-to-seed differences of final
loss are about 0.5–2% (e.g. Gemstones, Clark et al. replicate runs), so 0.05 in log loss is
generous.

Any prior can be replaced by passing ``priors={"alpha": dist.Normal(0.34, 0.05)}``,
hyperpriors too (``priors={"tau_e": dist.HalfNormal(0.05)}``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpyro.distributions as dist

from bayescale.errors import InputError, InputTypeError
from bayescale.laws import Law

LIKELIHOODS = ("student_t", "normal")

NOISE_PRIORS = {
    "sigma": lambda: dist.HalfNormal(0.1),
    "nu": lambda: dist.Gamma(2.0, 0.1),
}
TAU_SCALES = {"e": 0.2, "alpha": 0.3, "beta": 0.3, "alpha_n": 0.3, "alpha_d": 0.3,
              "alpha_s": 0.3}
DEFAULT_TAU_SCALE = 0.5
RUN_SCALE = 0.05


def structure_priors(vary=(), runs: bool = False) -> dict:
    """Default hyperpriors: ``tau_p`` for each varying parameter, ``sigma_run`` for curves."""
    out = {f"tau_{p}": (lambda s=TAU_SCALES.get(p, DEFAULT_TAU_SCALE): dist.HalfNormal(s))
           for p in vary}
    if runs:
        out["sigma_run"] = lambda: dist.HalfNormal(RUN_SCALE)
    return out


def noise_params(likelihood: str) -> tuple[str, ...]:
    """Names of the noise parameters of a likelihood."""
    if likelihood not in LIKELIHOODS:
        raise InputError(f"unknown likelihood {likelihood!r}; choose one of {list(LIKELIHOODS)}.")
    return ("sigma", "nu") if likelihood == "student_t" else ("sigma",)


def resolve_priors(
    law: Law, likelihood: str, overrides: Mapping[str, dist.Distribution] | None = None,
    vary=(), runs: bool = False,
) -> dict[str, dist.Distribution]:
    """Defaults of ``law``, the noise model and the group/run structure, with ``overrides``
    put in their place."""
    structure = structure_priors(vary, runs)
    names = law.params + noise_params(likelihood) + tuple(structure)
    defaults = {**law.priors, **NOISE_PRIORS, **structure}
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise InputError(
            f"priors given for unknown parameter(s) {unknown}; the {law.name} law with a "
            f"{likelihood} likelihood (and this pooling) has parameters {list(names)}."
        )
    for name, prior in overrides.items():
        if not isinstance(prior, dist.Distribution):
            raise InputTypeError(
                f"the prior for {name!r} must be a numpyro distribution (e.g. "
                f"numpyro.distributions.Normal(0.3, 0.1)), got {type(prior).__name__}."
            )
    return {name: overrides.get(name) or defaults[name]() for name in names}


def describe(prior: dist.Distribution) -> str:
    """A readable one-line form, e.g. ``Normal(loc=0.5, scale=1.0)``; wrapped distributions
    (truncated, transformed) show their base distribution first."""
    args = [describe(prior.base_dist)] if hasattr(prior, "base_dist") else []
    args += [
        f"{name}={float(getattr(prior, name)):.6g}"
        for name in prior.arg_constraints
        if getattr(prior, name, None) is not None and np.ndim(getattr(prior, name)) == 0
    ]
    return f"{type(prior).__name__}({', '.join(args)})"
