"""The multi-power law on the 27 bundled schedule curves: bayescale's NUTS fit against the
published least-squares recipe, side by side in one run.

    python benchmarks/multipower_fit.py                          # 4 x (1000 + 1000)
    python benchmarks/multipower_fit.py --warmup 250 --draws 250  # a shorter fit

(a) ``bs.fit(sweep, law="multipower")`` with ``--chains`` chains of ``--warmup`` +
``--draws`` iterations; (b) Luo et al.'s recipe for the same law: the Huber loss
(``δ = 1e-3``, their ``HUBER_DELTA``) of the loss (not its log) summed over the same
checkpoints, minimised by L-BFGS (SciPy's L-BFGS-B, gradients by JAX) from the priors'
centres, with the law's positive parameters optimised as logs. Both evaluate
:func:`bayescale.laws.multipower.multipower_point_log_loss` on the inputs
:func:`bayescale.laws.multipower.multipower_inputs` builds. Prints wall seconds, the ratio,
NUTS's leapfrog steps per iteration, the smallest bulk ESS over the law's parameters and
ESS per second of sampling, and each fit's mean relative error of the loss.
"""

from __future__ import annotations

import argparse
import time
import warnings

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

import bayescale as bs
from bayescale.laws.multipower import MULTIPOWER, multipower_point_log_loss
from bayescale.model_inputs import model_inputs

HUBER_DELTA = 1e-3  # the authors' src/config.py


def least_squares(
    log_n, loss, inputs, start=None, free=None, options=None, per_group=(), group=None
) -> tuple[dict, float, int]:
    """The Huber fit: ``(θ, seconds, L-BFGS iterations)``, compilation included. From
    ``start`` (a full θ; default the priors' centres), optimising the parameters in ``free``
    (default all) with the others held at ``start``'s values; ``options`` update SciPy's
    L-BFGS-B options (``ftol``, ``gtol``: SciPy's defaults). The free parameters named in
    ``per_group`` take one value per group of points (``group``: each point's group, 0 to
    G − 1), each starting from ``start``'s value (one, or one per group); the returned θ holds
    their G values."""
    names = MULTIPOWER.params
    transforms = {p: MULTIPOWER.transform(p) for p in names}
    if start is None:
        start = {p: float(MULTIPOWER.priors[p]().mean) for p in names}
    free = list(names if free is None else free)
    groups = 1 + int(np.max(group)) if per_group else 1
    width = {p: groups if p in per_group else 1 for p in free}
    at = np.cumsum([0] + [width[p] for p in free])
    x0 = np.concatenate(
        [np.broadcast_to(transforms[p].inv(np.asarray(start[p], float)), width[p]) for p in free]
    )
    log_n, loss = jnp.asarray(log_n), jnp.asarray(loss)
    inputs = {k: jnp.asarray(v) for k, v in inputs.items()}
    group = None if group is None else jnp.asarray(group)

    def theta_of(x):
        values = {p: transforms[p](x[at[i] : at[i + 1]]) for i, p in enumerate(free)}
        return {**start, **{p: v if p in per_group else v[0] for p, v in values.items()}}

    def objective(x):
        theta = theta_of(x)
        theta = {p: theta[p][group] if p in per_group else theta[p] for p in names}
        pred = jnp.exp(multipower_point_log_loss(theta, log_n, None, **inputs))
        r = jnp.abs(pred - loss)
        huber = jnp.where(r <= HUBER_DELTA, 0.5 * r**2, HUBER_DELTA * (r - 0.5 * HUBER_DELTA))
        return jnp.sum(huber)

    value_and_grad = jax.jit(jax.value_and_grad(objective))

    def fun(x):
        value, grad = value_and_grad(jnp.asarray(x))
        return float(value), np.asarray(grad, dtype=float)

    started = time.perf_counter()
    result = scipy.optimize.minimize(
        fun,
        x0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 20000, "maxfun": 40000, **(options or {})},
    )
    seconds = time.perf_counter() - started
    theta = {
        p: np.asarray(v) if p in per_group else float(v) for p, v in theta_of(result.x).items()
    }
    return theta, seconds, int(result.nit)


def relative_error(theta, log_n, loss, inputs) -> float:
    with jax.enable_x64(True):
        pred = np.exp(np.asarray(multipower_point_log_loss(theta, log_n, None, **inputs)))
    return float(np.mean(np.abs(pred / loss - 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    sweep = bs.load_dataset("multipower_schedules")

    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        post = bs.fit(
            sweep,
            law="multipower",
            chains=args.chains,
            warmup=args.warmup,
            draws=args.draws,
            progress=False,
        )
    nuts_seconds = time.perf_counter() - started
    sampler = post.info.sampler
    steps = post.groups["sample_stats"]["n_steps"].values
    ess = az.ess(post.groups["posterior"][list(MULTIPOWER.params)], method="bulk")
    min_ess = min(float(ess[p]) for p in MULTIPOWER.params)
    worst = min(MULTIPOWER.params, key=lambda p: float(ess[p]))

    with jax.enable_x64(True):
        inputs = model_inputs(sweep, "multipower")
        frame = inputs.sweep.fit_frame
        log_n, loss = inputs.args["log_n"], frame["loss"].to_numpy(float)
        law_inputs = inputs.args["inputs"]
        theta_ls, ls_seconds, iterations = least_squares(log_n, loss, law_inputs)
        median = {p: float(post.posterior[p].median()) for p in MULTIPOWER.params}

    print(
        f"points {len(frame)}, distinct checkpoint rows {len(law_inputs['knot_drop'])}, "
        f"knots per row {law_inputs['knot_drop'].shape[1]}"
    )
    print(
        f"NUTS {args.chains} x ({args.warmup} + {args.draws}): {nuts_seconds:.1f} s wall "
        f"(start {sampler.init.get('seconds', float('nan')):.1f} s, "
        f"compile and sample {sampler.seconds:.1f} s); "
        f"leapfrog steps per iteration {steps.mean():.1f} (max {steps.max()}), "
        f"divergences {int(post.groups['sample_stats']['diverging'].sum())}"
    )
    print(
        f"  smallest bulk ESS {min_ess:.0f} ({worst}): {min_ess / sampler.seconds:.2f} "
        f"ESS/s of sampling, {min_ess / nuts_seconds:.2f} ESS/s of wall"
    )
    print(f"Huber + L-BFGS: {ls_seconds:.1f} s, {iterations} iterations")
    print(f"ratio NUTS / least squares: {nuts_seconds / ls_seconds:.1f}")
    errors = [relative_error(t, log_n, loss, law_inputs) for t in (median, theta_ls)]
    print(
        f"mean relative error of the loss: NUTS median {errors[0]:.5f}, "
        f"least squares {errors[1]:.5f}"
    )
    for name in ("c", "beta", "gamma", "e", "alpha_n"):
        print(f"  {name}: NUTS median {median[name]:.4g}, least squares {theta_ls[name]:.4g}")
    for warning in caught:
        print("warning:", str(warning.message).splitlines()[0][:200])


if __name__ == "__main__":
    main()
