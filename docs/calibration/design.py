"""Sequential design on a bundled sweep: runs chosen by ``bs.suggest_runs`` against random
and cheapest-first choices, scored on held-out larger runs.

The sweep's runs above the 75% quantile of compute (6ND) are held out. The design starts
from the ``START`` cheapest of the other runs (the pool) and adds pool runs until the
added compute reaches 1%, 5% and 10% of the sweep's total compute, refitting at each
level; each level's runs are chosen with the posterior of the level before. After each
level the posterior predicts the held-out runs: R² of the predictive medians (on loss)
and the share of held-out losses inside the central 90% predictive interval. The
reference is a fit on every pool run.

Strategies:

- ``suggest``: ``bs.suggest_runs`` with target ``"region"`` at the held-out runs' (N, D)
  (the quantity scored), candidates the unused pool runs that fit the level's remaining
  compute, ``k = K`` runs a level taken in rank order while they fit;
- ``random``: unused pool runs in random order, each taken while it fits;
- ``cheapest``: unused pool runs from the cheapest, while they fit (deterministic).

    python docs/calibration/design.py                 # ~15-25 min on 2 cores
    python docs/calibration/design.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

import bayescale as bs
from bayescale.reference import reference_sweep

HERE = Path(__file__).resolve().parent
SAMPLER = {"chains": 2, "warmup": 300, "draws": 300}
START = 8
LEVELS = (0.01, 0.05, 0.10)
HOLDOUT_QUANTILE = 0.75
K = 40
STRATEGIES = ("suggest", "random", "cheapest")


def _fit(frame: pd.DataFrame, seed: int) -> bs.Posterior:
    sweep = bs.Sweep.from_frame(frame[["n_params", "n_tokens", "loss"]].reset_index(drop=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small fits: R-hat/ESS warnings expected, noted
        return bs.fit(sweep, seed=seed, progress=False, **SAMPLER)


def _score(post: bs.Posterior, test: pd.DataFrame) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)
        pred = post.predict_loss(test["n_params"].to_numpy(), test["n_tokens"].to_numpy())
    draws = pred["loss_predictive"].values.reshape(-1, len(test))
    median = np.median(draws, axis=0)
    low, high = np.quantile(draws, [0.05, 0.95], axis=0)
    y = test["loss"].to_numpy()
    r2 = 1.0 - np.sum((y - median) ** 2) / np.sum((y - y.mean()) ** 2)
    return {"r2": float(r2), "coverage_90": float(np.mean((y >= low) & (y <= high)))}


def _choose(strategy, post, pool, used, remaining, test, rng, seed) -> list[int]:
    """Pool labels to add at one level, spending at most ``remaining`` FLOPs."""
    free = pool.index[~pool.index.isin(used)]
    flops = pool.loc[free, "flops"]
    free = flops.index[flops <= remaining]
    if strategy == "cheapest":
        order = pool.loc[free].sort_values("flops").index
    elif strategy == "random":
        order = rng.permutation(free.to_numpy())
    else:
        if len(free) == 0:
            return []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bs.PlanningWarning)
            warnings.simplefilter("ignore", bs.ExtrapolationWarning)
            result = bs.suggest_runs(
                post,
                candidates=pool.loc[free, ["n_params", "n_tokens"]],
                target="region",
                at=test[["n_params", "n_tokens"]],
                k=min(K, len(free)),
                seed=seed,
            )
        chosen = result[result["rank"].notna()]
        labels = pd.Series(free.to_numpy(), index=np.arange(len(free)))
        key = pool.loc[free, ["n_params", "n_tokens"]].to_numpy()
        order = []
        for row in chosen.itertuples():
            hit = np.flatnonzero((key[:, 0] == row.n_params) & (key[:, 1] == row.n_tokens))
            order.append(labels.iloc[int(hit[0])])
    picked, spent = [], 0.0
    for label in order:
        cost = pool.loc[label, "flops"]
        if spent + cost <= remaining:
            picked.append(label)
            spent += cost
    return picked


def run(seeds) -> pd.DataFrame:
    frame = reference_sweep("chinchilla").fit_frame.copy()
    frame["flops"] = 6.0 * frame["n_params"] * frame["n_tokens"]
    total = float(frame["flops"].sum())
    cut = frame["flops"].quantile(HOLDOUT_QUANTILE)
    test, pool = frame[frame["flops"] > cut], frame[frame["flops"] <= cut]
    start = list(pool.sort_values("flops").index[:START])
    rows = []
    t0 = time.time()
    full = _fit(pool, 0)
    rows.append(
        {
            "strategy": "all pool runs",
            "seed": 0,
            "level": np.nan,
            "runs": len(pool),
            "compute_share": pool["flops"].sum() / total,
            **_score(full, test),
        }
    )
    print(f"all pool runs: {rows[-1]} ({time.time() - t0:.0f} s)", flush=True)
    for seed in seeds:
        post0 = _fit(pool.loc[start], seed)
        for strategy in STRATEGIES:
            if strategy == "cheapest" and seed != seeds[0]:
                continue  # deterministic choice: one seed's fits are enough
            rng = np.random.default_rng(seed)
            used, post, spent = list(start), post0, 0.0
            for level in LEVELS:
                picked = _choose(strategy, post, pool, used, level * total - spent, test, rng, seed)
                used += picked
                spent += float(pool.loc[picked, "flops"].sum())
                post = _fit(pool.loc[used], seed)
                rows.append(
                    {
                        "strategy": strategy,
                        "seed": seed,
                        "level": level,
                        "runs": len(used),
                        "compute_share": spent / total,
                        **_score(post, test),
                    }
                )
                print(f"{rows[-1]} ({time.time() - t0:.0f} s)", flush=True)
    return pd.DataFrame(rows), len(test), len(pool), total, time.time() - t0


def write(table, n_test, n_pool, total, seconds, seeds) -> Path:
    summary = (
        table[table["strategy"] != "all pool runs"]
        .groupby(["level", "strategy"], sort=True)
        .agg(
            seeds=("seed", "nunique"),
            runs=("runs", "mean"),
            compute_share=("compute_share", "mean"),
            r2_mean=("r2", "mean"),
            r2_min=("r2", "min"),
            coverage_90_mean=("coverage_90", "mean"),
            coverage_90_min=("coverage_90", "min"),
        )
        .reset_index()
    )
    ref = table[table["strategy"] == "all pool runs"].iloc[0]

    def md(df):
        cols = list(df.columns)
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for r in df.itertuples(index=False):
            cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in r]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    command = "python docs/calibration/design.py --seeds " + " ".join(map(str, seeds))
    text = f"""# Which run next: sequential design against random and cheapest-first

Generated {datetime.now(UTC):%Y-%m-%d} by `{command}` (bayescale {bs.__version__}, Python
{platform.python_version()}, {platform.machine()} CPU, {seconds / 60:.0f} min). Do not edit by
hand; rerun the script.

Sweep: `chinchilla` (240 runs). Held out: the {n_test} runs above the
{HOLDOUT_QUANTILE:.0%} quantile of compute (6ND); pool: the other {n_pool}. Start: the
{START} cheapest pool runs. Runs are added until the added compute reaches 1%, 5% and 10% of
the sweep's total ({total:.3g} FLOPs; the start's runs not counted), refitting at each level
(NUTS, {SAMPLER["chains"]} chains × ({SAMPLER["warmup"]} warmup + {SAMPLER["draws"]} draws),
default priors, Student-t likelihood; small fits, so R-hat and ESS warnings are not shown).
Scores on the held-out runs: `r2` = R² of the posterior-predictive medians of loss,
`coverage_90` = share of held-out losses inside the central 90% predictive interval (with
{n_test} points a calibrated interval scatters by about ±{2 * (0.09 / n_test) ** 0.5:.2f},
and the points share one fitted law, so small differences mean little).

Strategies: `suggest` = `bs.suggest_runs(post, candidates=<unused pool runs that fit the
remaining compute>, target="region", at=<held-out (N, D)>, k={K})`, its runs taken in rank
order while they fit the level's compute; `random` = unused pool runs in random order while
they fit; `cheapest` = cheapest first (deterministic, one seed). A D-optimal design is not
run.

Reference, a fit on all {n_pool} pool runs ({ref["compute_share"]:.1%} of the compute):
R² {ref["r2"]:.3f}, 90% coverage {ref["coverage_90"]:.2f}.

## Summary over seeds

{md(summary)}

## Every run

{md(table)}
"""
    path = HERE / "design.md"
    path.write_text(text, encoding="utf-8")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args(argv)
    bs.use_cpu_devices()
    table, n_test, n_pool, total, seconds = run(args.seeds)
    print(f"wrote {write(table, n_test, n_pool, total, seconds, args.seeds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
