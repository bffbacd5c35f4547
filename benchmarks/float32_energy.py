"""How much rounding error float32 puts into the potential energy NUTS reads, by data size.

    python benchmarks/float32_energy.py                     # 2e4, 1e5, 1e6 points
    python benchmarks/float32_energy.py --points 1e4,1e6

NUTS decides acceptance, divergence and its step size from energy differences between
nearby points. A log density summed over many points in float32 carries a rounding error
that grows with the points; once it nears a tenth of a nat those decisions are noise.
For each size: the hierarchical curve model of ``data_scaling.py`` (centred), its
potential energy ``U`` at one point (the sampler's initial point, drawn in float64), and
``U`` at five points along a line ``z·(1 + k·1e-6)``, k = 0..4 (rounded to float32, so
both precisions evaluate the same points), in float64 and float32.
Reported: float32's error in ``U``, and the steps ``ΔU`` between the line's points:
smooth in float64, jumping in float32 where its rounding is as large as the change.
The error at one point depends on the order XLA sums in, so it varies by machine; its
size is what matters. The evidence for :func:`bayescale.inference.default_precision`.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from data_scaling import MODEL, hierarchical_sweep
from numpyro.infer.util import initialize_model, potential_energy

from bayescale.model_inputs import model_inputs


def energies(points: int) -> dict:
    inputs = model_inputs(hierarchical_sweep(points), centring="centred", **MODEL)
    with jax.enable_x64(True):
        data = {**jax.device_put(inputs.args), "centre": inputs.centre}
        start = initialize_model(jax.random.PRNGKey(0), inputs.model, model_kwargs=data)[0].z
    # points that float32 holds exactly, so both precisions evaluate U at the same points
    line = [
        {k: np.asarray(v, np.float64) * (1 + i * 1e-6) for k, v in start.items()} for i in range(5)
    ]
    line = [{k: v.astype(np.float32) for k, v in z.items()} for z in line]
    out = {"points": points}
    for precision, dtype in (("float64", jnp.float64), ("float32", jnp.float32)):
        with jax.enable_x64(precision == "float64"):
            data = {**jax.device_put(inputs.args), "centre": inputs.centre}
            u = [
                float(
                    potential_energy(
                        inputs.model, (), data, {k: jnp.asarray(v, dtype) for k, v in z.items()}
                    )
                )
                for z in line
            ]
        out[precision] = {"U": u[0], "steps": np.diff(u).tolist()}
    out["float32_error"] = out["float32"]["U"] - out["float64"]["U"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default="2e4,1e5,1e6")
    args = parser.parse_args()
    print(
        "| points | U (float64) | float32 error in U | ΔU along the line, float64 | ΔU, float32 |"
    )
    print("|---|---|---|---|---|")
    for points in (int(float(p)) for p in args.points.split(",")):
        e = energies(points)
        print(
            f"| {points:,} | {e['float64']['U']:.1f} | {e['float32_error']:+.4f} | "
            + " ".join(f"{d:+.4f}" for d in e["float64"]["steps"])
            + " | "
            + " ".join(f"{d:+.4f}" for d in e["float32"]["steps"])
            + " |",
            flush=True,
        )


if __name__ == "__main__":
    main()
