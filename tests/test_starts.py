"""Where NUTS starts (bayescale.starts): the posterior's mode and its Laplace covariance,
and the fallback to the prior where there is no proper mode."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
import scipy.optimize
import scipy.stats
from numpyro.distributions import constraints

import bayescale as bs
from bayescale.likelihood import tail_params
from bayescale.model_inputs import model_inputs
from bayescale.starts import TYPICAL_SET_QUANTILE, _jitter, laplace_start

from conftest import datablations_final, quiet_fit, synthetic_sweep

X = np.linspace(-1.0, 2.0, 12)
Y = 0.5 + 1.5 * X + np.random.default_rng(0).normal(0.0, 0.3, X.size)


def line(x, y):
    """A straight line with Normal(0, 10) priors and known noise 0.3: its posterior is
    exactly Gaussian, so the Laplace approximation is the posterior itself."""
    a = numpyro.sample("a", dist.Normal(0.0, 10.0))
    b = numpyro.sample("b", dist.Normal(0.0, 10.0))
    numpyro.sample("y", dist.Normal(a + b * x, 0.3), obs=y)


def test_laplace_start_of_a_gaussian_posterior_is_its_mean_and_covariance():
    design = np.column_stack([np.ones_like(X), X])
    precision = design.T @ design / 0.3**2 + np.eye(2) / 10.0**2
    cov = np.linalg.inv(precision)
    mean = cov @ design.T @ Y / 0.3**2
    start = laplace_start(line, {"x": X, "y": Y}, 0, chains=4, dense_mass=True)
    assert start.summary["start"] == "laplace" and all(start.summary["mode_converged"])
    np.testing.assert_allclose(start.inverse_mass_matrix, cov, rtol=1e-6)
    diagonal = laplace_start(line, {"x": X, "y": Y}, 0, chains=4, dense_mass=False)
    np.testing.assert_allclose(diagonal.inverse_mass_matrix, np.diag(cov), rtol=1e-6)
    # Starts are Laplace draws: 4 distinct points whose ½·Mahalanobis² from the mean stay
    # within the 99% quantile of ½χ²₂ (the rule _jitter enforces; exact for this posterior).
    starts = np.column_stack([start.params["a"], start.params["b"]])
    assert len(np.unique(starts[:, 0])) == 4
    half_d2 = 0.5 * np.einsum("ci,ij,cj->c", starts - mean, precision, starts - mean)
    assert np.all(half_d2 <= 0.5 * scipy.stats.chi2.ppf(TYPICAL_SET_QUANTILE, 2))
    # an exact Gaussian needs no pulling back: the starts are the draws mean + L·ε unscaled,
    # so they are not all crowded at the mode (some ½d² > 0.05 with 4 draws of ½χ²₂)
    assert half_d2.max() > 0.05


def flat():
    """No data and a flat density: every point is a mode, the Hessian is zero."""
    numpyro.sample("x", dist.ImproperUniform(constraints.real, (), ()))


def unbounded():
    """A density that grows without bound (as a centred hierarchy's does as τ → 0)."""
    x = numpyro.sample("x", dist.ImproperUniform(constraints.real, (), ()))
    numpyro.factor("up", x)


@jax.custom_jvp
def _twice(x):
    return 2.0 * x


@_twice.defjvp
def _twice_jvp(primals, tangents):
    return _twice(primals[0]), jnp.nan * tangents[0]


@jax.custom_jvp
def _square(x):
    return x**2


@_square.defjvp
def _square_jvp(primals, tangents):
    return _square(primals[0]), _twice(primals[0]) * tangents[0]


def nan_hessian():
    """A finite density and gradient whose Hessian is NaN everywhere (as a law can have
    where a term over- or underflows in its second derivative only)."""
    x = numpyro.sample("x", dist.ImproperUniform(constraints.real, (), ()))
    numpyro.factor("down", -_square(x))


@pytest.mark.parametrize("model", [flat, unbounded, nan_hessian])
def test_no_proper_mode_falls_back_to_the_prior_start(model):
    with pytest.warns(bs.StartWarning, match=r"fell back to the prior.*Try centring="):
        start = laplace_start(model, {}, 0, chains=2, dense_mass=True)
    assert start.params is None and start.inverse_mass_matrix is None
    assert start.summary["start"] == "prior"
    assert "no chain's search ended at a mode" in start.summary["why"]
    assert start.summary["mode_converged"] == [False, False]
    assert start.warning.startswith("the Laplace start fell back to the prior")  # fit keeps it


def test_a_search_lost_to_the_student_t_spike_finds_the_mode_holding_nu_first():
    # The 24 final C4 points of hitchhiker_datablations under the data-constrained law:
    # three 44-epoch runs far above any law put the Student-t's nu near 1.5, beside its
    # unbounded density as sigma and nu fall to 0 together (bayescale.likelihood.
    # tail_params). From seed 0's two prior starts both searches run off to it (a fact of
    # this seed, shown here, not an assumption); held at its start first, nu cannot.
    # Seed 0 is the suite's usual seed and the first tried: at 2 chains, seeds 0 and 1 lose
    # both searches without the retry, seeds 2-5 one or none (docs/performance.md), so a
    # seed whose searches all succeed would test nothing, and the first assertion says so.
    inputs = model_inputs(datablations_final(), law="data_constrained")
    kwargs = {**inputs.args, "centre": inputs.centre}
    with pytest.warns(bs.StartWarning, match="fell back to the prior"):
        lost = laplace_start(inputs.model, kwargs, 0, chains=2, dense_mass=True)
    assert lost.summary["mode_converged"] == [False, False]
    start = laplace_start(inputs.model, kwargs, 0, chains=2, dense_mass=True, hold=("nu",))
    assert start.summary["mode_retried"] == [True, True]
    assert start.summary["mode_converged"] == [True, True]
    # both end at one mode (their potentials equal to the summary's 1e-3 rounding), and the
    # chains start near it: the mode has nu = 0.63 and sigma = 7e-4, where the searches
    # that ran off ended at nu = 0.06-0.11 and sigma of 1e-7 and below
    assert start.summary["mode_potential_above_best"] == [0.0, 0.0]
    nu, sigma = (np.exp(start.params[k]) for k in ("nu", "sigma"))
    assert np.all((nu > 0.2) & (sigma > 1e-5)), (nu, sigma)
    assert tail_params(inputs.likelihood) == ("nu",)  # what bs.fit holds


def test_jitter_is_pulled_back_where_the_potential_is_not_gaussian():
    def potential(x):  # Gaussian near 0, a steep quartic wall beyond
        return 0.5 * jnp.sum(x**2) + 100.0 * jnp.sum(x**4)

    mode = scipy.optimize.OptimizeResult(x=np.zeros(2), fun=0.0)
    step = np.array([3.0, 0.0])  # U(step) = 4.5 + 8100: far above any posterior draw
    rise = 1.0
    start = _jitter(potential, mode, step, rise)
    # the largest t in 1, ½, ¼, … with U(t·step) ≤ rise: t = 1/16 (U = 0.14); ⅛ gives 2.05
    np.testing.assert_allclose(start, step / 16)
    assert _jitter(potential, mode, step / 100, rise) == pytest.approx(step / 100)


def test_fit_records_its_start_and_rejects_an_unknown_one():
    sweep = bs.Sweep.from_frame(synthetic_sweep(seed=3))
    # 100 warmup and 100 draws are too few to converge: a convergence warning is certain
    # (a chain needs 100 effective draws of every parameter); this test is about the start.
    short = {"chains": 2, "warmup": 100, "draws": 100, "expect": (bs.ConvergenceWarning,)}
    post = quiet_fit(sweep, **short)
    init = post.info.sampler.init
    assert init["start"] == "laplace" and init["mass_matrix"] == "laplace"
    assert all(init["mode_converged"]) and init["seconds"] > 0
    prior = quiet_fit(sweep, init="prior", **short)
    assert prior.info.sampler.init["start"] == "prior"
    with pytest.raises(ValueError, match="init must be one of"):
        bs.fit(sweep, init="median")


def two_wells():
    """Two modes, at x = −3 and x = 3, the second 60 nats higher: next to no mass."""
    x = numpyro.sample("x", dist.ImproperUniform(constraints.real, (), ()))
    numpyro.factor(
        "wells", jnp.logaddexp(-0.5 * ((x + 3.0) / 0.3) ** 2, -60.0 - 0.5 * ((x - 3.0) / 0.3) ** 2)
    )


def test_a_chain_that_finds_a_minor_mode_starts_from_the_best_one():
    start = laplace_start(two_wells, {}, 1, chains=4, dense_mass=True)
    above = np.array(start.summary["mode_potential_above_best"])
    assert np.any(np.isclose(above, 60.0, atol=0.1)), above  # this seed finds both modes
    assert start.summary["from_own_mode"] == list(above < 1.0)
    # every chain starts in the main well, within the 99% typical-set rise of its centre
    np.testing.assert_array_less(np.abs(start.params["x"] + 3.0), 0.3 * 2.6)
    np.testing.assert_allclose(start.inverse_mass_matrix, [[0.3**2]], rtol=1e-6)
