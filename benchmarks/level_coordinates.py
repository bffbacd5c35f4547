"""Chinchilla's law sampled on level coordinates against the shear alone, side by side.

    python benchmarks/level_coordinates.py [--seeds 0 1 2] [--target-accept 0.8]

Two samplings of the same posterior (:mod:`bayescale.laws.law`: the level coordinates
have unit Jacobian): ``level``, Chinchilla's law as bayescale fits it (the terms at the
data's centre as level, shares and slopes), and ``shear``, the same law with ``level=()``
(intercepts sheared, exponents and ``e`` sampled directly). Both with every other setting
of :func:`bayescale.fit` at its default (4 × (1000 + 1000), Laplace start, dense mass
matrix), in one process, on:

* three small ladders of Gadre et al. (the four smallest sizes × token multipliers 0.5–8,
  final losses, 20 points, one per corpus): the case of issue 18, item 5;
* the 240 Hoffmann et al. runs of the Chinchilla reference fit.

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
from bayescale.laws import CHINCHILLA
from bayescale.reference import reference_sweep

LAWS = {"level": CHINCHILLA, "shear": dataclasses.replace(CHINCHILLA, level=())}


def problems() -> dict[str, bs.Sweep]:
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
        out[f"ladder {corpus}"] = bs.Sweep.from_frame(rows)
    out["chinchilla 240"] = reference_sweep("chinchilla")
    return out


def measure(sweep: bs.Sweep, law, seed: int, target_accept: float) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the diagnostics are the measurement
        post = bs.fit(sweep, law=law, seed=seed, target_accept=target_accept, progress=False)
    summary = post.summary().loc[list(CHINCHILLA.params)]
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
    args = parser.parse_args()
    rows = []
    for problem, sweep in problems().items():
        for seed in args.seeds:
            for name, law in LAWS.items():
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
