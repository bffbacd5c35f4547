"""Devices: CPU devices for parallel chains, chains split evenly over devices, the same
posterior as with every chain on one device, and the GPU fallback."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import arviz as az
import jax
import numpy as np
import pytest

import bayescale as bs
from bayescale import inference
from bayescale.devices import CPU_DEVICES_ENV, DEFAULT_CHAINS, chain_map, cpu_cores, select_device
from bayescale.errors import ConvergenceWarning
from conftest import quiet_fit, synthetic_sweep

COUNT = "import bayescale, jax; print(len(jax.devices('cpu')))"


def cpu_devices_in_new_process(env: dict, code: str = COUNT) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", CPU_DEVICES_ENV)}
    return subprocess.run([sys.executable, "-c", code], env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


def test_chain_map_uses_the_most_devices_that_divide_the_chains():
    devices = ["d0", "d1", "d2"]  # chain_map only counts and slices them
    assert chain_map(devices[:1], 4) == ("vectorized", 1)
    assert chain_map(devices, 4)[1] == 2
    assert chain_map(devices, 3)[1] == 3
    assert chain_map(devices[:2], 3) == ("vectorized", 1)
    assert chain_map(devices, 1) == ("vectorized", 1)


@pytest.mark.parametrize(("env", "expected"), [
    ({}, max(cpu_cores(), DEFAULT_CHAINS)),  # a device per core and per default chain
    ({CPU_DEVICES_ENV: "3"}, 3),
    ({CPU_DEVICES_ENV: "1"}, 1),
    # the user's own XLA setting wins over bayescale's
    ({"XLA_FLAGS": "--xla_force_host_platform_device_count=5", CPU_DEVICES_ENV: "3"}, 5),
])
def test_cpu_devices_at_import(env, expected):
    done = cpu_devices_in_new_process(env)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == expected


def test_jax_initialised_before_import_keeps_one_device():
    done = cpu_devices_in_new_process(
        {CPU_DEVICES_ENV: "3"}, "import jax; jax.numpy.ones(1).block_until_ready(); " + COUNT)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == 1


def test_bad_device_count_is_an_error_that_names_the_variable():
    done = cpu_devices_in_new_process({CPU_DEVICES_ENV: "two"})
    assert done.returncode != 0
    assert CPU_DEVICES_ENV in done.stderr and "whole number" in done.stderr


def test_gpu_asked_for_without_one_falls_back_to_the_cpu_with_a_warning():
    if any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("this machine has a GPU")
    with pytest.warns(UserWarning, match=r"bayescale\[gpu\]"):
        assert select_device("gpu").platform == "cpu"
    with pytest.raises(ValueError, match="choose 'cpu' or 'gpu'"):
        select_device("tpu")


def test_precision_defaults_by_device_and_data_size(monkeypatch):
    """float32 only on a GPU and only up to FLOAT32_MAX_POINTS: above it float32's rounding
    of the log density misleads NUTS (benchmarks/float32_energy.py), and asking for it
    there warns before sampling."""
    limit = inference.FLOAT32_MAX_POINTS
    assert inference.default_precision("cpu", 100) == "float64"
    assert inference.default_precision("gpu", limit) == "float32"
    assert inference.default_precision("gpu", limit + 1) == "float64"
    monkeypatch.setattr(inference, "FLOAT32_MAX_POINTS", 10)
    with warnings.catch_warnings():  # a 20-draw fit may diverge: not what this tests
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(UserWarning, match="precision='float32' with"):
            post = bs.fit(bs.Sweep.from_frame(synthetic_sweep()), chains=1, warmup=20,
                          draws=20, precision="float32", progress=False)
    assert post.meta["sampler"]["precision"] == "float32"  # asked for, so kept


@pytest.mark.skipif(len(jax.devices("cpu")) < 2, reason="needs two CPU devices")
@pytest.mark.parametrize(("chains", "method", "devices"), [
    (2, lambda devices, chains: ("vectorized", 1), 1),  # both chains on one device
    (4, lambda devices, chains: chain_map(devices[:2], chains), 2),  # two per device
])
def test_chains_over_devices_match_chains_on_one_device(synthetic_posterior, monkeypatch,
                                                         chains, method, devices):
    parallel = synthetic_posterior  # 2 chains, one per CPU device
    assert parallel.meta["sampler"]["chain_method"] == "parallel"
    alpha = parallel.posterior["alpha"].values
    assert not np.allclose(alpha[0], alpha[1])  # each device drew its own chain

    monkeypatch.setattr(inference, "chain_map", method)
    other = quiet_fit(bs.Sweep.from_frame(synthetic_sweep()), chains=chains, warmup=300,
                      draws=300, seed=1)
    assert other.meta["sampler"]["devices"] == devices
    alpha = other.posterior["alpha"].values
    assert all(not np.allclose(alpha[i], alpha[j]) for i in range(chains) for j in range(i))
    # Same model and data, so the same posterior: each mean agrees within 4 Monte Carlo
    # standard errors of the difference (a false alarm has probability ~6e-5 per
    # parameter for independent runs).
    for name in ("e", "a", "alpha", "b", "beta"):
        x, y = parallel.posterior[[name]], other.posterior[[name]]
        se = np.hypot(float(az.mcse(x)[name]), float(az.mcse(y)[name]))
        assert abs(float(x[name].mean() - y[name].mean())) < 4 * se, name
