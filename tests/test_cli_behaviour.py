"""Every command, plot and input of the command line behaves (issue 20's reproductions).

A user's mistake exits with status 2 and one paragraph that names the flag, the value
and the fix, never a traceback, and writes nothing; output paths are checked before any
sampling; no file is replaced without ``--overwrite``; every command speaks strict JSON
with ``--json``; per-group posteriors plot one group at a time; a named pipe is refused
rather than read. Fits run in a subprocess, as a user runs them (their sampling warnings
then print rather than fail the test); everything else calls ``main`` in-process.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.cli import main
from bayescale.cli.flags import flag_syntax
from bayescale.cli.output import strict
from bayescale.diagnostics import problems
from bayescale.errors import ExtrapolationWarning, PlanningWarning
from bayescale.hardware import get_accelerator

from conftest import synthetic_sweep

README = Path(__file__).resolve().parents[1] / "README.md"


def command(capsys, *argv, warns=()) -> tuple[int, str, str]:
    """``bayescale argv`` in-process: exit status, standard output, and standard error as one
    line. ``warns``: warning categories the command must print to standard error, as the
    command line prints warnings (any other warning fails the test)."""
    capsys.readouterr()
    with warnings.catch_warnings():
        for category in warns:
            warnings.simplefilter("always", category)
        code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    for category in warns:
        assert f"{category.__name__}: " in err, err
    return code, out, " ".join(err.split())


def subprocess_command(*argv, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    """``bayescale argv`` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "bayescale", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )


def strict_json(text: str):
    """``text`` parsed as strict JSON: ``Infinity``, ``-Infinity`` and ``NaN`` are errors."""

    def refuse(token):
        raise AssertionError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def can_write(folder: Path) -> bool:
    try:
        (folder / "probe").touch()
    except OSError:
        return False
    (folder / "probe").unlink()
    return True


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder this process cannot write in: one without write permission, or, for a user
    whom permissions do not stop (root), /sys."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if can_write(folder):
            if can_write(Path("/sys")):
                pytest.skip("no folder here that this user cannot write in")
            yield Path("/sys")
        else:
            yield folder
    finally:
        (tmp_path / "read_only").chmod(0o755)


@pytest.fixture
def no_sampling(monkeypatch):
    """Fail the test if a command starts sampling."""

    def refuse(*args, **kwargs):
        raise AssertionError("sampling started before the arguments were checked")

    monkeypatch.setattr("bayescale.inference._sample", refuse)


def assert_user_error(code, err, command, *fragments):
    assert code == 2, err
    assert err.startswith(f"bayescale {command}: error: "), err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


# ------------------------------------------------------------- numbers out of range
HARDWARE = ["--gpu", "H100", "--gpus", "1024"]  # the README's plan on hardware


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (
            ["plan", "--budget", "1e24", *HARDWARE, "--tensor-parallel", "0"],
            ["--tensor-parallel must be a whole number ≥ 1, got 0", "e.g. --tensor-parallel 8"],
        ),
        (
            ["plan", "--budget", "1e24", *HARDWARE, "--tensor-parallel=-8"],
            ["--tensor-parallel must be a whole number ≥ 1, got -8"],
        ),
        (["plan", "--budget", "-1e22"], ["--budget must be a number > 0, got -1e+22", "e.g."]),
        (["plan", "--budget", "1e22", "-1e23"], ["--budget must be a number > 0, got -1e+23"]),
        (["plan", "--target-loss", "-2"], ["--target-loss must be a number > 0, got -2.0"]),
        (["plan", "--budget", "1e22", "--ci", "1.5"], ["--ci must be a number in (0, 1)"]),
        (
            ["plan", "--budget", "1e22", "--gpu", "H100", "--gpus", "8", "--mfu", "1.5"],
            ["--mfu must be a number in (0, 1], got 1.5", "e.g. --mfu 0.4"],
        ),
        (["plan", "--budget", "nan"], ["--budget must be a number > 0, got nan"]),
        (
            ["plan", "--budget", "1e21", "--gpu", "H100", "--gpus", str(10**23)],
            ["--gpus must be a whole number", str(2**31 - 1), f"got {10**23}", "e.g. --gpus"],
        ),
        (["fit", "chinchilla", "-o", "{out}", "--chains", "0"], ["--chains", "got 0", "≥ 1"]),
        (["fit", "chinchilla", "-o", "{out}", "--chains=-1"], ["--chains", "got -1", "≥ 1"]),
        (["fit", "chinchilla", "-o", "{out}", "--draws", "0"], ["--draws", "e.g. --draws 1000"]),
        (
            ["fit", "chinchilla", "-o", "{out}", "--seed", str(2**64 + 1)],
            [f"--seed must be a whole number from 0 to {2**32 - 1}, got {2**64 + 1}"],
        ),
        (["fit", "chinchilla", "-o", "{out}", "--seed=-1"], ["--seed", "got -1"]),
    ],
)
def test_numbers_out_of_range(capsys, tmp_path, no_sampling, argv, fragments):
    argv = [a.format(out=tmp_path / "post.nc") for a in argv]
    code, _, err = command(capsys, *argv)
    assert_user_error(code, err, argv[0], *fragments)
    assert "data_parallel" not in err
    assert files(tmp_path) == []


def test_negative_budget_as_typed():
    """The issue's reproduction, through the real entry point: argparse once read
    ``-1e22`` as an unknown option ("expected at least one argument")."""
    done = subprocess_command("plan", "--budget", "-1e22", timeout=120)
    assert done.returncode == 2
    assert "--budget must be a number > 0, got -1e+22" in done.stderr
    assert "expected at least one argument" not in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"draws": 0}, "draws must be a whole number ≥ 1, got 0; e.g. draws=1000"),
        ({"seed": -1}, "seed must be a whole number from 0 to 4294967295, got -1; e.g. seed=0"),
        ({"chains": 0}, "chains must be a whole number ≥ 1, got 0; e.g. chains=4"),
        ({"target_accept": 1.5}, "target_accept must be a number in (0, 1), got 1.5"),
        ({"warmup": -5}, "warmup must be a whole number ≥ 0, got -5"),
    ],
)
def test_fit_checks_its_sampler_settings(monkeypatch, kwargs, fragment):
    monkeypatch.setattr(
        "bayescale.inference.model_inputs", lambda *a, **k: pytest.fail("work started")
    )
    sweep = bs.Sweep.from_frame(synthetic_sweep())
    with pytest.raises(bs.InputError) as err:
        bs.fit(sweep, **kwargs)
    assert fragment in str(err.value)


def test_fit_names_a_setting_of_the_wrong_type():
    sweep = bs.Sweep.from_frame(synthetic_sweep())
    with pytest.raises(bs.InputTypeError, match=r"chains must be a whole number .*2\.5 \(float\)"):
        bs.fit(sweep, chains=2.5)


# --------------------------------------------------------------------- output paths
def test_output_that_is_a_folder(capsys, tmp_path, no_sampling):
    folder = tmp_path / "runs"
    folder.mkdir()
    code, _, err = command(capsys, "fit", "chinchilla", "-o", folder)
    assert_user_error(code, err, "fit", f"-o '{folder}' is a folder", "name a file in it")
    assert files(folder) == [] and files(tmp_path) == ["runs"]  # no *.partial


def test_output_under_a_file(capsys, tmp_path, no_sampling):
    (tmp_path / "notes.txt").write_text("x")
    out = tmp_path / "notes.txt" / "post.nc"
    code, _, err = command(capsys, "fit", "chinchilla", "-o", out)
    assert_user_error(code, err, "fit", "-o", "which is a file, not a folder")
    assert files(tmp_path) == ["notes.txt"]


def test_output_in_a_missing_folder(capsys, tmp_path, no_sampling):
    out = tmp_path / "later" / "post.nc"
    code, _, err = command(capsys, "fit", "chinchilla", "-o", out)
    assert_user_error(code, err, "fit", "does not exist", f"mkdir -p {out.parent}")


@pytest.mark.parametrize("argv", [["fit", "chinchilla"], ["plot", "frontier"]])
def test_output_in_a_read_only_folder(capsys, read_only_dir, no_sampling, argv):
    out = read_only_dir / ("post.nc" if argv[0] == "fit" else "frontier.png")
    code, _, err = command(capsys, *argv, "-o", out)
    assert_user_error(code, err, argv[0], f"-o '{out}'", "cannot write in", "choose a folder")
    assert not out.exists()


def test_fit_refuses_an_existing_file_before_sampling(capsys, tmp_path, no_sampling):
    out = tmp_path / "post.nc"
    out.write_bytes(b"an earlier fit")
    code, _, err = command(capsys, "fit", "chinchilla", "-o", out)
    assert_user_error(code, err, "fit", "exists; pass --overwrite to replace it")
    assert out.read_bytes() == b"an earlier fit"


def test_plot_refuses_to_overwrite_without_the_flag(capsys, tmp_path):
    out = tmp_path / "frontier.png"
    out.write_bytes(b"an earlier figure")
    code, _, err = command(capsys, "plot", "frontier", "-o", out)
    assert_user_error(code, err, "plot", f"-o '{out}' exists; pass --overwrite")
    assert out.read_bytes() == b"an earlier figure"
    code, out_text, _ = command(capsys, "plot", "frontier", "-o", out, "--overwrite")
    assert code == 0 and f"wrote {out}" in out_text
    assert out.read_bytes().startswith(b"\x89PNG")
    assert files(tmp_path) == ["frontier.png"]


def test_plot_that_fails_writes_nothing(capsys, tmp_path):
    out = tmp_path / "fit.png"
    code, _, err = command(capsys, "plot", "fit", "--dataset", "gadre_overtrain", "-o", out)
    assert code == 2 and "--group" in err
    assert files(tmp_path) == []


# ------------------------------------------------------------ per-group posteriors
@pytest.mark.parametrize(
    "kind", ["fit", "loss-vs-params", "pairs", "ppc", "isoflops", "frontier", "excess-compute"]
)
def test_every_plot_of_a_group(capsys, tmp_path, kind):
    out = tmp_path / f"{kind}.png"
    budget = ["--budget", "1e22"] if kind == "excess-compute" else []
    code, text, err = command(
        capsys, "plot", kind, "--dataset", "gadre_overtrain", "--group", "rpj", "-o", out, *budget
    )
    assert code == 0, err
    assert text == f"wrote {out}\n"
    assert out.stat().st_size > 10_000


@pytest.mark.parametrize("kind", ["fit", "pairs", "isoflops", "loss-vs-params"])
def test_plot_of_a_per_group_posterior_needs_a_group(capsys, tmp_path, kind):
    out = tmp_path / f"{kind}.png"
    code, _, err = command(capsys, "plot", kind, "--dataset", "gadre_overtrain", "-o", out)
    assert_user_error(
        code, err, "plot", "pass --group with one of", "'rpj'", "'new'", "none was given"
    )
    assert "group=" not in err
    assert not out.exists()


@pytest.mark.parametrize("kind", ["ppc", "frontier"])
def test_plot_of_every_group_at_once(capsys, tmp_path, kind):
    out = tmp_path / f"{kind}.png"
    code, _, err = command(capsys, "plot", kind, "--dataset", "gadre_overtrain", "-o", out)
    assert code == 0, err
    assert out.exists()


def test_group_that_the_posterior_lacks(capsys):
    code, _, err = command(capsys, "plan", "--budget", "1e22", "--group", "rpj")
    assert_user_error(
        code, err, "plan", "--group rpj: this posterior has no groups", "drop --group"
    )
    code, _, err = command(
        capsys, "plan", "--budget", "1e22", "--dataset", "gadre_overtrain", "--group", "c4"
    )
    assert_user_error(code, err, "plan", "got --group c4", "'c4_original'")


def test_variants_are_named_by_their_groups(capsys):
    argv = ["compare", "variants", "--dataset", "gadre_overtrain", "--group", "rpj"]
    argv += ["--b-group", "c4_original", "--budget", "2e21", "4e21", "--gpu", "H100"]
    code, out, err = command(capsys, *argv, "--gpus", "16")
    assert code == 0, err
    assert "rpj against c4_original" in out and "memory per GPU, rpj − c4_original" in out
    assert "A − B" not in out
    code, out, _ = command(capsys, *argv, "--gpus", "16", "--json")
    assert code == 0 and strict_json(out)["labels"] == ["rpj", "c4_original"]
    code, out, _ = command(capsys, *argv, "--gpus", "16", "--label-a", "RedPajama", "--json")
    assert strict_json(out)["labels"] == ["RedPajama", "c4_original"]


# ------------------------------------------------------------------------- predict
def test_predict_answers_as_the_library_does(capsys):
    """Each row of ``predict --json`` is the library's query on the reference fit: the run's
    loss (predict_loss), the optimum's at the run's 6ND (optimal) and the excess compute
    (compute_to_match), one block per pair of --n-params and --n-tokens, in order."""
    runs = ([1e9, 2e9], [2e10, 1e11])  # inside the fitted runs: no extrapolation warning
    argv = ["--n-params", *runs[0], "--n-tokens", *runs[1]]
    code, out, err = command(capsys, "predict", *argv, "--json")
    assert code == 0, err
    answer = strict_json(out)
    assert [(r["n_params"], r["n_tokens"]) for r in answer["runs"]] == list(zip(*runs, strict=True))
    post = bs.load_reference("chinchilla")
    compute = 6 * np.multiply(*runs)
    expected = {
        "loss_mean": post.predict_loss(*runs)["loss_mean"].values,
        "loss_opt": post.optimal(compute)["loss_opt"].values,
        "compute_ratio": post.compute_to_match(*runs)["compute_ratio"].values,
    }
    for row in answer["rows"]:
        if row["quantity"] in expected:
            draws = expected[row["quantity"]][..., row["point"]]
            # the same draws' median, through JSON (whose floats round-trip): 1e-9 only
            # allows for quantiles taken in another order
            assert row["median"] == pytest.approx(np.median(draws), rel=1e-9), row
    code, out, err = command(capsys, "predict", *argv)
    assert code == 0, err
    assert "2B parameters on 100B tokens (50 tokens per parameter, 1.2e+21 FLOPs)" in out
    for name in ("loss, the law", "a measured run's loss", "optimum's loss", "excess compute"):
        assert out.count(name) == 2, (name, out)


def test_predict_on_hardware_times_the_run_itself(capsys):
    """At a fixed MFU a run's training time is its own 6ND FLOPs over the GPUs' throughput,
    the same in every draw: 6·7e10·3e11 / (1024 × H100 peak × 0.4) seconds."""
    argv = ["predict", "--n-params", "7e10", "--n-tokens", "3e11", "--gpu", "H100"]
    argv += ["--gpus", "1024", "--tensor-parallel", "8", "--mfu", "0.4", "--price", "2", "--json"]
    code, out, err = command(capsys, *argv, warns=(ExtrapolationWarning,))
    assert code == 0, err
    answer = strict_json(out)
    rows = {row["quantity"]: row for row in answer["rows"]}
    peak = get_accelerator("H100").peak_flops
    days = 6 * 7e10 * 3e11 / (1024 * peak * 0.4) / 86400
    for key in ("median", "eti_5%", "eti_95%"):  # 1e-12: float64 rounding of one product
        assert rows["days"][key] == pytest.approx(days, rel=1e-12)
    assert rows["cost"]["median"] == pytest.approx(days * 24 * 1024 * 2, rel=1e-12)
    assert answer["p_fits_in_memory"] == {"0": 1.0}  # 70B fits at tensor parallel 8


def test_predict_pairs_its_runs_or_says_how(capsys):
    argv = ["predict", "--n-params", "1e9", "2e9", "--n-tokens", "2e10", "3e10", "4e10"]
    code, _, err = command(capsys, *argv)
    assert_user_error(code, err, "predict", "--n-params has 2 values and --n-tokens 3")
    code, out, err = command(capsys, "predict", "--n-params", "1e9", "--n-tokens", "2e10", "4e10")
    assert code == 0, err
    assert out.count("1B parameters on") == 2  # one size paired with each token count


@pytest.mark.parametrize(
    "question, warns",
    [
        (["predict", "--n-params", "1e9", "4e9", "--n-tokens", "2e10", "1e11"], ()),
        # a new group's floor is uncertain: some of its draws never reach 3 nats
        (["plan", "--target-loss", "3.2", "3.0"], (PlanningWarning,)),
    ],
)
def test_questions_answer_for_every_group_as_for_each(capsys, question, warns):
    """Without --group, a per-group posterior's answer is each group's, and the new
    group's under partial pooling: the same rows as --group asks for, one block each."""
    argv = [*question, "--dataset", "gadre_overtrain"]
    code, out, err = command(capsys, *argv, "--json", warns=warns)
    assert code == 0, err
    every = pd.DataFrame(strict_json(out)["rows"])
    groups = bs.load_reference("gadre_overtrain").groups_answered
    assert list(every["group"].unique()) == groups and "new" in groups
    for group in groups:
        code, out, err = command(
            capsys, *argv, "--group", group, "--json", warns=warns if group == "new" else ()
        )
        assert code == 0, err
        one = pd.DataFrame(strict_json(out)["rows"])
        # the same draws through the same quantiles: equal to the last bit
        pd.testing.assert_frame_equal(
            every[every["group"] == group].drop(columns="group").reset_index(drop=True), one
        )
    code, out, err = command(capsys, *argv, warns=warns)
    assert code == 0, err
    heading = "4B parameters on 100B tokens" if question[0] == "predict" else "target loss 3 "
    assert [out.count(f"group {group}, {heading}") for group in groups] == [1] * len(groups)
    if question[0] == "predict":
        code, _, err = command(capsys, *argv, "--gpu", "H100", "--gpus", "8")
        assert_user_error(code, err, "predict", "pass --group with one of", "none was given")


# ---------------------------------------------------------------------------- JSON
@pytest.mark.parametrize(
    "argv",
    [
        ["datasets"],
        ["plan", "--budget", "1e22", "1e24"],
        ["plan", "--budget", "1e24", *HARDWARE, "--tensor-parallel", "8"],  # fits in memory
        ["compare", "allocations", "--budget", "1e21", "--n-a", "4.68e9", "--n-b", "2.86e9"],
        ["predict", "--n-params", "1e9", "--n-tokens", "2e10"],
        ["plot", "frontier", "-o", "{tmp}/frontier.png"],
    ],
)
def test_every_command_speaks_strict_json(capsys, tmp_path, argv):
    argv = [a.format(tmp=tmp_path) for a in argv]
    code, out, err = command(capsys, *argv, "--json")
    assert code == 0, err
    data = strict_json(out)
    assert isinstance(data, dict) and data


# a loss below the floor in most draws, reached in the rest only far beyond the data
UNREACHABLE = (PlanningWarning, ExtrapolationWarning)


def test_unreachable_loss_is_null_with_a_reason(capsys):
    code, out, _ = command(capsys, "plan", "--target-loss", "1.5", "--json", warns=UNREACHABLE)
    assert code == 0
    rows = strict_json(out)["rows"]
    assert {row["quantity"] for row in rows} == {"compute", "n_opt", "d_opt"}
    for row in rows:
        assert row["median"] is None and row["eti_95%"] is None and row["eti_5%"] > 0
        assert re.fullmatch(r"unreachable in \d+% of draws", row["reason"]), row


def test_unreachable_loss_reads_unreachable_in_the_table(capsys):
    code, out, _ = command(capsys, "plan", "--target-loss", "1.5", warns=UNREACHABLE)
    assert code == 0
    assert "inf" not in out  # neither "inf" nor "infT"
    lines = [line for line in out.splitlines() if line.strip().startswith(("compute", "N_opt"))]
    assert len(lines) == 2
    for line in lines:
        assert re.search(r"unreachable .*\(unreachable in \d+% of draws; see the warning\)", line)


def test_loss_reached_below_the_searched_budgets_reads_undefined(capsys):
    # 300 nats: the loss at the smallest budget searched (6e5 FLOPs) is about 240 in most
    # draws, so the least compute lies below the search: NaN, said as "undefined"
    code, out, _ = command(capsys, "plan", "--target-loss", "300", warns=UNREACHABLE)
    assert code == 0 and "nan" not in out
    line = next(x for x in out.splitlines() if x.strip().startswith("compute"))
    assert re.search(r"undefined .*\(undefined in \S+ of draws; see the warning\)", line), line
    code, out, _ = command(capsys, "plan", "--target-loss", "300", "--json", warns=UNREACHABLE)
    rows = strict_json(out)["rows"]
    assert all(re.search(r"undefined in \S+ of draws", row["reason"]) for row in rows), rows


def test_strict_json_names_what_it_left_out():
    data = strict({"r_hat": float("nan"), "ess": 12.0, "rows": [{"x": float("inf")}]})
    assert data == {
        "r_hat": None,
        "ess": 12.0,
        "rows": [{"x": None, "reason": "x: infinite"}],
        "reason": "r_hat: not a number",
    }


# --------------------------------------------------------------- flags, not Python
@pytest.mark.parametrize(
    "text, expected",
    [
        ("Pass loss='val_loss'.", "Pass --loss val_loss."),
        ("with loss=... (or flops=...)", "with --loss LOSS (or --flops FLOPS)"),
        ("vary=['e', 'alpha'] must name", "--vary e,alpha must name"),
        ("pass overwrite=True to", "pass --overwrite to"),
        ("pass group= one of", "pass --group one of"),
        ("n_a=1e+30 parameters at budget=1e21.", "--n-a 1e+30 parameters at --budget 1e21."),
        ("pass d=None, or n=5x", "pass d=None, or n=5x"),  # no flag takes these values
        ("ci_prob=0.9", "ci_prob=0.9"),  # not a flag of the command
    ],
)
def test_flag_syntax(text, expected):
    flags = {k: f"--{k}" for k in ("n", "d", "loss", "flops", "vary", "overwrite", "group")}
    flags.update(n_a="--n-a", budget="--budget")
    assert flag_syntax(text, flags) == expected


def readme_example() -> tuple[dict, list[str]]:
    """The README's ``read_sweep`` columns and its ``bayescale fit runs.csv`` command line."""
    text = README.read_text(encoding="utf-8")
    call = re.search(r'bs\.read_sweep\("runs\.csv", ([^)]*)\)', text).group(1)
    columns = dict(re.findall(r'(\w+)="(\w+)"', call))
    line = next(line for line in text.splitlines() if "bayescale fit runs.csv" in line)
    return columns, shlex.split(line.split("#")[0])[1:]


def test_readme_fit_example_works_on_the_readme_s_file(tmp_path, capsys):
    columns, argv = readme_example()
    names = {"n_params": columns["n"], "n_tokens": columns["d"], "loss": columns["loss"]}
    synthetic_sweep(seed=2).rename(columns=names).to_csv(tmp_path / "runs.csv", index=False)
    for role, column in columns.items():
        assert f"--{role} {column}" in " ".join(argv)
    small = ["--chains", "1", "--warmup", "100", "--draws", "100", "--quiet", "--json"]
    done = subprocess_command(*argv, *small, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    fitted = strict_json(done.stdout)
    assert fitted["wrote"] == "post.nc" and "alpha" in fitted["summary"]
    assert fitted["summary"]["alpha"]["r_hat"] is None  # one chain: no R-hat, and says so
    assert "r_hat: not a number" in fitted["summary"]["alpha"]["reason"]

    # the same file without --loss: the fix is given as a flag
    named = ["--n", "params", "--d", "tokens"]
    code, _, err = command(capsys, "fit", tmp_path / "runs.csv", "-o", tmp_path / "b.nc", *named)
    assert_user_error(code, err, "fit", "Pass --loss val_loss")
    assert "loss='val_loss'" not in err and "loss=..." not in err
    # plot reads the file with the same flags
    out = tmp_path / "fit.png"
    plot = ["plot", "fit", "--posterior", tmp_path / "post.nc", "-o", out]
    code, _, err = command(capsys, *plot, "--data", tmp_path / "runs.csv", *named)
    assert_user_error(code, err, "plot", "Pass --loss val_loss")
    assert not out.exists()
    code, _, err = command(
        capsys, *plot, "--data", tmp_path / "runs.csv", *named, "--loss", "val_loss"
    )
    assert code == 0, err
    assert out.exists()


def test_pooling_flags_named_as_flags(capsys, tmp_path, no_sampling):
    out = tmp_path / "post.nc"
    code, _, err = command(capsys, "fit", "gadre_overtrain", "-o", out, "--vary", "e,alpha")
    assert_user_error(code, err, "fit", "--vary needs --pooling partial")
    assert "vary=" not in err and "pooling='partial'" not in err


# ------------------------------------------------------------------------ named pipes
@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.nc"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["plan", "--budget", "1e22", "--posterior", "{fifo}"], "--posterior"),
        (["fit", "{fifo}", "-o", "{tmp}/post.nc"], "source"),
        (["plot", "fit", "--data", "{fifo}", "-o", "{tmp}/fit.png"], "--data"),
    ],
)
def test_a_named_pipe_is_refused_not_read(tmp_path, fifo, argv, flag):
    argv = [a.format(fifo=fifo, tmp=tmp_path) for a in argv]
    done = subprocess_command(*argv, timeout=120)  # a blocking read would time out here
    assert done.returncode == 2, done.stderr
    assert f"{flag} '{fifo}' is a named pipe (FIFO), not a regular file" in " ".join(
        done.stderr.split()
    )
    assert files(tmp_path) == ["pipe.nc"]


# ------------------------------------------------------------------ suggest in words
@pytest.mark.parametrize(
    "target",
    [
        ["--target", "n_opt", "--budget", "1e24"],
        ["--target", "loss", "--n-params", "7e10", "--n-tokens", "1.4e12"],
        ["--target", "region", "--n-params", "1e10", "7e10", "--n-tokens", "2e11", "1.4e12"],
    ],
)
def test_suggest_answers_every_target_in_words(capsys, target):
    argv = ["suggest", *target, "--max-compute", "1e21", "-k", "2"]
    code, out, err = command(capsys, *argv, warns=(ExtrapolationWarning,))
    assert code == 0, err
    assert out.startswith("Next runs for ") and "rank" in out


def test_suggest_offers_runs_of_the_shapes_asked_for(capsys):
    # by default the grid spans 2-200 tokens per parameter, and on the chinchilla fit the
    # first runs chosen for N_opt sit at its edges; the flag's window is a quarter of it
    argv = ["suggest", "--budget", "1e24", "--max-compute", "1e21", "-k", "4", "--json"]
    code, out, err = command(capsys, *argv, "--tokens-per-param", "10", "40")
    assert code == 0, err
    record = json.loads(out)
    assert record["tokens_per_param"] == [10, 40]
    shapes = [run["n_tokens"] / run["n_params"] for run in record["runs"]]
    # D/N is recomputed from the grid's N and D (N = sqrt(C / 6r), D = N·r): a few ulps off
    # the window's ends; 1e-9 relative is far above that rounding, far below any grid step
    assert len(shapes) == 4 and all(10 * (1 - 1e-9) <= r <= 40 * (1 + 1e-9) for r in shapes)


def test_suggest_chooses_among_the_runs_of_a_file(capsys, tmp_path):
    runs = pd.DataFrame({"n_params": [1.25e8, 3.5e8, 7.6e8], "n_tokens": [2.5e9, 7e9, 1.5e10]})
    runs.to_csv(tmp_path / "runs.csv", index=False)
    argv = ["suggest", "--budget", "1e24", "--candidates", tmp_path / "runs.csv", "-k", "2"]
    code, out, err = command(capsys, *argv, "--json")  # no --max-compute: the file says
    assert code == 0, err
    record = json.loads(out)
    assert record["candidates"] == 3 and record["candidates_file"].endswith("runs.csv")
    offered = set(zip(runs["n_params"], runs["n_tokens"], strict=True))
    assert {(run["n_params"], run["n_tokens"]) for run in record["runs"]} <= offered
    # 6ND: 1.9e18, 1.5e19 and 6.8e19 FLOPs, so the 760M run costs more than 2e19
    code, out, err = command(capsys, *argv, "--max-compute", "2e19")
    assert code == 0, err
    assert "2 candidates from " in out and "up to 2e+19 FLOPs" in out


@pytest.mark.parametrize(
    "flags, fragments",
    [
        (["--tokens-per-param", "2", "200"], ["--tokens-per-param shapes", "drop it"]),
        (["--min-compute", "1e17"], ["--min-compute shapes the default grid"]),
    ],
)
def test_suggest_refuses_grid_flags_beside_a_file(capsys, tmp_path, flags, fragments):
    pd.DataFrame({"n_params": [1e8], "n_tokens": [2e9]}).to_csv(tmp_path / "runs.csv")
    argv = ["suggest", "--budget", "1e24", "--candidates", tmp_path / "runs.csv", *flags]
    code, _, err = command(capsys, *argv)
    assert_user_error(code, err, "suggest", *fragments, "--candidates replaces")


def test_suggest_names_the_rows_of_a_bad_file(capsys, tmp_path):
    (tmp_path / "runs.csv").write_text("n_params,n_tokens\n1e8,2e9\n-3,7e9\n")
    argv = ["suggest", "--budget", "1e24", "--candidates", tmp_path / "runs.csv"]
    code, _, err = command(capsys, *argv)
    assert_user_error(code, err, "suggest", "column 'n_params'", "rows 1 hold -3.0")


def test_suggest_refuses_a_window_upside_down(capsys):
    argv = ["suggest", "--budget", "1e24", "--max-compute", "1e21", "--tokens-per-param", "40"]
    code, _, err = command(capsys, *argv, "10")
    assert_user_error(code, err, "suggest", "--tokens-per-param LOW HIGH", "got 40 10")


# ----------------------------------------------------------------- fit's output file
def test_fit_never_writes_over_its_source(capsys, tmp_path, no_sampling):
    source = tmp_path / "victim.csv"
    synthetic_sweep().to_csv(source, index=False)
    (tmp_path / "link.csv").symlink_to(source)
    before = source.read_bytes()
    for out in (source, tmp_path / "link.csv"):
        code, _, err = command(capsys, "fit", source, "-o", out, "--overwrite")
        assert_user_error(code, err, "fit", f"-o {out}", "is the sweep file", "-o post.nc")
    assert source.read_bytes() == before and files(tmp_path) == ["link.csv", "victim.csv"]


@pytest.mark.parametrize("name", ["post.csv", "post", "post.nc.bak"])
def test_fit_writes_a_netcdf_file_name(capsys, tmp_path, no_sampling, name):
    code, _, err = command(capsys, "fit", "chinchilla", "-o", tmp_path / name)
    assert_user_error(code, err, "fit", f"-o {name}", "NetCDF", ".nc file name")
    assert files(tmp_path) == []


# ------------------------------------------------------ flags that would be ignored
@pytest.mark.parametrize(
    "flags",
    [["--price", "2"], ["--mfu", "0.4"], ["--tensor-parallel", "8"], ["--recompute", "full"]],
)
@pytest.mark.parametrize(
    "question",
    [["plan", "--budget", "1e22"], ["predict", "--n-params", "1e9", "--n-tokens", "2e10"]],
)
def test_hardware_flags_need_the_hardware(capsys, question, flags):
    code, _, err = command(capsys, *question, *flags)
    assert_user_error(code, err, question[0], flags[0], "needs --gpu NAME and --gpus COUNT")


def test_plan_of_a_target_loss_takes_no_hardware(capsys):
    argv = ["plan", "--target-loss", "2.0", *HARDWARE, "--price", "2"]
    code, _, err = command(capsys, *argv)
    assert_user_error(code, err, "plan", "--gpu, --gpus, --price", "--budget")


@pytest.mark.parametrize(
    "kind, flags, fragment",
    [
        ("allocations", ["--gpu", "H100", "--gpus", "16"], "--gpu, --gpus (for variants)"),
        ("allocations", ["--mfu", "0.4"], "--mfu (for variants)"),
        ("allocations", ["--b-group", "rpj"], "--b-group (for variants)"),
        ("allocations", ["--b-posterior", "nope.nc"], "--b-posterior (for variants)"),
        ("variants", ["--n-a", "4.68e9", *HARDWARE], "--n-a (for allocations)"),
    ],
)
def test_compare_refuses_the_other_kind_s_flags(capsys, kind, flags, fragment):
    sizes = ["--n-a", "4.68e9", "--n-b", "2.86e9"] if kind == "allocations" else []
    argv = ["compare", kind, "--budget", "1e21", *sizes, *flags]
    code, _, err = command(capsys, *argv)
    assert_user_error(code, err, "compare", f"'bayescale compare {kind}' does not use", fragment)


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["plot", "excess-compute", "--budget", "1e21", "1e22"], ["one --budget", "got 2"]),
        (
            ["plot", "allocations", "--budget", "1e21", "1e22", "--n-a", "4e9", "--n-b", "2e9"],
            ["one --budget", "got 2"],
        ),
        (["plot", "excess-compute"], ["one --budget"]),
        (["plot", "frontier", "--budget", "1e21"], ["does not use --budget"]),
        (["plot", "variants", "--budget", "1e21", "--b-group", "rpj"], ["--gpu", "--gpus"]),
        (["plot", "variants", "--budget", "1e21", *HARDWARE], ["--b-posterior", "--b-group"]),
        (["compare", "variants", "--budget", "1e21", *HARDWARE], ["--b-posterior", "--b-group"]),
    ],
)
def test_what_a_figure_or_comparison_needs(capsys, tmp_path, argv, fragments):
    if argv[0] == "plot":
        argv = [*argv, "-o", tmp_path / "figure.png"]
    code, _, err = command(capsys, *argv)
    assert_user_error(code, err, argv[0], *fragments)
    assert files(tmp_path) == []


def test_plot_help_says_what_each_figure_needs(capsys):
    with pytest.raises(SystemExit):
        main(["plot", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "one for excess-compute and allocations, one or more for variants" in text


# --------------------------------------------------------------------------- --vary
class Stop(Exception):
    """Raised by a stand-in fit, once it has seen its arguments."""


@pytest.fixture
def fit_arguments(monkeypatch) -> dict:
    """The keyword arguments ``bayescale fit`` passes to the fit: a stand-in fit records
    them and raises :class:`Stop`."""
    seen = {}

    def stand_in(sweep, **kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr("bayescale.inference.fit", stand_in)
    return seen


def test_vary_names_may_have_spaces(fit_arguments, tmp_path):
    argv = ["fit", "gadre_overtrain", "-o", str(tmp_path / "post.nc"), "--pooling", "partial"]
    with pytest.raises(Stop):
        main([*argv, "--vary", " e, alpha "])
    assert fit_arguments["vary"] == ("e", "alpha")


def test_target_accept_reaches_the_fit_and_the_advice_names_the_flag(fit_arguments, tmp_path):
    with pytest.raises(Stop):
        main(["fit", "chinchilla", "-o", str(tmp_path / "post.nc"), "--target-accept", "0.95"])
    assert fit_arguments["target_accept"] == 0.95
    fit_flags = {"target_accept": "--target-accept"}  # the divergence warning's advice
    advice = problems(
        {"divergences": 3, "divergences_by_scale": {}, "r_hat": {}, "ess_bulk": {},
         "ess_tail": {}, "max_tree_depth_hits": 0, "draws": 1000, "chains": 4}
    )[0]  # fmt: skip
    assert "Raise --target-accept 0.95," in flag_syntax(advice, fit_flags)


@pytest.mark.parametrize(("flags", "checkpoints"), [([], None), (["--checkpoints", "all"], "all")])
def test_checkpoints_reach_the_fit(fit_arguments, tmp_path, flags, checkpoints):
    """None leaves the choice to the fit (all for a law that reads schedules, else final)."""
    with pytest.raises(Stop):
        main(["fit", "gemstones", "-o", str(tmp_path / "post.nc"), *flags])
    assert fit_arguments["checkpoints"] == checkpoints


@pytest.mark.parametrize("vary", ["", " ", ",", " , "])
def test_vary_naming_nothing_is_refused(capsys, tmp_path, no_sampling, vary):
    argv = ["fit", "gadre_overtrain", "-o", tmp_path / "post.nc", "--pooling", "partial"]
    code, _, err = command(capsys, *argv, "--vary", vary)
    assert_user_error(code, err, "fit", "--vary", "names no parameter", "drop --vary")


# ------------------------------------------------------------------ sweeps by path
@pytest.mark.parametrize("data", ["nope.csv", "runs/nope", "nope.parquet"])
def test_a_missing_sweep_file_is_said_to_be_missing(capsys, tmp_path, data):
    out = tmp_path / "fit.png"
    code, _, err = command(capsys, "plot", "fit", "--data", data, "-o", out)
    assert_user_error(code, err, "plot", f"no sweep file at '{data}' (--data)")
    assert "bundled dataset" not in err
    code, _, err = command(capsys, "fit", data, "-o", tmp_path / "post.nc")
    assert_user_error(code, err, "fit", f"no sweep file at '{data}'")


def test_an_unknown_name_lists_the_bundled_datasets(capsys, tmp_path):
    code, _, err = command(capsys, "plot", "fit", "--data", "chinchila", "-o", tmp_path / "a.png")
    assert_user_error(code, err, "plot", "'chinchila' (--data) is neither a file", "'chinchilla'")


def test_a_sweep_without_the_group_column_names_the_flag(capsys, tmp_path):
    data = tmp_path / "grp.csv"
    frame = bs.load_dataset("gadre_overtrain").frame[["n_params", "n_tokens", "loss", "group"]]
    frame.rename(columns={"group": "arch"}).to_csv(data, index=False)
    argv = ["plot", "fit", "--dataset", "gadre_overtrain", "--group", "rpj", "--data", data]
    code, _, err = command(capsys, *argv, "-o", tmp_path / "fit.png")
    assert_user_error(code, err, "plot", "has no group column", "--group-column")
    code, _, err = command(capsys, *argv, "--group-column", "arch", "-o", tmp_path / "fit.png")
    assert code == 0, err


# -------------------------------------------------------------- a fit's own warnings
def test_a_posterior_file_repeats_its_fit_s_warnings(capsys, tmp_path):
    import dataclasses

    text = "4 divergent transition(s) after warmup: the posterior may be biased."
    post = dataclasses.replace(bs.load_reference("chinchilla"), warnings=(text,))
    path = post.save(tmp_path / "p.nc")
    for argv in (
        ["plan", "--budget", "1e22"],
        ["compare", "allocations", "--budget", "1e21", "--n-a", "4.68e9", "--n-b", "2.86e9"],
        ["plot", "frontier", "-o", tmp_path / "frontier.png"],
        ["compare", "variants", "--budget", "1e21", *HARDWARE, "--b-posterior", path],  # A's
    ):
        code, _, err = command(capsys, *argv, "--posterior", path, "--json")
        assert code == 0, err
        assert err.count(f"Warning (when {path} was fitted): {text}") == 1, err
    code, _, err = command(capsys, "plan", "--budget", "1e22")
    assert code == 0 and err == ""  # the reference fit warned of nothing
    argv = ["plan", "--budget", "1e22", "--dataset", "gadre_overtrain", "--group", "rpj"]
    code, _, err = command(capsys, *argv)
    assert code == 0 and "Warning (when the reference fit 'gadre_overtrain' was fitted)" in err
    code, _, err = command(capsys, *argv, "--group", "nope")
    assert_user_error(code, err, "plan", "--group nope")  # an error, and nothing before it


# ----------------------------------------------------------------- plan, small things
def test_plan_suggests_fitting_only_a_bundled_dataset(capsys):
    code, _, err = command(capsys, "plan", "--budget", "1e22", "--dataset", "nope")
    assert_user_error(code, err, "plan", "--dataset nope", "no bundled dataset", "'gemstones'")
    assert "bayescale fit nope" not in err
    code, _, err = command(capsys, "plan", "--budget", "1e22", "--dataset", "gemstones")
    assert_user_error(code, err, "plan", "bayescale fit gemstones -o post.nc")


def test_plan_shows_a_budget_as_often_as_asked(capsys):
    code, out, err = command(capsys, "plan", "--budget", "1e21", "1e21")
    assert code == 0, err
    assert out.count("budget 1e+21 FLOPs") == 2 and out.count("N_opt") == 2
