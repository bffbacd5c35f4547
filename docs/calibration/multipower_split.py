"""The published split of the multi-power law's curves (Luo et al. 2025): fit the three
training schedules of each model size, predict the six others.

Fits ``law="multipower"`` to the ``split == "train"`` runs of the bundled
``multipower_schedules`` dataset (cosine_24000, constant_24000, wsdcon_9 at 25M, 100M and
400M parameters), predicts every checkpoint of the 18 held-out runs under its own schedule
(:func:`bayescale.evaluation.score_curves`) and writes ``multipower_split.md``: per size,
the mean and worst relative error of the posterior median and the 90% interval's coverage,
beside the authors' published figures.

    python docs/calibration/multipower_split.py
    python docs/calibration/multipower_split.py --law annealing   # its table, printed
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import bayescale as bs
from bayescale.evaluation import score_curves

HERE = Path(__file__).resolve().parent
SAMPLER = {"chains": 4, "warmup": 1000, "draws": 1000, "seed": 0}
# Normal noise, the default for curves (bayescale.likelihood.default_likelihood), stated
LIKELIHOOD = "normal"
PUBLISHED = {  # the authors' README: mean and worst relative error on the six test schedules
    "25M": (0.110, 0.409),
    "100M": (0.142, 0.583),
    "400M": (0.168, 0.995),
}


def _targets(row, published) -> str:
    """Which of the issue's targets a size meets: mean error at most the published plus 0.05
    points, worst at most 1%, coverage of the 90% interval in [0.80, 0.97]."""
    if published is None:
        return ""
    missed = [
        name
        for name, ok in (
            ("mean", 100 * row["mean_rel_error"] <= published[0] + 0.05),
            ("worst", 100 * row["worst_rel_error"] <= 1.0),
            ("coverage", 0.80 <= row["coverage"] <= 0.97),
        )
        if not ok
    ]
    return "met" if not missed else "missed: " + ", ".join(missed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--law",
        default="multipower",
        help="another schedule-aware law (e.g. annealing): print its per-size table only",
    )
    args = parser.parse_args()
    sweep = bs.load_dataset("multipower_schedules")
    frame = sweep.frame
    train = sweep.exclude(frame["split"] != "train", reason="held out: the authors' test split")
    started = time.perf_counter()
    post = bs.fit(train, law=args.law, likelihood=LIKELIHOOD, **SAMPLER)
    seconds = time.perf_counter() - started
    test = frame[(frame["split"] == "test") & ~frame["excluded"]]
    table = score_curves(post, test, ci_prob=0.9)
    if args.law != "multipower":
        print(f"{args.law}: {seconds:.0f} s; warnings: {list(post.warnings) or 'none'}")
        print(table.to_string())
        return
    lines = [
        "# The multi-power law on the authors' split",
        "",
        "Fit on the three training schedules per size (cosine 24k, constant 24k, two-stage "
        "3e-4 → 9e-5), predict every checkpoint of the six others (cosine 72k, constant 72k, "
        "WSD and WSD-linear 20k→24k, two-stage to 3e-5 and 1.8e-4). Relative error of the "
        "posterior median, in percent; coverage of the 90% predictive interval (the law, "
        "its error beyond the fitted compute and a new run's noise). 'Published' is the "
        "authors' least-squares fit of one law per size (their README; their 'worst' is "
        "the mean over schedules of each schedule's worst error). bayescale fits one law "
        "across the three sizes (L0, A, alpha and B in N; C, beta, gamma shared).",
        "",
        "| size | checkpoints | mean rel. error (published) | worst rel. error | 90% coverage "
        "| issue's targets |",
        "|---|---|---|---|---|---|",
    ]
    for size, row in table.iterrows():
        published = PUBLISHED.get(size)
        mean = f"{100 * row['mean_rel_error']:.3f}%" + (
            f" ({published[0]:.3f}%)" if published else ""
        )
        lines.append(
            f"| {size} | {int(row['points'])} | {mean} | {100 * row['worst_rel_error']:.2f}% | "
            f"{row['coverage']:.2f} | {_targets(row, published)} |"
        )
    lines += [
        "",
        "Per held-out run:",
        "",
        "| run | predicted with | mean rel. error | worst rel. error | 90% coverage |",
        "|---|---|---|---|---|",
    ]
    fitted_trunks = set(train.fit_frame["trunk"])
    for run, part in test.groupby("run", sort=False):
        row = score_curves(post, part.drop(columns="group"), ci_prob=0.9).iloc[0]
        trunk = part["trunk"].iloc[0]
        how = f"offset of {trunk}" if trunk in fitted_trunks else "a new run's offset"
        lines.append(
            f"| {run} | {how} | {100 * row['mean_rel_error']:.3f}% | "
            f"{100 * row['worst_rel_error']:.2f}% | {row['coverage']:.2f} |"
        )
    lines += [
        "",
        "Four of the six held-out runs of a size (wsd, wsdld, wsdcon_3, wsdcon_18) are "
        "branches of a training run (the dataset's trunk column: identical losses up to "
        "their branch point), so they are predicted with that trunk's fitted offset; "
        "constant_72000 and cosine_72000 are runs of their own, predicted as new runs. "
        "The targets of the issue (mean error within 0.05 points of the published, worst "
        "at most 1%, coverage 0.80-0.97 per size) are checked in the last column. "
        "Per run, the largest errors are where the training schedules say least: "
        "cosine_72000 (three times longer than any fitted run) and wsdcon_3 (a drop to "
        "3e-5 where the fitted two-stage run drops to 9e-5); the decay response's C and "
        "gamma trade along a ridge that three schedules barely resolve (posterior medians "
        "below; the authors' per-size fits: C 2.07 / 2.13 / 2.02, beta 0.58 / 0.60 / "
        "0.59, gamma 0.64 / 0.66 / 0.64). New runs of one size share an error too: "
        "the law in N (log A, alpha and log B linear in log N) cannot pass through three "
        "sizes exactly, and in training each size's trunks take up the rest in their "
        "offsets, which a new run's prediction does not carry.",
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
