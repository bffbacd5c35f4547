"""Fit time of the curve-aware model: a bundled curve dataset or a synthetic curve sweep.

    python benchmarks/curve_fit_time.py routing_clark2022 --warmup 300 --draws 300
    python benchmarks/curve_fit_time.py synthetic --runs 40 --checkpoints 25 --chains 2

Prints wall and sampling seconds, leapfrog steps per draw, divergences and the worst R-hat. Not a peer comparison (that is issue 7's
benchmark); it measures where the curve model spends its time.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import bayescale as bs


def synthetic(runs: int, checkpoints: int, seed: int = 0) -> bs.Sweep:
    """Runs at 10 sizes (3e7–3e9), checkpoints from 10% to 100% of 30 tokens/param, a run
    offset of sd 0.02 and point noise of sd 0.003 on log loss."""
    rng = np.random.default_rng(seed)
    sizes = np.geomspace(3e7, 3e9, 10)
    rows = []
    for r in range(runs):
        n = sizes[r % len(sizes)]
        d = 30 * n * np.linspace(0.1, 1.0, checkpoints)
        log_loss = np.logaddexp(np.log(1.8), np.logaddexp(np.log(450) - 0.34 * np.log(n),
                                                          np.log(2000) - 0.37 * np.log(d)))
        loss = np.exp(log_loss + 0.02 * rng.standard_normal()
                      + 0.003 * rng.standard_normal(checkpoints))
        rows.append(pd.DataFrame({"n_params": n, "n_tokens": d, "loss": loss, "run": f"r{r}"}))
    return bs.Sweep.from_frame(pd.concat(rows, ignore_index=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a bundled dataset name, or 'synthetic'")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--checkpoints", type=int, default=25)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--pooling", default="none", choices=["none", "partial", "separate"])
    args = parser.parse_args()
    sweep = (synthetic(args.runs, args.checkpoints) if args.source == "synthetic"
             else bs.load_dataset(args.source))
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        post = bs.fit(sweep, chains=args.chains, warmup=args.warmup, draws=args.draws,
                      pooling=args.pooling, progress=False)
    stats = post.groups["sample_stats"]
    print(f"{args.source}: {post.meta['data']['points']} points "
          f"({post.meta['data']['excluded']} excluded), {post.meta['curves']['runs']} runs, "
          f"{len(post.groups_fitted) or 1} law(s), pooling {args.pooling}")
    print(f"wall {time.perf_counter() - started:.1f} s, sampling "
          f"{post.meta['sampler']['seconds']:.1f} s, leapfrog steps per draw "
          f"{float(stats['n_steps'].mean()):.0f}, divergences {int(stats['diverging'].sum())}, "
          f"max R-hat {max(post.meta['diagnostics']['r_hat'].values()):.3f}")
    for w in caught:
        print(f"  {w.category.__name__}: {w.message}")


if __name__ == "__main__":
    main()
