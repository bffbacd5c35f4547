"""float32 against float64: the posterior's accuracy against a float64 reference, and speed.

    python benchmarks/precision.py                        # CPU: flagship and curves
    python benchmarks/precision.py --device gpu --curve-points 1e5 --json out.json

Cases: the flagship fit (Chinchilla's law on the 240 points of the reference fit) and a
synthetic training-curve sweep (``curve_fit_time.synthetic``, ``--curve-points`` points in
runs of 25 checkpoints, one pooled law, run offsets integrated out). Each case is fitted
three times, 4 chains × (``--warmup`` + ``--draws``):

* float64, seed 0: the reference;
* float64, seed 1: the noise floor (how far two correct runs differ by Monte Carlo error);
* float32, seed 0.

For each run against the reference, over the law's parameters and the noise scales: the
largest difference of posterior medians, of the 5% and 95% quantiles, and of posterior
sds, in units of the reference's posterior sd. float32 is as accurate as float64 when its
differences are no larger than the noise floor's. Also wall seconds (compile included),
leapfrog steps per draw, divergences and the worst R-hat.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
from curve_fit_time import synthetic

import bayescale as bs
from bayescale.reference import reference_sweep

QUANTILES = (0.05, 0.5, 0.95)


def run(sweep: bs.Sweep, precision: str, seed: int, args) -> dict:
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        post = bs.fit(
            sweep,
            chains=4,
            warmup=args.warmup,
            draws=args.draws,
            seed=seed,
            device=args.device,
            precision=precision,
            progress=False,
        )
    stats = post.groups["sample_stats"]
    names = [*post.law.params, *(k for k in ("sigma", "nu", "sigma_run") if k in post.posterior)]
    draws = {k: post.posterior[k].values.astype(np.float64).ravel() for k in names}
    return {
        "precision": precision,
        "seed": seed,
        "wall_s": time.perf_counter() - started,
        "steps_per_draw": float(stats["n_steps"].mean()),
        "divergences": int(stats["diverging"].sum()),
        "max_r_hat": max(post.info.diagnostics["r_hat"].values()),
        "quantiles": {k: np.quantile(v, QUANTILES).tolist() for k, v in draws.items()},
        "sd": {k: float(v.std()) for k, v in draws.items()},
        "warnings": sorted({str(w.message)[:120] for w in caught}),
    }


def differences(one: dict, reference: dict) -> dict:
    """Largest |difference| over parameters, in reference posterior sds."""
    worst = {"median": 0.0, "q05_q95": 0.0, "sd": 0.0}
    for name, sd in reference["sd"].items():
        q, q_ref = np.array(one["quantiles"][name]), np.array(reference["quantiles"][name])
        worst["median"] = max(worst["median"], abs(q[1] - q_ref[1]) / sd)
        worst["q05_q95"] = max(
            worst["q05_q95"], abs(q[0] - q_ref[0]) / sd, abs(q[2] - q_ref[2]) / sd
        )
        worst["sd"] = max(worst["sd"], abs(one["sd"][name] - sd) / sd)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--curve-points", type=float, default=5e3)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    cases = {
        "flagship": reference_sweep("chinchilla"),
        f"curves, {int(args.curve_points):,} points": synthetic(int(args.curve_points) // 25, 25),
    }
    results = {}
    print(
        "| case | run | wall s | steps / draw | divergences | max R-hat | "
        "Δ median | Δ 5%/95% | Δ sd |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for case, sweep in cases.items():
        runs = [run(sweep, p, s, args) for p, s in (("float64", 0), ("float64", 1), ("float32", 0))]
        reference = runs[0]
        for r in runs:
            r["vs_reference"] = differences(r, reference) if r is not reference else None
            d = r["vs_reference"]
            cells = (
                ("reference", "", "")
                if d is None
                else (f"{d['median']:.2f}", f"{d['q05_q95']:.2f}", f"{d['sd']:.2f}")
            )
            print(
                f"| {case} | {r['precision']}, seed {r['seed']} | {r['wall_s']:.1f} | "
                f"{r['steps_per_draw']:.1f} | {r['divergences']} | {r['max_r_hat']:.3f} | "
                + " | ".join(cells)
                + " |",
                flush=True,
            )
        results[case] = runs
    print(
        "Δ: the largest difference from the float64 seed-0 reference over the law's "
        "parameters and noise scales, in reference posterior sds."
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"settings": vars(args), "results": results}, f, indent=1)
        print(f"saved {args.json}")


if __name__ == "__main__":
    main()
