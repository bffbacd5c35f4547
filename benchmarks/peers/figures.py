"""Scoring one engine's draws the same way for every engine (ArviZ's estimators).

* ``ess_bulk``, ``ess_tail``: ArviZ's rank-normalised bulk and tail effective sample
  sizes (Vehtari et al. 2021), per parameter, and their minimum over e, a, α, b, β;
* ``rhat``: ArviZ's rank-normalised split R-hat, and its maximum;
* ``divergences``: post-warmup divergent transitions, all chains;
* ``grad_evals_per_draw``: mean leapfrog steps (gradient evaluations) per post-warmup
  draw, the sampler's own count;
* ``median``, ``sd``: posterior median and standard deviation per parameter.
"""

from __future__ import annotations

import numpy as np

from peers.problem import LAW_PARAMS


def draw_figures(draws: dict, diverging, n_steps) -> dict:
    """Figures of ``draws`` (``{param: (chain, draw) array}`` for :data:`LAW_PARAMS`)."""
    import arviz as az

    data = az.convert_to_dataset({p: np.asarray(draws[p], float) for p in LAW_PARAMS})
    ess_bulk, ess_tail = az.ess(data, method="bulk"), az.ess(data, method="tail")
    rhat = az.rhat(data)
    per = {
        name: {p: float(ds[p]) for p in LAW_PARAMS}
        for name, ds in (("ess_bulk", ess_bulk), ("ess_tail", ess_tail), ("rhat", rhat))
    }
    return {
        "min_ess_bulk": min(per["ess_bulk"].values()),
        "min_ess_tail": min(per["ess_tail"].values()),
        "max_rhat": max(per["rhat"].values()),
        "divergences": int(np.sum(diverging)),
        "grad_evals_per_draw": float(np.mean(n_steps)),
        **per,
        "median": {p: float(np.median(draws[p])) for p in LAW_PARAMS},
        "sd": {p: float(np.std(draws[p])) for p in LAW_PARAMS},
    }


def idata_figures(idata) -> dict:
    """:func:`draw_figures` of an ArviZ InferenceData (PyMC, nutpie, PyStan through ArviZ)."""
    post, stats = idata.posterior, idata.sample_stats
    return draw_figures(
        {p: post[p].values for p in LAW_PARAMS}, stats["diverging"].values, stats["n_steps"].values
    )
