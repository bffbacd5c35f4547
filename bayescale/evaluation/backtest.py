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
2. **Fit.** :func:`bayescale.fit` on the training runs (``fit_kwargs`` go to it, e.g.
   ``pooling="partial"``) and, when ``baseline=True``, the Huber/L-BFGS fit and its
   bootstrap (:mod:`bayescale.evaluation.baseline`) on the same rows: one law for
   ``pooling="none"``, one per group otherwise (the bootstrap has no pooling).
3. **Predict** each held-out point, with its group for per-group fits (an unseen group:
   ``"new"`` under partial pooling; the per-group bootstrap cannot predict it). Methods:

   ``bayescale``        posterior predictive of a new measurement (law + its error beyond
                        the fitted compute + noise, and a new run's offset for curve fits),
   ``bayescale_mean``   the posterior of the law and its error beyond the fitted compute,
                        without noise (a diagnostic: how much of the interval is noise),
   ``bayescale_no_discrepancy``  ``bayescale`` without the law's error beyond the fitted
                        compute (:mod:`bayescale.discrepancy`; a diagnostic of what that
                        term does; absent when the fit's ``extrapolation_error`` is 0),
   ``bootstrap``        bootstrap distribution of the law's prediction (no noise),
   ``bootstrap_noise``  the same plus Normal noise at each replicate's residual scale.

4. **Score**, per method: coverage of the equal-tailed ``levels`` intervals (share of held-
   out losses inside), absolute relative error of the median ``ARE = |L̃ − L| / L``
   (median and mean over points), the signed relative error's median (``bias``: > 0 means
   the method over-predicts the loss) and the median relative width of the widest
   interval. ``extrapolation`` = largest held-out compute / largest training compute.

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
from bayescale.draws import check_ci_prob, interval_columns
from bayescale.errors import ExtrapolationWarning, InputError, InputTypeError, SweepWarning
from bayescale.evaluation import baseline as baseline_mod
from bayescale.inference import fit
from bayescale.laws import get_law
from bayescale.sweep import Sweep

SPLITS = ("compute", "n_params")
DEFAULT_FRAC = 0.75
#: Columns of :attr:`BacktestResult.table`; ``coverage_<level>`` repeats per level.
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
)


def _label(level: float) -> str:
    return f"{100 * level:g}"


def _run_keys(frame: pd.DataFrame) -> pd.Series:
    """Run id per row: the ``run`` column, or the row itself when there is none."""
    if "run" in frame.columns:
        return frame["run"].astype(str)
    return pd.Series([f"row {i}" for i in frame.index], index=frame.index)


def train_mask(
    sweep: Sweep, split="compute", frac: float | None = None, threshold: float | None = None
) -> pd.Series:
    """Which fitted rows of ``sweep`` train (True) and which are held out (False).

    Indexed like ``sweep.fit_frame``. See the module docstring for the rules; errors say
    what was wrong and how to fix it.
    """
    if not isinstance(sweep, Sweep):
        raise InputTypeError(
            f"backtest expects a bayescale.Sweep, got {type(sweep).__name__}; "
            "build one with bs.Sweep.from_frame(df, ...) or bs.load_dataset(name)."
        )
    frame = sweep.fit_frame
    runs = _run_keys(frame)
    if not isinstance(split, str):
        if frac is not None or threshold is not None:
            raise InputError(
                "frac= and threshold= apply to split='compute' or 'n_params'; "
                "a mask split already says which rows train."
            )
        mask = _as_mask(sweep, split).loc[frame.index]
        mixed = mask.groupby(runs).nunique()
        mixed = sorted(mixed.index[mixed > 1])
        if mixed:
            raise InputError(
                f"the split mask puts checkpoints of {len(mixed)} run(s) on both sides "
                f"(e.g. {mixed[:3]}); a run must train or be held out as a whole. Mark every "
                "row of a run the same way."
            )
    else:
        if split not in SPLITS:
            raise InputError(
                f"unknown split {split!r}; choose one of {list(SPLITS)} or pass a "
                "boolean mask over sweep.frame (True = train)."
            )
        if frac is not None and threshold is not None:
            raise InputError(
                f"give frac= or threshold=, not both (got frac={frac!r}, threshold={threshold!r})."
            )
        if threshold is None:
            frac = DEFAULT_FRAC if frac is None else frac
            if not (isinstance(frac, (int, float)) and 0.0 < frac < 1.0):
                raise InputError(
                    f"frac must lie in (0, 1), got {frac!r}; e.g. frac=0.75 trains "
                    "on the runs up to the 75% quantile of run size."
                )
        elif not (isinstance(threshold, (int, float)) and np.isfinite(threshold) and threshold > 0):
            unit = "FLOPs" if split == "compute" else "parameters"
            raise InputError(f"threshold must be a positive number of {unit}, got {threshold!r}.")
        value = (
            6.0 * frame["n_params"] * frame["n_tokens"] if split == "compute" else frame["n_params"]
        )
        key = value.groupby(runs).transform("max")
        per_run = key.groupby(runs).first()
        cut = float(np.quantile(per_run, frac)) if threshold is None else float(threshold)
        mask = key <= cut
        unit = "FLOPs" if split == "compute" else "parameters"
        if not mask.any():
            raise InputError(
                f"the {split} split at {cut:.4g} {unit} leaves no training runs "
                f"(the smallest run has {per_run.min():.4g}); raise the cut."
            )
        if mask.all():
            raise InputError(
                f"the {split} split at {cut:.4g} {unit} holds out no runs (the "
                f"largest run has {per_run.max():.4g}); lower the cut."
            )
    if not mask.any() or mask.all():
        raise InputError(
            "the split mask must mark some fitted rows True (train) and some "
            f"False (held out); it has {int(mask.sum())} of {len(mask)} True."
        )
    return mask.astype(bool).rename("train")


def _as_mask(sweep: Sweep, split) -> pd.Series:
    if isinstance(split, pd.Series):
        if split.dtype != bool:
            raise InputError(f"a split mask must be boolean, got dtype {split.dtype}.")
        missing = sweep.fit_frame.index.difference(split.index)
        if len(missing):
            raise InputError(
                f"the split mask lacks {len(missing)} fitted row(s) of the sweep "
                f"(e.g. {list(missing[:3])}); index it like sweep.frame."
            )
        return split
    values = np.asarray(split)
    if values.dtype != bool or values.shape != (len(sweep.frame),):
        raise InputError(
            f"split must be one of {list(SPLITS)} or a boolean mask with one entry "
            f"per row of sweep.frame ({len(sweep.frame)}); got "
            f"{type(split).__name__} of shape {values.shape}, dtype {values.dtype}."
        )
    return pd.Series(values, index=sweep.frame.index)


@dataclass(frozen=True)
class BacktestResult:
    """What :func:`backtest` found. ``table``: one row per method (and per group, for
    grouped sweeps; ``group == "all"`` pools them), columns :data:`TABLE_COLUMNS`.
    ``points``: one row per held-out point and method with its median, the bounds of each
    level's equal-tailed interval (named as ``az.summary`` names them,
    :func:`~bayescale.draws.interval_columns`: ``eti_5%`` and ``eti_95%`` for 0.9),
    coverage flags (``covered_90``) and ARE. ``split``: the cut, sizes and compute ranges.
    ``posterior`` and ``bootstrap`` (by group, or ``"all"``) are the fits on the training
    runs."""

    table: pd.DataFrame
    points: pd.DataFrame
    split: Mapping
    posterior: object
    bootstrap: Mapping = field(default_factory=dict)
    meta: Mapping = field(default_factory=dict)

    def __post_init__(self):
        for name in ("split", "bootstrap", "meta"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def __repr__(self) -> str:
        s = self.split
        return (
            f"BacktestResult({s['n_train']} training / {s['n_test']} held-out points, "
            f"extrapolation {s['extrapolation']:.3g}x in compute, methods "
            f"{list(self.table['method'].unique())})"
        )


def _score(samples: np.ndarray, observed: np.ndarray, levels) -> pd.DataFrame:
    """Median, interval bounds, coverage flags and ARE per point from ``(samples, points)``;
    missing (NA) for points without draws (a group the per-group bootstrap cannot predict)."""
    ok = ~np.isnan(samples).all(axis=0)
    draws, obs = samples[:, ok], observed[ok]
    values = {"median": np.median(draws, axis=0)}
    for level in levels:
        tail = (1.0 - level) / 2.0
        lower, upper = interval_columns(level)
        values[lower], values[upper] = np.quantile(draws, [tail, 1.0 - tail], axis=0)
    out = {}
    for name, v in values.items():
        out[name] = np.full(observed.shape, np.nan)
        out[name][ok] = v
    for level in levels:
        low, high = (values[name] for name in interval_columns(level))
        covered = pd.array(np.full(observed.shape, pd.NA), dtype="boolean")
        covered[ok] = (obs >= low) & (obs <= high)
        out[f"covered_{_label(level)}"] = covered
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
) -> BacktestResult:
    """Fit on the smaller runs of ``sweep``, predict the held-out larger ones, and score
    the predictive intervals of bayescale (and of the Huber + bootstrap baseline).

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
        add the Huber + bootstrap methods (Chinchilla law only).
    levels
        the central interval probabilities scored.
    n_boot
        the baseline's bootstrap replicates.
    top
        the baseline's L-BFGS runs start from the ``top`` best grid starts.
    seed
        seeds the fit (unless ``fit_kwargs`` give one), the predictive draws and the
        bootstrap.

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
            f"the bootstrap baseline implements the chinchilla law only, not "
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
    test = frame[~mask]
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

    started = time.perf_counter()
    post = fit(train, law_obj, **fit_kwargs)
    fit_seconds = time.perf_counter() - started
    samples = dict(
        zip(("bayescale", "bayescale_mean"), _bayes_samples(post, test, grouped, seed), strict=True)
    )
    if post.info.extrapolation_error > 0:
        samples["bayescale_no_discrepancy"] = _bayes_samples(
            post.with_extrapolation_error(0.0), test, grouped, seed
        )[0]
    boots, boot_seconds = {}, 0.0
    if baseline:
        started = time.perf_counter()
        boots, plain, noisy = _boot_samples(train, test, grouped, n_boot, seed, top)
        boot_seconds = time.perf_counter() - started
        if plain is not None:
            samples["bootstrap"], samples["bootstrap_noise"] = plain, noisy

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
            "compute": compute[~mask].to_numpy(float),
            "loss": observed,
        }
    )
    for column in ("group", "run"):
        if column in test.columns:
            base.insert(1, column, test[column].to_numpy(str))
    base["compute_ratio"] = base["compute"] / train_max["all"]
    parts = []
    for method, draws in samples.items():
        scored = _score(draws, observed, levels)
        parts.append(pd.concat([base.assign(method=method), scored], axis=1))
    points = pd.concat(parts, ignore_index=True)
    table = _summarise(points, levels, train_max, n_train, grouped)

    split_info = {
        "split": split if isinstance(split, str) else "mask",
        "frac": (DEFAULT_FRAC if frac is None and threshold is None else frac)
        if isinstance(split, str)
        else None,
        "threshold": threshold,
        "n_train": int(mask.sum()),
        "n_test": int((~mask).sum()),
        "train_max_compute": train_max["all"],
        "test_max_compute": float(compute[~mask].max()),
        "test_min_compute": float(compute[~mask].min()),
        "extrapolation": float(compute[~mask].max() / train_max["all"]),
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
        "fit_warnings": list(post.warnings),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return BacktestResult(
        table=table, points=points, split=split_info, posterior=post, bootstrap=boots, meta=meta
    )
