"""Sampling diagnostics: where divergences sit, and the advice that follows."""

from __future__ import annotations

import numpy as np
import xarray as xr

from bayescale.diagnostics import diagnose, problems

CHAINS, DRAWS = 4, 500


def diagnosed(divergent_at, seed=0):
    """``diagnose`` on a posterior of two group scales and a law parameter, with divergent
    transitions at the flat indices that ``divergent_at(tau_alpha, rng)`` picks."""
    rng = np.random.default_rng(seed)
    shape = (CHAINS, DRAWS)
    posterior = xr.Dataset(
        {
            name: (("chain", "draw"), values)
            for name, values in {
                "tau_a": rng.lognormal(-2.0, 0.5, shape),
                "tau_alpha": rng.lognormal(-3.0, 0.8, shape),
                "alpha": rng.normal(0.34, 0.01, shape),
            }.items()
        }
    )
    diverging = np.zeros(shape, dtype=bool)
    diverging.flat[divergent_at(np.asarray(posterior["tau_alpha"]).ravel(), rng)] = True
    stats = xr.Dataset(
        {
            "diverging": (("chain", "draw"), diverging),
            "tree_depth": (("chain", "draw"), np.full(shape, 3)),
        }
    )
    return diagnose(posterior, stats, max_tree_depth=10)


def test_divergences_at_small_group_scales_are_located_and_advised_by_centring():
    # 8 divergences at the 8 smallest tau_alpha draws, 2 anywhere
    diag = diagnosed(
        lambda tau, rng: np.r_[np.argsort(tau)[:8], rng.choice(tau.size, 2, replace=False)]
    )
    assert diag["divergences"] == 10
    assert diag["divergences_by_scale"]["tau_alpha"]["small"] >= 8
    centred = problems(diag, "centred")[0]
    assert "They sit at small group scales (" in centred
    assert "with tau_alpha below its 10% quantile" in centred
    assert "tau_a " not in centred  # tau_a is independent of where they sit
    assert "the centred form's funnel" in centred
    assert "raise target_accept" in centred and "centring='non-centred'" in centred
    non_centred = problems(diag, "non-centred")[0]
    assert "with tau_alpha below its 10% quantile" in non_centred
    assert "centring=" not in non_centred and "raise target_accept" in non_centred


def test_divergences_at_large_group_scales_in_a_non_centred_fit_point_to_centred():
    diag = diagnosed(lambda tau, rng: np.argsort(tau)[-12:])
    assert diag["divergences_by_scale"]["tau_alpha"] == {"small": 0, "large": 12}
    message = problems(diag, "non-centred")[0]
    assert (
        "They sit at large group scales (12 of 12 with tau_alpha above its 90% quantile)" in message
    )
    assert "refit with centring='centred'" in message
    assert "centring=" not in problems(diag, "centred")[0]


def test_divergences_unrelated_to_the_group_scales_get_the_general_advice():
    # 30 divergences at random draws: each tail holds ~ Binomial(30, 0.1), mean 3, and the
    # screen's P(K ≥ k) < 0.001 needs k ≥ 10 (a fixed seed, so no flake either way)
    diag = diagnosed(lambda tau, rng: rng.choice(tau.size, 30, replace=False))
    assert diag["divergences"] == 30
    assert max(max(tails.values()) for tails in diag["divergences_by_scale"].values()) < 10
    message = problems(diag, "centred")[0]
    assert "group scales" not in message
    assert "Raise target_accept=0.95, tighten weakly identified priors" in message


def test_no_divergences_no_location():
    diag = diagnosed(lambda tau, rng: np.array([], dtype=int))
    assert diag["divergences"] == 0 and diag["divergences_by_scale"] == {}
    assert problems(diag, "centred") == []


def test_divergences_at_a_small_run_offset_scale_ask_for_more_runs_in_one_fit():
    # a curve fit's sigma_run as its one group scale: 8 divergences at its 8 smallest
    # draws, as one model size's three runs gave (docs/guide/curves.md). Unrelated to
    # sigma_run, P(K >= 8) = 0.1^8 for K ~ Binomial(8, 0.1), far below the screen's 0.001.
    rng = np.random.default_rng(0)  # any draws: the divergences are placed by rank
    shape = (CHAINS, DRAWS)
    posterior = xr.Dataset(
        {
            "sigma_run": (("chain", "draw"), rng.lognormal(-5.5, 1.0, shape)),
            "e": (("chain", "draw"), rng.normal(0.5, 0.1, shape)),
        }
    )
    diverging = np.zeros(shape, dtype=bool)
    diverging.flat[np.argsort(np.asarray(posterior["sigma_run"]).ravel())[:8]] = True
    stats = xr.Dataset({"diverging": (("chain", "draw"), diverging)})
    diag = diagnose(posterior, stats)
    message = problems(diag)[0]
    assert "(8 of 8 with sigma_run below its 10% quantile)" in message
    assert "Fit more runs together" in message and "centring" not in message


def test_a_chain_that_never_moved_is_named_and_moving_chains_are_not():
    """A chain that kept one point (every proposal rejected far out along a direction the
    data do not inform) is named, apart from R-hat; a variable that no chain varies (held
    fixed, or NaN throughout) does not make a moving chain look stuck."""
    rng = np.random.default_rng(0)  # the draws' values do not matter, only which move
    shape = (CHAINS, DRAWS)
    alpha = rng.normal(0.34, 0.01, shape)
    alpha[2] = 8.8e149  # where a stuck chain of a one-token-count sweep sat
    posterior = xr.Dataset(
        {
            "alpha": (("chain", "draw"), alpha),
            "held": (("chain", "draw"), np.full(shape, 1.0)),
            "undefined": (("chain", "draw"), np.full(shape, np.nan)),
        }
    )
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros(shape, dtype=bool))})
    diag = diagnose(posterior, stats)
    assert diag["stuck_chains"] == [2]
    (message,) = [m for m in problems(diag) if "never moved" in m]
    assert message.startswith("chain(s) 2 of the 4 (numbered from 0) never moved after warmup")
    assert "Refit with another seed" in message
    moving = diagnose(posterior.assign(alpha=(("chain", "draw"), rng.normal(size=shape))), stats)
    assert moving["stuck_chains"] == []
    assert not [m for m in problems(moving) if "never moved" in m]
