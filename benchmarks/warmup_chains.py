"""Where a fit's warmup spends its leapfrog steps: per chain and per adaptation window.

    python benchmarks/warmup_chains.py --runs 800 --seed 0     # the 20,000-point curve sweep
    python benchmarks/warmup_chains.py --runs 4000 --groups 4 --centring centred --warmup 300

Runs the warmup of ``bs.fit``'s sampler (same model, kernel settings, start and chain
layout; ``bayescale.model_inputs``, ``bayescale.starts``) on a synthetic curve
sweep (``curve_fit_time.synthetic``; with ``--groups`` > 1 the hierarchical fit of
``data_scaling.py``), keeping every warmup iteration, and prints how long the start took,
then per chain: the
leapfrog steps in each window of NumPyro's adaptation schedule, the iterations at the
maximum tree depth, divergences, the final step size, and where the chain was (mean and
sd of each parameter) during the window before the one where the slowest chain spent
most. With a device per chain the slowest chain sets the fit's wall time.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np
from curve_fit_time import synthetic
from data_scaling import MODEL
from numpyro.infer import MCMC
from numpyro.infer.hmc_util import build_adaptation_schedule

from bayescale import model_inputs, nuts
from bayescale.devices import chain_map
from bayescale.likelihood import tail_params
from bayescale.starts import Start, laplace_start

MAX_STEPS = 2**nuts.MAX_TREE_DEPTH - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=800)
    parser.add_argument("--checkpoints", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument(
        "--groups", type=int, default=1, help="> 1: runs in groups, fitted with partial pooling"
    )
    parser.add_argument("--centring", default="non-centred", choices=["non-centred", "centred"])
    parser.add_argument("--init", default="laplace", choices=["laplace", "prior"])
    args = parser.parse_args()
    sweep = synthetic(args.runs, args.checkpoints, groups=args.groups)
    inputs = (
        model_inputs.model_inputs(sweep, centring=args.centring, **MODEL)
        if args.groups > 1
        else model_inputs.model_inputs(sweep)
    )
    kernel, n_latent, _ = nuts.nuts_kernel(inputs, args.warmup)
    started = time.perf_counter()
    start = (
        laplace_start(
            inputs.model,
            {**inputs.args, "centre": inputs.centre},
            args.seed,
            4,
            True,
            hold=tail_params(inputs.likelihood),
        )
        if args.init == "laplace"
        else Start(None, None)
    )
    print(
        f"start ({args.init}): {time.perf_counter() - started:.1f} s, {start.summary}", flush=True
    )
    method = chain_map(jax.devices("cpu"), 4)[0]
    mcmc = MCMC(
        kernel,
        num_warmup=args.warmup,
        num_samples=1,
        num_chains=4,
        chain_method=method,
        progress_bar=False,
        jit_model_args=True,
    )
    started = time.perf_counter()
    with jax.enable_x64(True):
        mcmc.warmup(
            jax.random.PRNGKey(args.seed),
            **jax.device_put(inputs.args),
            centre=inputs.centre,
            init_params=start.init_params,
            collect_warmup=True,
            extra_fields=("num_steps", "adapt_state.step_size", "diverging"),
        )
        extra = {k: np.asarray(v) for k, v in mcmc.get_extra_fields(group_by_chain=True).items()}
        draws = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    windows = build_adaptation_schedule(args.warmup)
    steps = extra["num_steps"]
    print(
        f"{len(inputs.args['log_loss']):,} points, {n_latent} latent dimensions, seed "
        f"{args.seed}; warmup {time.perf_counter() - started:.1f} s (compilation included); "
        f"windows {[(w.start, w.end) for w in windows]}"
    )
    for chain in range(steps.shape[0]):
        per_window = [int(steps[chain, w.start : w.end + 1].sum()) for w in windows]
        print(
            f"chain {chain}: {int(steps[chain].sum()):,} steps; per window {per_window}; "
            f"{int((steps[chain] >= MAX_STEPS).sum())} at maximum depth; "
            f"{int(extra['diverging'][chain].sum())} divergent; final step size "
            f"{float(extra['adapt_state.step_size'][chain, -1]):.3f}"
        )
    slowest = int(steps.sum(1).argmax())
    worst = max(
        range(1, len(windows)),
        key=lambda i: steps[slowest, windows[i].start : windows[i].end + 1].sum(),
    )
    before = windows[worst - 1]
    print(
        f"\nthe slowest chain ({slowest}) spent most in window "
        f"{(windows[worst].start, windows[worst].end)}; where each chain was in the window "
        f"before it, {(before.start, before.end)}, whose draws set that window's mass "
        "matrix (mean ± sd):"
    )
    for name, values in draws.items():
        if values.ndim == 2:  # scalar sites: (chains, iterations)
            part = values[:, before.start : before.end + 1]
            cells = ", ".join(
                f"{m:.4g} ± {s:.2g}" for m, s in zip(part.mean(1), part.std(1), strict=True)
            )
            print(f"  {name}: {cells}")


if __name__ == "__main__":
    main()
