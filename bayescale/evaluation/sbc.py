r"""Simulation-based calibration (SBC) of the fitted models (Talts et al. 2018).

The method
----------
If the parameters are drawn from the prior, :math:`\tilde\theta \sim p(\theta)`, data
from the model, :math:`\tilde y \sim p(y \mid \tilde\theta)`, and
:math:`\theta_1, \dots, \theta_L` from the posterior :math:`p(\theta \mid \tilde y)`, then
:math:`\tilde\theta, \theta_1, \dots, \theta_L` are exchangeable draws of
:math:`p(\theta \mid \tilde y)`, so the rank

.. math:: r = \#\{\, l : \theta_l < \tilde\theta \,\} \in \{0, \dots, L\}

of each scalar parameter is uniform on its ``L + 1 = n_ranks`` values. Repeating this
``n_sims`` times and histogramming the ranks tests the whole pipeline at once: the model
code, the priors as implemented, the reparameterisations (shear, non-centring) and NUTS.
A sampler or model bug shows up as a non-uniform histogram: ∪-shaped where the posterior
is too narrow, ∩-shaped where too wide, sloped where it is biased. Ranks are taken among
``L = n_ranks − 1`` draws thinned evenly from all chains; Talts et al. ask for about
independent draws, so each simulation also records its smallest bulk ESS, and ESS below
``L`` (autocorrelated draws, which push ranks towards the extremes) is reported.

Here a simulation is: a prior draw of the law's parameters, the noise and, under partial
pooling, the population and group values, and a sweep simulated from them
(:mod:`bayescale.evaluation.simulation`, which also explains why implausible sweeps may be
redrawn without biasing the ranks); a fit with :func:`bayescale.fit`; the ranks of every
scalar quantity (group values one column per group, e.g. ``alpha[g1]``). :func:`sbc` runs
``n_sims`` of them.

The test
--------
:func:`uniformity` bins the ``n_sims`` ranks of each parameter into ``B`` bins of (nearly)
equal width, with ``B`` the largest divisor of ``n_ranks`` that keeps at least 5 expected
ranks per bin (at most 20; :func:`default_bins`), and computes Pearson's chi-square
statistic against the uniform expectation (exact bin probabilities, so unequal bins are
allowed), with ``B − 1`` degrees of freedom and its p-value. Parameters are tested one at a
time; their ranks in one simulation are dependent, so for a family-wise level ``a`` over
``k`` parameters compare each p-value with ``a / k`` (Bonferroni, valid under any
dependence). :func:`bayescale.plotting.plot_ranks` draws the ranks' ECDFs against their
simultaneous uniform band, which needs no bins.

References: S. Talts, M. Betancourt, D. Simpson, A. Vehtari, A. Gelman (2018),
"Validating Bayesian inference algorithms with simulation-based calibration",
arXiv:1804.06788; M. Modrák et al. (2023), "Simulation-based calibration checking for
Bayesian computation: the choice of test quantities shapes sensitivity", Bayesian Analysis;
T. Säilynoja, P.-C. Bürkner, A. Vehtari (2022), "Graphical test for discrete uniformity and
its applications in goodness-of-fit evaluation and multiple sample comparison", Statistics
and Computing 32, 32.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import partial

import jax
import numpy as np
import pandas as pd
from scipy import stats

from bayescale.errors import ConvergenceWarning, InputError, PriorDominatedWarning
from bayescale.evaluation.simulation import (
    PLAUSIBLE_LOSS,
    design_groups,
    make_design,
    plausible,
    prior_draw,
    simulate_sweep,
)
from bayescale.executors import map_calls
from bayescale.inference import fit
from bayescale.laws import Law, get_law
from bayescale.sweep import Sweep

__all__ = [
    "DIAGNOSTICS",
    "bin_ranks",
    "default_bins",
    "n_rank_values",
    "ranked_params",
    "ranks_of",
    "sbc",
    "uniformity",
]

MAX_ATTEMPTS = 1000
"""Prior draws tried per simulation before giving up on finding a plausible sweep."""
MIN_PER_BIN = 5
MAX_BINS = 20
DIAGNOSTICS = (
    "seed",
    "rejected",
    "divergences",
    "max_r_hat",
    "worst_r_hat",
    "min_ess_bulk",
    "seconds",
)
"""Columns of an :func:`sbc` frame that are not ranks."""


# ---------------------------------------------------------------------- ranks
def _scalars(values: Mapping[str, np.ndarray], groups: list[str], grouped) -> dict[str, np.ndarray]:
    """Split the per-group arrays (names in ``grouped``, groups on the last axis) into
    ``name[group]`` entries."""
    out = {}
    for name, value in values.items():
        value = np.asarray(value)
        if name in grouped:
            out |= {f"{name}[{g}]": value[..., i] for i, g in enumerate(groups)}
        else:
            out[name] = value
    return out


def ranks_of(
    truth: Mapping[str, float], draws: Mapping[str, np.ndarray], n_ranks: int, seed: int = 0
) -> dict[str, int]:
    """Rank of each true value among ``n_ranks − 1`` draws thinned evenly from ``draws``
    (arrays whose leading axes are ``(chain, draw)``; chains are concatenated). Ties, which
    continuous posteriors do not produce, are broken at random."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, value in truth.items():
        sample = np.asarray(draws[name]).reshape(-1)
        if sample.size < n_ranks - 1:
            raise InputError(
                f"{sample.size} posterior draws cannot be thinned to "
                f"n_ranks - 1 = {n_ranks - 1}; draw more or lower n_ranks."
            )
        keep = sample[np.linspace(0, sample.size - 1, n_ranks - 1).round().astype(int)]
        below, ties = int(np.sum(keep < value)), int(np.sum(keep == value))
        out[name] = below + int(rng.integers(0, ties + 1))
    return out


def sbc(
    n_sims: int,
    *,
    law: str | Law = "chinchilla",
    pooling: str = "none",
    vary: Sequence[str] | None = None,
    priors: Mapping | None = None,
    fit_priors: Mapping | None = None,
    likelihood: str = "student_t",
    design: pd.DataFrame | None = None,
    n_ranks: int = 100,
    chains: int = 2,
    warmup: int = 300,
    draws: int = 300,
    target_accept: float = 0.8,
    seed: int = 0,
    progress: bool = True,
    executor=None,
) -> pd.DataFrame:
    """Run ``n_sims`` simulations of simulation-based calibration; one row each.

    Each simulation draws parameters from ``priors`` (default: the model's defaults),
    simulates a sweep on ``design`` (default :func:`~bayescale.evaluation.simulation.make_design`,
    with 4 groups for ``pooling="partial"``), redraws while the sweep is implausible
    (:func:`~bayescale.evaluation.simulation.plausible`), fits it with ``fit_priors``
    (default: the same as ``priors``; pass a different one to see SBC fail) and records the
    rank of every scalar parameter among ``n_ranks − 1`` thinned posterior draws.
    ``chains × draws`` must be at least ``n_ranks − 1``. ConvergenceWarnings of the
    individual fits (expected at small draw counts) are not raised; the columns record
    them. Seeds are explicit: simulation ``i`` uses ``SeedSequence([seed, i, attempt])``.

    Parameters
    ----------
    n_sims
        the number of simulations.
    law
        the law: a registered law's name or a :class:`bayescale.Law`.
    pooling
        ``"none"`` or ``"partial"`` (4 groups in the default design).
    vary
        under partial pooling, the parameters that vary by group (default: all), as in
        :func:`bayescale.fit`.
    priors
        the priors the true parameters are drawn from, by name (default: the model's).
    fit_priors
        the priors of the fits (default: ``priors``).
    likelihood
        ``"student_t"`` or ``"normal"``, for simulation and fit alike.
    design
        the runs to simulate (default :func:`~bayescale.evaluation.simulation.make_design`).
    n_ranks
        the rank of each parameter is among ``n_ranks − 1`` thinned posterior draws.
    chains, warmup, draws
        NUTS settings of each fit, as in :func:`bayescale.fit`.
    target_accept
        NUTS's target acceptance rate of each fit.
    seed
        the base seed of every simulation's draws and fit.
    progress
        print a line per simulation (with an executor, as its result is collected).
    executor
        where the simulations run: ``None`` runs them one after another in this process;
        a :class:`concurrent.futures.Executor` runs them as its tasks, e.g.
        ``ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))`` (spawn:
        JAX is not fork-safe) on this machine, or a Dask cluster's
        ``distributed.Client(...).get_executor()``. The ranks and diagnostics do not depend
        on it (each simulation is seeded by its index, and they are collected in order);
        only ``seconds`` does (:mod:`bayescale.executors`).

    Returns
    -------
    pandas.DataFrame
        one row per simulation. Columns: one per parameter (ranks in
        ``0 … n_ranks − 1``), then ``seed`` (the simulation's fit seed), ``rejected``
        (implausible sweeps redrawn before this one), ``divergences``, ``max_r_hat`` (over
        all parameters; ``worst_r_hat`` names which), ``min_ess_bulk`` and ``seconds``.
        ``attrs`` hold ``params``, ``n_ranks`` and the settings.
    """
    law = get_law(law)
    if pooling not in ("none", "partial"):
        raise InputError(f"sbc supports pooling 'none' or 'partial', got {pooling!r}.")
    if chains * draws < n_ranks - 1:
        raise InputError(
            f"chains * draws = {chains * draws} posterior draws cannot give "
            f"n_ranks - 1 = {n_ranks - 1} thinned draws; raise draws."
        )
    if design is None:
        design = make_design(6, 5, n_groups=4) if pooling == "partial" else make_design()
    simulate = partial(
        _simulation,
        law=law,
        pooling=pooling,
        vary=vary,
        priors=priors,
        fit_priors=priors if fit_priors is None else fit_priors,
        likelihood=likelihood,
        design=design,
        groups=design_groups(design),
        n_ranks=n_ranks,
        fit_settings={
            "chains": chains,
            "warmup": warmup,
            "draws": draws,
            "target_accept": target_accept,
        },
        seed=seed,
    )
    rows, params = [], None
    for i, row in enumerate(map_calls(simulate, [(i,) for i in range(n_sims)], executor)):
        params = params or [c for c in row if c not in DIAGNOSTICS]
        rows.append(row)
        if progress:
            print(
                f"sbc {pooling} {i + 1}/{n_sims}: {row['seconds']:.1f} s, "
                f"{row['divergences']} divergences, max R-hat {row['max_r_hat']:.3f}, "
                f"min ESS {row['min_ess_bulk']:.0f}, rejected {row['rejected']}",
                flush=True,
            )
    out = pd.DataFrame(rows, columns=[*(params or []), *DIAGNOSTICS])
    out.attrs = {
        "params": params or [],
        "n_ranks": n_ranks,
        "pooling": pooling,
        "law": law.name,
        "likelihood": likelihood,
        "chains": chains,
        "warmup": warmup,
        "draws": draws,
        "seed": seed,
        "created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    return out


def _simulation(
    i: int,
    *,
    law: Law,
    pooling: str,
    vary: Sequence[str] | None,
    priors: Mapping | None,
    fit_priors: Mapping | None,
    likelihood: str,
    design: pd.DataFrame,
    groups: list[str],
    n_ranks: int,
    fit_settings: Mapping,
    seed: int,
) -> dict:
    """Simulation ``i`` of :func:`sbc` (its arguments as there; ``groups`` are the design's,
    ``fit_settings`` hold ``chains``, ``warmup``, ``draws`` and ``target_accept``): the
    ranks of every scalar parameter, then the columns of :data:`DIAGNOSTICS`."""
    for attempt in range(MAX_ATTEMPTS):
        prior_seed, noise_seed, fit_seed = (
            int(s) for s in np.random.SeedSequence([seed, i, attempt]).generate_state(3)
        )
        truth = prior_draw(
            law, priors, likelihood, prior_seed, pooling=pooling, vary=vary, design=design
        )
        frame = simulate_sweep(truth, design, noise_seed, law=law)
        if plausible(frame):
            break
    else:
        raise RuntimeError(
            f"no plausible sweep in {MAX_ATTEMPTS} prior draws; the priors "
            f"put almost no mass on losses within {PLAUSIBLE_LOSS} nats."
        )
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", PriorDominatedWarning)
        post = fit(
            Sweep.from_frame(frame),
            law,
            pooling=pooling,
            vary=vary if pooling == "partial" else None,
            priors=fit_priors,
            likelihood=likelihood,
            seed=fit_seed % 2**31,
            progress=False,
            **fit_settings,
        )
    # every fit traces a new model function; without this the compiled executables of
    # hundreds of fits accumulate in memory (the persistent cache still serves them)
    jax.clear_caches()
    posterior = post.posterior
    grouped = {name for name in posterior.data_vars if "group" in posterior[name].dims}
    samples = _scalars(
        {name: posterior[name].transpose("chain", "draw", ...).values for name in truth},
        groups,
        grouped,
    )
    truth = _scalars(truth, groups, grouped)
    ranks = ranks_of(truth, samples, n_ranks, seed=fit_seed)
    diag = post.info.diagnostics
    worst = max(diag["r_hat"], key=lambda k: diag["r_hat"][k])
    return {
        **ranks,
        "seed": fit_seed % 2**31,
        "rejected": attempt,
        "divergences": diag["divergences"],
        "max_r_hat": float(diag["r_hat"][worst]),
        "worst_r_hat": worst,
        "min_ess_bulk": float(np.nanmin(list(diag["ess_bulk"].values()))),
        "seconds": round(time.perf_counter() - started, 2),
    }


# ---------------------------------------------------------------------- the test
def ranked_params(ranks, params: Sequence[str] | None = None) -> list[str]:
    """The parameters to test: ``params``, or those an :func:`sbc` frame ranked."""
    if params is not None:
        return list(params)
    if isinstance(ranks, pd.DataFrame):
        return list(ranks.attrs.get("params") or [c for c in ranks.columns if c not in DIAGNOSTICS])
    raise InputError("pass params= when ranks is not an sbc frame.")


def n_rank_values(ranks, n_ranks: int | None = None) -> int:
    """The number of possible rank values ``L + 1``: ``n_ranks``, or an :func:`sbc`
    frame's."""
    n_ranks = n_ranks or (ranks.attrs.get("n_ranks") if isinstance(ranks, pd.DataFrame) else None)
    if not n_ranks or n_ranks < 2:
        raise InputError(
            f"n_ranks (the number of possible rank values, L + 1) must be at "
            f"least 2, got {n_ranks!r}."
        )
    return int(n_ranks)


def default_bins(n_sims: int, n_ranks: int) -> int:
    """The largest divisor of ``n_ranks`` (≤ 20) leaving ≥ 5 expected ranks per bin;
    ``n_sims // 5`` unequal bins if no divisor fits."""
    cap = min(MAX_BINS, n_sims // MIN_PER_BIN, n_ranks)
    if cap < 2:
        raise InputError(
            f"{n_sims} simulations are too few for a chi-square test "
            f"({MIN_PER_BIN} expected per bin, 2 bins at least): run >= "
            f"{2 * MIN_PER_BIN}."
        )
    return max((b for b in range(2, cap + 1) if n_ranks % b == 0), default=cap)


def bin_ranks(values: np.ndarray, n_ranks: int, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts per bin and each bin's probability under uniform ranks ``0 … n_ranks − 1``.

    Rank ``r`` falls in bin ``⌊r · bins / n_ranks⌋``, so a bin's probability is the share
    of rank values it holds (equal when ``bins`` divides ``n_ranks``)."""
    index = np.arange(n_ranks) * bins // n_ranks
    prob = np.bincount(index, minlength=bins) / n_ranks
    counts = np.bincount(np.asarray(values, dtype=int) * bins // n_ranks, minlength=bins)
    return counts, prob


def uniformity(
    ranks,
    n_ranks: int | None = None,
    *,
    bins: int | None = None,
    params: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Chi-square test of uniform ranks, one row per parameter.

    ``ranks``: an :func:`sbc` frame (its ``attrs`` give ``params`` and ``n_ranks``) or any
    frame/mapping of rank columns with ``n_ranks`` (the number of possible rank values,
    ``L + 1``) and ``params``. ``bins`` defaults to :func:`default_bins`. Columns:
    ``bins``, ``chi2``, ``dof``, ``p_value`` and, to see the direction of a failure,
    ``mean`` and ``sd`` of ``rank / (n_ranks − 1)`` (0.5 and 0.29 when uniform: a low mean
    means the truth sits low in its posterior, i.e. the posterior is biased up; a high sd a
    posterior too narrow) and ``extreme``, the fraction of ranks in the outer 5% of rank values
    at either end (about 0.1 when uniform).
    """
    n_ranks = n_rank_values(ranks, n_ranks)
    names = ranked_params(ranks, params)
    rows = {}
    for name in names:
        values = np.asarray(ranks[name], dtype=int)
        if values.min() < 0 or values.max() >= n_ranks:
            raise InputError(
                f"ranks of {name!r} must lie in 0 … {n_ranks - 1}; got "
                f"{values.min()} … {values.max()}."
            )
        b = bins or default_bins(len(values), n_ranks)
        counts, prob = bin_ranks(values, n_ranks, b)
        expected = len(values) * prob
        chi2 = float(np.sum((counts - expected) ** 2 / expected))
        scaled = values / (n_ranks - 1)
        rows[name] = {
            "bins": int(b),
            "chi2": chi2,
            "dof": int(b - 1),
            "p_value": float(stats.chi2.sf(chi2, b - 1)),
            "mean": float(scaled.mean()),
            "sd": float(scaled.std()),
            "extreme": float(np.mean((values < 0.05 * n_ranks) | (values >= 0.95 * n_ranks))),
        }
    return pd.DataFrame.from_dict(rows, orient="index").astype({"bins": int, "dof": int})
