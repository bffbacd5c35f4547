"""Stacking's fits serially, through a process pool and through a local Dask cluster.

    python benchmarks/executors.py --workers 2 --chains 2 --warmup 300 --draws 300

Runs ``bs.stack(bs.load_dataset("chinchilla"), laws=[chinchilla, farseer,
chinchilla_beta_n], ...)`` (3 laws × (3 cuts + 1) = 12 fits) three ways, one after the
other: with ``executor=None``, with a spawn ``ProcessPoolExecutor`` of ``--workers``
processes and with a Dask ``LocalCluster`` of ``--workers`` single-threaded worker
processes (``client.get_executor()``); the pool and the cluster start inside the timing.
Prints each run's seconds, its ratio to the serial run, the machine's load average before
and after it (other work on the machine slows every run), and checks that the stacking
weights and the leave-future-out scores agree exactly.

JAX's persistent compilation cache is turned off (``BAYESCALE_JAX_CACHE=off``, inherited by
the workers), so that no run reuses what an earlier one compiled. ``--cache cold`` measures
a user's first stack: the cache on, as ``bs.fit`` turns it on by default, each run with a
fresh empty folder (the serial run's in this process, the pool's and the cluster's in
their workers), so that a run reuses only what it compiled itself (each law's
leave-future-out fits are padded to the sweep's points and run one sampler). ``--cache
warm`` measures a user's later stacks: the cache on (in a fresh temporary directory),
filled by one untimed serial stack first, then the three runs, which all find their
programs compiled.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

LAWS = ("chinchilla", "farseer", "chinchilla_beta_n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--cache", choices=("off", "cold", "warm"), default="off")
    args = parser.parse_args()
    # before bayescale starts JAX, and inherited by the workers
    os.environ["BAYESCALE_JAX_CACHE"] = "off" if args.cache == "off" else tempfile.mkdtemp()

    import distributed
    import pandas as pd

    import bayescale as bs

    sweep = bs.load_dataset("chinchilla")
    settings = {"chains": args.chains, "warmup": args.warmup, "draws": args.draws}

    def serial():
        return bs.stack(sweep, LAWS, **settings)

    def pool():
        spawn = multiprocessing.get_context("spawn")  # JAX is not fork-safe
        with ProcessPoolExecutor(args.workers, mp_context=spawn) as executor:
            return bs.stack(sweep, LAWS, executor=executor, **settings)

    def dask():
        with (
            distributed.LocalCluster(
                n_workers=args.workers, threads_per_worker=1, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            return bs.stack(sweep, LAWS, executor=client.get_executor(), **settings)

    print(
        f"{os.cpu_count()} CPUs; {len(LAWS)} laws × 4 fits, {settings}; cache {args.cache}",
        flush=True,
    )
    if args.cache == "warm":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            serial()
    rows, stacks = [], {}
    for name, run in (
        ("serial", serial),
        (f"process pool of {args.workers}", pool),
        (f"Dask LocalCluster of {args.workers}", dask),
    ):
        if args.cache == "cold":  # the workers a run starts read it; this process set it
            os.environ["BAYESCALE_JAX_CACHE"] = tempfile.mkdtemp()
        load = os.getloadavg()[0]
        started = time.perf_counter()
        with warnings.catch_warnings():  # kept per fit in lfo.attrs["fits"]
            warnings.simplefilter("ignore")
            stacks[name] = run()
        seconds = time.perf_counter() - started
        rows.append(
            {"run": name, "seconds": seconds, "load before": load, "load after": os.getloadavg()[0]}
        )
        print(f"{name}: {seconds:.1f} s", flush=True)
    table = pd.DataFrame(rows).set_index("run")
    table["ratio to serial"] = table["seconds"].iloc[0] / table["seconds"]
    print(table.round(2).to_string())
    first, *others = stacks.values()
    for other in others:
        assert dict(other.weights) == dict(first.weights), "the weights differ"
        pd.testing.assert_frame_equal(other.lfo, first.lfo, check_exact=True)
    print(
        "weights",
        {k: round(float(v), 4) for k, v in first.weights.items()},
        "(identical in all runs)",
    )


if __name__ == "__main__":
    main()
