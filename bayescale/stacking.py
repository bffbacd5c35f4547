r"""A posterior over laws: several laws' posteriors, mixed by stacking weights.

One law's posterior is the uncertainty *given* that law; far from the fitted runs the
uncertainty *about* the law dominates. :func:`stack` fits several laws to a sweep, weights
them by stacking on leave-future-out predictive densities (:mod:`bayescale.evaluation.lfo`:
how well each law, fitted on smaller runs, predicted the larger ones) and returns a
:class:`Stack`, which answers the planning queries of a
:class:`~bayescale.Posterior` with draws from the mixture

.. math::

    p(q \mid y) = \sum_m \hat w_m\, p(q \mid y, M_m)

of each quantity ``q`` (an optimal size, a predicted loss, ...).

Mixing draws
------------
Each query is computed per draw of each component posterior (each with its own law, noise
and extrapolation error), then mixed: of ``S`` draws (the fewest any component has),
component ``m`` gives ``n_m`` draws, ``S·w_m`` rounded by largest remainders so that the
``n_m`` sum to ``S`` (stratified: the shares are exact, not drawn at random), chosen at
random without replacement from its draws, seeded by the stack's ``seed`` and kept in their
order. Every query of one stack selects the same draws, so quantities of one mixture draw
come from one draw of one law and stay paired across queries, as they do for a single
posterior. A component with ``n_m = 0`` is not computed.

The result is the :class:`~bayescale.draws.Draws` a single posterior returns, with dims
``(chain, draw, ...)``: the components' ``(chain, draw)`` shape where they share one (so
weights ``(1, 0, …)`` return the first posterior's draws unchanged), else one chain of
``S`` draws. A coordinate ``law`` over ``(chain, draw)`` names the component of each draw.

A query far outside the fitted runs warns once, for the mixture: components fitted to the
same runs share their fitted ranges, and the mixed draws are checked against them as one
posterior's draws are (:mod:`bayescale.extrapolation`), the inputs value by value and the
answers by the mixture's medians. Components fitted to different runs warn each against
its own ranges.

What the components share, a stack gives as a posterior does: the data they were fitted
to (:attr:`Stack.info`, with ``info.data`` and ``info.pooling``; the ``constant_data`` and
``observed_data`` of :attr:`Stack.groups`) and their groups (:attr:`Stack.groups_fitted`),
checked to agree when asked for (laws fitted to different points still answer the
queries, but have no one sweep to draw). So the figures of :mod:`bayescale.plotting` whose
quantities are these queries draw a stack as they draw one posterior, their bands from the
mixed draws; figures of one law's parameters take one component,
``stack.components[label]``.

Files: :meth:`Stack.save` writes every component, the weights, seed and leave-future-out
frame to one file (:mod:`bayescale.stack_file`), and :func:`load_stack` reads it back.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
import xarray as xr

from bayescale import planning, stack_file
from bayescale.draws import SAMPLE_DIMS, Draws, every_group
from bayescale.errors import ExtrapolationWarning, InputError, InputTypeError, PlanningWarning
from bayescale.evaluation.error_scale import learn_extrapolation_error, lpd_at_scale
from bayescale.evaluation.lfo import (
    DEFAULT_CUTS,
    Model,
    chosen_checkpoints,
    lfo_bands,
    lfo_summary,
    models_for,
    score_models,
)
from bayescale.executors import map_calls
from bayescale.extrapolation import FittedRange, answer_log_values, warn_if_extrapolating
from bayescale.fitinfo import DataInfo
from bayescale.idata import data_differences
from bayescale.inference import fit
from bayescale.posterior import Posterior
from bayescale.sweep import Sweep

_STREAM = 0x57A  # fixed spawn key: the draw selection never shares a stream with other draws
WEIGHT_TOLERANCE = 1e-6  # how far from 1 the weights may sum (the optimiser's are exact)


def shares(weights, total: int) -> np.ndarray:
    """Draws per component: ``total·w`` rounded down, then one more to the components with
    the largest remainders until they sum to ``total`` (largest-remainder rounding).

    Parameters
    ----------
    weights
        non-negative weights summing to 1.
    total
        the number of draws to share out.

    Returns
    -------
    numpy.ndarray
        integer counts summing to ``total``.
    """
    exact = np.asarray(weights, float) * total
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


DATA_GROUPS = ("constant_data", "observed_data")
"""The groups of a posterior that hold the data it was fitted to, shared by a stack."""


@dataclass(frozen=True)
class StackInfo:
    """What the components of a :class:`Stack` share, named as a posterior's
    :class:`~bayescale.fitinfo.FitInfo` names it; each law's own settings are its
    component's ``info``.

    Parameters
    ----------
    data
        the data the components were fitted to: ranges, points and provenance.
    pooling
        how the components pool groups: ``"none"``, ``"partial"`` or ``"separate"``.
    """

    data: DataInfo
    pooling: str


@dataclass(frozen=True)
class Stack:
    """A mixture of posteriors of several laws, by weight (module docstring). Made by
    :func:`stack`, or from posteriors and weights of your own.

    Parameters
    ----------
    components
        label → :class:`~bayescale.Posterior`, fitted to the same sweep.
    weights
        label → weight, non-negative, summing to 1.
    lfo
        the leave-future-out frame the weights came from
        (:func:`bayescale.evaluation.lfo.leave_future_out`), if any.
    seed
        seeds which draws each component gives.
    """

    components: Mapping[str, Posterior]
    weights: Mapping[str, float]
    lfo: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    seed: int = 0

    def __post_init__(self):
        components, weights = dict(self.components), dict(self.weights)
        if not components:
            raise InputError("a Stack needs at least one component posterior.")
        for label, post in components.items():
            if not isinstance(post, Posterior):
                raise InputTypeError(
                    f"component {label!r} must be a bayescale.Posterior, got {type(post).__name__}."
                )
        if set(weights) != set(components):
            raise InputError(
                f"the weights name {sorted(weights)}, the components {sorted(components)}; "
                "give one weight per component."
            )
        values = np.array([float(weights[label]) for label in components])
        if not np.isfinite(values).all() or (values < 0).any():
            raise InputError(f"weights must be finite and non-negative, got {weights}.")
        if abs(values.sum() - 1.0) > WEIGHT_TOLERANCE:
            raise InputError(
                f"weights must sum to 1, got {values.sum():.6g} ({weights}); divide each by "
                "their sum."
            )
        object.__setattr__(self, "components", MappingProxyType(components))
        object.__setattr__(
            self, "weights", MappingProxyType(dict(zip(components, values, strict=True)))
        )

    # ----------------------------------------------------- what components share
    def _shared(self) -> Posterior:
        """The first component, once every other is checked to share its points, groups
        and pooling."""
        (first_label, first), *others = self.components.items()
        for label, post in others:
            differ = data_differences(post, first)
            differ += [] if post.groups_fitted == first.groups_fitted else ["groups"]
            differ += [] if post.info.pooling == first.info.pooling else ["pooling"]
            if differ:
                raise InputError(
                    f"components {first_label!r} and {label!r} were fitted to different data "
                    f"({', '.join(differ)} differ), so the stack has no one sweep to draw or "
                    f"group by; pass one component, e.g. stack.components[{first_label!r}], "
                    "or fit every law to one sweep (bs.stack(sweep, laws))."
                )
        return first

    @property
    def info(self) -> StackInfo:
        """The data every component was fitted to and their pooling."""
        info = self._shared().info
        return StackInfo(data=info.data, pooling=info.pooling)

    @property
    def groups(self) -> Mapping[str, xr.Dataset]:
        """The groups of the data every component was fitted to (``constant_data``,
        ``observed_data``), as a posterior's ``groups`` holds them."""
        first = self._shared()
        return MappingProxyType({name: first.groups[name] for name in DATA_GROUPS})

    @property
    def groups_fitted(self) -> list[str]:
        """Group labels of per-group components (empty for pooling='none'); the components
        may have been fitted to different runs, but not to different groups."""
        return self._agreed("groups_fitted")

    @property
    def groups_answered(self) -> list[str]:
        """The groups a query can answer for: the fitted groups, and ``"new"`` under
        partial pooling; empty without groups."""
        return self._agreed("groups_answered")

    def _agreed(self, groups: str) -> list[str]:
        """The components' ``groups`` (an attribute of a posterior), one list for all."""
        lists = {label: getattr(post, groups) for label, post in self.components.items()}
        (first, labels), *others = lists.items()
        for label, other in others:
            if other != labels:
                raise InputError(
                    f"components {first!r} and {label!r} answer for different groups "
                    f"({labels} and {other}), so the stack has none of its own; pass one "
                    f"component, e.g. stack.components[{first!r}], or fit every law to one "
                    "sweep with one pooling (bs.stack(sweep, laws, pooling=...))."
                )
        return labels

    def __repr__(self) -> str:
        parts = ", ".join(f"{label} {w:.3f}" for label, w in self.weights.items())
        return f"Stack({len(self.components)} laws: {parts})"

    # ------------------------------------------------------------------- files
    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the stack to one netCDF file (:mod:`bayescale.stack_file`): every
        component, the labels, weights, seed and leave-future-out frame; read back by
        :func:`load_stack`.

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
        return stack_file.write(path, self, overwrite=overwrite)

    # --------------------------------------------------------------- the weights
    def summary(self) -> pd.DataFrame:
        """One row per component: its ``law``, ``weight``, the ``draws`` it gives to each
        query, its draws in all, the scale of its extrapolation error
        (``extrapolation_error``, :mod:`bayescale.discrepancy`), and with the
        leave-future-out frame the columns of
        :func:`bayescale.evaluation.lfo.lfo_summary` (``elpd_lfo``, ``se_lfo``, ...).

        Returns
        -------
        pandas.DataFrame
            indexed by component label, in the stack's order.
        """
        counts = dict(zip(self.components, self._counts(), strict=True))
        table = pd.DataFrame(
            {
                "law": [post.law.name for post in self.components.values()],
                "weight": list(self.weights.values()),
                "draws": [counts[label] for label in self.components],
                "draws_total": [_size(post) for post in self.components.values()],
                "extrapolation_error": [
                    post.info.extrapolation_error for post in self.components.values()
                ],
            },
            index=pd.Index(list(self.components), name="label"),
        )
        if self.lfo is not None:
            extra = lfo_summary(self.lfo).drop(columns="weight_lfo")
            table = table.join(extra)
        return table

    def _counts(self) -> np.ndarray:
        total = min(_size(post) for post in self.components.values())
        return shares(list(self.weights.values()), total)

    def selection(self) -> dict[str, np.ndarray]:
        """Label → the flat indices (chain-major) of the draws each component gives, for
        every query of this stack; components that give none are left out.

        Returns
        -------
        dict
            sorted integer index arrays by component label.
        """
        out = {}
        for k, ((label, post), count) in enumerate(
            zip(self.components.items(), self._counts(), strict=True)
        ):
            if count:
                rng = np.random.default_rng([self.seed, _STREAM, k])
                out[label] = np.sort(rng.choice(_size(post), size=count, replace=False))
        return out

    def _mix(self, query: Callable[[Posterior], Draws]) -> Draws:
        """``query`` on each component that gives draws, mixed (module docstring); one
        :class:`~bayescale.errors.ExtrapolationWarning` for the mixture where the components
        share their fitted ranges, else each component's own."""
        chosen = self.selection()
        fitted = {FittedRange.from_data(self.components[label].info.data) for label in chosen}
        shared = fitted.pop() if len(fitted) == 1 else None
        with warnings.catch_warnings():
            if shared is not None:  # the mixture is checked against them once, below
                warnings.simplefilter("ignore", ExtrapolationWarning)
            parts = {label: query(self.components[label]).dataset for label in chosen}
        first = next(iter(parts.values()))
        shapes = {_shape(post) for post in self.components.values()}
        total = sum(idx.size for idx in chosen.values())
        shape = shapes.pop() if len(shapes) == 1 else (1, total)

        def mixed(name, da):
            other = [d for d in da.dims if d not in SAMPLE_DIMS]
            values = np.concatenate(
                [
                    _flat(parts[label][name].transpose(*SAMPLE_DIMS, *other).values)[idx]
                    for label, idx in chosen.items()
                ]
            )
            return (*SAMPLE_DIMS, *other), values.reshape(*shape, *values.shape[1:]), da.attrs

        variables = {name: mixed(name, da) for name, da in first.data_vars.items()}
        labels = np.concatenate([np.full(idx.size, label) for label, idx in chosen.items()])
        coords = {
            name: mixed(name, coord) if set(SAMPLE_DIMS) <= set(coord.dims) else coord
            for name, coord in first.coords.items()
            if name not in SAMPLE_DIMS
        }
        coords.update(
            chain=np.arange(shape[0]),
            draw=np.arange(shape[1]),
            law=(SAMPLE_DIMS, labels.reshape(shape)),
        )
        answer = xr.Dataset(variables, coords=coords, attrs=first.attrs)
        if shared is not None:  # user ← query method ← _mix ← warn_if_extrapolating
            warn_if_extrapolating(shared, stacklevel=4, **answer_log_values(answer))
        return Draws(answer)

    def with_finished_run(self, schedule=None, tokens_per_step: float | None = None) -> Stack:
        """The same stack, each component answering for finished runs of ``schedule``
        (:meth:`bayescale.Posterior.with_finished_run`; every component's law must read
        schedules)."""
        components = {
            label: post.with_finished_run(schedule, tokens_per_step)
            for label, post in self.components.items()
        }
        return replace(self, components=components)

    # ------------------------------------------------------------------ queries
    @every_group
    def predict_loss(self, n, d, group: str | None = None, seed: int = 0) -> Draws:
        """Draws of the mean loss and of posterior-predictive loss at ``(n, d)``, mixed over
        the laws (:meth:`bayescale.Posterior.predict_loss`).

        Parameters
        ----------
        n, d
            parameters and training tokens (> 0): numbers or flat lists of one length
            (a single number pairs with each value of the other); each pair is a
            finished run.
        group
            for per-group fits, a fitted group's label, or ``"new"``; ``None`` answers for
            every group along a ``group`` dimension, or for fits without groups.
        seed
            seeds the predictive draws (a new run's noise).

        Returns
        -------
        Draws
            ``loss_mean`` and ``loss_predictive``, dims ``(chain, draw, point)``.
        """
        return self._mix(lambda post: post.predict_loss(n, d, group=group, seed=seed))

    def predict_curve(
        self,
        n_params: float,
        schedule,
        tokens_per_step: float,
        steps=None,
        group: str | None = None,
        seed: int = 0,
    ) -> Draws:
        """Draws of a run's loss curve, mixed over the laws
        (:meth:`bayescale.Posterior.predict_curve`); every component with weight must read
        schedules.

        Parameters
        ----------
        n_params
            the run's parameter count (> 0).
        schedule
            the run's learning-rate schedule (:mod:`bayescale.schedules`).
        tokens_per_step
            tokens per optimizer step (> 0).
        steps
            the steps to predict at; ``None`` takes 200 from the end of warmup to the end.
        group
            for per-group fits, a fitted group's label, or ``"new"``.
        seed
            seeds the predictive draws.

        Returns
        -------
        Draws
            ``loss_mean`` and ``loss_predictive`` per step.
        """
        return self._mix(
            lambda post: post.predict_curve(
                n_params, schedule, tokens_per_step, steps, group=group, seed=seed
            )
        )

    @every_group
    def optimal(self, compute, group: str | None = None) -> Draws:
        """Compute-optimal ``n_opt``, ``d_opt``, ``tokens_per_param`` and ``loss_opt``,
        mixed over the laws (:meth:`bayescale.Posterior.optimal`).

        Parameters
        ----------
        compute
            the budget(s) in FLOPs (> 0), a scalar or an array.
        group
            for per-group fits, a fitted group's label, or ``"new"``; ``None`` answers for
            every group along a ``group`` dimension, or for fits without groups.

        Returns
        -------
        Draws
            dims ``(chain, draw, budget)`` (and ``group`` as above).
        """
        return self._mix(lambda post: post.optimal(compute, group=group))

    @every_group
    def excess_compute(self, ratio, budget: float, group: str | None = None) -> Draws:
        """Compute and tokens for a model of ``ratio × N_opt`` to match the optimum's loss,
        mixed over the laws (:meth:`bayescale.Posterior.excess_compute`); ``N_opt`` is each
        draw's own law's.

        Parameters
        ----------
        ratio
            model sizes relative to the compute-optimal one (> 0).
        budget
            the compute budget in FLOPs whose optimum is matched.
        group
            for per-group fits, a fitted group's label, or ``"new"``; ``None`` answers for
            every group along a ``group`` dimension, or for fits without groups.

        Returns
        -------
        Draws
            ``compute_ratio`` and ``tokens_ratio``, dims ``(chain, draw, ratio)``.
        """
        return self._mix(lambda post: post.excess_compute(ratio, budget, group=group))

    @every_group
    def efficient_range(
        self, budget: float, tolerance: float = 0.2, group: str | None = None
    ) -> Draws:
        """Sizes (``N / N_opt``) within ``1 + tolerance`` of optimal compute, mixed over the
        laws (:meth:`bayescale.Posterior.efficient_range`).

        Parameters
        ----------
        budget
            the compute budget in FLOPs.
        tolerance
            the extra compute allowed (> 0).
        group
            for per-group fits, a fitted group's label, or ``"new"``; ``None`` answers for
            every group along a ``group`` dimension, or for fits without groups.

        Returns
        -------
        Draws
            ``low`` and ``high`` per draw.
        """
        return self._mix(lambda post: post.efficient_range(budget, tolerance, group=group))

    @every_group
    def compute_to_match(self, n, d, group: str | None = None) -> Draws:
        """The least compute whose compute-optimal run reaches the loss of a run of ``n``
        parameters on ``d`` tokens, and that run's excess compute over it, mixed over the
        laws (:meth:`bayescale.Posterior.compute_to_match`; ``N_opt`` is each draw's own
        law's).

        Parameters
        ----------
        n, d
            parameters and training tokens (> 0), paired as :meth:`predict_loss` pairs
            them.
        group
            for per-group fits, a fitted group's label, or ``"new"``; ``None`` answers for
            every group along a ``group`` dimension, or for fits without groups.

        Returns
        -------
        Draws
            ``compute_opt`` and ``compute_ratio``, dims ``(chain, draw, point)``.
        """
        return self._mix(lambda post: post.compute_to_match(n, d, group=group))

    @every_group
    def compute_to_reach(self, loss, group: str | None = None) -> Draws:
        """FLOPs, ``n_opt`` and ``d_opt`` of the cheapest allocation that reaches ``loss``,
        mixed over the laws (:meth:`bayescale.Posterior.compute_to_reach`). Targets that
        draws miss are warned of once, with the mixture's share of draws
        (:func:`bayescale.planning.warn_unreachable`), not once per law.

        Parameters
        ----------
        loss
            the target loss(es) in nats per token (> 0).
        group
            for per-group fits, a fitted group's label, or ``"new"``; ``None`` answers for
            every group along a ``group`` dimension, or for fits without groups.

        Returns
        -------
        Draws
            ``compute``, ``n_opt`` and ``d_opt``, dims ``(chain, draw, target_loss)``.
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PlanningWarning)  # each law's share: warned below
            reach = self._mix(lambda post: post.compute_to_reach(loss, group=group))
        planning.warn_unreachable(reach, stacklevel=2)
        return reach


def _shape(post: Posterior) -> tuple[int, int]:
    """A posterior's ``(chains, draws)``."""
    return tuple(post.posterior.sizes[d] for d in SAMPLE_DIMS)


def _size(post: Posterior) -> int:
    """A posterior's draws in all, chains times draws."""
    return int(np.prod(_shape(post)))


def _flat(values: np.ndarray) -> np.ndarray:
    """``(chain, draw, ...)`` → ``(chain·draw, ...)``, chain-major."""
    return values.reshape(-1, *values.shape[2:])


def stack(
    sweep: Sweep,
    laws,
    cuts=DEFAULT_CUTS,
    seed: int = 0,
    *,
    executor=None,
    error_prior=None,
    **fit_kwargs,
) -> Stack:
    """Fit each of ``laws`` to ``sweep`` and mix them by leave-future-out stacking weights.

    Each law is fitted on every point (:func:`bayescale.fit`), and at each of the ``cuts``
    on the smaller runs, scored on the next larger ones
    (:func:`bayescale.evaluation.lfo.leave_future_out`); the stacking weights of those
    scores weight the full fits. ``len(laws) × (len(cuts) + 1)`` fits.

    Unless ``fit_kwargs`` set ``extrapolation_error``, each law's scale of the error
    outside the fitted runs is learned from the same scores, the default prior updated
    by this sweep (:mod:`bayescale.evaluation.error_scale`): its full fit uses it, and the
    weights are computed from the scores at it. ``lfo.attrs["extrapolation_error"]``
    holds each law's value and 90% interval.

    Parameters
    ----------
    sweep
        the data, a :class:`bayescale.Sweep`.
    laws
        at least two registered laws' names or :class:`bayescale.Law` objects (labelled by
        their names), or a mapping label → law.
    cuts
        increasing fractions of the runs, in (0, 1)
        (:data:`bayescale.evaluation.lfo.DEFAULT_CUTS`).
    seed
        the fits' seed (unless ``fit_kwargs`` give one) and the stack's draw selection.
    executor
        where the fits run: ``None`` runs them one after another in this process; a
        :class:`concurrent.futures.Executor` runs all of them as its tasks, e.g.
        ``ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))`` (spawn:
        JAX is not fork-safe) on this machine, or a Dask cluster's
        ``distributed.Client(...).get_executor()``. The stack does not depend on it (each
        fit is seeded by its arguments, and they are collected in order); the fits'
        warnings are re-emitted here (:mod:`bayescale.executors`).
    error_prior
        the prior of each law's error scale, a :class:`~bayescale.discrepancy.ScalePrior`
        (default :data:`~bayescale.discrepancy.DEFAULT_PRIOR`, pooled over the bundled
        sweeps); not with ``extrapolation_error`` in ``fit_kwargs``.
    **fit_kwargs
        passed to every :func:`bayescale.fit` (``chains=``, ``warmup=``, ``draws=``,
        ``pooling=``, ...); ``progress`` defaults to False.

    Returns
    -------
    Stack
        the fits, their weights and the leave-future-out frame; ``lfo.attrs["fits"]``
        lists every fit's points, seconds and warnings, the full fits' under cut
        ``"all"``.
    """
    if not isinstance(sweep, Sweep):
        raise InputTypeError(
            f"stack expects a bayescale.Sweep, got {type(sweep).__name__}; build one with "
            "bs.Sweep.from_frame(df, ...) or bs.load_dataset(name)."
        )
    if error_prior is not None and "extrapolation_error" in fit_kwargs:
        raise InputError(
            "give error_prior (a prior to learn each law's error scale from) or "
            "extrapolation_error (a fixed scale), not both."
        )
    models = models_for(laws, fit_kwargs, seed)
    if len(models) < 2:
        raise InputError(
            f"stack needs at least two laws to weigh, got {list(models)}; fit one law with bs.fit."
        )
    lfo_bands(sweep, cuts)  # refuses unusable cuts before any fit is submitted
    # submitted first, so that an executor runs them beside the leave-future-out fits
    full = map_calls(_fit_timed, [(sweep, model) for model in models.values()], executor)
    lfo = score_models(sweep, models, cuts, executor)
    components, fits = {}, list(lfo.attrs["fits"])
    for label, (post, seconds) in zip(models, full, strict=True):
        components[label] = post
        fits.append(
            {
                "law": label,
                "cut": "all",
                "n_train": post.info.data.points,
                "seconds": seconds,
                "warnings": list(post.warnings),
            }
        )
    lfo.attrs["fits"] = fits
    if "extrapolation_error" not in fit_kwargs:  # learned per law from its own scores
        learned = {}
        for label in models:
            scale = learn_extrapolation_error(lfo, label, prior=error_prior)
            components[label] = components[label].with_extrapolation_error(scale.value)
            lfo.loc[lfo["law"] == label, "lpd"] = lpd_at_scale(lfo, label, scale.value)
            learned[label] = {"value": scale.value, "interval_90": list(scale.interval(0.9))}
        lfo.attrs["extrapolation_error"] = learned
    weights = lfo_summary(lfo)["weight_lfo"]
    return Stack(components, {label: float(weights[label]) for label in models}, lfo, seed)


def _fit_timed(sweep: Sweep, model: Model) -> tuple[Posterior, float]:
    """``model`` fitted on all of ``sweep``, and the seconds it took; its sampler is the
    one its leave-future-out fits run (padded to the same points)."""
    started = time.perf_counter()
    size = len(chosen_checkpoints(sweep, model).fit_frame)
    post = fit(sweep, model.law, pad_to=size, **model.fit_kwargs)
    return post, round(time.perf_counter() - started, 2)


def load_stack(path: str | Path) -> Stack:
    """Read a stack written by :meth:`Stack.save`; errors say what is wrong (a damaged,
    truncated or partial file is refused).

    Parameters
    ----------
    path
        the netCDF file.

    Returns
    -------
    Stack
        the saved components, weights, leave-future-out frame and seed.
    """
    return Stack(**stack_file.read(path))
