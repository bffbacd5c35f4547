"""Time of the planning queries on the shipped Chinchilla posterior (4 × 1000 draws).

    python benchmarks/planning_queries.py                      # every query, a table
    python benchmarks/planning_queries.py --only optimal --repeats 15 --json out.json

Each query runs over 1000 values of its query axis against every posterior draw:

* ``optimal``: budgets ``geomspace(1e18, 1e26, 1000)`` (the issue 7 target);
* ``optimal + interval``: the same, then ``.interval(0.9)`` (what ``bayescale plan`` does);
* ``predict_loss``: sizes ``geomspace(1e8, 1e12, 1000)`` at 20 tokens per parameter;
* ``excess_compute``: ratios ``geomspace(0.1, 10, 1000)`` of ``N_opt`` at 1e24 FLOPs;
* ``efficient_range``: at 1e24 FLOPs (its own grid of 121 ratios);
* ``compute_to_reach``: target losses ``linspace(1.9, 3.0, 1000)`` nats (all above the
  posterior's floor ``E ≈ 1.8``);
* ``kaplan optimal``: the Kaplan joint law's closed-form optimum, and the same law with
  the closed form removed (``kaplan_numeric``: :func:`bayescale.optimum.numeric_optimum`),
  on 4 × 1000 synthetic draws around Kaplan et al.'s constants (no sampling).

``first`` is the first call of a query in this process (tracing and XLA compilation
included, the JAX backend already started; queries run in the order above, so a later one
may reuse an earlier one's compiled code). ``warm`` is the median (and min) of
``--repeats`` further calls: wall
seconds and process CPU seconds (all threads; under contention from other processes the
CPU time is the steadier figure). The target (issue 7) is ``optimal`` warm wall < 0.1 s on
CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import sys
import time
import warnings

import jax
import numpy as np
import xarray as xr

import bayescale as bs
from bayescale.laws import KAPLAN

TARGET_S = 0.1
BUDGETS = np.geomspace(1e18, 1e26, 1000)
# Kaplan et al. 2020 (WebText2, nats/token), eq. 1.5.
KAPLAN_CONSTANTS = {
    "log_nc": math.log(6.4e13),
    "alpha_n": 0.076,
    "log_dc": math.log(1.8e13),
    "alpha_d": 0.095,
}


def kaplan_posterior(law: bs.Law, chains: int = 4, draws: int = 1000, seed: int = 0):
    """A posterior of ``law`` (Kaplan parameters) with draws scattered 2% around Kaplan's
    constants: enough to time the queries, no sampler involved."""
    rng = np.random.default_rng(seed)
    coords = {"chain": np.arange(chains), "draw": np.arange(draws)}
    values = {
        k: v * (1 + 0.02 * rng.standard_normal((chains, draws)))
        for k, v in {**KAPLAN_CONSTANTS, "sigma": 0.01}.items()
    }
    post = xr.Dataset({k: (("chain", "draw"), v) for k, v in values.items()}, coords=coords)
    empty = xr.Dataset({"log_loss": ("point", np.zeros(0))})
    groups = {
        "posterior": post,
        "sample_stats": xr.Dataset(coords=coords),
        "observed_data": empty,
        "constant_data": empty,
    }
    meta = {
        "law": law.name,
        "likelihood": "normal",
        "bayescale_version": bs.__version__,
        "data": {"points": 0, "log_compute_range": [math.log(1e18), math.log(1e22)]},
    }
    return bs.Posterior(groups=groups, law=law, meta=meta)


def queries(post: bs.Posterior) -> dict:
    """``{name: zero-argument call}``, in the order they are timed."""
    sizes = np.geomspace(1e8, 1e12, 1000)
    kaplan = kaplan_posterior(KAPLAN)
    kaplan_numeric = kaplan_posterior(
        dataclasses.replace(KAPLAN, name="kaplan_numeric", optimum=None)
    )
    return {
        "optimal": lambda: post.optimal(BUDGETS),
        "optimal + interval": lambda: post.optimal(BUDGETS).interval(0.9),
        "predict_loss": lambda: post.predict_loss(sizes, 20 * sizes),
        "excess_compute": lambda: post.excess_compute(np.geomspace(0.1, 10, 1000), 1e24),
        "efficient_range": lambda: post.efficient_range(1e24),
        "compute_to_reach": lambda: post.compute_to_reach(np.linspace(1.9, 3.0, 1000)),
        "kaplan optimal (closed form)": lambda: kaplan.optimal(BUDGETS),
        "kaplan optimal (numeric)": lambda: kaplan_numeric.optimal(BUDGETS),
    }


def timed(call) -> tuple[float, float]:
    """Wall and process CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="warm calls per query")
    parser.add_argument("--only", nargs="*", help="names (or prefixes) of the queries to time")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    started = time.perf_counter()
    post = bs.load_reference("chinchilla")
    load_s = time.perf_counter() - started
    jax.devices()  # start the backend outside the timings
    rows = []
    with warnings.catch_warnings():
        # budgets up to 1e26 lie beyond the fitted range: the warning is part of the call
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)
        warnings.simplefilter("ignore", bs.PlanningWarning)
        for name, call in queries(post).items():
            if args.only and not any(name.startswith(o) for o in args.only):
                continue
            first = timed(call)
            warm = np.array([timed(call) for _ in range(args.repeats)])
            rows.append(
                {
                    "query": name,
                    "first_s": first[0],
                    "first_cpu_s": first[1],
                    "warm_s": float(np.median(warm[:, 0])),
                    "warm_min_s": float(warm[:, 0].min()),
                    "warm_cpu_s": float(np.median(warm[:, 1])),
                }
            )
            print(f"  {name}: first {first[0]:.3f} s, warm {rows[-1]['warm_s']:.3f} s", flush=True)

    draws = post.posterior.sizes["chain"] * post.posterior.sizes["draw"]
    print(
        f"\nplanning queries: {draws} draws × 1000 query values, {args.repeats} warm "
        f"repeats; posterior loaded in {load_s:.2f} s; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"{'query':30s} {'first s':>8s} {'warm s':>8s} {'min s':>8s} {'warm CPU s':>11s}")
    for r in rows:
        print(
            f"{r['query']:30s} {r['first_s']:8.3f} {r['warm_s']:8.3f} {r['warm_min_s']:8.3f} "
            f"{r['warm_cpu_s']:11.3f}"
        )
    optimal = next((r for r in rows if r["query"] == "optimal"), None)
    if optimal is not None:
        verdict = "meets" if optimal["warm_s"] < TARGET_S else "misses"
        print(
            f"\ntarget (issue 7): optimal over {draws} draws × 1000 budgets in under "
            f"{TARGET_S * 1e3:.0f} ms warm on CPU: {optimal['warm_s'] * 1e3:.0f} ms, "
            f"{verdict} it"
        )
    if args.json:
        meta = {
            "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
            "machine": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "jax": jax.__version__,
            "device": str(jax.devices()[0]),
            "draws": draws,
            "query_values": 1000,
            "repeats": args.repeats,
            "target_s": TARGET_S,
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"meta": meta, "rows": rows}, fh, indent=2)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
