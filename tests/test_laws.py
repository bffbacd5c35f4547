"""The Chinchilla law in log space and its closed-form optimum."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

import bayescale as bs
from bayescale.laws import CHINCHILLA

from conftest import chinchilla_log_loss_np

params = st.fixed_dictionaries(
    {
        "e": st.floats(-1.0, 1.5),
        "a": st.floats(1.0, 10.0),
        "alpha": st.floats(0.05, 0.9),
        "b": st.floats(1.0, 10.0),
        "beta": st.floats(0.05, 0.9),
    }
)


def test_log_loss_matches_direct_formula():
    theta = {
        "e": math.log(1.69),
        "a": math.log(406.4),
        "alpha": 0.34,
        "b": math.log(410.7),
        "beta": 0.28,
    }
    n, d = 7e10, 1.4e12
    direct = 1.69 + 406.4 / n**0.34 + 410.7 / d**0.28
    got = float(CHINCHILLA.log_loss(theta, math.log(n), math.log(d)))
    assert math.isclose(got, math.log(direct), rel_tol=1e-6)
    # the tests' NumPy reference, which the synthetic sweeps are drawn from, in float64
    reference = float(chinchilla_log_loss_np(theta, n, d))
    assert math.isclose(reference, math.log(direct), rel_tol=1e-12)


def test_log_loss_gradient_is_the_softmax_of_its_terms():
    # the shift by the largest term is held constant for gradients: they must still be exact
    theta = {"e": 0.5, "a": 6.0, "alpha": 0.34, "b": 7.6, "beta": 0.37}
    log_n, log_d = math.log(3e8), math.log(6e9)
    with jax.enable_x64(True):
        grad = jax.grad(lambda t: CHINCHILLA.log_loss(t, log_n, log_d))(theta)
    terms = np.array([0.5, 6.0 - 0.34 * log_n, 7.6 - 0.37 * log_d])
    w = np.exp(terms - terms.max()) / np.exp(terms - terms.max()).sum()
    expected = {"e": w[0], "a": w[1], "alpha": -w[1] * log_n, "b": w[2], "beta": -w[2] * log_d}
    for name, value in expected.items():
        assert float(grad[name]) == pytest.approx(value, rel=1e-12), name


@settings(max_examples=60, deadline=None)
@given(theta=params, log_n=st.floats(10.0, 30.0), log_d=st.floats(12.0, 35.0))
def test_linear_space_loss_is_exp_of_log_loss(theta, log_n, log_d):
    """The planning kernel returns Chinchilla's loss from ``law.loss`` (no log-sum-exp):
    it must be ``exp(log_loss)``, to float64 rounding, across the priors' bulk and sizes
    from 2e4 to 1e13 parameters, 2e5 to 1.6e15 tokens."""
    with jax.enable_x64(True):
        linear = float(CHINCHILLA.loss(theta, log_n, log_d))
        logged = float(CHINCHILLA.log_loss(theta, log_n, log_d))
    assert linear == pytest.approx(math.exp(logged), rel=1e-13)


@pytest.mark.parametrize("name", ["optimum", "loss"])
def test_a_law_function_that_is_not_callable_is_refused(name):
    with pytest.raises(TypeError, match=f": {name} must be a function or None"):
        bs.Law(
            name="broken",
            params=CHINCHILLA.params,
            log_loss=CHINCHILLA.log_loss,
            priors=CHINCHILLA.priors,
            **{name: 1.0},
        )


def test_float32_is_safe_at_frontier_scale():
    # log space keeps float32 accurate where N**alpha would lose digits: N = 1e12, D = 1e14.
    theta = {
        k: np.float32(v)
        for k, v in {"e": 0.5, "a": 6.0, "alpha": 0.34, "b": 7.6, "beta": 0.37}.items()
    }
    got = float(CHINCHILLA.log_loss(theta, np.float32(math.log(1e12)), np.float32(math.log(1e14))))
    want = math.log(math.exp(0.5) + math.exp(6.0) / 1e12**0.34 + math.exp(7.6) / 1e14**0.37)
    assert abs(got - want) < 1e-6  # float32 eps is 1.2e-7 relative; log L ≈ 0.5


@settings(max_examples=60, deadline=None)
@given(theta=params, log10_c=st.floats(18.0, 26.0))
def test_closed_form_optimum_is_the_argmin_along_6nd(theta, log10_c):
    with jax.enable_x64(True):  # compare at 1e-9, beyond float32's resolution
        check_argmin(theta, log10_c * math.log(10))


def check_argmin(theta, log_c):
    log_n_opt, log_d_opt = (float(x) for x in CHINCHILLA.optimum(theta, log_c))
    assert math.isclose(log_n_opt + log_d_opt + math.log(6), log_c, rel_tol=1e-9, abs_tol=1e-9)

    def loss_along(log_n):
        return float(CHINCHILLA.log_loss(theta, log_n, log_c - math.log(6) - log_n))

    # Search a bracket wide enough to hold any optimum these parameters can produce.
    found = minimize_scalar(
        loss_along,
        bounds=(log_n_opt - 20, log_n_opt + 20),
        method="bounded",
        options={"xatol": 1e-10},
    )
    # Near the optimum the loss is flat (quadratic), so compare losses, which is what the
    # optimum promises, and the argmin to the resolution that the curvature allows.
    assert loss_along(log_n_opt) <= found.fun + 1e-9
    assert abs(found.x - log_n_opt) < 1e-3 or loss_along(found.x) - loss_along(log_n_opt) < 1e-9


def test_registry_and_errors():
    assert "chinchilla" in bs.available_laws()
    assert bs.get_law("chinchilla") is CHINCHILLA
    with pytest.raises(ValueError, match="registered laws are"):
        bs.get_law("kaplan_typo")
