"""How a hierarchical curve fit scales with data size: seconds per gradient, seconds per
1000 iterations of NUTS, and peak memory.

    python benchmarks/data_scaling.py                                  # 1e3, 1e4, 1e5; CPU
    python benchmarks/data_scaling.py --points 1e3,1e4,1e5,1e6 --json results/data_scaling_cpu.json
    python benchmarks/data_scaling.py --points 1e3,1e4,1e5,1e6 --device gpu --fit-up-to 1e6
    python benchmarks/data_scaling.py --precision float32 --json out.json
    python benchmarks/data_scaling.py --points 1e6 --device gpu --fit-up-to 1e6 \
        --centring centred --warmup 1000 --draws 1000 --timeout 500

The sweeps are synthetic training curves (``curve_fit_time.synthetic``): 25 checkpoints
per run, runs at 10 model sizes spread over 4 groups whose ``a`` and ``α`` differ, run
offsets of sd 0.02, point noise of sd 0.003. The model is bayescale's: Chinchilla's law
with ``pooling="partial", vary=("a", "alpha")``, run offsets integrated out, 4 chains laid
out over the device's devices as ``bs.fit`` lays them out (``bayescale.devices``).

Each size runs in a fresh process, so that its peak memory is its own:

* ``gradient``: the wall time of one gradient of the model's log density for all chains
  at once, split over devices as the fit splits them, inside a compiled loop as in NUTS
  (data on the device as arguments): the median over ``--repeats`` calls of 100 chained
  gradient steps, after a first call that compiles, divided by 100;
* ``per 1000 iterations``: ``bs.fit`` with ``--warmup`` + ``--draws`` iterations (default
  200 + 200), its sampling seconds (``MCMC.run`` less JAX's compile time) per 1000
  iterations of every chain, warmup included; a short warmup adapts worse, so a 1000 +
  1000 fit takes fewer steps per iteration than this. The fit runs only up to
  ``--fit-up-to`` points (default 1e4: at 1e5 and more it takes hours on a 2-core CPU);
  above it only the gradient is timed;
* ``steps / iteration``: mean leapfrog steps per kept draw;
* ``lockstep steps``: the mean over kept draws of the most steps any chain took, which is
  what one device running the chains vectorized pays per draw (all wait for the longest);
* ``peak memory``: the process's peak resident memory (CPU), or the device's peak bytes
  in use (GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from functools import partial

CHAINS = 4
GROUPS = 4
CHECKPOINTS = 25
IN_LOOP = 100  # gradients per timed call, in one compiled loop as in NUTS
MODEL = {"pooling": "partial", "vary": ("a", "alpha"), "min_fraction": 0}  # bs.fit's arguments


def hierarchical_sweep(points: int):
    """The synthetic curve sweep of ``points`` points: runs of ``CHECKPOINTS`` in ``GROUPS``
    groups (imported here, so that the parent process never starts JAX)."""
    from curve_fit_time import synthetic

    return synthetic(points // CHECKPOINTS, CHECKPOINTS, groups=GROUPS)


def measure(
    points: int,
    device: str,
    precision: str,
    centring: str,
    init: str,
    warmup: int,
    draws: int,
    repeats: int,
    fit: bool,
):
    """Every figure for one size, in this process: yields the gradient's figures, then
    (when ``fit``) the same with the fit's added."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from numpyro.infer.util import initialize_model, potential_energy

    import bayescale as bs
    from bayescale.devices import chain_map, select_device
    from bayescale.inference import default_precision
    from bayescale.model_inputs import model_inputs

    from peers.jax_timing import compile_clock

    sweep = hierarchical_sweep(points)
    where = select_device(device)
    precision = precision or default_precision(where.platform, points)
    inputs = model_inputs(sweep, centring=centring, platform=where.platform, **MODEL)
    used = chain_map(jax.devices(where.platform), CHAINS)[1]
    out = {
        "points": len(inputs.args["log_loss"]),
        "runs": len(inputs.runs),
        "groups": len(inputs.groups),
        "device": str(where),
        "devices_used": used,
        "precision": precision,
        "centring": centring,
        "init": init,
    }
    with jax.enable_x64(precision == "float64"), jax.default_device(where):
        data = {**jax.device_put(inputs.args), "centre": inputs.centre}
        z = initialize_model(jax.random.PRNGKey(0), inputs.model, model_kwargs=data)[0].z

        def chain_gradients(z, data):  # z: (chains on this device, ...), data as arguments
            energy = jax.vmap(jax.grad(partial(potential_energy, inputs.model, (), data)))

            def step(_, z):  # a tiny gradient step, so no evaluation can be skipped
                return jax.tree.map(lambda x, g: x - 1e-12 * g, z, energy(z))

            return jax.lax.fori_loop(0, IN_LOOP, step, z)

        if used == 1:
            z = jax.tree.map(lambda x: jnp.stack([x] * CHAINS), z)
            all_chains = jax.jit(chain_gradients)
        else:  # a share of the chains on each device, as bs.fit runs them
            z = jax.tree.map(lambda x: jnp.broadcast_to(x, (used, CHAINS // used, *x.shape)), z)
            all_chains = jax.pmap(
                chain_gradients, in_axes=(0, None), devices=jax.devices(where.platform)[:used]
            )
        all_chains = partial(all_chains, z, data)
        jax.block_until_ready(all_chains())
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            jax.block_until_ready(all_chains())
            times.append(time.perf_counter() - started)
        out["gradient_s"] = float(np.median(times)) / IN_LOOP
    yield {**out, "peak_memory_mb": peak_memory_mb(where)}
    if fit:
        with compile_clock() as clock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            post = bs.fit(
                sweep,
                centring=centring,
                init=init,
                chains=CHAINS,
                warmup=warmup,
                draws=draws,
                device=device,
                precision=precision,
                progress=False,
                **MODEL,
            )
        sampling = post.info.sampler.seconds - clock.seconds
        stats = post.groups["sample_stats"]
        steps = stats["n_steps"]
        out.update(
            fit_compile_s=clock.seconds,
            fit_sampling_s=sampling,
            start=post.info.sampler.init,
            per_1000_iterations_s=1000 * sampling / (warmup + draws),
            steps_per_iteration=float(steps.mean()),
            lockstep_steps_per_iteration=float(steps.max("chain").mean()),
            max_r_hat=max(post.info.diagnostics["r_hat"].values()),
            divergences=int(stats["diverging"].sum()),
        )
        yield {**out, "peak_memory_mb": peak_memory_mb(where)}


def peak_memory_mb(where) -> float:
    """The device's peak bytes in use (GPU) or the process's peak resident memory (CPU)."""
    if where.platform == "gpu":
        return where.memory_stats()["peak_bytes_in_use"] / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cell(row: dict, key: str, fmt: str) -> str:
    return format(row[key], fmt) if key in row else "not run"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--points", default="1e3,1e4,1e5", help="comma-separated data sizes (default 1e3,1e4,1e5)"
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument(
        "--precision",
        default=None,
        choices=["float32", "float64"],
        help="default: bayescale's for the device and size (float64 on a "
        "CPU; on a GPU float32 up to 20,000 points, float64 above)",
    )
    parser.add_argument(
        "--centring",
        default="non-centred",
        choices=["non-centred", "centred"],
        help="how the group values are sampled (bs.fit's centring)",
    )
    parser.add_argument(
        "--init",
        default="laplace",
        choices=["laplace", "prior"],
        help="where the chains start (bs.fit's init)",
    )
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--fit-up-to",
        type=float,
        default=1e4,
        help="largest size that is also fitted (default 1e4)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds per size; a fit still running then is reported as "
        "timed out, with the gradient's figures kept",
    )
    parser.add_argument("--json", default=None, help="save the figures here")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:  # the child process: one size, a JSON line per stage
        for figures in measure(
            args.one,
            args.device,
            args.precision,
            args.centring,
            args.init,
            args.warmup,
            args.draws,
            args.repeats,
            args.one <= args.fit_up_to,
        ):
            print(json.dumps(figures), flush=True)
        return

    rows = []
    for points in (int(float(p)) for p in args.points.split(",")):
        command = [
            sys.executable,
            __file__,
            "--one",
            str(points),
            "--device",
            args.device,
            *(["--precision", args.precision] if args.precision else []),
            "--centring",
            args.centring,
            "--init",
            args.init,
            "--warmup",
            str(args.warmup),
            "--draws",
            str(args.draws),
            "--repeats",
            str(args.repeats),
            "--fit-up-to",
            str(args.fit_up_to),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
            stdout, code, stderr = done.stdout, done.returncode, done.stderr[-3000:]
        except subprocess.TimeoutExpired as stopped:
            stdout, code, stderr = stopped.stdout or "", None, ""
            stdout = stdout.decode() if isinstance(stdout, bytes) else stdout
        lines = stdout.strip().splitlines()
        if not lines:
            sys.exit(
                f"{points} points failed or timed out before a figure (exit {code}):\n{stderr}"
            )
        row = json.loads(lines[-1])
        if points <= args.fit_up_to and "fit_sampling_s" not in row:
            if code is None:
                row["fit_timed_out_s"] = args.timeout
            else:  # e.g. -9: killed, as the kernel's out-of-memory killer does, silently
                row["fit_failed"] = f"exit {code}: {stderr[-300:]}"
        rows.append(row)
        print(
            f"{row['points']:>9,} points, {row['runs']:>6,} runs: gradient "
            f"{row['gradient_s'] * 1e3:.2f} ms, per 1000 iterations: "
            f"{cell(row, 'per_1000_iterations_s', '.1f')}",
            flush=True,
        )

    print(
        f"\n{CHAINS} chains, {args.device} ({rows[0]['device']}, {rows[0]['devices_used']} "
        f"device(s)), {', '.join(sorted({r['precision'] for r in rows}))}, {args.centring}, "
        f"init {args.init}, "
        f"fit {args.warmup} + {args.draws}"
    )
    print(
        "| points | runs | gradient, all chains (ms) | per 1000 iterations (s) | "
        "steps / iteration | lockstep steps | divergences | peak memory (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        per_1000 = (
            f"timed out ({row['fit_timed_out_s']:.0f} s)"
            if "fit_timed_out_s" in row
            else f"failed ({row['fit_failed'].split(':')[0]})"
            if "fit_failed" in row
            else cell(row, "per_1000_iterations_s", ".1f")
        )
        print(
            f"| {row['points']:,} | {row['runs']:,} | {row['gradient_s'] * 1e3:.2f} | "
            f"{per_1000} | "
            f"{cell(row, 'steps_per_iteration', '.1f')} | "
            f"{cell(row, 'lockstep_steps_per_iteration', '.1f')} | "
            f"{cell(row, 'divergences', 'd')} | "
            f"{row['peak_memory_mb']:.0f} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "command": " ".join(sys.argv),
                    "settings": vars(args),
                    "machine": {
                        "platform": platform.platform(),
                        "cpus": os.cpu_count(),
                        "load_average": os.getloadavg(),
                    },
                    "rows": rows,
                },
                f,
                indent=1,
            )
        print(f"saved {args.json}")


if __name__ == "__main__":
    main()
