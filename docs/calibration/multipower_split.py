"""The published split of the multi-power law's curves (Luo et al. 2025): fit the three
training schedules of each model size, predict the six others.

Fits ``law="multipower"`` to the ``split == "train"`` runs of the bundled
``multipower_schedules`` dataset (cosine_24000, constant_24000, wsdcon_9 at 25M, 100M and
400M parameters), predicts every checkpoint of the 18 held-out runs under its own schedule
(:func:`bayescale.evaluation.score_curves`) and writes ``multipower_split.md``: per size,
the mean and worst relative error of the posterior median and the 90% interval's coverage,
beside the authors' published figures.

    python docs/calibration/multipower_split.py
"""

from __future__ import annotations

import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import bayescale as bs
from bayescale.evaluation import score_curves

HERE = Path(__file__).resolve().parent
SAMPLER = {"chains": 4, "warmup": 1000, "draws": 1000, "seed": 0}
# Normal noise: with the default per-run Student-t the posterior has a second mode, far
# more probable, where nu < 1 discounts whole curves and the law fits them 3.5 times worse
# (docs/performance.md, the multi-power law's fit)
LIKELIHOOD = "normal"
PUBLISHED = {  # the authors' README: mean and worst relative error on the six test schedules
    "25M": (0.110, 0.409),
    "100M": (0.142, 0.583),
    "400M": (0.168, 0.995),
}


def main() -> None:
    sweep = bs.load_dataset("multipower_schedules")
    frame = sweep.frame
    train = sweep.exclude(frame["split"] != "train", reason="held out: the authors' test split")
    started = time.perf_counter()
    post = bs.fit(train, law="multipower", likelihood=LIKELIHOOD, **SAMPLER)
    seconds = time.perf_counter() - started
    test = frame[(frame["split"] == "test") & ~frame["excluded"]]
    table = score_curves(post, test, ci_prob=0.9)
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
        "| size | checkpoints | mean rel. error (published) | worst rel. error | 90% coverage |",
        "|---|---|---|---|---|",
    ]
    for size, row in table.iterrows():
        published = PUBLISHED.get(size)
        mean = f"{100 * row['mean_rel_error']:.3f}%" + (
            f" ({published[0]:.3f}%)" if published else ""
        )
        lines.append(
            f"| {size} | {int(row['points'])} | {mean} | {100 * row['worst_rel_error']:.2f}% | "
            f"{row['coverage']:.2f} |"
        )
    lines += [
        "",
        "The targets of the issue (mean error within 0.05 points of the published, worst at "
        "most 1%, coverage 0.80-0.97 per size) are not met. Where the error comes from: the "
        "fitted run offsets are nearly equal within a size (the law in N, with log A and "
        "alpha linear in log N, cannot pass through three sizes exactly, and each size's "
        "offsets take up the rest), and five of the six held-out runs of a size are branches "
        "of the trunk its training run wsdcon_9 belongs to (identical losses up to step "
        "7,936), so they share that run's offset, which a prediction for a new run leaves "
        "out.",
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
