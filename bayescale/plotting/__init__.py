r"""Figures with credible bands, computed per posterior draw.

Every function takes what it shows (a :class:`~bayescale.posterior.Posterior`, plus
data where the figure shows data; the draws of a comparison; the ranks of an SBC run),
``ax=None`` (``axes=None`` for multi-panel figures) and, for bands, ``ci_prob=0.9``, and
returns ``(fig, ax)``. A band is always the equal-tailed
``ci_prob`` interval over ``(chain, draw)`` of a quantity computed per draw; the line
in it is the per-point posterior median. Nothing is drawn from a point estimate.

A figure whose quantities are planning queries (:func:`plot_fit`,
:func:`plot_loss_vs_params`, :func:`plot_frontier`, :func:`plot_ppc`,
:func:`plot_isoflops`, :func:`plot_excess_compute`) takes a :class:`~bayescale.Stack` as
it takes a posterior: its bands are those of the mixed draws, and its title or legend
names the laws and their weights. A figure of one law's own draws (:func:`plot_pairs`,
:func:`plot_suggestions`) refuses a stack and asks for one component,
``stack.components[label]``.

A figure of a posterior takes ``group=``: on a per-group posterior it names the fitted
group drawn (its law and its points), or ``"new"`` for an unseen group drawn from the
population (partial pooling); without it the error lists the groups, except in
:func:`plot_ppc`, which predicts each fitted point with its own group's law.

Figures made here (``ax=None``) are sized for a paper: 3.4 in wide for one panel,
7 in for two, with small fonts. When you pass ``ax``, your own style is kept.

================================  =============================================================
function                          shows
================================  =============================================================
:func:`plot_fit`                  sweep points (loss vs ``C = 6ND``, colour = N) and the
                                  compute-optimal frontier ``L*(C)``
:func:`plot_training_curves`      training curves (loss vs ``C = 6ND``, colour = N), their
                                  envelope and the frontier ``L*(C)`` of finished runs
:func:`plot_loss_vs_params`       loss vs N at fixed compute (colour = PF-days) and at fixed
                                  tokens (colour = D)
:func:`plot_frontier`             ``N_opt(C)`` and ``D_opt(C)`` with Kaplan's and Chinchilla's
                                  reference slopes
:func:`plot_pairs`                pair plot of the law's key quantities (Chinchilla: ``E``,
                                  ``α``, ``β`` and ``a = β/(α+β)``)
:func:`plot_ppc`                  observed vs posterior-predictive loss, held-out points marked
:func:`plot_isoflops`             iso-FLOP profiles (loss vs N at fixed C) with the optimum
:func:`plot_excess_compute`       compute and tokens a size ``N ≠ N_opt`` needs to reach the
                                  optimal loss, and the sizes within +20% compute
:func:`plot_allocations`          loss along training for two model sizes sharing a budget
                                  (from :func:`bayescale.comparisons.compare_allocations`)
:func:`plot_variants`             memory per GPU and train time of two variants, ``a − b``, per
                                  budget (from :func:`bayescale.comparisons.compare_variants`)
:func:`plot_schedules`            the learning rate and predicted loss along training of one run
                                  under several schedules, with the final losses compared
:func:`plot_ranks`                SBC ranks: ECDF minus the uniform CDF over its simultaneous band
                                  (from :func:`bayescale.evaluation.sbc.sbc`)
:func:`plot_suggestions`          candidate runs in ``(N, D)`` coloured by expected gain per
                                  cost, the chosen ones numbered, and the target (from
                                  :func:`bayescale.suggest_runs`)
================================  =============================================================

One PF-day (:data:`PF_DAY`) is
:math:`10^{15}\,\mathrm{FLOP/s} \times 86400\,\mathrm{s} = 8.64\times10^{19}` FLOPs.

The figures live in modules by family: :mod:`~bayescale.plotting.fit` (the law and its
data), :mod:`~bayescale.plotting.parameters`, :mod:`~bayescale.plotting.excess`,
:mod:`~bayescale.plotting.comparisons`, :mod:`~bayescale.plotting.schedules` and
:mod:`~bayescale.plotting.calibration`; what they share is in
:mod:`~bayescale.plotting.bands` (the median and interval over draws),
:mod:`~bayescale.plotting.style`, :mod:`~bayescale.plotting.labels` and
:mod:`~bayescale.plotting.points`.
"""

from bayescale.plotting.calibration import plot_ranks
from bayescale.plotting.comparisons import plot_allocations, plot_variants
from bayescale.plotting.curves import plot_training_curves
from bayescale.plotting.design import plot_suggestions
from bayescale.plotting.excess import plot_excess_compute
from bayescale.plotting.fit import (
    plot_fit,
    plot_frontier,
    plot_isoflops,
    plot_loss_vs_params,
    plot_ppc,
)
from bayescale.plotting.labels import PF_DAY
from bayescale.plotting.parameters import plot_pairs
from bayescale.plotting.schedules import plot_schedules

__all__ = [
    "PF_DAY",
    "plot_allocations",
    "plot_excess_compute",
    "plot_fit",
    "plot_frontier",
    "plot_isoflops",
    "plot_loss_vs_params",
    "plot_pairs",
    "plot_ppc",
    "plot_ranks",
    "plot_schedules",
    "plot_suggestions",
    "plot_training_curves",
    "plot_variants",
]
