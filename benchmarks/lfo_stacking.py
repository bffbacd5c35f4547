"""Leave-future-out scores and stacking weights of several laws on bundled sweeps.

    python benchmarks/lfo_stacking.py chinchilla gadre_overtrain --chains 2 --warmup 300 \\
        --draws 300 --out benchmarks/results/lfo_stacking.json

For each dataset, fits each law at each cut (:func:`bayescale.leave_future_out`) and prints
per law ``elpd_lfo``, its standard error, the standard error of the difference to the best
law, the stacking weight, the points scored, and the seconds and warnings of the fits.
Grouped sweeps are fitted with ``--pooling`` (default ``none``: one law for all groups).
With ``--stack`` it runs :func:`bayescale.stack` instead (the same cuts, then each law on
every point), and prints beside the table the PSIS-LOO comparison of the full fits
(:func:`bayescale.compare` with the leave-future-out frame) and the compute-optimal
allocation at ``--budget`` FLOPs of each law and of the stack.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import bayescale as bs
from bayescale.evaluation.lfo import DEFAULT_CUTS, lfo_summary

LAWS = ("chinchilla", "farseer", "chinchilla_beta_n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+")
    parser.add_argument("--laws", nargs="+", default=list(LAWS))
    parser.add_argument("--cuts", nargs="+", type=float, default=list(DEFAULT_CUTS))
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--pooling", default="none")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stack", action="store_true")
    parser.add_argument("--budget", type=float, default=1e24)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    results = {}
    for name in args.datasets:
        sweep = bs.load_dataset(name)
        started = time.perf_counter()
        run = bs.stack if args.stack else bs.leave_future_out
        with warnings.catch_warnings():  # kept per fit in attrs["fits"] and reported below
            warnings.simplefilter("ignore")
            result = run(
                sweep,
                args.laws,
                cuts=tuple(args.cuts),
                seed=args.seed,
                chains=args.chains,
                warmup=args.warmup,
                draws=args.draws,
                pooling=args.pooling,
            )
        seconds = time.perf_counter() - started
        frame = result.lfo if args.stack else result
        table = lfo_summary(frame)
        fits = frame.attrs["fits"]
        table["fit_seconds"] = [
            sum(f["seconds"] for f in fits if f["law"] == law) for law in table.index
        ]
        table["fit_warnings"] = [
            sum(len(f["warnings"]) for f in fits if f["law"] == law) for law in table.index
        ]
        print(f"\n{name}: {len(frame) // len(args.laws)} points scored over cuts {args.cuts}")
        print(f"thresholds (FLOPs): {[f'{t:.3g}' for t in frame.attrs['thresholds']]}")
        print(table.to_string(float_format=lambda v: f"{v:.3f}"))
        print(f"wall {seconds:.0f} s")
        per_cut = frame.pivot_table(index="cut", columns="law", values="lpd", aggfunc="sum")
        print("elpd per cut:\n" + per_cut.to_string(float_format=lambda v: f"{v:.1f}"))
        extra = _stack_report(result, args.budget) if args.stack else {}
        results[name] = {
            **extra,
            "table": table.reset_index().to_dict(orient="records"),
            "per_cut": per_cut.reset_index().to_dict(orient="records"),
            "thresholds": list(frame.attrs["thresholds"]),
            "fits": fits,
            "wall_seconds": round(seconds, 1),
        }
    if args.out:
        settings = {k: v for k, v in vars(args).items() if k != "out"}
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump({"settings": settings, "results": results}, handle, indent=1, default=str)


def _stack_report(mixed: bs.Stack, budget: float) -> dict:
    """Print and return LOO beside LFO for the full fits, and the optimum at ``budget``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = bs.compare(dict(mixed.components), lfo=mixed.lfo)
        shown = ["elpd_loo", "se", "weight", "pareto_k_bad", "elpd_lfo", "se_lfo", "weight_lfo"]
        print(
            "LOO (full fits) beside LFO:\n" + table[shown].to_string(float_format="{:.3f}".format)
        )
        rows = {label: post.optimal(budget) for label, post in mixed.components.items()}
        rows["stack"] = mixed.optimal(budget)
    optimum = {}
    for label, draws in rows.items():
        interval = draws.interval(0.9).set_index("quantity")
        optimum[label] = interval.drop(columns=["budget", "units"]).to_dict(orient="index")
        n_opt, tpp = interval.loc["n_opt"], interval.loc["tokens_per_param"]
        print(
            f"{label:>18}: N_opt {n_opt['median']:.3g} [{n_opt['eti_5%']:.3g}, "
            f"{n_opt['eti_95%']:.3g}], tokens/param {tpp['median']:.1f} "
            f"[{tpp['eti_5%']:.1f}, {tpp['eti_95%']:.1f}] at {budget:.3g} FLOPs"
        )
    return {"compare": table[shown].reset_index().to_dict(orient="records"), "optimum": optimum}


if __name__ == "__main__":
    main()
