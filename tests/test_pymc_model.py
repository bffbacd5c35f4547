"""The PyMC front end (``bs.pymc_model``): the same model as ``bs.fit``'s, density for
density, and the same posterior when sampled; its docstring's user script runs."""

from __future__ import annotations

import re
import textwrap
import warnings

import arviz as az
import jax
import numpy as np
import numpyro.distributions as dist
import pandas as pd
import pytest
import xarray as xr
from numpyro.distributions.transforms import biject_to
from numpyro.infer.util import potential_energy

import bayescale as bs
from bayescale import schedules as bss
from bayescale.draws import SAMPLE_DIMS
from bayescale.model_inputs import model_inputs
from bayescale.pymc_frontend import pymc_prior
from bayescale.reference import reference_sweep

from conftest import quiet_fit, synthetic_sweep
from test_multipower import sweep_rows
from test_pooling import curve_sweep, grouped_sweep

pm = pytest.importorskip("pymc", reason="the PyMC front end needs pip install 'bayescale[pymc]'")
JAXOp = pytest.importorskip("pytensor.link.jax.ops").JAXOp

pytestmark = [
    # PyTensor's C backend warns when it finds no BLAS (a pip install); not ours
    pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning"),
]


def grouped_curves() -> pd.DataFrame:
    """Training curves in two groups (alternate runs), for partial pooling with runs."""
    df = curve_sweep(seed=1)
    return df.assign(group=np.where(df["run"].str[1:].astype(int) % 2, "odd", "even"))


def multipower_ladder() -> pd.DataFrame:
    """Multi-power curves of three sizes (one group each), a cosine and a constant run per
    size, for partial pooling that leaves the floor's level coordinates in place. Any
    short schedules and any three sizes serve (the test compares two implementations of one
    density); 4,000 steps logged every 500 keep the PyMC graph small."""
    schedules = {"cos": bss.cosine(4000, 3e-4, 3e-5, 200), "const": bss.constant(4000, 3e-4, 200)}
    frames = []
    for n_params in (3e7, 1e8, 3e8):
        frame = sweep_rows(schedules, n_params=n_params, every=500)
        frames.append(frame.assign(run=frame["run"] + f"_{n_params:.0e}", group=f"{n_params:.0e}"))
    return pd.concat(frames, ignore_index=True)


MODELS = {
    "none, student_t": (synthetic_sweep, {}),
    "partial, non-centred": (lambda: grouped_sweep()[0], {"pooling": "partial"}),
    "partial e, a, centred, normal": (
        lambda: grouped_sweep()[0],
        {"pooling": "partial", "vary": ("e", "a"), "centring": "centred", "likelihood": "normal"},
    ),
    "separate": (lambda: grouped_sweep(n_groups=2)[0], {"pooling": "separate"}),
    "curves, student_t": (curve_sweep, {"checkpoints": "all"}),
    "curves, partial α, normal": (
        grouped_curves,
        {"pooling": "partial", "vary": ("alpha",), "likelihood": "normal", "checkpoints": "all"},
    ),
    "curves, offset groups": (
        grouped_curves,
        {"offset_groups": "group", "likelihood": "normal", "checkpoints": "all"},
    ),
    "multipower ladder, partial a and α, centred": (
        multipower_ladder,
        {
            "law": "multipower",
            "pooling": "partial",
            "vary": ("a", "alpha"),
            "centring": "centred",
            "likelihood": "normal",
        },
    ),
    "priors given": (
        synthetic_sweep,
        {
            "priors": lambda: {
                "e": dist.StudentT(3.0, 0.5, 1.0),
                "alpha": dist.Gamma(3.0, 10.0),
                "beta": dist.TruncatedNormal(0.3, 0.2, low=0.05),
                "a": dist.Cauchy(6.0, 3.0),
                "sigma": dist.Uniform(0.001, 0.5),
                "nu": dist.Exponential(0.05),
            }
        },
    ),
}
"""Sweeps and ``pymc_model``/``fit`` arguments; a callable is called in float64 (NumPyro
keeps some priors' parameters at the precision they were made in, a Beta's for one)."""

PRIORS = (
    lambda: dist.Normal(0.5, 1.0),
    lambda: dist.LogNormal(-1.2, 0.75),
    lambda: dist.HalfNormal(0.1),
    lambda: dist.StudentT(3.0, 0.5, 1.0),
    lambda: dist.Cauchy(6.0, 3.0),
    lambda: dist.HalfCauchy(0.1),
    lambda: dist.Laplace(6.0, 2.0),
    lambda: dist.Gamma(3.0, 10.0),
    lambda: dist.InverseGamma(3.0, 1.0),
    lambda: dist.Exponential(0.05),
    lambda: dist.Beta(2.0, 5.0),
    lambda: dist.Uniform(0.001, 0.5),
    lambda: dist.TruncatedNormal(0.3, 0.2, low=0.05),
    lambda: dist.TruncatedNormal(0.5, 1.0, high=3.0),
    lambda: dist.TruncatedNormal(10.0, 20.0, low=1.0, high=100.0),
)
"""Every family of the prior table, and each kind of truncation."""


def test_each_prior_has_numpyro_s_density_on_numpyro_s_unconstrained_space():
    """Each translated prior, as a PyMC variable, has the NumPyro prior's log density on
    the unconstrained value NumPyro samples (``biject_to(support)``, its Jacobian
    included): PyMC's transform is NumPyro's bijection. To float64 rounding (1e-10
    relative) plus 1e-8 absolute, as PyMC computes a few constants to ~1e-9 only
    (HalfCauchy's ``log 2`` in float32; a truncation's normaliser)."""
    with jax.enable_x64(True):
        priors = [make() for make in PRIORS]
    with pm.Model() as model:
        variables = [pymc_prior(prior, f"x{i}") for i, prior in enumerate(priors)]
    terms = model.compile_fn(model.logp(sum=False), inputs=model.value_vars)
    rng = np.random.default_rng(0)
    for _ in range(4):
        point = {model.rvs_to_values[v].name: rng.normal() for v in variables}
        for prior, variable, got in zip(priors, variables, terms(point), strict=True):
            y = point[model.rvs_to_values[variable].name]
            with jax.enable_x64(True):
                bijection = biject_to(prior.support)
                x = bijection(y)
                expected = prior.log_prob(x) + bijection.log_abs_det_jacobian(y, x)
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-8, err_msg=str(prior))


def _numpyro_log_density(inputs, params):
    """NumPyro's log density and its gradient at unconstrained ``params`` (by site name),
    Jacobians of its transforms included: minus the potential energy NUTS runs on."""

    def log_density(params):
        kwargs = {**inputs.args, "centre": inputs.centre}
        return -potential_energy(inputs.model, (), kwargs, params)

    with jax.enable_x64(True):
        value, grad = jax.value_and_grad(log_density)(params)
    return float(value), {k: np.asarray(v) for k, v in grad.items()}


@pytest.mark.parametrize("case", MODELS)
def test_log_density_and_gradient_equal_the_numpyro_model_s(case):
    """At random points of the unconstrained space both samplers see (PyMC's value
    variables are NumPyro's unconstrained sites: the same transforms), the PyMC model's
    log density and gradient equal those of the NumPyro model ``bs.fit`` samples.

    The density to float64 rounding: ~1e-13 relative for sums of a few hundred terms of
    different implementations (PyMC's and NumPyro's Student-t, say), so 1e-10 leaves room;
    plus 1e-8 absolute for a truncation's normaliser (as in the test above). The gradient
    to 1e-7 of its largest entry: the Student-t's gradient in ν holds a digamma per
    point, which PyTensor computes to ~1e-10 (JAX to ~1e-16), times ν. A model that
    differed would differ by far more: a prior's location moved by 1% of its scale moves
    the density by ~1e-2."""
    make, kwargs = MODELS[case]
    sweep = bs.Sweep.from_frame(make())
    with jax.enable_x64(True):
        kwargs = {k: v() if callable(v) else v for k, v in kwargs.items()}
    inputs = model_inputs(sweep, **kwargs)
    model = bs.pymc_model(sweep, **kwargs)
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    # each wrapped JAX function and its VJP run once per gradient, however many variables
    # PyMC differentiates one at a time (bayescale.pytensor_jax)
    jax_nodes = [n.op.name for n in dlogp.f.maker.fgraph.apply_nodes if isinstance(n.op, JAXOp)]
    assert len(jax_nodes) == len(set(jax_nodes)), jax_nodes
    names = {v.name: model.values_to_rvs[v].name for v in model.value_vars}
    start = model.initial_point()
    rng = np.random.default_rng(0)
    for _ in range(4):
        point = {k: v + 0.5 * rng.standard_normal(np.shape(v)) for k, v in start.items()}
        value, grad = _numpyro_log_density(inputs, {names[k]: v for k, v in point.items()})
        np.testing.assert_allclose(logp(point), value, rtol=1e-10, atol=1e-8)
        expected = np.concatenate([np.ravel(grad[names[v.name]]) for v in model.value_vars])
        np.testing.assert_allclose(
            dlogp(point), expected, rtol=1e-7, atol=1e-7 * np.abs(expected).max()
        )


def test_variables_carry_bayescale_s_names():
    """The names from_idata and a user look for: the law's parameters, the noise, the
    population's, per group where they vary."""
    sweep = bs.Sweep.from_frame(grouped_curves())
    model = bs.pymc_model(sweep, pooling="partial", vary=("e", "a"), checkpoints="all")
    # curves default to the Normal likelihood (bayescale.likelihood.default_likelihood)
    assert {"e", "a", "alpha", "b", "beta", "sigma", "sigma_run"} <= set(model.named_vars)
    assert "nu" not in model.named_vars
    robust = bs.pymc_model(sweep, checkpoints="all", likelihood="student_t")
    assert "nu" in robust.named_vars
    assert {"mu_e", "mu_a", "tau_e", "tau_a", "z_e", "z_a"} <= set(model.named_vars)
    assert model.named_vars_to_dims["e"] == ("group",)
    assert list(model.coords["group"]) == ["even", "odd"]


@pytest.mark.slow  # 17 s for what the tests above and test_any_posterior_groups.py check in parts
def test_a_partially_pooled_pymc_posterior_answers_for_each_group_and_a_new_one():
    nutpie = pytest.importorskip("nutpie", reason="sampled here with nutpie")
    df, _ = grouped_sweep(n_groups=3)
    sweep = bs.Sweep.from_frame(df)
    model = bs.pymc_model(sweep, pooling="partial", vary=("e", "alpha"))
    compiled = nutpie.compile_pymc_model(model, backend="jax", gradient_backend="jax")
    idata = nutpie.sample(compiled, chains=2, tune=100, draws=50, seed=0, progress_bar=False)
    with warnings.catch_warnings():
        # 2 × 50 draws of a hierarchy miss bayescale's ESS thresholds; not what is tested
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        post = bs.Posterior.from_idata(idata, law="chinchilla", sweep=sweep)
    assert (post.info.pooling, post.info.vary) == ("partial", ("e", "alpha"))
    plan = post.optimal(1e22)
    assert list(plan["n_opt"]["group"].values) == ["g0", "g1", "g2", "new"]
    assert np.isfinite(plan["n_opt"].values).all()


def test_a_prior_pymc_cannot_take_is_refused_with_the_fix():
    sweep = bs.Sweep.from_frame(synthetic_sweep())
    with pytest.raises(bs.InputError, match=re.escape("numpyro prior Weibull")) as info:
        bs.pymc_model(sweep, priors={"alpha": dist.Weibull(1.0, 2.0)})
    assert "pm.Potential" in str(info.value)


def test_its_arguments_are_checked_as_fit_checks_them():
    sweep = bs.Sweep.from_frame(synthetic_sweep())
    with pytest.raises(bs.InputError, match="unknown pooling"):
        bs.pymc_model(sweep, pooling="hierarchical")
    with pytest.raises(bs.InputTypeError, match=r"expects a bayescale\.Sweep, got DataFrame"):
        bs.pymc_model(synthetic_sweep())


# ------------------------------------------------------------- the same posterior, sampled
LAW_AND_NOISE = ["e", "a", "alpha", "b", "beta", "sigma", "nu"]


def _mc_disagree(ours: xr.Dataset, theirs: xr.Dataset, moment: str, multiple: float = 4.0):
    """Names whose posterior ``moment`` ("mean", or "variance": the mean of squared
    deviations) differs between two independent samples by more than ``multiple``
    combined Monte Carlo standard errors: ArviZ's MCSE of a mean (autocorrelation
    included) for each, combined as ``sqrt(mcse_1² + mcse_2²)``, the standard deviation of
    the difference of two independent estimates of the same quantity."""

    def values(d):
        return d if moment == "mean" else (d - d.mean(SAMPLE_DIMS)) ** 2

    diffs = values(ours).mean(SAMPLE_DIMS) - values(theirs).mean(SAMPLE_DIMS)
    ses = np.hypot(az.mcse(values(ours), method="mean"), az.mcse(values(theirs), method="mean"))
    out = {}
    for name in ours.data_vars:
        diff, se = float(diffs[name]), float(ses[name])
        if abs(diff) > multiple * se:
            out[name] = f"differs by {diff:.3g}, {abs(diff) / se:.1f} combined MCSE"
    return out


@pytest.mark.filterwarnings(
    # PyMC's dense mass matrix adaptation announces itself as experimental; not ours
    "ignore:QuadPotentialFullAdapt is an experimental feature:UserWarning"
)
def test_pymc_s_nuts_samples_the_posterior_bayescale_samples():
    """The Chinchilla data fitted both ways: ``bs.fit`` and PyMC's own NUTS on
    ``bs.pymc_model`` (2 chains × 500 draws each; PyMC starts at its MAP with a dense mass
    matrix, as bs.fit starts at a mode with one). Posterior means and variances of the
    law's parameters and the noise agree within 4 combined MCSE, and so do the means of
    ``log N_opt`` and the loss at 1e24 FLOPs that the PyMC draws answer as a bayescale
    posterior (16 comparisons of independent samples, each a false alarm with
    probability 6e-5: 1e-3 in all)."""
    sweep = reference_sweep("chinchilla")
    ours = quiet_fit(sweep, chains=2, warmup=500, draws=500, seed=1)
    with bs.pymc_model(sweep):
        start = pm.find_MAP(progressbar=False)
        idata = pm.sample(
            draws=500,
            tune=500,
            chains=2,
            cores=1,
            init="adapt_full",
            initvals=start,
            random_seed=1,
            progressbar=False,
        )
    for moment in ("mean", "variance"):
        assert not _mc_disagree(
            ours.posterior[LAW_AND_NOISE], idata.posterior[LAW_AND_NOISE], moment
        ), moment
    theirs = bs.Posterior.from_idata(idata, law="chinchilla", sweep=sweep)
    plans = [post.optimal(1e24).dataset.squeeze("budget", drop=True) for post in (ours, theirs)]
    plans = [xr.Dataset({"log_n_opt": np.log(p.n_opt), "loss_opt": p.loss_opt}) for p in plans]
    assert not _mc_disagree(*plans, "mean")


# ------------------------------------------------------------------ the docstring's script
def _user_script() -> str:
    """The script in ``bs.pymc_model``'s docstring: the indented block after ``::``."""
    doc = bs.pymc_model.__doc__
    block = doc[doc.index("::\n") + 3 :]
    lines = []
    for line in block.splitlines():
        if line.strip() and not line.startswith(" " * 8):
            break
        lines.append(line)
    return textwrap.dedent("\n".join(lines)).strip()


def test_the_docstring_s_user_script_runs_and_plans(capsys):
    """The user script of ``bs.pymc_model`` as written, at 4 × (200 + 200) draws instead
    of 4 × (1000 + 1000): its median N_opt at 1e24 FLOPs lies in the reference
    posterior's 90% interval (the term it adds, α − β ~ Normal(0, 0.05), barely moves the
    data's α − β ≈ −0.015)."""
    pytest.importorskip("nutpie", reason="the user script samples with nutpie")
    script = _user_script()
    assert len(script.splitlines()) <= 15
    small = script.replace("tune=1000, draws=1000", "tune=200, draws=200")
    assert small != script
    namespace = {}
    with warnings.catch_warnings():
        # 4 × 200 draws may miss bayescale's R-hat or ESS thresholds; the script's output
        # is what this test checks, not the convergence of a short run
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        exec(compile(small, "pymc_model docstring", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "n_opt" in printed and "loss_opt" in printed
    plan = namespace["post"].optimal(1e24)["n_opt"]
    reference = bs.load_reference("chinchilla").optimal(1e24).interval(0.9)
    row = reference[reference["quantity"] == "n_opt"].iloc[0]
    assert row["eti_5%"] < float(plan.median()) < row["eti_95%"]
