"""Padding a fit's data to more points (``fit(..., pad_to=)``): the model's density and
gradient, the Laplace start and what the fit reports are those of the unpadded data, and a
leave-future-out fit pads itself to the whole sweep."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from numpyro.infer.util import initialize_model

import bayescale as bs
from bayescale.evaluation.lfo import models_for
from bayescale.model_inputs import model_inputs, padded
from bayescale.starts import laplace_start

from conftest import quiet_fit, synthetic_sweep
from test_pooling import curve_sweep, grouped_sweep

# 17 extra points: any number above zero serves; an odd one that no array of the sweeps
# below shares, so a broadcast against the wrong length would fail loudly
EXTRA = 17


def _potential_and_gradient(inputs, args, z):
    kwargs = {**args, "centre": inputs.centre}
    # the key only picks initial values, which the potential at z does not read
    info = initialize_model(jax.random.PRNGKey(0), inputs.model, model_kwargs=kwargs)
    return float(info.potential_fn(z)), jax.grad(info.potential_fn)(z)


@pytest.mark.parametrize(
    ("likelihood", "pooling"),
    [("student_t", "none"), ("normal", "none"), ("student_t", "partial")],
)
def test_the_padded_density_and_gradient_are_the_data_s(likelihood, pooling):
    frame = grouped_sweep()[0] if pooling == "partial" else synthetic_sweep()
    sweep = bs.Sweep.from_frame(frame)
    inputs = model_inputs(sweep, likelihood=likelihood, pooling=pooling)
    big = padded(inputs.args, len(inputs.args["log_loss"]) + EXTRA)
    assert len(big["log_loss"]) == len(inputs.args["log_loss"]) + EXTRA
    assert big["mask"].sum() == len(inputs.args["log_loss"])
    with jax.enable_x64(True):
        kwargs = {**inputs.args, "centre": inputs.centre}
        # a random point of the latent space (the prior's initialisation, seed fixed: any
        # point serves, the two densities must agree everywhere)
        z = initialize_model(jax.random.PRNGKey(3), inputs.model, model_kwargs=kwargs)
        z = z.param_info.z
        value, grad = _potential_and_gradient(inputs, inputs.args, z)
        padded_value, padded_grad = _potential_and_gradient(inputs, big, z)
    # the same terms summed with zeros between them: equal to float64 rounding (~1e-16
    # per term over 48 or 120 terms, far below 1e-12; a copy counted would move the value
    # by a whole point's density, 1e-3 of it or more)
    assert padded_value == pytest.approx(value, rel=1e-12)
    for name in grad:
        np.testing.assert_allclose(padded_grad[name], grad[name], rtol=1e-10, atol=1e-12)


def test_the_laplace_start_is_the_data_s():
    sweep = bs.Sweep.from_frame(synthetic_sweep())
    inputs = model_inputs(sweep)
    big = padded(inputs.args, len(inputs.args["log_loss"]) + EXTRA)
    # seed 0 for both (any seed: the same one makes the two searches' starts and jitter
    # equal, so only the densities could part them), 2 chains, dense mass matrix
    starts = [
        laplace_start(inputs.model, {**args, "centre": inputs.centre}, 0, 2, True)
        for args in (inputs.args, big)
    ]
    for name, value in starts[0].params.items():
        # modes found by Newton's method to its tolerance on equal densities
        np.testing.assert_allclose(starts[1].params[name], value, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        starts[1].inverse_mass_matrix, starts[0].inverse_mass_matrix, rtol=1e-6
    )


def test_a_padded_fit_reports_its_own_points():
    frame = synthetic_sweep()
    sweep = bs.Sweep.from_frame(frame)
    # a short fit: the test reads shapes and records, not the draws' quality
    post = quiet_fit(
        sweep,
        chains=2,
        warmup=200,
        draws=200,
        pad_to=len(frame) + EXTRA,
        tolerate=("R-hat above 1.01", "ESS below"),
    )
    assert post.info.data.points == len(frame)
    assert post.groups["observed_data"].sizes["point"] == len(frame)
    assert "mask" not in post.groups["constant_data"]
    assert post.log_likelihood().sizes["point"] == len(frame)


def test_curves_are_not_padded():
    inputs = model_inputs(bs.Sweep.from_frame(curve_sweep()), checkpoints="all")
    assert padded(inputs.args, len(inputs.args["log_loss"]) + EXTRA) is inputs.args


@pytest.mark.parametrize("size", [10, 48.0, True, "64"])
def test_pad_to_below_the_points_or_not_a_count_is_refused(size):
    inputs = model_inputs(bs.Sweep.from_frame(synthetic_sweep()))  # 48 points
    with pytest.raises(bs.InputError, match="pad_to must be a whole number of points"):
        padded(inputs.args, size)


def test_leave_future_out_pads_itself():
    with pytest.raises(bs.InputError, match="pad_to is not a leave-future-out argument"):
        models_for(["chinchilla", "farseer"], {"pad_to": 300}, seed=0)
