"""Laws sampled on level coordinates against the shear alone, side by side.

    python benchmarks/level_coordinates.py [--seeds 0 1 2] [--target-accept 0.8]
        [--problems datablations]

Two samplings of the same posterior (:mod:`bayescale.laws.law`: the level coordinates
have unit Jacobian): ``level``, the law as bayescale fits it (the terms at the data's
centre as level, shares and slopes), and ``shear``, the same law with ``level=()``
(intercepts sheared, exponents and ``e`` sampled directly). Both with every other setting
of :func:`bayescale.fit` at its default (4 × (1000 + 1000), Laplace start, dense mass
matrix), in one process, on:

* three small ladders of Gadre et al. (the four smallest sizes × token multipliers 0.5–8,
  final losses, 20 points, one per corpus), Chinchilla's law: the case of issue 18, item 5;
* the 240 Hoffmann et al. runs of the Chinchilla reference fit, Chinchilla's law;
* the 24 final points of the bundled ``hitchhiker_datablations`` C4 runs (2.8B, 4.2B and
  8.7B parameters at 1-44 epochs), the data-constrained law: a small sweep whose fresh
  runs have D/N ≈ 20 at every size, so the repeated runs alone tell ``A/N'^α`` from
  ``B/D'^β``.

Prints per fit: seconds of sampling, leapfrog steps per draw, min bulk and tail ESS over
the law's parameters, max R-hat, divergences; and per problem the ratios shear / level of
steps per draw and of min bulk ESS per second of sampling.
"""

from __future__ import annotations

import argparse
import dataclasses
import warnings

import pandas as pd

import bayescale as bs
from bayescale.laws import CHINCHILLA, Law, get_law
from bayescale.reference import reference_sweep


def problems() -> dict[str, tuple[bs.Sweep, Law]]:
    frame = bs.load_dataset("gadre_overtrain").frame
    sizes = sorted(frame["n_params"].unique())[:4]
    out = {}
    for corpus in ("c4_original", "rpj", "rw_original"):
        keep = (
            (frame["group"] == corpus)
            & frame["n_params"].isin(sizes)
            & frame["chinchilla_multiplier"].isin([0.5, 1, 2, 4, 8])
        )
        rows = frame.loc[keep, ["n_params", "n_tokens", "loss"]].reset_index(drop=True)
        out[f"ladder {corpus}"] = (bs.Sweep.from_frame(rows), CHINCHILLA)
    out["chinchilla 240"] = (reference_sweep("chinchilla"), CHINCHILLA)
    frame = bs.load_dataset("hitchhiker_datablations").frame
    frame = frame[frame["data"] == "c4"]
    final = frame.loc[frame.groupby("run")["n_tokens"].idxmax()]
    columns = ["n_params", "n_tokens", "loss", "unique_tokens"]
    out["datablations"] = (
        bs.Sweep.from_frame(final[columns].reset_index(drop=True)),
        get_law("data_constrained"),
    )
    return out


def measure(sweep: bs.Sweep, law: Law, seed: int, target_accept: float) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the diagnostics are the measurement
        post = bs.fit(sweep, law=law, seed=seed, target_accept=target_accept, progress=False)
    summary = post.summary().loc[list(law.params)]
    stats = post.groups["sample_stats"]
    seconds = post.info.sampler.seconds
    return {
        "seconds": seconds,
        "steps_per_draw": float(stats["n_steps"].mean()),
        "ess_bulk": summary["ess_bulk"].min(),
        "ess_tail": summary["ess_tail"].min(),
        "r_hat": summary["r_hat"].max(),
        "divergences": int(stats["diverging"].sum()),
        "ess_per_s": summary["ess_bulk"].min() / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--target-accept", type=float, default=0.8)
    parser.add_argument(
        "--problems", nargs="+", default=None, help="names starting with these (default: all)"
    )
    args = parser.parse_args()
    rows = []
    for problem, (sweep, fitted) in problems().items():
        if args.problems and not problem.startswith(tuple(args.problems)):
            continue
        laws = {"level": fitted, "shear": dataclasses.replace(fitted, level=())}
        for seed in args.seeds:
            for name, law in laws.items():
                rows.append(
                    {"problem": problem, "seed": seed, "coordinates": name}
                    | measure(sweep, law, seed, args.target_accept)
                )
                print(pd.DataFrame(rows[-1:]).round(3).to_string(header=len(rows) == 1))
    table = pd.DataFrame(rows)
    print("\nEvery fit:\n" + table.round(3).to_string(index=False))
    by = table.groupby(["problem", "coordinates"])
    means = by[["steps_per_draw", "ess_per_s"]].mean().unstack()
    worst = by.agg(r_hat=("r_hat", "max"), divergences=("divergences", "sum")).unstack()
    worst.columns = [f"{stat} {name}" for stat, name in worst.columns]
    ratios = pd.DataFrame(
        {
            "steps/draw shear/level": means["steps_per_draw"]["shear"]
            / means["steps_per_draw"]["level"],
            "ESS/s level/shear": means["ess_per_s"]["level"] / means["ess_per_s"]["shear"],
        }
    ).join(worst)
    print("\nPer problem, over seeds:\n" + ratios.round(3).to_string())


if __name__ == "__main__":
    main()
