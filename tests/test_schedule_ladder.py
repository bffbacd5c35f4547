"""Training curves of a model ladder with cosine schedules: the schedule-aware law against
the run-offset model that reads every checkpoint as a finished run (slow)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import bayescale as bs

TRUTH = {
    # the multi-power law's N-extension through the authors' fits at 25M-400M parameters
    # (bayescale.laws.multipower's docstring): L0, A, alpha, B from their three sizes
    "e": np.log(1.70),
    "u": np.log(0.95),
    "alpha_n": 0.25,
    "a": -0.51,
    "a_slope": 0.06,
    "alpha": 0.45,
    "alpha_slope": -0.06,
    "b": 6.08,
    "b_slope": 0.13,
    "c": 2.1,
    "beta": 0.59,
    "gamma": 0.64,
}
SIZES = (25e6, 50e6, 100e6, 200e6)
TOKENS_PER_PARAM = (10.0, 20.0, 40.0)
HELD_OUT = (500e6, 20.0)  # 2.5 times the largest fitted size, at 20 tokens a parameter
TOKENS_PER_STEP = 2.0**16
WARMUP = 500  # steps
PEAK = 3e-4
CHECKPOINTS = 20  # per run, evenly spaced after warmup
SIGMA, SIGMA_RUN = 0.003, 0.005  # log-loss noise per checkpoint and per run


def schedule_for(n_params: float, tokens_per_param: float) -> bs.schedules.Schedule:
    """Each run's own cosine schedule to 10% of peak, over its whole length."""
    total = int(round(n_params * tokens_per_param / TOKENS_PER_STEP))
    return bs.schedules.cosine(total, PEAK, 0.1 * PEAK, warmup=WARMUP)


def ladder(seed: int) -> pd.DataFrame:
    """The ladder's checkpoints, simulated from the law with run offsets and noise."""
    rng = np.random.default_rng(seed)
    law = bs.get_law("multipower")
    rows = []
    for n in SIZES:
        for ratio in TOKENS_PER_PARAM:
            schedule = schedule_for(n, ratio)
            steps = np.linspace(WARMUP, schedule.total, CHECKPOINTS + 1)[1:].round().astype(int)
            rows.append(
                pd.DataFrame(
                    {
                        "n_params": n,
                        "n_tokens": steps * TOKENS_PER_STEP,
                        "step": steps,
                        "run": f"{n:.0e}/{ratio:g}",
                        "schedule": json.dumps(schedule.to_dict()),
                    }
                )
            )
    frame = pd.concat(rows, ignore_index=True)
    inputs = law.conditions.inputs(frame)
    theta = {k: np.float64(v) for k, v in TRUTH.items()}
    with bs_x64():
        mu = np.asarray(
            law.log_loss_at(
                theta, np.log(frame["n_params"].values), np.log(frame["n_tokens"].values), inputs
            )
        )
    offsets = dict(zip(frame["run"].unique(), SIGMA_RUN * rng.standard_normal(12), strict=True))
    noise = SIGMA * rng.standard_normal(len(frame))
    return frame.assign(loss=np.exp(mu + frame["run"].map(offsets).values + noise))


def bs_x64():
    import jax

    return jax.enable_x64(True)


def held_out_loss() -> float:
    """The held-out run's final loss under its own cosine schedule (the law's truth)."""
    law = bs.get_law("multipower")
    n, ratio = HELD_OUT
    schedule = schedule_for(n, ratio)
    frame = pd.DataFrame(
        {
            "n_params": [n],
            "n_tokens": [schedule.total * TOKENS_PER_STEP],
            "step": [schedule.total],
            "run": ["held out"],
            "schedule": [json.dumps(schedule.to_dict())],
        }
    )
    theta = {k: np.float64(v) for k, v in TRUTH.items()}
    with bs_x64():
        mu = law.log_loss_at(
            theta,
            np.log(frame["n_params"].values),
            np.log(frame["n_tokens"].values),
            law.conditions.inputs(frame),
        )
    return float(np.exp(mu[0]))


def predicted(post, seed):
    n, ratio = HELD_OUT
    draws = post.predict_loss(n, n * ratio, seed=seed)["loss_predictive"].values.ravel()
    return np.quantile(draws, [0.05, 0.5, 0.95])


if __name__ == "__main__":
    import time

    frame = ladder(0)
    print(frame.groupby("run").size(), len(frame))
    truth = held_out_loss()
    t = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        post = bs.fit(
            bs.Sweep.from_frame(frame),
            law="multipower",
            chains=2,
            warmup=300,
            draws=300,
            progress=False,
        )
    print("fit", time.time() - t, post.warnings)
    lo, med, hi = predicted(post, 0)
    print("truth", truth, "pred", lo, med, hi, "err", med / truth - 1)
    t = time.time()
    old = bs.fit(
        bs.Sweep.from_frame(frame.drop(columns=["schedule"])),
        checkpoints="all",
        chains=2,
        warmup=300,
        draws=300,
        progress=False,
    )
    print("old fit", time.time() - t, old.warnings)
    lo, med, hi = predicted(old, 0)
    print("old pred", lo, med, hi, "err", med / truth - 1)
    final = bs.fit(
        bs.Sweep.from_frame(frame.drop(columns=["schedule"])),
        chains=2,
        warmup=300,
        draws=300,
        progress=False,
    )
    lo, med, hi = predicted(final, 0)
    print("final-only pred", lo, med, hi, "err", med / truth - 1)
