r"""Which run next: the runs whose outcomes would most shrink the uncertainty of a target.

A posterior answers "what size for this budget?" with a spread. :func:`suggest_runs`
ranks candidate training runs ``(N, D)`` by how much observing each one's final loss is
expected to shrink the posterior variance of a *target*, per unit of cost, and chooses a
batch of ``k`` of them.

Targets
-------

Each target is a quantity ``T_s`` computed per posterior draw ``s``:

``"n_opt"``
    ``log N_opt`` at a budget ``C_t`` (:func:`bayescale.planning.optimal`).
``"loss"``
    the log mean loss of one planned run ``(N_t, D_t)``, the law's log loss
    ``T_s = \log L(N_t, D_t; θ_s)``, plus its error outside the fitted runs
    (:mod:`bayescale.discrepancy`), ``a_s h``, with ``a_s = c σ_s z_s`` the draw's slope and
    ``h`` the run's distance from the fitted runs (:mod:`bayescale.fitted_region`).
``"region"``
    the same at several points ``(N_r, D_r)``; the variance is averaged over the points,
    ``\overline{\mathrm{Var}} = \frac1R \sum_r \mathrm{Var}(T_{s,r})``.

The criterion
-------------

For a candidate ``c`` with law log loss ``μ_s(c) = \log L(N_c, D_c; θ_s)``, a new finished
run measures ``y = μ_s(c) + ε`` with ``ε`` the noise of a new run
(:meth:`bayescale.likelihood.NoiseDraws.new_run_scale`; Student-t or Normal as the fit's
likelihood). The expected variance reduction is

.. math::

    G(c) = \mathrm{Var}(T) − \mathbb E_{y \sim p(y \mid \text{data})}
        \big[\mathrm{Var}(T \mid \text{data}, y)\big].

Both estimates below work on the draws alone, without refitting.

The linear update (``method="linear"``, the default)
----------------------------------------------------

The joint distribution of the targets and the outcomes is taken by its first two moments
over the draws (a linear-Gaussian, or Bayes linear, update). With the new run's noise
variance ``τ²``, a candidate removes

.. math::

    G_{\mathrm{lin}}(c) = \frac1R \sum_r
        \frac{\mathrm{Cov}(T_r, μ_c)^2}{\mathrm{Var}(μ_c) + τ^2 + c^2\,\mathbb E[σ^2]\, g_c^2}
        + c^2\, \mathbb E[σ^2] \big(\overline{h^2} − \overline{h_c^2}\big),

the covariances over the draws, ``\overline{h^2}`` and ``\overline{h_c^2}`` the mean
squared distance of the target points from the fitted runs before and after the candidate,
and ``g_c`` the candidate's distance from the target points (both from the law's error,
below). ``τ² = \mathbb E_s[σ_s^2]`` for Normal noise and, for Student-t, the variance of
the Normal with the same Fisher information about the location,
``τ² = \mathbb E_s[σ_s^2 (ν_s + 3)/(ν_s + 1)]``.

A chosen run ``j`` updates every covariance by rank one,
``\mathrm{Cov}'(X, X') = \mathrm{Cov}(X, X') − \mathrm{Cov}(X, μ_j)\,\mathrm{Cov}(μ_j,
X') / (\mathrm{Var}(μ_j) + τ_j^2)``; run by run this is the batch's joint update
``\mathrm{Var}(T) − C_{TJ} (C_{JJ} + \mathrm{diag}(τ_J^2))^{-1} C_{JT}`` over the chosen
runs ``J``, ``τ_j^2 = τ^2 + c^2\,\mathbb E[σ^2]\, g_j^2``. It
is kept as the centred draws ``A`` (one row per target point and candidate, one column per
draw, ``\mathrm{Cov} = A A^\top / S``): ``A ← A (I − γ u u^\top)`` with ``u`` the chosen
run's row normalised, ``ρ = \mathrm{Var}(μ_j) / (\mathrm{Var}(μ_j) + τ_j^2)`` and
``γ = 1 − \sqrt{1 − ρ}``, since ``(I − γ u u^\top)^2 = I − ρ\, u u^\top``. The draws
keep equal weights, so nothing degenerates along a batch; a step costs ``O(C R S)``.

This is the Laplace (Fisher) V-optimal criterion with the draws in place of the
gradients: with ``μ_c ≈ j_c^\top θ`` and ``T ≈ t^\top θ`` near the posterior,
``\mathrm{Cov}(T, μ_c) = t^\top Σ j_c`` and the update is Sherman–Morrison's
``Σ' = (Σ^{-1} + j_c j_c^\top / τ_c^2)^{-1}``. The draws' covariances average the
linearisation over the posterior instead of taking it at one point, and need no
derivative of the law or of ``N_opt`` (found numerically for some laws).

Importance reweighting (``method="reweight"``)
----------------------------------------------

The draws are reweighted by simulated outcomes:

1. ``M`` simulated worlds: world ``m`` takes its truth from draw ``g_m`` (drawn uniformly),
   and the candidate's outcome ``y_{m,c} = μ_{g_m}(c) + ε_{m,c}`` with ``ε`` from draw
   ``g_m``'s noise model.
2. Each draw ``s`` gets the weight
   ``w_{m,s} ∝ p(y_{m,c} \mid μ_s(c), σ_s, ν_s)`` (the density of a new run's loss under
   draw ``s``), normalised over ``s``. Draw ``g_m`` itself gets weight zero (leave one
   out): it generated ``y`` and would otherwise be favoured by it, which biases the
   variance after the update downwards when the weights concentrate.
3. ``\mathrm{Var}_m = \sum_s w_{m,s} (T_s − \bar T_{w_m})^2``, and
   ``G(c) = \overline{\mathrm{Var}}_{0} − \frac1M \sum_m \mathrm{Var}_m`` with
   ``\overline{\mathrm{Var}}_0`` the same average before the candidate (each world without
   its own draw). A candidate whose outcome does not depend on the draw gets uniform
   weights and ``G = 0`` exactly; the worlds are shared by all candidates (common random
   numbers), so differences between candidates are estimated more precisely than the
   gains themselves. ``gain_se`` is the Monte Carlo standard error over the worlds.

Several laws
------------

A :class:`~bayescale.Stack` is valued by the linear update over the mixture's draws: each
component gives the draws that its stacking weight gives it in every query of the stack
(:meth:`~bayescale.Stack.selection`), each with its own law's ``μ_s(c)`` and ``T_s``, its
own noise (``τ²`` averages the draws' Fisher-equivalent noise variances over the mixture)
and extrapolation error. The covariances over the mixture hold the laws' disagreement
beside each law's own uncertainty, so a run where the laws predict differently, in a way
that goes with their different targets, gains even where each law alone is certain: the
run that tells the laws apart. Reweighting takes one posterior.

The law's error
---------------

A loss target's variance includes the law's error outside the fitted runs, as its
predictive intervals do (:mod:`bayescale.discrepancy`): ``a_s h``, its slope
``a_s = c σ_s z_s`` per e-fold of distance ``h`` from the fitted runs. No outcome informs
the error's ``z_s``: its part of the variance shrinks only as ``h`` does, by geometry, when
a run extends the fitted region towards the target: after a candidate ``(N_c, D_c)``,
``h`` is the target's distance from the hull of the fitted runs and the candidate (and the
runs chosen before it). ``z_s ~ \mathrm{Normal}(0, 1)`` enters in expectation,
``\mathbb E[a_s] = 0`` and ``\mathbb E[a_s^2] = c^2 σ_s^2``, so

.. math::

    \mathrm{Var}_w(T_r + a h_r) = \mathrm{Var}_w(T_r) + h_r^2\, c^2\, \mathbb E_w[σ^2].

(equal weights in the linear update). Using the sampled ``z_s`` instead would estimate
``c^2 \mathbb E_w[σ^2]`` from the weighted ``z_s^2``: where the weights concentrate on a
few draws (the later runs of a batch), that estimate rests on those few ``z_s`` and its
noise counts as gain or loss.

The same error bounds what a run far from the targets tells about them. ``h`` changes by
at most one per e-fold of L1 distance, so the law's log error at a candidate a distance
``g_c`` from the target points (the L1 distance in e-folds from their hull,
:mod:`bayescale.fitted_region`) may differ from theirs by up to ``|a_s| g_c``. The linear
update counts that difference, at its bound, as noise of the candidate's outcome seen from
the targets, of variance ``\mathbb E[a^2]\, g_c^2 = c^2\,\mathbb E[σ^2]\, g_c^2`` beside
the new run's ``τ²``, each run's independent of the others' (two far runs of one shape are
discounted one by one, not as one). A run of the targets' shapes and sizes keeps its full
weight; a run far from them in size, in tokens or in tokens per parameter counts for less,
as a refit that moves the law's parameters to fit a far run's misfit teaches less about
the targets. Without it the criterion favours the runs at the edges of the candidates'
shapes, which move the parameters most and, where the law is wrong, mislead them most
(``docs/performance.md``, "Which run next").

Far outside the fitted runs the extrapolation error is most of a target's variance, so
both parts value the runs that bring the fitted region towards the targets.
``extrapolation=False`` leaves both out and values runs by the law's variance alone: the
uncertainty given that the law is right everywhere. ``"n_opt"`` has neither: no error term
enters an allocation, so its runs are valued by the law's variance alone. Reweighting
counts the targets' extrapolation error and weights each outcome under the law and the
noise alone, as a refit would fit it: it does not discount far runs.

The batch
---------

A batch of ``k`` runs is chosen greedily and jointly, each run the one with the largest
``G / \mathrm{cost}``. The linear update conditions on the chosen runs as above and takes
any run whose gain exceeds rounding (:data:`ROUNDING`). Reweighting: after run ``j`` is
chosen, each world keeps its outcome ``y_{m,j}`` and its weights multiply,
``w_{m,s} ∝ \prod_{j} p(y_{m,j} \mid θ_s)``, so the next run is valued given the earlier
runs' simulated outcomes in the same world (the batch's expected variance, not a sum of
single-run gains), and a run is taken only if its gain exceeds ``SIGNIFICANCE`` Monte Carlo
standard errors. When no run qualifies, or ``k`` exceeds the candidates, the batch ends
early with a warning. Each candidate is taken at most once; one given twice is a replicate
(another seed), a second outcome with its own noise ``ε``, valued given the first's.

Cost is the training compute ``6ND`` FLOPs unless a ``cost(n, d)`` function is given.

Which, and where each fails
---------------------------

The linear update is the default: it does not degenerate within a batch, has no Monte
Carlo error over outcomes (``gain_se`` is missing, ``ess`` the number of draws) and is
several times faster. Reweighting is kept for what the linear update cannot see:

- **Nonlinear dependence.** With Gaussian noise the linear update's expected variance is
  that of the best *linear* estimate of ``T`` from ``y``, so ``G_{\mathrm{lin}} ≤ G``: it
  misses what an outcome tells beyond a linear trend, the runs that tell apart the modes
  of a multimodal posterior or the bends of a law away from its data. Reweighting values
  those, where its weights do not degenerate.
- **Student-t noise.** ``τ²`` is the Fisher-equivalent variance of one outcome, smaller
  than the t's variance (infinite for ``ν ≤ 2``), and gains can exceed reweighting's.
- **Degenerate weights** (reweighting). A candidate far more informative than the current
  posterior (a run well beyond the fitted runs, or the fourth run of a batch far out) puts
  nearly all weight on a few draws. The weighted variance then rests on those few draws
  and is too small: ``G`` is too large and noisy. The effective sample size of the
  weights, ``ESS = 1 / \sum_s w_s^2`` (median over worlds), is reported per candidate;
  chosen runs with ``ESS < ESS_WARN`` raise a :class:`~bayescale.errors.PlanningWarning`.
  The variance of ``ESS`` draws has a relative standard error of about
  ``\sqrt{2/ESS}``, 20% at 50. Refit with the run's predicted outcome, or with more
  draws, to check such a choice. A batch from a fit on few runs degenerates within a few
  runs (from the 8 smallest runs of the ``chinchilla`` sweep, 600 draws, target the
  larger runs: ESS 71 after the second run, 16 after the third, 6 after the fifth) and
  then ends early, no gain being significant: train the first runs, refit and ask again.
- **Outside the posterior's support** (reweighting). Reweighting can only move mass
  between existing draws: an outcome that no draw predicts (a law that bends beyond the
  data, a loss far from every draw's) cannot be represented, and the updated variance is
  that of the few draws nearest to it.

Both:

- **The law's form.** Both value runs for what they tell about the law's parameters, not
  for testing the law: a variance that shrinks is not an error that shrinks where the law
  is wrong.
- **A posterior from few runs chooses poorly.** The criterion is only as good as the
  draws it reads: a batch chosen from the first few runs' posterior is chosen for where
  that posterior puts the law. Choose a few runs at a time and refit between batches. On
  ``docs/calibration/design.md`` (batches of 8, refits between, five seeds) the linear
  update's runs predict the held-out runs better than both random and cheapest-first runs
  on 2 of 3 sweeps at 1% of a sweep's compute, 1 of 3 at 5% and 3 of 3 at 10%; at 1% and
  5% on ``chinchilla`` random runs predict better (figures in ``docs/performance.md``,
  "Which run next").
- **Shapes.** A run moves the law's parameters most from the edges of the candidates'
  tokens per parameter, so the law's variance favours runs there, often far from the
  shapes the target asks about. A law that is wrong errs most there too, and fitted, those
  runs move its predictions everywhere. The linear update's discount of far runs weighs
  against them; reweighting has none. Offer candidates of the target's shapes
  (``docs/performance.md``, "Which run next": so restricted, most strategies' runs
  predicted the held-out runs better).
- **Thinning.** The draws are thinned evenly to at most ``max_draws`` (default
  :data:`MAX_DRAWS`) to bound the work, ``candidates × outcomes × draws`` density
  evaluations a step for reweighting, ``candidates × points × draws`` for the linear
  update.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.scipy.special import gammaln

from bayescale import planning, ranges
from bayescale.errors import InputError, InputTypeError, PlanningWarning
from bayescale.fitted_region import Region
from bayescale.stacking import shares
from bayescale.sweep import _rows_text

TARGETS = ("n_opt", "loss", "region")
METHODS = ("linear", "reweight")
ROUNDING = 1e-9
"""The linear criterion takes a run only if its gain exceeds this share of the variance:
a gain of zero computed in float64 from ~1,000 draws is rounding, ~1e-13 of it."""
OUTCOMES = 64
"""Simulated worlds per candidate: the gain's Monte Carlo error falls as ``1/sqrt(M)``;
64 keeps a step over 1,000 candidates and 1,000 draws near a second on 2 cores."""
MAX_DRAWS = 1000
"""Draws kept (evenly thinned): the weighted variance needs a few hundred effective draws."""
ESS_WARN = 50.0
"""A chosen run whose weights keep fewer effective draws warns: the variance of 50 draws
has a relative standard error of about sqrt(2/50) = 20%."""
SIGNIFICANCE = 2.0
"""A run is chosen only if its gain exceeds this many Monte Carlo standard errors."""
GRID = (40, 25)
"""Default candidate grid: compute values × tokens-per-parameter values (1,000 runs)."""
TOKENS_PER_PARAM = (2.0, 200.0)
"""Default range of tokens per parameter of the candidate grid: from under-trained runs to
10× Chinchilla's 20 tokens per parameter."""
BLOCK = 16
"""Candidates per block of the kernel: ``BLOCK × outcomes × draws`` numbers at once."""


def suggest_runs(
    post,
    candidates=None,
    *,
    target: str = "n_opt",
    budget: float | None = None,
    at=None,
    k: int = 4,
    max_compute: float | None = None,
    min_compute: float | None = None,
    tokens_per_param: tuple[float, float] = TOKENS_PER_PARAM,
    grid: tuple[int, int] = GRID,
    cost: Callable | None = None,
    group: str | None = None,
    method: str = "linear",
    extrapolation: bool = True,
    outcomes: int = OUTCOMES,
    max_draws: int = MAX_DRAWS,
    seed: int = 0,
) -> pd.DataFrame:
    """The next ``k`` training runs that most reduce the posterior variance of a target per
    unit of cost (the criterion is in the module docstring).

    Parameters
    ----------
    post
        a :class:`~bayescale.Posterior`, or a :class:`~bayescale.Stack` of several laws
        (``method="linear"``; module docstring).
    candidates
        the runs to choose from: a frame with columns ``n_params`` and ``n_tokens``, or a
        pair ``(n, d)`` of arrays. Default: a grid of ``grid[0]`` compute values, log-spaced
        from ``min_compute`` (default: the smallest fitted compute) to ``max_compute``,
        times ``grid[1]`` log-spaced tokens-per-parameter values in ``tokens_per_param``.
        A run given twice is a replicate (two seeds), which a batch may take twice (module
        docstring, "The batch"); give each run once for ``k`` distinct runs.
    target
        ``"n_opt"`` (``log N_opt`` at ``budget``), ``"loss"`` (log loss of the planned run
        ``at = (n, d)``) or ``"region"`` (mean variance of log loss over the points
        ``at = (n_array, d_array)``, or a frame with ``n_params`` and ``n_tokens``).
    budget
        FLOPs of the ``"n_opt"`` target.
    at
        the planned run (``"loss"``) or the region's points (``"region"``).
    k
        runs to choose.
    max_compute
        largest training compute (FLOPs) of a candidate: needed for the default grid;
        with ``candidates`` given, runs above it are dropped.
    min_compute
        smallest compute of the default grid.
    tokens_per_param
        ``(low, high)`` tokens per parameter of the default grid.
    grid
        ``(compute values, tokens-per-parameter values)`` of the default grid.
    cost
        ``cost(n, d) -> array`` of positive costs per candidate (vectorised); default
        the training FLOPs ``6 n d``.
    group
        for a per-group posterior, the group the runs belong to (or ``"new"``).
    method
        ``"linear"`` (the linear update of the draws' covariance) or ``"reweight"``
        (importance reweighting of the draws over simulated outcomes); module docstring.
    extrapolation
        count the law's error outside the fitted runs for a ``"loss"`` or ``"region"``
        target (the default; module docstring, "The law's error"): the target's
        extrapolation error in its variance and gains, and, in the linear update, the
        discount of runs far from the target points; ``False``: only the law's variance,
        which outcomes inform.
    outcomes
        simulated worlds ``M`` of ``"reweight"`` (at least 2).
    max_draws
        the draws are thinned evenly to at most this many.
    seed
        seeds the worlds and their outcomes.

    Returns
    -------
    pandas.DataFrame
        one row per candidate, chosen runs first by ``rank``: ``n_params``, ``n_tokens``,
        ``flops`` (6ND), ``cost``, ``gain`` (expected reduction of the target's variance
        from this run alone, in squared log units), ``gain_se`` (its Monte Carlo standard
        error; missing for ``"linear"``), ``gain_share`` (``gain`` over the current
        variance), ``gain_per_cost``, ``ess`` (median effective sample size of the weights;
        the number of draws for ``"linear"``, whose weights stay equal), ``rank`` (1 to
        ``k`` for the chosen runs, missing otherwise), ``step_gain`` (the reduction a chosen run
        adds to the runs ranked before it), ``batch_share`` (share of the variance that
        runs 1 to ``rank`` remove together) and ``step_ess`` (ESS of the batch's weights
        after it). ``attrs`` hold the target, ``variance`` (now), the draws used, the
        ``method``, ``extrapolation`` (whether the law's error is counted), ``outcomes`` (0 for
        ``"linear"``, which simulates none) and ``seed``.
    """
    if target not in TARGETS:
        raise InputError(f"target must be one of {list(TARGETS)}, got {target!r}.")
    if method not in METHODS:
        raise InputError(f"method must be one of {list(METHODS)}, got {method!r}.")
    k = ranges.COUNT.check(k, "k", "k=4")
    outcomes = ranges.COUNT.check(outcomes, "outcomes", "outcomes=64")
    if outcomes < 2:
        raise InputError(
            f"outcomes must be at least 2 (the gain's standard error needs two), got {outcomes}."
        )
    max_draws = ranges.COUNT.check(max_draws, "max_draws", "max_draws=1000")
    seed = ranges.SEED.check(seed, "seed", "seed=0")

    components = getattr(post, "components", None)  # a Stack's, by label
    if components is not None and method != "linear":
        raise InputError(
            f"method={method!r} reweights the draws of one law; a stack of several laws is "
            "valued by the linear update: pass method='linear', or one component, e.g. "
            f"stack.components[{next(iter(components))!r}]."
        )
    n, d = _candidates(post, candidates, max_compute, min_compute, tokens_per_param, grid)
    flops = 6.0 * n * d
    costs = _costs(cost, n, d)
    _check_batch(k, n.size, max_compute)
    runs, region = (np.log(n), np.log(d)), Region.from_data(post.info.data)
    sources = (
        [(post, _thin(_size(post), max_draws))]
        if components is None
        else [
            (components[label], keep)
            for label, keep in _mixture_draws(post.selection(), post.weights, max_draws).items()
        ]
    )
    parts = []
    for source, keep in sources:
        draws = _draws(source, group, keep)
        values, target_points, info = _target(source, draws, target, budget, at)
        with jax.enable_x64(draws["x64"]):
            parts.append((_law_at(source.law, draws, n, d), values, draws))
    if not extrapolation:
        target_points = None  # h = 0: no extrapolation error in the variance or the gains
    mu, values, draws = parts[0] if len(parts) == 1 else _mixed(parts)
    # a spread within rounding of the values (float64's 1e-16, grown by the law's
    # arithmetic; a real spread is 1e-4 and more) is none
    if target_points is None and (np.ptp(values, axis=0) <= 1e-12 * np.abs(values).max()).all():
        raise InputError(
            f"the target ({target}) is one value in every draw of the posterior (a point "
            "mass, such as published constants), so no run can shrink its variance; pass a "
            "posterior with spread, or a stack of several laws, whose disagreement runs can "
            "resolve."
        )
    with jax.enable_x64(draws["x64"]):
        if method == "linear":
            state = _greedy_linear(mu, draws, values, target_points, runs, costs, region, k)
        else:
            state = _greedy(
                mu, draws, values, target_points, runs, costs, region, k, outcomes, seed
            )
    variance_now, first, columns, rank, size = state

    gain, se, ess0 = first
    frame = pd.DataFrame(
        {
            "n_params": n,
            "n_tokens": d,
            "flops": flops,
            "cost": costs,
            "gain": gain,
            "gain_se": se,
            "gain_share": gain / variance_now,
            "gain_per_cost": gain / costs,
            "ess": ess0,
            "rank": pd.array(np.where(rank > 0, rank, None), dtype="Int64"),
            **columns,
        }
    )
    chosen = frame[frame["rank"].notna()].sort_values("rank")
    rest = frame[frame["rank"].isna()].sort_values("gain_per_cost", ascending=False)
    frame = pd.concat([chosen, rest]).reset_index(drop=True)
    low = chosen[chosen["step_ess"] < ESS_WARN] if method == "reweight" else chosen[:0]
    if len(low):
        runs = ", ".join(f"rank {int(r.rank)} (ESS {r.step_ess:.0f})" for r in low.itertuples())
        warnings.warn(
            f"the weights of {runs} keep fewer than {ESS_WARN:g} effective draws of "
            f"{size}: those runs are far more informative than the posterior's draws can "
            "resolve, so their gains are overstated and noisy. Check them with a refit on "
            "their predicted outcomes, or raise max_draws.",
            PlanningWarning,
            stacklevel=2,
        )
    frame.attrs.update(
        {
            **info,
            "target": target,
            "variance": variance_now,
            "draws": size,
            "method": method,
            "extrapolation": target_points is not None,  # False for n_opt, which has none
            "outcomes": outcomes if method == "reweight" else 0,
            "seed": seed,
            "k": k,
            "group": group,
            **(
                {"law": post.law.name}
                if components is None
                else {"weights": {label: float(w) for label, w in post.weights.items()}}
            ),
        }
    )
    return frame


# ----------------------------------------------------------------------------- search
def _law_at(law, draws, n, d) -> np.ndarray:
    """The law's log loss at each candidate per draw, ``(candidate, draw)``."""
    theta = {p: v[0][:, None] for p, v in draws["theta"].items()}
    mu = np.asarray(law.log_loss(theta, np.log(n)[None], np.log(d)[None])).T
    if not np.isfinite(mu).all():
        bad = ~np.isfinite(mu).all(axis=1)
        raise InputError(
            f"the law's loss is not finite at {int(bad.sum())} candidate(s), e.g. "
            f"n={n[bad][0]:.3g}, d={d[bad][0]:.3g}; pass candidates inside the law's domain."
        )
    return mu.astype(np.float64 if draws["x64"] else np.float32)


def _distances(region, target_points, dtype, candidates=None) -> np.ndarray:
    """``(run, point)`` distances of the target points from ``region`` extended by each
    candidate run (``(1, point)`` from ``region`` itself); zero for ``N_opt``, which carries
    no extrapolation error. A candidate inside ``region`` leaves it as it is."""
    if target_points is None:
        return np.zeros((1 if candidates is None else len(candidates[0]), 1), dtype)
    now = region.distance(*target_points)[None].astype(dtype)
    if candidates is None:
        return now
    h = np.repeat(now, len(candidates[0]), axis=0)
    outside = np.flatnonzero(region.distance(*candidates) > 0)
    for i in outside:
        h[i] = region.extended(candidates[0][i], candidates[1][i]).distance(*target_points)
    return h


def _linear_noise(draws, slope_square, target_points, runs) -> np.ndarray:
    """``τ_c²`` per candidate in the linear update: the mean over the draws of
    ``fisher_variance`` (:func:`_draws`) plus the law's error between the candidate and the
    target points, ``slope_square · g_c²`` with ``slope_square = c² E[σ²]`` (module
    docstring, "The law's error"; none without target points)."""
    noise = np.full(len(runs[0]), float(draws["fisher_variance"].mean()))
    if target_points is None:
        return noise
    g = Region.from_points(*target_points).distance(*runs)
    return noise + slope_square * g**2


def _greedy_linear(mu, draws, values, target_points, runs, costs, region, k):
    """The greedy search of the linear criterion (module docstring). Returns what
    :func:`_greedy` returns: the Monte Carlo error is not defined (``NaN``) and the
    draws keep equal weights (ESS the number of draws)."""
    count, size = mu.shape
    slope_square = float(draws["slope_square"].mean())
    noise = _linear_noise(draws, slope_square, target_points, runs)
    a_mu = np.asarray(mu, np.float64)
    a_mu = a_mu - a_mu.mean(axis=1, keepdims=True)  # (candidate, draw)
    a_t = np.asarray(values, np.float64).T
    a_t = a_t - a_t.mean(axis=1, keepdims=True)  # (point, draw)
    h_now = _distances(region, target_points, np.float64)
    # the mean over the points of Var(T_r) + h_r² c² E[σ²]
    variance_now = float(np.mean(a_t**2) + np.mean(h_now**2) * slope_square)
    columns = {name: np.full(count, np.nan) for name in ("step_gain", "batch_share", "step_ess")}
    rank = np.zeros(count, dtype=int)
    variance, first = variance_now, None
    for step in range(1, min(k, count) + 1):
        h_cand = _distances(region, target_points, np.float64, runs)
        spread = np.einsum("cs,cs->c", a_mu, a_mu) / size
        covariance = a_t @ a_mu.T / size  # (point, candidate)
        gain = np.mean(covariance**2, axis=0) / (spread + noise) + slope_square * (
            np.mean(h_now**2) - np.mean(h_cand**2, axis=1)
        )
        if first is None:
            first = (gain, np.full(count, np.nan), np.full(count, float(size)))
        eligible = (rank == 0) & (gain > ROUNDING * variance_now)
        if not eligible.any():
            warnings.warn(
                f"only {step - 1} of k={k} runs reduce the target's variance: the other "
                "candidates tell nothing about the target. Widen the candidates (a larger "
                "max_compute).",
                PlanningWarning,
                stacklevel=3,
            )
            break
        best = int(np.argmax(np.where(eligible, gain / costs, -np.inf)))
        variance -= gain[best]
        rank[best] = step
        columns["step_gain"][best] = gain[best]
        columns["batch_share"][best] = (variance_now - variance) / variance_now
        columns["step_ess"][best] = float(size)
        norm = math.sqrt(spread[best] * size)
        if norm > 0:
            rho = spread[best] / (spread[best] + noise[best])
            direction = a_mu[best] / norm
            shrink = 1.0 - math.sqrt(1.0 - rho)
            a_mu = a_mu - shrink * np.outer(a_mu @ direction, direction)
            a_t = a_t - shrink * np.outer(a_t @ direction, direction)
        region = region.extended(runs[0][best], runs[1][best])
        h_now = h_cand[best][None]
    return variance_now, first, columns, rank, size


def _greedy(mu, draws, values, target_points, runs, costs, region, k, outcomes, seed):
    """The greedy joint search of the reweighting criterion (module docstring). Returns the
    current variance, the single-run ``(gain, se, ess)`` of every candidate, the chosen
    runs' columns, the ranks (0: not chosen) and the number of draws."""
    dtype = mu.dtype
    scale, nu = draws["scale"], draws["nu"]
    count, size = mu.shape
    rng = np.random.default_rng(seed)
    world = rng.choice(size, size=outcomes, replace=outcomes > size)
    z = (
        rng.standard_normal((outcomes, count))
        if nu is None
        else rng.standard_t(nu[world][:, None], (outcomes, count))
    )
    y = (mu[:, world].T + scale[world][:, None] * z).astype(dtype)  # (world, candidate)
    log_w = np.zeros((outcomes, size), dtype)
    log_w[np.arange(outcomes), world] = -np.inf  # leave the world's own draw out

    centred = values - values.mean(axis=0)
    features = np.concatenate(
        [centred, (centred**2).mean(axis=1, keepdims=True), draws["slope_square"][:, None]],
        axis=1,
    ).astype(dtype)
    const = _log_density_constant(scale, nu).astype(dtype)
    scale = scale.astype(dtype)
    nu = None if nu is None else nu.astype(dtype)

    h_cand = _distances(region, target_points, dtype, runs)
    h_now = _distances(region, target_points, dtype)
    variance_now = float(_variance(np.zeros((1, 1, size), dtype), features, h_now)[0, 0])
    columns = {name: np.full(count, np.nan) for name in ("step_gain", "batch_share", "step_ess")}
    rank = np.zeros(count, dtype=int)
    first = None
    for step in range(1, min(k, count) + 1):
        base = np.asarray(_variance(log_w[None], features, h_now))[0]
        after, ess = _blocked(y, mu, log_w, const, scale, nu, features, h_cand)
        gains = base[None] - after  # (candidate, world)
        gain = gains.mean(axis=1)
        se = gains.std(axis=1, ddof=1) / math.sqrt(outcomes)
        if first is None:
            first = (gain, se, np.median(ess, axis=1))
        eligible = (rank == 0) & (gain > 0) & (gain > SIGNIFICANCE * se)
        if not eligible.any():
            warnings.warn(
                f"only {step - 1} of k={k} runs reduce the target's variance by more than "
                f"{SIGNIFICANCE:g} Monte Carlo standard errors: the other candidates tell "
                "little about the target. Widen the candidates (a larger max_compute) or "
                "raise outcomes.",
                PlanningWarning,
                stacklevel=3,
            )
            break
        best = int(np.argmax(np.where(eligible, gain / costs, -np.inf)))
        rank[best] = step
        columns["step_gain"][best] = gain[best]
        columns["batch_share"][best] = (variance_now - after[best].mean()) / variance_now
        columns["step_ess"][best] = float(np.median(ess[best]))
        resid = y[:, best][:, None] - mu[best][None]
        log_w = log_w + np.asarray(_log_density(resid, const, scale, nu))
        region = region.extended(runs[0][best], runs[1][best])
        h_now = h_cand[best][None]
        h_cand = _distances(region, target_points, dtype, runs)
    return variance_now, first, columns, rank, size


# ----------------------------------------------------------------------------- inputs
def _positive_number(value) -> bool:
    real = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    return real and ranges.POSITIVE.contains(value)


def _pair(value, what: str, example: str) -> tuple[np.ndarray, np.ndarray]:
    """``(n, d)`` as two equal-length positive arrays, from a frame or a pair."""
    if isinstance(value, pd.DataFrame):
        missing = [c for c in ("n_params", "n_tokens") if c not in value.columns]
        if missing:
            raise InputError(
                f"{what} lacks the column(s) {missing} (it has {list(value.columns)}); "
                "name them n_params and n_tokens."
            )
        if value.empty:
            raise InputError(f"{what} has no rows: give at least one run (n_params, n_tokens).")
        for column in ("n_params", "n_tokens"):
            bad = ~value[column].map(_positive_number).to_numpy(bool)
            if bad.any():
                raise InputError(
                    f"{what} column {column!r} must hold numbers > 0, in {bad.sum()} row(s): "
                    f"rows {_rows_text(value.index[bad])} hold "
                    f"{_rows_text(repr(v) for v in value[column][bad])}. Fix or drop those rows."
                )
        value = (value["n_params"].to_numpy(float), value["n_tokens"].to_numpy(float))
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise InputTypeError(
            f"{what} must be a frame with n_params and n_tokens or a pair (n, d) of arrays, "
            f"got {type(value).__name__}; e.g. {example}."
        )
    return ranges.positive_pairs(
        value[0], value[1], f"{what} n (parameters)", f"{what} d (tokens)", example
    )


def _candidates(post, candidates, max_compute, min_compute, tokens_per_param, grid):
    if max_compute is not None:
        max_compute = ranges.one_positive(max_compute, "max_compute (FLOPs)", "max_compute=1e20")
    if candidates is not None:
        n, d = _pair(candidates, "candidates", "candidates=([1e8, 4e8], [2e9, 8e9])")
        if max_compute is not None:
            keep = 6.0 * n * d <= max_compute
            if not keep.any():
                raise InputError(
                    f"every candidate costs more than max_compute={max_compute:g} FLOPs; "
                    "raise max_compute or pass cheaper candidates."
                )
            n, d = n[keep], d[keep]
        return n, d
    if max_compute is None:
        raise InputError(
            "pass candidates=(n, d) or max_compute (FLOPs) for the default grid of runs, "
            "e.g. max_compute=1e20."
        )
    low = (
        math.exp(post.info.data.log_compute_range[0])
        if min_compute is None
        else ranges.one_positive(min_compute, "min_compute (FLOPs)", "min_compute=1e17")
    )
    if not low < max_compute:
        raise InputError(
            f"min_compute={low:.3g} FLOPs must be below max_compute={max_compute:.3g}; "
            "raise max_compute."
        )
    ratio = ranges.as_positive(tokens_per_param, "tokens_per_param", "tokens_per_param=(2, 200)")
    if ratio.size != 2 or not ratio[0] < ratio[1]:
        raise InputError(
            f"tokens_per_param must be (low, high) with low < high, got {tokens_per_param!r}; "
            "e.g. tokens_per_param=(2, 200)."
        )
    sizes = np.ravel(np.asarray(grid, dtype=object))
    if sizes.size != 2:
        raise InputError(
            f"grid must be (compute values, ratios), got {grid!r}; e.g. grid=(40, 25)."
        )
    counts = [
        ranges.COUNT.check(int(g) if isinstance(g, np.integer) else g, "grid", "grid=(40, 25)")
        for g in sizes
    ]
    compute = np.geomspace(low, max_compute, counts[0])
    ratios = np.geomspace(ratio[0], ratio[1], counts[1])
    c, r = (v.ravel() for v in np.meshgrid(compute, ratios, indexing="ij"))
    n = np.sqrt(c / (6.0 * r))
    return n, n * r


def _costs(cost, n, d) -> np.ndarray:
    if cost is None:
        return 6.0 * n * d
    if not callable(cost):
        raise InputTypeError(
            f"cost must be a function cost(n, d) -> array of costs, got {type(cost).__name__}; "
            "e.g. cost=lambda n, d: 6 * n * d / 4e14 (GPU-seconds)."
        )
    returned = cost(n, d)
    try:
        values = np.array(returned, dtype=float)
    except (TypeError, ValueError) as error:
        raise InputError(
            f"cost(n, d) must return an array of numbers, got {returned!r:.80} ({error})."
        ) from error
    if values.shape != n.shape:
        raise InputError(
            f"cost(n, d) must return one cost per candidate, an array of shape {n.shape}, got "
            f"shape {values.shape}; compute it from the arrays n and d, e.g. "
            "cost=lambda n, d: 6 * n * d / 4e14 (one cost for all: np.ones_like(n))."
        )
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        raise InputError(
            f"cost(n, d) must return a finite positive cost per candidate; it returned "
            f"{values[bad][0]!r} for n={n[bad][0]:.3g}, d={d[bad][0]:.3g} (candidate "
            f"{np.flatnonzero(bad)[0]}; {int(bad.sum())} in all)."
        )
    return values


def _check_batch(k: int, count: int, max_compute) -> None:
    """Warn when a batch of ``k`` runs cannot be filled from ``count`` candidates."""
    if k <= count:
        return
    within = "" if max_compute is None else f" within max_compute={max_compute:g} FLOPs"
    warnings.warn(
        f"only {count} of k={k} runs can be chosen: there are {count} candidates{within}. "
        "Widen the candidates (more of them, or a larger max_compute) or lower k.",
        PlanningWarning,
        stacklevel=3,
    )


def _size(post) -> int:
    return post.posterior.sizes["chain"] * post.posterior.sizes["draw"]


def _thin(total: int, max_draws: int) -> np.ndarray:
    """Flat indices of ``total`` draws thinned evenly to at most ``max_draws``."""
    if total <= max_draws:
        return np.arange(total)
    return np.unique(np.linspace(0, total - 1, max_draws).round().astype(int))


def _mixture_draws(selection: dict, weights, max_draws: int) -> dict:
    """A stack's draws by component label (its ``selection()``), thinned evenly to at most
    ``max_draws`` in all, each component keeping its weight's share."""
    total = sum(idx.size for idx in selection.values())
    if total <= max_draws:
        return selection
    counts = shares([weights[label] for label in selection], max_draws)
    return {
        label: idx[_thin(idx.size, count)]
        for (label, idx), count in zip(selection.items(), counts, strict=True)
        if count
    }


def _draws(post, group, keep) -> dict:
    """The draws ``keep`` (flat indices): the law's parameters as ``(1, S)``, the new run's
    noise scale and degrees of freedom, its Fisher-equivalent noise variance (``σ²`` for
    Normal noise; for Student-t the variance of the Normal with the same Fisher information
    about the location, ``σ² (ν + 3)/(ν + 1)``), the extrapolation slope and its square's
    expectation over ``z``, ``c² σ²``, each ``(S,)``."""
    theta = post.theta(group)
    noise = post.noise()
    slope = post.discrepancy().slope
    flat = {p: np.ravel(v)[keep][None] for p, v in theta.items()}
    x64 = any(v.dtype == np.float64 for v in flat.values())
    scale = np.ravel(noise.new_run_scale())[keep].astype(float)
    nu = None if noise.nu is None else np.ravel(noise.nu)[keep].astype(float)
    fisher = np.square(scale) * (1.0 if nu is None else (nu + 3.0) / (nu + 1.0))
    return {
        "theta": flat,
        "scale": scale,
        "fisher_variance": fisher,
        "slope_square": (post.info.extrapolation_error * scale) ** 2,
        "nu": nu,
        "slope": np.ravel(slope)[keep].astype(float),
        "keep": keep,
        "x64": x64,
    }


def _mixed(parts) -> tuple[np.ndarray, np.ndarray, dict]:
    """``(μ, target values, draws)`` of several laws' draws, joined along the draws, in
    float64: what the linear update reads of the draws (``fisher_variance`` and
    ``slope_square``)."""
    mu = np.concatenate([np.asarray(m, np.float64) for m, _, _ in parts], axis=1)
    values = np.concatenate([np.asarray(v, np.float64) for _, v, _ in parts], axis=0)
    draws = {
        name: np.concatenate([d[name] for _, _, d in parts])
        for name in ("fisher_variance", "slope_square")
    }
    return mu, values, {**draws, "x64": True}


def _target(post, draws, target, budget, at):
    """``(values (S, R), (log N, log D) of the target points, (R,) each (None for
    ``N_opt``), info)``: the target per draw."""
    theta, slope = draws["theta"], draws["slope"]
    if target == "n_opt":
        if at is not None:
            raise InputError("target='n_opt' takes budget=, not at=; drop at.")
        if budget is None:
            raise InputError("target='n_opt' needs budget= (FLOPs), e.g. budget=1e24.")
        budget = ranges.one_positive(budget, "budget (FLOPs)", "budget=1e24")
        error = replace(post.discrepancy(), slope=slope[None])
        n_opt = planning.optimal(post.law, theta, budget, error)["n_opt"].values[0, :, :1]
        if not np.isfinite(n_opt).all() or (n_opt <= 0).any():
            raise InputError(
                f"N_opt at budget={budget:g} FLOPs is not finite in "
                f"{int((~np.isfinite(n_opt)).sum())} draw(s); choose a budget the law plans."
            )
        return np.log(n_opt), None, {"budget": budget}
    if budget is not None:
        raise InputError(f"target={target!r} takes at=(n, d), not budget=; drop budget.")
    if at is None:
        example = "at=(7e9, 1.4e11)" if target == "loss" else "at=([1e9, 7e9], [2e10, 1.4e11])"
        raise InputError(f"target={target!r} needs at= the planned run(s), e.g. {example}.")
    n_at, d_at = _pair(at, "at", "at=(7e9, 1.4e11)")
    if target == "loss" and n_at.size != 1:
        raise InputError(
            f"target='loss' is one planned run, got {n_at.size}; pass target='region' for several."
        )
    error = replace(post.discrepancy(), slope=np.zeros_like(slope)[None])
    mean = planning.predict_loss(post.law, theta, n_at, d_at, error=error)["loss_mean"].values[0]
    return (
        np.log(mean),
        (np.log(n_at), np.log(d_at)),
        {"at": {"n_params": n_at.tolist(), "n_tokens": d_at.tolist()}},
    )


# ----------------------------------------------------------------------------- kernels
def _log_density_constant(scale, nu) -> np.ndarray:
    """Per draw, the log-density of a residual of zero under a new run's noise."""
    if nu is None:
        return -0.5 * math.log(2 * math.pi) - np.log(scale)
    with jax.enable_x64(True):
        lg = np.asarray(gammaln(0.5 * (nu + 1.0)) - gammaln(0.5 * nu))
    return lg - 0.5 * np.log(nu * math.pi) - np.log(scale)


def _log_density(resid, const, scale, nu):
    """Log-density of a new run's residuals ``(..., draw)`` under each draw's noise."""
    z2 = jnp.square(resid / scale)
    if nu is None:
        return const - 0.5 * z2
    return const - 0.5 * (nu + 1.0) * jnp.log1p(z2 / nu)


def _variance(log_w, features, h):
    """Weighted variance of the target, ``(candidate, world)``, from log weights
    ``(candidate or 1, world, draw)``, the draws' ``features`` (``[T, mean T², c²σ²]``)
    and the extrapolation lengths ``h`` ``(candidate, point)``."""
    log_w = jnp.asarray(log_w)
    w = jnp.exp(log_w - jnp.max(log_w, axis=-1, keepdims=True))
    w = w / jnp.sum(w, axis=-1, keepdims=True)
    return _moments_variance(w @ features, jnp.asarray(h), h.shape[-1])


def _moments_variance(mom, h, points: int):
    """``mean_r Var_w(T_r) + mean_r h_r² · E_w[c²σ²]`` from the weighted moments ``mom``
    ``(..., world, R + 2)``; ``h`` is ``(..., point)``."""
    mean_t, mean_t2, slope_square = mom[..., :points], mom[..., points], mom[..., points + 1]
    var_law = mean_t2 - jnp.mean(jnp.square(mean_t), axis=-1)
    return var_law + jnp.mean(jnp.square(h), axis=-1)[..., None] * slope_square


@partial(jax.jit, static_argnames=("student",))
def _kernel(y, mu, h, log_w, const, scale, nu, features, student: bool):
    """Per block of candidates: the weighted variance after each candidate's outcome and
    the weights' ESS, ``(block, candidate, world)`` each."""

    def one(args):
        y_b, mu_b, h_b = args  # (B, M), (B, S), (B, R)
        resid = y_b[:, :, None] - mu_b[:, None, :]
        logp = _log_density(resid, const, scale, nu if student else None)
        lw = log_w[None] + logp
        w = jnp.exp(lw - jnp.max(lw, axis=-1, keepdims=True))
        w = w / jnp.sum(w, axis=-1, keepdims=True)
        ess = 1.0 / jnp.sum(jnp.square(w), axis=-1)
        var = _moments_variance(w @ features, h_b, h_b.shape[-1])
        return var, ess

    return jax.lax.map(one, (y, mu, h))


def _blocked(y, mu, log_w, const, scale, nu, features, h):
    """:func:`_kernel` over every candidate in blocks of :data:`BLOCK` (the last padded):
    ``(candidate, world)`` variances after each candidate and ESS."""
    count = mu.shape[0]
    blocks = -(-count // BLOCK)
    pad = blocks * BLOCK - count

    def shaped(x, axis_first):
        x = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)]) if pad else x
        return x.reshape(blocks, BLOCK, *x.shape[1:])

    student = nu is not None
    var, ess = _kernel(
        shaped(y.T, True),
        shaped(mu, True),
        shaped(h, True),
        log_w,
        const,
        scale,
        nu if student else scale,
        features,
        student=student,
    )
    var = np.asarray(var).reshape(-1, y.shape[0])[:count]
    ess = np.asarray(ess).reshape(-1, y.shape[0])[:count]
    return var, ess
