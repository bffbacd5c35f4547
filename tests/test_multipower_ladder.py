"""The multi-power law on a synthetic model ladder (slow): fitting every checkpoint of cosine
runs recovers the law, and predicts the final loss of a larger model inside its interval.

The ladder is the one practitioners run: 4 model sizes (25M to 200M parameters) × 3 token
budgets (10, 20 and 40 tokens per parameter), each run with its own cosine schedule to 10%
of its peak learning rate (warmup 5% of its steps), 20 checkpoints a run from 10% of its
steps on. Losses are simulated from the law at ``TRUTH`` (near the posterior medians of a
fit of the bundled ``multipower_schedules`` curves, with the authors' decay response
``C, β, γ``), with a run offset (sd ``SIGMA_RUN``) and checkpoint noise (sd ``SIGMA``).
The held-out run is a 500M model at 20 tokens per parameter, 2.5× beyond the largest
fitted size.

Seeds 0-3 are the first four, fixed for reproducibility; none was chosen for passing.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayescale as bs
from bayescale.schedules import Schedule, cosine

from conftest import quiet_fit

TRUTH = {
    **{"e": 0.45, "u": 0.0, "alpha_n": 0.25, "a": -0.46, "a_slope": 0.09},
    **{"alpha": 0.45, "alpha_slope": -0.07, "b": 6.5, "b_slope": 0.13},
    **{"c": 2.0, "beta": 0.6, "gamma": 0.64},
}
SIZES = (25e6, 50e6, 100e6, 200e6)
TOKENS_PER_PARAM = (10, 20, 40)
HELD_OUT = (500e6, 20)  # 2.5x the largest fitted size, at the middle budget
TOKENS_PER_STEP = 2.0**19
SIGMA, SIGMA_RUN = 0.003, 0.005  # the bundled curves' checkpoint noise is 0.0006-0.001
SEEDS = range(4)
CI = 0.9
# 12 parameters x 4 seeds = 48 interval checks, each missing with probability 0.1 when
# calibrated; the central 99% of Binomial(48, 0.1), two-sided (the checks within one fit
# are correlated, so this is a guide more than an exact level)
CHECKS = len(TRUTH) * len(SEEDS)
MISSES = (stats.binom.ppf(0.005, CHECKS, 1 - CI), stats.binom.isf(0.005, CHECKS, 1 - CI))
# the held-out run's final loss, inside its 90% predictive interval in at least 2 of 4
# seeds: P(at most 1 of 4 | p = 0.9) = 0.0037. (All 4 inside is not a sign of trouble.)
MIN_HELD_OUT_COVERED = 2
# the sampler: the decay response (C, beta) of cosine-only ladders is barely identified,
# which leaves narrow ridges; at the default target_accept = 0.8 one chain of seed 0 ended
# with 127 divergences, at 0.95 none
SAMPLER = {"chains": 2, "warmup": 400, "draws": 400, "target_accept": 0.95}
# at 2 x 400 draws the slopes in log N and the floor mix slowly (bulk ESS ~100-200, R-hat
# up to 1.01-1.02, a few divergences and trajectories at the maximum tree depth along the
# C-gamma ridge), and cosine-only runs leave C, beta and gamma close to their priors
TOLERATE = ("R-hat above", "ESS below", "prior-dominated", "divergent", "maximum tree depth")


def run_rows(n_params: float, tokens_per_param: float) -> pd.DataFrame:
    total = round(tokens_per_param * n_params / TOKENS_PER_STEP)
    schedule = cosine(total, 3e-4, 3e-5, warmup=max(1, total // 20))
    steps = np.unique(np.linspace(total / 10, total, 20).round().astype(int))
    return pd.DataFrame(
        {
            "n_params": n_params,
            "n_tokens": steps * TOKENS_PER_STEP,
            "run": f"{n_params:.0e}x{tokens_per_param}",
            "step": steps,
            "schedule": json.dumps(schedule.to_dict()),
        }
    )


def law_log_loss(frame: pd.DataFrame) -> np.ndarray:
    law = bs.get_law("multipower")
    theta = {k: np.float64(v) for k, v in TRUTH.items()}
    log_n, log_d = np.log(frame["n_params"].values), np.log(frame["n_tokens"].values)
    return np.asarray(law.log_loss_at(theta, log_n, log_d, law.conditions.inputs(frame)))


def ladder(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.concat([run_rows(n, m) for n in SIZES for m in TOKENS_PER_PARAM], ignore_index=True)
    run = frame.groupby("run", sort=False).ngroup().to_numpy()
    offsets = SIGMA_RUN * rng.standard_normal(run.max() + 1)
    noise = SIGMA * rng.standard_normal(len(frame))
    return frame.assign(loss=np.exp(law_log_loss(frame) + offsets[run] + noise))


@pytest.fixture(scope="module")
def fits():
    held_out = run_rows(*HELD_OUT).iloc[[-1]]
    truth = float(np.exp(law_log_loss(held_out))[0])
    schedule = Schedule.from_dict(held_out["schedule"].iloc[0])
    results = []
    for seed in SEEDS:
        sweep = bs.Sweep.from_frame(ladder(seed))
        # min_fraction=0: the checkpoints start at 10% of each run (rounded), all fitted
        post = quiet_fit(
            sweep, law="multipower", seed=seed, min_fraction=0, tolerate=TOLERATE, **SAMPLER
        )
        curve = post.predict_curve(
            HELD_OUT[0], schedule, TOKENS_PER_STEP, steps=[schedule.total], seed=seed
        )
        low, high = np.quantile(
            curve["loss_predictive"].values.ravel(), [(1 - CI) / 2, (1 + CI) / 2]
        )
        median = float(np.median(curve["loss_mean"].values))
        results.append((post.summary(ci_prob=CI), truth, median, low, high))
        print(
            f"seed {seed}: held-out final loss {truth:.4f}, median {median:.4f} "
            f"({100 * (median / truth - 1):+.2f}%), 90% [{low:.4f}, {high:.4f}]"
        )
    return results


@pytest.mark.slow  # 4 fits of 240 checkpoints, about 4 minutes on 2 cores
def test_the_law_is_recovered_inside_its_intervals(fits):
    misses = [
        (seed, name)
        for seed, (summary, *_) in zip(SEEDS, fits, strict=True)
        for name, value in TRUTH.items()
        if not summary.loc[name, "eti_5%"] <= value <= summary.loc[name, "eti_95%"]
    ]
    assert MISSES[0] <= len(misses) <= MISSES[1], misses


@pytest.mark.slow
def test_a_larger_models_final_loss_lies_inside_its_interval(fits):
    covered = [low <= truth <= high for _, truth, _, low, high in fits]
    assert sum(covered) >= MIN_HELD_OUT_COVERED, covered
