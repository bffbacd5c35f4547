"""The default prior of the extrapolation error's scale ``c``, learned by leave-future-out
on the bundled sweeps (``bayescale/evaluation/error_scale.py`` states the model).

Each sweep is scored by leave-future-out with the Chinchilla law at the default cuts
(fit on the smaller runs, score the next larger ones), which gives its log likelihood
``l_d(c)`` of the error's scale on a grid. The prior ``log c ~ Normal(mu, tau)`` is the
one that maximises the marginal likelihood of all sweeps together
(``error_scale.pool``); ``bayescale/discrepancy.py`` keeps its two numbers as
``DEFAULT_PRIOR``. Each sweep's own posterior under that prior is listed too, and, so
that no sweep vouches for itself, the prior pooled from the *other* sweeps.

    python docs/calibration/extrapolation_error.py [--chains 2 --warmup 500 --draws 500]

writes ``docs/calibration/extrapolation_error.md`` and the sweeps' scores,
``extrapolation_error.json`` (``--report-only`` rewrites the report from them).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np
from backtest import PORIAN_GROUP, porian_sweep  # the same configuration as the backtests

import bayescale as bs
from bayescale.discrepancy import PRIOR_SCALES
from bayescale.evaluation.error_scale import learn, pool

HERE = Path(__file__).parent
SCORES = HERE / "extrapolation_error.json"
#: name -> (sweep factory, fit arguments, description)
CASES = {
    "chinchilla": (lambda: bs.load_dataset("chinchilla"), {}, "all points"),
    "gadre_overtrain": (
        lambda: bs.load_dataset("gadre_overtrain"),
        {"pooling": "partial", "target_accept": 0.95},
        "partial pooling over the 3 corpora",
    ),
    "open_athena_isoflops": (
        lambda: bs.load_dataset("open_athena_isoflops"),
        {"pooling": "partial"},
        "partial pooling over the 3 datasets",
    ),
    "porian_rsld": (porian_sweep, {}, f"one configuration ({PORIAN_GROUP})"),
    "misfitting": (
        lambda: bs.load_dataset("misfitting"),
        {"pooling": "partial"},
        "final checkpoints, partial pooling over the groups",
    ),
}


def run(sampler: dict) -> dict:
    """Each case's leave-future-out log likelihood of ``c`` (``(scale,)``), points scored
    and seconds."""
    out = {}
    for name, (load, fit_kwargs, _) in CASES.items():
        started = time.perf_counter()
        lfo = bs.leave_future_out(load(), ["chinchilla"], **sampler, **fit_kwargs)
        loglik = np.asarray(lfo.attrs["lpd_by_scale"]["lpd"]["chinchilla"]).sum(axis=0)
        warnings = sum(len(f["warnings"]) for f in lfo.attrs["fits"])
        out[name] = (loglik, len(lfo), time.perf_counter() - started, warnings)
        best = PRIOR_SCALES[np.argmax(loglik)]
        print(f"{name}: {len(lfo)} points, best c {best:.3g}, {out[name][2]:.0f} s", flush=True)
    return out


def report(results: dict, sampler: dict) -> str:
    logliks = {name: r[0] for name, r in results.items()}
    prior = pool(list(logliks.values()))
    rows = []
    for name, (loglik, points, seconds, warnings) in results.items():
        own = learn(loglik[None], prior)
        others = pool([v for k, v in logliks.items() if k != name])
        held = learn(loglik[None], others)
        rows.append(
            f"| {name} | {points} | {PRIOR_SCALES[np.argmax(loglik)]:.3g} | "
            f"{own.value:.3g} [{own.interval(0.9)[0]:.3g}, {own.interval(0.9)[1]:.3g}] | "
            f"{others.value:.3g} | {held.value:.3g} | {seconds:.0f} | {warnings} |"
        )
    settings = ", ".join(f"{k}={v}" for k, v in sampler.items())
    return "\n".join(
        [
            "# The extrapolation error's scale, learned by leave-future-out",
            "",
            f"Generated {date.today()} by `python docs/calibration/extrapolation_error.py` "
            f"(bayescale {bs.__version__}, Python {platform.python_version()}, "
            f"{platform.machine()} CPU; {settings}). Do not edit by hand; rerun the script.",
            "",
            "Each bundled sweep is scored by leave-future-out with the Chinchilla law at the "
            "default cuts (1/2, 2/3, 5/6 of the runs by compute): fit on the smaller runs, "
            "score the next larger ones, which lie outside the fit's runs "
            "(`bayescale/evaluation/lfo.py`). The density of each scored run at each scale "
            "`c` of the law's error outside the fitted runs (`bayescale/discrepancy.py`) "
            "gives each sweep's log likelihood of `c`; the prior `log c ~ Normal(mu, tau)` "
            "maximises their marginal likelihood together "
            "(`bayescale/evaluation/error_scale.py`).",
            "",
            f"**Pooled prior: mu = {prior.log_median:.3f}, tau = {prior.log_sd:.3f}** "
            f"(median c = {np.exp(prior.log_median):.3g}; the default `extrapolation_error`, "
            f"the one c with the mixture's 90% interval width, {prior.value:.3g}).",
            "",
            "Columns: `best c` maximises the sweep's own leave-future-out likelihood; "
            "`learned` is the one c of its posterior under the pooled prior (the c whose "
            "Normal error has the posterior mixture's 90% interval width) [90% interval of "
            "c]; `prior without it` is the same of the prior pooled from the other sweeps, "
            "and `learned without it` the posterior under that prior, so that no sweep "
            "vouches for itself; `warnings` counts the fits' sampling warnings.",
            "",
            "| sweep | points scored | best c | learned | prior without it | learned without "
            "it | seconds | warnings |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Leave-future-out points of one sweep share its law's misfit, so each sweep "
            "knows less about `c` than its likelihood says; the spread across sweeps (`tau`) "
            "is the honest measure of how much `c` varies.",
            "",
        ]
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--out", type=Path, default=HERE / "extrapolation_error.md")
    parser.add_argument(
        "--scores",
        type=Path,
        default=SCORES,
        help="the JSON file of the sweeps' scores: written after the fits, or, with "
        "--report-only, read instead of fitting (docs/calibration/backtest.py reads it)",
    )
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    sampler = {"chains": args.chains, "warmup": args.warmup, "draws": args.draws}
    if args.report_only:
        saved = json.loads(args.scores.read_text())
        sampler, results = (
            saved["sampler"],
            {name: (np.asarray(r[0]), *r[1:]) for name, r in saved["results"].items()},
        )
    else:
        results = run(sampler)
        rows = {name: (r[0].tolist(), *r[1:]) for name, r in results.items()}
        args.scores.write_text(json.dumps({"sampler": sampler, "results": rows}))
    args.out.write_text(report(results, sampler))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
