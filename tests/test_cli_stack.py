"""The command line with several laws: ``fit --law A B`` writes a stack and prints its
weights, ``plan --posterior stack.nc`` answers from the mixture, and the commands that
answer from one posterior refuse a stack by name.

No sampling: :func:`bayescale.fit` is replaced by the stand-in of ``tests/test_lfo.py``
(made-up draws around known parameters; the biased law's exponent is off). Seeds fix
which draws a stack selects, so that a failure reproduces; the assertions (a mixture's
median between its laws', weights printed) hold for any seed.
"""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pytest
from test_cli_behaviour import command
from test_lfo import BIASED, fake_fit, made_up_posterior

import bayescale as bs
from bayescale.evaluation import lfo as lfo_mod
from bayescale.laws import law as law_mod
from bayescale.stacking import Stack

from conftest import synthetic_sweep

WEIGHTS = {"true": 0.25, "biased": 0.75}


@pytest.fixture(autouse=True)
def biased_law_registered(monkeypatch):
    """The biased stand-in law, registered so that the command line can name it."""
    monkeypatch.setitem(law_mod._REGISTRY, BIASED.name, BIASED)


@pytest.fixture
def no_sampling(monkeypatch):
    monkeypatch.setattr(lfo_mod, "fit", fake_fit([]))
    monkeypatch.setattr("bayescale.stacking.fit", fake_fit([]))


@pytest.fixture(scope="module")
def stack_file(tmp_path_factory):
    """A stack of two made-up posteriors whose optima differ, weighted 0.25 / 0.75."""
    sweep = bs.Sweep.from_frame(synthetic_sweep())
    mixed = Stack(
        {"true": made_up_posterior(sweep), "biased": made_up_posterior(sweep, shift=0.05)},
        WEIGHTS,
        seed=2,
    )
    return mixed, mixed.save(tmp_path_factory.mktemp("stack") / "stack.nc")


def test_fit_with_several_laws_writes_a_stack_and_prints_its_weights(capsys, tmp_path, no_sampling):
    source = tmp_path / "runs.csv"
    synthetic_sweep().to_csv(source, index=False)
    out = tmp_path / "stack.nc"
    argv = ["fit", source, "-o", out, "--law", "chinchilla", BIASED.name, "--cuts", 0.5, 0.75]
    code, printed, err = command(capsys, *argv)
    assert code == 0, err
    saved = bs.load_stack(out)
    assert list(saved.components) == ["chinchilla", BIASED.name]
    assert [f["cut"] for f in saved.lfo.attrs["fits"]] == [0, 0, 1, 1, "all", "all"]
    # the weights table names each law with its weight as saved
    for label, weight in saved.weights.items():
        line = next(row for row in printed.splitlines() if row.startswith(label + " "))
        assert f"{weight:.4f}".rstrip("0") in line
    # the truth out-predicts the biased law (tests/test_lfo.py)
    assert saved.weights["chinchilla"] > saved.weights[BIASED.name]


def test_cuts_need_several_laws(capsys, tmp_path):
    code, _, err = command(capsys, "fit", "chinchilla", "-o", tmp_path / "a.nc", "--cuts", 0.5)
    assert code == 2
    assert "two or more --law" in err
    assert not (tmp_path / "a.nc").exists()


def test_plan_answers_from_the_mixture(capsys, stack_file):
    mixed, path = stack_file
    code, printed, err = command(capsys, "plan", "--posterior", path, "--budget", 1e22, "--json")
    assert code == 0, err
    answer = json.loads(printed)
    assert {k: v["weight"] for k, v in answer["laws"].items()} == {"true": 0.25, "biased": 0.75}
    n_opt = next(row for row in answer["rows"] if row["quantity"] == "n_opt")
    draws = mixed.optimal(1e22)["n_opt"].values
    assert n_opt["median"] == pytest.approx(np.median(draws), rel=1e-6)
    # the mixture's median lies strictly between the laws' (weights 0.25 / 0.75 of two
    # posteriors whose optima differ), so a single law's answer would fail
    medians = [np.median(p.optimal(1e22)["n_opt"].values) for p in mixed.components.values()]
    assert min(medians) < n_opt["median"] < max(medians)

    code, printed, err = command(capsys, "plan", "--posterior", path, "--budget", 1e22)
    assert code == 0, err
    assert "a mixture of 2 laws" in printed
    assert "laws by stacking weight (leave-future-out): true 0.250, biased 0.750" in printed
    assert "N_opt" in printed


def test_predict_answers_from_the_mixture(capsys, stack_file):
    mixed, path = stack_file
    argv = ["--n-params", 1e9, "--n-tokens", 2e10]
    code, printed, err = command(capsys, "predict", "--posterior", path, *argv, "--json")
    assert code == 0, err
    rows = {row["quantity"]: row for row in json.loads(printed)["rows"]}
    for quantity, draws in (
        ("loss_mean", mixed.predict_loss(1e9, 2e10)["loss_mean"].values),
        ("compute_ratio", mixed.compute_to_match(1e9, 2e10)["compute_ratio"].values),
    ):
        # the mixture's own draws through JSON, as test_cli_behaviour's predict test
        assert rows[quantity]["median"] == pytest.approx(np.median(draws), rel=1e-9)
    code, printed, err = command(capsys, "predict", "--posterior", path, *argv)
    assert code == 0, err
    assert "a mixture of 2 laws" in printed and "true 0.250, biased 0.750" in printed


def test_plan_a_target_loss_from_the_mixture(capsys, stack_file):
    _, path = stack_file
    code, printed, err = command(capsys, "plan", "--posterior", path, "--target-loss", 2.3)
    assert code == 0, err
    assert "true 0.250, biased 0.750" in printed


def test_plan_repeats_each_law_s_fit_warnings(capsys, tmp_path):
    """The warnings a component's fit raised, kept in the stack file, are printed once."""
    sweep = bs.Sweep.from_frame(synthetic_sweep())
    noisy = dataclasses.replace(made_up_posterior(sweep, shift=0.05), warnings=("noisy fit",))
    # the stack_file fixture's weights and seed; which draws the mixture takes does not
    # touch the warnings, which are the components'
    mixed = Stack({"true": made_up_posterior(sweep), "biased": noisy}, WEIGHTS, seed=2)
    path = mixed.save(tmp_path / "stack.nc")
    code, _, err = command(capsys, "plan", "--posterior", path, "--budget", 1e22)
    assert code == 0, err
    assert err == f"Warning (when law biased of {path} was fitted): noisy fit"


def test_commands_of_one_posterior_refuse_a_stack_by_name(capsys, stack_file):
    _, path = stack_file
    argv = ["compare", "allocations", "--budget", 1e22, "--n-a", 1e9, "--n-b", 2e9]
    code, _, err = command(capsys, *argv, "--posterior", path)
    assert code == 2
    assert "'bayescale plan', 'bayescale predict' and 'bayescale suggest' answer from a" in err


def test_suggest_runs_from_the_mixture(capsys, stack_file):
    _, path = stack_file
    argv = ["suggest", "--target", "n_opt", "--budget", 1e22, "--max-compute", 1e20, "-k", 2]
    code, printed, err = command(capsys, *argv, "--posterior", path)
    assert code == 0, err
    assert "(a mixture of 2 laws)" in printed
    code, printed, err = command(capsys, *argv, "--posterior", path, "--json")
    assert code == 0, err
    record = json.loads(printed)
    assert {k: v["weight"] for k, v in record["laws"].items()} == {"true": 0.25, "biased": 0.75}
    assert [run["rank"] for run in record["runs"]] == [1, 2]
    code, _, err = command(capsys, *argv, "--posterior", path, "--method", "reweight")
    assert code == 2 and "--method reweight" in err and "Traceback" not in err


def test_each_fits_warning_names_its_law_and_runs(capsys, tmp_path, monkeypatch):
    """A fit's warning is printed once, named by the law and the runs it was fitted to."""
    stand_in = fake_fit([])

    def warning_fit(sweep, law, **kwargs):
        post = stand_in(sweep, law, **kwargs)
        if law.name != BIASED.name:
            return post
        message = f"noisy fit of {len(sweep.fit_frame)} runs"
        warnings.warn(message, bs.ConvergenceWarning, stacklevel=2)
        return dataclasses.replace(post, warnings=(message,))

    monkeypatch.setattr(lfo_mod, "fit", warning_fit)
    monkeypatch.setattr("bayescale.stacking.fit", warning_fit)
    source = tmp_path / "runs.csv"
    synthetic_sweep().to_csv(source, index=False)
    argv = ["fit", source, "-o", tmp_path / "s.nc", "--law", "chinchilla", BIASED.name]
    code, _, err = command(capsys, *argv, "--cuts", 0.5)
    assert code == 0, err
    runs = len(synthetic_sweep())
    assert err.count("ConvergenceWarning") == 2  # the cut's fit and the full fit, once each
    assert f"ConvergenceWarning ({BIASED.name}, all runs): noisy fit of {runs} runs" in err
    assert f"ConvergenceWarning ({BIASED.name}, runs below cut 0.5): noisy fit of" in err


def test_fit_of_several_laws_speaks_json(capsys, tmp_path, no_sampling):
    source = tmp_path / "runs.csv"
    synthetic_sweep().to_csv(source, index=False)
    argv = ["fit", source, "-o", tmp_path / "s.nc", "--law", "chinchilla", BIASED.name]
    code, printed, err = command(capsys, *argv, "--cuts", 0.5, "--json")
    assert code == 0, err
    answer = json.loads(printed)
    assert answer["fits"] == 2 * 1 + 2  # two laws at one cut, then on every run
    weights = {label: row["weight"] for label, row in answer["summary"].items()}
    assert weights == pytest.approx(dict(bs.load_stack(tmp_path / "s.nc").weights))
