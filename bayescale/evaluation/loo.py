r"""Comparing fitted models by expected log predictive density (PSIS-LOO, via ArviZ).

``compare({"pooled": p1, "partial": p2})`` ranks the models by

.. math:: \mathrm{elpd}_\mathrm{loo} = \sum_i \log p(y_i \mid y_{-i}),

each term estimated from the posterior draws by Pareto-smoothed importance sampling, with
the standard error of each difference (Vehtari, Gelman & Gabry 2017). Models are only
comparable when fitted to the same points.

A term's estimate is unreliable when the fitted generalised Pareto shape ``k`` of its
importance weights exceeds 0.7 (:data:`PARETO_K_MAX`): the weights' tail is then too heavy
for the smoothed estimate to converge at a practical number of draws. Such points are
counted in the table's ``pareto_k_bad`` column and named in a
:class:`~bayescale.errors.ComparisonWarning` per model.
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
    """PSIS-LOO comparison table of ``posteriors`` (name → Posterior), best first.

    Parameters
    ----------
    posteriors
        at least two posteriors by name, fitted to the same data points.

    Returns
    -------
    pandas.DataFrame
        ArviZ's ``compare`` table with one more column, ``pareto_k_bad``: the number of
        points whose Pareto ``k`` exceeds :data:`PARETO_K_MAX`; a model with any gets a
        :class:`~bayescale.errors.ComparisonWarning`.
    """
    if len(posteriors) < 2:
        raise InputError(f"compare needs at least two posteriors, got {len(posteriors)}.")
    sizes = {name: post.info.data.points for name, post in posteriors.items()}
    if len(set(sizes.values())) > 1:
        raise InputError(
            f"the posteriors were fitted to different numbers of points {sizes}; "
            "LOO compares models of the same data only."
        )
    az = arviz()
    idata = {name: post.idata for name, post in posteriors.items()}
    with warnings.catch_warnings():  # ArviZ's own Pareto warning is replaced by the one below
        warnings.filterwarnings("ignore", message=".*Pareto.*", category=UserWarning)
        loos = {name: az.loo(data, pointwise=True) for name, data in idata.items()}
        table = az.compare(idata)
    bad = {
        name: np.flatnonzero(np.asarray(loo.pareto_k) > PARETO_K_MAX) for name, loo in loos.items()
    }
    for name, points in bad.items():
        if points.size:
            shown = ", ".join(str(i) for i in points[:5]) + (" ..." if points.size > 5 else "")
            warnings.warn(
                f"{name}: {points.size} point(s) with Pareto k > {PARETO_K_MAX} (points "
                f"{shown}); their LOO terms are unreliable. Inspect them (outliers?), or refit "
                "without each to get exact LOO.",
                ComparisonWarning,
                stacklevel=2,
            )
    table["pareto_k_bad"] = [bad[name].size for name in table.index]
    return table
