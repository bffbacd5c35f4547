"""One run of 400M parameters under cosine, WSD with a 20% cooldown, and a constant rate.

    python docs/gallery/schedules.py [--draws N] [--out DIR] [--posterior FILE]

The multi-power law's reference fit to the 27 curves of multipower_schedules; each
schedule runs 24,000 steps of 0.5M tokens with the authors' peak rate 3e-4 and warmup
of 2,160 steps, decaying to 3e-5 (cosine, WSD).
"""

from _gallery import options, posterior, save

import bayescale as bs

STEPS, PEAK, FINAL, WARMUP, TOKENS_PER_STEP = 24_000, 3e-4, 3e-5, 2_160, 2**19
SCHEDULES = {
    "cosine": bs.schedules.cosine(STEPS, PEAK, FINAL, warmup=WARMUP),
    "wsd, 20% cooldown": bs.schedules.wsd(
        STEPS, PEAK, FINAL, decay_start=int(0.8 * STEPS), warmup=WARMUP
    ),
    "constant": bs.schedules.constant(STEPS, PEAK, warmup=WARMUP),
}

opts = options(__doc__)
post = posterior(opts, "multipower_schedules")
result = bs.comparisons.compare_schedules(post, 4e8, SCHEDULES, TOKENS_PER_STEP)
print(result.interval(0.9).round(4).to_string())
print(result.dataset["p_lower"].to_series().to_string())
fig, axes = bs.plotting.plot_schedules(post, 4e8, SCHEDULES, TOKENS_PER_STEP)
save(fig, opts, "schedules")
