"""Sampling diagnostics: R-hat, bulk and tail ESS, divergences and tree depth.

Thresholds follow Vehtari et al. 2021 (R-hat ≤ 1.01, ESS ≥ 100 per chain). Every
problem becomes a :class:`~bayescale.errors.ConvergenceWarning` with concrete advice, and
parameters the data barely constrain a :class:`~bayescale.errors.PriorDominatedWarning`;
the messages are also kept on the posterior (``Posterior.warnings``).

Divergences are also located at the fit's group scales: the ``τ`` of a partially pooled
fit, and the run-offset scales of a curve fit (``sigma_run``, ``sigma_shared``). If ``k``
of the ``n`` divergent transitions have a group scale ``τ`` below its 10% posterior
quantile (or above its 90%), where ``n`` independent draws unrelated to ``τ`` would put
``k ~ Binomial(n, 0.1)``, and ``P(K ≥ k) < 0.001``, the message says so. Divergences cluster in
time, so this is a screen rather than an exact test. At small ``τ`` in a centred fit it is
the funnel where the group values squeeze together (Betancourt and Girolami 2015); at large
``τ`` in a non-centred fit it is that form's own strain when each group's data pin its
value, which the centred form avoids; a higher ``target_accept`` (smaller steps) eases the
centred funnel (measured on a curve sweep: ``docs/performance.md``, run J). At a small
run-offset scale it is the funnel of a law's floor, which the runs' offsets pin only as
tightly as ``sigma_run`` allows, when few runs measure ``sigma_run`` (one model size's
three runs: ``docs/guide/curves.md``).
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr
from scipy import stats

from bayescale.errors import ConvergenceWarning, PriorDominatedWarning

RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100
# A parameter whose posterior sd is more than half its prior sd learned less than a factor
# of two from the data: its interval is mostly the prior's (Gelman et al. 2013's
# "posterior contraction" below 0.75 = 1 − 0.5²).
CONTRACTION_MIN = 0.75
SCALE_TAIL = 0.1  # "small τ": below this posterior quantile; "large τ": above 1 − it
SCALE_TAIL_P_MAX = 1e-3  # binomial tail below which divergences are said to sit there


def arviz():
    """Import ArviZ without its import-time refactoring notice (it is not about our use)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="ArviZ is undergoing", category=FutureWarning)
        import arviz as az
    return az


def diagnose(
    posterior: xr.Dataset,
    sample_stats: xr.Dataset,
    max_tree_depth: int | None = None,
) -> dict:
    """R-hat, ESS and sampler counts for every variable of ``posterior``, and where its
    divergences sit on its group scales (:func:`group_scales`). Counts that
    ``sample_stats`` does not record (a sampler outside bayescale) are None."""
    az = arviz()
    chains = int(posterior.sizes["chain"])
    # Chains that never moved divide by a zero variance: R-hat inf, the ESS of one draw
    # per chain, which the returned numbers (and the warnings made of them) say.
    with np.errstate(divide="ignore", invalid="ignore"):
        bulk = az.ess(posterior, method="bulk")
        tail = az.ess(posterior, method="tail")
        # R-hat compares chains; with one chain it is undefined and reported as NaN.
        rhat = az.rhat(posterior) if chains > 1 else None

    def worst(ds, pick):
        """``pick`` over each variable's values that are not NaN; NaN where all are (a
        variable that no chain varies, such as one held fixed)."""
        values = {name: np.asarray(ds[name], float) for name in ds.data_vars}
        values = {name: v[~np.isnan(v)] for name, v in values.items()}
        return {name: float(pick(v)) if v.size else float("nan") for name, v in values.items()}

    rhat = (
        worst(rhat, np.max)
        if rhat is not None
        else {name: float("nan") for name in posterior.data_vars}
    )
    return {
        "r_hat": rhat,
        "ess_bulk": worst(bulk, np.min),
        "ess_tail": worst(tail, np.min),
        "divergences": (
            int(sample_stats["diverging"].sum()) if "diverging" in sample_stats else None
        ),
        "divergences_by_scale": (
            divergences_by_scale(posterior, sample_stats, group_scales(posterior))
            if "diverging" in sample_stats
            else {}
        ),
        "max_tree_depth_hits": (
            int((sample_stats["tree_depth"] >= max_tree_depth).sum())
            if max_tree_depth and "tree_depth" in sample_stats
            else None
        ),
        "draws": int(posterior.sizes["chain"] * posterior.sizes["draw"]),
        "chains": chains,
        "stuck_chains": stuck_chains(posterior),
    }


def stuck_chains(posterior: xr.Dataset) -> list[int]:
    """The chains (from 0) in which no variable changes from draw to draw: each kept the one
    point its warmup ended at, where every proposal was rejected (typically a region far out
    along a direction the data do not inform, where the density's gradient is extreme).
    None where each chain has a single draw."""
    if posterior.sizes["draw"] < 2:
        return []
    chains = int(posterior.sizes["chain"])
    moved = np.zeros(chains, dtype=bool)
    for name in posterior.data_vars:
        values = np.asarray(posterior[name], float).reshape(chains, posterior.sizes["draw"], -1)
        first = values[:, :1]
        same = (values == first) | (np.isnan(values) & np.isnan(first))
        moved |= ~same.all(axis=(1, 2))
        if moved.all():  # the usual case: no need to read the other variables
            break
    return [int(c) for c in np.flatnonzero(~moved)]


def group_scales(posterior: xr.Dataset) -> tuple[str, ...]:
    """The group scales among ``posterior``'s variables: the ``tau_*`` of a partially pooled
    fit and the run-offset scales of a curve fit (:data:`_RUN_SCALES`)."""
    return tuple(
        name for name in posterior.data_vars if name.startswith("tau_") or name in _RUN_SCALES
    )


def divergences_by_scale(
    posterior: xr.Dataset, sample_stats: xr.Dataset, scales: tuple[str, ...]
) -> dict:
    """For each group scale in ``scales``: how many divergent transitions have it below its
    ``SCALE_TAIL`` posterior quantile ("small") and above its ``1 − SCALE_TAIL`` quantile
    ("large"); empty without divergences."""
    diverging = np.asarray(sample_stats["diverging"], dtype=bool)
    if not diverging.any():
        return {}
    out = {}
    for name in scales:
        values = np.asarray(posterior[name])  # (chain, draw): one scale per pooled parameter
        low, high = np.quantile(values, [SCALE_TAIL, 1 - SCALE_TAIL])
        out[name] = {
            "small": int((diverging & (values < low)).sum()),
            "large": int((diverging & (values > high)).sum()),
        }
    return out


# What divergences at small or large group scales mean, by the fit's centring.
_SCALE_ADVICE = {
    ("small", "centred"): ", the centred form's funnel where the group values squeeze "
    "together: raise target_accept=0.95, or, where each group "
    "has few points, refit with centring='non-centred' (the same "
    "model), which removes the funnel.",
    ("large", "non-centred"): ", where the non-centred form strains when each group's data "
    "pin its value: refit with centring='centred' (the same model), "
    "or raise target_accept=0.95.",
}
_RUN_SCALE_ADVICE = (
    ": too few runs measure the runs' offset scale, and the law's floor, which the runs' "
    "offsets pin only as tightly as that scale allows, forms a funnel with it. Fit more runs "
    "together (every model size of a ladder in one fit); a higher target_accept alone did "
    "not remove it (docs/guide/curves.md)."
)
_RUN_SCALES = ("sigma_run", "sigma_shared")


def problems(diag: dict, centring: str | None = None) -> list[str]:
    """Readable messages, each with advice, for whatever in ``diag`` is out of bounds
    (``centring``: the fit's, for the advice on divergences at small or large group scales)."""
    out = []
    stuck = diag.get("stuck_chains", [])
    if stuck:
        out.append(
            f"chain(s) {', '.join(map(str, stuck))} of the {diag['chains']} (numbered from 0) "
            "never moved after warmup: each kept one point for all its draws, which the "
            "summaries and answers mix in with the other chains'. Refit with another seed; "
            "if it recurs, tighten the priors of the parameters the sweep barely informs."
        )
    if diag["divergences"]:
        n = diag["divergences"]
        message = (
            f"{n} divergent transition(s) after warmup: the posterior may be biased "
            "where the sampler could not go."
        )
        for side, beyond in (
            ("small", f"below its {SCALE_TAIL:.0%} quantile"),
            ("large", f"above its {1 - SCALE_TAIL:.0%} quantile"),
        ):
            at = {
                name: tails[side]
                for name, tails in diag["divergences_by_scale"].items()
                if stats.binom.sf(tails[side] - 1, n, SCALE_TAIL) < SCALE_TAIL_P_MAX
            }
            if at:
                where = ", ".join(f"{k} of {n} with {name} {beyond}" for name, k in at.items())
                advice = (
                    _RUN_SCALE_ADVICE
                    if side == "small" and set(at) <= set(_RUN_SCALES)
                    else _SCALE_ADVICE.get((side, centring), ": raise target_accept=0.95.")
                )
                message += f" They sit at {side} group scales ({where})" + advice
                break
        else:
            message += (
                " Raise target_accept=0.95, tighten weakly identified priors, "
                "or exclude outlying points and refit."
            )
        out.append(message)
    bad_rhat = {k: v for k, v in diag["r_hat"].items() if not v <= RHAT_MAX}
    if bad_rhat and diag["chains"] > 1:
        shown = ", ".join(f"{k}={v:.3f}" for k, v in sorted(bad_rhat.items()))
        out.append(
            f"R-hat above {RHAT_MAX} for {shown}: chains disagree. Run more warmup and draws, "
            "or check for multimodality (e.g. E traded against A/N^α when N spans little)."
        )
    need = ESS_PER_CHAIN_MIN * diag["chains"]
    for kind, label in (("ess_bulk", "bulk ESS"), ("ess_tail", "tail ESS")):
        low = {k: v for k, v in diag[kind].items() if not v >= need}
        if low:
            shown = ", ".join(f"{k}={v:.0f}" for k, v in sorted(low.items()))
            out.append(
                f"{label} below {need} ({ESS_PER_CHAIN_MIN} per chain) for "
                f"{shown}: intervals are noisy. Draw more samples (draws=...)."
            )
    if diag["max_tree_depth_hits"]:
        out.append(
            f"{diag['max_tree_depth_hits']} transition(s) hit the maximum tree depth: the "
            "geometry is hard. Keep dense_mass=True and consider tighter priors."
        )
    return out


def prior_dominated(posterior: xr.Dataset, priors, names, seed: int = 0) -> str | None:
    """A message naming the parameters whose posterior contraction ``1 − var_post/var_prior``
    is below ``CONTRACTION_MIN`` (in any group), or None. Contractions are given to two
    significant digits (a posterior far wider than its prior, whose contraction can run to
    −1e300, also by the ratio of the sds)."""
    import jax

    weak = []
    for name in names:
        with jax.enable_x64(True):  # priors may ask for float64 (e.g. truncated normals)
            draws = priors[name].sample(jax.random.PRNGKey(seed), (4000,))
        prior_sd = float(np.std(np.asarray(draws)))
        post_sd = posterior[name].std(("chain", "draw")).values
        ratio = float(np.max(post_sd)) / prior_sd
        contraction = 1.0 - ratio**2
        if contraction < CONTRACTION_MIN:
            wider = f": posterior sd {ratio:.3g}× the prior's" if ratio > 1 else ""
            weak.append(f"{name} (contraction {contraction:.2g}{wider})")
    if not weak:
        return None
    return (
        f"the posterior is prior-dominated for {', '.join(weak)}: the sweep barely "
        "constrains them (e.g. every point at one model size or one token count). Their "
        "intervals reflect the priors; add points that vary N and D, or state informative "
        "priors deliberately."
    )


def warn_all(messages: list[str], stacklevel: int = 3) -> None:
    for message in messages:
        category = PriorDominatedWarning if "prior-dominated" in message else ConvergenceWarning
        warnings.warn(message, category, stacklevel=stacklevel)
