"""The PyMC front end (``bs.pymc_model``): the same model as ``bs.fit``'s, density for
density, and the same posterior when sampled; its docstring's user script runs."""

from __future__ import annotations

import re

import jax
import numpy as np
import numpyro.distributions as dist
import pandas as pd
import pytest
from numpyro.infer.util import potential_energy

import bayescale as bs
from bayescale.model_inputs import model_inputs

from conftest import synthetic_sweep
from test_pooling import curve_sweep, grouped_sweep

pm = pytest.importorskip("pymc", reason="the PyMC front end needs pip install 'bayescale[pymc]'")

pytestmark = [
    # PyTensor's C backend warns when it finds no BLAS (a pip install); not ours
    pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning"),
]


def grouped_curves() -> pd.DataFrame:
    """Training curves in two groups (alternate runs), for partial pooling with runs."""
    df = curve_sweep(seed=1)
    return df.assign(group=np.where(df["run"].str[1:].astype(int) % 2, "odd", "even"))


MODELS = {
    "none, student_t": (synthetic_sweep, {}),
    "none, normal": (synthetic_sweep, {"likelihood": "normal"}),
    "partial, non-centred": (lambda: grouped_sweep()[0], {"pooling": "partial"}),
    "partial e, a, centred, normal": (
        lambda: grouped_sweep()[0],
        {"pooling": "partial", "vary": ("e", "a"), "centring": "centred", "likelihood": "normal"},
    ),
    "separate": (lambda: grouped_sweep(n_groups=2)[0], {"pooling": "separate"}),
    "curves, student_t": (curve_sweep, {}),
    "curves, partial α, normal": (
        grouped_curves,
        {"pooling": "partial", "vary": ("alpha",), "likelihood": "normal"},
    ),
    # every family of the prior table and each kind of truncation
    "priors 1": (
        synthetic_sweep,
        {
            "priors": {
                "e": dist.StudentT(3.0, 0.5, 1.0),
                "alpha": dist.Gamma(3.0, 10.0),
                "beta": dist.TruncatedNormal(0.3, 0.2, low=0.05),
                "a": dist.Cauchy(6.0, 3.0),
                "b": dist.Laplace(6.0, 2.0),
                "sigma": dist.Uniform(0.001, 0.5),
                "nu": dist.Exponential(0.05),
            }
        },
    ),
    "priors 2": (
        synthetic_sweep,
        {
            "priors": {
                "e": dist.TruncatedNormal(0.5, 1.0, high=3.0),
                "alpha": dist.InverseGamma(3.0, 1.0),
                "beta": dist.Beta(2.0, 5.0),
                "sigma": dist.HalfCauchy(0.1),
                "nu": dist.TruncatedNormal(10.0, 20.0, low=1.0, high=100.0),
            }
        },
    ),
}


def _numpyro_log_density(inputs, params):
    """NumPyro's log density and its gradient at unconstrained ``params`` (by site name),
    Jacobians of its transforms included: minus the potential energy NUTS runs on."""

    def log_density(params):
        kwargs = {**inputs.args, "centre": inputs.centre}
        return -potential_energy(inputs.model, (), kwargs, params)

    with jax.enable_x64(True):
        value, grad = jax.value_and_grad(log_density)(params)
    return float(value), {k: np.asarray(v) for k, v in grad.items()}


@pytest.mark.parametrize("case", MODELS)
def test_log_density_and_gradient_equal_the_numpyro_model_s(case):
    """At random points of the unconstrained space both samplers see (PyMC's value
    variables are NumPyro's unconstrained sites: the same transforms), the PyMC model's
    log density and gradient equal those of the NumPyro model ``bs.fit`` samples.

    The density to float64 rounding: ~1e-13 relative for sums of a few hundred terms of
    different implementations (PyMC's and NumPyro's Student-t, say), so 1e-10 leaves room;
    plus 1e-8 absolute, as PyMC computes a few constants to ~1e-9 only (HalfCauchy's
    ``log 2`` in float32; a truncation's normaliser). The gradient to 1e-7 of its largest
    entry: the Student-t's gradient in ν holds a digamma per point, which PyTensor
    computes to ~1e-10 (JAX to ~1e-16), times ν. A model that differed would differ by
    far more: a prior's location moved by 1% of its scale moves the density by ~1e-2."""
    make, kwargs = MODELS[case]
    sweep = bs.Sweep.from_frame(make())
    inputs = model_inputs(sweep, **kwargs)
    model = bs.pymc_model(sweep, **kwargs)
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    names = {v.name: model.values_to_rvs[v].name for v in model.value_vars}
    start = model.initial_point()
    rng = np.random.default_rng(0)
    for _ in range(4):
        point = {k: v + 0.5 * rng.standard_normal(np.shape(v)) for k, v in start.items()}
        value, grad = _numpyro_log_density(inputs, {names[k]: v for k, v in point.items()})
        np.testing.assert_allclose(logp(point), value, rtol=1e-10, atol=1e-8)
        expected = np.concatenate([np.ravel(grad[names[v.name]]) for v in model.value_vars])
        np.testing.assert_allclose(
            dlogp(point), expected, rtol=1e-7, atol=1e-7 * np.abs(expected).max()
        )


def test_variables_carry_bayescale_s_names():
    """The names from_idata and a user look for: the law's parameters, the noise, the
    population's, per group where they vary."""
    sweep = bs.Sweep.from_frame(grouped_curves())
    model = bs.pymc_model(sweep, pooling="partial", vary=("e", "a"))
    assert {"e", "a", "alpha", "b", "beta", "sigma", "nu", "sigma_run"} <= set(model.named_vars)
    assert {"mu_e", "mu_a", "tau_e", "tau_a", "z_e", "z_a"} <= set(model.named_vars)
    assert model.named_vars_to_dims["e"] == ("group",)
    assert list(model.coords["group"]) == ["even", "odd"]


def test_a_prior_pymc_cannot_take_is_refused_with_the_fix():
    sweep = bs.Sweep.from_frame(synthetic_sweep())
    with pytest.raises(bs.InputError, match=re.escape("numpyro prior Weibull")) as info:
        bs.pymc_model(sweep, priors={"alpha": dist.Weibull(1.0, 2.0)})
    assert "pm.Potential" in str(info.value)


def test_its_arguments_are_checked_as_fit_checks_them():
    sweep = bs.Sweep.from_frame(synthetic_sweep())
    with pytest.raises(bs.InputError, match="unknown pooling"):
        bs.pymc_model(sweep, pooling="hierarchical")
