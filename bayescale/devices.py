"""Where chains run: the device for a fit, CPU devices for parallel chains, chains over
devices.

JAX shows a machine's CPU as one device, and chains vectorized on it run in lockstep on
one core. With a CPU device per chain the chains run in parallel threads over the cores,
each at its own pace, and the sampler is traced for one chain instead of batched over
chains (``docs/performance.md``, run F). JAX fixes its number of CPU devices when it
initialises (at its first computation), for the whole process, so bayescale never sets it
on import:

- :func:`prepare_cpu_devices`, called when ``fit`` starts, asks JAX for
  ``max(cores, chains)`` CPU devices if JAX has not initialised yet and nobody chose a
  count; if JAX initialised first with fewer devices than chains, it warns once, with the
  fix.
- :func:`use_cpu_devices` (``bs.use_cpu_devices()``) asks up front, for programs that run
  JAX code of their own before their first fit.

A count the user chose (``jax.config.update("jax_num_cpu_devices", n)``, or
``--xla_force_host_platform_device_count`` in ``XLA_FLAGS``) is always kept;
``$BAYESCALE_CPU_DEVICES`` replaces bayescale's default (``1`` keeps JAX's single CPU
device). Several GPUs are used the same way (:func:`chain_map`).
"""

from __future__ import annotations

import os
import warnings

import jax

from bayescale.errors import InputError, PerformanceWarning

CPU_DEVICES_ENV = "BAYESCALE_CPU_DEVICES"
DEFAULT_CHAINS = 4  # fit's default, so each default chain has a CPU device
XLA_COUNT_FLAG = "xla_force_host_platform_device_count"

_warned_late = False  # the PerformanceWarning below is given once per process


def cpu_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        return os.cpu_count() or 1


def _count_chosen() -> bool:
    """Whether the CPU device count is already chosen: ``jax_num_cpu_devices`` is set (by
    the user, :func:`use_cpu_devices` or an earlier fit) or ``XLA_FLAGS`` sets it."""
    return jax.config.jax_num_cpu_devices != -1 or XLA_COUNT_FLAG in os.environ.get("XLA_FLAGS", "")


def _default_count(chains: int = DEFAULT_CHAINS) -> int:
    """``$BAYESCALE_CPU_DEVICES`` if set, else a device per core and per chain."""
    wanted = os.environ.get(CPU_DEVICES_ENV, "")
    if not wanted:
        return max(cpu_cores(), chains)
    if not (wanted.isdigit() and int(wanted) >= 1):
        raise InputError(
            f"{CPU_DEVICES_ENV}={wanted!r} must be a whole number of CPU devices "
            "(1 or more); unset it for the default max(cores, chains)."
        )
    return int(wanted)


def _request_count(count: int) -> bool:
    """Ask JAX for ``count`` CPU devices; False when it is too late: JAX has initialised
    with another count (JAX raises ``RuntimeError`` then)."""
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:
        return False
    return True


def use_cpu_devices(count: int | None = None) -> None:
    """Ask JAX for ``count`` CPU devices, so that up to ``count`` chains run in parallel,
    one per device. Call it before any JAX computation, e.g. right after
    ``import bayescale as bs``: JAX fixes the count when it initialises, for the whole
    process.

    ``count=None`` means ``$BAYESCALE_CPU_DEVICES``, else ``max(cores, 4)`` (a device per
    core and per default chain), and keeps a count already chosen through ``XLA_FLAGS`` or
    ``jax_num_cpu_devices``. ``fit`` does the same by itself when JAX has not run yet, so
    this call is only needed by programs that run JAX code before their first fit.
    Raises :class:`~bayescale.errors.InputError` when JAX has already initialised with
    another count."""
    if count is None:
        if _count_chosen():
            return
        count = _default_count()
    elif isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InputError(
            f"use_cpu_devices(count={count!r}): count must be a whole number of "
            "CPU devices, 1 or more (or None for the default)."
        )
    if not _request_count(count):
        raise InputError(
            f"use_cpu_devices({count}) came too late: JAX has already run with "
            f"{len(jax.devices('cpu'))} CPU device(s), a count it fixes when it starts. Fix: "
            "call bs.use_cpu_devices() before any JAX computation, or start Python with "
            f"XLA_FLAGS=--{XLA_COUNT_FLAG}={count}."
        )


def prepare_cpu_devices(chains: int) -> int:
    """Give a fit's ``chains`` their CPU devices where that is still possible, and return
    the number of CPU devices JAX has.

    A count already chosen (by the user, by :func:`use_cpu_devices` or by an earlier fit)
    is kept. Otherwise, while JAX has not initialised, this asks for
    ``$BAYESCALE_CPU_DEVICES`` devices, else ``max(cores, chains)``. When JAX initialised
    first with fewer devices than that and than ``chains``, the chains share devices,
    vectorized in lockstep; a :class:`~bayescale.errors.PerformanceWarning` says so, once
    per process, with the fix."""
    if _count_chosen():
        return len(jax.devices("cpu"))
    wanted = _default_count(chains)
    in_time = _request_count(wanted)
    available = len(jax.devices("cpu"))
    if not in_time and available < min(wanted, chains):
        _warn_late_start(available, chains)
    return available


def _warn_late_start(available: int, chains: int) -> None:
    """Warn, the first time only, that JAX started before bayescale could give each chain a
    CPU device."""
    global _warned_late
    if _warned_late:
        return
    _warned_late = True
    sharing = (
        "vectorized, in lockstep on one core"
        if available == 1
        else f"vectorized over {available} devices, several chains per device"
    )
    warnings.warn(
        f"JAX was initialised with {available} CPU device(s) before bayescale could ask for "
        f"one per chain, so the {chains} chains run {sharing}. Fix: call "
        "bs.use_cpu_devices() before any JAX computation, or start Python with "
        f"XLA_FLAGS=--{XLA_COUNT_FLAG}={chains} (or more). This warning is shown once.",
        PerformanceWarning,
        stacklevel=4,
    )


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
    tracing time, ``docs/performance.md``); with one, all chains run
    vectorized on the first device (``"vectorized"``, e.g. one GPU).

    NumPyro's own ``"parallel"`` needs a device per chain and otherwise runs the chains one
    after another.

    NumPyro hands the chain function over with the model's data bound into it
    (``functools.partial(..., args=..., kwargs=...)``), which would make the data constants
    of the compiled program, so that every dataset compiled its own. They are passed to
    ``pmap`` as broadcast arguments instead: one compiled sampler then serves every
    dataset of the same shapes, in this process and through JAX's persistent cache."""
    used = max(k for k in range(1, min(len(devices), chains) + 1) if chains % k == 0)
    if used == 1:
        return "vectorized", 1

    def over_devices(single_chain):
        bound = dict(single_chain.keywords)
        data = {"args": bound.pop("args"), "kwargs": bound.pop("kwargs")}

        def chain(init, data):
            return single_chain.func(init, **data, **bound)

        if used == chains:
            return lambda batched: jax.pmap(chain, in_axes=(0, None), devices=devices[:used])(
                batched, data
            )

        def run(batched):
            split = jax.tree.map(lambda x: x.reshape(used, chains // used, *x.shape[1:]), batched)
            vectorized = jax.vmap(chain, in_axes=(0, None))
            out = jax.pmap(vectorized, in_axes=(0, None), devices=devices[:used])(split, data)
            return jax.tree.map(lambda x: x.reshape(chains, *x.shape[2:]), out)

        return run

    return over_devices, used
