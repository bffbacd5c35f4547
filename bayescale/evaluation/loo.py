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

LOO asks how well a model predicts a point from the others around it; a scaling law is
used to predict runs larger than any it was fitted on. Given the sweep (or a
leave-future-out frame), the table gains the leave-future-out columns of
:mod:`bayescale.evaluation.lfo` beside LOO's: ``elpd_lfo`` (each held-out larger run
scored by the fit on the smaller ones), its standard error ``se_lfo``, the standard
error of its difference to the best model ``dse_lfo``, the stacking weight ``weight_lfo``
and the number of points scored ``n_lfo``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from bayescale.diagnostics import arviz
from bayescale.errors import ComparisonWarning, InputError, InputTypeError
from bayescale.evaluation.lfo import DEFAULT_CUTS, lfo_summary, refit_model, score_models
from bayescale.idata import POINT_DATA, data_differences
from bayescale.posterior import Posterior
from bayescale.sweep import Sweep

PARETO_K_MAX = 0.7


def compare(
    posteriors: Mapping[str, Posterior],
    sweep: Sweep | None = None,
    *,
    lfo: pd.DataFrame | None = None,
    cuts=DEFAULT_CUTS,
) -> pd.DataFrame:
    """PSIS-LOO comparison table of ``posteriors`` (name → Posterior), best first; with
    ``sweep`` or ``lfo``, leave-future-out columns beside it.

    Parameters
    ----------
    posteriors
        at least two posteriors by name, fitted to the same data points.
    sweep
        the sweep they were fitted to: each model is refitted at each of the ``cuts``
        (:func:`bayescale.evaluation.lfo.refit_model`: its law, pooling, likelihood and
        sampler settings; ``len(posteriors) × len(cuts)`` fits) and scored on the next
        larger runs.
    lfo
        instead of ``sweep``, a frame of :func:`bayescale.evaluation.lfo.leave_future_out`
        whose ``law`` labels are the names of ``posteriors``: for models fitted with
        priors of their own, or to reuse the fits.
    cuts
        with ``sweep``, the cuts (:data:`bayescale.evaluation.lfo.DEFAULT_CUTS`).

    Returns
    -------
    pandas.DataFrame
        ArviZ's ``compare`` table with one more column, ``pareto_k_bad``: the number of
        points whose Pareto ``k`` exceeds :data:`PARETO_K_MAX`; a model with any gets a
        :class:`~bayescale.errors.ComparisonWarning`. With ``sweep`` or ``lfo``, the
        columns of :func:`bayescale.evaluation.lfo.lfo_summary` follow (to keep the
        pointwise scores, compute them with ``leave_future_out`` and pass ``lfo=``).
    """
    if sweep is not None and lfo is not None:
        raise InputError(
            "give sweep= (to compute the leave-future-out scores) or lfo= (computed "
            "already), not both."
        )
    if sweep is not None and not isinstance(sweep, Sweep):
        raise InputTypeError(
            f"sweep must be the bayescale.Sweep the posteriors were fitted to, got "
            f"{type(sweep).__name__}."
        )
    if lfo is not None and not isinstance(lfo, pd.DataFrame):
        raise InputTypeError(
            f"lfo must be the frame bs.leave_future_out returns, got {type(lfo).__name__}."
        )
    if not isinstance(posteriors, Mapping):
        raise InputTypeError(
            "posteriors must map a name to each posterior, e.g. {'chinchilla': post_a, "
            f"'farseer': post_b}}; got a {type(posteriors).__name__}."
        )
    others = [name for name, post in posteriors.items() if not isinstance(post, Posterior)]
    if others:
        raise InputTypeError(
            f"posteriors {others} are not bayescale posteriors (bs.fit's result); compare "
            "takes one Posterior per name."
        )
    if len(posteriors) < 2:
        raise InputError(f"compare needs at least two posteriors, got {len(posteriors)}.")
    (first_name, first), *rest = posteriors.items()
    for name, post in rest:
        differ = data_differences(post, first, POINT_DATA)
        if differ:
            raise InputError(
                f"posteriors {first_name!r} and {name!r} were fitted to different data "
                f"({', '.join(differ)} differ); LOO compares models of the same data only. "
                "Fit each law to the same sweep (and the same checkpoints)."
            )
    summary = None if lfo is None else lfo_summary(lfo)
    if summary is not None and set(summary.index) != set(posteriors):
        raise InputError(
            f"the leave-future-out frame scores {sorted(summary.index)}, the posteriors are "
            f"{sorted(posteriors)}; label the laws of leave_future_out with the "
            "posteriors' names (laws={name: law, ...})."
        )
    models = None if sweep is None else {n: refit_model(p) for n, p in posteriors.items()}
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
    if models is not None:
        summary = lfo_summary(score_models(sweep, models, cuts))
    return table if summary is None else table.join(summary)
