"""A fit's progress on stderr: one bar for all chains, named after the phase it is in.

The phases are ``mode search`` (where chains start, :mod:`bayescale.starts`),
``compiling`` (tracing and compiling the sampler), ``warmup`` and ``sampling``. The bar
counts NUTS iterations over all chains, ``chains × (warmup + draws)``; while any chain is
still in its warmup the phase reads ``warmup``. Its rate and time left count from the
first iteration reported, after compilation.

The compiled sampler reports its iterations through a host callback
(:class:`bayescale.nuts.ReportingNUTS`), ``REPORTS`` times per chain, whether chains run
vectorized, in parallel on devices of their own, or both. JAX's persistent compilation
cache does not store programs with host callbacks, so a fit that shows its bar compiles
its sampler anew in each process (measured in ``benchmarks/progress_overhead.py``); one
that does not (``progress=False``, or stderr not a terminal) reads it from the cache.
"""

from __future__ import annotations

import sys
import threading

import numpy as np
from tqdm.auto import tqdm

REPORTS = 100  # callbacks per chain over warmup and sampling


def wanted(progress: bool | None) -> bool:
    """Whether a fit shows its bar: as asked, and by default (``None``) only when stderr is a
    terminal or a Jupyter kernel's output, so that logs and pipes stay clean."""
    if progress is None:
        stderr = sys.stderr
        return stderr.isatty() or type(stderr).__module__.startswith("ipykernel")
    return bool(progress)


class FitProgress:
    """The bar of one fit: ``phase`` names what the fit is doing, ``report`` (the sampler's
    host callback) counts iterations. Disabled, it prints nothing."""

    def __init__(self, enabled: bool, chains: int, warmup: int, draws: int):
        self.chains, self.warmup, self.iterations = chains, warmup, warmup + draws
        self.every = max(1, self.iterations // REPORTS)
        self.warmup_done = 0  # warmup iterations over all chains
        self.started = False  # whether a chain has reported (compilation is over)
        self._lock = threading.Lock()  # chains on devices of their own report from threads
        self.bar = tqdm(
            total=chains * (warmup + draws),
            unit="it",
            desc="mode search",
            disable=not enabled,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        self.bar.set_postfix_str(f"{chains} chain{'s' * (chains > 1)}", refresh=False)

    def phase(self, name: str) -> None:
        self.bar.set_description_str(name)

    def report(self, iteration) -> None:
        """Count the iterations each chain has run since its last report; ``iteration`` is
        a chain's count so far, or one per chain (vectorized chains). Counts off the report
        schedule (chains vectorized under a device map call back every iteration) are
        skipped."""
        with self._lock:
            if not self.started:  # rate and time left from here, not from compiling
                self.started = True
                self.bar.reset()
            for i in np.ravel(np.asarray(iteration)).tolist():
                if i % self.every and i != self.iterations:
                    continue
                done = i % self.every or self.every
                self.warmup_done += min(i, self.warmup) - min(i - done, self.warmup)
                self.bar.update(done)
            phase = "warmup" if self.warmup_done < self.chains * self.warmup else "sampling"
            if self.bar.desc != phase:
                self.phase(phase)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> FitProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
