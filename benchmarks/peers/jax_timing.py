"""How long a JAX engine spends compiling, as JAX itself reports it.

NumPyro's ``MCMC.run`` compiles and samples in one call, so the split is taken from
JAX's monitoring events: every jaxpr trace, lowering to MLIR and backend compile (which
includes reading the persistent compilation cache) reports its time span. The compile
time of a call is the length of the union of those spans (nested spans count once); the
sampling time is the rest of the call. The clock also counts the backend compiles and
how many of them the persistent compilation cache answered (JAX persists only programs
that took at least ``jax_persistent_cache_min_compile_time_secs`` to compile).
"""

from __future__ import annotations

from contextlib import contextmanager

import jax

BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"
CACHE_HIT = "/jax/compilation_cache/cache_hits"
COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    BACKEND_COMPILE,
)


class CompileClock:
    """Collects compile time spans while active; ``seconds`` is their union's length,
    ``compiles`` the number of backend compiles, ``cache_hits`` how many the persistent
    cache served."""

    def __init__(self):
        self.spans: list[tuple[float, float]] = []
        self.compiles = 0
        self.cache_hits = 0

    def span(self, event: str, start: float, end: float, **_) -> None:
        if event in COMPILE_EVENTS:
            self.spans.append((start, end))
        self.compiles += event == BACKEND_COMPILE

    def event(self, event: str, **_) -> None:
        self.cache_hits += event == CACHE_HIT

    def figures(self) -> dict:
        return {"jax_compiles": self.compiles, "jax_cache_hits": self.cache_hits}

    @property
    def seconds(self) -> float:
        total, reach = 0.0, float("-inf")
        for start, end in sorted(self.spans):
            if end > reach:
                total += end - max(start, reach)
                reach = end
        return total


@contextmanager
def compile_clock():
    """``with compile_clock() as clock: ...`` then ``clock.seconds``."""
    clock = CompileClock()
    jax.monitoring.register_event_time_span_listener(clock.span)
    jax.monitoring.register_event_listener(clock.event)
    try:
        yield clock
    finally:
        jax.monitoring.unregister_event_time_span_listener(clock.span)
        jax.monitoring.unregister_event_listener(clock.event)
