r"""Sweeps simulated from the prior, for simulation-based calibration (:mod:`.sbc`).

A simulation draws every parameter from the priors :func:`bayescale.fit` would use
(:func:`prior_draw`): the law's parameters, the noise (``sigma``, ``nu``) and, under
partial pooling, the population means ``mu_p``, spreads ``tau_p`` and group values. It
then simulates the losses of a sweep on a realistic design (:func:`make_design`: model
sizes 5e7–5e9, 2–200 tokens per parameter) from the model's likelihood
(:func:`simulate_sweep`).

Implausible sweeps
------------------
Default priors are weakly informative, so some prior draws give sweeps no one would fit
(losses of 100 nats, or a loss curve flat at 0.01). Such a *simulated sweep* is rejected
and the parameters redrawn when any of its losses lies outside ``PLAUSIBLE_LOSS = (0.5, 20)``
nats (:func:`plausible`). The rule looks at the simulated losses only, not at θ. That
matters: the simulations then come from the joint model conditioned on a plausible sweep,
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
and design); :func:`bayescale.evaluation.sbc.sbc` records per simulation how many draws were
rejected before the accepted one, and :func:`rejection_rate` sums them up.

Reference: M. Modrák, "Rejection sampling in simulations", SBC R package vignette,
https://hyunjimoon.github.io/SBC/articles/rejection_sampling.html.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import numpy as np
import numpyro.distributions as dist
import pandas as pd
from numpyro import handlers

from bayescale.errors import InputError
from bayescale.fitinfo import DataInfo
from bayescale.laws import Law, get_law
from bayescale.likelihood import point_distribution
from bayescale.model import CENTRED_SUFFIX, partial_params
from bayescale.priors import resolve_priors

__all__ = [
    "PLAUSIBLE_LOSS",
    "design_groups",
    "make_design",
    "plausible",
    "prior_draw",
    "rejection_rate",
    "simulate_sweep",
]

PLAUSIBLE_LOSS = (0.5, 20.0)
"""Loss range (nats) every point of a simulated sweep must fall in, else it is redrawn."""


def make_design(
    n_sizes: int = 7, n_ratios: int = 6, n_groups: int = 0, sizes=(5e7, 5e9), ratios=(2.0, 200.0)
) -> pd.DataFrame:
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


def design_groups(design: pd.DataFrame | None) -> list[str]:
    """The sorted group labels of ``design`` (empty without a ``group`` column): the order
    in which per-group parameter arrays are indexed, as in the fitted posterior."""
    if design is None or "group" not in design.columns:
        return []
    return sorted(design["group"].astype(str).unique())


def _centre(design: pd.DataFrame) -> dict:
    """The centre :func:`bayescale.fit` will compute for a sweep on this design."""
    return DataInfo.from_arrays(
        np.log(design["n_params"].to_numpy(float)), np.log(design["n_tokens"].to_numpy(float))
    ).centre


def prior_draw(
    law: str | Law = "chinchilla",
    priors: Mapping | None = None,
    likelihood: str = "student_t",
    seed: int = 0,
    *,
    pooling: str = "none",
    vary: Sequence[str] | None = None,
    design: pd.DataFrame | None = None,
) -> dict[str, np.ndarray]:
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
        values = {
            name: np.asarray(prior.sample(key), dtype=float)
            for (name, prior), key in zip(dists.items(), keys, strict=False)
        }
        if pooling == "none":
            return values
        groups = design_groups(design)
        if len(groups) < 2:
            raise InputError(
                "pooling='partial' needs a design with a group column of at least "
                "two groups, e.g. make_design(n_groups=4)."
            )
        centre = _centre(design)
        site = {p: (f"mu_{p}" if p in vary else p) for p in law.params}
        sites = {site[p]: values[p] for p in law.params if p not in law.shear}
        for p in law.shear:
            # the model samples a sheared intercept as a − α·m (module docstring of model.py)
            exponent, pivot = law.pivot(p, centre)
            sites[site[p] + CENTRED_SUFFIX] = values[p] - values[exponent] * pivot
        for p, key in zip(vary, keys[len(dists) :], strict=True):
            sites[f"tau_{p}"] = values[f"tau_{p}"]
            sites[f"z_{p}"] = np.asarray(dist.Normal(0.0, 1.0).sample(key, (len(groups),)))
        with handlers.condition(data=sites):
            theta = partial_params(law, dists, centre, vary, len(groups))
    out = {f"mu_{p}": values[p] for p in vary}
    out |= {f"tau_{p}": values[f"tau_{p}"] for p in vary}
    out |= {p: np.asarray(theta[p], dtype=float) for p in law.params}
    out |= {name: values[name] for name in ("sigma", "nu") if name in values}
    return out


def simulate_sweep(
    theta: Mapping, design: pd.DataFrame, seed: int = 0, *, law: str | Law = "chinchilla"
) -> pd.DataFrame:
    """``design`` with a simulated ``loss`` column, as :meth:`bayescale.Sweep.from_frame`
    takes it.

    ``log loss = log L(θ_g; N, D) + noise``: Student-t noise of scale ``theta["sigma"]`` and
    ``theta["nu"]`` degrees of freedom, or Normal noise when ``theta`` has no ``nu`` (the
    model's own likelihood, :func:`bayescale.likelihood.point_distribution`). A parameter
    that is an array is per group, indexed by the sorted labels of the design's ``group``
    column.
    """
    law = get_law(law)
    groups = design_groups(design)
    code = (
        np.searchsorted(groups, design["group"].astype(str).to_numpy())
        if groups
        else np.zeros(len(design), dtype=int)
    )
    per_point = {}
    for p in law.params:
        value = np.asarray(theta[p], dtype=float)
        if value.ndim and not groups:
            raise InputError(f"theta[{p!r}] is per group but the design has no group column.")
        per_point[p] = value[code] if value.ndim else value
    with jax.enable_x64(True):
        mean = np.asarray(
            law.log_loss(
                per_point,
                np.log(design["n_params"].to_numpy(float)),
                np.log(design["n_tokens"].to_numpy(float)),
            )
        )
        noise = point_distribution(
            0.0, float(theta["sigma"]), float(theta["nu"]) if "nu" in theta else None
        )
        eps = np.asarray(noise.sample(jax.random.PRNGKey(seed), (len(design),)))
    with np.errstate(over="ignore"):
        return design.assign(loss=np.exp(mean + eps))


def plausible(sweep: pd.DataFrame, loss_range=PLAUSIBLE_LOSS) -> bool:
    """Whether every loss of a simulated sweep is finite and inside ``loss_range`` nats."""
    loss = sweep["loss"].to_numpy(float)
    return bool(
        np.all(np.isfinite(loss)) and np.all((loss >= loss_range[0]) & (loss <= loss_range[1]))
    )


def rejection_rate(ranks: pd.DataFrame) -> float:
    """Fraction of prior draws rejected as implausible over an
    :func:`~bayescale.evaluation.sbc.sbc` run (its ``rejected`` column)."""
    rejected = int(ranks["rejected"].sum())
    return rejected / (rejected + len(ranks)) if len(ranks) else float("nan")
