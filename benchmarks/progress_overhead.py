"""What the progress bar costs: the flagship fit with and without it.

    python benchmarks/progress_overhead.py                  # 3 rounds, 4 × (1000 + 1000)
    python benchmarks/progress_overhead.py --rounds 5 --warmup 500 --draws 500

The flagship fit (``peers/problem.py``: Chinchilla's law on the reference sweep, default
sampler settings) runs in a new process per fit, alternating ``progress=False`` and
``progress=True`` (the bar drawn to a discarded stderr), ``--rounds`` times each. Per fit:
``sampler_s`` is ``info.sampler.seconds`` (mode search, compilation and sampling) and
``compile_s`` the time of JAX's compile events in the fit (:mod:`peers.jax_timing`). A
sampler that reports its progress holds host callbacks, which JAX's persistent
compilation cache does not store, so its compile time is a cold compile in every
process; without the bar it is a cache read once an earlier run wrote it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = """
import json, sys, time
sys.path.insert(0, {here!r})
import bayescale as bs
from bayescale.reference import reference_sweep
from peers.jax_timing import compile_clock
from peers.problem import DATASET
sweep = reference_sweep(DATASET)
with compile_clock() as clock:
    post = bs.fit(sweep, chains={chains}, warmup={warmup}, draws={draws}, progress={progress})
s = post.info.sampler
print(json.dumps({{"sampler_s": s.seconds, "compile_s": clock.seconds,
                  "cache_hits": clock.cache_hits}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    here = str(Path(__file__).parent)
    runs: dict[bool, list[dict]] = {False: [], True: []}
    for _ in range(args.rounds):
        for progress in (False, True):
            code = CHILD.format(
                here=here,
                chains=args.chains,
                warmup=args.warmup,
                draws=args.draws,
                progress=progress,
            )
            out = subprocess.run(
                [sys.executable, "-c", code],
                check=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            runs[progress].append(json.loads(out.stdout.splitlines()[-1]))
            print(f"progress={progress}: {runs[progress][-1]}", flush=True)
    for key in ("sampler_s", "compile_s"):
        off = statistics.median(r[key] for r in runs[False])
        on = statistics.median(r[key] for r in runs[True])
        print(f"{key}: median without bar {off:.2f}, with bar {on:.2f} ({on / off - 1:+.1%})")


if __name__ == "__main__":
    main()
