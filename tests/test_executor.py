"""Many fits through an executor: the same numbers and warnings as fitting in this process.

Leave-future-out (and through it stacking) runs its fits serially, through a spawn process
pool and through a local Dask cluster (``processes=True``: its worker starts in about a
second; importing bayescale there, which the pool's workers pay too, is most of its
start); SBC serially and through the pool (``slow``). Every number, diagnostic and warning
must agree exactly.

The fits are the smallest that show it: 2 chains × (20 + 20) draws from the prior's start
(``init="prior"`` skips the Laplace optimisation, whose compilation doubles the time of a
fit this small), one cut. From 40 draws a fit cannot reach bulk ESS 200 (100 per chain;
ArviZ caps ESS at N·log10 N = 64), so every fit raises a ConvergenceWarning: they are
recorded, must arrive from the workers and must equal the serial ones. Seeds are fixed only
so that a failure reproduces; the assertions are identities that hold for any seed.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import warnings
from concurrent.futures import ProcessPoolExecutor

import distributed
import pandas as pd
import pytest

import bayescale as bs
from bayescale.evaluation.lfo import lfo_summary
from bayescale.evaluation.sbc import sbc
from bayescale.executors import map_calls

from conftest import SAMPLING_WARNINGS, synthetic_sweep

LAWS = ["chinchilla", "chinchilla_beta_n"]
# the smallest fits (module docstring); seed 1 as the rest of the suite's fits. The
# extrapolation error's scale is given (1, any value would do), so that bs.stack uses it
# instead of learning one: its weights then come from the scores leave_future_out returns.
FIT = {
    "chains": 2,
    "warmup": 20,
    "draws": 20,
    "init": "prior",
    "seed": 1,
    "extrapolation_error": 1.0,
}
CUTS = (0.5,)  # one cut: 2 fits per law set; trains on 24 of the 48 points


def recorded(run, *args, **kwargs):
    """``run(*args, **kwargs)`` and the sampling warnings it raised, as (category, message);
    other warnings pass to the suite's filters."""
    with warnings.catch_warnings(record=True) as caught:
        for category in SAMPLING_WARNINGS:
            warnings.simplefilter("always", category)
        result = run(*args, **kwargs)
    sampling = [w for w in caught if issubclass(w.category, SAMPLING_WARNINGS)]
    for w in caught:
        if w not in sampling:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result, [(w.category, str(w.message)) for w in sampling]


def without_seconds(fits):
    """The fits' records of a leave-future-out frame, less the time each took."""
    return [{k: v for k, v in fit.items() if k != "seconds"} for fit in fits]


def assert_same_lfo(got: pd.DataFrame, want: pd.DataFrame):
    """The same scores, cuts and fits (less their seconds), exactly."""
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.attrs["cuts"] == want.attrs["cuts"]
    assert got.attrs["thresholds"] == want.attrs["thresholds"]
    assert without_seconds(got.attrs["fits"]) == without_seconds(want.attrs["fits"])


@pytest.fixture(scope="module")
def sweep():
    return bs.Sweep.from_frame(synthetic_sweep())


@pytest.fixture(scope="module")
def serial(sweep):
    """Leave-future-out in this process, and its warnings."""
    lfo, caught = recorded(bs.leave_future_out, sweep, LAWS, CUTS, **FIT)
    assert caught, "the tiny fits must warn (module docstring)"
    return lfo, caught


@pytest.fixture(scope="module")
def pool():
    spawn = multiprocessing.get_context("spawn")  # JAX is not fork-safe
    with ProcessPoolExecutor(2, mp_context=spawn) as executor:
        yield executor


@pytest.mark.slow  # 10 fits, serial and through the pool: about a minute here
def test_stack_through_a_process_pool_equals_serial(sweep, serial, pool):
    lfo, caught = serial
    stack, caught_pool = recorded(bs.stack, sweep, LAWS, CUTS, executor=pool, **FIT)
    full = [fit for fit in stack.lfo.attrs["fits"] if fit["cut"] == "all"]
    stack.lfo.attrs["fits"] = stack.lfo.attrs["fits"][: -len(full)]
    assert_same_lfo(stack.lfo, lfo)
    weights = lfo_summary(lfo)["weight_lfo"]
    assert dict(stack.weights) == {label: float(weights[label]) for label in LAWS}
    # the leave-future-out fits' warnings first, as serially, then the full fits'
    assert caught_pool[: len(caught)] == caught
    assert len(caught_pool) > len(caught)
    assert [fit["law"] for fit in full] == LAWS
    for label, post in stack.components.items():
        assert post.law is bs.get_law(label)  # laws travel by name
        assert post.info.data.points == len(sweep.fit_frame)


@pytest.mark.slow  # 4 more fits, and a Dask cluster's start
def test_leave_future_out_through_dask_equals_serial(sweep, serial):
    lfo, caught = serial
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        got, caught_dask = recorded(
            bs.leave_future_out, sweep, LAWS, CUTS, executor=client.get_executor(), **FIT
        )
    assert_same_lfo(got, lfo)
    assert caught_dask == caught


@pytest.mark.slow  # 4 fits with the Laplace start (sbc has no init=): over a minute here
def test_sbc_through_a_process_pool_equals_serial(pool):
    # two simulations, to see each seeded by its index and collected in order; 10 ranks
    # from 2 × 20 draws
    settings = {"n_sims": 2, "n_ranks": 10, "warmup": 20, "draws": 20, "progress": False}
    want = sbc(**settings)
    got = sbc(**settings, executor=pool)
    pd.testing.assert_frame_equal(
        got.drop(columns="seconds"), want.drop(columns="seconds"), check_exact=True
    )
    assert got.attrs["params"] == want.attrs["params"]


def test_warnings_in_workers_reach_the_caller(pool):
    calls = [("first", bs.ConvergenceWarning), ("second", bs.PriorDominatedWarning)]
    with pytest.warns(Warning) as caught:
        assert list(map_calls(warnings.warn, calls, pool)) == [None, None]
    assert [(w.category, str(w.message)) for w in caught] == [
        (bs.ConvergenceWarning, "first"),
        (bs.PriorDominatedWarning, "second"),
    ]


def test_results_come_back_in_the_order_of_the_calls(pool):
    calls = [(base, 2) for base in range(7)]
    assert list(map_calls(pow, calls, pool)) == [base**2 for base in range(7)]


@pytest.mark.parametrize("executor", ["processes", 2, ProcessPoolExecutor])
def test_a_bad_executor_is_refused(sweep, executor):
    with pytest.raises(bs.InputError, match=r"executor must be a concurrent\.futures\.Executor"):
        bs.leave_future_out(sweep, LAWS, CUTS, executor=executor, **FIT)


def test_an_unregistered_law_is_refused_before_any_fit(sweep, pool):
    mine = dataclasses.replace(bs.get_law("chinchilla"), name="mine")
    with pytest.raises(bs.InputError, match="register_law"):
        bs.leave_future_out(sweep, [mine], CUTS, executor=pool, **FIT)


def test_a_configured_law_travels_by_name_and_settings(pool):
    # the worker returns the settings of the law it received (a read-only mapping, which
    # travels back by its items)
    settings = dict(bs.get_law("multipower").settings, tokens_per_step=2.0**20)
    configured = bs.get_law("multipower", settings)
    (back,) = map_calls(getattr, [(configured, "settings")], pool)
    assert dict(back) == settings
