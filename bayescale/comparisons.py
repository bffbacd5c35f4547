"""Comparisons of training plans, per posterior draw.

Two allocations at one budget (Hoffmann et al. 2022, Fig. A4)
    Models of ``n_a`` and ``n_b`` parameters share a budget ``C``. Along the way, after a
    fraction ``f`` of the budget, each has seen ``D = f·C / (6 N)`` tokens; the law gives the
    loss of a run of that length. (The law describes runs trained to ``D``, with their own
    schedule, so the curves are the envelope of such runs rather than one run's checkpoints.)
    The answer includes ``P(L_b < L_a)`` at the full budget. A size that leaves fewer than
    one token at the full budget is refused; sizes, token counts and a budget far outside
    the fitted ranges raise an :class:`~bayescale.errors.ExtrapolationWarning`
    (:mod:`bayescale.extrapolation`).

Two variants at their own optima (Shukor et al. 2025, Fig. 4)
    Variant ``a`` and variant ``b`` (two groups of one fit, or two fits) each take their own
    compute-optimal allocation at every budget; memory per GPU and training time on given
    hardware follow from :mod:`bayescale.hardware`. Differences ``a − b`` and ratios
    ``a / b`` are taken draw by draw: paired when both come from one posterior (so shared
    uncertainty cancels), independent pairs when they come from two fits. Both sides use the
    same MFU draw per posterior draw, since they run on the same hardware. Memory assumes
    FSDP (ZeRO-3) over the ``n_gpus / (t·p)`` data-parallel GPUs, and warns
    (:func:`bayescale.hardware.check_fits`) when a plan does not fit. Training FLOPs
    include the attention term ``6·D·n_layer·s·d_model`` (Kaplan et al. 2020, Table 1) for
    the shape rule of :class:`bayescale.hardware.Architecture`: with plain ``6ND`` both
    variants would take the same time at the same budget by construction.

Schedules for one run
    One model of ``N`` parameters trained under each of several learning-rate schedules
    (say cosine against WSD with a 20% cooldown), one new run per schedule: per draw, each
    run's final loss is the law's times ``e^{δ}``, ``δ`` a new run's deviation (its offset
    and a checkpoint's noise, :meth:`bayescale.likelihood.NoiseDraws.predictive`), drawn
    independently for each run; its difference from the first schedule's run and the
    probability that it is lower follow per draw. The law's part of the difference, the
    same draw's law under both schedules, is given beside it. Needs a law that reads
    schedules (``"multipower"``). The runs' deviations matter: a curve fit's run offsets
    take up what the law misses in each run's schedule as well as seed luck, and on the
    bundled multi-power curves the law's part alone is far narrower than the measured runs
    scatter (``docs/gallery/README.md``, ``schedules.py``).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from bayescale import hardware as hw
from bayescale import ranges
from bayescale.draws import SAMPLE_DIMS, Draws
from bayescale.errors import InputError
from bayescale.extrapolation import FittedRange, number, warn_if_extrapolating
from bayescale.posterior import Posterior
from bayescale.ranges import as_positive, one_positive


def compare_allocations(
    post: Posterior,
    budget: float,
    n_a: float,
    n_b: float,
    *,
    labels=("A", "B"),
    points: int = 60,
    group: str | None = None,
) -> Draws:
    """Loss trajectories of two model sizes sharing ``budget`` FLOPs, with ``p_b_lower``.

    Parameters
    ----------
    post
        the fitted posterior.
    budget
        the shared compute budget in FLOPs (> 0).
    n_a, n_b
        the two model sizes in parameters (> 0); each must train on at least one token
        at the full budget (``n < budget / 6``).
    labels
        names of the two sizes, kept in the result's ``attrs``.
    points
        the number of budget fractions along each trajectory, log-spaced from 1% to 100%.
    group
        for a per-group fit, the group to answer for: a fitted group's label or ``"new"``
        (:meth:`~bayescale.posterior.Posterior.theta`).

    Returns
    -------
    Draws
        ``loss_a`` and ``loss_b`` (dims ``(chain, draw, step)``, with the budget
        ``fraction``, ``flops`` and each size's tokens as coordinates) and
        ``final_difference`` (B − A at the full budget); ``attrs`` hold ``p_b_lower``, the
        probability that B ends lower.
    """
    budget = one_positive(budget, "budget (FLOPs)", "budget=1e21")
    n_a = one_positive(n_a, "n_a (parameters)", "n_a=4.68e9")
    n_b = one_positive(n_b, "n_b (parameters)", "n_b=2.86e9")
    for name, n in (("n_a", n_a), ("n_b", n_b)):
        if budget / (6.0 * n) < 1.0:
            low, high = np.exp(post.info.data.log_n_range)
            raise InputError(
                f"{name}={n:g} parameters at budget={budget:g} FLOPs trains on "
                f"D = C / 6N = {number(budget / (6.0 * n))} tokens, less than one; pass "
                f"{name} below budget / 6 = {number(budget / 6.0)} parameters (the fitted "
                f"sizes span {number(low)} to {number(high)})."
            )
    fraction = np.geomspace(0.01, 1.0, points)
    flops = fraction * budget
    tokens = {key: flops / (6.0 * n) for key, n in (("a", n_a), ("b", n_b))}
    warn_if_extrapolating(
        FittedRange.from_data(post.info.data),
        stacklevel=3,
        log_n=np.log([n_a, n_b]),
        log_d=np.log([tokens["a"][-1], tokens["b"][-1]]),
        log_compute=np.log([budget]),
        log_ratio=np.log([tokens["a"][-1] / n_a, tokens["b"][-1] / n_b]),
    )
    dims = (*SAMPLE_DIMS, "step")
    loss = {
        key: np.exp(post.log_mean(np.log(n), np.log(tokens[key]), group=group))
        for key, n in (("a", n_a), ("b", n_b))
    }
    p_b_lower = float((loss["b"][..., -1] < loss["a"][..., -1]).mean())
    ds = xr.Dataset(
        {
            "loss_a": (dims, loss["a"], {"units": "nats/token"}),
            "loss_b": (dims, loss["b"], {"units": "nats/token"}),
            "final_difference": (
                SAMPLE_DIMS,
                loss["b"][..., -1] - loss["a"][..., -1],
                {"units": "nats/token (B − A)"},
            ),
        },
        coords={
            **{d: post.posterior[d] for d in SAMPLE_DIMS},
            "fraction": ("step", fraction),
            "flops": ("step", flops),
            "tokens_a": ("step", tokens["a"]),
            "tokens_b": ("step", tokens["b"]),
        },
        attrs={
            "labels": list(labels),
            "n_a": n_a,
            "n_b": n_b,
            "budget": budget,
            "p_b_lower": p_b_lower,
        },
    )
    return Draws(ds)


def _side(post: Posterior, group, budgets, accelerator, n_gpus, mfu, seed, layout):
    plan = post.optimal(budgets, group=group)
    arch = hw.Architecture.from_params(plan["n_opt"])
    flops = hw.training_flops(plan["n_opt"], plan["d_opt"], arch)  # with the attention term
    time = hw.train_time(hardware=accelerator, n_gpus=n_gpus, mfu=mfu, seed=seed, flops=flops)
    sharded = {"zero_stage": 3, "data_parallel": _data_parallel(n_gpus, layout), **layout}
    hw.check_fits(plan["n_opt"], accelerator, **sharded)
    memory = hw.memory_per_gpu(plan["n_opt"], **sharded)
    return memory["total_gb"], time["hours"]


def _data_parallel(n_gpus: int, layout: dict) -> int:
    """The data-parallel degree ``n_gpus / (t·p)`` of a layout's tensor and pipeline degrees."""
    shards = 1
    for name in ("tensor_parallel", "pipeline_parallel"):
        shards *= int(ranges.COUNT.check(layout.get(name, 1), name, f"{name}=8"))
    if n_gpus % shards:
        raise InputError(
            f"n_gpus={n_gpus} is not a multiple of tensor_parallel × pipeline_parallel = "
            f"{shards}; pass a GPU count that is, e.g. n_gpus={shards * max(1, n_gpus // shards)}."
        )
    return n_gpus // shards


def compare_variants(
    a: Posterior,
    b: Posterior,
    budgets,
    *,
    hardware: str = "H100",
    n_gpus: int = 16,
    group_a: str | None = None,
    group_b: str | None = None,
    labels=None,
    mfu=None,
    seed: int = 0,
    **layout,
) -> Draws:
    """Memory per GPU and training time of variants ``a`` and ``b`` at their own optima.

    Memory assumes FSDP (ZeRO-3) over the data-parallel GPUs of ``n_gpus``.

    Parameters
    ----------
    a, b
        the variants' posteriors: one fit twice (with ``group_a`` and ``group_b``) for
        paired draws, or two fits with the same chains and draws.
    budgets
        the compute budgets in FLOPs (> 0), a scalar or an array.
    hardware
        the accelerator's catalog name (:func:`bayescale.hardware.get_accelerator`).
    n_gpus
        GPUs in the job; a multiple of ``tensor_parallel × pipeline_parallel``.
    group_a, group_b
        for a per-group fit, the group of each variant (a fitted label or ``"new"``).
    labels
        names of the two variants; default the group names, or ``"A"`` and ``"B"``.
    mfu
        model FLOPs utilization, as in :func:`bayescale.hardware.train_time` (``None``:
        its default distribution).
    seed
        seeds the MFU draws.
    **layout
        passed to :func:`bayescale.hardware.memory_per_gpu` (``recompute=``,
        ``tensor_parallel=``, ...).

    Returns
    -------
    Draws
        ``memory_a_gb``, ``memory_b_gb``, ``hours_a``, ``hours_b`` and their differences
        (``a − b``) and ratios (``a / b``) per draw and budget.
    """
    shape_a = tuple(a.posterior.sizes[d] for d in SAMPLE_DIMS)
    shape_b = tuple(b.posterior.sizes[d] for d in SAMPLE_DIMS)
    if shape_a != shape_b:
        raise InputError(
            f"the variants have {shape_a} and {shape_b} (chains, draws); fit both "
            "with the same chains and draws so that draws can be paired."
        )
    budgets = as_positive(budgets, "budgets (FLOPs)")
    labels = list(labels or [group_a or "A", group_b or "B"])
    mem_a, hours_a = _side(a, group_a, budgets, hardware, n_gpus, mfu, seed, layout)
    mem_b, hours_b = _side(b, group_b, budgets, hardware, n_gpus, mfu, seed, layout)
    ds = xr.Dataset(
        {
            "memory_a_gb": mem_a.assign_attrs(units="GB"),
            "memory_b_gb": mem_b.assign_attrs(units="GB"),
            "memory_diff_gb": (mem_a - mem_b).assign_attrs(units="GB (a − b)"),
            "memory_ratio": (mem_a / mem_b).assign_attrs(units="a / b"),
            "hours_a": hours_a.assign_attrs(units="hours"),
            "hours_b": hours_b.assign_attrs(units="hours"),
            "hours_diff": (hours_a - hours_b).assign_attrs(units="hours (a − b)"),
            "hours_ratio": (hours_a / hours_b).assign_attrs(units="a / b"),
        },
        attrs={"labels": labels, "hardware": hardware, "n_gpus": int(n_gpus)},
    )
    return Draws(ds)


def compare_schedules(
    post: Posterior,
    n_params: float,
    schedules,
    tokens_per_step: float,
    *,
    group: str | None = None,
    seed: int = 0,
) -> Draws:
    """Final loss of a new run of ``n_params`` parameters under each schedule of
    ``schedules``, compared with the first schedule's run (module docstring).

    Parameters
    ----------
    post
        a posterior of a law that reads schedules (``"multipower"``).
    n_params
        the run's parameter count (> 0).
    schedules
        at least two schedules, ``{label: Schedule}`` (:mod:`bayescale.schedules`); the
        first is the reference.
    tokens_per_step
        tokens per optimizer step (> 0).
    group
        for a per-group fit, the group to answer for: a fitted group's label or ``"new"``
        (:meth:`~bayescale.posterior.Posterior.theta`).
    seed
        seeds the runs' deviations: the run of the ``i``-th schedule takes ``seed + i``.

    Returns
    -------
    Draws
        over a ``schedule`` dimension: ``loss``, each run's final loss; ``difference``,
        its difference from the first schedule's run (0 for the first);
        ``law_difference``, the law's part of it; their ``.interval()`` is the table; and
        ``p_lower``, a coordinate of ``schedule`` (``result.dataset["p_lower"]``): the
        probability that the run's final loss is lower than the first's.
    """
    schedules = dict(schedules)
    if len(schedules) < 2:
        raise InputError(
            f"compare_schedules needs at least two schedules, {{label: Schedule}}, got "
            f"{len(schedules)}; e.g. {{'cosine': bs.schedules.cosine(...), 'wsd': "
            "bs.schedules.wsd(...)}."
        )
    finals = [
        post.predict_curve(
            n_params, s, tokens_per_step, steps=[s.total], group=group, seed=seed + i
        ).dataset.isel(point=0, drop=True)
        for i, s in enumerate(schedules.values())
    ]
    final = xr.concat(finals, dim=xr.DataArray(list(schedules), dims="schedule", name="schedule"))
    loss, law = final["loss_predictive"], final["loss_mean"]
    difference = loss - loss.isel(schedule=0)
    p_lower = (difference < 0).mean(SAMPLE_DIMS)
    answer = xr.Dataset(
        {
            "loss": loss.assign_attrs(units="nats/token"),
            "difference": difference.assign_attrs(units="nats/token"),
            "law_difference": (law - law.isel(schedule=0)).assign_attrs(units="nats/token"),
        }
    )
    return Draws(answer.assign_coords(p_lower=p_lower))
