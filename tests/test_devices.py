"""Devices: nothing set on import, CPU devices for parallel chains asked for when a fit
starts or through ``bs.use_cpu_devices``, chains split evenly over devices, the same
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

from conftest import synthetic_sweep

PREPARE = (
    "from bayescale.devices import prepare_cpu_devices; import jax; "
    "print(prepare_cpu_devices({chains}), len(jax.devices('cpu')))"
)
JAX_FIRST = "import jax; jax.numpy.ones(1).block_until_ready(); "


def in_new_process(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``code`` run by a new Python process, with no device or cache settings of the
    caller's besides ``env``."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("XLA_FLAGS", CPU_DEVICES_ENV) and not k.startswith("JAX_")
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_chain_map_uses_the_most_devices_that_divide_the_chains():
    devices = ["d0", "d1", "d2"]  # chain_map only counts and slices them
    assert chain_map(devices[:1], 4) == ("vectorized", 1)
    assert chain_map(devices, 4)[1] == 2
    assert chain_map(devices, 3)[1] == 3
    assert chain_map(devices[:2], 3) == ("vectorized", 1)
    assert chain_map(devices, 1) == ("vectorized", 1)


def test_the_chains_take_the_data_as_arguments():
    """NumPyro binds the model's data into the chain function; chain_map hands them to
    ``pmap`` as arguments (not constants of the compiled program, which would compile a
    sampler per dataset), on both of its paths, with the same results."""
    done = in_new_process(
        "import functools, jax, jax.numpy as jnp, numpy as np\n"
        "import bayescale as bs\n"
        "from bayescale.devices import chain_map\n"
        "bs.use_cpu_devices(3)\n"
        "traced = []\n"
        "def single(init, args, kwargs, scale):\n"
        "    traced.append(isinstance(kwargs['x'], jax.core.Tracer))\n"
        "    return init * scale + kwargs['x'].sum() + args[0]\n"
        "for chains in (3, 6):  # a device per chain; two chains vectorized per device\n"
        "    method, used = chain_map(jax.devices('cpu'), chains)\n"
        "    init = jnp.arange(chains, dtype=float)\n"
        "    fn = functools.partial(single, args=(1.0,), kwargs={'x': jnp.ones(4)}, scale=2.0)\n"
        "    out = method(fn)(init)\n"
        "    assert np.allclose(out, 2 * np.arange(chains) + 5), out\n"
        "    print(used, traced[-1])\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "True", "3", "True"]


def test_import_leaves_jax_as_it_was():
    """Importing bayescale, and each of its public names, changes no JAX setting and does
    not start JAX, so the user can still choose the CPU devices."""
    done = in_new_process(
        "import jax; before = dict(jax.config.values)\n"
        "import bayescale as bs\n"
        "assert jax.config.jax_num_cpu_devices == -1, jax.config.jax_num_cpu_devices\n"
        "assert jax.config.jax_compilation_cache_dir is None\n"
        "[getattr(bs, name) for name in bs.__all__]\n"
        "after = dict(jax.config.values)\n"
        "print({k: (v, after[k]) for k, v in before.items() if after[k] != v})\n"
        "bs.use_cpu_devices(3); print(len(jax.devices('cpu')))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["{}", "3"]


@pytest.mark.parametrize(
    ("env", "chains", "expected"),
    [
        ({}, 4, max(cpu_cores(), 4)),  # a device per core and per chain
        ({}, 6, max(cpu_cores(), 6)),
        ({CPU_DEVICES_ENV: "3"}, 4, 3),
        ({CPU_DEVICES_ENV: "1"}, 4, 1),
        # the user's own XLA setting wins over bayescale's
        ({"XLA_FLAGS": "--xla_force_host_platform_device_count=5", CPU_DEVICES_ENV: "3"}, 4, 5),
    ],
)
def test_prepare_cpu_devices_before_jax_starts(env, chains, expected):
    done = in_new_process(PREPARE.format(chains=chains), env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(expected)] * 2


def test_jax_started_first_warns_once_with_the_fix():
    done = in_new_process(
        JAX_FIRST + "import warnings; warnings.simplefilter('error'); "
        "from bayescale.devices import prepare_cpu_devices\n"
        "from bayescale.errors import PerformanceWarning\n"
        "try:\n"
        "    prepare_cpu_devices(4)\n"
        "except PerformanceWarning as warning:\n"
        "    print(warning)\n"
        "print(prepare_cpu_devices(4))"
    )  # the second time: no warning, hence no error
    assert done.returncode == 0, done.stderr
    message, count = done.stdout.strip().rsplit("\n", 1)
    assert count == "1"
    assert "vectorized, in lockstep on one core" in message
    assert "bs.use_cpu_devices()" in message and "xla_force_host_platform_device_count" in message


def test_jax_started_first_without_more_chains_than_devices_is_quiet():
    done = in_new_process(
        JAX_FIRST + "import warnings; warnings.simplefilter('error'); " + PREPARE.format(chains=1)
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "1"]


def test_use_cpu_devices_after_jax_started_says_how_to_fix():
    done = in_new_process(JAX_FIRST + "import bayescale as bs; bs.use_cpu_devices(4)")
    assert done.returncode != 0
    assert "InputError" in done.stderr and "before any JAX computation" in done.stderr


def test_use_cpu_devices_defaults_to_a_device_per_core_and_default_chain():
    done = in_new_process(
        "import bayescale as bs, jax; bs.use_cpu_devices(); print(len(jax.devices('cpu')))"
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == max(cpu_cores(), DEFAULT_CHAINS)


@pytest.mark.parametrize("count", [0, 2.5, "4", True])
def test_use_cpu_devices_takes_a_whole_count(count):
    with pytest.raises(bs.InputError, match="whole number of CPU devices"):
        bs.use_cpu_devices(count)


def test_bad_device_count_is_an_error_that_names_the_variable():
    done = in_new_process(PREPARE.format(chains=4), {CPU_DEVICES_ENV: "two"})
    assert done.returncode != 0
    assert CPU_DEVICES_ENV in done.stderr and "whole number" in done.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"BAYESCALE_JAX_CACHE": "{tmp}/ours"}, "{tmp}/ours 0.0"),
        ({"BAYESCALE_JAX_CACHE": "off"}, "None 1.0"),
        # the user's own cache settings win
        (
            {"BAYESCALE_JAX_CACHE": "{tmp}/ours", "JAX_COMPILATION_CACHE_DIR": "{tmp}/theirs"},
            "{tmp}/theirs 1.0",
        ),
        (
            {"BAYESCALE_JAX_CACHE": "{tmp}/ours", "JAX_ENABLE_COMPILATION_CACHE": "false"},
            "None 1.0",
        ),
    ],
)
def test_compilation_cache_only_where_the_user_set_none(tmp_path, env, expected):
    done = in_new_process(
        "import jax; from bayescale.compilation_cache import use_compilation_cache; "
        "use_compilation_cache(); print(jax.config.jax_compilation_cache_dir, "
        "jax.config.jax_persistent_cache_min_compile_time_secs)",
        {k: v.format(tmp=tmp_path) for k, v in env.items()},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected.format(tmp=tmp_path)


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
            post = bs.fit(
                bs.Sweep.from_frame(synthetic_sweep()),
                chains=1,
                warmup=20,
                draws=20,
                precision="float32",
                progress=False,
            )
    assert post.info.sampler.precision == "float32"  # asked for, so kept


@pytest.mark.skipif(len(jax.devices("cpu")) < 2, reason="needs two CPU devices")
@pytest.mark.parametrize(
    ("chains", "method", "devices"),
    [
        (2, lambda devices, chains: ("vectorized", 1), 1),  # both chains on one device
        (4, lambda devices, chains: chain_map(devices[:2], chains), 2),  # two per device
    ],
)
def test_chains_over_devices_match_chains_on_one_device(
    synthetic_posterior, monkeypatch, chains, method, devices
):
    parallel = synthetic_posterior  # 2 chains, one per CPU device
    assert parallel.info.sampler.chain_method == "parallel"
    alpha = parallel.posterior["alpha"].values
    assert not np.allclose(alpha[0], alpha[1])  # each device drew its own chain

    monkeypatch.setattr(inference, "chain_map", method)
    with warnings.catch_warnings():  # R-hat or ESS at 300 draws: noise, not what this tests
        warnings.simplefilter("ignore", ConvergenceWarning)
        other = bs.fit(
            bs.Sweep.from_frame(synthetic_sweep()),
            chains=chains,
            warmup=300,
            draws=300,
            seed=1,
            progress=False,
        )
    assert other.info.sampler.devices == devices
    alpha = other.posterior["alpha"].values
    assert all(not np.allclose(alpha[i], alpha[j]) for i in range(chains) for j in range(i))
    # Same model and data, so the same posterior: each mean agrees within 4 Monte Carlo
    # standard errors of the difference (a false alarm has probability ~6e-5 per
    # parameter for independent runs).
    for name in ("e", "a", "alpha", "b", "beta"):
        x, y = parallel.posterior[[name]], other.posterior[[name]]
        se = np.hypot(float(az.mcse(x)[name]), float(az.mcse(y)[name]))
        assert abs(float(x[name].mean() - y[name].mean())) < 4 * se, name
