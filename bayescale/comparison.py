"""Comparing fitted models by expected log predictive density (PSIS-LOO, via ArviZ).

``compare({"pooled": p1, "partial": p2})`` ranks the models by ``elpd_loo`` with the
standard error of each difference (Vehtari, Gelman & Gabry 2017). Points whose Pareto
``k`` exceeds 0.7 make the PSIS estimate unreliable; they are counted and reported in a
:class:`~bayescale.errors.ComparisonWarning` that names the model and the points.
Models are only comparable when fitted to the same points.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from bayescale.diagnostics import arviz
from bayescale.errors import ComparisonWarning, InputError
from bayescale.posterior import Posterior

PARETO_K_MAX = 0.7


def compare(posteriors: Mapping[str, Posterior]) -> pd.DataFrame:
    """PSIS-LOO comparison table of ``posteriors`` (name → Posterior), best first."""
    if len(posteriors) < 2:
        raise InputError(f"compare needs at least two posteriors, got {len(posteriors)}.")
    sizes = {name: post.meta["data"]["points"] for name, post in posteriors.items()}
    if len(set(sizes.values())) > 1:
        raise InputError(f"the posteriors were fitted to different numbers of points {sizes}; "
                         "LOO compares models of the same data only.")
    az = arviz()
    idata = {name: post.idata for name, post in posteriors.items()}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Pareto.*", category=UserWarning)
        loos = {name: az.loo(data, pointwise=True) for name, data in idata.items()}
        table = az.compare(idata)
    for name, loo in loos.items():
        k = np.asarray(loo.pareto_k)
        bad = np.flatnonzero(k > PARETO_K_MAX)
        if bad.size:
            shown = ", ".join(str(i) for i in bad[:5]) + (" ..." if bad.size > 5 else "")
            warnings.warn(
                f"{name}: {bad.size} point(s) with Pareto k > {PARETO_K_MAX} (points {shown}); "
                "their LOO terms are unreliable. Inspect them (outliers?), or refit without "
                "each to get exact LOO.", ComparisonWarning, stacklevel=2)
    table["pareto_k_bad"] = [int((np.asarray(loos[n].pareto_k) > PARETO_K_MAX).sum())
                             for n in table.index]
    return table
