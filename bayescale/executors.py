r"""Many independent fits through a :class:`concurrent.futures.Executor`.

Leave-future-out (:func:`bayescale.leave_future_out`), stacking (:func:`bayescale.stack`)
and simulation-based calibration (:func:`bayescale.evaluation.sbc.sbc`) run many fits that
do not depend on each other. They take ``executor=``: ``None`` runs the fits one after
another in this process; any :class:`concurrent.futures.Executor` runs them where it runs
its tasks, a process pool on one machine, a Dask client's executor or Ray on a cluster::

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    spawn = multiprocessing.get_context("spawn")  # JAX is not fork-safe
    with ProcessPoolExecutor(2, mp_context=spawn) as pool:
        stack = bs.stack(sweep, ["chinchilla", "farseer"], executor=pool)

    from distributed import Client

    with Client(n_workers=2, threads_per_worker=1) as client:
        stack = bs.stack(sweep, ["chinchilla", "farseer"], executor=client.get_executor())

A process pool must start its processes by ``"spawn"`` (or ``"forkserver"``): JAX runs
threads, and a process forked from one that runs them can deadlock. Each worker process
gives its fits' chains CPU devices as :func:`bayescale.fit` does (:mod:`bayescale.devices`),
so ``workers × chains`` should not exceed the cores by much.

The same results whatever runs them
-----------------------------------
Every fit is seeded by its own arguments, never by the process or the order it runs in,
and :func:`map_calls` yields the results in the order the calls were made, so the results
are the same, number for number, with ``executor=None`` and with any executor whose workers
run on the same kind of CPU with the same library versions (XLA compiles for the CPU it
runs on). Only the seconds each fit took differ.

What travels to a worker
------------------------
Each call and its arguments are pickled here and unpickled in the worker; its result comes
back the same way, so a function must be importable in the worker (defined at module
level, not a lambda or a closure). A :class:`~bayescale.Law` travels as its registered name
and settings, as a posterior file stores it, and the worker looks it up with
:func:`bayescale.get_law` (a law's priors are lambdas, which pickle cannot send): the
bundled laws always work, and a law of your own must be registered by
:func:`bayescale.register_law` in the worker processes too, e.g. in a module that they
import.

Warnings
--------
A worker records every warning its call raises and the caller re-emits them, call by call
in order, with their category, message, file, line and module, through its own filters,
so that :func:`warnings.catch_warnings`, ``-W`` options and pytest's ``filterwarnings``
see them as if the fit had run here (each is re-emitted once per time it was raised).
Before Python 3.14 the warning filters are one state per process, so with threads (a
:class:`~concurrent.futures.ThreadPoolExecutor`, a Dask cluster with
``processes=False``) concurrent fits' warnings can be lost or mixed up: use processes.
"""

from __future__ import annotations

import copyreg
import io
import pickle
import sys
import warnings
from collections import ChainMap
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from types import MappingProxyType

from bayescale.errors import InputError, InputTypeError
from bayescale.laws import Law, available_laws, get_law

__all__ = ["check_executor", "map_calls"]


def check_executor(executor) -> None:
    """Refuse an ``executor`` that is neither ``None`` nor an object that can ``submit``
    calls (an executor class instead of an instance is refused too).

    Raises
    ------
    InputTypeError
        naming ``executor=`` and what to pass instead.
    """
    if executor is None or isinstance(executor, Executor):
        return
    if isinstance(executor, type):
        got = f"the class {executor.__name__} itself, not an instance"
    elif not callable(getattr(executor, "submit", None)):
        got = f"{type(executor).__name__} {executor!r}, which has no submit method"
    else:
        return
    raise InputTypeError(
        f"executor must be a concurrent.futures.Executor, got {got}; pass None to fit in "
        "this process, or an executor, e.g. ProcessPoolExecutor(2, "
        'mp_context=multiprocessing.get_context("spawn")) or a Dask client\'s '
        "client.get_executor()."
    )


def map_calls(fn: Callable, calls: Iterable[tuple], executor=None) -> Iterator:
    """``fn(*args)`` for each ``args`` of ``calls``, in order (module docstring).

    With ``executor=None`` each call runs in this process when its result is asked for,
    its warnings raised as it runs. Otherwise every call is submitted to ``executor`` at
    once, as ``executor.submit``, and its result and warnings are collected in the order of
    ``calls`` as they are asked for.

    Parameters
    ----------
    fn
        a module-level function, or a :func:`functools.partial` of one.
    calls
        the positional arguments of each call.
    executor
        ``None``, or a :class:`concurrent.futures.Executor` (anything with ``submit``).

    Returns
    -------
    iterator
        the results, in the order of ``calls``.

    Raises
    ------
    InputError
        for a bad ``executor``, or arguments that cannot be sent to a worker.
    """
    check_executor(executor)
    calls = list(calls)
    if executor is None:
        return (fn(*args) for args in calls)
    payloads = [_dumps((fn, args)) for args in calls]  # all or none are submitted
    return _results([executor.submit(_run, payload) for payload in payloads])


def _results(futures: list) -> Iterator:
    """Each future's result, in order, its worker's warnings re-emitted here first."""
    for future in futures:
        result, caught = pickle.loads(future.result())
        for category, message, filename, lineno, module in caught:
            warnings.warn_explicit(message, category, filename, lineno, module)
        yield result


def _run(payload: bytes) -> bytes:
    """In the worker: the call in ``payload``, its result and the warnings it raised."""
    fn, args = pickle.loads(payload)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args)
    raised = [
        (w.category, str(w.message), w.filename, w.lineno, _module_of(w.filename)) for w in caught
    ]
    return _dumps((result, raised))


def _module_of(filename: str) -> str | None:
    """The loaded module whose file is ``filename``, which warning filters match on;
    ``None`` (the file name stands in) for code that is not a module's."""
    for name, module in list(sys.modules.items()):
        if getattr(module, "__file__", None) == filename:
            return name
    return None


def _reduce_law(law: Law):
    """``law`` by reference: its registered name and settings."""
    if not _registered(law):
        raise InputError(
            f"law {law.name!r} is not a registered law (nor configured from one), so it "
            "cannot be sent to the executor's workers, which look laws up by name. Register "
            "it with bs.register_law, in a module the workers import too, or pass "
            "executor=None."
        )
    return get_law, (law.name, dict(law.settings))


def _registered(law: Law) -> bool:
    """Whether ``get_law(law.name, law.settings)`` gives ``law`` back: it is the registered
    law of its name, or that law configured by its own ``configure``."""
    if law.name not in available_laws():
        return False
    registered = get_law(law.name)
    configure = getattr(law.conditions, "configure", None)
    return law is registered or (
        configure is not None and configure is getattr(registered.conditions, "configure", None)
    )


def _reduce_proxy(view: MappingProxyType):
    """A read-only mapping, as the frozen objects keep theirs, by its items (pickle cannot
    name the type ``mappingproxy`` itself)."""
    return _proxy, (dict(view),)


def _proxy(mapping: dict) -> MappingProxyType:
    """A read-only view of ``mapping``."""
    return MappingProxyType(mapping)


#: How :func:`_dumps` pickles what the standard pickle cannot: laws by reference, read-only
#: mappings by their items; everything else as the standard pickle does.
_DISPATCH = ChainMap({Law: _reduce_law, MappingProxyType: _reduce_proxy}, copyreg.dispatch_table)


def _dumps(value) -> bytes:
    """``value`` pickled with :data:`_DISPATCH`; an error names ``executor=`` and the fix."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer)
    pickler.dispatch_table = _DISPATCH
    try:
        pickler.dump(value)
    except (pickle.PicklingError, AttributeError, TypeError) as error:
        raise InputError(
            f"executor= sends each fit to a worker by pickle, which cannot send its "
            f"arguments or result: {error}. Define functions (laws' parts, prior factories) "
            "at module level, or pass executor=None to fit in this process."
        ) from error
    return buffer.getvalue()
