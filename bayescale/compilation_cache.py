"""JAX's persistent compilation cache, pointed at bayescale's own folder.

Fits and planning queries compile XLA programs; with the cache a new process reuses the
programs an earlier one compiled for the same model, data shape and settings. Importing
bayescale does not touch the cache: ``fit`` and the command line call
:func:`use_compilation_cache` when they start.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

CACHE_ENV = "BAYESCALE_JAX_CACHE"


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
    with a warning on every run."""
    location = os.environ.get(CACHE_ENV, str(Path.home() / ".cache" / "bayescale" / "jax"))
    if (
        location == "off"
        or jax.config.jax_compilation_cache_dir
        or not jax.config.jax_enable_compilation_cache
    ):
        return
    jax.config.update("jax_compilation_cache_dir", location)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
