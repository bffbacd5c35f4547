"""Extrapolation backtests of bayescale against the Huber + bootstrap and split-conformal
baselines.

Fits on the smaller runs of bundled final-loss datasets, predicts the held-out larger
runs and writes ``docs/calibration/backtest.md`` (coverage of the 50/80/90% predictive
intervals, absolute relative error of the median, interval scores, per method). Every
case runs twice: split by compute and split by model size N.

    python docs/calibration/backtest.py                  # all cases, ~30-50 min on 2 cores
    python docs/calibration/backtest.py chinchilla      # some cases only
    python docs/calibration/backtest.py --splits n_params   # one split only
    python docs/calibration/backtest.py --full-grid     # also check the screened L-BFGS
                                                        # starts against all 4,500 (slow)
    python docs/calibration/backtest.py synthetic --chains 1 --warmup 100 --draws 100 \
        --n-boot 10 --replicates 1 --out /tmp/backtest.md   # a smoke run, about a minute
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

import bayescale as bs
from bayescale.discrepancy import DEFAULT_PRIOR, ScalePrior
from bayescale.draws import interval_columns
from bayescale.evaluation import baseline
from bayescale.evaluation.error_scale import pool
from bayescale.executors import map_calls
from bayescale.reference import reference_sweep

HERE = Path(__file__).resolve().parent
ERROR_SCORES = HERE / "extrapolation_error.json"
SAMPLER = {"chains": 4, "warmup": 500, "draws": 500}
N_BOOT = 200
SYNTHETIC_REPLICATES = 10
SPLITS = ("compute", "n_params")
#: the laws stacked beside the single fit, on the cases without pooling (the laws' pooled
#: fits would multiply the fits of a case several times over)
STACK_LAWS = ("chinchilla", "chinchilla_beta_n", "farseer")
PORIAN_GROUP = "rw/hparams=base/warmup=short/decay=chinchilla/N=standard/loss=val"


def porian_sweep() -> bs.Sweep:
    """porian_rsld's one configuration that the backtests (and extrapolation_error.py) use."""
    sweep = bs.load_dataset("porian_rsld")
    return sweep.exclude(
        sweep.frame["group"] != PORIAN_GROUP, reason=f"other configurations than {PORIAN_GROUP}"
    )


def synthetic_sweep(seed: int = 0) -> bs.Sweep:
    """A control where the law is right: the Chinchilla law near Besiroglu et al.'s fit
    (E=1.8, A=450, alpha=0.34, B=2000, beta=0.37) on 10 sizes (5e7-5e9) x 6 token ratios
    (2-200 tokens per parameter), Normal noise of 0.01 on log loss."""
    rng = np.random.default_rng(seed)
    n = np.repeat(np.geomspace(5e7, 5e9, 10), 6)
    d = n * np.tile(np.geomspace(2, 200, 6), 10)
    log_loss = np.logaddexp(
        np.log(1.8),
        np.logaddexp(np.log(450.0) - 0.34 * np.log(n), np.log(2000.0) - 0.37 * np.log(d)),
    )
    loss = np.exp(log_loss + 0.01 * rng.standard_normal(n.size))
    return bs.Sweep.from_frame(
        pd.DataFrame({"n_params": n, "n_tokens": d, "loss": loss}), source={"name": "synthetic"}
    )


def athena_mask(sweep: bs.Sweep) -> pd.Series:
    """open_athena_isoflops' training runs of the split by compute: budgets up to 9e19."""
    return sweep.frame["budget"] <= 9.1e19


#: name -> (sweep factory, backtest arguments, description of the data,
#: {split: (backtest arguments of the split, description of the split)})
CASES = {
    "chinchilla": (
        lambda: reference_sweep("chinchilla"),
        {},
        "240 points (the 5 rows Besiroglu et al. dropped stay excluded)",
        {
            "compute": (
                {"split": "compute", "frac": 0.75},
                "train on runs with 6ND at or below the 75% quantile, hold out the rest",
            ),
            "n_params": (
                {"split": "n_params", "frac": 0.75},
                "train on models up to the 75% quantile of N (1.8B), hold out the larger",
            ),
        },
    ),
    "gadre_overtrain": (
        lambda: bs.load_dataset("gadre_overtrain"),
        {"fit_kwargs": {"pooling": "partial", "target_accept": 0.95}},
        "partial pooling over the 3 corpora, baselines per corpus",
        {
            "compute": (
                {"split": "compute", "frac": 0.75},
                "train on runs with 6ND at or below the 75% quantile, hold out the rest",
            ),
            "n_params": (
                {"split": "n_params", "threshold": 5e8},
                "train on the 10M-411M models (all token multipliers), hold out the 1.4B and "
                "6.9B runs (the paper's extrapolation targets)",
            ),
        },
    ),
    "open_athena_isoflops": (
        lambda: bs.load_dataset("open_athena_isoflops"),
        {"fit_kwargs": {"pooling": "partial"}},
        "partial pooling over the 3 datasets, baselines per dataset",
        {
            "compute": (
                {"split": "mask"},
                "train on isoFLOP budgets up to 9e19, hold out 1e20-1e21 (grid budgets 1.8e20, "
                "3e20 and the validation-optimal runs)",
            ),
            "n_params": (
                {"split": "n_params", "frac": 0.75},
                "train on models up to the 75% quantile of N, hold out the larger (at "
                "smaller compute than the largest training run: larger models on the same "
                "isoFLOP budgets)",
            ),
        },
    ),
    "porian_rsld": (
        porian_sweep,
        {},
        f"one configuration ({PORIAN_GROUP}, 88 points)",
        {
            "compute": (
                {"split": "compute", "threshold": 4e18},
                "train on budgets up to 3.2e18, hold out 6.4e18-2.56e19",
            ),
            "n_params": (
                {"split": "n_params", "frac": 0.75},
                "train on models up to the 75% quantile of N, hold out the larger",
            ),
        },
    ),
    "synthetic": (
        synthetic_sweep,
        {},
        "control, the law is right: 60 points drawn from a Chinchilla law with Normal noise "
        "(sd 0.01 on log loss; 10 sizes 5e7-5e9 x 2-200 tokens per parameter); independent "
        "replicate sweeps, their held-out points pooled, since one sweep's held-out points "
        "share one fitted law and one replicate says little about calibration",
        {
            "compute": (
                {"split": "compute", "frac": 0.75},
                "train on runs up to the 75% quantile of 6ND",
            ),
            "n_params": (
                {"split": "n_params", "frac": 0.75},
                "train on models up to the 75% quantile of N",
            ),
        },
    ),
}


def _pooled(results: list) -> bs.BacktestResult:
    """Replicate backtests as one result: held-out points pooled, scores recomputed."""
    points = pd.concat(
        [r.points.assign(replicate=k) for k, r in enumerate(results)], ignore_index=True
    )
    levels = results[0].meta["levels"]
    lower, upper = interval_columns(max(levels))  # the widest interval
    rows = []
    for method, sub in points.groupby("method", sort=False):
        row = {
            "method": method,
            "group": "all",
            "n_train": sum(r.split["n_train"] for r in results),
            "n_test": len(sub),
            "extrapolation": max(r.split["extrapolation"] for r in results),
        }
        for level in levels:
            row[f"coverage_{100 * level:g}"] = float(sub[f"covered_{100 * level:g}"].mean())
        relative = (sub["median"] - sub["loss"]) / sub["loss"]
        row.update(
            are_median=float(sub["are"].median()),
            are_mean=float(sub["are"].mean()),
            bias=float(relative.median()),
            width=float(((sub[upper] - sub[lower]) / sub["median"]).median()),
        )
        for level in levels:
            name = f"interval_score_{100 * level:g}"
            row[name] = float(sub[name].mean())
        row["wis"] = float(sub["wis"].mean())
        rows.append(row)
    first = results[0]
    split = {**first.split, "n_train": rows[0]["n_train"], "n_test": rows[0]["n_test"]}
    meta = {
        **first.meta,
        "replicates": len(results),
        "fit_seconds": sum(r.meta["fit_seconds"] for r in results),
        "bootstrap_seconds": sum(r.meta["bootstrap_seconds"] for r in results),
        "conformal_seconds": sum(r.meta["conformal_seconds"] for r in results),
        "fit_warnings": [
            f"replicate {k}: {w}" for k, r in enumerate(results) for w in r.meta["fit_warnings"]
        ],
        "extrapolation_errors": [r.meta["extrapolation_error"]["value"] for r in results],
        "stack_weights_all": [r.meta["stack_weights"] for r in results],
    }
    return bs.BacktestResult(
        table=pd.DataFrame(rows), points=points, split=split, posterior=first.posterior, meta=meta
    )


def run_case(
    name: str,
    split: str,
    sampler: dict,
    n_boot: int = N_BOOT,
    replicates: int = SYNTHETIC_REPLICATES,
    seed: int = 0,
) -> bs.BacktestResult:
    """One case, split by ``split`` (``"compute"`` or ``"n_params"``)."""
    if name == "synthetic":
        return _pooled(
            [
                _run(name, split, synthetic_sweep(k), sampler, n_boot, seed)
                for k in range(replicates)
            ]
        )
    return _run(name, split, CASES[name][0](), sampler, n_boot, seed)


def _in_own_process(name: str, split: str, sampler: dict, n_boot: int, replicates: int):
    """:func:`run_case` in a fresh process: XLA (JAX 0.10.2) has crashed with a
    segmentation fault in compilation part-way through processes that compile many fits
    (docs/performance.md; this script's one process did after about 40), and one case
    compiles at most a dozen. Its warnings are re-emitted here (bayescale.executors)."""
    spawn = multiprocessing.get_context("spawn")  # JAX is not fork-safe
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        (result,) = map_calls(run_case, [(name, split, sampler, n_boot, replicates)], pool)
    return result


def error_prior(name: str) -> ScalePrior:
    """The prior of the extrapolation error's scale for case ``name``: pooled over the
    *other* sweeps' leave-future-out scores (``extrapolation_error.json``), so that no case
    vouches for itself; the default for a case not among them."""
    results = json.loads(ERROR_SCORES.read_text())["results"]
    if name not in results:
        return DEFAULT_PRIOR
    return pool([np.asarray(r[0]) for case, r in results.items() if case != name])


def _run(
    name: str, split: str, sweep: bs.Sweep, sampler: dict, n_boot: int, seed: int
) -> bs.BacktestResult:
    _, common, _, splits = CASES[name]
    args = {**common, **splits[split][0]}
    if args["split"] == "mask":
        args["split"] = athena_mask(sweep)
    args["fit_kwargs"] = {**sampler, **common.get("fit_kwargs", {})}
    args["learn_error"] = error_prior(name)
    if "pooling" not in args["fit_kwargs"]:
        args["laws"] = STACK_LAWS
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", bs.ConvergenceWarning)
        result = bs.backtest(sweep, n_boot=n_boot, seed=seed, **args)
    for w in caught:
        if not issubclass(w.category, bs.ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result


def _learned(meta) -> str:
    """The learned scale of the extrapolation error (per replicate, for pooled replicates)."""
    if "extrapolation_errors" in meta:
        return ", ".join(f"{c:.3g}" for c in meta["extrapolation_errors"])
    error = meta["extrapolation_error"]
    low, high = error["interval_90"]
    return f"{error['value']:.3g} (90% interval {low:.3g} to {high:.3g})"


def _weights(meta) -> str:
    """The stack's weights (per replicate, for pooled replicates), or nothing."""
    weights = meta.get("stack_weights_all") or [meta.get("stack_weights")]
    if not any(weights):
        return ""
    text = "; ".join(", ".join(f"{law} {w:.2f}" for law, w in ws.items()) for ws in weights)
    return f" Stack weights: {text}."


def full_grid_check() -> dict:
    """Screened (top 100) vs all 4,500 starts on the 240 Chinchilla points."""
    sweep = reference_sweep("chinchilla")
    out = {}
    for label, top in (("screened", baseline.TOP_STARTS), ("full", None)):
        started = time.perf_counter()
        fit = baseline.fit_huber(sweep, top=top)
        out[label] = (fit, time.perf_counter() - started)
    return out


def _by_distance(result: bs.BacktestResult, method: str = "bayescale") -> str:
    """Median signed relative error of ``method``'s median, for the nearer and the farther
    half of the held-out points (by compute / largest training compute)."""
    points = result.points[result.points["method"] == method]
    error = (points["median"] - points["loss"]) / points["loss"]
    near = points["compute_ratio"] <= points["compute_ratio"].median()
    return (
        f"{method} median error {100 * error[near].median():+.2f}% on the nearer half "
        f"(compute ratio {points['compute_ratio'][near].min():.2g}-"
        f"{points['compute_ratio'][near].max():.2g}), {100 * error[~near].median():+.2f}% "
        f"on the farther half (up to {points['compute_ratio'].max():.3g})"
    )


def baseline_check() -> str:
    """The baseline on Besiroglu et al.'s 240 Chinchilla points, against their estimate."""
    fit = baseline.fit_huber(reference_sweep("chinchilla"))
    c = fit.constants
    return (
        f"Baseline check: on the 240 Chinchilla points the Huber fit gives E = {c['E']:.4g}, "
        f"A = {c['A']:.4g}, B = {c['B']:.4g}, alpha = {c['alpha']:.4g}, beta = "
        f"{c['beta']:.4g}; Besiroglu et al. 2024 print E = 1.82, A = 482.01, B = 2085.43, "
        "alpha = 0.3478, beta = 0.3658 (rounded; the Huber objective at their values is "
        "higher than at this fit)."
    )


def _fmt_table(table: pd.DataFrame) -> str:
    shown = table.copy()
    for column in shown.columns:
        if column.startswith("coverage_"):
            shown[column] = shown[column].map(lambda v: f"{v:.2f}")
        if column.startswith("interval_score_") or column == "wis":
            shown[column] = shown[column].map(lambda v: f"{v:.4f}")
    for column in ("are_median", "are_mean", "bias", "width"):
        shown[column] = shown[column].map(
            lambda v, column=column: f"{100 * v:+.2f}%" if column == "bias" else f"{100 * v:.2f}%"
        )
    shown["extrapolation"] = shown["extrapolation"].map(lambda v: f"{v:.3g}x")
    header = "| " + " | ".join(map(str, shown.columns)) + " |"
    rule = "|" + "|".join("---" for _ in shown.columns) + "|"
    rows = ["| " + " | ".join(map(str, row)) + " |" for row in shown.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def write_report(
    results: dict,
    seconds: dict,
    check: dict | None,
    path: Path,
    command: str,
    reproduction: str,
    sampler: dict,
    n_boot: int,
) -> None:
    """``results`` and ``seconds`` are keyed by ``(case, split)``."""
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    main = pd.concat(
        [
            r.table[r.table["group"] == "all"].assign(dataset=name, split=split)
            for (name, split), r in results.items()
        ],
        ignore_index=True,
    )
    first = ["dataset", "split"]
    main = main[first + [c for c in main.columns if c not in (*first, "group")]]
    lines = [
        "# Extrapolation backtests",
        "",
        f"Generated {today} by `{command}` (bayescale {bs.__version__}, Python "
        f"{platform.python_version()}, {platform.machine()} CPU). Do not edit by hand; rerun "
        "the script.",
        "",
        "Each case fits on the smaller runs of a bundled sweep, predicts the held-out larger "
        "runs and scores the central predictive intervals (`bs.backtest`, see "
        "`bayescale/evaluation/backtest.py`). Every case is split twice: by compute "
        "(`split = compute`, a run's 6ND) and by model size (`split = n_params`). "
        "bayescale: NUTS with "
        f"{sampler['chains']} chains x ({sampler['warmup']} warmup + {sampler['draws']} "
        "draws), default priors, Student-t likelihood, seed 0. Baselines: the Chinchilla "
        "replication recipe (Huber loss, delta = 1e-3, on log loss; L-BFGS-B from the 100 "
        "best of Hoffmann's 4,500 grid starts; "
        f"{n_boot} bootstrap refits from the best start; `bayescale/evaluation/baseline.py`), "
        "and split-conformal intervals from the same Huber fit "
        "(`bayescale/evaluation/conformal.py`).",
        "",
        "Methods: `bayescale` = posterior predictive of a new measured loss, with the "
        "law's error outside the fitted runs (`bayescale/discrepancy.py`: per draw, "
        "c·σ·z·h, h the e-folds of N and D from the convex hull of the training runs, "
        "z ~ Normal(0, 1); c learned by leave-future-out on the training runs alone "
        "(`bs.backtest(learn_error=...)`), as a user would on their sweep, from a prior "
        "pooled over the *other* bundled sweeps (`extrapolation_error.md`), so that no "
        "case vouches for itself; each case's learned c is in the per-split sections); "
        "`bayescale_mean` = the same without the measurement noise (a diagnostic); "
        "`bayescale_no_discrepancy` = `bayescale` without the law's error term, i.e. what "
        "bayescale reported before that term was added; "
        f"`stack` = the leave-future-out stack of {', '.join(STACK_LAWS)} on the training "
        "runs (`bs.stack`, each law's c learned as above), on the cases without pooling; "
        "`law:<name>` = each law's own posterior in that stack; "
        "`bootstrap` = bootstrap distribution of the law's prediction (what is usually "
        "reported; ignores observation noise); `bootstrap_noise` = the same plus Normal "
        "noise at each replicate's robust residual scale; `conformal` = split-conformal "
        "intervals: the Huber fit on the smaller two thirds of the training runs, times "
        "exp(+-q), q the ceil((n + 1)·level)-th smallest absolute log-loss residual of the "
        "n largest training runs (by the split's key), infinite when n is too small (a 90% "
        "interval needs n >= 9).",
        "",
        "Columns: `coverage_X` = share of held-out losses inside the central X% interval "
        "(nominal X/100); `are_median`, `are_mean` = median and mean over held-out points "
        "of |median prediction - loss| / loss; `bias` = median signed relative error "
        "(> 0: predicts too high a loss); `width` = median width of the 90% interval "
        "relative to the median; `extrapolation` = largest held-out compute / largest "
        "training compute (6ND); `interval_score_X` = mean interval score of the X% "
        "interval on log loss, (u - l) + (2/alpha)·(distance by which it misses), alpha = "
        "1 - X/100 (Gneiting & Raftery 2007; lower is better, 0.01 is about 1% of the "
        "loss); `wis` = mean weighted interval score over the levels and the median "
        "(Bracher et al. 2021), which approximates the CRPS of log loss.",
        "",
        "With n held-out points, the observed coverage of a calibrated 90% interval "
        "scatters by about ±2·sqrt(0.09/n) (±0.06 at n = 100, ±0.2 at n = 9), and held-out "
        "points of one sweep are not independent, so small differences mean little.",
        "",
        "## Results (all groups together)",
        "",
        _fmt_table(main),
        "",
    ]
    grouped = {key: r for key, r in results.items() if (r.table["group"] != "all").any()}
    if grouped:
        lines += ["## Per group", ""]
        for (name, split), r in grouped.items():
            per = r.table[r.table["group"] != "all"]
            lines += [f"### {name}, split by {split}", "", _fmt_table(per), ""]
    lines += ["## Cases", ""]
    for (name, split), r in results.items():
        s, m = r.split, r.meta
        _, _, about, splits = CASES[name]
        k = m.get("replicates")
        replicates = f" ({k} sweeps, seeds 0-{k - 1})" if k else ""
        lines.append(
            f"- **{name}, split by {split}**: {about}{replicates}; {splits[split][1]}. "
            f"{s['n_train']} training / {s['n_test']} held-out points; largest training "
            f"compute {s['train_max_compute']:.3g}, held-out {s['test_min_compute']:.3g}-"
            f"{s['test_max_compute']:.3g} FLOPs. Fit (with leave-future-out) "
            f"{m['fit_seconds']:.0f} s, bootstrap {m['bootstrap_seconds']:.0f} s, conformal "
            f"{m['conformal_seconds']:.0f} s, case total {seconds[name, split]:.0f} s. "
            f"Learned c: {_learned(m)}.{_weights(m)} {_by_distance(r)}."
        )
        for text in m["fit_warnings"]:
            lines.append(f"  - fit warning: {text}")
    lines += ["", reproduction, ""]
    if check is not None:
        (screened, t_s), (full, t_f) = check["screened"], check["full"]
        lines += [
            "## Screened vs full L-BFGS starts (Chinchilla, 240 points)",
            "",
            f"- screened (100 starts, {t_s:.0f} s): {screened!r}, objective "
            f"{screened.objective:.10g}",
            f"- full grid (4,500 starts, {t_f:.0f} s): {full!r}, objective {full.objective:.10g}",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "cases", nargs="*", metavar="CASE", help=f"cases to run (default all: {', '.join(CASES)})"
    )
    parser.add_argument(
        "--full-grid",
        action="store_true",
        help="also compare the screened L-BFGS starts with all 4,500",
    )
    parser.add_argument(
        "--splits", nargs="+", choices=SPLITS, default=list(SPLITS), help="splits to run"
    )
    parser.add_argument("--chains", type=int, default=SAMPLER["chains"])
    parser.add_argument("--warmup", type=int, default=SAMPLER["warmup"])
    parser.add_argument("--draws", type=int, default=SAMPLER["draws"])
    parser.add_argument("--n-boot", type=int, default=N_BOOT, help="bootstrap replicates")
    parser.add_argument(
        "--replicates",
        type=int,
        default=SYNTHETIC_REPLICATES,
        help="replicate sweeps of the synthetic case",
    )
    parser.add_argument("--out", type=Path, default=HERE / "backtest.md")
    args = parser.parse_args(argv)
    names = args.cases or list(CASES)
    unknown = sorted(set(names) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {list(CASES)}")
    sampler = {"chains": args.chains, "warmup": args.warmup, "draws": args.draws}
    results, seconds = {}, {}
    for name in names:
        for split in args.splits:
            started = time.perf_counter()
            results[name, split] = _in_own_process(
                name, split, sampler, args.n_boot, args.replicates
            )
            seconds[name, split] = time.perf_counter() - started
            print(f"== {name}, split by {split} ({seconds[name, split]:.0f} s)", flush=True)
            print(results[name, split].table.round(4).to_string(), flush=True)
    reproduction = baseline_check()
    check = full_grid_check() if args.full_grid else None
    command = "python docs/calibration/backtest.py" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:])
    )
    write_report(results, seconds, check, args.out, command, reproduction, sampler, args.n_boot)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
