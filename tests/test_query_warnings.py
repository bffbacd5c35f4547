"""What queries warn of, and how often: a stack's query far outside the fitted runs warns
once, for the mixture, naming how far its draws lie as one posterior's warning does; the
heavy-tailed predictive draws of a Student-t posterior that pass the float range are
``inf``, without NumPy's overflow warning, and their intervals stay right.

No sampling: the posteriors are the made-up draws of ``tests/test_lfo.py`` (iid around
known parameters, fitted ranges of ``synthetic_sweep``: N from 5e7 to 5e9, D from 1e8 to
1e12, C from 3e16 to 3e22).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from test_lfo import made_up_posterior

import bayescale as bs

from conftest import synthetic_sweep

# Far out for every component below: budgets 3,000× and more above the largest fitted
# compute (the warning starts at 100×), a run of 200× the largest fitted size, and a loss
# of 1.9 nats, which each component reaches with a model over 2× the largest fitted size.
FAR = {
    "optimal": lambda s: s.optimal(1e26),
    "predict_loss": lambda s: s.predict_loss(1e12, 1e14),
    "compute_to_reach": lambda s: s.compute_to_reach(1.9),
    "excess_compute": lambda s: s.excess_compute([1.0, 2.0], 1e27),
    "efficient_range": lambda s: s.efficient_range(1e27),
}
# alpha moved by 0.05 puts that component's N_opt 4× to 5× below the truth's (at 1e23 to
# 1e24 FLOPs), so the two components' answers, and their warnings, differ
SHIFT = 0.05


def caught(call):
    """``call()``'s result and the messages of its ExtrapolationWarnings, with the file
    each points at."""
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        out = call()
    far = [(str(w.message), w.filename) for w in raised if w.category is bs.ExtrapolationWarning]
    return out, far


def phrases(message: str) -> set[str]:
    """The quantities a warning names, each with its value, range and factor."""
    body = message.removeprefix("extrapolating outside the fitted data: ").split(". ")[0]
    return set(body.split("; "))


@pytest.fixture(scope="module")
def sweep():
    return bs.Sweep.from_frame(synthetic_sweep())


@pytest.fixture(scope="module")
def laws(sweep):
    """Two components fitted to the same runs, with different answers."""
    return {"a": made_up_posterior(sweep), "b": made_up_posterior(sweep, shift=SHIFT)}


@pytest.mark.parametrize("query", FAR)
def test_a_stack_query_far_out_warns_once_for_the_mixture(laws, query):
    for post in laws.values():  # each component alone warns: a stack of two would twice
        assert len(caught(lambda p=post: FAR[query](p))[1]) == 1
    mixed = bs.Stack(laws, {"a": 0.5, "b": 0.5})
    _, far = caught(lambda: FAR[query](mixed))
    assert len(far) == 1
    assert far[0][1] == __file__  # the warning points at the caller, not at bayescale


@pytest.mark.parametrize("query", FAR)
def test_a_stack_of_one_law_warns_as_its_posterior_does(laws, query):
    # weights (1, 0) give the first posterior's draws unchanged (bayescale.stacking), so the
    # mixture's check must name what that posterior's own check names
    _, alone = caught(lambda: FAR[query](laws["a"]))
    _, mixed = caught(lambda: FAR[query](bs.Stack(laws, {"a": 1.0, "b": 0.0})))
    assert phrases(mixed[0][0]) == phrases(alone[0][0])


def test_the_mixture_warning_names_the_median_of_the_mixed_draws(laws):
    plan, far = caught(lambda: bs.Stack(laws, {"a": 0.5, "b": 0.5}).optimal(1e26))
    (message, _), *_ = far
    named = float(re.search(r"model size N = ([\d.e+]+) parameters", message).group(1))
    median = float(np.exp(np.median(np.log(plan["n_opt"].values))))
    # the warning writes three significant digits
    assert named == pytest.approx(median, rel=5e-3)
    component = [
        float(re.search(r"N = ([\d.e+]+)", caught(lambda p=p: p.optimal(1e26))[1][0][0])[1])
        for p in laws.values()
    ]
    assert min(component) < named < max(component)  # neither law's own median


def test_a_law_that_alone_lies_far_out_warns_when_it_carries_the_mixture(laws):
    # At 3e22 FLOPs, the largest fitted compute, the truth's N_opt is 2.2e10, 4.4× the
    # largest fitted size (a warning starts at 2×); with alpha moved by SHIFT it is 5.6e9,
    # at 159 tokens per parameter: inside both ranges.
    assert len(caught(lambda: laws["a"].optimal(3e22))[1]) == 1
    assert not caught(lambda: laws["b"].optimal(3e22))[1]
    _, far = caught(lambda: bs.Stack(laws, {"a": 0.9, "b": 0.1}).optimal(3e22))
    assert len(far) == 1 and "model size N = " in far[0][0]
    # where the law inside carries most of the weight, the mixture's median is inside too,
    # as a single posterior with a tenth of its draws far out does not warn
    _, quiet = caught(lambda: bs.Stack(laws, {"a": 0.1, "b": 0.9}).optimal(3e22))
    assert not quiet


def test_components_fitted_to_different_runs_warn_each_against_its_own_ranges(sweep):
    frame = synthetic_sweep()
    small = bs.Sweep.from_frame(frame[frame["n_params"] < frame["n_params"].max()])
    laws = {"all": made_up_posterior(sweep), "small": made_up_posterior(small)}
    _, far = caught(lambda: bs.Stack(laws, {"all": 0.5, "small": 0.5}).predict_loss(1e12, 1e14))
    assert len(far) == 2
    ranges = [re.search(r"model size N = .*? the fitted range \((.*?)\)", m)[1] for m, _ in far]
    assert ranges[0] != ranges[1]


def test_heavy_tailed_predictive_draws_past_the_float_range_are_inf_without_a_warning(sweep):
    # ν near 1 (Cauchy tails): with σ = 0.01 a draw passes exp's float64 range (709 nats)
    # beyond 7e4 σ, with probability about 1/(π·7e4) ≈ 5e-6 each; 1,000 draws at 2,000
    # points give some (19 with these seeds). Any seed: about 10 are expected, so a seed
    # that gives none has probability near e^-10 ≈ 5e-5
    post = made_up_posterior(sweep, nu=1.0)
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        draws = post.predict_loss(np.full(2000, 1e9), 1e11, seed=0)
    assert not raised
    values = draws["loss_predictive"].values
    assert np.isposinf(values).any()
    assert not np.isnan(values).any() and np.isfinite(draws["loss_mean"].values).all()
    # at a point with inf draws the interval's bounds are order statistics: an inf draw
    # counts as the largest, as a finite stand-in for it (the largest float) does; a point
    # whose draws are all finite is interpolated as ever (bayescale.draws.quantile)
    table = draws.interval(0.9)
    rows = table[table["quantity"] == "loss_predictive"]
    flat = values.reshape(-1, values.shape[-1])
    stand_in = np.where(np.isposinf(flat), np.finfo(float).max, flat)
    tail = (1.0 - 0.9) / 2.0  # as Draws.interval computes it: 0.05 less an ulp
    q = [0.5, tail, 1.0 - tail]
    expected = np.where(
        np.isfinite(flat).all(axis=0),
        np.quantile(flat, q, axis=0, method="linear"),
        np.quantile(stand_in, q, axis=0, method="inverted_cdf"),
    )
    got = rows[["median", "eti_5%", "eti_95%"]].to_numpy().T
    np.testing.assert_array_equal(got, expected)
