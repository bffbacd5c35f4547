"""Compiled programs a process holds (bayescale.compilation_cache): a process that runs
many fits drops JAX's programs before it runs out of memory mappings."""

from __future__ import annotations

import jax
import pytest

import bayescale as bs
import bayescale.compilation_cache as compiled
from bayescale.compilation_cache import mappings, release_compiled_programs

from conftest import quiet_fit, synthetic_sweep

pytestmark = pytest.mark.skipif(mappings() is None, reason="no /proc/self/maps to count")


def test_programs_are_dropped_only_past_the_share():
    step = jax.jit(lambda x: x + 1.0)
    step(1.0)
    assert not release_compiled_programs(share=1.0)  # a process never holds all it may
    assert step._cache_size() == 1
    assert release_compiled_programs(share=0.0)
    assert step._cache_size() == 0


def test_a_fit_past_the_share_drops_the_programs_of_earlier_fits(monkeypatch):
    # Any data and fit seeds would do: what a fit compiles depends on the model and the
    # data's shape, not on the draws; seeds 0, 1 and 2 only make the three fits distinct.
    sweep = bs.Sweep.from_frame(synthetic_sweep(seed=0))
    # one short chain: these fits are about their compiled programs, and 20 draws are too
    # few to converge (a chain needs 100 effective draws of every parameter)
    short = {"chains": 1, "warmup": 20, "draws": 20, "expect": (bs.ConvergenceWarning,)}
    held = [mappings()]
    for seed in (0, 1):
        quiet_fit(sweep, seed=seed, **short)
        held.append(mappings())
    monkeypatch.setattr(compiled, "RELEASE_SHARE", 0.0)  # every fit is past it now
    quiet_fit(sweep, seed=2, **short)
    held.append(mappings())
    # Each fit keeps its programs: the second adds about 1,000 mappings (docs/performance.md)
    # though the first compiled the same model. The third drops every program first and
    # compiles again only what one fit needs, which the process held before, besides the
    # first two fits' own: it ends with fewer mappings than it found, where without the
    # release it would add as many as the second did.
    grown = held[2] - held[1]
    assert grown > 0
    assert held[3] < held[2], held
