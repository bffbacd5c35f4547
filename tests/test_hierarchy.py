"""The hierarchical transform has one home (bayescale.hierarchy): the NumPyro model's group
values and a new group's predicted values agree draw for draw."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from numpyro import handlers

import bayescale as bs
from bayescale.hierarchy import ordered
from bayescale.model import CENTRED_SUFFIX, partial_params
from bayescale.priors import resolve_priors


# two arbitrary seeds: the check is an identity (rel 1e-12, float64 rounding), not a
# statistical one, so any seed must pass
@pytest.mark.parametrize("seed", [0, 7])
def test_model_and_new_group_prediction_agree_draw_for_draw(seed):
    post = bs.load_reference("gadre_overtrain")  # partial pooling over all five parameters
    law, info = post.law, post.info
    new = post.theta("new", seed=seed)
    # the standard normals theta("new") draws: one (chain, draw) array per varying
    # parameter, in the transform's order
    rng = np.random.default_rng(seed)
    shape = (post.posterior.sizes["chain"], post.posterior.sizes["draw"])
    z = {p: rng.standard_normal(shape) for p in ordered(law) if p in info.vary}
    priors = resolve_priors(law, info.likelihood, vary=info.vary)
    centre = info.data.centre
    for chain, draw in [(0, 0), (1, 17), (3, 999)]:
        value = {
            name: float(post.posterior[name].values[chain, draw])
            for name in post.posterior.data_vars
            if post.posterior[name].ndim == 2
        }
        sites = {f"tau_{p}": value[f"tau_{p}"] for p in info.vary}
        sites |= {f"z_{p}": np.array([z[p][chain, draw]]) for p in info.vary}
        for p in law.params:  # population means, the sheared ones on their centred scale
            if p in law.shear:
                exponent, pivot = law.pivot(p, centre)
                sites[f"mu_{p}{CENTRED_SUFFIX}"] = (
                    value[f"mu_{p}"] - value[f"mu_{exponent}"] * pivot
                )
            else:
                sites[f"mu_{p}"] = value[f"mu_{p}"]
        with jax.enable_x64(True), handlers.seed(rng_seed=0), handlers.condition(data=sites):
            model = partial_params(law, priors, centre, info.vary, n_groups=1)
        for p in law.params:
            assert float(model[p][0]) == pytest.approx(new[p][chain, draw], rel=1e-12), p
