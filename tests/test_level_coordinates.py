"""The level coordinates of a law's terms (bayescale.laws.law, bayescale.model): the map
from (level, shares, slopes) to the law's parameters has unit Jacobian, and the model's
density there is the prior of the law's parameters, so the posterior is the same as with
the parameters sampled directly."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro import handlers
from numpyro.infer import init_to_uniform
from numpyro.infer.util import log_density

from bayescale.errors import InputError
from bayescale.laws import CHINCHILLA, get_law
from bayescale.laws.law import Law
from bayescale.laws.multipower import LOG_N0
from bayescale.model import (
    LEVEL_SUFFIX,
    SHARE_SUFFIX,
    SLOPE_SUFFIX,
    level_applies,
    partial_params,
    sample_law_params,
)
from bayescale.priors import resolve_priors

LAW = CHINCHILLA
CENTRE = {"n": 18.3, "d": 22.1}  # a ladder's mean log N and log D (60M params, 4B tokens)
SITES = (f"e{LEVEL_SUFFIX}", f"a{SHARE_SUFFIX}", f"b{SHARE_SUFFIX}")
SITES += (f"alpha{SLOPE_SUFFIX}", f"beta{SLOPE_SUFFIX}")


def _model():
    return sample_law_params(LAW, resolve_priors(LAW, "student_t"), CENTRE)


def _parameters(z):
    """(e, a, log α, b, log β) at level coordinates ``z`` (the order of ``SITES``)."""
    data = dict(zip(SITES, z, strict=True))
    with handlers.seed(rng_seed=0), handlers.condition(data=data):
        theta = _model()
    return jnp.stack(
        [theta["e"], theta["a"], jnp.log(theta["alpha"]), theta["b"], jnp.log(theta["beta"])]
    )


def _points(count):
    # level coordinates of real fits: level ≈ log 3, shares within ±3, slopes ≈ log 0.3;
    # a fixed seed makes the points reproducible, any seed gives points of that region
    rng = np.random.default_rng(7)
    centre = np.array([1.1, 0.0, 0.0, -1.2, -1.2])
    return centre + rng.normal(0.0, [0.3, 2.0, 2.0, 0.5, 0.5], size=(count, 5))


def test_the_map_to_the_parameters_has_unit_jacobian():
    with jax.enable_x64(True):
        for z in _points(20):
            jacobian = jax.jacfwd(_parameters)(jnp.asarray(z))
            # exact in float64: a 5×5 determinant of entries near 1 rounds to ~1e-15
            assert abs(np.linalg.det(np.asarray(jacobian))) == pytest.approx(1.0, rel=1e-10)


def test_the_density_is_the_prior_of_the_parameters():
    """log p at level coordinates = Σ log prior(θ) + log α + log β (the exponents'
    densities on their log scale), so with a unit Jacobian nothing else changes."""
    priors = resolve_priors(LAW, "student_t")
    with jax.enable_x64(True):
        for z in _points(20):
            data = dict(zip(SITES, jnp.asarray(z), strict=True))
            lp, trace = log_density(_model, (), {}, data)
            theta = {p: trace[p]["value"] for p in LAW.params}
            expected = sum(priors[p].log_prob(theta[p]) for p in LAW.params)
            expected += jnp.log(theta["alpha"]) + jnp.log(theta["beta"])
            # the same sums in another order: float64 rounding, ~1e-15 relative
            assert float(lp) == pytest.approx(float(expected), rel=1e-12, abs=1e-12)


def test_the_terms_at_the_centre_sum_to_the_level():
    with jax.enable_x64(True):
        z = jnp.asarray(_points(1)[0])
        e, a, log_alpha, b, log_beta = _parameters(z)
        terms = jnp.stack(
            [e, a - jnp.exp(log_alpha) * CENTRE["n"], b - jnp.exp(log_beta) * CENTRE["d"]]
        )
        assert float(jax.nn.logsumexp(terms)) == pytest.approx(float(z[0]), rel=1e-12)
        assert float(log_alpha + terms[1]) == pytest.approx(float(z[3]), rel=1e-12)


def test_a_level_needs_an_unsheared_first_term_and_sheared_intercepts():
    fields = {
        "name": "bad",
        "params": LAW.params,
        "log_loss": LAW.log_loss,
        "priors": dict(LAW.priors),
        "shear": dict(LAW.shear),
    }
    with pytest.raises(InputError, match="must start with a parameter that is not sheared"):
        Law(**fields, level=("a", "b"))
    with pytest.raises(InputError, match=r"level names \['alpha'\]"):
        Law(**fields, level=("e", "a", "alpha"))


def test_a_shear_with_an_origin_takes_the_term_at_the_centre_from_it():
    """The multi-power law measures ``A_N`` at ``N_0`` (``u − α_N·(log N − log N_0)``): its
    level is ``log L_0`` at the data's centre, ``log(E + A_N e^{−α_N (m_N − log N_0)})``,
    and the map from (level, share, slope) to ``(e, u, log α_N)`` still has unit Jacobian."""
    law = get_law("multipower")
    priors = resolve_priors(law, "normal", runs=True)
    sites = (f"e{LEVEL_SUFFIX}", f"u{SHARE_SUFFIX}", f"alpha_n{SLOPE_SUFFIX}")

    def parameters(z):
        data = dict(zip(sites, z, strict=True))
        # the seed draws the law's other parameters, which e, u and α_N do not depend on
        with handlers.seed(rng_seed=0), handlers.condition(data=data):
            theta = sample_law_params(law, priors, CENTRE)
        return jnp.stack([theta["e"], theta["u"], jnp.log(theta["alpha_n"])])

    # level coordinates of the bundled ladder's fit: L0 ≈ 2.6 at the centre, E about two
    # thirds of it, α_N ≈ 0.3; a fixed seed makes the points reproducible, any seed works
    rng = np.random.default_rng(3)
    points = np.array([0.95, -0.7, -2.4]) + rng.normal(0.0, [0.2, 1.0, 0.5], size=(10, 3))
    with jax.enable_x64(True):
        for z in points:
            e, u, log_alpha_n = parameters(jnp.asarray(z))
            x_c = CENTRE["n"] - LOG_N0
            level = jnp.logaddexp(e, u - jnp.exp(log_alpha_n) * x_c)
            # the same sums in another order: float64 rounding, ~1e-15 relative
            assert float(level) == pytest.approx(float(z[0]), rel=1e-12)
            jacobian = jax.jacfwd(parameters)(jnp.asarray(z))
            assert abs(np.linalg.det(np.asarray(jacobian))) == pytest.approx(1.0, rel=1e-10)


def test_a_shear_is_an_exponent_and_an_axis_with_an_optional_origin():
    fields = {"name": "bad", "params": LAW.params, "log_loss": LAW.log_loss}
    with pytest.raises(InputError, match=r"shear 'a' must be \(exponent, axis\)"):
        Law(**fields, priors=dict(LAW.priors), shear={"a": ("alpha",)})
    law = Law(**fields, priors=dict(LAW.priors), shear={"a": ("alpha", "n", 2.0)})
    assert law.pivot("a", CENTRE) == ("alpha", CENTRE["n"] - 2.0)


def test_level_coordinates_apply_under_pooling_only_where_no_level_parameter_varies():
    multipower = get_law("multipower")  # level e, u; u's exponent alpha_n
    assert multipower.level_params() == ("e", "u", "alpha_n")
    assert level_applies(multipower, ("a", "alpha", "b"))
    for vary in (("e",), ("u",), ("alpha_n",), ("a", "alpha_n")):
        assert not level_applies(multipower, vary)
    # every parameter of Chinchilla's law is a level parameter
    assert set(LAW.level_params()) == set(LAW.params)
    assert not level_applies(LAW, ("alpha",))
    kaplan = get_law("kaplan")  # a law without a level
    assert kaplan.level_params() == ()
    assert level_applies(kaplan, kaplan.params)


def _pooled_sites(vary):
    law = get_law("multipower")
    priors = resolve_priors(law, "normal", vary=vary)
    # init_to_uniform gives the flat (improper) sites a value, which they cannot sample;
    # inside it the seed handler gives each site the random key init_to_uniform draws with.
    # Any seed and any centre: the test reads which sites exist, not their values.
    with handlers.trace() as trace, handlers.substitute(substitute_fn=init_to_uniform):
        with handlers.seed(rng_seed=0):
            partial_params(law, priors, {"n": LOG_N0, "d": 22.0}, vary, n_groups=3)
    return set(trace)


def test_a_pooled_fit_samples_the_level_unless_its_groups_vary_a_level_parameter():
    assert f"e{LEVEL_SUFFIX}" in _pooled_sites(("a", "alpha"))
    assert f"e{LEVEL_SUFFIX}" not in _pooled_sites(("u",))
