"""The tests' own fit helper (conftest.quiet_fit) checks sampling warnings: each one the
fit raises must be expected or tolerated, and each expected one must occur."""

from __future__ import annotations

import warnings

import pytest

import bayescale as bs

from conftest import quiet_fit

DIVERGED = (bs.ConvergenceWarning, "3 divergent transition(s) after warmup")
LOW_ESS = (bs.ConvergenceWarning, "bulk ESS below 200 (100 per chain) for a=12")
WEAK = (bs.PriorDominatedWarning, "the posterior is prior-dominated for alpha (contraction 0.1)")
EXCLUDED = (bs.SweepWarning, "2 row(s) excluded")


@pytest.fixture
def fit_raising(monkeypatch):
    """Replace ``bs.fit`` by one that raises the given warnings and returns its kwargs."""

    def install(*raised):
        def fake_fit(sweep, **kwargs):
            for category, message in raised:
                warnings.warn(message, category, stacklevel=2)
            return kwargs

        monkeypatch.setattr(bs, "fit", fake_fit)

    return install


def test_a_clean_fit_passes_and_keeps_its_arguments(fit_raising):
    fit_raising()
    assert quiet_fit(None, chains=2) == {"chains": 2, "progress": False}


@pytest.mark.parametrize(
    "raised, expect, tolerate",
    [
        ([DIVERGED, LOW_ESS], ("divergent", "ESS below"), ()),
        ([DIVERGED, LOW_ESS], (bs.ConvergenceWarning,), ()),
        ([WEAK, LOW_ESS], (r"prior-dominated for alpha \(",), ("ESS below",)),
        ([], (), ("ESS below", bs.ConvergenceWarning)),
    ],
)
def test_listed_warnings_pass(fit_raising, raised, expect, tolerate):
    fit_raising(*raised)
    quiet_fit(None, expect=expect, tolerate=tolerate)


@pytest.mark.parametrize(
    "raised, expect, tolerate, match",
    [
        ([DIVERGED], (), (), r"1 unexpected .*3 divergent"),
        ([WEAK], (bs.ConvergenceWarning,), (), r"1 unexpected .*prior-dominated"),
        ([DIVERGED, LOW_ESS], ("ESS below",), (), r"1 unexpected"),
        ([LOW_ESS], ("ESS below", "divergent"), (), r"0 unexpected.*raised: \['divergent'\]"),
        ([], (bs.ConvergenceWarning,), ("divergent",), r"not raised: \[<class .*nothing"),
    ],
)
def test_unlisted_or_missing_warnings_fail(fit_raising, raised, expect, tolerate, match):
    fit_raising(*raised)
    with pytest.raises(pytest.fail.Exception, match="(?s)" + match):
        quiet_fit(None, expect=expect, tolerate=tolerate)


def test_other_warnings_pass_through(fit_raising):
    fit_raising(EXCLUDED, LOW_ESS)
    with pytest.warns(bs.SweepWarning, match="2 row"):
        quiet_fit(None, expect=("ESS below",))
    with pytest.raises(bs.SweepWarning):  # the suite's warnings-are-errors filter
        quiet_fit(None, expect=("ESS below",))
