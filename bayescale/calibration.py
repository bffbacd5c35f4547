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

Here a simulation is: a prior draw (:func:`prior_draw`) of the law's parameters, the noise
(``sigma``, ``nu``) and, under partial pooling, the population means ``mu_p``, spreads
``tau_p`` and group values; a sweep on a realistic design (:func:`make_design`: model sizes
5e7–5e9, 2–200 tokens per parameter; :func:`simulate_sweep`); a fit with
:func:`bayescale.fit`; the ranks of every scalar quantity (group values one column per
group, e.g. ``alpha[g1]``). :func:`sbc` runs ``n_sims`` of them.

Implausible sweeps
------------------
Default priors are weakly informative, so some prior draws give sweeps no one would fit
(losses of 100 nats, or a loss curve flat at 0.01). Such a *simulated sweep* is rejected
and the parameters redrawn when any of its losses lies outside ``PLAUSIBLE_LOSS = (0.5, 20)``
nats. The rule looks at the simulated losses only, not at θ. That matters: the simulations
then come from the joint model conditioned on a plausible sweep,
:math:`q(\theta, y) \propto p(\theta)\,p(y \mid \theta)\,1[y \in S]`, whose posterior
:math:`q(\theta \mid y) = p(\theta \mid y)` for every :math:`y \in S` is exactly what
:func:`bayescale.fit` computes with the untruncated prior. So the ranks stay exactly uniform
under a correct sampler; what the check covers is the prior *reweighted* to plausible sweeps
(by :math:`P(y \in S \mid \theta)`), the part of parameter space real sweeps come from. A
rule on θ itself (say "α + β tiny") would instead truncate the prior, and the fit would need
the same truncation, which ``priors=`` cannot express; the bias would grow with the rejection
rate. No such rule is used (the argument is Modrák's in the SBC R package's vignette
"Rejection sampling in simulations"). The rejection rate is still worth reporting: it says
how much of the prior predictive the check leaves out (about half under the default priors
and design), and :func:`sbc` records per simulation how many draws were rejected before the
accepted one.

The test
--------
:func:`uniformity` bins the ``n_sims`` ranks of each parameter into ``B`` bins of (nearly)
equal width, with ``B`` the largest divisor of ``n_ranks`` that keeps at least 5 expected
ranks per bin (at most 20), and computes Pearson's chi-square statistic against the uniform
expectation (exact bin probabilities, so unequal bins are allowed), with ``B − 1`` degrees
of freedom and its p-value. Parameters are tested one at a time; their ranks in one
simulation are dependent, so for a family-wise level ``a`` over ``k`` parameters compare
each p-value with ``a / k`` (Bonferroni, valid under any dependence). :func:`plot_ranks`
draws the rank histograms with the band in which each bin count of a uniform histogram
falls with probability 0.99 (``Binomial(n_sims, p_bin)`` quantiles), as in Talts et al.'s
figures.

References: S. Talts, M. Betancourt, D. Simpson, A. Vehtari, A. Gelman (2018),
"Validating Bayesian inference algorithms with simulation-based calibration",
arXiv:1804.06788; M. Modrák et al. (2023), "Simulation-based calibration checking for
Bayesian computation: the choice of test quantities shapes sensitivity", Bayesian Analysis;
M. Modrák, "Rejection sampling in simulations", SBC R package vignette,
https://hyunjimoon.github.io/SBC/articles/rejection_sampling.html.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

import jax
import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import numpyro.distributions as dist
import pandas as pd
from numpyro import handlers
from scipy import stats

from bayescale.errors import ConvergenceWarning, InputError, PriorDominatedWarning
from bayescale.inference import fit
from bayescale.laws import Law, get_law
from bayescale.model import CENTRED_SUFFIX, partial_params
from bayescale.priors import resolve_priors
from bayescale.sweep import Sweep

__all__ = [
    "PLAUSIBLE_LOSS",
    "make_design",
    "plausible",
    "plot_ranks",
    "prior_draw",
    "ranks_of",
    "rejection_rate",
    "sbc",
    "simulate_sweep",
    "uniformity",
]

PLAUSIBLE_LOSS = (0.5, 20.0)
"""Loss range (nats) every point of a simulated sweep must fall in, else it is redrawn."""
MAX_ATTEMPTS = 1000
MIN_PER_BIN = 5
MAX_BINS = 20
_SMALL = {"font.size": 6.5, "axes.titlesize": 6.5, "figure.titlesize": 6.5,
          "figure.labelsize": 6.5, "xtick.labelsize": 5.5, "ytick.labelsize": 5.5,
          "axes.linewidth": 0.6, "figure.dpi": 150}
DIAGNOSTICS = ("seed", "rejected", "divergences", "max_r_hat", "worst_r_hat", "min_ess_bulk",
               "seconds")
"""Columns of an :func:`sbc` frame that are not ranks."""


# ---------------------------------------------------------------------- simulation
def make_design(n_sizes: int = 7, n_ratios: int = 6, n_groups: int = 0,
                sizes=(5e7, 5e9), ratios=(2.0, 200.0)) -> pd.DataFrame:
    """A sweep design: ``n_sizes`` model sizes log-spaced over ``sizes``, each trained on
    ``n_ratios`` token counts log-spaced over ``ratios`` tokens per parameter (Chinchilla's
    IsoFLOP sweeps cover about this range). With ``n_groups >= 2`` the grid is repeated
    for groups ``g0, g1, ...`` (a ``group`` column)."""
    n = np.repeat(np.geomspace(*sizes, n_sizes), n_ratios)
    d = n * np.tile(np.geomspace(*ratios, n_ratios), n_sizes)
    grid = pd.DataFrame({"n_params": n, "n_tokens": d})
    if n_groups < 2:
        return grid
    return pd.concat([grid.assign(group=f"g{g}") for g in range(n_groups)], ignore_index=True)


def _centre(design: pd.DataFrame) -> dict:
    """The centring :func:`bayescale.fit` will compute for a sweep on this design."""
    return {"n": float(np.log(design["n_params"].to_numpy(float)).mean()),
            "d": float(np.log(design["n_tokens"].to_numpy(float)).mean())}


def _groups(design: pd.DataFrame | None) -> list[str]:
    if design is None or "group" not in design.columns:
        return []
    return sorted(design["group"].astype(str).unique())


def prior_draw(law: str | Law = "chinchilla", priors: Mapping | None = None,
               likelihood: str = "student_t", seed: int = 0, *, pooling: str = "none",
               vary: Sequence[str] | None = None,
               design: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """One draw of every parameter from the priors :func:`bayescale.fit` would use.

    Returns ``{name: value}`` with the names of the posterior: the law's parameters and
    the noise (``sigma``, and ``nu`` for the Student-t likelihood). With
    ``pooling="partial"`` also ``mu_p`` and ``tau_p`` for each ``p`` in ``vary`` (default
    all), whose group values are arrays over the design's sorted groups. The hierarchical
    prior of a sheared intercept is placed at the data's centre (:mod:`bayescale.model`),
    so ``design`` is needed there; the group values are computed by the model's own
    :func:`~bayescale.model.partial_params` with the drawn sites conditioned in.
    Each prior is drawn with ``.sample(key)``, keys split from ``PRNGKey(seed)``.
    """
    law = get_law(law)
    if pooling not in ("none", "partial"):
        raise InputError(f"prior_draw supports pooling 'none' or 'partial', got {pooling!r}.")
    vary = tuple(law.params if vary is None else vary) if pooling == "partial" else ()
    dists = resolve_priors(law, likelihood, priors, vary=vary)
    keys = jax.random.split(jax.random.PRNGKey(seed), len(dists) + len(vary))
    with jax.enable_x64(True):
        values = {name: np.asarray(prior.sample(key), dtype=float)
                  for (name, prior), key in zip(dists.items(), keys)}
        if pooling == "none":
            return values
        groups = _groups(design)
        if len(groups) < 2:
            raise InputError("pooling='partial' needs a design with a group column of at least "
                             "two groups, e.g. make_design(n_groups=4).")
        centre = _centre(design)
        site = {p: (f"mu_{p}" if p in vary else p) for p in law.params}
        sites = {site[p]: values[p] for p in law.params if p not in law.shear}
        for p, (exponent, axis) in law.shear.items():
            # the model samples a sheared intercept as a − α·m (module docstring of model.py)
            sites[site[p] + CENTRED_SUFFIX] = values[p] - values[exponent] * centre[axis]
        for p, key in zip(vary, keys[len(dists):]):
            sites[f"tau_{p}"] = values[f"tau_{p}"]
            sites[f"z_{p}"] = np.asarray(dist.Normal(0.0, 1.0).sample(key, (len(groups),)))
        with handlers.condition(data=sites):
            theta = partial_params(law, dists, centre, vary, len(groups))
    out = {f"mu_{p}": values[p] for p in vary}
    out |= {f"tau_{p}": values[f"tau_{p}"] for p in vary}
    out |= {p: np.asarray(theta[p], dtype=float) for p in law.params}
    out |= {name: values[name] for name in ("sigma", "nu") if name in values}
    return out


def simulate_sweep(theta: Mapping, design: pd.DataFrame, seed: int = 0, *,
                   law: str | Law = "chinchilla") -> pd.DataFrame:
    """``design`` with a simulated ``loss`` column, as :meth:`bayescale.Sweep.from_frame`
    takes it.

    ``log loss = log L(θ_g; N, D) + noise``: Student-t noise of scale ``theta["sigma"]`` and
    ``theta["nu"]`` degrees of freedom, or Normal noise when ``theta`` has no ``nu`` (as the
    model's likelihood). A parameter that is an array is per group, indexed by the sorted
    labels of the design's ``group`` column.
    """
    law = get_law(law)
    groups = _groups(design)
    code = (np.searchsorted(groups, design["group"].astype(str).to_numpy()) if groups
            else np.zeros(len(design), dtype=int))
    per_point = {}
    for p in law.params:
        value = np.asarray(theta[p], dtype=float)
        if value.ndim and not groups:
            raise InputError(f"theta[{p!r}] is per group but the design has no group column.")
        per_point[p] = value[code] if value.ndim else value
    with jax.enable_x64(True):
        mean = np.asarray(law.log_loss(per_point, np.log(design["n_params"].to_numpy(float)),
                                       np.log(design["n_tokens"].to_numpy(float))))
        sigma = float(theta["sigma"])
        noise = (dist.StudentT(float(theta["nu"]), 0.0, sigma) if "nu" in theta
                 else dist.Normal(0.0, sigma))
        eps = np.asarray(noise.sample(jax.random.PRNGKey(seed), (len(design),)))
    with np.errstate(over="ignore"):
        return design.assign(loss=np.exp(mean + eps))


def plausible(sweep: pd.DataFrame, loss_range=PLAUSIBLE_LOSS) -> bool:
    """Whether every loss of a simulated sweep is finite and inside ``loss_range`` nats."""
    loss = sweep["loss"].to_numpy(float)
    return bool(np.all(np.isfinite(loss)) and np.all((loss >= loss_range[0])
                                                      & (loss <= loss_range[1])))


# ---------------------------------------------------------------------- ranks
def _scalars(values: Mapping[str, np.ndarray], groups: list[str],
             grouped) -> dict[str, np.ndarray]:
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


def ranks_of(truth: Mapping[str, float], draws: Mapping[str, np.ndarray], n_ranks: int,
             seed: int = 0) -> dict[str, int]:
    """Rank of each true value among ``n_ranks − 1`` draws thinned evenly from ``draws``
    (arrays whose leading axes are ``(chain, draw)``; chains are concatenated). Ties, which
    continuous posteriors do not produce, are broken at random."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, value in truth.items():
        sample = np.asarray(draws[name]).reshape(-1)
        if sample.size < n_ranks - 1:
            raise InputError(f"{sample.size} posterior draws cannot be thinned to "
                             f"n_ranks - 1 = {n_ranks - 1}; draw more or lower n_ranks.")
        keep = sample[np.linspace(0, sample.size - 1, n_ranks - 1).round().astype(int)]
        below, ties = int(np.sum(keep < value)), int(np.sum(keep == value))
        out[name] = below + int(rng.integers(0, ties + 1))
    return out


def sbc(n_sims: int, *, law: str | Law = "chinchilla", pooling: str = "none",
        vary: Sequence[str] | None = None, priors: Mapping | None = None,
        fit_priors: Mapping | None = None, likelihood: str = "student_t",
        design: pd.DataFrame | None = None, n_ranks: int = 100, chains: int = 2,
        warmup: int = 300, draws: int = 300, target_accept: float = 0.8, seed: int = 0,
        progress: bool = True) -> pd.DataFrame:
    """Run ``n_sims`` simulations of simulation-based calibration; one row each.

    Each simulation draws parameters from ``priors`` (default: the model's defaults),
    simulates a sweep on ``design`` (default :func:`make_design`, with 4 groups for
    ``pooling="partial"``), redraws while the sweep is implausible (:func:`plausible`),
    fits it with ``fit_priors`` (default: the same as ``priors``; pass a different one to
    see SBC fail) and records the rank of every scalar parameter among ``n_ranks − 1``
    thinned posterior draws. ``chains × draws`` must be at least ``n_ranks − 1``.

    Columns: one per parameter (ranks in ``0 … n_ranks − 1``), then ``seed`` (the
    simulation's fit seed), ``rejected`` (implausible sweeps redrawn before this one),
    ``divergences``, ``max_r_hat`` (over all parameters; ``worst_r_hat`` names which),
    ``min_ess_bulk`` and ``seconds``. ``attrs`` hold
    ``params``, ``n_ranks`` and the settings. ConvergenceWarnings of the individual fits
    (expected at small draw counts) are not raised; the columns record them.
    Seeds are explicit: simulation ``i`` uses ``SeedSequence([seed, i, attempt])``.
    """
    law = get_law(law)
    if pooling not in ("none", "partial"):
        raise InputError(f"sbc supports pooling 'none' or 'partial', got {pooling!r}.")
    if chains * draws < n_ranks - 1:
        raise InputError(f"chains * draws = {chains * draws} posterior draws cannot give "
                         f"n_ranks - 1 = {n_ranks - 1} thinned draws; raise draws.")
    if design is None:
        design = make_design(6, 5, n_groups=4) if pooling == "partial" else make_design()
    groups = _groups(design)
    fit_priors = priors if fit_priors is None else fit_priors
    rows, params = [], None
    for i in range(n_sims):
        for attempt in range(MAX_ATTEMPTS):
            prior_seed, noise_seed, fit_seed = (
                int(s) for s in np.random.SeedSequence([seed, i, attempt]).generate_state(3))
            truth = prior_draw(law, priors, likelihood, prior_seed, pooling=pooling, vary=vary,
                               design=design)
            frame = simulate_sweep(truth, design, noise_seed, law=law)
            if plausible(frame):
                break
        else:
            raise RuntimeError(f"no plausible sweep in {MAX_ATTEMPTS} prior draws; the priors "
                               f"put almost no mass on losses within {PLAUSIBLE_LOSS} nats.")
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", PriorDominatedWarning)
            post = fit(Sweep.from_frame(frame), law, pooling=pooling,
                       vary=vary if pooling == "partial" else None, priors=fit_priors,
                       likelihood=likelihood, chains=chains, warmup=warmup, draws=draws,
                       seed=fit_seed % 2**31, target_accept=target_accept, progress=False)
        # every fit traces a new model function; without this the compiled executables of
        # hundreds of fits accumulate in memory (the persistent cache still serves them)
        jax.clear_caches()
        posterior = post.posterior
        grouped = {name for name in posterior.data_vars if "group" in posterior[name].dims}
        samples = _scalars({name: posterior[name].transpose("chain", "draw", ...).values
                            for name in truth}, groups, grouped)
        truth = _scalars(truth, groups, grouped)
        ranks = ranks_of(truth, samples, n_ranks, seed=fit_seed)
        params = params or list(ranks)
        diag = post.meta["diagnostics"]
        worst = max(diag["r_hat"], key=lambda k: diag["r_hat"][k])
        rows.append({**ranks, "seed": fit_seed % 2**31, "rejected": attempt,
                     "divergences": diag["divergences"],
                     "max_r_hat": float(diag["r_hat"][worst]), "worst_r_hat": worst,
                     "min_ess_bulk": float(np.nanmin(list(diag["ess_bulk"].values()))),
                     "seconds": round(time.perf_counter() - started, 2)})
        if progress:
            row = rows[-1]
            print(f"sbc {pooling} {i + 1}/{n_sims}: {row['seconds']:.1f} s, "
                  f"{row['divergences']} divergences, max R-hat {row['max_r_hat']:.3f}, "
                  f"min ESS {row['min_ess_bulk']:.0f}, rejected {attempt}", flush=True)
    out = pd.DataFrame(rows, columns=[*(params or []), *DIAGNOSTICS])
    out.attrs = {"params": params or [], "n_ranks": n_ranks, "pooling": pooling,
                 "law": law.name, "likelihood": likelihood, "chains": chains,
                 "warmup": warmup, "draws": draws, "seed": seed,
                 "created": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    return out


def rejection_rate(ranks: pd.DataFrame) -> float:
    """Fraction of prior draws rejected as implausible over an :func:`sbc` run."""
    rejected = int(ranks["rejected"].sum())
    return rejected / (rejected + len(ranks)) if len(ranks) else float("nan")


# ---------------------------------------------------------------------- the test
def _params(ranks, params) -> list[str]:
    if params is not None:
        return list(params)
    if isinstance(ranks, pd.DataFrame):
        return list(ranks.attrs.get("params") or [c for c in ranks.columns
                                                  if c not in DIAGNOSTICS])
    raise InputError("pass params= when ranks is not an sbc frame.")


def _n_ranks(ranks, n_ranks) -> int:
    n_ranks = n_ranks or (ranks.attrs.get("n_ranks") if isinstance(ranks, pd.DataFrame)
                          else None)
    if not n_ranks or n_ranks < 2:
        raise InputError(f"n_ranks (the number of possible rank values, L + 1) must be at "
                         f"least 2, got {n_ranks!r}.")
    return int(n_ranks)


def default_bins(n_sims: int, n_ranks: int) -> int:
    """The largest divisor of ``n_ranks`` (≤ 20) leaving ≥ 5 expected ranks per bin;
    ``n_sims // 5`` unequal bins if no divisor fits."""
    cap = min(MAX_BINS, n_sims // MIN_PER_BIN, n_ranks)
    if cap < 2:
        raise InputError(f"{n_sims} simulations are too few for a chi-square test "
                         f"({MIN_PER_BIN} expected per bin, 2 bins at least): run >= "
                         f"{2 * MIN_PER_BIN}.")
    return max((b for b in range(2, cap + 1) if n_ranks % b == 0), default=cap)


def _binned(values: np.ndarray, n_ranks: int, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts per bin and each bin's probability under uniform ranks 0 … n_ranks − 1."""
    index = np.arange(n_ranks) * bins // n_ranks
    prob = np.bincount(index, minlength=bins) / n_ranks
    counts = np.bincount(np.asarray(values, dtype=int) * bins // n_ranks, minlength=bins)
    return counts, prob


def uniformity(ranks, n_ranks: int | None = None, *, bins: int | None = None,
               params: Sequence[str] | None = None) -> pd.DataFrame:
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
    n_ranks = _n_ranks(ranks, n_ranks)
    names = _params(ranks, params)
    rows = {}
    for name in names:
        values = np.asarray(ranks[name], dtype=int)
        if values.min() < 0 or values.max() >= n_ranks:
            raise InputError(f"ranks of {name!r} must lie in 0 … {n_ranks - 1}; got "
                             f"{values.min()} … {values.max()}.")
        b = bins or default_bins(len(values), n_ranks)
        counts, prob = _binned(values, n_ranks, b)
        expected = len(values) * prob
        chi2 = float(np.sum((counts - expected) ** 2 / expected))
        scaled = values / (n_ranks - 1)
        rows[name] = {"bins": int(b), "chi2": chi2, "dof": int(b - 1),
                      "p_value": float(stats.chi2.sf(chi2, b - 1)),
                      "mean": float(scaled.mean()), "sd": float(scaled.std()),
                      "extreme": float(np.mean((values < 0.05 * n_ranks)
                                               | (values >= 0.95 * n_ranks)))}
    return pd.DataFrame.from_dict(rows, orient="index").astype({"bins": int, "dof": int})


def plot_ranks(ranks, n_ranks: int | None = None, *, bins: int | None = None,
               params: Sequence[str] | None = None, band_prob: float = 0.99, axes=None,
               ncols: int = 4):
    """Rank histograms, one panel per parameter, over the ``band_prob`` band of a uniform
    histogram (each bin count ~ ``Binomial(n_sims, p_bin)``; grey) and its expectation
    (line), as in Talts et al. 2018. The title of each panel gives the chi-square p-value
    of :func:`uniformity`. Returns ``(fig, axes)``."""
    n_ranks = _n_ranks(ranks, n_ranks)
    names = _params(ranks, params)
    table = uniformity(ranks, n_ranks, bins=bins, params=names)
    style = mpl.rc_context(_SMALL) if axes is None else contextlib.nullcontext()
    with style:
        if axes is None:
            ncols = min(ncols, len(names))
            nrows = -(-len(names) // ncols)
            _, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.3 * nrows),
                                   layout="constrained", squeeze=False)
        axes_flat = np.asarray(axes, dtype=object).reshape(-1)
        if axes_flat.size < len(names):
            raise InputError(f"{len(names)} parameters need as many axes, got "
                             f"{axes_flat.size}.")
        fig = axes_flat[0].figure
        for ax, name in zip(axes_flat, names):
            values = np.asarray(ranks[name], dtype=int)
            counts, prob = _binned(values, n_ranks, int(table.loc[name, "bins"]))
            edges = np.r_[0, np.cumsum(prob)] * n_ranks
            n = len(values)
            lo = stats.binom.ppf((1 - band_prob) / 2, n, prob)
            hi = stats.binom.ppf(1 - (1 - band_prob) / 2, n, prob)
            ax.stairs(counts, edges, fill=True, color="C0", alpha=0.8, lw=0)
            ax.fill_between(edges, np.r_[lo, lo[-1]], np.r_[hi, hi[-1]], step="post",
                            color="0.5", alpha=0.3, lw=0, zorder=3)
            ax.stairs(n * prob, edges, color="0.3", lw=0.7, zorder=4)
            ax.set_title(f"{name}  (p = {table.loc[name, 'p_value']:.2g})")
            ax.set_xlim(0, n_ranks)
            ax.set_ylim(0, max(counts.max(), hi.max()) * 1.08)
            ax.set_yticks([])
        for ax in axes_flat[len(names):]:
            ax.set_visible(False)
        fig.supxlabel(f"rank among {n_ranks - 1} posterior draws; grey: {band_prob:.0%} band "
                      "of a uniform histogram")
    return fig, axes
