"""The published split of the multi-power law's curves (Luo et al. 2025): fit the three
training schedules of each model size, predict the six others.

Fits ``law="multipower"`` to the ``split == "train"`` runs of the bundled
``multipower_schedules`` dataset (cosine_24000, constant_24000, wsdcon_9 at 25M, 100M and
400M parameters), predicts every checkpoint of the 18 held-out runs under its own schedule
(:func:`bayescale.evaluation.score_curves`) and writes ``multipower_split.md``: per size,
the relative error of the posterior median aggregated as the authors' README does (each
held-out schedule's mean and largest error, averaged over the six schedules), the largest
error of any checkpoint and the 90% interval's coverage. Beside them, two point fits of one
law per size on the same checkpoints: the authors' published constants (from the dataset's
card), and the authors' recipe (Huber loss, L-BFGS; ``benchmarks/multipower_fit.py``) run
to convergence from those constants; and the recipe fitted to all three sizes at once,
with the law's parameters shared across sizes three ways (:data:`SHARING`).

    python docs/calibration/multipower_split.py
    python docs/calibration/multipower_split.py --law annealing   # its table, printed
    python docs/calibration/multipower_split.py --vary a,alpha,b  # sizes partially pooled
    python docs/calibration/multipower_split.py --offset-groups n_params  # a size's runs
    python docs/calibration/multipower_split.py --per-size  # one fit per size, as the authors
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import jax
import numpy as np
import pandas as pd

import bayescale as bs
from bayescale.evaluation import score_curves
from bayescale.ingest.multipower import CONSTANTS
from bayescale.laws.multipower import (
    LOG_N0,
    multipower_inputs,
    multipower_point_log_loss,
    single_size_theta,
)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "benchmarks"))
from multipower_fit import least_squares  # noqa: E402  (the peer recipe's one home)

SAMPLER = {"chains": 4, "warmup": 1000, "draws": 1000, "seed": 0}
# Normal noise, the default for curves (bayescale.likelihood.default_likelihood), stated
LIKELIHOOD = "normal"
# The law's parameters a per-size fit frees: at N = N_0 the size terms reduce to L_0 = E
# (with A_N's term at e^-60, below float64 resolution of L_0), A, α and B.
PER_SIZE = ("e", "a", "alpha", "b", "c", "beta", "gamma")
# Run to convergence: stop only when an L-BFGS step changes the Huber objective (about 1e-4
# here) by less than 1e-15 of itself, or the projected gradient is below 1e-12, near float64
# resolution; SciPy's defaults (2.2e-9, 1e-5) stop the 100M and 400M fits early.
CONVERGED = {"ftol": 1e-15, "gtol": 1e-12}
# How one point fit of the three sizes shares the law's parameters across them: the names
# that take one value per size (None: bayescale's law in N, every parameter shared).
SHARING = {
    "one law in N, as bayescale's (12 parameters)": None,
    "L0, A, alpha, B per size; C, beta, gamma shared (15)": ("e", "a", "alpha", "b"),
    "all seven per size (21)": PER_SIZE,
}


def point_errors(theta: dict, frame: pd.DataFrame, log_n=LOG_N0) -> np.ndarray:
    """Relative errors of a point fit ``theta`` at ``frame``'s checkpoints (by default of one
    size's law, at ``N_0``)."""
    with jax.enable_x64(True):
        log_loss = multipower_point_log_loss(
            theta, np.broadcast_to(log_n, len(frame)), None, **multipower_inputs(frame)
        )
    return np.abs(np.exp(np.asarray(log_loss)) / frame["loss"].to_numpy() - 1)


def by_schedule(errors: pd.Series, runs: pd.Series) -> tuple[float, float]:
    """The README's aggregation: each held-out schedule's mean and largest relative error,
    averaged over the schedules."""
    per_run = errors.groupby(runs.to_numpy()).agg(["mean", "max"])
    return float(per_run["mean"].mean()), float(per_run["max"].mean())


def point_fits(frame: pd.DataFrame) -> pd.DataFrame:
    """Per size, the authors' published constants and their recipe run to convergence from
    those constants: mean relative error on the training schedules, and on the held-out ones
    the README's mean and worst (:func:`by_schedule`) and the largest of any checkpoint."""
    figures = bs.dataset_card("multipower_schedules")["published"]["figures"]
    rows = []
    for size, part in frame.groupby("group", sort=False):
        train, test = part[part["split"] == "train"], part[part["split"] == "test"]
        published = single_size_theta(*(figures[size]["constants"][k] for k in CONSTANTS))
        with jax.enable_x64(True):
            converged, _, _ = least_squares(
                np.full(len(train), LOG_N0),
                train["loss"].to_numpy(float),
                multipower_inputs(train),
                start=published,
                free=PER_SIZE,
                options=CONVERGED,
            )
        for fit, theta in (("published constants", published), ("recipe, converged", converged)):
            errors = pd.Series(point_errors(theta, test), index=test.index)
            mean, worst = by_schedule(errors, test["run"])
            rows.append(
                {
                    "size": size,
                    "fit": fit,
                    "train_mean": float(point_errors(theta, train).mean()),
                    "mean": mean,
                    "worst": worst,
                    "largest": float(errors.max()),
                }
            )
    return pd.DataFrame(rows)


def sharing_fits(frame: pd.DataFrame) -> pd.DataFrame:
    """The authors' recipe run to convergence on the training schedules of all three sizes at
    once, sharing the law's parameters across sizes as each of :data:`SHARING` says (the
    shared law in ``N`` from the priors' centres, the others from each size's published
    constants, a shared parameter from their mean over sizes): per size, the README's mean
    and worst error on the held-out schedules."""
    figures = bs.dataset_card("multipower_schedules")["published"]["figures"]
    sizes = list(frame["group"].unique())
    size = frame["group"].map({s: i for i, s in enumerate(sizes)}).to_numpy()
    published = [single_size_theta(*(figures[s]["constants"][k] for k in CONSTANTS)) for s in sizes]
    by_size = {p: np.array([theta[p] for theta in published]) for p in published[0]}
    train = (frame["split"] == "train").to_numpy()
    rows = []
    for sharing, per_group in SHARING.items():
        law_in_n = per_group is None
        start = {p: v if p in (per_group or ()) else v.mean() for p, v in by_size.items()}
        log_n = np.log(frame["n_params"].to_numpy(float)) if law_in_n else LOG_N0
        with jax.enable_x64(True):
            theta, _, _ = least_squares(
                np.broadcast_to(log_n, len(frame))[train],
                frame["loss"].to_numpy(float)[train],
                multipower_inputs(frame[train]),
                start=None if law_in_n else start,
                free=None if law_in_n else PER_SIZE,
                options=CONVERGED,
                per_group=() if law_in_n else per_group,
                group=None if law_in_n else size[train],
            )
        for i, name in enumerate(sizes):
            test = ((frame["group"] == name) & (frame["split"] == "test")).to_numpy()
            theta_i = {p: v[i] if np.ndim(v) else v for p, v in theta.items()}
            log_n_i = np.broadcast_to(log_n, len(frame))[test]
            errors = pd.Series(point_errors(theta_i, frame[test], log_n_i))
            mean, worst = by_schedule(errors, frame.loc[test, "run"])
            rows.append({"sharing": sharing, "size": name, "mean": mean, "worst": worst})
    return pd.DataFrame(rows)


def _targets(mean: float, worst: float, coverage: float, published: dict) -> str:
    """Which of the issue's targets a size meets: mean error at most the published plus 0.05
    points and worst at most 1% (both aggregated as the README does), coverage of the 90%
    interval in [0.80, 0.97]."""
    missed = [
        name
        for name, ok in (
            ("mean", mean <= published["mean_rel"] + 0.0005),
            ("worst", worst <= 0.01),
            ("coverage", 0.80 <= coverage <= 0.97),
        )
        if not ok
    ]
    return "met" if not missed else "missed: " + ", ".join(missed)


def per_size(law: str) -> None:
    """One fit per size on that size's training runs, as the authors fit one law per size:
    print its sampling diagnostics and its errors on the size's held-out runs."""
    sweep = bs.load_dataset("multipower_schedules")
    frame = sweep.frame
    for size in frame["group"].unique():
        other = (frame["split"] != "train") | (frame["group"] != size)
        train = sweep.exclude(other, reason="held out, or another size")
        started = time.perf_counter()
        post = bs.fit(train, law=law, likelihood=LIKELIHOOD, progress=False, **SAMPLER)
        seconds = time.perf_counter() - started
        test = frame[(frame["split"] == "test") & ~frame["excluded"] & (frame["group"] == size)]
        runs = pd.DataFrame(
            [score_curves(post, part, ci_prob=0.9).iloc[0] for _, part in test.groupby("run")]
        )
        diverging = post.groups["sample_stats"]["diverging"].values
        sigma_run = post.posterior["sigma_run"].values
        print(
            f"{law} {size} alone: {seconds:.0f} s, {int(diverging.sum())} divergences, "
            f"max R-hat {post.summary()['r_hat'].max():.3f}; sigma_run 5-95% "
            f"{np.quantile(sigma_run, 0.05):.4f}-{np.quantile(sigma_run, 0.95):.4f}, median "
            f"{np.median(sigma_run):.4f} (in divergent transitions "
            f"{np.median(sigma_run[diverging]) if diverging.any() else float('nan'):.4f}); "
            f"held out: mean {100 * runs['mean_rel_error'].mean():.3f}%, worst "
            f"{100 * runs['worst_rel_error'].mean():.2f}%, 90% coverage "
            f"{score_curves(post, test, ci_prob=0.9)['coverage'].iloc[0]:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--law",
        default="multipower",
        help="another schedule-aware law (e.g. annealing): print its per-size table only",
    )
    parser.add_argument(
        "--vary",
        default="",
        help="comma-separated parameters that vary by size under partial pooling (centred), "
        "e.g. a,alpha,b: print the per-size table only",
    )
    parser.add_argument(
        "--offset-groups",
        default=None,
        help="a column whose values group the runs' offsets (e.g. n_params: the runs of "
        "one size share part of theirs): print the per-size table only",
    )
    parser.add_argument(
        "--per-size",
        action="store_true",
        help="fit each size's training runs on their own (with --law): print each fit's "
        "divergences, R-hat and errors only",
    )
    args = parser.parse_args()
    if args.per_size:
        per_size(args.law)
        return
    pooling = (
        {"pooling": "partial", "vary": tuple(args.vary.split(",")), "centring": "centred"}
        if args.vary
        else {}
    )
    sweep = bs.load_dataset("multipower_schedules")
    frame = sweep.frame
    train = sweep.exclude(frame["split"] != "train", reason="held out: the authors' test split")
    started = time.perf_counter()
    post = bs.fit(
        train,
        law=args.law,
        likelihood=LIKELIHOOD,
        offset_groups=args.offset_groups,
        **pooling,
        **SAMPLER,
    )
    seconds = time.perf_counter() - started
    test = frame[(frame["split"] == "test") & ~frame["excluded"]]
    table = score_curves(post, test, ci_prob=0.9)
    fitted_trunks = set(train.fit_frame["trunk"])
    runs = pd.DataFrame(
        [
            {
                "size": part["group"].iloc[0],
                "run": run,
                "how": f"offset of {part['trunk'].iloc[0]}"
                if part["trunk"].iloc[0] in fitted_trunks
                else "a new run's offset",
                **score_curves(post, part, ci_prob=0.9).iloc[0],
            }
            for run, part in test.groupby("run", sort=False)
        ]
    )
    sizes = runs.groupby("size", sort=False).agg(
        mean=("mean_rel_error", "mean"), worst=("worst_rel_error", "mean")
    )
    sizes = sizes.join(table[["worst_rel_error", "coverage"]])
    if args.law != "multipower" or pooling or args.offset_groups:
        print(
            f"{args.law} {pooling} offset groups {args.offset_groups}: {seconds:.0f} s; "
            f"warnings: {list(post.warnings) or 'none'}"
        )
        print(sizes.to_string())
        return
    figures = bs.dataset_card("multipower_schedules")["published"]["figures"]
    offsets = post.posterior["run_offset"].median(("chain", "draw")).to_series()
    offsets = offsets.groupby(offsets.index.str.split("/").str[0], sort=False).mean()
    points = point_fits(frame[~frame["excluded"]])
    lines = [
        "# The multi-power law on the authors' split",
        "",
        "Fit on the three training schedules per size (cosine 24k, constant 24k, two-stage "
        "3e-4 → 9e-5), predict every checkpoint of the six others (cosine 72k, constant 72k, "
        "WSD and WSD-linear 20k→24k, two-stage to 3e-5 and 1.8e-4). Relative error of the "
        "posterior median, in percent, aggregated as the authors' README does: 'mean' and "
        "'worst' are each held-out schedule's mean and largest error, averaged over the six "
        "schedules; 'largest' is the largest error of any held-out checkpoint. Coverage of "
        "the 90% predictive interval (the law, its error beyond the fitted compute and a new "
        "run's noise) over the held-out checkpoints. bayescale fits one law across the three "
        "sizes (L0, A, alpha and B in N; C, beta, gamma shared); the published figures are "
        "the authors' least-squares fits of one law per size.",
        "",
        "| size | mean (published) | worst (published) | largest | 90% coverage "
        "| issue's targets |",
        "|---|---|---|---|---|---|",
    ]
    for size, row in sizes.iterrows():
        published = figures[size]
        lines.append(
            f"| {size} | {100 * row['mean']:.3f}% ({100 * published['mean_rel']:.3f}%) "
            f"| {100 * row['worst']:.2f}% ({100 * published['worst_rel']:.2f}%) "
            f"| {100 * row['worst_rel_error']:.2f}% | {row['coverage']:.2f} "
            f"| {_targets(row['mean'], row['worst'], row['coverage'], published)} |"
        )
    lines += [
        "",
        "The published figures come from constants that the authors' own recipe does not "
        "stop at. The same per-size law, evaluated on the same checkpoints, with the "
        "published constants and with the recipe (Huber loss with their delta 1e-3 on the "
        "loss, L-BFGS; `benchmarks/multipower_fit.py`) run to convergence from those "
        "constants:",
        "",
        "| size | point fit | mean error on the training schedules | mean | worst | largest |",
        "|---|---|---|---|---|---|",
    ]
    for row in points.itertuples():
        lines.append(
            f"| {row.size} | {row.fit} | {100 * row.train_mean:.3f}% | {100 * row.mean:.3f}% "
            f"| {100 * row.worst:.2f}% | {100 * row.largest:.2f}% |"
        )
    sharing = sharing_fits(frame[~frame["excluded"]])
    lines += [
        "",
        "What sharing parameters across sizes costs, in the recipe itself: run to convergence "
        "on the training schedules of the three sizes at once, with the law's parameters "
        "shared across sizes three ways (the first is the law bayescale fits; the last is the "
        "published per-size law, fitted jointly, which ends at a slightly different optimum "
        "than three separate fits do), mean / worst held-out error per size:",
        "",
        "| parameters | 25M | 100M | 400M |",
        "|---|---|---|---|",
    ]
    for name, part in sharing.groupby("sharing", sort=False):
        lines.append(
            f"| {name} | "
            + " | ".join(f"{100 * r.mean:.3f}% / {100 * r.worst:.2f}%" for r in part.itertuples())
            + " |"
        )
    lines += [
        "",
        "Per held-out run:",
        "",
        "| run | predicted with | mean rel. error | worst rel. error | 90% coverage |",
        "|---|---|---|---|---|",
    ]
    for row in runs.itertuples():
        lines.append(
            f"| {row.run} | {row.how} | {100 * row.mean_rel_error:.3f}% | "
            f"{100 * row.worst_rel_error:.2f}% | {row.coverage:.2f} |"
        )
    lines += [
        "",
        "Four of the six held-out runs of a size (wsd, wsdld, wsdcon_3, wsdcon_18) are "
        "branches of a training run (the dataset's trunk column: identical losses up to "
        "their branch point), so they are predicted with that trunk's fitted offset; "
        "constant_72000 and cosine_72000 are runs of their own, predicted as new runs. "
        "The targets of the issue (mean error within 0.05 points of the published, worst "
        "at most 1%, both aggregated as the README does, and coverage 0.80-0.97 per size) "
        "are checked in the last column of the first table.",
        "",
        "Where the errors come from. (1) New runs of one size share an error: the law in N "
        "(log A, alpha and log B linear in log N) cannot pass through three sizes exactly, "
        "and in training each size's runs take up the rest in their offsets, which a new "
        "run's prediction does not carry. Mean fitted offset of the training runs, by size: "
        + ", ".join(f"{size} {100 * offset:+.2f}%" for size, offset in offsets.items())
        + ". (2) The decay response extrapolates least well where the training schedules "
        "say least: cosine_72000 (three times longer than any fitted run) and wsdcon_3 (a "
        "drop to 3e-5 where the fitted two-stage run drops to 9e-5). The training "
        "checkpoints prefer a C, beta, gamma (posterior medians below) far from the "
        "published per-size constants (C 2.07 / 2.13 / 2.02, beta 0.58 / 0.60 / 0.59, "
        "gamma 0.64 / 0.66 / 0.64), which fit the training schedules worse than the "
        "authors' recipe does when run to convergence (second table); the converged recipe "
        "moves away from them too, and predicts the held-out schedules less well on average. "
        "(3) Sharing parameters across sizes costs the largest size most, in the recipe too "
        "(third table): at 400M the joint least-squares fits' mean held-out error is "
        + "{:.3f}% with one law in N, {:.3f}% with the size terms per size and {:.3f}% with "
        "all seven per size".format(*(100 * sharing.loc[sharing["size"] == "400M", "mean"]))
        + ". The decay response that this law shares across sizes, as the published "
        "constants suggest, is what each size's own fit moves most.",
        "",
        "Posterior medians of the decay response: "
        + ", ".join(f"{k} {post.posterior[k].median().item():.3g}" for k in ("c", "beta", "gamma"))
        + ".",
        "",
        f"Fit: {LIKELIHOOD} likelihood, {SAMPLER['chains']} chains × ({SAMPLER['warmup']} + "
        f"{SAMPLER['draws']}) draws, "
        f"{seconds:.0f} s end to end; warnings: {list(post.warnings) or 'none'}.",
        "",
        f"Command: `python docs/calibration/multipower_split.py`; {platform.processor() or 'CPU'}"
        f", Python {sys.version.split()[0]}, bayescale {bs.__version__}, "
        f"{datetime.now(UTC):%Y-%m-%d}.",
    ]
    (HERE / "multipower_split.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
