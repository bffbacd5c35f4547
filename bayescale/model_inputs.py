"""What NUTS samples: the model built from a sweep, a law and the fit's structure (pooling,
groups, runs, priors, likelihood), validated, with the data arrays it runs on."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import numpyro.distributions as dist

from bayescale.curves import (
    CURVE_MIN_FRACTION,
    is_curves,
    offset_group_labels,
    offset_units,
    select_checkpoints,
)
from bayescale.errors import InputError, SweepValidationError, SweepWarning
from bayescale.fitinfo import DataInfo
from bayescale.hierarchy import NEW_GROUP
from bayescale.laws import Law, get_law
from bayescale.likelihood import default_likelihood, noise_params
from bayescale.model import CENTRING, MASKED_GROUPS, POOLING, scaling_model
from bayescale.priors import resolve_priors
from bayescale.sweep import Sweep, _rows_text


def _check_size(sweep: Sweep, law: Law, n_noise: int, pooling: str) -> None:
    """At least as many points as parameters: in all, and with ``pooling="separate"`` (a
    law per group, the noise shared) in each group as the law has parameters."""
    needed = len(law.params) + n_noise
    have = len(sweep.fit_frame)
    if have < needed:
        raise SweepValidationError(
            f"the sweep has {have} fitted point(s) but the {law.name} law with its noise model "
            f"has {needed} parameters ({', '.join(law.params)} and noise); add points (more "
            "model sizes and token counts) or fix parameters through tight priors."
        )
    if pooling != "separate":
        return
    counts = sweep.fit_frame["group"].value_counts().sort_index()
    few = counts[counts < len(law.params)]
    if len(few):
        shown = ", ".join(f"{group!r} ({count})" for group, count in few.items())
        raise SweepValidationError(
            f"pooling='separate' fits the {law.name} law's {len(law.params)} parameters to "
            f"each group's points alone, and group(s) {shown} have fewer points; add points "
            "to them, exclude them, or fit with pooling='partial' (groups then borrow "
            "strength from each other)."
        )


def _axes_warnings(sweep: Sweep, given_curves: bool) -> list[str]:
    """Warn when every fitted point has one model size or one token count, and return the
    messages: the sweep then says nothing of how the loss depends on that axis, so the
    law's terms in it are their priors' and trade against the irreducible loss (a ridge the
    sampler may not cross). ``given_curves``: whether the points given to the fit, before
    it chose checkpoints, were training curves."""
    frame = sweep.fit_frame
    messages = []
    for column, axis, fix in (
        ("n_params", "model size", "add runs of other model sizes"),
        ("n_tokens", "token count", "add runs of other lengths"),
    ):
        values = frame[column].unique()
        if len(values) != 1:
            continue
        if column == "n_tokens" and given_curves:
            fix += (
                "; for training curves, fit their checkpoints: checkpoints='all' where every "
                "run holds its learning rate constant, or each run's schedule and "
                "law='multipower'"
            )
        messages.append(
            f"every fitted point has one {axis}, {column} = {values[0]:.4g} ({len(frame)} "
            f"points): the sweep says nothing of how the loss depends on {axis}, so the "
            f"law's terms in it follow their priors and trade against its irreducible loss, "
            f"and answers that depend on {axis} (compute-optimal allocations, excess compute) "
            f"are the priors'. Fix: {fix}."
        )
        warnings.warn(messages[-1], SweepWarning, stacklevel=4)
    return messages


def _check_offset_groups(column: str | None, curves: bool, likelihood: str) -> None:
    if column is None:
        return
    if not curves:
        raise InputError(
            f"offset_groups={column!r} groups the offsets of training curves, and this sweep "
            "holds one point per run (no 'run' column with several checkpoints); fit it "
            "without offset groups."
        )
    if likelihood != "normal":
        raise InputError(
            f"offset_groups={column!r} needs likelihood='normal' (the default for training "
            f"curves; got {likelihood!r}): a run-level Student-t has no closed form with "
            "shared offsets (bayescale.likelihood)."
        )


def _structure(sweep: Sweep, law: Law, pooling: str, vary) -> tuple[str, tuple, list]:
    """Validated pooling mode, varying parameters and group labels."""
    if pooling not in POOLING:
        raise InputError(f"unknown pooling {pooling!r}; choose one of {list(POOLING)}.")
    if pooling == "none":
        if vary:
            raise InputError("vary= needs pooling='partial' (which parameters vary by group).")
        return pooling, (), []
    groups = sweep.groups
    if len(groups) < 2:
        raise SweepValidationError(
            f"pooling={pooling!r} needs a group column with at least two groups; this sweep "
            f"has {len(groups)}. Name the column with group=... when building the Sweep, or "
            "fit with pooling='none'."
        )
    if NEW_GROUP in groups:
        rows = sweep.fit_frame.index[sweep.fit_frame["group"] == NEW_GROUP]
        raise SweepValidationError(
            f"column 'group': rows {_rows_text(rows)} are labelled {NEW_GROUP!r}, the label "
            f"that asks a per-group posterior for an unseen group. Rename that group (for "
            f"example frame['group'].replace({{{NEW_GROUP!r}: 'new_data'}})) before building "
            "the Sweep."
        )
    if pooling == "separate":
        if vary:
            raise InputError(
                "vary= applies to pooling='partial'; with 'separate' every parameter is per group."
            )
        return pooling, tuple(law.params), groups
    if vary is None:
        vary = tuple(law.params)
    else:  # one name alone, or an iterable of names
        vary = (vary,) if isinstance(vary, str) else tuple(vary)
    unknown = sorted(set(vary) - set(law.params))
    if unknown or not vary:
        raise InputError(
            f"vary={list(vary)} must name parameters of the {law.name} law: {list(law.params)}."
        )
    return pooling, tuple(p for p in law.params if p in vary), groups


@dataclass(frozen=True)
class ModelInputs:
    """What NUTS runs: ``model(**args, centre=centre)``, the priors bound into ``model``,
    with the sweep it was built from (early checkpoints dropped) and the labels of the
    integer ``group`` and ``run`` codes in ``args`` (a ``run`` code labels a run offset: a
    run's, or its trunk's, :func:`bayescale.curves.offset_units`) and, with offset groups
    (the column ``offset_groups`` names), of the ``offset_group`` codes in ``shared``; and
    the warnings about what the fitted points cannot inform (``data_warnings``)."""

    sweep: Sweep
    law: Law
    likelihood: str
    pooling: str
    vary: tuple
    centring: str
    groups: list
    runs: list
    priors: dict
    model: Callable
    args: dict
    centre: dict
    offset_groups: str | None = None
    shared: list = field(default_factory=list)
    data_warnings: list = field(default_factory=list)


def model_inputs(
    sweep: Sweep,
    law: str | Law = "chinchilla",
    *,
    pooling: str = "none",
    vary=None,
    centring: str = "non-centred",
    checkpoints: str | None = None,
    min_fraction: float = CURVE_MIN_FRACTION,
    priors: Mapping[str, dist.Distribution] | None = None,
    likelihood: str | None = None,
    offset_groups: str | None = None,
    platform: str = "cpu",
) -> ModelInputs:
    """The model and data arrays that :func:`fit` samples (its arguments of the same
    names), validated; for benchmarks and checks that evaluate the model's density.
    ``platform`` ("cpu" or "gpu") is where the model will run: on a GPU, per-group
    parameters reach the points by a masked sum (:func:`bayescale.model.by_point`)."""
    law = get_law(law)
    pooling, vary, groups = _structure(sweep, law, pooling, vary)
    if centring not in CENTRING:
        raise InputError(f"centring must be one of {list(CENTRING)}, got {centring!r}.")
    if centring != "non-centred" and pooling != "partial":
        raise InputError(
            f"centring={centring!r} applies to pooling='partial' (how group "
            f"values are sampled); this fit has pooling={pooling!r}."
        )
    conditions = law.conditions
    reads_schedules = conditions is not None and conditions.reads_schedules
    given_curves = is_curves(sweep)
    sweep = select_checkpoints(sweep, reads_schedules, checkpoints, min_fraction)
    curves = is_curves(sweep)
    likelihood = default_likelihood(curves) if likelihood is None else likelihood
    _check_offset_groups(offset_groups, curves, likelihood)
    prior_dists = resolve_priors(
        law,
        likelihood,
        priors,
        vary=vary if pooling == "partial" else (),
        runs=curves,
        shared=offset_groups is not None,
    )
    _check_size(sweep, law, len(noise_params(likelihood)), pooling)
    data_warnings = _axes_warnings(sweep, given_curves)
    fit_frame = sweep.fit_frame
    data = sweep.arrays()
    args = {k: data[k] for k in ("log_n", "log_d", "log_loss")}
    if conditions is not None:
        # a run's logged rates include those of its checkpoints excluded from fitting
        logged = {"logged": sweep.frame} if reads_schedules else {}
        args["inputs"] = conditions.inputs(fit_frame, **logged)
        law = law.configured(conditions.settings(fit_frame))
    units = offset_units(fit_frame) if curves else None
    runs = sorted(units.unique()) if curves else []
    if groups:
        args["group"] = np.searchsorted(groups, fit_frame["group"].to_numpy(str))
    if runs:
        args["run"] = np.searchsorted(runs, units.to_numpy(str))
    shared = []
    if offset_groups is not None:
        labels = offset_group_labels(fit_frame, offset_groups, units).to_numpy(str)
        shared = sorted(set(labels))
        args["offset_group"] = np.searchsorted(shared, labels)
    centre = DataInfo.from_arrays(data["log_n"], data["log_d"]).centre
    model = partial(
        scaling_model,
        law=law,
        priors=prior_dists,
        likelihood=likelihood,
        pooling=pooling,
        vary=vary,
        n_groups=max(len(groups), 1),
        n_runs=len(runs),
        n_offset_groups=len(shared),
        centring=centring,
        masked_groups=platform == "gpu" and len(groups) <= MASKED_GROUPS,
    )
    return ModelInputs(
        sweep=sweep,
        law=law,
        likelihood=likelihood,
        pooling=pooling,
        vary=vary,
        centring=centring,
        groups=groups,
        runs=runs,
        priors=prior_dists,
        model=model,
        args=args,
        centre=centre,
        offset_groups=offset_groups,
        shared=shared,
        data_warnings=data_warnings,
    )


def padded(args: dict, size: int | None) -> dict:
    """``args`` with ``size`` points: the last point repeated, and a ``mask`` that leaves
    the copies out of the likelihood, so that fits of fewer points compile the same
    sampler as one of ``size`` (the data are arguments of the compiled program, their
    shapes part of it). The density is unchanged. Fits of training curves (run offsets)
    and of laws that read per-point conditions (schedules) are returned as they are:
    their structure, not only their length, differs between subsets."""
    points = len(args["log_loss"])
    if size is None:
        return args
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < points:
        raise InputError(
            f"pad_to must be a whole number of points, at least the fit's {points}; got {size!r}."
        )
    if "run" in args or "inputs" in args:
        return args
    extra = size - points
    grown = {k: np.concatenate([v, np.repeat(v[-1:], extra)]) for k, v in args.items()}
    return {**grown, "mask": np.arange(size) < points}
