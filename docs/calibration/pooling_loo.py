"""PSIS-LOO comparison of the pooling modes on a bundled multi-group sweep; writes
pooling_loo.md here.

    python docs/calibration/pooling_loo.py                     # gadre_overtrain, ~5 min
    python docs/calibration/pooling_loo.py --dataset DATASET --vary e,alpha

Fits the sweep with ``pooling="none"`` (one law), ``"partial"`` (hierarchical over the
groups, ``--vary`` parameters, default all) and ``"separate"`` (one law per group) at 4
chains × (1000 + 1000), and ranks them with :func:`bayescale.compare`.
"""

from __future__ import annotations

import argparse
import platform
import warnings
from datetime import UTC, datetime
from pathlib import Path

import bayescale as bs

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="gadre_overtrain")
    parser.add_argument("--vary", help="comma-separated parameters for pooling='partial'")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sweep = bs.load_dataset(args.dataset)
    vary = tuple(args.vary.split(",")) if args.vary else None
    modes = {"none": {}, "partial": {"vary": vary}, "separate": {}}
    posteriors, seconds, notes = {}, {}, []
    for mode, extra in modes.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            post = bs.fit(sweep, pooling=mode, seed=args.seed, progress=False, **extra)
        posteriors[mode] = post
        seconds[mode] = post.info.sampler.seconds
        notes += [
            f"{mode}: {w.message}" for w in caught if issubclass(w.category, bs.ConvergenceWarning)
        ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = bs.compare(posteriors)
    notes += [str(w.message) for w in caught if issubclass(w.category, bs.ComparisonWarning)]
    shown = table[
        ["rank", "elpd_loo", "p_loo", "elpd_diff", "se", "dse", "weight", "pareto_k_bad"]
    ].round(2)
    header = "| model | " + " | ".join(shown.columns) + " |"
    rule = "|" + "---|" * (len(shown.columns) + 1)
    rows = [
        f"| {name} | " + " | ".join(str(v) for v in row) + " |"
        for name, row in zip(shown.index, shown.itertuples(index=False), strict=True)
    ]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    command = (
        "python docs/calibration/pooling_loo.py"
        + (f" --dataset {args.dataset}" if args.dataset != "gadre_overtrain" else "")
        + (f" --vary {args.vary}" if args.vary else "")
    )
    lines = [
        "# Pooling modes compared by PSIS-LOO",
        "",
        f"Generated {today} by `{command}` (bayescale {bs.__version__}, Python "
        f"{platform.python_version()}, {platform.machine()} CPU). Do not edit by hand.",
        "",
        f"Dataset `{args.dataset}`: {len(sweep.fit_frame)} points in groups "
        f"{', '.join(sweep.groups)}. Chinchilla law, default priors, Student-t likelihood, "
        f"4 chains x (1000 + 1000), seed {args.seed}; partial pooling varies "
        f"{', '.join(vary) if vary else 'every parameter'}. `elpd_loo` is the expected log "
        "predictive density of a left-out point (higher is better), `elpd_diff` and `dse` "
        "its difference from the best model and that difference's standard error, "
        "`pareto_k_bad` the points whose Pareto k exceeds 0.7 (their LOO terms are "
        "unreliable).",
        "",
        header,
        rule,
        *rows,
        "",
        "Sampling seconds: " + ", ".join(f"{m} {s:.0f} s" for m, s in seconds.items()) + ".",
        "",
    ]
    if notes:
        lines += ["Warnings:", "", *[f"- {note}" for note in notes], ""]
    (HERE / "pooling_loo.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
