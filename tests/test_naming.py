"""One interval vocabulary, ArviZ's: the columns of ``Posterior.summary``,
``Draws.interval``, the backtest's points and the command line's JSON rows are named as
``az.summary`` names its own (``eti_5%``, ``eti_95%``; ``hdi_…`` for highest-density
intervals), the interval's probability is ``ci_prob`` (``hdi_prob`` in the pinned ArviZ's
``az.summary``), and the MCSE columns are ArviZ's own numbers."""

from __future__ import annotations

import dataclasses
import json
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.cli import main
from bayescale.diagnostics import arviz
from bayescale.draws import interval_columns

az = arviz()
PROBS = (0.5, 0.8, 0.9, 0.94, 0.95, 0.99, 0.999)


@pytest.fixture(scope="module", params=["chinchilla", "gadre_overtrain"])
def post(request):
    """A posterior without and one with groups (labels ``alpha[rpj]``)."""
    return bs.load_reference(request.param)


def _draws(post):
    """The draws ``Posterior.summary`` summarises: parameters and derived quantities."""
    return post.posterior.drop_vars("run_offset", errors="ignore").assign(**post.derived())


@contextmanager
def _no_numba():
    """``az.mcse(method="sd")`` of ArviZ 0.23 fails under NumPy 2 when numba is
    installed (``float()`` of a 1-d array); its pure-NumPy branch is the same formula."""
    was = az.Numba.numba_flag
    az.Numba.disable_numba()
    try:
        yield
    finally:
        if was:
            az.Numba.enable_numba()


@pytest.mark.parametrize("ci_prob", PROBS)
def test_interval_column_names_are_az_summarys(ci_prob):
    draws = {"x": np.random.default_rng(0).normal(size=(2, 100))}
    hdi = az.summary(draws, hdi_prob=ci_prob).columns[2:4]
    eti = az.summary(draws, hdi_prob=ci_prob, stat_focus="median").columns[2:4]
    assert interval_columns(ci_prob, "hdi") == tuple(hdi)
    assert interval_columns(ci_prob) == interval_columns(ci_prob, "eti") == tuple(eti)


def test_summary_is_az_summary_plus_the_median(post):
    """Same columns, labels and numbers as ``az.summary(..., hdi_prob=0.9)``, with our
    median between sd and the interval; the ETI one matches its median-focus bounds."""
    draws = _draws(post)
    ours = post.summary(0.9, kind="hdi")
    theirs = az.summary(draws, hdi_prob=0.9, round_to="none")
    assert list(ours.columns) == [*theirs.columns[:2], "median", *theirs.columns[2:]]
    pd.testing.assert_frame_equal(
        ours.drop(columns="median"), theirs, check_exact=False, rtol=1e-9, atol=0
    )
    ours = post.summary(0.9)
    theirs = az.summary(draws, hdi_prob=0.9, round_to="none", stat_focus="median")
    bounds = ["eti_5%", "eti_95%"]
    assert list(ours.columns) == [
        "mean", "sd", "median", *bounds, "mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "r_hat"
    ]  # fmt: skip
    pd.testing.assert_frame_equal(
        ours[["median", *bounds]], theirs[["median", *bounds]], check_exact=False, rtol=1e-9
    )


def test_mcse_is_az_mcse(post):
    draws = _draws(post)
    table = post.summary()
    with _no_numba():
        mcse = {m: az.mcse(draws, method=m) for m in ("mean", "sd")}
    for name in draws.data_vars:
        labels = (
            [(name, {})]
            if "group" not in draws[name].dims
            else [(f"{name}[{g}]", {"group": g}) for g in draws["group"].values]
        )
        for label, where in labels:
            for method, values in mcse.items():
                expected = float(values[name].sel(where))
                assert table.loc[label, f"mcse_{method}"] == pytest.approx(expected, rel=1e-9)
    assert (table["mcse_mean"] < table["sd"] / 10).all()  # thousands of effective draws


@pytest.mark.parametrize("kind", ["eti", "hdi"])
@pytest.mark.parametrize("ci_prob", [0.8, 0.95])
def test_interval_and_summary_share_the_names(ci_prob, kind):
    post = bs.load_reference("chinchilla")
    table = post.optimal([1e22, 1e24]).interval(ci_prob, kind=kind)
    lower, upper = interval_columns(ci_prob, kind)
    assert list(table.columns) == ["quantity", "budget", "median", lower, upper, "units"]
    assert table.attrs == {"ci_prob": ci_prob, "kind": kind}
    assert {lower, upper} < set(post.summary(ci_prob, kind=kind).columns)
    assert (table[lower] < table["median"]).all() and (table["median"] < table[upper]).all()


def test_bad_interval_kind_and_probability():
    draws = bs.load_reference("chinchilla").optimal(1e22)
    with pytest.raises(bs.InputError, match="'eti' or 'hdi'"):
        draws.interval(0.9, kind="quantile")
    with pytest.raises(ValueError, match="ci_prob"):
        interval_columns(1.0)


def _cli_json(capsys, *args) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_json_rows_use_the_same_keys(capsys):
    out = _cli_json(capsys, "plan", "--budget", "1e22", "1e24", "--ci", "0.8")
    assert out["ci_prob"] == 0.8
    table = bs.load_reference("chinchilla").optimal([1e22, 1e24]).interval(0.8)
    for row in out["rows"]:
        assert set(row) == set(table.columns)
        expected = table[
            (table["quantity"] == row["quantity"]) & (table["budget"] == row["budget"])
        ].iloc[0]
        for key in ("median", "eti_10%", "eti_90%"):
            assert row[key] == pytest.approx(expected[key], rel=1e-12)

    out = _cli_json(capsys, "plan", "--target-loss", "1.9", "--ci", "0.95")
    assert {"median", "eti_2.5%", "eti_97.5%"} <= set(out["rows"][0])

    out = _cli_json(
        capsys, "compare", "allocations", "--budget", "1e21", "--n-a", "4.68e9", "--n-b", "2.86e9"
    )
    assert set(out["final_difference"]) == {"median", "eti_5%", "eti_95%"}
    assert out["ci_prob"] == 0.9


def test_one_chain_summary_has_mcse_and_no_r_hat(capfd):
    post = bs.load_reference("chinchilla")
    groups = {**post.groups, "posterior": post.groups["posterior"].isel(chain=[0])}
    table = dataclasses.replace(post, groups=groups).summary()
    assert table["r_hat"].isna().all()
    assert np.isfinite(table[["mcse_mean", "mcse_sd", "ess_bulk", "ess_tail"]]).all(axis=None)
    assert "Shape validation" not in capfd.readouterr().err  # ArviZ's log line, dropped


def test_a_stuck_chain_far_out_is_summarised_without_numpys_warnings(capfd):
    """A chain stuck at ``a = 1e151`` (as a default fit of ``gemstones`` left one): the
    table shows the infinite ``A`` and the NaN cells, and neither NumPy's floating-point
    warnings (errors under the tests' warnings filter) nor ArviZ's NaN log line repeat it."""
    post = bs.load_reference("chinchilla")
    draws = post.groups["posterior"].copy(deep=True)
    draws["a"][1] = 1e151  # chain 1 never moved, far out
    table = dataclasses.replace(post, groups={**post.groups, "posterior": draws}).summary()
    assert table.loc["A", "mean"] == np.inf
    assert table.loc["a", "r_hat"] > 1.01
    assert np.isnan(table.loc["a", "mcse_sd"])
    assert "NaN-value" not in capfd.readouterr().err
