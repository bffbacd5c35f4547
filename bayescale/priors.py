"""Resolving a fit's priors: the law's defaults, the noise model's, the group and run
structure's, with the user's overrides put in their place.

Each law carries weakly-informative defaults for its own parameters and the scales of its
group spreads (:mod:`bayescale.laws`); the noise model carries those of ``sigma``, ``nu``,
``sigma_run`` and ``sigma_shared`` (:mod:`bayescale.likelihood`). Hierarchical fits add,
for each parameter ``p`` that varies by group, a spread ``tau_p ~ HalfNormal(s_p)`` on its
pooling scale (:mod:`bayescale.hierarchy`), with ``s_p`` from the law.

Any prior can be replaced by passing ``priors={"alpha": dist.Normal(0.34, 0.05)}``,
hyperpriors too (``priors={"tau_e": dist.HalfNormal(0.05)}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

import numpy as np
import numpyro.distributions as dist

from bayescale.errors import InputError, InputTypeError
from bayescale.laws import Law
from bayescale.likelihood import NOISE_PRIORS, RUN_PRIOR, SHARED_PRIOR, noise_params


def structure_priors(law: Law, vary=(), runs: bool = False, shared: bool = False) -> dict:
    """Default hyperpriors: ``tau_p`` for each varying parameter, ``sigma_run`` for curves,
    ``sigma_shared`` for offset groups."""
    out = {f"tau_{p}": partial(dist.HalfNormal, law.group_scale(p)) for p in vary}
    if runs:
        out.update(RUN_PRIOR)
    if shared:
        out.update(SHARED_PRIOR)
    return out


def resolve_priors(
    law: Law,
    likelihood: str,
    overrides: Mapping[str, dist.Distribution] | None = None,
    vary=(),
    runs: bool = False,
    shared: bool = False,
) -> dict[str, dist.Distribution]:
    """Defaults of ``law``, the noise model and the group/run structure, with ``overrides``
    put in their place."""
    structure = structure_priors(law, vary, runs, shared)
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
