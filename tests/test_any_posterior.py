"""Planning works on any posterior: a user law defined in a few lines, and draws sampled
outside bayescale (plain NumPyro) wrapped with ``Posterior.from_idata``."""

from __future__ import annotations

import json
import warnings

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pandas as pd
import pytest
import xarray as xr
from numpyro.infer import MCMC, NUTS, init_to_value

import bayescale as bs
from bayescale.cli import main
from bayescale.reference import reference_sweep


# ------------------------------------------------------------------ a user law in 20 lines
def linear_log_loss(theta, log_n, log_d):
    """Chinchilla's law written as a user might: constants on their own scale, no shear,
    no closed-form optimum, no derived quantities."""
    return jnp.log(
        theta["E"]
        + theta["A"] * jnp.exp(-theta["alpha"] * log_n)
        + theta["B"] * jnp.exp(-theta["beta"] * log_d)
    )


USER_LAW = bs.Law(
    name="user_chinchilla",
    params=("E", "A", "alpha", "B", "beta"),
    log_loss=linear_log_loss,
    priors={
        "E": dist.LogNormal(0.5, 1.0),
        "A": dist.LogNormal(6.0, 3.0),
        "alpha": dist.LogNormal(-1.2, 0.75),
        "B": dist.LogNormal(6.0, 3.0),
        "beta": dist.LogNormal(-1.2, 0.75),
    },
    formula="L = E + A/N^alpha + B/D^beta",
)


@pytest.fixture(scope="module")
def user_law():
    law = bs.register_law(USER_LAW, overwrite=True)
    yield law


def as_user_law(post: bs.Posterior) -> xr.Dataset:
    """The draws of a Chinchilla posterior on the user law's scale."""
    p = post.posterior
    return xr.Dataset(
        {
            "E": np.exp(p["e"]),
            "A": np.exp(p["a"]),
            "alpha": p["alpha"],
            "B": np.exp(p["b"]),
            "beta": p["beta"],
            "sigma": p["sigma"],
            "nu": p["nu"],
        }
    )


@pytest.fixture(scope="module")
def both(user_law, synthetic_posterior):
    """The same draws as the built-in law's posterior and as the user law's."""
    idata = az.InferenceData(posterior=as_user_law(synthetic_posterior))
    sweep = bs.Sweep.from_frame(_sweep_frame(synthetic_posterior))
    with warnings.catch_warnings():  # the same draws' R-hat and ESS, tolerated in conftest
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        user = bs.Posterior.from_idata(
            idata, law=user_law, sweep=sweep, seed=synthetic_posterior.info.sampler.seed
        )
    return synthetic_posterior, user


def _sweep_frame(post):
    const = post.groups["constant_data"]
    return pd.DataFrame(
        {
            "n_params": np.exp(const["log_n"].values),
            "n_tokens": np.exp(const["log_d"].values),
            "loss": np.exp(post.groups["observed_data"]["log_loss"].values),
        }
    )


def test_user_law_answers_every_planning_query_as_the_built_in_law(both):
    builtin, user = both
    budgets = [1e21, 1e23]
    # The numeric optimum resolves log N to float64 precision (bayescale.optimum); the
    # closed form and the numeric search agree to 1e-9 relative.
    for name in ("n_opt", "d_opt", "loss_opt"):
        np.testing.assert_allclose(
            user.optimal(budgets)[name].values, builtin.optimal(budgets)[name].values, rtol=1e-9
        )
    np.testing.assert_allclose(
        user.excess_compute([0.5, 2.0], 1e21)["compute_ratio"].values,
        builtin.excess_compute([0.5, 2.0], 1e21)["compute_ratio"].values,
        rtol=1e-7,
    )
    target = float(np.median(builtin.optimal(1e21)["loss_opt"].values))
    np.testing.assert_allclose(
        user.compute_to_reach(target)["compute"].values,
        builtin.compute_to_reach(target)["compute"].values,
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        user.predict_loss(1e9, 2e10)["loss_predictive"].values,
        builtin.predict_loss(1e9, 2e10)["loss_predictive"].values,
        rtol=1e-9,
    )
    np.testing.assert_allclose(
        user.efficient_range(1e21)["high"].values,
        builtin.efficient_range(1e21)["high"].values,
        rtol=1e-6,
    )


def test_user_law_gets_the_plots(both):
    import matplotlib.pyplot as plt

    from bayescale import plotting

    _, user = both
    sweep = bs.Sweep.from_frame(_sweep_frame(user))
    for figure in (
        plotting.plot_fit(user, sweep),
        plotting.plot_frontier(user),
        plotting.plot_excess_compute(user, 1e21),
        plotting.plot_pairs(user),
    ):
        fig, _ = figure
        assert any(ax.has_data() for ax in fig.axes)
        plt.close(fig)
    # without key quantities of its own, the pair plot shows the law's parameters
    fig, axes = plotting.plot_pairs(user)
    assert [ax.get_xlabel() for ax in axes[-1]] == list(USER_LAW.params)
    plt.close(fig)


def test_user_law_gets_the_plan_command(both, tmp_path, capsys):
    builtin, user = both
    path = user.save(tmp_path / "user.nc")
    assert main(["plan", "--budget", "1e21", "--posterior", str(path), "--json"]) == 0
    rows = {row["quantity"]: row for row in json.loads(capsys.readouterr().out)["rows"]}
    expected = builtin.optimal(1e21).interval(0.9).set_index("quantity")
    for name in ("n_opt", "d_opt", "loss_opt"):
        assert rows[name]["median"] == pytest.approx(expected.loc[name, "median"], rel=1e-9)


# ------------------------------------------------------- draws from plain NumPyro
def chinchilla_numpyro(log_n, log_d, log_loss):
    """Chinchilla's law with bayescale's default priors and Student-t likelihood, written
    in plain NumPyro by a user who never heard of shears or Laplace starts."""
    e = numpyro.sample("e", dist.Normal(0.5, 1.0))
    a = numpyro.sample("a", dist.Normal(6.0, 3.0))
    alpha = numpyro.sample("alpha", dist.LogNormal(np.log(0.3), 0.75))
    b = numpyro.sample("b", dist.Normal(6.0, 3.0))
    beta = numpyro.sample("beta", dist.LogNormal(np.log(0.3), 0.75))
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.1))
    nu = numpyro.sample("nu", dist.Gamma(2.0, 0.1))
    terms = jnp.stack([jnp.broadcast_to(e, log_n.shape), a - alpha * log_n, b - beta * log_d])
    numpyro.sample(
        "log_loss", dist.StudentT(nu, jax.nn.logsumexp(terms, axis=0), sigma), obs=log_loss
    )


def plan_rows(path_or_reference, capsys) -> dict:
    args = ["plan", "--budget", "1e24", "--json"]
    args += ["--posterior", str(path_or_reference)] if path_or_reference else []
    assert main(args) == 0
    return {row["quantity"]: row for row in json.loads(capsys.readouterr().out)["rows"]}


def test_numpyro_posterior_answers_plan_within_monte_carlo_error(tmp_path, capsys):
    sweep = reference_sweep("chinchilla")  # the reference fit's data
    data = sweep.arrays()
    start = {"e": 0.5, "a": 6.0, "alpha": 0.3, "b": 6.0, "beta": 0.3, "sigma": 0.05, "nu": 10.0}
    with jax.enable_x64(True):
        mcmc = MCMC(
            NUTS(chinchilla_numpyro, dense_mass=True, init_strategy=init_to_value(values=start)),
            num_warmup=500,
            num_samples=500,
            num_chains=2,
            chain_method="sequential",
            progress_bar=False,
        )
        mcmc.run(jax.random.PRNGKey(0), data["log_n"], data["log_d"], data["log_loss"])
        idata = az.from_numpyro(mcmc)
    post = bs.Posterior.from_idata(idata, law="chinchilla", sweep=sweep)
    assert post.warnings == ()  # R-hat, ESS and divergences as for a bayescale fit
    path = post.save(tmp_path / "numpyro.nc")
    theirs, ours = plan_rows(path, capsys), plan_rows(None, capsys)  # None: the reference fit
    reference = bs.load_reference("chinchilla")
    for name in ("n_opt", "d_opt", "loss_opt"):
        draws = {"theirs": post.optimal(1e24)[name], "ours": reference.optimal(1e24)[name]}
        # Monte Carlo standard error of each median (ArviZ, from the draws' own ESS); the
        # medians differ by less than 4 combined standard errors (a 6e-5 two-sided chance
        # for the same posterior), in log space where the draws are near-Normal.
        se = np.hypot(
            *(float(az.mcse(np.log(d.values.squeeze(-1)), method="median")) for d in draws.values())
        )
        gap = abs(np.log(theirs[name]["median"]) - np.log(ours[name]["median"]))
        assert gap < 4 * se, (name, gap, se)
