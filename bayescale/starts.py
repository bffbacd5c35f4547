r"""Where NUTS starts: each chain near a mode of the posterior, with the Laplace
covariance there as the warmup's first inverse mass matrix.

Started from the prior, a chain spends most of its warmup travelling to the posterior
with the identity as its mass matrix, where a narrow, correlated posterior needs trees
of hundreds of steps: the journey, not the kept draws, then sets the cost of a fit, and
a warmup window whose chain was still travelling adapts a mass matrix far too wide for
the posterior (measurements: ``docs/performance.md``, "Where NUTS starts").
:func:`laplace_start` instead, in the sampler's unconstrained space with potential
``U(z) = −log p(z | y)`` (Jacobians included):

1. starts each chain ``c`` where it would have started (:func:`init_near_prior_mean`)
   and minimises ``U`` from there to a mode ``ẑ_c`` by Newton's method in a trust
   region, with the exact Hessian ``H = ∇²U``, which converges in tens of iterations
   even on an ill-conditioned potential such as a large hierarchy's, where L-BFGS,
   which learns the curvature from gradients, can stall far from the mode. A search that
   ends at no mode is tried again in two steps when the fit names sites to ``hold`` (the
   Student-t's ``ν``, :func:`bayescale.likelihood.tail_params`): first with those held
   at their start, then all free from there. Held, ``ν`` cannot fall with ``σ`` to the
   unbounded density at ``σ → 0``, so the first step finds the law's fit, and from it
   the second finds the mode nearby;
2. at the lowest mode ``ẑ``, takes the Laplace approximation
   ``p(z | y) ≈ N(ẑ, Σ)``, ``Σ = H(ẑ)⁻¹``;
3. starts chain ``c`` at ``ẑ_c + t·L ε_c`` with ``L Lᵀ = Σ``, ``ε_c ~ N(0, I)``, so that
   the chains start apart by about the posterior's own spread (R-hat needs dispersed
   starts), each from its own optimisation (chains that find different modes start in
   them). Under the Laplace approximation ``U(ẑ + L ε) − U(ẑ) = ½|ε|² ~ ½χ²_d``, so
   ``t = 1`` unless the potential there rises above the 99% quantile of that; then
   ``t`` halves until it does not (on a curved ridge, such as a non-centred hierarchy's
   whose groups the data pin, a Laplace draw can land far up the potential). A chain
   whose search ends at no mode, or at a minor one (``U`` above the lowest by more than
   that quantile, a region of next to no posterior mass, such as a Student-t fit with
   ν → 0 that calls every point an outlier), starts from ``ẑ`` instead;
4. gives NUTS ``Σ`` (its diagonal for a diagonal mass matrix) as the mass matrix the
   warmup starts from; the warmup's windows then adapt it from their own draws.

When no chain's search ends at a mode (no proper mode: a flat direction, or a density
that grows without bound, as a centred hierarchy's does as a scale τ → 0), every chain
starts from the prior with the identity mass matrix; a
:class:`~bayescale.errors.StartWarning` says why and what to try, and the fit's
``Posterior.info.sampler.init`` records it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import scipy.linalg
import scipy.optimize
import scipy.stats
from numpyro.distributions.transforms import biject_to
from numpyro.infer import NUTS, init_to_uniform
from numpyro.infer.util import initialize_model, potential_energy
from numpyro.util import is_prng_key

from bayescale.errors import StartWarning

INIT = ("laplace", "prior")
MAX_ITERATIONS = 200  # Newton iterations per search: a cap, several times what one needs
DECREMENT_TOLERANCE = 1e-6  # nats: at a mode a last Newton step gains less than this
TYPICAL_SET_QUANTILE = 0.99  # of ½χ²_d, the rise of U above the mode at a Gaussian's draw
_STREAM = 0x5A7  # fixed spawn key of the Laplace draws: no stream shared with other draws


def init_near_prior_mean(site=None, radius: float = 0.2):
    """NUTS start: each latent at its prior mean, moved by ``Uniform(−radius, radius)`` in
    the unconstrained space, so chains start apart (R-hat needs dispersed starts).

    A prior mean needs no prior draws, so no prior's sampler is compiled for the start
    (a Gamma prior's rejection sampler is slow to compile), and starts from prior draws
    (NumPyro's ``init_to_median``) are no better. Sites without a finite prior mean (the
    flat site of a sheared intercept, heavy-tailed priors) start as NumPyro's
    ``init_to_uniform``: ``Uniform(−2, 2)`` in the unconstrained space.
    """
    if site is None:
        return partial(init_near_prior_mean, radius=radius)
    if site["type"] != "sample" or site["is_observed"] or site["fn"].support.is_discrete:
        return None
    try:
        mean = jnp.broadcast_to(1.0 * site["fn"].mean, site["fn"].shape())
    except (NotImplementedError, ValueError):
        return init_to_uniform(site)
    to_support = biject_to(site["fn"].support)
    start = to_support.inv(mean)
    u = dist.Uniform(-1.0, 1.0)(
        rng_key=site["kwargs"]["rng_key"],
        sample_shape=site["kwargs"]["sample_shape"] + jnp.shape(start),
    )
    return to_support(jnp.where(jnp.isfinite(start), start + radius * u, 2.0 * u))


@dataclass(frozen=True)
class Start:
    """Per-chain unconstrained start values (``None``: NUTS's own start from
    :func:`init_near_prior_mean`), the inverse mass matrix the warmup starts from
    (``None``: the identity), both float64 NumPy arrays that take the fit's precision,
    what was done, for the fit's ``info.sampler.init``, and the :class:`StartWarning`'s
    message where the start fell back to the prior (the fit keeps it with its warnings)."""

    params: dict | None
    inverse_mass_matrix: np.ndarray | None
    summary: dict = field(default_factory=dict)
    warning: str | None = None

    @property
    def init_params(self) -> ChainStart | None:
        """``MCMC.run``'s ``init_params`` for :class:`StartedNUTS` (NumPyro takes a single
        chain's without the chain axis)."""
        if self.params is None:
            return None
        chains = len(next(iter(self.params.values())))
        matrix = self.inverse_mass_matrix
        if chains == 1:
            return ChainStart({k: v[0] for k, v in self.params.items()}, matrix)
        return ChainStart(self.params, np.broadcast_to(matrix, (chains, *matrix.shape)))


class ChainStart(NamedTuple):
    """Each chain's unconstrained start values and the inverse mass matrix its warmup
    starts from, chains along the leading axis of every array."""

    z: dict
    inverse_mass_matrix: np.ndarray


class StartedNUTS(NUTS):
    """NUTS whose warmup starts from the inverse mass matrix that comes with each chain's
    start, ``init_params=ChainStart(z, inverse_mass_matrix)``.

    NUTS's own ``inverse_mass_matrix=`` argument is a constant of the compiled sampler
    (which traces ``init`` under ``pmap`` when chains run on devices of their own), so
    every fit, with its own matrix, would compile the sampler anew; passed with the start
    values the matrix is an argument, and a fit of the same shape reuses the compiled
    sampler and the persistent cache. Other ``init_params`` behave as in NUTS."""

    def init(self, rng_key, num_warmup, init_params, model_args, model_kwargs):
        if not isinstance(init_params, ChainStart):
            return super().init(rng_key, num_warmup, init_params, model_args, model_kwargs)
        matrix = init_params.inverse_mass_matrix
        if not is_prng_key(rng_key):  # chains vectorized: one call for every chain
            matrix = matrix[0]
        self._inverse_mass_matrix = matrix
        try:
            return super().init(rng_key, num_warmup, init_params.z, model_args, model_kwargs)
        finally:
            self._inverse_mass_matrix = None


class Layout:
    """The latent sites of a model as one flat vector, in NumPyro's order (sites sorted by
    name, as ``ravel_pytree`` of its dict of unconstrained values), so that a matrix over
    the flat vector is NumPyro's dense inverse mass matrix. Built from one batch of sites
    of shape ``(chains, *shape)``."""

    def __init__(self, batched: dict):
        self.names = sorted(batched)
        self.shapes = [np.shape(batched[k])[1:] for k in self.names]
        self.ends = np.cumsum([math.prod(shape) for shape in self.shapes])

    def flatten(self, batched: dict) -> np.ndarray:
        """``(chains, size)`` from sites of shape ``(chains, *shape)``."""
        return np.concatenate(
            [np.reshape(batched[k], (len(batched[k]), -1)) for k in self.names], axis=1
        )

    def coordinates(self, names) -> np.ndarray:
        """Which coordinates of the flat vector belong to the sites ``names`` (a mask)."""
        return np.repeat([k in names for k in self.names], np.diff((0, *self.ends)))

    def unflatten(self, x):
        """Sites from one flat vector ``x`` (NumPy or JAX) or a batch ``(chains, size)``."""
        starts = (0, *self.ends[:-1])
        return {
            k: x[..., start:end].reshape(*x.shape[:-1], *shape)
            for k, start, end, shape in zip(self.names, starts, self.ends, self.shapes, strict=True)
        }


@partial(jax.jit, static_argnums=0)
def _prior_starts(model, keys, kwargs):
    """Each chain's start as NUTS would choose it (:func:`init_near_prior_mean`), in the
    unconstrained space, in one compiled call."""
    return initialize_model(keys, model, init_strategy=init_near_prior_mean, model_kwargs=kwargs)[
        0
    ].z


def _hessian(grad, x):
    """``∇²U(x)`` from ``grad = ∇U``, one column at a time (forward over reverse), so that
    memory stays that of one gradient whatever the number of latent dimensions."""
    columns = jax.lax.map(lambda v: jax.jvp(grad, (x,), (v,))[1], jnp.eye(x.size, dtype=x.dtype))
    return 0.5 * (columns + columns.T)


class _NonFiniteHessian(Exception):
    """The search met a point whose Hessian holds NaN or ±inf (the point is its argument)."""


def _mode(value_and_grad, hessian, x0: np.ndarray) -> scipy.optimize.OptimizeResult:
    """Minimise ``U`` from ``x0`` by Newton's method in a trust region (SciPy's
    ``trust-exact``: safe where ``H`` is not positive definite, far from the mode). The
    result's ``converged`` is whether it ends at a mode: ``H`` positive definite and the
    Newton decrement ``½ gᵀH⁻¹g`` (what a last Newton step would gain) at most
    ``DECREMENT_TOLERANCE`` nats, a test that holds whatever the size of ``U``. A search
    that meets a non-finite Hessian ends there, not converged (its ``nit``: the Hessians
    evaluated)."""

    def fun(x):
        value, grad = value_and_grad(x)
        return float(value), np.asarray(grad, dtype=float)

    evaluations = 0

    def hess(x):
        nonlocal evaluations
        evaluations += 1
        h = np.asarray(hessian(x))
        if not np.all(np.isfinite(h)):  # trust-exact cannot step from it: the search ends
            raise _NonFiniteHessian(x)
        return h

    try:
        result = scipy.optimize.minimize(
            fun,
            x0,
            jac=True,
            hess=hess,
            method="trust-exact",
            options={"maxiter": MAX_ITERATIONS},
        )
    except _NonFiniteHessian as stop:
        x = stop.args[0]
        value, grad = fun(x)
        result = scipy.optimize.OptimizeResult(x=x, fun=value, jac=grad, nit=evaluations)
        result.converged = False
        return result
    result.converged = False
    if np.isfinite(result.fun) and np.all(np.isfinite(result.hess)):
        try:
            factor = scipy.linalg.cho_factor(result.hess)
        except np.linalg.LinAlgError:  # not positive definite: a saddle or a flat direction
            return result
        decrement = 0.5 * result.jac @ scipy.linalg.cho_solve(factor, result.jac)
        result.converged = bool(decrement <= DECREMENT_TOLERANCE)
    return result


def _mode_holding(value_and_grad, hessian, x0: np.ndarray, held: np.ndarray):
    """:func:`_mode` from ``x0`` in two steps: with the coordinates ``held`` (a mask) fixed
    at ``x0``'s values, then every coordinate free from where that search ended. The
    result's ``nit`` counts both."""
    free = ~held

    def full(y):
        x = x0.copy()
        x[free] = y
        return x

    def value_and_grad_free(y):
        value, grad = value_and_grad(full(y))
        return value, np.asarray(grad)[free]

    def hessian_free(y):
        return np.asarray(hessian(full(y)))[np.ix_(free, free)]

    first = _mode(value_and_grad_free, hessian_free, x0[free])
    second = _mode(value_and_grad, hessian, full(first.x))
    second.nit += first.nit
    return second


def _jitter(
    potential, mode: scipy.optimize.OptimizeResult, step: np.ndarray, rise: float
) -> np.ndarray:
    """``mode.x + t·step`` with the largest ``t`` in 1, ½, ¼, … (down to ``2⁻¹⁰``, else 0)
    at which ``U`` rises above the mode's by at most ``rise``: a Laplace draw, pulled
    back where the posterior is not Gaussian enough for it (a curved ridge, a funnel), so
    that no chain starts where a posterior draw would not be."""
    for t in 2.0 ** -np.arange(11):
        start = mode.x + t * step
        if float(potential(start)) - mode.fun <= rise:
            return start
    return mode.x


def laplace_start(
    model, kwargs: dict, seed: int, chains: int, dense_mass: bool, hold: tuple[str, ...] = ()
) -> Start:
    """Start values for ``chains`` chains of ``model(**kwargs)`` and the warmup's first
    inverse mass matrix, from the posterior's modes and its Laplace approximation (module
    docstring). ``hold`` names the sites a search that ends at no mode holds at its start
    when it tries again. Runs in float64 on the current default device; call it where the
    fit runs. The same ``seed`` gives the same starts.
    """
    with jax.enable_x64(True):
        data = jax.device_put(kwargs)
        keys = jax.random.split(jax.random.PRNGKey(seed), chains)
        prior = jax.device_get(_prior_starts(model, keys, data))
        layout = Layout(prior)
        flat = layout.flatten(prior)

        def potential(x, data):
            return potential_energy(model, (), data, layout.unflatten(x))

        # the data are arguments of the compiled programs, not constants in them
        value_and_grad = partial(jax.jit(jax.value_and_grad(potential)), data=data)
        grad = jax.grad(potential)
        hessian = partial(jax.jit(lambda x, data: _hessian(partial(grad, data=data), x)), data=data)
        first = [_mode(value_and_grad, hessian, x0) for x0 in flat]
        held = layout.coordinates(hold)
        retried = [bool(held.any() and not r.converged) for r in first]
        fits = [
            _mode_holding(value_and_grad, hessian, x0, held) if again else r
            for x0, r, again in zip(flat, first, retried, strict=True)
        ]
        summary = {
            "mode_iterations": [  # a retried search's count adds the retry's
                int(a.nit + (r.nit if again else 0))
                for a, r, again in zip(first, fits, retried, strict=True)
            ],
            "mode_converged": [r.converged for r in fits],
            "mode_retried": retried,
        }
        converged = [c for c, r in enumerate(fits) if r.converged]
        if not converged:
            why = (
                "no chain's search ended at a mode (a positive definite Hessian where "
                f"Newton's step gains under {DECREMENT_TOLERANCE:g} nats)"
                + (f", not even with {', '.join(hold)} held first" if any(retried) else "")
            )
            message = (
                f"the Laplace start fell back to the prior: {why}; Newton iterations per "
                f"chain {summary['mode_iterations']} (at most {MAX_ITERATIONS} per search). "
                "Every chain starts from the prior mean with the identity mass matrix, so "
                "warmup must travel to the posterior and adapt from scratch. The posterior "
                "has no proper mode: a direction that the data and priors leave flat, or a "
                "density that grows without bound (a centred hierarchy's as a group scale "
                "τ → 0). Try "
                "centring='non-centred' for a hierarchy, tighter priors on parameters the "
                "data barely constrain, or more warmup; init='prior' starts from the prior "
                "without the search."
            )
            warnings.warn(message, StartWarning, stacklevel=2)
            return Start(
                None,
                None,
                {"start": "prior", "mass_matrix": "identity", "why": why, **summary},
                warning=message,
            )
        best = fits[min(converged, key=lambda c: fits[c].fun)]
        eigenvalues, vectors = np.linalg.eigh(best.hess)
        root = vectors / np.sqrt(eigenvalues)  # root @ root.T = H⁻¹
        rise = 0.5 * scipy.stats.chi2.ppf(TYPICAL_SET_QUANTILE, flat.shape[1])
        # a chain starts from its own mode unless it found none, or a minor one: higher
        # than the best by more than a posterior draw rises (mass e^{−ΔU} next to nothing)
        own = [bool(c in converged and fits[c].fun - best.fun <= rise) for c in range(chains)]
        summary["mode_potential_above_best"] = [round(float(r.fun - best.fun), 3) for r in fits]
        summary["from_own_mode"] = own
        eps = np.random.default_rng([seed, _STREAM]).standard_normal(flat.shape)
        starts = np.array(
            [
                _jitter(
                    lambda x: value_and_grad(x)[0], fits[c] if own[c] else best, root @ eps[c], rise
                )
                for c in range(chains)
            ]
        )
    cov = root @ root.T
    return Start(
        layout.unflatten(starts),
        cov if dense_mass else np.diag(cov),
        {"start": "laplace", "mass_matrix": "laplace", **summary},
    )
