"""Does a sweep's own leave-future-out tell the direction of the law's error on its larger
runs?

The law's error outside the fitted runs (``bayescale/discrepancy.py``) has a scale learned
by leave-future-out and a sign that is unknown, ``z ~ Normal(0, 1)`` per draw. Its intervals
miss the backtests' held-out runs by bias, not width (``backtest.md``), so a model that
learned the error's *direction* too, a drift ``m`` in ``δ = c σ (m + z) h``, would recentre
them. It could only learn ``m`` where a learned scale is learned: from the sweep's own
leave-future-out. This script measures whether that would work.

For each case and split of ``backtest.py`` (the same sweeps, training runs and fit
settings, the Chinchilla law), with ``z_i = r_i / σ`` the residual of point ``i``'s log
loss from the posterior median of the law, in units of the median scale of a new run's
noise, and ``h_i`` its distance from the fitted runs (``bayescale/fitted_region.py``):

- **held-out drift**: the least-squares slope through the origin ``Σ z_i h_i / Σ h_i²`` on
  the held-out larger runs, predicted by a fit on the training runs;
- **leave-future-out drift**: the same slope over the training runs' leave-future-out
  points (default cuts: fit on the runs up to each cut, score the next band), which is all
  a user's fit knows.

A drift that leave-future-out could learn would have the held-out drift's sign on most
cases, and a size that grows with it.

    python docs/calibration/error_direction.py [--chains 2 --warmup 300 --draws 300]

writes ``docs/calibration/error_direction.md``.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from backtest import CASES, SPLITS, athena_mask, synthetic_sweep
from reports import generated, markdown_table, run_and_report

import bayescale as bs
from bayescale.evaluation.lfo import DEFAULT_CUTS, _residuals, lfo_bands
from bayescale.evaluation.splits import train_mask

HERE = Path(__file__).parent
#: independent replicates of the synthetic control (the law right): one sweep's held-out
#: points share its one fitted law, so one replicate says little
SYNTHETIC_SEEDS = (0, 1, 2, 3, 4)


def drift(post: bs.Posterior, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``z_i`` and ``h_i`` (module docstring) of ``frame``'s rows under ``post``, from the
    residuals that leave-future-out scores (a group the fit did not see predicted as a new
    group)."""
    resid, _, noise, h = _residuals(post, frame)
    z = np.median(resid.reshape(-1, resid.shape[-1]), axis=0) / np.median(noise.sigma)
    return z, h


def slope(z: np.ndarray, h: np.ndarray) -> float:
    """Least-squares slope of ``z`` on ``h`` through the origin."""
    return float((z * h).sum() / (h**2).sum())


def fit(sweep: bs.Sweep, keep: pd.Series, fit_kwargs: dict) -> bs.Posterior:
    """The Chinchilla law on the rows of ``sweep.fit_frame`` that ``keep`` marks."""
    rest = ~sweep.frame.index.isin(keep.index[keep])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small fits' R-hat and ESS: as in backtest.py
        return bs.fit(sweep.exclude(rest, reason="not in this fit"), **fit_kwargs)


def case(name: str, split: str, sweep: bs.Sweep, sampler: dict) -> dict:
    """One case and split: both drifts and what they rest on."""
    _, common, _, splits = CASES[name]
    args = splits[split][0]
    frame = sweep.fit_frame
    if args["split"] == "mask":
        train = athena_mask(sweep).loc[frame.index]
    else:
        train = train_mask(sweep, args["split"], args.get("frac"), args.get("threshold"))
    fit_kwargs = {"law": "chinchilla", "progress": False, **sampler, **common.get("fit_kwargs", {})}
    z_out, h_out = drift(fit(sweep, train, fit_kwargs), frame[~train])
    training = sweep.exclude(~sweep.frame.index.isin(frame.index[train]), reason="held out")
    band = lfo_bands(training, DEFAULT_CUTS)
    rows = training.fit_frame
    compute = 6.0 * rows["n_params"] * rows["n_tokens"]
    parts = [
        drift(fit(training, compute <= cut, fit_kwargs), rows[band.loc[rows.index] == k])
        for k, cut in enumerate(band.attrs["thresholds"])
    ]
    z_lfo, h_lfo = (np.concatenate(p) for p in zip(*parts, strict=True))
    return {
        "case": name,
        "split": split,
        "lfo_points": len(z_lfo),
        "lfo_h": float(np.median(h_lfo)),
        "lfo_drift": slope(z_lfo, h_lfo),
        "held_out_points": len(z_out),
        "held_out_h": float(np.median(h_out)),
        "held_out_drift": slope(z_out, h_out),
    }


def run(sampler: dict) -> pd.DataFrame:
    sweeps = [(name, name, CASES[name][0]) for name in CASES if name != "synthetic"]
    sweeps += [
        (f"synthetic, seed {s}", "synthetic", lambda s=s: synthetic_sweep(s))
        for s in SYNTHETIC_SEEDS
    ]
    rows = []
    for label, name, factory in sweeps:
        sweep = factory()
        for split in SPLITS:
            started = time.perf_counter()
            rows.append({**case(name, split, sweep, sampler), "case": label})
            seconds = time.perf_counter() - started
            print(f"{rows[-1]} ({seconds:.0f} s)", flush=True)
    table = pd.DataFrame(rows)
    table["same_sign"] = np.sign(table["lfo_drift"]) == np.sign(table["held_out_drift"])
    return table


def write(table: pd.DataFrame, sampler: dict, seconds: float) -> Path:
    real = table[~table["case"].str.startswith("synthetic")]
    control = table[table["case"].str.startswith("synthetic")]
    shown = table.assign(
        **{c: table[c].map("{:+.2f}".format) for c in ("lfo_drift", "held_out_drift")},
        **{c: table[c].map("{:.2f}".format) for c in ("lfo_h", "held_out_h")},
    )
    lines = [
        "# The direction of the law's extrapolation error",
        "",
        generated("error_direction.py", sampler, seconds),
        "",
        "The question and the method are in the script's docstring. In short: the law's "
        "error beyond the fitted runs has a learned scale and an unknown sign "
        "([what the intervals include]"
        "(../guide/calibration.md#the-laws-error-outside-the-fitted-runs)). Could a sweep's own "
        "leave-future-out learn its sign as well? Each row gives the drift `Σ z h / Σ h²` "
        "of the Chinchilla law's residuals `z` (in units of a new run's noise scale) on their "
        "distance `h` from the fitted runs (e-folds), over the training runs' "
        "leave-future-out points (`lfo_*`) and over the held-out larger runs "
        "(`held_out_*`); `*_h` is the median distance. A negative drift means the law "
        "predicts the runs further out too high. Cases and splits as in "
        "[the backtests](backtest.md), with the Chinchilla law.",
        "",
        *markdown_table(shown),
        "",
        f"On the real cases, leave-future-out gives the held-out drift's sign in "
        f"{int(real['same_sign'].sum())} of {len(real)}; on the synthetic control (the law "
        f"right) in {int(control['same_sign'].sum())} of {len(control)}. The correlation of "
        f"the two drifts over the real cases is "
        f"{np.corrcoef(real['lfo_drift'], real['held_out_drift'])[0, 1]:+.2f}.",
        "",
    ]
    path = HERE / "error_direction.md"
    path.write_text("\n".join(lines))
    return path


if __name__ == "__main__":
    run_and_report(__doc__.splitlines()[0], run, write, chains=2, warmup=300, draws=300)
