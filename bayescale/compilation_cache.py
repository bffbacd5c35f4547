"""JAX's persistent compilation cache, pointed at bayescale's own folder.

Fits and planning queries compile XLA programs; with the cache a new process reuses the
programs an earlier one compiled for the same model, data shape and settings.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

CACHE_ENV = "BAYESCALE_JAX_CACHE"


def use_compilation_cache() -> None:
    """Point JAX's persistent compilation cache at ``$BAYESCALE_JAX_CACHE`` (default
    ``~/.cache/bayescale/jax``) unless the user configured one; ``BAYESCALE_JAX_CACHE=off``
    disables it. A second fit of the same model and data shape then skips XLA compilation.

    Every executable is cached, not only those slower than JAX's default 1 s: a fit
    compiles over a hundred small programs (initialisation, adaptation, diagnostics) whose
    compile times add up to seconds (a few tens of MB on disk per model and data shape;
    the folder can be deleted at any time). JAX's size-capped (LRU) mode is not used: in
    JAX 0.10 it fails to update entries written without it, with a warning on every run."""
    location = os.environ.get(CACHE_ENV, str(Path.home() / ".cache" / "bayescale" / "jax"))
    if location == "off" or jax.config.jax_compilation_cache_dir:
        return
    jax.config.update("jax_compilation_cache_dir", location)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
