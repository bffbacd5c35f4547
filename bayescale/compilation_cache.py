"""Compiled programs: JAX's persistent compilation cache, pointed at bayescale's own folder,
and the programs a process holds in memory.

Fits and planning queries compile XLA programs; with the cache a new process reuses the
programs an earlier one compiled for the same model, data shape and settings. Importing
bayescale does not touch the cache: ``fit`` and the command line call
:func:`use_compilation_cache` when they start. Within a process JAX keeps every fit's
programs, and each maps its machine code; ``fit`` calls :func:`release_compiled_programs`
first, so that a process that runs many fits does not run out of memory mappings.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import jax

#: the share of the process's allowed memory mappings above which a fit first drops JAX's
#: compiled programs: half leaves room for tens of fits (about 1,200 mappings each) and for
#: whatever else the process maps
RELEASE_SHARE = 0.5
_DEFAULT_MAP_COUNT = 65_530  # Linux's vm.max_map_count unless the system raised it

CACHE_ENV = "BAYESCALE_JAX_CACHE"
CACHE_OFF = "off"  #: the value of $BAYESCALE_JAX_CACHE that turns the cache off


def use_compilation_cache() -> None:
    """Turn JAX's persistent compilation cache on at ``$BAYESCALE_JAX_CACHE`` (default
    ``~/.cache/bayescale/jax``), unless the user configured the cache themselves; then a
    second fit of the same model and data shape skips XLA compilation.

    Like any JAX setting, this holds for the rest of the process: JAX code of the user's
    own that runs afterwards is cached there too. Nothing changes when JAX already has a
    cache folder (``jax.config.update("jax_compilation_cache_dir", ...)`` or
    ``$JAX_COMPILATION_CACHE_DIR``), when the user turned the cache off
    (``jax_enable_compilation_cache``), or with ``BAYESCALE_JAX_CACHE=off``.

    Every executable is cached, not only those slower than JAX's default 1 s to compile:
    a fit compiles over a hundred small programs (initialisation, adaptation, diagnostics)
    whose compile times add up. The folder can be deleted at any time. JAX's size-capped
    (LRU) mode is not used: in JAX 0.10 it fails to update entries written without it,
    with a warning on every run.

    Processes may share the folder: JAX writes an entry in place, so one that reads an
    entry while another process is still writing it finds it truncated, warns ("Error
    reading persistent compilation cache entry") and compiles the program itself, with
    the same result."""
    location = os.environ.get(CACHE_ENV, str(Path.home() / ".cache" / "bayescale" / "jax"))
    if (
        location == CACHE_OFF
        or jax.config.jax_compilation_cache_dir
        or not jax.config.jax_enable_compilation_cache
    ):
        return
    jax.config.update("jax_compilation_cache_dir", location)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def _mapping_limit() -> int:
    """The memory mappings Linux allows a process (``vm.max_map_count``)."""
    try:
        return int(Path("/proc/sys/vm/max_map_count").read_text())
    except (OSError, ValueError):
        return _DEFAULT_MAP_COUNT


def mappings() -> int | None:
    """The memory mappings this process holds; None where ``/proc`` does not list them
    (not Linux)."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            return sum(1 for _ in maps)
    except OSError:
        return None


def release_compiled_programs(share: float | None = None) -> bool:
    """Drop JAX's in-memory compiled programs (``jax.clear_caches``) once the process
    holds more than ``share`` (default :data:`RELEASE_SHARE`) of the memory mappings Linux
    allows it; returns whether it did.

    JAX keeps the programs of every fit for the life of the process, even a fit's whose
    posterior is gone, and each program maps its machine code: a fit adds about 1,200
    mappings, and at the limit (65,530 by default) LLVM cannot map the next program and
    the process aborts (``docs/performance.md``). Programs needed again, JAX code of the
    user's own among them, are compiled again, from the persistent cache where it is on.
    Where ``/proc`` does not list the mappings, nothing is done.
    """
    held = mappings()
    if held is None or held <= (RELEASE_SHARE if share is None else share) * _mapping_limit():
        return False
    jax.clear_caches()
    gc.collect()
    return True
