"""Which distance from the fitted runs does the law's extrapolation error grow with?

The law's error outside the fitted runs (``bayescale/discrepancy.py``) is ``δ = c σ z h``
per draw, ``h`` the L1 distance in e-folds of ``(log N, log D)`` from the convex hull of
the fitted runs (``bayescale/fitted_region.py``). This script asks the bundled sweeps'
leave-future-out which ``h`` explains the law's errors best, each at its best scale:

- ``hull, L1``: the distance bayescale uses;
- ``hull, Euclidean``: the straight-line distance from the same hull, which makes a step
  along the diagonal of compute cheaper, relative to a step in ``N`` or ``D`` alone, by
  ``√2``;
- ``compute``: the e-folds of ``6ND`` beyond the largest fitted run's, blind to how far
  ``N`` or ``D`` alone leave the fitted runs;
- ``axes``: ``c_N h_N + c_D h_D``, the e-folds of ``N`` and of ``D`` outside the fitted
  ranges of each, with a scale per axis (two parameters where the others have one);
- ``hull, L1, a scale per axis``: the L1 distance from the hull with ``log N`` and
  ``log D`` stretched by ``c_N`` and ``c_D``.

For each sweep of ``extrapolation_error.py`` (the same sweeps and fit settings, the
Chinchilla law, the default cuts: fit on the runs up to each cut, score the next band),
each distance's log likelihood of the scored runs is maximised over its scales on a grid
(0.05 to 50, 31 points a dimension); the table gives the best scales and the log likelihood
against the ``hull, L1`` row's.

    python docs/calibration/error_distance.py [--chains 2 --warmup 400 --draws 400]

writes ``docs/calibration/error_distance.md``.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from extrapolation_error import CASES  # the same sweeps and fit settings
from reports import generated, markdown_table, run_and_report

import bayescale as bs
from bayescale.evaluation.error_scale import log_density_by_scale
from bayescale.evaluation.lfo import (
    DEFAULT_CUTS,
    _fit_before,
    _residuals,
    lfo_bands,
    models_for,
)
from bayescale.evaluation.splits import scored_rows
from bayescale.fitted_region import Region

HERE = Path(__file__).parent
#: the scales tried, per dimension: 0.05 to 50 spans the sweeps' best single scales
#: (0.4-6.5, extrapolation_error.md) with a decade to spare each side; 31 points, a 26% step
SCALES = np.geomspace(0.05, 50.0, 31)
DISTANCES = ("hull, L1", "hull, Euclidean", "compute", "axes", "hull, L1, a scale per axis")


def euclidean(region: Region, log_n: np.ndarray, log_d: np.ndarray) -> np.ndarray:
    """The Euclidean distance from ``region`` (zero inside it), per point."""
    starts, steps, _ = region.edges
    x = np.stack([log_n, log_d], axis=-1)[:, None, :]  # (point, 1, 2)
    offset = x - starts  # (point, edge, 2)
    length2 = (steps**2).sum(axis=-1)
    t = np.clip((offset * steps).sum(-1) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    h = np.sqrt(((offset - t[..., None] * steps) ** 2).sum(-1)).min(axis=-1)
    inside = region.distance(log_n, log_d) == 0  # the hull's own test of the inside
    return np.where(inside, 0.0, h)


def beyond(values: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """How far each of ``values`` lies outside the range of ``fitted``."""
    return np.maximum(values - fitted.max(), 0.0) + np.maximum(fitted.min() - values, 0.0)


def log_likelihoods(post: bs.Posterior, test: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each distance's log likelihood of ``test``'s runs under ``post``, on the grid of
    scales: ``(scale,)`` for one scale, ``(scale_N, scale_D)`` for two."""
    resid, unit, noise, h = _residuals(post, test)
    region = Region.from_data(post.info.data)  # the hull that ``h`` is measured from
    fitted = region.vertices
    log_n = np.log(test["n_params"].to_numpy(float))
    log_d = np.log(test["n_tokens"].to_numpy(float))

    def one_scale(distance):
        return log_density_by_scale(resid, unit, noise, distance, SCALES).sum(axis=0)

    def two_scales(distance_at):
        return np.array(
            [
                [
                    log_density_by_scale(resid, unit, noise, distance_at(cn, cd), [1.0]).sum()
                    for cd in SCALES
                ]
                for cn in SCALES
            ]
        )

    h_n, h_d = beyond(log_n, fitted[:, 0]), beyond(log_d, fitted[:, 1])
    log_compute = log_n + log_d  # the constant log 6 cancels against the fitted runs'
    return {
        "hull, L1": one_scale(h),
        "hull, Euclidean": one_scale(euclidean(region, log_n, log_d)),
        "compute": one_scale(np.maximum(log_compute - fitted.sum(axis=1).max(), 0.0)),
        "axes": two_scales(lambda cn, cd: cn * h_n + cd * h_d),
        "hull, L1, a scale per axis": two_scales(
            lambda cn, cd: Region.from_vertices(fitted * [cn, cd]).distance(cn * log_n, cd * log_d)
        ),
    }


def sweep_scores(sweep: bs.Sweep, fit_kwargs: dict) -> tuple[dict[str, np.ndarray], int]:
    """Each distance's leave-future-out log likelihood on ``sweep``, summed over the cuts,
    and the number of runs scored: the fits and scored runs of
    :func:`bayescale.leave_future_out`."""
    band = lfo_bands(sweep, DEFAULT_CUTS)
    model = models_for(["chinchilla"], fit_kwargs, seed=0)["chinchilla"]
    scored = sweep.fit_frame.loc[scored_rows(sweep)]
    total, count = {}, 0
    for k in range(len(DEFAULT_CUTS)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # small fits' R-hat and ESS, as in the others
            post = _fit_before(sweep, band, k, model)
        test = scored[band.loc[scored.index] == k]
        for name, ll in log_likelihoods(post, test).items():
            total[name] = total.get(name, 0.0) + ll
        count += len(test)
    return total, count


def best(ll: np.ndarray) -> tuple[str, float]:
    """The best scale(s) on the grid, as text, and the log likelihood there."""
    index = np.unravel_index(np.argmax(ll), ll.shape)
    scales = ", ".join(f"{SCALES[i]:.2g}" for i in index)
    return scales, float(ll[index])


def run(sampler: dict) -> pd.DataFrame:
    rows = []
    for name, (load, fit_kwargs, _) in CASES.items():
        started = time.perf_counter()
        total, scored = sweep_scores(load(), {**sampler, **fit_kwargs})
        reference = best(total["hull, L1"])[1]
        for distance in DISTANCES:
            scales, ll = best(total[distance])
            rows.append(
                {
                    "sweep": name,
                    "runs scored": scored,
                    "distance": distance,
                    "best scale(s)": scales,
                    "log likelihood vs hull, L1": f"{ll - reference:+.1f}",
                }
            )
        print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)
    return pd.DataFrame(rows)


def write(table: pd.DataFrame, sampler: dict, seconds: float) -> Path:
    delta = table["log likelihood vs hull, L1"].astype(float)
    others = table[table["distance"] != "hull, L1"]
    wins = others.assign(delta=delta[others.index]).groupby("sweep")["delta"].max()
    lines = [
        "# The distance the law's extrapolation error grows with",
        "",
        generated("error_distance.py", sampler, seconds),
        "",
        "The law's error outside the fitted runs is `c σ z h` per draw, with `h` the L1 "
        "distance in e-folds from the convex hull of the fitted runs in `(log N, log D)` "
        "([what the intervals include](../guide/calibration.md#the-laws-error-outside-the-"
        "fitted-runs)). Each row scores another `h` on the sweep's leave-future-out runs "
        "(the Chinchilla law fitted on the runs up to each cut, scored on the next band; the "
        "sweeps and fit settings of [the error's scale](extrapolation_error.md)) at its best "
        "scale(s) `c` (or `c_N, c_D`), by the log likelihood of the scored runs against "
        "the `hull, L1` row's, in nats. The distances are defined in the script's docstring: "
        "`compute` is the e-folds of 6ND beyond the largest fitted run, `axes` the e-folds "
        "of N and of D outside their fitted ranges with a scale each.",
        "",
        *markdown_table(table),
        "",
        "The best other distance, against `hull, L1`, per sweep: "
        + ", ".join(f"{s} {d:+.1f}" for s, d in wins.items())
        + " nats (the two-scale rows have one parameter more).",
        "",
    ]
    path = HERE / "error_distance.md"
    path.write_text("\n".join(lines))
    return path


if __name__ == "__main__":
    run_and_report(__doc__.splitlines()[0], run, write, chains=2, warmup=400, draws=400)
