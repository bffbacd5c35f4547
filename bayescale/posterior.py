"""The fitted posterior: draws of the law's parameters plus everything needed to use them.

A :class:`Posterior` is immutable. Queries return new objects (:class:`~bayescale.draws.Draws`
or frames) computed per posterior draw by :mod:`bayescale.planning`, from the law, the
draws, the noise draws and the discrepancy that the posterior hands over. ``.idata`` is
ArviZ InferenceData, so any ArviZ function works on it; :meth:`Posterior.from_idata` wraps
InferenceData sampled elsewhere (PyMC, Stan, plain NumPyro), so every query, plot and
command works on it too. Files: :mod:`bayescale.posterior_file`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

import jax
import numpy as np
import pandas as pd
import xarray as xr

from bayescale import __version__, planning, posterior_file
from bayescale.diagnostics import arviz, diagnose, problems, warn_all
from bayescale.discrepancy import EXTRAPOLATION_ERROR, Discrepancy, check_extrapolation_error
from bayescale.draws import SAMPLE_DIMS, Draws, eti, every_group, hdi, interval_columns
from bayescale.errors import InputError, InputTypeError
from bayescale.fitinfo import DataInfo, FitInfo, SamplerInfo
from bayescale.hierarchy import NEW_GROUP, group_values
from bayescale.idata import inference_data, with_derived
from bayescale.laws import Law, get_law
from bayescale.likelihood import NoiseDraws, run_groups
from bayescale.schedules import Schedule
from bayescale.sweep import Sweep
from bayescale.sweep_schedules import finished_run, warn_if_rates_outside

RESIDUAL_BLOCK = 2_000_000  # draws × points of residuals held at once (16 MB in float64)


def residual_blocks(
    law: Law, posterior: xr.Dataset, observed: xr.Dataset, constant: xr.Dataset
) -> Iterator[tuple[tuple, np.ndarray]]:
    """``(part, resid)`` over every draw: ``resid`` is the observed log loss less the law's
    at the fitted points (each point's group, no run offsets), ``(draws, point)``, for the
    draws that ``part = (chain, draw slice)`` indexes, in chain-then-draw order. All at
    once the residuals are ``chains × draws × points`` numbers (32 GB at 1e6 points and
    4000 draws); a block holds at most ``RESIDUAL_BLOCK`` of them (or of the law's inputs
    per draw, such as a schedule's knots, where they are more)."""
    y = observed["log_loss"].values
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    per_draw = max(y.size, sum(v.size for v in point_inputs(constant).values()))
    block = max(1, RESIDUAL_BLOCK // max(1, per_draw))
    for chain in range(chains):
        for start in range(0, draws, block):
            part = (chain, slice(start, start + block))
            fitted = law_at_points(law, posterior.isel(chain=part[0], draw=part[1]), constant)
            yield part, y - fitted


INPUT_PREFIX = "input_"


def input_variables(inputs: Mapping[str, np.ndarray], points: int) -> dict:
    """The law inputs of ``points`` points (:class:`bayescale.laws.Conditions`) as
    ``constant_data`` variables: ``input_<name>``, dims ``point`` (``row`` for a table
    that points share, whose first axis has another length) and, for more axes,
    ``<name>_<axis>``."""
    return {
        f"{INPUT_PREFIX}{name}": (
            (
                "point" if len(value) == points else "row",
                *(f"{name}_{axis}" for axis in range(1, np.ndim(value))),
            ),
            np.asarray(value),
        )
        for name, value in inputs.items()
    }


def point_inputs(constant: xr.Dataset) -> dict[str, np.ndarray]:
    """The law inputs held in ``constant_data`` (:func:`input_variables`); ``{}`` if none."""
    return {
        name.removeprefix(INPUT_PREFIX): constant[name].values
        for name in constant.data_vars
        if name.startswith(INPUT_PREFIX)
    }


def law_at_points(law: Law, posterior: xr.Dataset, constant: xr.Dataset) -> np.ndarray:
    """``log L`` of the law at the fitted points, each with its group's parameters and
    under its conditions (:func:`point_inputs`): ``(..., point)`` over the sample dims of
    ``posterior``."""
    theta = {}
    for p in law.params:
        value = posterior[p].values
        theta[p] = (
            value[..., constant["group"].values]
            if "group" in posterior[p].dims
            else value[..., None]
        )
    with jax.enable_x64(posterior[law.params[0]].dtype == np.float64):
        return np.asarray(
            law.log_loss_at(
                theta, constant["log_n"].values, constant["log_d"].values, point_inputs(constant)
            )
        )


@dataclass(frozen=True)
class Posterior:
    """Posterior draws of a scaling law fitted to a sweep. Made by :func:`bayescale.fit`,
    :meth:`from_idata` or :func:`load_posterior`."""

    groups: Mapping[str, xr.Dataset]
    law: Law
    info: FitInfo
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self):
        object.__setattr__(self, "groups", MappingProxyType(dict(self.groups)))

    def __repr__(self) -> str:
        post = self.posterior
        flag = f", {len(self.warnings)} warning(s)" if self.warnings else ""
        return (
            f"Posterior({self.law.name} law, {post.sizes['chain']} chains × "
            f"{post.sizes['draw']} draws, {self.info.data.points} points{flag})"
        )

    # ---------------------------------------------------------------- access
    @property
    def posterior(self) -> xr.Dataset:
        return self.groups["posterior"]

    @property
    def groups_fitted(self) -> list[str]:
        """Group labels of a per-group fit (empty for pooling='none')."""
        post = self.posterior
        return [str(g) for g in post["group"].values] if "group" in post.coords else []

    @property
    def groups_answered(self) -> list[str]:
        """The groups a query can answer for: the fitted groups, and ``"new"`` (an unseen
        group drawn from the population) under partial pooling; empty without groups."""
        return self.groups_fitted + ([NEW_GROUP] if self.info.pooling == "partial" else [])

    def theta(self, group: str | None = None, seed: int | None = None) -> dict[str, np.ndarray]:
        """The law's parameters as ``(chain, draw)`` arrays.

        For a per-group fit, ``group`` names a fitted group, or is ``"new"`` for an
        unseen group drawn from the population (partial pooling): per draw, ``z ~
        Normal(0, 1)`` on each varying parameter's pooling scale
        (:func:`bayescale.hierarchy.group_values`, the model's own transform), drawn with
        ``seed``.

        Parameters
        ----------
        group
            for a per-group fit (where it is required), a fitted group's label or
            ``"new"``; ``None`` for a fit without groups.
        seed
            seeds the draws of a new group's values; ``None`` uses the fit's seed.

        Returns
        -------
        dict
            one ``(chain, draw)`` array per parameter of the law, by name.
        """
        post, groups = self.posterior, self.groups_fitted
        if not groups:
            if group is not None:
                raise InputError(
                    f"this posterior has no groups (pooling='none'); drop group={group!r}."
                )
            return {p: post[p].values for p in self.law.params}
        if group is None or (group not in groups and group != NEW_GROUP):
            new = " or 'new' (an unseen group)" if self.info.pooling == "partial" else ""
            raise InputError(
                f"this posterior is per group: pass group= one of {groups}{new}; got {group!r}."
            )
        if group != NEW_GROUP:
            return {
                p: (post[p].sel(group=group).values if "group" in post[p].dims else post[p].values)
                for p in self.law.params
            }
        if self.info.pooling != "partial":
            raise InputError(
                "group='new' needs a partial-pooling fit: with pooling='separate' "
                "there is no population to draw a new group from."
            )
        rng = np.random.default_rng(self.info.sampler.seed if seed is None else seed)
        shape = (post.sizes["chain"], post.sizes["draw"])
        vary = self.info.vary
        mu = {p: post[f"mu_{p}" if p in vary else p].values for p in self.law.params}

        def draw(name, loc):
            return loc + post[f"tau_{name}"].values * rng.standard_normal(shape)

        with jax.enable_x64(post[self.law.params[0]].dtype == np.float64):
            return {
                p: np.asarray(v)
                for p, v in group_values(self.law, mu, vary, self.info.data.centre, draw).items()
            }

    def noise(self) -> NoiseDraws:
        """Draws of the noise parameters (:mod:`bayescale.likelihood`)."""
        return NoiseDraws.from_dataset(self.posterior)

    def discrepancy(self) -> Discrepancy:
        """The law's error outside the fitted runs, per draw (:mod:`bayescale.discrepancy`),
        with the fitted region and ranges."""
        return Discrepancy.from_draws(
            self.noise().new_run_scale(),
            self.info.data,
            self.info.extrapolation_error,
            self.info.sampler.seed,
        )

    def derived(self) -> xr.Dataset:
        """The law's derived quantities per draw (and group), e.g. ``E``, ``n_opt_exponent``."""
        return xr.Dataset(self.law.quantities(self.posterior))

    def log_mean(self, log_n, log_d, group: str | None = None) -> np.ndarray:
        """Per-draw law prediction ``log L`` at points, shape ``(chain, draw, point)``."""
        theta = {k: v[..., None] for k, v in self.theta(group).items()}
        with jax.enable_x64(self.posterior[self.law.params[0]].dtype == np.float64):
            return np.asarray(
                self.law.log_loss(
                    theta, np.asarray(log_n)[None, None], np.asarray(log_d)[None, None]
                )
            )

    def fitted_log_mean(self, run_offsets: bool = True) -> np.ndarray:
        """``log L`` at the fitted points, with each point's group and (unless
        ``run_offsets=False``) its run's offset; shape ``(chain, draw, point)``."""
        const = self.groups["constant_data"]
        mu = law_at_points(self.law, self.posterior, const)
        if run_offsets and "run_offset" in self.posterior:
            mu = mu + self.posterior["run_offset"].values[..., const["run"].values]
        return mu

    @property
    def likelihood_unit(self) -> str:
        """The unit of :meth:`log_likelihood`: ``"point"``, ``"run"`` for training curves
        (LOO then leaves out whole runs, the honest unit for correlated checkpoints), or
        ``"offset_group"`` where runs share offsets."""
        if "sigma_shared" in self.posterior:
            return "offset_group"
        return "run" if "sigma_run" in self.posterior else "point"

    def log_likelihood(self) -> xr.Dataset:
        """Log-likelihood of the fitted data, for LOO and WAIC, per :attr:`likelihood_unit`.
        Computed a block of draws at a time (:func:`residual_blocks`)."""
        post, observed = self.posterior, self.groups["observed_data"]
        constant = self.groups["constant_data"]
        noise = self.noise()
        coords = {"chain": post["chain"], "draw": post["draw"]}
        unit = self.likelihood_unit
        coords[unit] = post[unit] if unit != "point" else observed["point"]
        dims = (*SAMPLE_DIMS, unit)
        logp = np.empty((*noise.sigma.shape, len(coords[unit])), dtype=noise.sigma.dtype)
        if unit != "point":
            run, n_runs = constant["run"].values, post.sizes["run"]
        if unit == "offset_group":
            group = np.asarray(run_groups(constant["offset_group"].values, run, n_runs))
        for part, resid in residual_blocks(self.law, post, observed, constant):
            draws = noise.select(part)
            if unit == "offset_group":
                logp[part] = draws.shared_log_density(resid, run, n_runs, group, len(coords[unit]))
            elif unit == "run":
                logp[part] = draws.run_log_density(resid, run, n_runs)
            else:
                logp[part] = draws.log_density(resid)
        return xr.Dataset({"log_loss": (dims, logp)}, coords=coords)

    @property
    def idata(self):
        """ArviZ InferenceData: ``posterior`` (with the law's derived quantities, such as
        ``E``), ``sample_stats``, ``log_likelihood``, ``posterior_predictive``,
        ``observed_data``, ``constant_data`` and, for a fit, ``prior`` and
        ``prior_predictive`` (:mod:`bayescale.idata`, which states how large sweeps are
        thinned). ``attrs`` carry the file header, so ``az.to_netcdf(post.idata, path)``
        writes a file that :func:`load_posterior` reads."""
        return inference_data(self)

    # --------------------------------------------------------------- summaries
    def summary(self, ci_prob: float = 0.9, kind: str = "eti") -> pd.DataFrame:
        """One row per parameter (and derived quantity; per group as ``alpha[group]``),
        with the columns of ``az.summary``: ``mean``, ``sd``, ``median``, the two bounds
        of the ``ci_prob`` interval (``eti_5%`` and ``eti_95%`` at 0.9, named by
        :func:`~bayescale.draws.interval_columns` as in
        :meth:`~bayescale.draws.Draws.interval`),
        ``mcse_mean``, ``mcse_sd``, ``ess_bulk``, ``ess_tail`` and ``r_hat`` (the last
        five computed by ArviZ, ``az.summary(..., kind="diagnostics")``: the values of
        ``az.mcse``, ``az.ess`` and ``az.rhat``; ``r_hat`` is NaN for one chain). Run
        offsets are summarised by ``sigma_run``.

        Parameters
        ----------
        ci_prob
            the interval's probability, under the name of ArviZ 1.0 and of every
            bayescale function; the ``az.summary`` of the ArviZ 0.x that bayescale pins
            calls it ``hdi_prob``, so ``az.summary(post.idata, hdi_prob=0.9)`` labels its
            columns as ``post.summary(0.9, kind="hdi")`` does.
        kind
            ``"eti"`` (equal-tailed, the default) or ``"hdi"`` (highest density, the
            interval of ``az.summary``'s default).

        Returns
        -------
        pandas.DataFrame
            one row per parameter and derived quantity, indexed by name.
        """
        # Draws far out (a chain stuck at a = 1e151, which the fit's ConvergenceWarning
        # names) give inf and NaN cells; the table shows them, so NumPy's floating-point
        # warnings and ArviZ's NaN log line, which would say it again without naming the
        # parameter, are not repeated.
        with np.errstate(over="ignore", invalid="ignore"):
            return self._summary(ci_prob, kind)

    def _summary(self, ci_prob: float, kind: str) -> pd.DataFrame:
        """:meth:`summary`'s table."""
        lower, upper = interval_columns(ci_prob, kind)
        ci_prob = float(ci_prob)
        bounds = eti if kind == "eti" else hdi
        post = self.posterior.drop_vars(["run_offset", "shared_offset"], errors="ignore")
        post = post.assign(**self.derived())
        az = arviz()
        # az.summary's own diagnostics (az.mcse(method="sd") of ArviZ 0.23 fails where
        # numba is installed under NumPy 2). With one chain R-hat is NaN, as the docstring
        # says, and ArviZ's log line about the chain count is dropped, as is its line about
        # NaN values (the table's cells show them).
        log = getattr(az, "_log", None) or logging.getLogger("arviz")  # its own Logger
        one_chain = post.sizes["chain"] == 1

        def quiet(record: logging.LogRecord) -> bool:
            message = record.getMessage()
            return not (
                (one_chain and "Shape validation" in message) or "contains NaN-value" in message
            )

        log.addFilter(quiet)
        try:
            diag = az.summary(post, kind="diagnostics", fmt="xarray", round_to="none")
        finally:
            log.removeFilter(quiet)
        rows = {}
        for name in post.data_vars:
            cells = (
                [(name, {})]
                if "group" not in post[name].dims
                else [(f"{name}[{g}]", {"group": g}) for g in post["group"].values]
            )
            for label, where in cells:
                values = post[name].sel(where).values.ravel()
                low, high = bounds(values, ci_prob)
                rows[label] = {
                    "mean": values.mean(),
                    "sd": values.std(ddof=1),
                    "median": np.median(values),
                    lower: low,
                    upper: high,
                    **{
                        metric: float(diag[name].sel({**where, "metric": metric}))
                        for metric in ("mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "r_hat")
                    },
                }
        return pd.DataFrame.from_dict(rows, orient="index")

    def with_extrapolation_error(self, value: float) -> Posterior:
        """The same posterior with the law's error outside the fitted runs scaled by
        ``value`` (0 turns it off) in every loss prediction (:mod:`bayescale.discrepancy`)."""
        info = replace(self.info, extrapolation_error=check_extrapolation_error(value))
        return replace(self, info=info)

    def with_finished_run(self, schedule=None, tokens_per_step: float | None = None) -> Posterior:
        """The same posterior, answering for finished runs of another schedule, for a law that
        reads schedules (``"multipower"``, ``"annealing"``).

        Its planning queries (:meth:`optimal`, :meth:`excess_compute`,
        :meth:`compute_to_reach`, :meth:`predict_loss`) then ask for a run of ``N``
        parameters on ``D`` tokens under ``schedule`` stretched to ``D / tokens_per_step``
        steps with the same warmup, instead of the schedule family the sweep used
        (``post.info.law_settings``; :mod:`bayescale.sweep_schedules`).

        Parameters
        ----------
        schedule
            a :class:`~bayescale.schedules.Schedule` of a family (not an array), its
            ``to_dict()``, or its one-line text (:meth:`Schedule.from_text`); ``None`` keeps
            the fit's.
        tokens_per_step
            tokens per optimiser step of those runs; ``None`` keeps the fit's.
        """
        settings = self.law.settings
        if "schedule" not in settings:
            raise InputError(
                f"law {self.law.name!r} reads no learning-rate schedule, so it answers only "
                "for finished runs like the sweep's; to ask about another schedule, fit a law "
                "that reads them (law='multipower' or law='annealing')."
            )
        if isinstance(schedule, str):
            schedule = Schedule.from_text(schedule)
        stated, run = finished_run(
            settings["schedule"] if schedule is None else schedule,
            settings["tokens_per_step"] if tokens_per_step is None else tokens_per_step,
        )
        warn_if_rates_outside(self.info.curves, stated)
        law = self.law.configured({**settings, **run})
        return replace(self, law=law, info=replace(self.info, law_settings=dict(law.settings)))

    # ---------------------------------------------------------------- queries
    @every_group
    def predict_loss(self, n, d, group: str | None = None, seed: int = 0) -> Draws:
        """Draws of the law's mean loss and of posterior-predictive loss at ``(n, d)``.

        Parameters
        ----------
        n, d
            parameters and training tokens (> 0): numbers or flat lists of one length
            (a single number pairs with each value of the other); each pair is a
            finished run.
        group
            for a per-group fit, a fitted group's label, or ``"new"`` for an unseen group
            (partial pooling; :meth:`theta`); ``None`` answers for every group along a
            ``group`` dimension (:func:`~bayescale.draws.every_group`), or for a fit
            without groups.
        seed
            seeds the predictive draws (a new run's noise).

        Returns
        -------
        Draws
            ``loss_mean`` (the law with its error outside the fitted runs) and
            ``loss_predictive`` (``inf`` where a heavy-tailed draw passes the float range:
            :func:`bayescale.planning.predict_loss`), dims ``(chain, draw, point)``, a
            point per pair.
        """
        return planning.predict_loss(
            self.law, self.theta(group), n, d, self.noise(), self.discrepancy(), seed=seed
        )

    def predict_curve(
        self,
        n_params: float,
        schedule,
        tokens_per_step: float,
        steps=None,
        group: str | None = None,
        seed: int = 0,
        run: str | None = None,
    ) -> Draws:
        """Draws of the loss curve of a run: the law's mean loss and a new run's measured
        loss at each step (:func:`bayescale.planning.predict_curve`), or with ``run`` the
        continuation of a fitted run. Needs a law that reads schedules, such as
        ``"multipower"``.

        Parameters
        ----------
        n_params
            the run's parameter count (> 0).
        schedule
            the run's learning-rate schedule (:mod:`bayescale.schedules`).
        tokens_per_step
            tokens per optimizer step (> 0).
        steps
            the steps to predict at; ``None`` takes 200 spread evenly from the end of
            warmup to the last step.
        group
            for a per-group fit, a fitted group's label, or ``"new"`` for an unseen group
            (partial pooling; :meth:`theta`); ``None`` for a fit without groups.
        seed
            seeds the predictive draws.
        run
            a fitted run's id (or its trunk's, :mod:`bayescale.curves`) whose curve this
            continues under ``schedule``, such as the rest of a run still training or a
            cooldown branched from it: the curve carries that run's offset draws, and the
            predictive draws a checkpoint's own noise. ``None``: a new run.

        Returns
        -------
        Draws
            ``loss_mean`` and ``loss_predictive`` per step, with ``step`` as a coordinate.
        """
        warn_if_rates_outside(self.info.curves, schedule)
        return planning.predict_curve(
            self.law,
            self.theta(group),
            n_params,
            schedule,
            tokens_per_step,
            steps,
            self.noise(),
            self.discrepancy(),
            seed=seed,
            offset=None if run is None else self.run_offset(run),
        )

    def run_offset(self, run: str) -> np.ndarray:
        """Draws of a fitted run's log-loss offset, ``(chain, draw)``; ``run`` is a run id of
        the fitted curves, or a trunk's (:func:`bayescale.curves.offset_units`)."""
        fitted = self.posterior["run_offset"].run.values if "run_offset" in self.posterior else []
        if run not in fitted:
            known = f"one of {list(fitted)[:5]}" + (" ..." if len(fitted) > 5 else "")
            raise InputError(
                f"run {run!r} is not a fitted run of this posterior; give {known}"
                if len(fitted)
                else f"run={run!r}: this posterior fitted no training curves, so it has no "
                "run offsets; leave run=None to predict a new run."
            )
        return self.posterior["run_offset"].sel(run=run).values

    def new_run_offset(self, offset_group: str, seed=0) -> np.ndarray:
        """Draws of a new run's log-loss offset in a fitted offset group, ``(chain, draw)``:
        the group's shared offset plus a new run's own, ``N(0, sigma_run²)``
        (:mod:`bayescale.likelihood`). ``offset_group`` is a label of the fit's offset
        groups (:func:`bayescale.curves.offset_group_labels`), such as ``"25000000.0"`` for
        ``offset_groups="n_params"``; ``seed`` (anything ``numpy.random.default_rng``
        takes) seeds the new run's own offset."""
        fitted = self.posterior["offset_group"].values if "shared_offset" in self.posterior else []
        if offset_group not in fitted:
            raise InputError(
                f"offset_group={offset_group!r} is not an offset group of this posterior; "
                f"give one of {list(fitted)}"
                if len(fitted)
                else f"offset_group={offset_group!r}: this posterior was fitted without "
                "offset groups (fit(..., offset_groups=column))."
            )
        shared = self.posterior["shared_offset"].sel(offset_group=offset_group).values
        own = np.random.default_rng(seed).standard_normal(shared.shape)
        return shared + self.posterior["sigma_run"].values * own

    @every_group
    def optimal(self, compute, group: str | None = None) -> Draws:
        """Compute-optimal ``n_opt``, ``d_opt``, ``tokens_per_param``, ``loss_opt`` per draw.

        Parameters
        ----------
        compute
            the budget(s) in FLOPs (> 0), a scalar or an array.
        group
            for a per-group fit, a fitted group's label, or ``"new"`` for an unseen group
            (partial pooling; :meth:`theta`); ``None`` answers for every group along a
            ``group`` dimension (:func:`~bayescale.draws.every_group`), or for a fit
            without groups.

        Returns
        -------
        Draws
            dims ``(chain, draw, budget)``, plus ``group`` as above; ``loss_opt`` includes
            the law's error outside the fitted runs.
        """
        return planning.optimal(self.law, self.theta(group), compute, self.discrepancy())

    @every_group
    def excess_compute(self, ratio, budget: float, group: str | None = None) -> Draws:
        """Compute and tokens for a model of ``ratio × N_opt`` to match the optimum's loss.

        Parameters
        ----------
        ratio
            model sizes relative to the compute-optimal one, ``N / N_opt`` (> 0), a scalar
            or an array.
        budget
            the compute budget in FLOPs whose optimum is matched.
        group
            for a per-group fit, a fitted group's label, or ``"new"`` for an unseen group
            (partial pooling; :meth:`theta`); ``None`` answers for every group along a
            ``group`` dimension (:func:`~bayescale.draws.every_group`), or for a fit
            without groups.

        Returns
        -------
        Draws
            ``compute_ratio`` (``C / C_opt``) and ``tokens_ratio`` (``D / D_opt``), dims
            ``(chain, draw, ratio)``; ``inf`` where that size never reaches the loss
            (:func:`bayescale.planning.excess_compute`).
        """
        return planning.excess_compute(
            self.law, self.theta(group), ratio, budget, self.discrepancy()
        )

    @every_group
    def efficient_range(
        self, budget: float, tolerance: float = 0.2, group: str | None = None
    ) -> Draws:
        """Sizes (``N / N_opt``) that stay within ``1 + tolerance`` of optimal compute.

        Parameters
        ----------
        budget
            the compute budget in FLOPs.
        tolerance
            the extra compute allowed (> 0): 0.2 keeps sizes within +20% of the optimal
            compute.
        group
            for a per-group fit, a fitted group's label, or ``"new"`` for an unseen group
            (partial pooling; :meth:`theta`); ``None`` answers for every group along a
            ``group`` dimension (:func:`~bayescale.draws.every_group`), or for a fit
            without groups.

        Returns
        -------
        Draws
            ``low`` and ``high``, per draw the smallest and largest ``N / N_opt``
            (:func:`bayescale.planning.efficient_range`).
        """
        return planning.efficient_range(
            self.law, self.theta(group), budget, tolerance, self.discrepancy()
        )

    @every_group
    def compute_to_match(self, n, d, group: str | None = None) -> Draws:
        """The least compute whose compute-optimal run reaches the loss of a run of ``n``
        parameters on ``d`` tokens, and that run's excess compute over it.

        Parameters
        ----------
        n, d
            parameters and training tokens (> 0), paired as :meth:`predict_loss` pairs
            them; each pair is a finished run.
        group
            for a per-group fit, a fitted group's label, or ``"new"`` for an unseen group
            (partial pooling; :meth:`theta`); ``None`` answers for every group along a
            ``group`` dimension (:func:`~bayescale.draws.every_group`), or for a fit
            without groups.

        Returns
        -------
        Draws
            ``compute_opt`` (FLOPs) and ``compute_ratio`` (``6·n·d / compute_opt``), dims
            ``(chain, draw, point)`` (:func:`bayescale.planning.compute_to_match`).
        """
        return planning.compute_to_match(self.law, self.theta(group), n, d, self.discrepancy())

    @every_group
    def compute_to_reach(self, loss, group: str | None = None) -> Draws:
        """FLOPs, ``n_opt`` and ``d_opt`` of the cheapest allocation that reaches ``loss``.

        Parameters
        ----------
        loss
            the target loss(es) in nats per token (> 0), a scalar or an array.
        group
            for a per-group fit, a fitted group's label, or ``"new"`` for an unseen group
            (partial pooling; :meth:`theta`); ``None`` answers for every group along a
            ``group`` dimension (:func:`~bayescale.draws.every_group`), or for a fit
            without groups.

        Returns
        -------
        Draws
            ``compute``, ``n_opt`` and ``d_opt``, dims ``(chain, draw, target_loss)``;
            ``inf`` or ``NaN`` mark targets the search cannot answer
            (:func:`bayescale.planning.compute_to_reach`).
        """
        return planning.compute_to_reach(self.law, self.theta(group), loss, self.discrepancy())

    # ------------------------------------------------------------------- files
    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write a netCDF file (:mod:`bayescale.posterior_file`), read back by
        :func:`load_posterior`.

        Parameters
        ----------
        path
            the file to write.
        overwrite
            replace an existing file; by default an existing file is an error.

        Returns
        -------
        pathlib.Path
            the path written.
        """
        groups, derived = with_derived(self)
        return posterior_file.write(path, groups, self.info, self.warnings, overwrite, derived)

    # ------------------------------------------------------------ from elsewhere
    @classmethod
    def from_idata(
        cls,
        idata,
        *,
        law: str | Law,
        sweep: Sweep,
        extrapolation_error: float = EXTRAPOLATION_ERROR,
        seed: int = 0,
    ) -> Posterior:
        """A posterior from InferenceData sampled elsewhere (PyMC, Stan, plain NumPyro).

        Its ``posterior`` group must hold each of the law's parameters, by the law's names
        and on its scale (e.g. ``e = log E`` for Chinchilla's law), one value per
        ``(chain, draw)``, and ``sigma``, the noise scale of log loss (``nu`` too for a
        Student-t likelihood). A parameter may vary by group, ``(chain, draw, group)``
        with the sweep's sorted group labels: with ``mu_p`` and ``tau_p`` for each such
        ``p`` (population mean and spread on the pooling scale of
        :mod:`bayescale.hierarchy`) the posterior is partially pooled and answers for a new
        group too, without them it is per group (``pooling="separate"``); this is what
        :func:`bayescale.pymc_model` samples. R-hat and ESS are checked as for a fit (and
        divergences, where ``sample_stats`` records them).

        Parameters
        ----------
        idata
            ArviZ InferenceData with a ``posterior`` group as above (and optionally
            ``sample_stats``).
        law
            the law the draws belong to: a registered law's name or a
            :class:`bayescale.Law`.
        sweep
            the data the draws were fitted to: it gives the fitted range (extrapolation
            warnings and error) and the log-likelihood.
        extrapolation_error
            scales the law's error outside the fitted runs that loss predictions carry,
            as in :func:`bayescale.fit` (0 turns it off; :mod:`bayescale.discrepancy`).
        seed
            seeds the draws that queries add (the extrapolation error's ``z``).

        Returns
        -------
        Posterior
            answers every query as a posterior from :func:`bayescale.fit` does.
        """
        law = get_law(law)
        if not isinstance(sweep, Sweep):
            raise InputTypeError(
                f"from_idata needs the sweep the draws were fitted to "
                f"(a bayescale.Sweep), got {type(sweep).__name__}."
            )
        draws = _external_draws(idata, law, sweep.groups)
        noise = NoiseDraws.from_dataset(draws)
        fit_frame, data = sweep.fit_frame, sweep.arrays()
        point = {"point": np.arange(len(fit_frame))}
        vary = tuple(p for p in law.params if "group" in draws[p].dims)
        partial = bool(vary) and all(f"tau_{p}" in draws for p in vary)
        if vary:
            data["group"] = np.searchsorted(sweep.groups, fit_frame["group"].to_numpy(str))
        groups = {
            "posterior": draws,
            "sample_stats": (
                idata.sample_stats
                if "sample_stats" in idata.groups()
                else xr.Dataset(coords={d: draws[d] for d in SAMPLE_DIMS})
            ),
            "observed_data": xr.Dataset({"log_loss": ("point", data["log_loss"])}, coords=point),
            "constant_data": xr.Dataset(
                {k: ("point", data[k]) for k in ("log_n", "log_d", "group") if k in data},
                coords=point,
            ),
        }
        diag = diagnose(draws, groups["sample_stats"])
        messages = problems(diag)
        warn_all(messages)
        info = FitInfo(
            law=law.name,
            formula=law.formula,
            likelihood=noise.likelihood,
            pooling="partial" if partial else "separate" if vary else "none",
            vary=vary,
            data=DataInfo.from_arrays(
                data["log_n"],
                data["log_d"],
                excluded=int(sweep.frame["excluded"].sum()),
                source=dict(sweep.source),
                derivations=tuple(sweep.derivations),
            ),
            sampler=SamplerInfo(
                algorithm=str(idata.posterior.attrs.get("inference_library", "external")),
                chains=int(draws.sizes["chain"]),
                draws=int(draws.sizes["draw"]),
                seed=int(seed),
            ),
            extrapolation_error=check_extrapolation_error(extrapolation_error),
            diagnostics=diag,
            bayescale_version=__version__,
        )
        return cls(groups=groups, law=law, info=info, warnings=tuple(messages))


def _external_draws(idata, law: Law, groups: list[str]) -> xr.Dataset:
    """The law's, the population's (``mu_p``, ``tau_p`` of a parameter ``p`` that varies
    over ``groups``) and the noise model's variables of ``idata.posterior``, validated,
    with ``chain`` and ``draw`` numbered from 0."""
    if not hasattr(idata, "posterior"):
        raise InputTypeError(
            f"from_idata expects ArviZ InferenceData with a posterior group, "
            f"got {type(idata).__name__}."
        )
    post = idata.posterior
    vary = [p for p in law.params if p in post and "group" in post[p].dims]
    population = [f"{kind}_{p}" for p in vary for kind in ("mu", "tau") if f"{kind}_{p}" in post]
    names = [*law.params, *population, *(n for n in ("sigma", "nu") if n in post)]
    missing = [p for p in law.params if p not in post]
    if missing:
        raise InputError(
            f"the posterior lacks the {law.name} law's parameter(s) {missing} (it has "
            f"{sorted(post.data_vars)}); name them as the law does, {list(law.params)}, on the "
            "law's scale, e.g. idata.posterior.rename({'log_E': 'e'})."
        )
    wrong = {
        n: post[n].dims
        for n in names
        if post[n].dims != ((*SAMPLE_DIMS, "group") if n in vary else SAMPLE_DIMS)
    }
    if wrong:
        raise InputError(
            f"each variable needs dims ('chain', 'draw') and one value per draw, or ('chain', "
            f"'draw', 'group') for a parameter that varies by group; got {wrong}."
        )
    if vary and [str(g) for g in post["group"].values] != list(groups):
        raise InputError(
            f"the posterior's groups {[str(g) for g in post['group'].values]} are not the "
            f"sweep's {list(groups)}; pass the sweep the draws were fitted to, with its "
            "group labels, sorted, as the 'group' coordinate."
        )
    out = post[names].load()
    return out.assign_coords(chain=np.arange(out.sizes["chain"]), draw=np.arange(out.sizes["draw"]))


def load_posterior(path: str | Path) -> Posterior:
    """Read a posterior written by :meth:`Posterior.save`; errors say what is wrong.

    Parameters
    ----------
    path
        the netCDF file.

    Returns
    -------
    Posterior
        the saved posterior, with its fit information and warnings.
    """
    groups, law, info, warnings = posterior_file.read(path)
    return Posterior(groups=groups, law=law, info=info, warnings=warnings)
