r"""Extrapolation backtests: fit on the small runs of a sweep, predict the large ones.

A scaling law is used to predict runs larger than any it was fitted on, so the test that
matters is an extrapolation test. :func:`backtest` splits a sweep by run size, fits on the
small part and scores the predictive intervals for the held-out large runs:

1. **Split.** Each run gets a key, its final training compute ``C = 6·N·D`` (``split=
   "compute"``) or its model size ``N`` (``split="n_params"``). Runs whose key is at or
   below a cut train; the others are held out. The cut is the ``frac`` quantile of the
   runs' keys (default 0.75) or a given ``threshold``; ``split`` can also be a boolean
   mask over ``sweep.frame`` (True = train). A run is never split: for training curves
   (a ``run`` column with several checkpoints) the key is the run's final compute, and
   a mask that puts checkpoints of one run on both sides is an error. Rows already
   excluded from the sweep take part in neither side. Of training curves, both sides keep
   the checkpoints :func:`bayescale.fit` would fit (``checkpoints`` and ``min_fraction``
   in ``fit_kwargs``; :func:`bayescale.curves.select_checkpoints`).
   Of a training curve the held-out run is scored at its final checkpoint only
   (:func:`bayescale.evaluation.splits.scored_rows`): a finished run is what a plan asks
   about, and its many correlated checkpoints would otherwise count many times.
2. **Fit.** :func:`bayescale.fit` on the training runs (``fit_kwargs`` go to it, e.g.
   ``pooling="partial"``) and, when ``baseline=True``, the Huber/L-BFGS fit and its
   bootstrap (:mod:`bayescale.evaluation.baseline`) on the same rows, and the split-
   conformal predictor (:mod:`bayescale.evaluation.conformal`: the Huber fit on the
   smaller training runs, calibrated on the largest share ``calibration`` of them, ordered
   by the split's key, compute for a mask): one law for ``pooling="none"``, one per group
   otherwise (the baselines have no pooling).
3. **Predict** each held-out point, with its group for per-group fits (an unseen group:
   ``"new"`` under partial pooling; the per-group baselines cannot predict it). Methods:

   ``bayescale``        posterior predictive of a new measurement (law + its error beyond
                        the fitted compute + noise, and a new run's offset for curve fits),
   ``bayescale_mean``   the posterior of the law and its error outside the fitted runs,
                        without noise (a diagnostic: how much of the interval is noise),
   ``bayescale_no_discrepancy``  ``bayescale`` without the law's error beyond the fitted
                        compute (:mod:`bayescale.discrepancy`; a diagnostic of what that
                        term does; absent when the fit's ``extrapolation_error`` is 0),
   ``stack``, ``law:<name>``  with ``laws=``, the posterior predictive of the
                        leave-future-out stack of those laws and of each law in it,
   ``bootstrap``        bootstrap distribution of the law's prediction (no noise),
   ``bootstrap_noise``  the same plus Normal noise at each replicate's residual scale,
   ``conformal``        split-conformal intervals ``L̂·exp(±q̂)`` from the Huber fit on the
                        proper part (its point prediction as the median; an interval is
                        infinite when too few runs calibrate, module docstring).

   The sampling methods' median and equal-tailed intervals are quantiles of their draws;
   the conformal method gives its intervals directly.

4. **Score**, per method: coverage of the equal-tailed ``levels`` intervals (share of held-
   out losses inside), absolute relative error of the median ``ARE = |L̃ − L| / L``
   (median and mean over points), the signed relative error's median (``bias``: > 0 means
   the method over-predicts the loss), the median relative width of the widest
   interval, and the mean interval score of each level and the weighted interval score
   (below). ``extrapolation`` = largest held-out compute / largest training compute.

The interval score (Gneiting & Raftery 2007, JASA 102:359) of a central
``(1 − α)`` interval ``[l, u]`` for an observation ``y`` is

.. math::

    \mathrm{IS}_α(l, u; y) = (u − l) + \frac{2}{α}(l − y)\,\mathbb 1\{y < l\}
        + \frac{2}{α}(y − u)\,\mathbb 1\{y > u\},

the width plus ``2/α`` times the distance by which the interval misses; lower is better,
and it is proper: its expectation is least for the true ``α/2`` and ``1 − α/2`` quantiles.
It is computed on log loss, ``l, u, y`` being logs of the bounds and of the loss, so it
is unitless and about relative (0.01 ≈ 1% of the loss) and the same for every size of
run. Quantiles commute with the logarithm, so the score stays proper; dividing a score on
the loss scale by the observed loss instead would weight runs by ``1/L`` and lose that.
``interval_score_<level>`` is its mean over held-out points. ``wis`` is the mean of the
weighted interval score over the ``K`` levels and the median ``m`` (Bracher, Ray, Gneiting
& Reich 2021, PLoS Comput. Biol. 17:e1008618),

.. math::

    \mathrm{WIS}(y) = \frac{1}{K + 1/2}\Big(\tfrac12 |y − m|
        + \sum_{k=1}^{K} \frac{α_k}{2}\,\mathrm{IS}_{α_k}(l_k, u_k; y)\Big),

which weighs each level's misses alike and, over many levels, approximates the
continuous ranked probability score (CRPS) of log loss. An infinite interval (the
conformal method with too few calibration runs) scores ``inf``.

Coverage from a few dozen held-out points is itself uncertain: with 40 points a true 90%
interval covers between about 80% and 98% of them (binomial 95% range); read a table
against that, and note that held-out points of one sweep are not independent (a law that
bends away from the data misses the large runs together).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

import numpy as np
import pandas as pd

from bayescale.curves import CURVE_MIN_FRACTION, select_checkpoints
from bayescale.discrepancy import DEFAULT_PRIOR, ScalePrior
from bayescale.draws import check_ci_prob, interval_columns
from bayescale.errors import ExtrapolationWarning, InputError, SweepWarning
from bayescale.evaluation import baseline as baseline_mod
from bayescale.evaluation import conformal as conformal_mod
from bayescale.evaluation.error_scale import learn_extrapolation_error
from bayescale.evaluation.lfo import leave_future_out
from bayescale.evaluation.splits import DEFAULT_FRAC, scored_rows, train_mask
from bayescale.inference import fit
from bayescale.laws import get_law
from bayescale.sweep import Sweep

#: Columns of :attr:`BacktestResult.table`; ``coverage_<level>`` and
#: ``interval_score_<level>`` repeat per level.
TABLE_COLUMNS = (
    "method",
    "group",
    "n_train",
    "n_test",
    "extrapolation",
    "coverage_*",
    "are_median",
    "are_mean",
    "bias",
    "width",
    "interval_score_*",
    "wis",
)


def _label(level: float) -> str:
    return f"{100 * level:g}"


@dataclass(frozen=True)
class BacktestResult:
    """What :func:`backtest` found. ``table``: one row per method (and per group, for
    grouped sweeps; ``group == "all"`` pools them), columns :data:`TABLE_COLUMNS`.
    ``points``: one row per held-out point and method with its median, the bounds of each
    level's equal-tailed interval (named as ``az.summary`` names them,
    :func:`~bayescale.draws.interval_columns`: ``eti_5%`` and ``eti_95%`` for 0.9),
    coverage flags (``covered_90``), interval scores (``interval_score_90``, ``wis``) and
    ARE. ``split``: the cut, sizes and compute ranges. ``posterior``, ``bootstrap`` and
    ``conformal`` (by group, or ``"all"``) are the fits on the training runs."""

    table: pd.DataFrame
    points: pd.DataFrame
    split: Mapping
    posterior: object
    bootstrap: Mapping = field(default_factory=dict)
    meta: Mapping = field(default_factory=dict)
    conformal: Mapping = field(default_factory=dict)

    def __post_init__(self):
        for name in ("split", "bootstrap", "meta", "conformal"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def __repr__(self) -> str:
        s = self.split
        return (
            f"BacktestResult({s['n_train']} training / {s['n_test']} held-out points, "
            f"extrapolation {s['extrapolation']:.3g}x in compute, methods "
            f"{list(self.table['method'].unique())})"
        )


def _sample_intervals(samples: np.ndarray, levels) -> dict[str, np.ndarray]:
    """Median and each level's equal-tailed bounds per point from ``(samples, points)``;
    NaN for points without draws (a group the per-group bootstrap cannot predict)."""
    ok = ~np.isnan(samples).all(axis=0)
    draws = samples[:, ok]
    values = {"median": np.median(draws, axis=0)}
    for level in levels:
        tail = (1.0 - level) / 2.0
        lower, upper = interval_columns(level)
        values[lower], values[upper] = np.quantile(draws, [tail, 1.0 - tail], axis=0)
    out = {}
    for name, v in values.items():
        out[name] = np.full(samples.shape[1], np.nan)
        out[name][ok] = v
    return out


def interval_score(lower, upper, observed, level: float) -> np.ndarray:
    """The interval score of central ``level`` intervals ``[lower, upper]`` for
    ``observed``, on whatever scale they are given (module docstring; the backtest passes
    logs): ``(u − l) + (2/α)·max(l − y, 0) + (2/α)·max(y − u, 0)``, ``α = 1 − level``."""
    lower, upper, observed = (np.asarray(v, float) for v in (lower, upper, observed))
    alpha = 1.0 - check_ci_prob(level)
    miss = np.maximum(lower - observed, 0.0) + np.maximum(observed - upper, 0.0)
    return (upper - lower) + (2.0 / alpha) * miss


def _score(values: Mapping, observed: np.ndarray, levels) -> pd.DataFrame:
    """Median, interval bounds, coverage flags, interval scores on log loss, WIS and ARE
    per point from a method's median and bounds (:func:`_sample_intervals`, or the
    conformal intervals); missing (NA) where the median is NaN (a group the per-group
    baselines cannot predict)."""
    ok = ~np.isnan(values["median"])
    obs = observed[ok]
    out = {name: np.asarray(v, float) for name, v in values.items()}
    log_obs = np.log(obs)
    weighted = 0.5 * np.abs(log_obs - np.log(out["median"][ok]))
    for level in levels:
        low, high = (out[name][ok] for name in interval_columns(level))
        covered = pd.array(np.full(observed.shape, pd.NA), dtype="boolean")
        covered[ok] = (obs >= low) & (obs <= high)
        out[f"covered_{_label(level)}"] = covered
        with np.errstate(divide="ignore"):  # an infinite interval's lower bound is 0
            score = interval_score(np.log(low), np.log(high), log_obs, level)
        out[f"interval_score_{_label(level)}"] = np.full(observed.shape, np.nan)
        out[f"interval_score_{_label(level)}"][ok] = score
        weighted = weighted + (1.0 - level) / 2.0 * score
    out["wis"] = np.full(observed.shape, np.nan)
    out["wis"][ok] = weighted / (len(levels) + 0.5)
    out["are"] = np.abs(out["median"] - observed) / observed
    return pd.DataFrame(out)


def _bayes_samples(post, test: pd.DataFrame, grouped: bool, seed: int):
    """Per-point predictive and law-only draws ``(samples, points)`` of the posterior."""
    n, d = test["n_params"].to_numpy(float), test["n_tokens"].to_numpy(float)
    labels = test["group"].to_numpy(str) if grouped else np.full(len(test), "all")
    fitted = post.groups_fitted
    parts = []
    for label in pd.unique(labels):
        where = labels == label
        group = label if grouped else None
        if grouped and label not in fitted:
            if post.info.pooling != "partial":
                raise InputError(
                    f"held-out group {label!r} has no training runs, and "
                    f"pooling={post.info.pooling!r} cannot predict an unseen "
                    "group; use pooling='partial' or a split that keeps some of "
                    "its runs in training."
                )
            group = "new"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExtrapolationWarning)  # extrapolating is the point
            draws = post.predict_loss(n[where], d[where], group=group, seed=seed)
        pred = draws["loss_predictive"].values.reshape(-1, int(where.sum()))
        law = draws["loss_mean"].values.reshape(-1, int(where.sum()))
        parts.append((where, pred, law))
    size = parts[0][1].shape[0]
    predictive, mean = np.empty((size, len(test))), np.empty((size, len(test)))
    for where, pred, law in parts:
        predictive[:, where], mean[:, where] = pred, law
    return predictive, mean


def _stack(train: Sweep, laws, fit_kwargs: Mapping, learn_error, scale: float):
    """The stack of ``laws`` on the training runs, each law's error scale learned under
    ``learn_error``'s prior, or fixed at the single fit's ``scale`` without learning."""
    from bayescale.stacking import stack  # stacking builds on this package's lfo

    if learn_error is False:
        return stack(train, laws, **{**fit_kwargs, "extrapolation_error": scale})
    prior = DEFAULT_PRIOR if learn_error is True else learn_error
    return stack(train, laws, error_prior=prior, **fit_kwargs)


def _boot_samples(train: Sweep, test: pd.DataFrame, grouped: bool, n_boot: int, seed: int, top):
    """Bootstrap draws without and with noise, ``(samples, points)``; NaN for points of a
    group without training runs."""
    n, d = test["n_params"].to_numpy(float), test["n_tokens"].to_numpy(float)
    labels = test["group"].to_numpy(str) if grouped else np.full(len(test), "all")
    boots, plain, noisy = {}, None, None
    for i, label in enumerate(pd.unique(labels)):
        where = labels == label
        if grouped and label not in train.groups:
            continue
        boot = baseline_mod.bootstrap(
            train, group=label if grouped else None, n_boot=n_boot, seed=seed + i, top=top
        )
        boots[label] = boot
        law = boot.draws(n[where], d[where], noise=False)
        with_noise = boot.draws(n[where], d[where], noise=True)
        if plain is None:
            plain = np.full((law.shape[0], len(test)), np.nan)
            noisy = np.full((with_noise.shape[0], len(test)), np.nan)
        plain[:, where], noisy[:, where] = law, with_noise
    return boots, plain, noisy


def _conformal_fits(
    train: Sweep, test: pd.DataFrame, grouped: bool, calibration: float, key: str, top
):
    """The split-conformal predictor of each held-out group with training runs (or of
    ``"all"``)."""
    if not grouped:
        return {"all": conformal_mod.conformal(train, calibration=calibration, key=key, top=top)}
    return {
        label: conformal_mod.conformal(
            train, group=label, calibration=calibration, key=key, top=top
        )
        for label in pd.unique(test["group"])
        if label in train.groups
    }


def _conformal_values(fits: Mapping, test: pd.DataFrame, grouped: bool, levels) -> dict:
    """The conformal median and bounds per held-out point; NaN for points of a group
    without training runs."""
    labels = test["group"].to_numpy(str) if grouped else np.full(len(test), "all")
    names = ["median", *(name for level in levels for name in interval_columns(level))]
    out = {name: np.full(len(test), np.nan) for name in names}
    for label, predictor in fits.items():
        where = labels == label
        values = predictor.intervals(
            test["n_params"].to_numpy(float)[where], test["n_tokens"].to_numpy(float)[where], levels
        )
        for name in names:
            out[name][where] = values[name]
    return out


def _summarise(
    points: pd.DataFrame, levels, train_max: Mapping, n_train: Mapping, grouped: bool
) -> pd.DataFrame:
    rows = []
    lower, upper = interval_columns(max(levels))  # the widest interval
    scopes = [("all", points)]
    if grouped:
        scopes += list(points.groupby("group", sort=True))
    for label, part in scopes:
        for method, sub in part.groupby("method", sort=False):
            sub = sub.dropna(subset=["median"])
            if sub.empty:
                continue
            row = {
                "method": method,
                "group": label,
                "n_train": n_train[label],
                "n_test": len(sub),
                "extrapolation": float(sub["compute"].max() / train_max[label]),
            }
            for level in levels:
                row[f"coverage_{_label(level)}"] = float(sub[f"covered_{_label(level)}"].mean())
            row["are_median"] = float(sub["are"].median())
            row["are_mean"] = float(sub["are"].mean())
            row["bias"] = float(((sub["median"] - sub["loss"]) / sub["loss"]).median())
            row["width"] = float(((sub[upper] - sub[lower]) / sub["median"]).median())
            for level in levels:
                name = f"interval_score_{_label(level)}"
                row[name] = float(sub[name].mean())
            row["wis"] = float(sub["wis"].mean())
            rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs.update(levels=tuple(levels), width_level=max(levels))
    return table


def backtest(
    sweep: Sweep,
    split="compute",
    frac: float | None = None,
    threshold: float | None = None,
    law="chinchilla",
    fit_kwargs: Mapping | None = None,
    baseline: bool = True,
    levels: Sequence[float] = (0.5, 0.8, 0.9),
    n_boot: int = baseline_mod.N_BOOT,
    top: int | None = baseline_mod.TOP_STARTS,
    seed: int = 0,
    calibration: float = conformal_mod.DEFAULT_CALIBRATION,
    learn_error: bool | ScalePrior = False,
    laws: Sequence | None = None,
) -> BacktestResult:
    """Fit on the smaller runs of ``sweep``, predict the held-out larger ones, and score
    the predictive intervals of bayescale (and of the Huber + bootstrap and split-conformal
    baselines). Held-out training curves are scored at each run's final checkpoint.

    See the module docstring for the methods and columns.

    Parameters
    ----------
    sweep
        the data, a :class:`bayescale.Sweep`.
    split
        how runs are ordered for the cut: ``"compute"`` (run final ``6·N·D``),
        ``"n_params"``, or a boolean mask over ``sweep.frame`` (True = train) that says
        which rows train, a run wholly on one side.
    frac
        the cut as the ``frac`` quantile of the runs' keys (default 0.75); not with a
        mask split.
    threshold
        the cut as a value of the key instead (FLOPs or parameters); not with a mask
        split.
    law
        the law to fit: a registered law's name or a :class:`bayescale.Law`.
    fit_kwargs
        passed to :func:`bayescale.fit` (``pooling=``, ``chains=``, ``warmup=``,
        ``draws=``, ...); its ``seed`` defaults to ``seed`` and ``progress`` to False.
    baseline
        add the Huber + bootstrap and the split-conformal methods (Chinchilla law only).
    levels
        the central interval probabilities scored.
    n_boot
        the baseline's bootstrap replicates.
    top
        the baseline's L-BFGS runs start from the ``top`` best grid starts.
    seed
        seeds the fit (unless ``fit_kwargs`` give one), the predictive draws and the
        bootstrap.
    calibration
        the share of the training runs (of each group, for per-group fits) on which the
        conformal baseline calibrates: the largest, by the split's key (compute for a
        mask split); :mod:`bayescale.evaluation.conformal`.
    learn_error
        learn the scale of the law's error outside the fitted runs from the training runs
        alone, as a user would from their sweep: leave-future-out on them
        (:func:`bayescale.leave_future_out`, the same law and ``fit_kwargs``, three more
        fits) updates a prior, :data:`~bayescale.discrepancy.DEFAULT_PRIOR` (``True``) or
        the :class:`~bayescale.discrepancy.ScalePrior` given
        (:func:`bayescale.learn_extrapolation_error`). ``meta["extrapolation_error"]``
        holds the value and its 90% interval.
    laws
        also fit these laws and their leave-future-out stack on the training runs
        (:func:`bayescale.stack`, the same ``fit_kwargs``; each law's error scale learned
        as ``learn_error`` says, or fixed at the fit's), scored as methods ``stack`` and
        ``law:<name>`` (each law's own posterior in the stack). ``meta["stack_weights"]``
        holds the weights.

    Returns
    -------
    BacktestResult
        the score table, the held-out points, the split and the fits.
    """
    levels = tuple(check_ci_prob(level) for level in levels)
    if not levels:
        raise InputError("levels must name at least one interval probability, e.g. (0.9,).")
    law_obj = get_law(law)
    if baseline and law_obj.name != "chinchilla":
        raise InputError(
            f"the baselines (bootstrap, conformal) implement the chinchilla law only, not "
            f"{law_obj.name!r}; pass baseline=False to backtest bayescale alone."
        )
    fit_kwargs = dict(fit_kwargs or {})
    fit_kwargs.setdefault("seed", seed)
    fit_kwargs.setdefault("progress", False)
    grouped = fit_kwargs.get("pooling", "none") != "none"

    train_mask(sweep, split, frac, threshold)  # validate before any work
    with warnings.catch_warnings():  # documented: both sides use the same checkpoints
        warnings.simplefilter("ignore", SweepWarning)
        sweep = select_checkpoints(
            sweep,
            law_obj.conditions is not None and law_obj.conditions.reads_schedules,
            fit_kwargs.get("checkpoints"),
            fit_kwargs.get("min_fraction", CURVE_MIN_FRACTION),
        )
    mask = train_mask(sweep, split, frac, threshold)
    frame = sweep.fit_frame
    train = sweep.exclude(mask.index[~mask], reason="held out by the backtest split")
    scored = frame.index.isin(scored_rows(sweep))  # of training curves, final checkpoints
    test = frame[~mask & scored]
    compute = 6.0 * frame["n_params"] * frame["n_tokens"]
    if baseline and grouped:  # the per-group Huber fit needs > 5 points: check before NUTS
        sizes = train.fit_frame["group"].value_counts()
        small = sorted(
            g for g in test["group"].unique() if 0 < sizes.get(g, 0) <= len(baseline_mod.PARAMS)
        )
        if small:
            raise InputError(
                f"group(s) {small} keep at most {len(baseline_mod.PARAMS)} training points, too "
                "few for the per-group Huber fit of the bootstrap baseline; use a split that "
                "trains on more of their runs, or baseline=False."
            )
    conformal_fits, conformal_seconds = {}, 0.0
    if baseline:  # before NUTS: an impossible calibration split fails fast
        started = time.perf_counter()
        key = split if isinstance(split, str) else "compute"
        conformal_fits = _conformal_fits(train, test, grouped, calibration, key, top)
        conformal_seconds = time.perf_counter() - started

    started = time.perf_counter()
    post = fit(train, law_obj, **fit_kwargs)
    learned = None
    if learn_error is not False:
        prior = DEFAULT_PRIOR if learn_error is True else learn_error
        scores = leave_future_out(train, {law_obj.name: law_obj}, **fit_kwargs)
        learned = learn_extrapolation_error(scores, prior=prior)
        post = post.with_extrapolation_error(learned.value)
    fit_seconds = time.perf_counter() - started
    samples = dict(
        zip(("bayescale", "bayescale_mean"), _bayes_samples(post, test, grouped, seed), strict=True)
    )
    if post.info.extrapolation_error > 0:
        samples["bayescale_no_discrepancy"] = _bayes_samples(
            post.with_extrapolation_error(0.0), test, grouped, seed
        )[0]
    stack_weights = None
    if laws is not None:
        mixed = _stack(train, laws, fit_kwargs, learn_error, post.info.extrapolation_error)
        stack_weights = dict(mixed.weights)
        samples["stack"] = _bayes_samples(mixed, test, grouped, seed)[0]
        for label, component in mixed.components.items():
            samples[f"law:{label}"] = _bayes_samples(component, test, grouped, seed)[0]
    boots, boot_seconds = {}, 0.0
    if baseline:
        started = time.perf_counter()
        boots, plain, noisy = _boot_samples(train, test, grouped, n_boot, seed, top)
        boot_seconds = time.perf_counter() - started
        if plain is not None:
            samples["bootstrap"], samples["bootstrap_noise"] = plain, noisy

    values = {method: _sample_intervals(draws, levels) for method, draws in samples.items()}
    if conformal_fits:
        values["conformal"] = _conformal_values(conformal_fits, test, grouped, levels)
    observed = test["loss"].to_numpy(float)
    train_max = {"all": float(compute[mask].max())}
    n_train = {"all": int(mask.sum())}
    if grouped:
        for label in test["group"].unique():
            in_group = mask & (frame["group"] == label)
            train_max[label] = float(compute[in_group].max()) if in_group.any() else np.nan
            n_train[label] = int(in_group.sum())
    base = pd.DataFrame(
        {
            "row": test.index,
            "n_params": test["n_params"].to_numpy(float),
            "n_tokens": test["n_tokens"].to_numpy(float),
            "compute": compute.loc[test.index].to_numpy(float),
            "loss": observed,
        }
    )
    for column in ("group", "run"):
        if column in test.columns:
            base.insert(1, column, test[column].to_numpy(str))
    base["compute_ratio"] = base["compute"] / train_max["all"]
    parts = []
    for method, method_values in values.items():
        scores = _score(method_values, observed, levels)
        parts.append(pd.concat([base.assign(method=method), scores], axis=1))
    points = pd.concat(parts, ignore_index=True)
    table = _summarise(points, levels, train_max, n_train, grouped)

    split_info = {
        "split": split if isinstance(split, str) else "mask",
        "frac": (DEFAULT_FRAC if frac is None and threshold is None else frac)
        if isinstance(split, str)
        else None,
        "threshold": threshold,
        "n_train": int(mask.sum()),
        "n_test": len(test),
        "train_max_compute": train_max["all"],
        "test_max_compute": float(compute.loc[test.index].max()),
        "test_min_compute": float(compute.loc[test.index].min()),
        "extrapolation": float(compute.loc[test.index].max() / train_max["all"]),
    }
    meta = {
        "dataset": sweep.source.get("name", "user table"),
        "law": law_obj.name,
        "levels": levels,
        "fit_kwargs": {k: v for k, v in fit_kwargs.items() if k != "priors"},
        "n_boot": n_boot if baseline else None,
        "top_starts": top if baseline else None,
        "seed": seed,
        "fit_seconds": round(fit_seconds, 2),
        "bootstrap_seconds": round(boot_seconds, 2),
        "calibration": calibration if baseline else None,
        "conformal_seconds": round(conformal_seconds, 2),
        "fit_warnings": list(post.warnings),
        "stack_weights": stack_weights,
        "extrapolation_error": {
            "value": post.info.extrapolation_error,
            "interval_90": None if learned is None else list(learned.interval(0.9)),
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return BacktestResult(
        table=table,
        points=points,
        split=split_info,
        posterior=post,
        bootstrap=boots,
        meta=meta,
        conformal=conformal_fits,
    )
