"""The loss curve of one run under several learning-rate schedules, for a law that reads
schedules (``"multipower"``, ``"annealing"``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from bayescale.comparisons import compare_schedules
from bayescale.draws import SAMPLE_DIMS, check_ci_prob
from bayescale.errors import InputError
from bayescale.plotting.bands import band, sample_count, summary
from bayescale.plotting.labels import count_label, drawn_words, fmt_interval, pct, probability
from bayescale.plotting.points import check_group
from bayescale.plotting.style import DOUBLE, figure_axes, legend, paper_style
from bayescale.schedules import Schedule

COLORS = ("tab:orange", "tab:blue", "tab:green", "tab:red", "tab:purple", "tab:brown")


def plot_schedules(
    post,
    n_params: float,
    schedules: Mapping[str, Schedule],
    tokens_per_step: float,
    *,
    group: str | None = None,
    axes=None,
    ci_prob: float = 0.9,
    colors: Sequence[str] = COLORS,
):
    """A new run of ``n_params`` parameters under each schedule of ``schedules``: the
    learning rate (left) and the predicted loss along training with its band (right),
    against the tokens seen.

    The loss is a new run's measured loss at each step after the warmup: the law with its
    error outside the fitted runs, a new run's offset and a checkpoint's noise
    (``loss_predictive`` of :meth:`bayescale.Posterior.predict_curve`, a marginal band at
    each step). The legend gives each run's final loss with its ``ci_prob`` interval and,
    for every schedule after the first, its difference from the first schedule's run and
    the probability that it is lower (:func:`bayescale.comparisons.compare_schedules`:
    per draw, one new run per schedule). One schedule draws one run, compared with none.
    The y-axis starts at 10% of the longest run, as losses early on are far higher;
    ``ax.set_ylim`` shows more.

    Parameters
    ----------
    post
        a posterior of a law that reads schedules.
    n_params
        the run's parameter count.
    schedules
        ``{label: Schedule}`` (:mod:`bayescale.schedules`); the first is the reference.
    tokens_per_step
        tokens per optimiser step.
    group
        a group of a per-group fit, or ``"new"`` for an unseen one.
    axes
        two matplotlib axes side by side; ``None`` makes a new figure.
    ci_prob
        the probability of the bands and of the legend's intervals.
    colors
        the schedules' colours, in order (repeated when there are more schedules).

    Returns
    -------
    tuple
        ``(fig, axes)``.
    """
    ci_prob = check_ci_prob(ci_prob)
    group = check_group(post, group)
    schedules = dict(schedules)
    if not schedules:
        raise InputError(
            "plot_schedules needs at least one schedule, {label: Schedule}; e.g. "
            "{'cosine': bs.schedules.cosine(...)}."
        )
    final = (
        compare_schedules(post, n_params, schedules, tokens_per_step, group=group).dataset
        if len(schedules) > 1
        else None
    )
    reference = next(iter(schedules))
    curves = []
    for index, (label, schedule) in enumerate(schedules.items()):
        curve = post.predict_curve(n_params, schedule, tokens_per_step, group=group)
        loss = curve["loss_predictive"].transpose(*SAMPLE_DIMS, "point").values
        steps = curve["step"].values
        if final is None:  # one run: its last step is its final loss
            end_loss = loss[..., -1]
        else:
            end = final.sel(schedule=label)
            end_loss = end["loss"].values
        text = f"{label}: final $L$ {fmt_interval(*summary(end_loss, ci_prob))}"
        if label != reference:
            difference = fmt_interval(*summary(end["difference"].values, ci_prob))
            lower = probability(float(end["p_lower"]), sample_count(final))
            text += f"\n{difference} vs {reference}\nP(lower) {lower}"
        curves.append(
            {
                "label": text,
                "color": colors[index % len(colors)],
                "tokens": steps * tokens_per_step,
                "lr": schedule.lr(steps),
                "loss": loss,
            }
        )

    with paper_style(axes):
        fig, axes = figure_axes(axes, DOUBLE, shape=(2,))
        left, right = axes[0], axes[1]
        handles = []
        for curve in curves:
            left.plot(curve["tokens"], curve["lr"], color=curve["color"])
            handle = band(
                right, curve["tokens"], curve["loss"], ci_prob, color=curve["color"], zorder=3
            )
            handles.append((handle, curve["label"]))
        longest = max(float(curve["tokens"][-1]) for curve in curves)
        # from 10% of the longest run, or a shorter run's last step
        top = max(
            float(np.max(summary(c["loss"][..., c["tokens"] >= shown], ci_prob)[2]))
            for c in curves
            for shown in [min(0.1 * longest, c["tokens"][-1])]
        )
        bottom = min(float(summary(c["loss"][..., -1], ci_prob)[1]) for c in curves)
        pad = 0.06 * (top - bottom)
        right.set_ylim(bottom - pad, top + pad)
        for ax in (left, right):
            ax.set_xlim(0, 1.02 * longest)
            ax.set_xlabel("training tokens $D$ seen (tokens)")
            ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0), useMathText=True)
        left.set_ylabel("learning rate")
        right.set_ylabel("loss $L$ (nats/token)")
        drawn = drawn_words(post, group)
        left.set_title(f"$N$ = {count_label(n_params)}" + (f"; {drawn}" if drawn else ""))
        right.set_title(f"a new run's loss (lines: median, bands: {pct(ci_prob)})")
        legend(fig, handles, loc="outside lower center", ncols=min(3, len(handles)))
    return fig, axes
