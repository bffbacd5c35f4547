"""Time of ``bs.suggest_runs`` over 1,000 candidates on the shipped Chinchilla posterior.

    python benchmarks/suggest_runs.py                 # k = 4, target N_opt at 1e24 FLOPs
    python benchmarks/suggest_runs.py --k 8 --repeats 5 --target region
    python benchmarks/suggest_runs.py --method reweight

The candidates are the default grid (:data:`bayescale.design.GRID`, 40 compute values ×
25 tokens-per-parameter values = 1,000 runs) from the fit's smallest compute to
``--max-compute``. The target is ``log N_opt`` at ``--budget`` (``n_opt``) or the log loss
at ten runs of 20 tokens per parameter from 1e9 to 7e10 parameters (``region``, with its
extrapolation error, which costs a hull per candidate outside the fitted runs a step). The
criterion is ``--method`` (:data:`bayescale.design.METHODS`; default the linear update).

``first`` is the first call in this process (tracing and XLA compilation included, the
JAX backend already started); ``warm`` the median and min of ``--repeats`` further calls,
in wall seconds and process CPU seconds (all threads; under contention from other
processes the CPU time is the steadier figure). The target (issue 21) is a suggestion
over 1,000 candidates in under 10 s on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings

import jax
import numpy as np

import bayescale as bs
from bayescale.design import MAX_DRAWS, METHODS

TARGET_S = 10.0


def _timed(call) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--target", choices=("n_opt", "region"), default="n_opt")
    parser.add_argument("--budget", type=float, default=1e24)
    parser.add_argument("--max-compute", type=float, default=1e22)
    parser.add_argument("--method", choices=METHODS, default="linear")
    args = parser.parse_args(argv)
    bs.use_cpu_devices()
    post = bs.load_reference("chinchilla")
    n = np.geomspace(1e9, 7e10, 10)
    target = (
        {"target": "n_opt", "budget": args.budget}
        if args.target == "n_opt"
        else {"target": "region", "at": (n, 20.0 * n)}
    )

    def call():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bs.PlanningWarning)
            warnings.simplefilter("ignore", bs.ExtrapolationWarning)
            frame = bs.suggest_runs(
                post, k=args.k, max_compute=args.max_compute, method=args.method, **target
            )
        assert len(frame) == 1000, len(frame)

    first = _timed(call)
    warm = np.array([_timed(call) for _ in range(args.repeats)])
    print(
        f"suggest_runs, 1000 candidates, k={args.k}, target={args.target}, "
        f"method={args.method}, "
        f"{post.posterior.sizes['chain'] * post.posterior.sizes['draw']} draws "
        f"(thinned to {MAX_DRAWS}); {platform.machine()} CPU, "
        f"{os.cpu_count()} cores, JAX {jax.__version__}"
    )
    print(f"first: {first[0]:.2f} s wall, {first[1]:.2f} s CPU (compile included)")
    print(
        f"warm:  {np.median(warm[:, 0]):.2f} s wall (min {warm[:, 0].min():.2f}), "
        f"{np.median(warm[:, 1]):.2f} s CPU (median of {args.repeats})"
    )
    print(f"target < {TARGET_S:g} s: {'met' if np.median(warm[:, 0]) < TARGET_S else 'not met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
