"""The fitted posterior: draws of the law's parameters plus everything needed to use them.

A :class:`Posterior` is immutable. Queries return new objects (:class:`~bayescale.draws.Draws`
or frames) computed per posterior draw. ``.idata`` is ArviZ InferenceData, so any ArviZ
function works on it. Files are netCDF (HDF5) with the InferenceData group layout; the
bayescale metadata (law, priors, sampler settings, data provenance) sit in the root
attribute ``bayescale`` as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

import jax
import numpy as np
import pandas as pd
import xarray as xr
from jax.scipy.stats import t as student_t

from bayescale import __version__, planning
from bayescale.curves import run_log_density
from bayescale.discrepancy import check_extrapolation_error
from bayescale.draws import SAMPLE_DIMS, Draws, check_ci_prob, eti
from bayescale.errors import InputError, PosteriorFileError
from bayescale.laws import Law, get_law

FILE_FORMAT = 1
GROUPS = ("posterior", "sample_stats", "observed_data", "constant_data")
RESIDUAL_BLOCK = 2_000_000  # draws × points of residuals held at once (16 MB in float64)


@dataclass(frozen=True)
class Posterior:
    """Posterior draws of a scaling law fitted to a sweep. Made by :func:`bayescale.fit`."""

    groups: Mapping[str, xr.Dataset]
    law: Law
    meta: Mapping
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self):
        object.__setattr__(self, "groups", MappingProxyType(dict(self.groups)))

    def __repr__(self) -> str:
        post = self.posterior
        flag = f", {len(self.warnings)} warning(s)" if self.warnings else ""
        return (f"Posterior({self.law.name} law, {post.sizes['chain']} chains × "
                f"{post.sizes['draw']} draws, {self.meta['data']['points']} points{flag})")

    # ---------------------------------------------------------------- access
    @property
    def posterior(self) -> xr.Dataset:
        return self.groups["posterior"]

    @property
    def groups_fitted(self) -> list[str]:
        """Group labels of a per-group fit (empty for pooling='none')."""
        post = self.posterior
        return [str(g) for g in post["group"].values] if "group" in post.coords else []

    def theta(self, group: str | None = None, seed: int = 0) -> dict[str, np.ndarray]:
        """The law's parameters as ``(chain, draw)`` arrays.

        For a per-group fit, ``group`` names a fitted group, or is ``"new"`` for an
        unseen group drawn from the population (partial pooling): per draw,
        ``θ_new = T(T⁻¹(μ) + τ ⊙ z)`` with ``z ~ Normal(0, 1)`` drawn with ``seed``
        (:mod:`bayescale.model`).
        """
        post, groups = self.posterior, self.groups_fitted
        if not groups:
            if group is not None:
                raise InputError(f"this posterior has no groups (pooling='none'); drop "
                                 f"group={group!r}.")
            return {p: post[p].values for p in self.law.params}
        if group is None or (group not in groups and group != "new"):
            new = " or 'new' (an unseen group)" if self.meta["pooling"] == "partial" else ""
            raise InputError(f"this posterior is per group: pass group= one of {groups}{new}; "
                             f"got {group!r}.")
        if group != "new":
            return {p: (post[p].sel(group=group).values if "group" in post[p].dims
                        else post[p].values) for p in self.law.params}
        if self.meta["pooling"] != "partial":
            raise InputError("group='new' needs a partial-pooling fit: with pooling='separate' "
                             "there is no population to draw a new group from.")
        rng = np.random.default_rng(seed)
        shape = (post.sizes["chain"], post.sizes["draw"])
        out = {}
        for name in [p for p in self.law.params if p not in self.law.shear] + list(self.law.shear):
            if name not in self.meta["vary"]:
                out[name] = post[name].values
                continue
            to_domain = self.law.transform(name)
            spread = post[f"tau_{name}"].values * rng.standard_normal(shape)
            with jax.enable_x64(post[name].dtype == np.float64):  # keep the draws' precision
                value = np.asarray(to_domain(to_domain.inv(post[f"mu_{name}"].values) + spread))
            if name in self.law.shear:
                # the spread sits on the centred intercept: a − α·m ~ Normal(μ_a − μ_α·m, τ_a)
                exponent, axis = self.law.shear[name]
                typical = f"mu_{exponent}" if exponent in self.meta["vary"] else exponent
                value = value + (out[exponent] - post[typical].values) * self.meta["centre"][axis]
            out[name] = value
        return out

    def log_mean(self, log_n, log_d, group: str | None = None) -> np.ndarray:
        """Per-draw law prediction ``log L`` at points, shape ``(chain, draw, point)``."""
        theta = {k: v[..., None] for k, v in self.theta(group).items()}
        with jax.enable_x64(self.posterior[self.law.params[0]].dtype == np.float64):
            out = self.law.log_loss(theta, np.asarray(log_n)[None, None], np.asarray(log_d)[None, None])
            return np.asarray(out)

    def fitted_log_mean(self, run_offsets: bool = True, isel: Mapping | None = None
                        ) -> np.ndarray:
        """``log L`` at the fitted points, with each point's group and (unless
        ``run_offsets=False``) its run's offset; shape ``(chain, draw, point)``, or the
        draws that ``isel`` selects (``posterior.isel(isel)``: a block at a time keeps
        memory bounded for large sweeps)."""
        post, const = self.posterior, self.groups["constant_data"]
        post = post if isel is None else post.isel(isel)
        theta = {}
        for p in self.law.params:
            value = post[p].values
            theta[p] = (value[..., const["group"].values] if "group" in post[p].dims
                        else value[..., None])
        with jax.enable_x64(post[self.law.params[0]].dtype == np.float64):
            mu = np.asarray(self.law.log_loss(theta, const["log_n"].values,
                                              const["log_d"].values))
        if run_offsets and "run_offset" in post:
            mu = mu + post["run_offset"].values[..., const["run"].values]
        return mu

    def residual_blocks(self):
        """``(part, resid)`` over every draw: ``resid`` is the observed log loss less
        :meth:`fitted_log_mean` without run offsets, ``(draws, point)``, for the draws that
        ``part = (chain, draw slice)`` indexes, in chain-then-draw order. All at once the
        residuals are ``chains × draws × points`` numbers, 32 GB at 1e6 points and 4000
        draws; a block holds at most ``RESIDUAL_BLOCK`` of them."""
        observed = self.groups["observed_data"]["log_loss"].values
        chains, draws = self.posterior.sizes["chain"], self.posterior.sizes["draw"]
        block = max(1, RESIDUAL_BLOCK // max(1, observed.size))
        for chain in range(chains):
            for start in range(0, draws, block):
                part = (chain, slice(start, start + block))
                fitted = self.fitted_log_mean(run_offsets=False,
                                              isel={"chain": part[0], "draw": part[1]})
                yield part, observed - fitted

    def log_likelihood(self) -> xr.Dataset:
        """Log-likelihood of the fitted data, for LOO and WAIC: per point, or per run for
        training curves (whose likelihood is per run, :mod:`bayescale.curves`; LOO then
        leaves out whole runs, the honest unit for correlated checkpoints). Computed a block
        of draws at a time (:meth:`residual_blocks`), so that a curve fit's per-run
        log-likelihood never holds the per-point residuals of every draw."""
        post, observed = self.posterior, self.groups["observed_data"]
        sigma = post["sigma"].values
        nu = post["nu"].values if self.meta["likelihood"] == "student_t" else None
        coords = {"chain": post["chain"], "draw": post["draw"]}
        per_run = "sigma_run" in post
        if per_run:
            run, sigma_run = self.groups["constant_data"]["run"].values, post["sigma_run"].values
            dims, coords["run"] = (*SAMPLE_DIMS, "run"), post["run"]
        else:
            dims, coords["point"] = (*SAMPLE_DIMS, "point"), observed["point"]
        logp = np.empty((*sigma.shape, len(coords[dims[-1]])), dtype=sigma.dtype)
        for part, resid in self.residual_blocks():
            scale, dof = sigma[part], None if nu is None else nu[part]
            with jax.enable_x64(resid.dtype == np.float64):
                if per_run:
                    logp[part] = run_log_density(resid, run, post.sizes["run"], scale,
                                                 sigma_run[part], dof)
                else:
                    z = resid / scale[..., None]
                    logp[part] = ((-0.5 * z**2 - 0.5 * np.log(2 * np.pi) if dof is None
                                   else student_t.logpdf(z, dof[..., None]))
                                  - np.log(scale[..., None]))
        return xr.Dataset({"log_loss": (dims, logp)}, coords=coords)

    @property
    def idata(self):
        """ArviZ InferenceData with posterior, sample_stats, log_likelihood, observed and
        constant data; ``attrs`` carry the package version, law, priors and provenance."""
        from bayescale.diagnostics import arviz

        idata = arviz().InferenceData(log_likelihood=self.log_likelihood(), **self.groups)
        idata.attrs.update({"bayescale": json.dumps(self.meta), "law": self.law.name,
                            "bayescale_version": self.meta["bayescale_version"]})
        return idata

    # --------------------------------------------------------------- summaries
    def summary(self, ci_prob: float = 0.9) -> pd.DataFrame:
        """One row per parameter (and derived quantity; per group as ``alpha[group]``):
        mean, sd, median, equal-tailed interval, bulk/tail ESS and R-hat. Run offsets are
        summarised by ``sigma_run``."""
        from bayescale.diagnostics import arviz

        ci_prob = check_ci_prob(ci_prob)
        post = self.posterior.drop_vars("run_offset", errors="ignore")
        post = post.assign(**planning.derived(self))
        az = arviz()
        ess_bulk, ess_tail = az.ess(post, method="bulk"), az.ess(post, method="tail")
        rhat = az.rhat(post) if post.sizes["chain"] > 1 else post.map(lambda v: np.nan)
        rows = {}
        for name in post.data_vars:
            cells = ([(name, {})] if "group" not in post[name].dims else
                     [(f"{name}[{g}]", {"group": g}) for g in post["group"].values])
            for label, where in cells:
                values = post[name].sel(where).values.ravel()
                low, high = eti(values, ci_prob)
                rows[label] = {
                    "mean": values.mean(), "sd": values.std(ddof=1), "median": np.median(values),
                    f"lower_{ci_prob:g}": low, f"upper_{ci_prob:g}": high,
                    "ess_bulk": float(ess_bulk[name].sel(where)),
                    "ess_tail": float(ess_tail[name].sel(where)),
                    "r_hat": float(rhat[name].sel(where)),
                }
        return pd.DataFrame.from_dict(rows, orient="index")

    def with_extrapolation_error(self, value: float) -> Posterior:
        """The same posterior with the law's error beyond the fitted compute scaled by
        ``value`` (0 turns it off) in every loss prediction (:mod:`bayescale.discrepancy`)."""
        meta = {**self.meta, "extrapolation_error": check_extrapolation_error(value)}
        return replace(self, meta=meta)

    # ---------------------------------------------------------------- queries
    def predict_loss(self, n, d, group: str | None = None, seed: int = 0) -> Draws:
        """Draws of the law's mean loss and of posterior-predictive loss at ``(n, d)``."""
        return planning.predict_loss(self, n, d, group=group, seed=seed)

    def optimal(self, compute, group: str | None = None) -> Draws:
        """Compute-optimal ``n_opt``, ``d_opt``, ``tokens_per_param``, ``loss_opt`` per draw
        (per group, and for a new group, when the fit is per group and ``group`` is None)."""
        return planning.optimal(self, compute, group=group)

    def excess_compute(self, ratio, budget: float, group: str | None = None) -> Draws:
        """Compute and tokens for a model of ``ratio × N_opt`` to match the optimum's loss."""
        return planning.excess_compute(self, ratio, budget, group=group)

    def efficient_range(self, budget: float, tolerance: float = 0.2,
                        group: str | None = None) -> Draws:
        """Sizes (``N / N_opt``) that stay within ``1 + tolerance`` of optimal compute."""
        return planning.efficient_range(self, budget, tolerance, group=group)

    def compute_to_reach(self, loss, group: str | None = None) -> Draws:
        """FLOPs, ``n_opt`` and ``d_opt`` of the cheapest allocation that reaches ``loss``."""
        return planning.compute_to_reach(self, loss, group=group)

    # ------------------------------------------------------------------- files
    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write a netCDF file; refuses to replace an existing file unless ``overwrite``."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it.")
        meta = {**self.meta, "file_format": FILE_FORMAT, "warnings": list(self.warnings)}
        root = xr.Dataset(attrs={"bayescale": json.dumps(meta), "law": self.law.name,
                                 "bayescale_version": __version__})
        tmp = path.with_name(path.name + ".partial")
        root.to_netcdf(tmp, mode="w", engine="h5netcdf")
        for name in GROUPS:
            self.groups[name].to_netcdf(tmp, mode="a", group=name, engine="h5netcdf")
        tmp.replace(path)
        return path


def load_posterior(path: str | Path) -> Posterior:
    """Read a posterior written by :meth:`Posterior.save`; errors say what is wrong."""
    path = Path(path)
    if not path.exists():
        raise PosteriorFileError(f"no posterior file at {str(path)!r}.")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as root:
            attrs = dict(root.attrs)
        groups = {}
        for name in GROUPS:
            with xr.open_dataset(path, group=name, engine="h5netcdf") as ds:
                groups[name] = ds.load()
    except (OSError, ValueError, KeyError) as err:
        raise PosteriorFileError(
            f"{str(path)!r} is not a readable bayescale posterior (truncated or corrupted?): "
            f"{err}. Refit and save it again."
        ) from err
    if "bayescale" not in attrs:
        raise PosteriorFileError(f"{str(path)!r} holds no bayescale metadata; it was not "
                                 "written by Posterior.save.")
    meta = json.loads(attrs["bayescale"])
    if meta.get("file_format") != FILE_FORMAT:
        raise PosteriorFileError(
            f"{str(path)!r} has file format {meta.get('file_format')!r} (bayescale "
            f"{meta.get('bayescale_version')}); this bayescale {__version__} reads format "
            f"{FILE_FORMAT}. Refit with this version, or install the version that wrote it."
        )
    try:
        law = get_law(meta["law"])
    except ValueError as err:
        raise PosteriorFileError(
            f"{str(path)!r} was fitted with law {meta['law']!r}, which is not registered here; "
            "register it with bs.register_law(...) before loading."
        ) from err
    missing = [p for p in law.params if p not in groups["posterior"]]
    if missing:
        raise PosteriorFileError(
            f"{str(path)!r} lacks parameters {missing} of the {law.name} law it names; the "
            "file does not match its law."
        )
    warnings = tuple(meta.pop("warnings", ()))
    meta.pop("file_format", None)
    return Posterior(groups=groups, law=law, meta=meta, warnings=warnings)
