"""Per-group posteriors sampled elsewhere (``Posterior.from_idata``): partially pooled,
with ``mu_*`` and ``tau_*``, or per group without them, as ``bs.pymc_model`` samples them."""

from __future__ import annotations

import warnings

import arviz as az
import pytest
import xarray as xr

import bayescale as bs
from bayescale.reference import reference_sweep


@pytest.fixture(scope="module")
def reference():
    """bayescale's partially pooled reference fit of the Gadre et al. sweep, and its sweep."""
    return bs.load_reference("gadre_overtrain"), reference_sweep("gadre_overtrain")


def _external(post: bs.Posterior, sweep, drop=()) -> bs.Posterior:
    """``post``'s draws as InferenceData from elsewhere, less the variables in ``drop``.
    The reference's draws have a tail ESS of 393 for ``tau_e``, and from_idata checks
    them as fit did: it warns so again where ``tau_e`` is kept."""
    idata = az.InferenceData(posterior=post.posterior.drop_vars(list(drop)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", bs.ConvergenceWarning)
        other = bs.Posterior.from_idata(
            idata,
            law=post.law,
            sweep=sweep,
            seed=post.info.sampler.seed,
            extrapolation_error=post.info.extrapolation_error,  # the reference's, c = 1
        )
    expected = [] if "tau_e" in drop else ["tail ESS below 400 (100 per chain) for tau_e=393"]
    assert [str(w.message).split(":")[0] for w in caught] == expected
    return other


def test_a_partially_pooled_posterior_from_elsewhere_answers_as_a_fit_does(reference):
    """The same draws answer the same: every group and a new one (whose ``z`` comes from
    the same seed), and the per-point log-likelihood of each point's group."""
    post, sweep = reference
    other = _external(post, sweep)
    assert (other.info.pooling, other.info.vary) == ("partial", post.info.vary)
    xr.testing.assert_allclose(other.optimal(1e22).dataset, post.optimal(1e22).dataset)
    xr.testing.assert_allclose(other.log_likelihood(), post.log_likelihood())


def test_per_group_draws_without_a_population_answer_per_group_only(reference):
    post, sweep = reference
    population = [f"{kind}_{p}" for p in post.info.vary for kind in ("mu", "tau")]
    other = _external(post, sweep, drop=population)
    assert other.info.pooling == "separate"
    xr.testing.assert_allclose(
        other.optimal(1e22, group="rpj").dataset, post.optimal(1e22, group="rpj").dataset
    )
    with pytest.raises(bs.InputError, match="needs a partial-pooling fit"):
        other.optimal(1e22, group="new")


def test_groups_that_are_not_the_sweep_s_are_refused(reference):
    post, sweep = reference
    renamed = post.posterior.assign_coords(group=["a", "b", "c"])
    with pytest.raises(bs.InputError, match=r"groups \['a', 'b', 'c'\] are not the sweep's"):
        bs.Posterior.from_idata(az.InferenceData(posterior=renamed), law=post.law, sweep=sweep)


def test_a_population_variable_with_a_group_dimension_is_refused(reference):
    post, sweep = reference
    spread = post.posterior.assign(tau_e=post.posterior["e"])
    with pytest.raises(bs.InputError, match="'tau_e': \\('chain', 'draw', 'group'\\)"):
        bs.Posterior.from_idata(az.InferenceData(posterior=spread), law=post.law, sweep=sweep)
