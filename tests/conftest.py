"""Shared fixtures: synthetic sweeps from known parameters, and small fits.

Randomness is explicit: every generator takes a seed.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import re
import shutil
import tempfile
import warnings

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.compilation_cache import CACHE_ENV, CACHE_OFF, release_compiled_programs


def _use_a_fresh_compilation_cache() -> None:
    """Point JAX's persistent compilation cache at a new folder of this test process's own
    (removed when it exits), as ``fit`` does for users at ``~/.cache``: fits of one shape
    then compile once per process instead of once per fit (an SBC-sized fit took 40 s
    uncached, 9-12 s cached; docs/performance.md), and no test reads programs another
    session left. An xdist worker takes a sub-folder of the main process's, so that no two
    test processes write one folder at once; a process pool's child shares its parent's, as
    a user's pool shares theirs. A ``BAYESCALE_JAX_CACHE`` set before the session is kept
    (``off`` turns the cache off); tests of the cache itself set it in their own
    processes."""
    if multiprocessing.parent_process() is not None:  # a pool's child: its parent's folder
        return
    folder = os.environ.get(CACHE_ENV)
    if folder is None:
        folder = tempfile.mkdtemp(prefix="bayescale-test-jax-cache-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    elif folder != CACHE_OFF and "PYTEST_XDIST_WORKER" in os.environ:
        folder = os.path.join(folder, os.environ["PYTEST_XDIST_WORKER"])
    os.environ[CACHE_ENV] = folder


_use_a_fresh_compilation_cache()

bs.use_cpu_devices()  # parallel chains for the session's fits: before anything runs JAX


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """After a test module, drop JAX's compiled programs once the process holds more than
    half the memory mappings it may (bayescale.compilation_cache): every fit does so before
    it compiles, and the suite's other programs (planning queries, prior draws) add up over
    a thousand tests too (about 60 mappings per test; docs/performance.md)."""
    yield
    release_compiled_programs()


# Chinchilla-like truth (close to Besiroglu et al. 2024), as log-parameters.
TRUTH = {"e": np.log(1.8), "a": np.log(450.0), "alpha": 0.34, "b": np.log(2000.0), "beta": 0.37}

# The warnings bs.fit raises about its own sampling; quiet_fit checks them.
SAMPLING_WARNINGS = (bs.ConvergenceWarning, bs.PriorDominatedWarning)


def chinchilla_log_loss_np(theta, n, d):
    """The Chinchilla law ``log L = log(E + A/N^α + B/D^β)`` in NumPy, float64, from the
    log-parameters ``e = log E``, ``a = log A``, ``b = log B`` (the package's
    parameterisation): the tests' reference, independent of the JAX code under test.
    Broadcasts over ``theta``'s values, ``n`` and ``d``."""
    log_n, log_d = np.log(n), np.log(d)
    return np.logaddexp(
        theta["e"],
        np.logaddexp(theta["a"] - theta["alpha"] * log_n, theta["b"] - theta["beta"] * log_d),
    )


def synthetic_sweep(theta=TRUTH, sigma=0.01, seed=0, sizes=8, tokens_per_size=6) -> pd.DataFrame:
    """A grid of model sizes 5e7–5e9 trained on 2–200 tokens per parameter, Normal noise
    of ``sigma`` on log loss."""
    rng = np.random.default_rng(seed)
    n = np.repeat(np.geomspace(5e7, 5e9, sizes), tokens_per_size)
    d = n * np.tile(np.geomspace(2, 200, tokens_per_size), sizes)
    loss = np.exp(chinchilla_log_loss_np(theta, n, d) + sigma * rng.standard_normal(n.size))
    return pd.DataFrame({"n_params": n, "n_tokens": d, "loss": loss})


def quiet_fit(sweep, *, expect=(), tolerate=(), **kwargs):
    """``bs.fit`` without a progress bar, whose sampling warnings are checked, not hidden.

    Every ``ConvergenceWarning`` and ``PriorDominatedWarning`` the fit raises must be
    listed by the caller, each entry a warning category or a regular expression searched
    for in the message:

    - ``expect``: warnings the fit must raise; each entry must match at least one.
    - ``tolerate``: warnings it may raise: diagnostics that fire by chance at the fit's
      draw counts (R-hat just above 1.01, ESS just below its threshold), whose outcome
      another CPU's rounding can flip. Each use says why at the call site.

    Any other sampling warning, or an expected one missing, fails the test and lists what
    the fit raised. (Tests of the warnings themselves call ``bs.fit`` directly.) Other
    warnings pass through unchanged, to an enclosing ``pytest.warns`` or to the suite's
    warnings-are-errors filter.
    """
    kwargs.setdefault("progress", False)
    with warnings.catch_warnings(record=True) as caught:
        for category in SAMPLING_WARNINGS:
            warnings.simplefilter("always", category)
        post = bs.fit(sweep, **kwargs)
    sampling = [w for w in caught if issubclass(w.category, SAMPLING_WARNINGS)]
    for w in caught:
        if not issubclass(w.category, SAMPLING_WARNINGS):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)

    def matches(entry, w):
        if isinstance(entry, str):
            return re.search(entry, str(w.message)) is not None
        return issubclass(w.category, entry)

    listed = (*expect, *tolerate)
    unexpected = [w for w in sampling if not any(matches(e, w) for e in listed)]
    missing = [e for e in expect if not any(matches(e, w) for w in sampling)]
    if unexpected or missing:
        raised = "".join(f"\n  {w.category.__name__}: {w.message}" for w in sampling)
        pytest.fail(
            f"{len(unexpected)} unexpected sampling warning(s); expected but not "
            f"raised: {missing or 'none'}. The fit raised:{raised or ' nothing'}",
            pytrace=False,
        )
    return post


def thinned_reference(name: str, draws: int) -> bs.Posterior:
    """The shipped reference fit ``name``, its first ``draws`` draws of each chain."""
    ref = bs.load_reference(name)
    groups = {
        key: (group.isel(draw=slice(0, draws)) if "draw" in group.dims else group)
        for key, group in ref.groups.items()
    }
    return bs.Posterior(groups=groups, law=ref.law, info=ref.info, warnings=ref.warnings)


@pytest.fixture(scope="session")
def synthetic_posterior():
    sweep = bs.Sweep.from_frame(synthetic_sweep())
    # 2 × 300 draws keep the session quick; the R-hat and ESS of a converged fit scatter
    # around their thresholds at that size. The tests using it check queries, not sampling.
    return quiet_fit(
        sweep, chains=2, warmup=300, draws=300, seed=1, tolerate=("R-hat above 1.01", "ESS below")
    )


def point_mass(
    law: str,
    theta: dict,
    log_compute_range=(0.0, 200.0),
    log_n_range=(0.0, 100.0),
    log_d_range=(0.0, 100.0),
) -> bs.Posterior:
    """A posterior with all its mass on ``theta`` (one chain, one draw): published
    constants treated as a posterior, to check the planning maths against the papers.
    The ranges stand for the fitted data's (the defaults put every query inside them)."""
    import xarray as xr

    from bayescale.fitinfo import DataInfo, FitInfo, SamplerInfo

    coords = {"chain": [0], "draw": [0]}
    post = xr.Dataset(
        {k: (("chain", "draw"), [[float(v)]]) for k, v in {**theta, "sigma": 0.01}.items()},
        coords=coords,
    )
    empty = xr.Dataset({"log_loss": ("point", np.zeros(0))})
    groups = {
        "posterior": post,
        "sample_stats": xr.Dataset(coords=coords),
        "observed_data": empty,
        "constant_data": empty,
    }
    data = DataInfo(
        points=0,
        log_n_range=tuple(log_n_range),
        log_d_range=tuple(log_d_range),
        log_compute_range=tuple(log_compute_range),
        centre={"n": 0.0, "d": 0.0},
    )
    info = FitInfo(
        law=law,
        likelihood="normal",
        data=data,
        sampler=SamplerInfo(algorithm="point mass", chains=1, draws=1),
    )
    return bs.Posterior(groups=groups, law=bs.get_law(law), info=info)


def datablations_final(corpus="c4") -> bs.Sweep:
    """Each run's final checkpoint on ``corpus`` of the bundled ``hitchhiker_datablations``
    (24 runs: 2.8B, 4.2B and 8.7B parameters at 1-44 epochs)."""
    table = bs.load_dataset("hitchhiker_datablations").frame
    table = table[table["data"] == corpus]
    final = table.loc[table.groupby("run")["n_tokens"].idxmax()]
    return bs.Sweep.from_frame(final[["n_params", "n_tokens", "loss", "unique_tokens", "group"]])
