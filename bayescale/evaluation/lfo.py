r"""Leave-future-out scores of scaling laws, and stacking weights from them.

A scaling law is fitted on small runs and asked about larger ones, so a law should be
judged, and laws weighted, by how well they predict runs *larger* than those they were
fitted on. PSIS-LOO (:mod:`bayescale.evaluation.loo`) asks how well a law predicts a point
from all the others, most of which surround it: it rewards fitting within the range, the
wrong question for extrapolation. Leave-future-out cross-validation (Bürkner, Gabry &
Vehtari 2020, for time series) asks the right one: fit on the past, score the next step.

Cuts and bands
--------------
Each run has a key, its final training compute ``C = 6·N·D`` (the split ``"compute"`` of
:func:`bayescale.evaluation.splits.train_mask`, whose selection this module reuses). The
``cuts`` are fractions ``q_1 < … < q_K`` of the runs; cut ``k`` trains on the runs whose
key is at most the ``q_k`` quantile ``c_k`` of the keys, and scores the runs of the next
band, ``c_k < C ≤ c_{k+1}`` (``c_{K+1} = ∞``: the last band holds the largest runs). Each
held-out run is scored once, by the fit on every smaller run below its band's cut:

.. math::

    \mathrm{lpd}_i^{M} = \log \frac1S \sum_{s=1}^{S} p\!\left(y_i \mid θ_s^{(k)}, M\right),
    \qquad θ^{(k)}_s \sim p\!\left(θ \mid y_{C \le c_k}, M\right),
    \qquad \mathrm{elpd}_\mathrm{lfo}^{M} = \sum_k \sum_{i \in \text{band } k} \mathrm{lpd}_i^{M},

with standard error ``sqrt(n · var_i lpd_i)`` over the ``n`` scored points, as ArviZ
computes it for LOO (a rough guide: the bands differ, and the points of one sweep are not
independent).

The default cuts, :data:`DEFAULT_CUTS` = (1/2, 2/3, 5/6), fit every law on at least half of
the runs and score the upper half in three bands of equal size, each one step ahead of its
fit. The first cut must leave at least as many training points as the law and its noise
model have parameters (:func:`bayescale.fit` refuses fewer), and in practice several times
more: with few, the fit says what the priors say, not what the data say. The cuts run
first for every law, so a cut too low for one law fails before the later cuts' fits.

The predictive density
----------------------
``p(y_i | θ_s)`` is the density of a new run's measured log loss under the posterior
predictive that :meth:`bayescale.Posterior.predict_loss` draws from: the law's log loss
``μ_s`` at the run (under its conditions, for a law that reads them,
:class:`bayescale.laws.Conditions`), plus the law's error outside the fitted runs
``δ_s(C_i)`` (:mod:`bayescale.discrepancy`, drawn per posterior draw from the fit's seed),
plus the noise of a new run: Student-t(``ν_s``) or Normal with scale ``σ_s`` (for training
curves ``sqrt(σ_s² + σ_{run,s}²)``, the run's own offset being unknown;
:meth:`bayescale.likelihood.NoiseDraws.new_run_scale`),

.. math::

    \log p(y_i \mid θ_s) = \log f_{ν_s}\!\left(
        \frac{\log L_i − μ_s(N_i, D_i) − δ_s(C_i)}{σ_s}\right) − \log σ_s .

It is a density of log loss; that of the loss itself differs by ``−log L_i``, the same for
every law, so differences and weights do not change.

Training curves: each law fits the checkpoints :func:`bayescale.fit` would choose for it
(:func:`bayescale.curves.select_checkpoints`), and every law is scored on the same points,
the final checkpoint of each held-out run. That is a finished run, which every law
predicts (a law without schedules predicts finished runs only), and one point per run
does not count a run's correlated checkpoints many times over.

Grouped sweeps: a per-group fit (``pooling="partial"`` or ``"separate"``) predicts each
point with its group's parameters, a group without training runs as a new group
(``"new"``, partial pooling only).

The scale of the extrapolation error: the same density at every ``c`` of a grid
(:func:`bayescale.evaluation.error_scale.log_density_by_scale`) is kept in the frame's
``attrs["lpd_by_scale"]``, from which
:func:`bayescale.evaluation.error_scale.learn_extrapolation_error` learns ``c``.

Stacking
--------
Stacking (Yao, Vehtari, Simpson & Gelman 2018) weights the laws' predictive
distributions so that their mixture predicts the scored points best:

.. math::

    \hat w = \arg\max_{w \in Δ_M} \sum_i \log \sum_{m=1}^{M} w_m \exp(\mathrm{lpd}_i^{m}),

over the simplex ``Δ_M``, the weights of ``az.compare(method="stacking")`` computed from
leave-future-out instead of LOO densities (ArviZ keeps its optimiser inside ``compare``;
:func:`stacking_weights` solves the same problem). The weights are a softmax
``w = softmax(z)`` with ``z_M = 0``, so that the problem is unconstrained over ``z ∈
R^{M−1}`` (L-BFGS, SciPy), and it is computed in log space with the gradient

.. math::

    \frac{∂}{∂ z_j} \sum_i \log \sum_m w_m e^{\mathrm{lpd}_i^m} = \sum_i r_{ij} − n\,w_j,
    \qquad r_{ij} = \frac{w_j e^{\mathrm{lpd}_i^j}}{\sum_m w_m e^{\mathrm{lpd}_i^m}} .

Unlike weights from ``elpd`` alone (pseudo-BMA), stacking gives weight to a law that
predicts some points best even when another's total is higher, and it gives no weight to
a law that only duplicates another.
"""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

from bayescale import planning
from bayescale.curves import CURVE_MIN_FRACTION, select_checkpoints
from bayescale.discrepancy import PRIOR_SCALES, Discrepancy
from bayescale.errors import (
    ExtrapolationWarning,
    InputError,
    InputTypeError,
    SweepValidationError,
    SweepWarning,
)
from bayescale.evaluation.error_scale import log_density_by_scale
from bayescale.evaluation.splits import scored_rows, train_mask
from bayescale.executors import map_calls
from bayescale.inference import fit
from bayescale.laws import Law, get_law
from bayescale.likelihood import NoiseDraws
from bayescale.posterior import Posterior
from bayescale.priors import describe, resolve_priors
from bayescale.sweep import Sweep

DEFAULT_CUTS = (1 / 2, 2 / 3, 5 / 6)
#: The columns of :func:`leave_future_out`'s frame; ``group`` and ``run`` follow
#: ``point`` where the sweep has them.
COLUMNS = (
    "cut",
    "point",
    "law",
    "lpd",
    "n_params",
    "n_tokens",
    "compute",
    "loss",
    "compute_ratio",
)
#: The columns of :func:`lfo_summary`.
SUMMARY_COLUMNS = ("elpd_lfo", "se_lfo", "dse_lfo", "weight_lfo", "n_lfo")


@dataclass(frozen=True)
class Model:
    """A law and the :func:`bayescale.fit` arguments that fit it, scored as one model.

    Parameters
    ----------
    law
        the law.
    fit_kwargs
        the other arguments of :func:`bayescale.fit` (``seed`` and ``progress``
        included).
    """

    law: Law
    fit_kwargs: Mapping


def check_cuts(cuts) -> tuple[float, ...]:
    """``cuts`` as an increasing tuple of fractions in (0, 1); errors say how to fix it."""
    if isinstance(cuts, (str, bytes)) or not isinstance(cuts, Sequence):
        raise InputTypeError(
            f"cuts must be a sequence of fractions of the runs, e.g. (0.5, 0.67, 0.83); "
            f"got {type(cuts).__name__}."
        )
    values = []
    for cut in cuts:
        if isinstance(cut, bool) or not isinstance(cut, (int, float)):
            raise InputTypeError(f"each cut must be a number in (0, 1), got {cut!r}.")
        if not 0.0 < float(cut) < 1.0:
            raise InputError(f"each cut must lie in (0, 1), got {cut!r}; e.g. cuts=(0.5, 0.75).")
        values.append(float(cut))
    if not values:
        raise InputError("cuts must name at least one fraction, e.g. cuts=(0.5, 0.67, 0.83).")
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise InputError(f"cuts must increase strictly, got {values}.")
    return tuple(values)


def lfo_bands(sweep: Sweep, cuts=DEFAULT_CUTS) -> pd.Series:
    """The band of each fitted row of ``sweep`` (indexed like ``sweep.fit_frame``).

    Band ``-1`` holds the runs that every cut trains on; band ``k`` (``0 ≤ k < K``) the
    runs that cut ``k`` holds out and scores, and that cuts after ``k`` train on (module
    docstring). A run's rows share its band.

    Parameters
    ----------
    sweep
        the data, a :class:`bayescale.Sweep`.
    cuts
        increasing fractions of the runs, in (0, 1) (:data:`DEFAULT_CUTS`).

    Returns
    -------
    pandas.Series
        integer bands; ``attrs["thresholds"]`` holds each cut's largest training compute
        in FLOPs.
    """
    cuts = check_cuts(cuts)
    masks = [train_mask(sweep, "compute", frac=cut) for cut in cuts]
    trained = sum(mask.astype(int) for mask in masks)
    band = len(cuts) - 1 - trained
    counts = band.value_counts()
    empty = [k for k in range(len(cuts)) if k not in counts.index]
    if empty:
        k = empty[0]
        after = f"cut {cuts[k + 1]:g}" if k + 1 < len(cuts) else "the largest run"
        raise InputError(
            f"no runs lie between cut {cuts[k]:g} and {after}: the sweep has too few "
            f"distinct compute levels for cuts {list(cuts)}. Use fewer or wider-spaced cuts."
        )
    frame = sweep.fit_frame
    compute = 6.0 * frame["n_params"] * frame["n_tokens"]
    band = band.rename("band")
    band.attrs["thresholds"] = tuple(float(compute[mask].max()) for mask in masks)
    return band


def log_predictive_density(
    posterior: Posterior, frame: pd.DataFrame, logged: pd.DataFrame | None = None
) -> np.ndarray:
    """Log pointwise predictive density of the runs in ``frame`` under ``posterior``.

    ``log (1/S) Σ_s p(log L_i | θ_s)``, the density of a new run's measured log loss:
    the law under each run's conditions, its error outside the fitted runs and the noise
    of a new run (module docstring).

    Parameters
    ----------
    posterior
        the fit that predicts.
    frame
        the runs, with the columns of :attr:`bayescale.Sweep.fit_frame` (``n_params``,
        ``n_tokens``, ``loss``; ``group`` for a per-group posterior; the columns the law's
        conditions read).
    logged
        for a law that reads the schedules of an ``lr`` column, the rows whose logged rates
        join each run's (such as the sweep's frame: a final checkpoint alone would start
        its run's log there; :func:`bayescale.sweep_schedules.run_schedules`).

    Returns
    -------
    numpy.ndarray
        one value per row of ``frame``, in nats.
    """
    resid, unit, noise, h = _residuals(posterior, frame, logged)
    scale = [posterior.info.extrapolation_error]
    return log_density_by_scale(resid, unit, noise, h, scale)[:, 0]


def _residuals(posterior: Posterior, frame: pd.DataFrame, logged=None):
    """What the predictive density of ``frame``'s rows needs: the residuals of their log
    losses from each draw's law, ``(chain, draw, point)``; the error's slope per unit of
    ``c``, ``σ_s z_s``, ``(chain, draw)``; a new run's noise; and each row's distance from
    the fitted runs, ``h`` ``(point,)``. ``logged``: as :func:`log_predictive_density`."""
    law = posterior.law
    reads = law.conditions is not None and law.conditions.reads_schedules
    more = {"logged": logged} if reads and logged is not None else {}
    grouped = bool(posterior.groups_fitted)
    labels = frame["group"].to_numpy(str) if grouped else np.zeros(len(frame), dtype=int)
    noise = posterior.noise()
    new_run = NoiseDraws(sigma=noise.new_run_scale(), nu=noise.nu)
    error = posterior.with_extrapolation_error(1.0).discrepancy()
    log_n, log_d = (np.log(frame[c].to_numpy(float)) for c in ("n_params", "n_tokens"))
    resid = np.empty((*error.slope.shape, len(frame)))
    for label in pd.unique(labels):
        where = labels == label
        rows = frame[where]
        theta = posterior.theta(_group(posterior, label) if grouped else None)
        inputs = law.conditions.inputs(rows, **more) if law.conditions is not None else None
        with warnings.catch_warnings():  # extrapolating is the point
            warnings.simplefilter("ignore", ExtrapolationWarning)
            mean = planning.predict_loss(
                law,
                theta,
                rows["n_params"].to_numpy(float),
                rows["n_tokens"].to_numpy(float),
                error=Discrepancy.none(error.fitted),
                inputs=inputs,
            )
        resid[..., where] = np.log(rows["loss"].to_numpy(float)) - np.log(mean["loss_mean"].values)
    return resid, error.slope, new_run, error.region.distance(log_n, log_d)


def _group(posterior: Posterior, label: str) -> str:
    """The group a per-group posterior predicts a row of group ``label`` with."""
    if label in posterior.groups_fitted:
        return label
    if posterior.info.pooling != "partial":
        raise InputError(
            f"group {label!r} has no training runs before this cut, and "
            f"pooling={posterior.info.pooling!r} cannot predict an unseen group; use "
            "pooling='partial', or later cuts that train on some of its runs."
        )
    return "new"


def models_for(laws, fit_kwargs: Mapping, seed: int) -> dict[str, Model]:
    """Label → :class:`Model` of ``laws`` (names or laws, or a mapping label → law), each
    law with the same fit arguments, ``seed`` (unless they give one) and no progress bar.

    Parameters
    ----------
    laws
        registered laws' names or :class:`bayescale.Law` objects, or a mapping label → law.
    fit_kwargs
        arguments of :func:`bayescale.fit`.
    seed
        the fits' seed where ``fit_kwargs`` give none.

    Returns
    -------
    dict
        label → :class:`Model`.
    """
    if isinstance(laws, (str, Law)):
        laws = [laws]
    if isinstance(laws, Mapping):
        pairs = [(str(label), get_law(law)) for label, law in laws.items()]
    else:
        pairs = [(law.name, law) for law in map(get_law, laws)]
    labels = [label for label, _ in pairs]
    if not pairs:
        raise InputError("laws must name at least one law, e.g. laws=['chinchilla', 'farseer'].")
    if len(set(labels)) != len(labels):
        raise InputError(
            f"the laws' labels repeat ({labels}); give each law once, or a mapping "
            "{label: law} to compare one law under several labels."
        )
    if "pad_to" in fit_kwargs:
        raise InputError(
            "pad_to is not a leave-future-out argument: each cut's fit pads its points to "
            "the whole sweep's itself; drop it."
        )
    kwargs = {"seed": seed, "progress": False, **fit_kwargs}
    return {label: Model(law, kwargs) for label, law in pairs}


def leave_future_out(
    sweep: Sweep, laws, cuts=DEFAULT_CUTS, seed: int = 0, *, executor=None, **fit_kwargs
):
    """Leave-future-out log predictive densities of ``laws`` on ``sweep``.

    At each cut, each law is fitted on the runs up to the cut and predicts the runs of the
    next band (module docstring); every held-out point is scored once. ``len(laws) ×
    len(cuts)`` fits.

    Parameters
    ----------
    sweep
        the data, a :class:`bayescale.Sweep`.
    laws
        registered laws' names or :class:`bayescale.Law` objects, labelled by their names;
        or a mapping label → law.
    cuts
        increasing fractions of the runs, in (0, 1): cut ``k`` trains on the runs up to
        that quantile of run compute (:data:`DEFAULT_CUTS`).
    seed
        the fits' seed, unless ``fit_kwargs`` give one.
    executor
        where the fits run: ``None`` runs them one after another in this process; a
        :class:`concurrent.futures.Executor` runs them as its tasks, e.g.
        ``ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))`` (spawn:
        JAX is not fork-safe) on this machine, or a Dask cluster's
        ``distributed.Client(...).get_executor()``. The results do not depend on it (each
        fit is seeded by its arguments, and they are collected in order); the fits'
        warnings are re-emitted here (:mod:`bayescale.executors`).
    **fit_kwargs
        passed to every :func:`bayescale.fit` (``chains=``, ``warmup=``, ``draws=``,
        ``pooling=``, ...); ``progress`` defaults to False.

    Returns
    -------
    pandas.DataFrame
        one row per cut, scored point and law, columns :data:`COLUMNS`: ``point`` is the
        row's label in ``sweep.frame``, ``lpd`` its log predictive density in nats,
        ``compute_ratio`` its compute over the largest the fit saw. ``attrs`` hold the
        ``cuts``, their ``thresholds`` (largest training compute, FLOPs), ``fits``: per law
        and cut, the training points, seconds and the fit's warnings, and
        ``lpd_by_scale``: ``scales``, a grid of the extrapolation error's ``c``, and
        ``lpd``, per law, each of its rows' density at every scale (lists, in the frame's
        order), from which :func:`bayescale.learn_extrapolation_error` learns ``c``.
    """
    return score_models(sweep, models_for(laws, fit_kwargs, seed), cuts, executor)


def score_models(
    sweep: Sweep, models: Mapping[str, Model], cuts=DEFAULT_CUTS, executor=None
) -> pd.DataFrame:
    """:func:`leave_future_out` of ``models`` (label → :class:`Model`), each fitted with its
    own arguments.

    Parameters
    ----------
    sweep
        the data, a :class:`bayescale.Sweep`.
    models
        label → :class:`Model`.
    cuts
        increasing fractions of the runs, in (0, 1).
    executor
        where the fits run, as in :func:`leave_future_out`.

    Returns
    -------
    pandas.DataFrame
        as :func:`leave_future_out` returns it.
    """
    band = lfo_bands(sweep, cuts)
    cuts = check_cuts(cuts)
    thresholds = band.attrs["thresholds"]
    frame = sweep.fit_frame
    scored = frame.loc[scored_rows(sweep)]
    compute = 6.0 * scored["n_params"] * scored["n_tokens"]
    bases, calls = [], []
    for k, threshold in enumerate(thresholds):
        test = scored[band.loc[scored.index] == k]
        base = pd.DataFrame(
            {
                "cut": k,
                "point": test.index,
                "n_params": test["n_params"].to_numpy(float),
                "n_tokens": test["n_tokens"].to_numpy(float),
                "compute": compute.loc[test.index].to_numpy(float),
                "loss": test["loss"].to_numpy(float),
            }
        )
        base["compute_ratio"] = base["compute"] / threshold
        for column in ("run", "group"):
            if column in test.columns:
                base.insert(2, column, test[column].to_numpy(str))
        for label, model in models.items():
            bases.append((label, k, base))
            calls.append((sweep, band, k, model, test))
    parts, fits, by_scale = [], [], {label: [] for label in models}
    for (label, k, base), (lpd, grid, fitted) in zip(
        bases, map_calls(_score_cut, calls, executor), strict=True
    ):
        fits.append({"law": label, "cut": k, **fitted})
        parts.append(base.assign(law=label, lpd=lpd))
        by_scale[label].extend(grid.tolist())
    out = pd.concat(parts, ignore_index=True)
    extra = [c for c in ("run", "group") if c in out.columns]
    out = out[[*COLUMNS[:2], *extra, *COLUMNS[2:]]]
    out.attrs.update(
        cuts=cuts,
        thresholds=thresholds,
        fits=fits,
        lpd_by_scale={"scales": PRIOR_SCALES.tolist(), "lpd": by_scale},
    )
    return out


def _score_cut(
    sweep: Sweep, band: pd.Series, k: int, model: Model, test: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, dict]:
    """One fit of :func:`score_models`: ``model`` fitted before cut ``k`` scores the runs of
    ``test``; their log predictive densities, the same at each scale of the extrapolation
    error ``(point, scale)``, and the fit's training points, seconds (fit and scoring) and
    warnings."""
    started = time.perf_counter()
    post = _fit_before(sweep, band, k, model)
    scales = np.r_[PRIOR_SCALES, post.info.extrapolation_error]  # the grid, and the fit's c
    densities = log_density_by_scale(*_residuals(post, test, sweep.frame), scales)
    grid, lpd = densities[:, :-1], densities[:, -1]
    fitted = {
        "n_train": post.info.data.points,
        "seconds": round(time.perf_counter() - started, 2),
        "warnings": list(post.warnings),
    }
    return lpd, grid, fitted


def chosen_checkpoints(sweep: Sweep, model: Model) -> Sweep:
    """The checkpoints of ``sweep`` that :func:`bayescale.fit` would choose for
    ``model``'s law."""
    law, kwargs = model.law, model.fit_kwargs
    with warnings.catch_warnings():  # documented: each law fits its own checkpoints
        warnings.simplefilter("ignore", SweepWarning)
        return select_checkpoints(
            sweep,
            law.conditions is not None and law.conditions.reads_schedules,
            kwargs.get("checkpoints"),
            kwargs.get("min_fraction", CURVE_MIN_FRACTION),
        )


def _fit_before(sweep: Sweep, band: pd.Series, k: int, model: Model) -> Posterior:
    """``model`` fitted on the runs that cut ``k`` trains on (bands below ``k``), on the
    checkpoints :func:`bayescale.fit` would choose for its law, padded to all of them so
    that every cut (and the fit on all) runs one compiled sampler."""
    chosen = chosen_checkpoints(sweep, model)
    held_out = band.index[band >= k]
    train = chosen.exclude(list(held_out), reason=f"held out by leave-future-out cut {k}")
    try:
        return fit(train, model.law, pad_to=len(chosen.fit_frame), **model.fit_kwargs)
    except SweepValidationError as err:  # the user gave the whole sweep: say which part
        raise SweepValidationError(
            f"leave-future-out cut {k} (0 is the first of cuts=) fits the {model.law.name} law "
            f"on {len(train.fit_frame)} of the sweep's {len(chosen.fit_frame)} points (the "
            f"runs below the cut), and that fit failed: {err} Or start the cuts later (cuts=, "
            "fractions of the runs) so that the first fit has more runs."
        ) from err


def refit_model(posterior: Posterior) -> Model:
    """The law and :func:`bayescale.fit` arguments that refit ``posterior``'s model on
    other data: its law, pooling, varying parameters, centring, likelihood, extrapolation
    error, checkpoint rule and sampler settings (chains, warmup, draws, seed).

    Parameters
    ----------
    posterior
        a fit by :func:`bayescale.fit`, with the default priors.

    Returns
    -------
    Model
        the law and fit arguments.

    Raises
    ------
    InputError
        when the fit record cannot rebuild the model: priors other than the defaults (the
        record keeps their descriptions, not the distributions), or draws sampled outside
        bayescale.
    """
    info = posterior.info
    if info.sampler.warmup is None:
        raise InputError(
            f"the {info.law} posterior was sampled outside bayescale "
            f"({info.sampler.algorithm}), so it cannot be refitted at each cut; compute "
            "leave_future_out(sweep, ...) with the model you mean and pass it as lfo=."
        )
    vary = info.vary if info.pooling == "partial" else ()
    defaults = resolve_priors(
        posterior.law,
        info.likelihood,
        None,
        vary,
        info.curves.runs > 0,
        info.curves.offset_groups is not None,
    )
    changed = sorted(n for n, p in defaults.items() if info.priors.get(n) != describe(p))
    if changed:
        raise InputError(
            f"the {info.law} posterior was fitted with priors other than the defaults for "
            f"{changed}; the fit record keeps their descriptions, not the distributions, so "
            "it cannot be refitted at each cut. Compute leave_future_out(sweep, ..., "
            "priors=...) and pass it as lfo=."
        )
    kwargs = {
        "pooling": info.pooling,
        "likelihood": info.likelihood,
        "extrapolation_error": info.extrapolation_error,
        "chains": info.sampler.chains,
        "warmup": info.sampler.warmup,
        "draws": info.sampler.draws,
        "seed": info.sampler.seed,
        "progress": False,
    }
    if info.pooling == "partial":
        kwargs.update(vary=list(info.vary), centring=info.centring)
    if info.curves.min_fraction is not None:
        kwargs["min_fraction"] = info.curves.min_fraction
    if info.curves.offset_groups is not None:
        kwargs["offset_groups"] = info.curves.offset_groups
    return Model(posterior.law, kwargs)


def stacking_objective(lpd, weights) -> float:
    """``Σ_i log Σ_m w_m exp(lpd_im)``, the log score of the mixture (module docstring).

    Parameters
    ----------
    lpd
        log predictive densities, ``(points, models)``.
    weights
        one weight per model.

    Returns
    -------
    float
        the log score in nats.
    """
    values = np.asarray(lpd, float)
    with np.errstate(divide="ignore"):
        log_w = np.log(np.asarray(weights, float))
    return float(special.logsumexp(values + log_w, axis=1).sum())


def stacking_weights(lpd):
    """Stacking weights of models from their pointwise log predictive densities
    (Yao et al. 2018; module docstring).

    Parameters
    ----------
    lpd
        ``(points, models)``: an array, or a frame whose columns are the models (such as
        ``frame.pivot(index=["cut", "point"], columns="law", values="lpd")`` of
        :func:`leave_future_out`'s frame). ``-inf`` is allowed where some model predicts
        a point with positive density.

    Returns
    -------
    numpy.ndarray or pandas.Series
        the weights, non-negative and summing to 1: a Series by model for a frame.
    """
    values = np.asarray(lpd, float)
    if values.ndim != 2 or 0 in values.shape:
        raise InputError(
            f"lpd must be a (points, models) table with at least one of each, got shape "
            f"{values.shape}."
        )
    if np.isnan(values).any() or (values == np.inf).any():
        raise InputError("lpd holds NaN or +inf; each entry must be a log density or -inf.")
    hopeless = np.flatnonzero(np.isneginf(values).all(axis=1))
    if hopeless.size:
        raise InputError(
            f"every model gives point(s) {hopeless[:5].tolist()} zero density, so no weights "
            "predict them; drop those points or add a model that predicts them."
        )
    weights = np.ones(1) if values.shape[1] == 1 else _optimise(values)
    if isinstance(lpd, pd.DataFrame):
        return pd.Series(weights, index=lpd.columns, name="weight")
    return weights


def _optimise(values: np.ndarray) -> np.ndarray:
    """The maximising weights, by L-BFGS over ``z`` with ``w = softmax(z, 0)``."""
    n, m = values.shape

    def negative(z):
        log_w = special.log_softmax(np.append(z, 0.0))
        joint = values + log_w
        total = special.logsumexp(joint, axis=1, keepdims=True)
        share = np.exp(joint - total).sum(axis=0)  # Σ_i r_ij
        return -float(total.sum()), -(share - n * np.exp(log_w))[:-1]

    result = optimize.minimize(
        negative,
        np.zeros(m - 1),
        jac=True,
        method="L-BFGS-B",
        options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 10_000},
    )
    return special.softmax(np.append(result.x, 0.0))


def lfo_summary(lfo: pd.DataFrame) -> pd.DataFrame:
    """Per law: ``elpd_lfo``, its standard error ``se_lfo``, the standard error of its
    difference to the best law ``dse_lfo`` (0 for the best), the stacking weight
    ``weight_lfo`` and the points scored ``n_lfo``, best first.

    Parameters
    ----------
    lfo
        the frame of :func:`leave_future_out`.

    Returns
    -------
    pandas.DataFrame
        indexed by law, columns :data:`SUMMARY_COLUMNS`.
    """
    missing = sorted({"cut", "point", "law", "lpd"} - set(lfo.columns))
    if missing:
        raise InputError(
            f"the leave-future-out frame lacks column(s) {missing}; pass the frame "
            "bs.leave_future_out returns."
        )
    wide = lfo.pivot(index=["cut", "point"], columns="law", values="lpd")
    if wide.isna().any().any():
        raise InputError(
            "the laws of the leave-future-out frame were not scored on the same points; "
            "compute them in one leave_future_out call."
        )
    n = len(wide)
    elpd = wide.sum()
    best = elpd.idxmax()
    table = pd.DataFrame(
        {
            "elpd_lfo": elpd,
            "se_lfo": np.sqrt(n * wide.var(ddof=0)),
            "dse_lfo": np.sqrt(n * wide.sub(wide[best], axis=0).var(ddof=0)),
            "weight_lfo": stacking_weights(wide),
            "n_lfo": n,
        }
    )
    table.index.name = "law"
    return table.sort_values("elpd_lfo", ascending=False)
