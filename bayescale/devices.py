"""Where chains run: the device for a fit, CPU devices for parallel chains, chains over
devices.

JAX shows a machine's CPU as one device, and chains vectorized on it run in lockstep on
one core. bayescale asks JAX for ``max(cores, 4)`` CPU devices when it is imported
(before JAX is initialised, the only time that can be set), so that each of a fit's
default 4 chains gets a device of its own: the chains run in parallel threads over the
cores, each at its own pace, and the sampler is traced for one chain instead of batched
over chains. On the 2-core CPU that takes the flagship fit from 4.6–5.2 s of sampling to
1.6–2.0 s, and from 14–15 s end to end (warm compilation cache) to 8–9 s
(``docs/performance.md``, run F).
Several GPUs are used the same way.
"""

from __future__ import annotations

import os
import warnings

import jax

from bayescale.errors import InputError

CPU_DEVICES_ENV = "BAYESCALE_CPU_DEVICES"
DEFAULT_CHAINS = 4  # fit's default, so each default chain has a CPU device


def cpu_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        return os.cpu_count() or 1


def use_cpu_cores() -> None:
    """Ask JAX for ``max(cores, 4)`` CPU devices, or ``$BAYESCALE_CPU_DEVICES`` of them
    (``1`` keeps JAX's single CPU device). Nothing changes when the user set
    ``jax_num_cpu_devices`` or XLA's ``--xla_force_host_platform_device_count``
    themselves, or when JAX is already initialised (then chains run vectorized on one CPU
    device, as in plain NumPyro)."""
    if (jax.config.jax_num_cpu_devices != -1
            or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "")):
        return
    wanted = os.environ.get(CPU_DEVICES_ENV, "")
    if wanted and not (wanted.isdigit() and int(wanted) >= 1):
        raise InputError(f"{CPU_DEVICES_ENV}={wanted!r} must be a whole number of CPU devices "
                         f"(1 or more); unset it for the default max(cores, {DEFAULT_CHAINS}).")
    count = int(wanted) if wanted else max(cpu_cores(), DEFAULT_CHAINS)
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # JAX ran something before bayescale was imported
        pass


def select_device(device: str | None) -> jax.Device:
    """The first JAX device of the platform ``device`` in {None, "cpu", "gpu"}."""
    if device in (None, "cpu"):
        return jax.devices("cpu")[0]
    if device != "gpu":
        raise InputError(f"unknown device {device!r}; choose 'cpu' or 'gpu'.")
    try:
        return jax.devices("gpu")[0]
    except RuntimeError:
        warnings.warn(
            "device='gpu' was asked for but JAX sees no GPU; sampling on the CPU instead. "
            "Fix: pip install 'bayescale[gpu]' (JAX's CUDA build) on a machine with an "
            "NVIDIA driver.",
            UserWarning,
            stacklevel=3,
        )
        return jax.devices("cpu")[0]


def chain_map(devices: list, chains: int):
    """NumPyro's ``chain_method`` for ``chains`` chains on ``devices`` (one platform), and
    the number of devices used: the most devices that divide the chains evenly. With a
    device per chain the chains run independently (``pmap``); with fewer, each device runs
    its share vectorized (``pmap`` of ``vmap``: batching the whole sampler doubles its
    tracing time, about 3.5 s more for the flagship fit); with one, all chains run
    vectorized on the first device (``"vectorized"``, e.g. one GPU).

    NumPyro's own ``"parallel"`` needs a device per chain and otherwise runs the chains one
    after another."""
    used = max(k for k in range(1, min(len(devices), chains) + 1) if chains % k == 0)
    if used == 1:
        return "vectorized", 1

    def over_devices(single_chain):
        if used == chains:
            return jax.pmap(single_chain, devices=devices[:used])

        def run(batched):
            split = jax.tree.map(lambda x: x.reshape(used, chains // used, *x.shape[1:]),
                                 batched)
            out = jax.pmap(jax.vmap(single_chain), devices=devices[:used])(split)
            return jax.tree.map(lambda x: x.reshape(chains, *x.shape[2:]), out)
        return run

    return over_devices, used
