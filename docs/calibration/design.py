"""Sequential design on bundled sweeps: runs chosen by ``bs.suggest_runs`` against
D-optimal, random and cheapest-first choices, scored on held-out larger runs.

The sweeps (:data:`SWEEPS`) are the bundled ones with enough final points of one
configuration: ``chinchilla`` (240 runs), ``porian_rsld``'s configuration that the
backtests use (88) and ``open_athena_isoflops``' Nemotron isoFLOP grid (96). Each sweep's
runs above the 75% quantile of compute (6ND) are held out. The design starts from the
``START`` cheapest of the other runs (the pool) and adds pool runs until the added compute
reaches 1%, 5% and 10% of the sweep's total compute. The strategies that read the
posterior choose ``BATCH`` runs at a time and refit before choosing more, as a ladder is
grown: train a few runs, refit, ask again. After each level the posterior predicts the
held-out runs: R² of the predictive medians (on loss), the share of held-out losses inside
the central 90% predictive interval, and the variance of the law's log loss over the
draws, averaged over the held-out runs (the law's part of what ``suggest`` minimises). The
reference is a fit on every pool run.

Strategies, each spending at most the level's compute:

- ``suggest``: ``bs.suggest_runs`` (default criterion: the linear update, counting the
  targets' extrapolation error and discounting each run by the law's error between it and
  the targets) with target ``"region"`` at the held-out runs' (N, D) (the
  quantity scored), candidates the unused pool runs that fit the level's remaining
  compute, ``k = BATCH``, its runs taken in rank order while they fit; then a refit on the
  runs so far, until no candidate fits;
- ``d-optimal``: Bayesian D-optimal, greedy per unit cost within the level's compute,
  ``BATCH`` runs between refits as for ``suggest``:
  with ``M_s = P + Σ_j J_{s,j} J_{s,j}^T / σ_s^2`` the Fisher information of the used
  runs under posterior draw ``s`` (``J_{s,j}`` the gradient of the law's log loss at run
  ``j`` with respect to the unconstrained parameters, ``σ_s`` the draw's noise scale of a
  new run, ``P`` the diagonal precision of the law's default priors, unconstrained), the
  run with the largest ``E_s[log det(M_s + J J^T/σ_s^2) − log det M_s] / cost`` among
  those that fit is added, ``M_s`` updated, until ``BATCH`` are added or none fits. Draws
  from the latest posterior (thinned to ``DOPT_DRAWS``);
- ``random``: unused pool runs in random order, each taken while it fits;
- ``cheapest``: unused pool runs from the cheapest, while they fit (deterministic).

    python docs/calibration/design.py                 # every sweep, ~40 min on 2 cores
    python docs/calibration/design.py --seeds 0 1 2
    python docs/calibration/design.py --sweeps porian_rsld
    python docs/calibration/design.py --strategies suggest random
    python docs/calibration/design.py --synthetic     # the law exactly right; prints only
    python docs/calibration/design.py --window        # runs of the targets' shapes; prints only
    python docs/calibration/design.py --law-only --strategies suggest  # prints only

``--synthetic`` replaces every loss of the sweep by the law's at the median parameters of
a fit on the pool, plus Normal noise of that fit's median ``σ``: how the strategies
compare when the law is right.

``--window`` lets every strategy choose only among the pool runs whose tokens per parameter
lie in the central 80% of the held-out runs' (their ``WINDOW`` quantiles): how the
strategies compare when the runs are of the shapes the answers are wanted for.

``--law-only`` has ``suggest`` value runs by the law's variance alone
(``bs.suggest_runs(..., extrapolation=False)``), leaving out the law's error: the
targets' extrapolation error, which shrinks as runs bring the fitted region towards the
held-out runs, and the discount of runs far from them.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

import bayescale as bs
from bayescale.reference import reference_sweep

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from backtest import porian_sweep  # noqa: E402  (the configuration's one home)

SAMPLER = {"chains": 2, "warmup": 300, "draws": 300}
START = 8
LEVELS = (0.01, 0.05, 0.10)
HOLDOUT_QUANTILE = 0.75
DOPT_DRAWS = 200  # posterior draws averaged by the D-optimal criterion
# runs chosen between refits: the 1% level takes about 50 runs, so about six refits there
# (one call for a whole level, as first evaluated, chose 50 runs from the 8 start runs'
# posterior)
BATCH = 8
STRATEGIES = ("suggest", "d-optimal", "random", "cheapest")
# --window: the held-out runs' quantiles of tokens per parameter between which runs are
# chosen: the central 80%, which drops the tenth in each tail where their extremes lie (set
# once, before the first comparison, and not varied since)
WINDOW = (0.1, 0.9)


def _athena_nemotron() -> bs.Sweep:
    """open_athena_isoflops' isoFLOP grid on Nemotron-CC, the largest of its three."""
    sweep = bs.load_dataset("open_athena_isoflops")
    return sweep.exclude(sweep.frame["group"] != "nemotron", reason="the other datasets")


#: name -> (the sweep, what it holds)
SWEEPS = {
    "chinchilla": (
        lambda: reference_sweep("chinchilla"),
        "240 runs (the 5 rows Besiroglu et al. dropped stay excluded)",
    ),
    "porian_rsld": (porian_sweep, "88 runs of the backtests' one configuration"),
    "open_athena_isoflops": (
        _athena_nemotron,
        "96 runs of the Nemotron-CC isoFLOP grid, budgets 1e18-1e21",
    ),
}


def _fit(frame: pd.DataFrame, seed: int) -> bs.Posterior:
    sweep = bs.Sweep.from_frame(frame[["n_params", "n_tokens", "loss"]].reset_index(drop=True))
    # each number of runs compiles its own sampler; kept, the programs of this script's
    # ~80 fits ran LLVM out of code memory ("Unable to allocate section memory")
    jax.clear_caches()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small fits: R-hat/ESS warnings expected, noted
        return bs.fit(sweep, seed=seed, progress=False, **SAMPLER)


def _score(post: bs.Posterior, test: pd.DataFrame) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)
        pred = post.predict_loss(test["n_params"].to_numpy(), test["n_tokens"].to_numpy())
    draws = pred["loss_predictive"].values.reshape(-1, len(test))
    median = np.median(draws, axis=0)
    low, high = np.quantile(draws, [0.05, 0.95], axis=0)
    y = test["loss"].to_numpy()
    r2 = 1.0 - np.sum((y - median) ** 2) / np.sum((y - y.mean()) ** 2)
    theta = {p: np.asarray(v)[..., None] for p, v in post.theta().items()}
    log_n, log_d = np.log(test["n_params"].to_numpy()), np.log(test["n_tokens"].to_numpy())
    law = np.asarray(post.law.log_loss(theta, log_n, log_d)).reshape(-1, len(test))
    return {
        "r2": float(r2),
        "coverage_90": float(np.mean((y >= low) & (y <= high))),
        "law_var": float(np.mean(np.var(law, axis=0))),
    }


def _fitting(pool, used, remaining) -> pd.Index:
    """Unused pool labels that each cost at most ``remaining`` FLOPs."""
    free = pool.index[~pool.index.isin(used)]
    flops = pool.loc[free, "flops"]
    return flops.index[flops <= remaining]


def _while_fits(pool, order, remaining) -> list[int]:
    """Labels of ``order`` taken in turn while their total compute fits ``remaining``."""
    picked, spent = [], 0.0
    for label in order:
        cost = pool.loc[label, "flops"]
        if spent + cost <= remaining:
            picked.append(label)
            spent += cost
    return picked


def _suggest(post, pool, free, remaining, test, law_only) -> list[int]:
    """``BATCH`` runs of ``bs.suggest_runs``, taken in rank order while they fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.PlanningWarning)
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)
        result = bs.suggest_runs(
            post,
            candidates=pool.loc[free, ["n_params", "n_tokens"]],
            target="region",
            at=test[["n_params", "n_tokens"]],
            k=min(BATCH, len(free)),
            extrapolation=not law_only,
        )
    runs = pool.loc[free, ["n_params", "n_tokens"]].to_numpy()
    key = {tuple(v): label for label, v in zip(free, runs, strict=True)}
    chosen = result[result["rank"].notna()]
    order = [key[(r.n_params, r.n_tokens)] for r in chosen.itertuples()]
    return _while_fits(pool, order, remaining)


def _unconstrained(law, theta):
    """The law's parameters per draw, unconstrained (``(S,)`` each)."""
    return {p: np.asarray(law.transform(p).inv(jnp.asarray(v))) for p, v in theta.items()}


def _jacobian(law, u, n, d) -> np.ndarray:
    """``∂ log L / ∂u`` at runs ``(n, d)`` per draw: ``(draw, run, parameter)``."""
    params = list(law.params)

    def log_loss(vector, log_n, log_d):
        theta = {p: law.transform(p)(vector[i]) for i, p in enumerate(params)}
        return law.log_loss(theta, log_n, log_d)

    grad = jax.vmap(jax.grad(log_loss), in_axes=(None, 0, 0))
    stacked = jnp.stack([jnp.asarray(u[p]) for p in params], axis=-1)
    log_n, log_d = jnp.log(jnp.asarray(n)), jnp.log(jnp.asarray(d))
    return np.asarray(jax.vmap(lambda v: grad(v, log_n, log_d))(stacked))


def _prior_precision(law, seed: int) -> np.ndarray:
    """Diagonal precision of the law's default priors in unconstrained space (sampled)."""
    key = jax.random.PRNGKey(seed)
    variances = []
    for p in law.params:
        sample = law.priors[p]().sample(key, (4000,))  # 4000: variance within ~2%
        variances.append(float(np.var(np.asarray(law.transform(p).inv(sample)))))
    return np.diag(1.0 / np.asarray(variances))


def _d_optimal(post, pool, used, free, remaining, seed) -> list[int]:
    """Up to ``BATCH`` greedy Bayesian D-optimal runs per unit cost within ``remaining``
    FLOPs."""
    theta = {p: np.ravel(v) for p, v in post.theta().items()}
    scale = np.ravel(post.noise().new_run_scale())
    keep = np.unique(np.linspace(0, scale.size - 1, DOPT_DRAWS).round().astype(int))
    u = _unconstrained(post.law, {p: v[keep] for p, v in theta.items()})
    precision = 1.0 / scale[keep] ** 2
    jac_used = _jacobian(post.law, u, *pool.loc[used, ["n_params", "n_tokens"]].T.to_numpy())
    info = _prior_precision(post.law, seed)[None] + np.einsum(
        "s,sjp,sjq->spq", precision, jac_used, jac_used
    )
    jac = _jacobian(post.law, u, *pool.loc[free, ["n_params", "n_tokens"]].T.to_numpy())
    cost = pool.loc[free, "flops"].to_numpy()
    open_, picked, spent = np.ones(len(free), bool), [], 0.0
    while len(picked) < BATCH:
        open_ &= cost <= remaining - spent
        if not open_.any():
            return picked
        inverse = np.linalg.inv(info)
        lever = np.einsum("scp,spq,scq->sc", jac, inverse, jac) * precision[:, None]
        gain = np.log1p(lever).mean(axis=0)  # determinant lemma, averaged over draws
        best = int(np.argmax(np.where(open_, gain / cost, -np.inf)))
        picked.append(free[best])
        spent += cost[best]
        open_[best] = False
        info = info + precision[:, None, None] * np.einsum("sp,sq->spq", jac[:, best], jac[:, best])
    return picked


def _level(strategy, post, pool, used, remaining, test, rng, seed, law_only):
    """Pool labels added at one level, spending at most ``remaining`` FLOPs, and the
    posterior on the used runs after them."""
    if strategy in ("suggest", "d-optimal"):
        picked, spent = [], 0.0
        while len(free := _fitting(pool, used + picked, remaining - spent)):
            batch = (
                _suggest(post, pool, free, remaining - spent, test, law_only)
                if strategy == "suggest"
                else _d_optimal(post, pool, used + picked, free, remaining - spent, seed)
            )
            if not batch:
                break
            picked += batch
            spent += float(pool.loc[batch, "flops"].sum())
            post = _fit(pool.loc[used + picked], seed)
        return picked, post
    free = _fitting(pool, used, remaining)
    order = (
        pool.loc[free].sort_values("flops").index
        if strategy == "cheapest"
        else rng.permutation(free.to_numpy())
    )
    picked = _while_fits(pool, order, remaining)
    return picked, _fit(pool.loc[used + picked], seed)


def _law_losses(post: bs.Posterior, frame: pd.DataFrame) -> np.ndarray:
    """Losses from the law at the posterior's median parameters plus Normal noise of its
    median ``σ`` on log loss: a sweep whose law is exactly right."""
    theta = {p: np.median(v) for p, v in post.theta().items()}
    log_n, log_d = np.log(frame["n_params"].to_numpy()), np.log(frame["n_tokens"].to_numpy())
    log_loss = np.asarray(post.law.log_loss(theta, log_n, log_d))
    sigma = float(np.median(post.noise().sigma))
    return np.exp(log_loss + sigma * np.random.default_rng(0).standard_normal(len(frame)))


def run(
    name, seeds, strategies=STRATEGIES, synthetic=False, window=False, law_only=False
) -> pd.DataFrame:
    """Every strategy's runs and scores on sweep ``name``, one row per (strategy, seed,
    level), with the fit on all pool runs first; with ``window``, runs are chosen only among
    those of the held-out runs' shapes; with ``law_only``, ``suggest`` values runs by the
    law's variance alone (module docstring)."""
    frame = SWEEPS[name][0]().fit_frame.copy()
    frame["flops"] = 6.0 * frame["n_params"] * frame["n_tokens"]
    total = float(frame["flops"].sum())
    cut = frame["flops"].quantile(HOLDOUT_QUANTILE)
    start = list(frame[frame["flops"] <= cut].sort_values("flops").index[:START])
    rows = []
    t0 = time.time()
    if synthetic:
        frame["loss"] = _law_losses(_fit(frame[frame["flops"] <= cut], 0), frame)
    test, pool = frame[frame["flops"] > cut], frame[frame["flops"] <= cut]
    choices = pool
    if window:
        ratio = frame["n_tokens"] / frame["n_params"]
        low, high = ratio[test.index].quantile(WINDOW)
        choices = pool[ratio[pool.index].between(low, high) | pool.index.isin(start)]
    full = _fit(pool, 0)
    rows.append(
        {
            "strategy": "all pool runs",
            "seed": 0,
            "level": np.nan,
            "runs": len(pool),
            "compute_share": pool["flops"].sum() / total,
            **_score(full, test),
        }
    )
    print(f"{name}, all pool runs: {rows[-1]} ({time.time() - t0:.0f} s)", flush=True)
    for seed in seeds:
        post0 = _fit(pool.loc[start], seed)
        for strategy in strategies:
            if strategy == "cheapest" and seed != seeds[0]:
                continue  # deterministic choice: one seed's fits are enough
            rng = np.random.default_rng(seed)
            used, post, spent = list(start), post0, 0.0
            for level in LEVELS:
                remaining = level * total - spent
                picked, post = _level(
                    strategy, post, choices, used, remaining, test, rng, seed, law_only
                )
                used = used + picked
                spent += float(pool.loc[picked, "flops"].sum())
                rows.append(
                    {
                        "strategy": strategy,
                        "seed": seed,
                        "level": level,
                        "runs": len(used),
                        "compute_share": spent / total,
                        **_score(post, test),
                    }
                )
                print(f"{name}: {rows[-1]} ({time.time() - t0:.0f} s)", flush=True)
    table = pd.DataFrame(rows)
    ref = table[table["strategy"] == "all pool runs"].iloc[0]
    # one held-out set for every row, so the ratio of R² shortfalls is that of squared errors
    table["error_ratio"] = np.sqrt((1.0 - table["r2"]) / (1.0 - ref["r2"]))
    facts = {"test": len(test), "pool": len(pool), "total": total, "cut": cut}
    return table.assign(sweep=name), facts


def _md(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in df.itertuples(index=False):
        cells = [
            (f"{v:.3g}" if c.startswith("law_var") else f"{v:.3f}")
            if isinstance(v, float)
            else str(v)
            for c, v in zip(cols, r, strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per sweep, level and strategy: the scores' mean (and worst) over seeds."""
    return (
        table[table["strategy"] != "all pool runs"]
        .groupby(["sweep", "level", "strategy"], sort=True)
        .agg(
            seeds=("seed", "nunique"),
            runs=("runs", "mean"),
            compute_share=("compute_share", "mean"),
            r2_mean=("r2", "mean"),
            r2_min=("r2", "min"),
            error_ratio_mean=("error_ratio", "mean"),
            error_ratio_max=("error_ratio", "max"),
            coverage_90_mean=("coverage_90", "mean"),
            coverage_90_min=("coverage_90", "min"),
            law_var_mean=("law_var", "mean"),
        )
        .reset_index()
    )


def ranks(summary: pd.DataFrame) -> pd.DataFrame:
    """Per sweep and level, each strategy's mean error ratio, and whether ``suggest``'s is
    below both ``random``'s and ``cheapest``'s (the issue's comparison)."""
    wide = summary.pivot_table(
        index=["sweep", "level"], columns="strategy", values="error_ratio_mean"
    ).reset_index()
    wide.columns.name = None
    wide["suggest_best_of_three"] = (wide["suggest"] < wide["random"]) & (
        wide["suggest"] < wide["cheapest"]
    )
    return wide


def write(table: pd.DataFrame, facts: dict, seconds: float, seeds) -> Path:
    summary = summarise(table)
    wins = ranks(summary)
    counts = wins.groupby("level")["suggest_best_of_three"].agg(["sum", "size"])
    won = ", ".join(
        f"{level:.0%}: {int(r['sum'])} of {int(r['size'])}" for level, r in counts.iterrows()
    )
    refs = table[table["strategy"] == "all pool runs"].set_index("sweep")
    sweeps = "\n".join(
        f"- `{name}`: {SWEEPS[name][1]}; held out the {f['test']} runs above 6ND = "
        f"{f['cut']:.3g} FLOPs, pool the other {f['pool']}, total compute {f['total']:.3g} "
        f"FLOPs; a fit on all pool runs ({refs.loc[name, 'compute_share']:.1%} of the "
        f"compute): R² {refs.loc[name, 'r2']:.3f}, 90% coverage "
        f"{refs.loc[name, 'coverage_90']:.2f}."
        for name, f in facts.items()
    )
    command = "python docs/calibration/design.py --seeds " + " ".join(map(str, seeds))
    text = f"""# Which run next: sequential design against D-optimal, random and cheapest-first

Generated {datetime.now(UTC):%Y-%m-%d} by `{command}` (bayescale {bs.__version__}, Python
{platform.python_version()}, {platform.machine()} CPU, {seconds / 60:.0f} min). Do not edit by
hand; rerun the script.

Sweeps (final points of one configuration each; the runs above the
{HOLDOUT_QUANTILE:.0%} quantile of compute are held out, the rest form the pool):

{sweeps}

Start: the {START} cheapest pool runs. Runs are added until the added compute reaches 1%,
5% and 10% of the sweep's total (the start's runs not counted), refitting at each level
(NUTS, {SAMPLER["chains"]} chains × ({SAMPLER["warmup"]} warmup + {SAMPLER["draws"]} draws),
default priors, Student-t likelihood; small fits, so R-hat and ESS warnings are not shown).
Scores on the held-out runs: `r2` = R² of the posterior-predictive medians of loss,
`error_ratio` = their root-mean-square error over that of the fit on all pool runs (the
issue's target: at most 1.2 at 10% of the compute), `coverage_90` = share of held-out
losses inside the central 90% predictive interval (with n held-out points a calibrated
interval scatters by about ±2·(0.09/n)^½, ±0.08 for 60 and ±0.13 for 22, and the points
share one fitted law, so small differences mean little), `law_var` = the variance of the
law's log loss over the posterior's draws, averaged over the held-out runs (the law's part
of what `suggest` minimises; squared log units).

Strategies, each spending at most the level's compute. The two that read the posterior
choose {BATCH} runs at a time and refit on the runs so far before choosing more, as a ladder
is grown: `suggest` = `bs.suggest_runs(post, candidates=<unused pool runs that fit the
level's remaining compute>, target="region", at=<held-out (N, D)>, k={BATCH})` (the
default criterion: the linear update of the law's variance plus the targets' extrapolation
error, each run discounted by the law's error between it and the targets), its runs taken
in rank order while they fit; `d-optimal` = greedy Bayesian D-optimal per unit cost,
`E_s[log det(M_s + J J^T/σ_s²) − log det M_s] / 6ND` over {DOPT_DRAWS} draws of the
latest posterior, `M_s` the Fisher information of the used runs in the law's
unconstrained parameters plus the default priors' precision, {BATCH} runs or until none
fits. `random` = unused pool runs in random order while they fit; `cheapest` = cheapest
first (deterministic, one seed).

## Does `suggest` beat random and cheapest-first?

Mean error ratio over seeds per sweep and level; `suggest_best_of_three` when `suggest`'s is
below both `random`'s and `cheapest`'s. Sweeps where it is, per level: {won}.

{_md(wins)}

## Summary over seeds

{_md(summary)}

## Every run

{_md(table[["sweep", *[c for c in table.columns if c != "sweep"]]])}
"""
    path = HERE / "design.md"
    path.write_text(text, encoding="utf-8")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--sweeps", nargs="+", choices=list(SWEEPS), default=list(SWEEPS))
    parser.add_argument(
        "--strategies",
        nargs="+",
        choices=STRATEGIES,
        default=list(STRATEGIES),
        help="the strategies to run; design.md is written only when all are run on every sweep",
    )
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="replace the sweep's losses by the law's at a fit on the pool, plus Normal "
        "noise: the design when the law is right (design.md is not written)",
    )
    parser.add_argument(
        "--window",
        action="store_true",
        help="choose runs only among those whose tokens per parameter lie in the central "
        "80%% of the held-out runs' (design.md is not written)",
    )
    parser.add_argument(
        "--law-only",
        action="store_true",
        help="suggest values runs by the law's variance alone, without the law's error "
        "(design.md is not written)",
    )
    args = parser.parse_args(argv)
    bs.use_cpu_devices()
    t0 = time.time()
    tables, facts = [], {}
    for name in args.sweeps:
        table, facts[name] = run(
            name, args.seeds, args.strategies, args.synthetic, args.window, args.law_only
        )
        tables.append(table)
    table = pd.concat(tables, ignore_index=True)
    print(_md(ranks(summarise(table))) if len(args.strategies) == len(STRATEGIES) else "")
    complete = list(args.strategies) == list(STRATEGIES) and list(args.sweeps) == list(SWEEPS)
    if complete and not (args.synthetic or args.window or args.law_only):
        print(f"wrote {write(table, facts, time.time() - t0, args.seeds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
