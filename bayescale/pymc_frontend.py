r"""bayescale's model in PyMC, from the same definition: a ``pm.Model`` to extend and sample.

:func:`pymc_model` builds the model that :func:`bayescale.fit` samples — the same priors,
likelihood, pooling, shear and training-curve term (:mod:`bayescale.model`) — as a PyMC
model with bayescale's variable names, so a PyMC user can add terms to it, sample it with
nutpie or PyMC's NUTS, and hand the draws to :meth:`bayescale.Posterior.from_idata` for
every query, plot and command (its docstring has a user script).

One definition
--------------

Nothing of a law's maths is written here. Each piece comes from its one home:

* **the law**: ``law.log_loss`` (pure JAX) enters the PyTensor graph through
  ``pytensor.wrap_jax``, which calls it forward and takes its gradient with ``jax.vjp``
  (:func:`bayescale.pytensor_jax.jax_op`: one VJP per gradient however many variables);
* **partial pooling**: the population's location on each varying parameter's pooling
  scale and the group values from it are :func:`bayescale.hierarchy.population_loc` and
  :func:`bayescale.hierarchy.group_values`, wrapped the same way (they apply the law's
  NumPyro bijections, which act on JAX arrays only). The group values are then
  ``u_g = loc + τ·z_g`` (non-centred) or ``u_g ~ Normal(loc, τ)`` (centred), as in
  :func:`bayescale.model.partial_params`;
* **training curves**: the run-marginal density with the run offsets integrated out is
  :func:`bayescale.likelihood.run_log_density` (with offset groups
  :func:`bayescale.likelihood.shared_log_density`), wrapped, as a ``pm.Potential``;
* **priors** are translated from NumPyro to PyMC distributions (:func:`pymc_prior`), and
  the point noise is PyMC's ``StudentT`` or ``Normal`` on log loss.

Priors as PyMC distributions
----------------------------

A prior becomes the PyMC distribution of the same family and parameters
(``PRIOR_FAMILIES``; truncated ones become ``pm.Truncated``), not a ``pm.Potential`` of
NumPyro's ``log_prob`` on a flat variable. The density is the same either way. As PyMC
distributions the priors are compiled with the rest of the graph by whichever backend
samples it (C, numba, JAX) rather than each calling into JAX, they show in the model's
graph by family, and PyMC's default transforms are the bijections NumPyro samples on
(``log`` for positive parameters, ``log(x − lower)`` and ``log(upper − x)`` for one
bound, log-odds for two): the unconstrained space that NUTS sees, Jacobians included, is
the one :func:`bayescale.fit` samples (``tests/test_pymc_model.py`` checks the log
density and its gradient at random points to float64 precision). A NumPyro class not in
the table raises :class:`~bayescale.errors.InputError` naming it.

The shear
---------

An intercept named in the law's ``shear`` is sampled on its centred coordinate, as in
:func:`bayescale.model.sample_law_params`: a flat ``a_centred``, ``a =
pm.Deterministic(a_centred + α·m)`` and the prior density on ``a`` itself as the potential
``a_prior``. Without it NUTS meets Chinchilla's posterior as a narrow ridge of ``a``
against ``α``. (A flat variable has no prior draws, so ``pm.sample_prior_predictive`` does
not apply to a law with a shear.) A law with a ``level`` has its terms on the same level
coordinates as the NumPyro model (flat ``e_level``, ``a_share``, ``alpha_slope``, ...,
mapped by :func:`bayescale.model.level_parameters` itself), except where groups vary a
level parameter and, as there, the population means keep the shear alone
(:func:`bayescale.model.level_applies`).

Precision and processes
-----------------------

The wrapped JAX functions compute at the model's precision (float64, PyMC's default)
without touching JAX's process-wide ``jax_enable_x64`` flag
(:mod:`bayescale.pytensor_jax`). Building the model runs JAX (to trace them), which fixes
JAX's CPU devices for the process, so it first asks JAX for one per core, as :func:`fit`
does (:func:`bayescale.devices.prepare_cpu_devices`): a later fit's chains then run in
parallel.
JAX runs threads, which a forked process may not survive: ``pm.sample`` with several
cores forks its chains by default on Linux, which can deadlock, so pass it
``mp_ctx="spawn"`` (or ``cores=1``). nutpie runs its chains in threads of one process.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpyro.distributions as dist

from bayescale.curves import CURVE_MIN_FRACTION
from bayescale.devices import prepare_cpu_devices
from bayescale.errors import InputError, InputTypeError
from bayescale.hierarchy import group_values, ordered, population_loc
from bayescale.laws import Law
from bayescale.likelihood import noise_params, run_groups, run_log_density, shared_log_density
from bayescale.model import CENTRED_SUFFIX, by_point, level_applies, level_parameters, level_sites
from bayescale.model_inputs import ModelInputs, model_inputs
from bayescale.sweep import Sweep

try:
    import pymc as pm
    import pytensor.tensor as pt

    from bayescale.pytensor_jax import jax_op
except ImportError:  # without the pymc extra, pymc_model says how to install it
    pm = None

PRIOR_FAMILIES = {
    dist.Normal: ("Normal", {"mu": "loc", "sigma": "scale"}),
    dist.LogNormal: ("LogNormal", {"mu": "loc", "sigma": "scale"}),
    dist.HalfNormal: ("HalfNormal", {"sigma": "scale"}),
    dist.StudentT: ("StudentT", {"nu": "df", "mu": "loc", "sigma": "scale"}),
    dist.Cauchy: ("Cauchy", {"alpha": "loc", "beta": "scale"}),
    dist.HalfCauchy: ("HalfCauchy", {"beta": "scale"}),
    dist.Laplace: ("Laplace", {"mu": "loc", "b": "scale"}),
    dist.Gamma: ("Gamma", {"alpha": "concentration", "beta": "rate"}),
    dist.InverseGamma: ("InverseGamma", {"alpha": "concentration", "beta": "rate"}),
    dist.Exponential: ("Exponential", {"lam": "rate"}),
    dist.Beta: ("Beta", {"alpha": "concentration1", "beta": "concentration0"}),
    dist.Uniform: ("Uniform", {"lower": "low", "upper": "high"}),
}
"""NumPyro class → PyMC class name and ``{PyMC argument: NumPyro attribute}``; the two
libraries parameterise each family alike (Gamma and InverseGamma by shape and rate, Beta
by ``(α, β) = (concentration1, concentration0)``)."""

TRUNCATED = (
    dist.LeftTruncatedDistribution,
    dist.RightTruncatedDistribution,
    dist.TwoSidedTruncatedDistribution,
)
"""NumPyro's truncations (``dist.TruncatedNormal(..., low=0)`` is one): ``pm.Truncated`` of
the translated base distribution, between ``low`` and ``high``."""


def _require_pymc() -> None:
    if pm is None:
        raise ImportError(
            "bs.pymc_model needs PyMC (and nutpie to sample as in its example): "
            "pip install 'bayescale[pymc]'."
        )


def pymc_prior(prior: dist.Distribution, name: str | None = None, **kwargs):
    """The PyMC distribution of NumPyro distribution ``prior``: a random variable ``name``
    of the current model (``kwargs`` such as ``dims`` go to it), or with ``name=None``
    the unnamed ``.dist()`` whose ``pm.logp`` is ``prior``'s ``log_prob``."""
    _require_pymc()
    if isinstance(prior, TRUNCATED):
        bounds = {
            "lower": None if getattr(prior, "low", None) is None else np.asarray(prior.low),
            "upper": None if getattr(prior, "high", None) is None else np.asarray(prior.high),
        }
        base = pymc_prior(prior.base_dist)
        if name is None:
            return pm.Truncated.dist(base, **bounds)
        return pm.Truncated(name, base, **bounds, **kwargs)
    family = PRIOR_FAMILIES.get(type(prior))
    if family is None:
        known = sorted(cls.__name__ for cls in PRIOR_FAMILIES)
        raise InputError(
            f"pymc_model cannot translate the numpyro prior {type(prior).__name__} into "
            f"PyMC; it knows {known} and their truncations (e.g. TruncatedNormal). Fix: "
            "give that parameter one of these through priors=..., or add your prior's "
            "density to the model yourself with pm.Potential."
        )
    cls, arguments = getattr(pm, family[0]), family[1]
    values = {key: np.asarray(getattr(prior, attr)) for key, attr in arguments.items()}
    return cls.dist(**values) if name is None else cls(name, **values, **kwargs)


def _static(tensors: Mapping, n_groups: int) -> dict:
    """``tensors`` (scalars, or one value per group) with their shapes stated, as
    ``wrap_jax`` needs them to trace a JAX function."""
    return {k: pt.specify_shape(v, (n_groups,) * v.ndim) for k, v in tensors.items()}


def _law_params(
    law: Law, priors: Mapping, centre: Mapping, site=lambda p: p, dims=None, level=True
):
    """The law's parameters as PyMC variables named by ``site``, sheared intercepts on
    their centred coordinate and, for a law with a ``level`` (unless ``level=False``), its
    terms on level coordinates (:func:`bayescale.model.sample_law_params`);
    ``dims="group"`` gives one set per group."""
    theta = _level_params(law, priors, centre, site, dims) if law.level and level else {}
    for name in ordered(law):
        if name in theta:
            continue
        if name not in law.shear:
            theta[name] = pymc_prior(priors[name], site(name), dims=dims)
            continue
        exponent, pivot = law.pivot(name, centre)
        centred = pm.Flat(site(name) + CENTRED_SUFFIX, dims=dims)
        theta[name] = pm.Deterministic(site(name), centred + theta[exponent] * pivot, dims=dims)
        pm.Potential(site(name) + "_prior", pm.logp(pymc_prior(priors[name]), theta[name]))
    return theta


def _level_params(law: Law, priors: Mapping, centre: Mapping, site, dims) -> dict:
    """The terms of ``law.level`` and their exponents from flat level coordinates, by the
    NumPyro model's own map (:func:`bayescale.model.level_parameters`, wrapped), with the
    prior on the law's parameters and the exponents' ``log |dx/du|`` as a potential."""
    level_site, share_sites, slope_sites = level_sites(law, site)
    coordinates = (
        pm.Flat(level_site, dims=dims),
        {name: pm.Flat(s, dims=dims) for name, s in share_sites.items()},
        {name: pm.Flat(s, dims=dims) for name, s in slope_sites.items()},
    )
    if dims is not None:
        n_groups = len(pm.modelcontext(None).coords[dims])
        level, shares, slopes = coordinates
        coordinates = (
            _static({"level": level}, n_groups)["level"],
            _static(shares, n_groups),
            _static(slopes, n_groups),
        )

    def law_terms(level, shares, slopes):
        return level_parameters(law, centre, level, shares, slopes)

    theta, log_jacobian = jax_op(law_terms)(*coordinates)
    log_prior = log_jacobian + sum(
        pm.logp(pymc_prior(priors[name]), value) for name, value in theta.items()
    )
    pm.Potential(level_site + "_prior", log_prior)
    return {name: pm.Deterministic(site(name), value, dims=dims) for name, value in theta.items()}


def _partial_params(inputs: ModelInputs) -> dict:
    """Population means ``mu_*``, spreads ``tau_*`` and group values of the parameters in
    ``vary`` (:func:`bayescale.model.partial_params`); the rest shared."""
    law, vary, centre, priors = inputs.law, inputs.vary, inputs.centre, inputs.priors
    site = lambda p: f"mu_{p}" if p in vary else p  # noqa: E731
    mu = _law_params(law, priors, centre, site=site, level=level_applies(law, vary))

    def population_locs(mu):
        return {p: population_loc(law, p, mu, centre) for p in vary}

    def varying_values(mu, u):
        theta = group_values(law, mu, vary, centre, lambda p, _: u[p])
        return {p: theta[p] for p in vary}

    locs = jax_op(population_locs)(mu)
    u = {}
    for name in vary:
        tau = pymc_prior(priors[f"tau_{name}"], f"tau_{name}")
        if inputs.centring == "centred":
            u[name] = pm.Normal(f"u_{name}", locs[name], tau, dims="group")
        else:
            u[name] = locs[name] + tau * pm.Normal(f"z_{name}", 0.0, 1.0, dims="group")
    values = jax_op(varying_values)(mu, _static(u, len(inputs.groups)))
    return {**mu, **{p: pm.Deterministic(p, values[p], dims="group") for p in vary}}


def _observe(inputs: ModelInputs, theta: Mapping, noise: Mapping) -> None:
    """The law at the points (each with its group's parameters) and the likelihood: per
    point, or per run with the run offsets integrated out."""
    args, law, n_groups = inputs.args, inputs.law, max(len(inputs.groups), 1)
    group = args.get("group")

    def law_log_loss(theta):
        per_point = {
            p: by_point(v, group, n_groups, masked=False) if v.ndim else v for p, v in theta.items()
        }
        return law.log_loss_at(per_point, args["log_n"], args["log_d"], args.get("inputs"))

    mu = jax_op(law_log_loss)(_static(theta, n_groups))
    y, nu = args["log_loss"], noise.get("nu")
    if inputs.shared:
        run, n_runs = args["run"], len(inputs.runs)
        group = run_groups(args["offset_group"], run, n_runs)

        def groups_log_density(mu, noise):
            return shared_log_density(
                y - mu,
                run,
                n_runs,
                group,
                len(inputs.shared),
                noise["sigma"],
                noise["sigma_run"],
                noise["sigma_shared"],
            ).sum()

        pm.Potential("log_loss", jax_op(groups_log_density)(mu, dict(noise)))
    elif inputs.runs:
        run, n_runs = args["run"], len(inputs.runs)

        def runs_log_density(mu, noise):
            return run_log_density(
                y - mu, run, n_runs, noise["sigma"], noise["sigma_run"], noise.get("nu")
            ).sum()

        pm.Potential("log_loss", jax_op(runs_log_density)(mu, dict(noise)))
    elif nu is None:
        pm.Normal("log_loss", mu=mu, sigma=noise["sigma"], observed=y, dims="point")
    else:
        pm.StudentT("log_loss", nu=nu, mu=mu, sigma=noise["sigma"], observed=y, dims="point")


def pymc_model(
    sweep: Sweep,
    law: str | Law = "chinchilla",
    *,
    pooling: str = "none",
    vary=None,
    centring: str = "non-centred",
    priors: Mapping[str, dist.Distribution] | None = None,
    likelihood: str | None = None,
    checkpoints: str | None = None,
    min_fraction: float = CURVE_MIN_FRACTION,
    offset_groups: str | None = None,
):
    """The model :func:`bayescale.fit` samples, as a ``pm.Model`` (module docstring).

    A PyMC user's script (``pip install 'bayescale[pymc]'``): bayescale's model with a term
    added, a prior belief that N and D scale alike (α ≈ β, which the independent priors of
    :func:`bayescale.fit` cannot state), sampled with nutpie and asked a planning
    question::

        import bayescale as bs
        import nutpie
        import pymc as pm

        sweep = bs.load_dataset("chinchilla")
        sweep = sweep.exclude(sweep.frame["besiroglu_excluded"], reason="as Besiroglu et al.")
        model = bs.pymc_model(sweep, law="chinchilla")
        with model:
            alike = pm.logp(pm.Normal.dist(0.0, 0.05), model["alpha"] - model["beta"])
            pm.Potential("alpha_near_beta", alike)
        compiled = nutpie.compile_pymc_model(model, backend="jax", gradient_backend="jax")
        idata = nutpie.sample(compiled, chains=4, tune=1000, draws=1000, seed=0)
        post = bs.Posterior.from_idata(idata, law="chinchilla", sweep=sweep)
        print(post.optimal([1e22, 1e24]).interval(0.9))

    nutpie's JAX backend compiles the whole log density, law and all, into one JAX program;
    ``pm.sample(mp_ctx="spawn")`` samples the model too (module docstring).

    The model's variables carry bayescale's names: the law's parameters (``a_centred``
    for a sheared intercept ``a``), ``sigma``, ``nu`` (Student-t), ``sigma_run`` (training
    curves), and under partial pooling ``mu_*``, ``tau_*`` and ``z_*`` (non-centred) or
    ``u_*`` (centred); coordinates ``point`` and ``group``. A posterior sampled from it,
    with terms added or not, becomes a bayescale posterior with
    ``bs.Posterior.from_idata(idata, law=..., sweep=sweep)``, per group too. (Of training
    curves, from_idata keeps the law and ``sigma`` but not ``sigma_run``: its loss
    predictions leave out the run-to-run scatter.)

    The arguments are :func:`bayescale.fit`'s of the same names, validated the same way
    (:func:`bayescale.model_inputs.model_inputs`).

    Parameters
    ----------
    sweep
        the data, a :class:`bayescale.Sweep`.
    law
        a registered law's name or a :class:`bayescale.Law`.
    pooling
        ``"none"``, ``"partial"`` or ``"separate"``, as in :func:`bayescale.fit`.
    vary
        under partial pooling, the parameters that vary by group (default: all).
    centring
        under partial pooling, ``"non-centred"`` (the default, ``z_*`` variables) or
        ``"centred"`` (``u_*`` variables).
    priors
        replaces any default prior by name with a NumPyro distribution
        (:mod:`bayescale.priors`).
    likelihood
        ``"student_t"`` or ``"normal"``; ``None`` chooses as :func:`bayescale.fit` does.
    checkpoints
        for training curves, ``"all"`` or ``"final"`` checkpoints, as in
        :func:`bayescale.fit`.
    min_fraction
        when every checkpoint is used, those before ``min_fraction`` of the run's final
        tokens are excluded.
    offset_groups
        for training curves, the column whose values group the runs' offsets, as in
        :func:`bayescale.fit`.

    Returns
    -------
    pymc.Model
        the model, not yet sampled.
    """
    _require_pymc()
    if not isinstance(sweep, Sweep):
        raise InputTypeError(
            f"pymc_model expects a bayescale.Sweep, got {type(sweep).__name__}; build one "
            "with bs.Sweep.from_frame(df, ...) or bs.read_sweep(path)."
        )
    inputs = model_inputs(
        sweep,
        law,
        pooling=pooling,
        vary=vary,
        centring=centring,
        checkpoints=checkpoints,
        min_fraction=min_fraction,
        offset_groups=offset_groups,
        priors=priors,
        likelihood=likelihood,
    )
    prepare_cpu_devices(chains=1)
    coords = {"point": np.arange(len(inputs.args["log_loss"]))}
    if inputs.groups:
        coords["group"] = inputs.groups
    law = inputs.law
    with pm.Model(coords=coords) as model:
        if inputs.pooling == "none":
            theta = _law_params(law, inputs.priors, inputs.centre)
        elif inputs.pooling == "separate":
            theta = _law_params(law, inputs.priors, inputs.centre, dims="group")
        else:
            theta = _partial_params(inputs)
        names = (
            noise_params(inputs.likelihood)
            + (("sigma_run",) if inputs.runs else ())
            + (("sigma_shared",) if inputs.shared else ())
        )
        noise = {name: pymc_prior(inputs.priors[name], name) for name in names}
        _observe(inputs, theta, noise)
    return model
