"""Fit time of the curve-aware model: a bundled curve dataset or a synthetic curve sweep.

    python benchmarks/curve_fit_time.py routing_clark2022 --warmup 300 --draws 300
    python benchmarks/curve_fit_time.py synthetic --runs 40 --checkpoints 25 --chains 2

Prints wall and sampling seconds, leapfrog steps per draw, divergences and the worst R-hat.
Not a peer comparison (that is issue 7's benchmark); it measures where the curve model
spends its time. ``benchmarks/data_scaling.py`` uses its synthetic sweeps.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import bayescale as bs


def synthetic(runs: int, checkpoints: int, seed: int = 0, groups: int = 1) -> bs.Sweep:
    """Runs at 10 sizes (3e7–3e9), checkpoints from 10% to 100% of 30 tokens/param, a run
    offset of sd 0.02 and point noise of sd 0.003 on log loss. With ``groups`` > 1 the runs
    take turns among groups ``g0, g1, …`` whose ``a`` rises by 0.1 and ``α`` by 0.01 per
    group (e.g. datasets of different difficulty)."""
    rng = np.random.default_rng(seed)
    run = np.repeat(np.arange(runs), checkpoints)
    n = np.geomspace(3e7, 3e9, 10)[run % 10]
    g = run % groups
    d = 30 * n * np.tile(np.linspace(0.1, 1.0, checkpoints), runs)
    log_loss = np.logaddexp(
        np.log(1.8),
        np.logaddexp(
            np.log(450) + 0.1 * g - (0.34 + 0.01 * g) * np.log(n), np.log(2000) - 0.37 * np.log(d)
        ),
    )
    loss = np.exp(
        log_loss + 0.02 * rng.standard_normal(runs)[run] + 0.003 * rng.standard_normal(run.size)
    )
    frame = pd.DataFrame(
        {
            "n_params": n,
            "n_tokens": d,
            "loss": loss,
            "run": np.char.add("r", run.astype(str)),
            "group": np.char.add("g", g.astype(str)),
        }
    )
    return bs.Sweep.from_frame(frame if groups > 1 else frame.drop(columns="group"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a bundled dataset name, or 'synthetic'")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--checkpoints", type=int, default=25)
    parser.add_argument("--groups", type=int, default=1, help="synthetic: groups of runs")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--pooling", default="none", choices=["none", "partial", "separate"])
    args = parser.parse_args()
    sweep = (
        synthetic(args.runs, args.checkpoints, groups=args.groups)
        if args.source == "synthetic"
        else bs.load_dataset(args.source)
    )
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        post = bs.fit(
            sweep,
            chains=args.chains,
            warmup=args.warmup,
            draws=args.draws,
            pooling=args.pooling,
            progress=False,
        )
    stats = post.groups["sample_stats"]
    print(
        f"{args.source}: {post.info.data.points} points "
        f"({post.info.data.excluded} excluded), {post.info.curves.runs} runs, "
        f"{len(post.groups_fitted) or 1} law(s), pooling {args.pooling}"
    )
    print(
        f"wall {time.perf_counter() - started:.1f} s, sampling "
        f"{post.info.sampler.seconds:.1f} s, leapfrog steps per draw "
        f"{float(stats['n_steps'].mean()):.0f}, divergences {int(stats['diverging'].sum())}, "
        f"max R-hat {max(post.info.diagnostics['r_hat'].values()):.3f}"
    )
    for w in caught:
        print(f"  {w.category.__name__}: {w.message}")


if __name__ == "__main__":
    main()
