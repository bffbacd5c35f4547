"""The command line, end to end: embedded default, a user CSV, user errors and bugs, and
``--help``/``--version`` without JAX."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import bayescale as bs
from bayescale.cli import arguments, main
from bayescale.cli.output import human

from conftest import synthetic_sweep


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "bayescale", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def python(code: str) -> subprocess.CompletedProcess:
    """``code`` run by a new Python process."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"bayescale {bs.__version__}\n"


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_do_not_load_jax(flag):
    done = python(
        "import sys\n"
        "from bayescale.cli import main\n"
        "try:\n"
        f"    main([{flag!r}])\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0, done.code\n"
        "print(sorted(m for m in ('jax', 'numpyro') if m in sys.modules))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


def test_public_names_load_on_first_use():
    """``bayescale`` imports its public names lazily: each one is found, listed by
    ``dir()``, and importable by name; no other name is made up."""
    for name in bs.__all__:
        assert getattr(bs, name) is not None, name
    assert set(bs.__all__) <= set(dir(bs))
    from bayescale import fit

    assert fit is bs.fit
    assert not hasattr(bs, "no_such_name")


def test_centring_and_checkpoints_choices_are_the_library_s():
    from bayescale.curves import CHECKPOINTS
    from bayescale.model import CENTRING

    assert arguments.CENTRING == CENTRING
    assert arguments.CHECKPOINTS == CHECKPOINTS


@pytest.mark.parametrize("error", ["ZeroDivisionError", "KeyError", "ValueError"])
def test_a_bug_shows_its_traceback(error):
    """Only bayescale's own errors and file errors are the user's: anything else is a bug,
    shown with its traceback and exit status 1 rather than as a one-line message."""
    done = python(
        "import sys\n"
        "from bayescale import cli\n"
        "from bayescale.cli import arguments\n"
        "def broken(args):\n"
        f"    raise {error}('internal')\n"
        "arguments.cmd_datasets = broken\n"
        "sys.exit(cli.main(['datasets']))"
    )
    assert done.returncode == 1
    assert "Traceback" in done.stderr and f"{error}: " in done.stderr
    assert "bayescale datasets: error" not in done.stderr


def test_user_error_is_one_paragraph(tmp_path, capsys):
    missing = tmp_path / "nope.nc"
    assert main(["plan", "--budget", "1e24", "--posterior", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bayescale plan: error: no posterior file")
    assert "\n\n" not in err.strip() and "Traceback" not in err


def test_bad_syntax_is_argparse_s_exit_2(capsys):
    with pytest.raises(SystemExit) as done:
        main(["plan", "--budget", "lots"])
    assert done.value.code == 2
    assert "invalid float value" in capsys.readouterr().err


def test_plan_on_embedded_default():
    result = run("plan", "--budget", "1e24")
    assert result.returncode == 0, result.stderr
    for label in (
        "N_opt",
        "D_opt",
        "tokens per parameter",
        "loss at optimum",
        "90%",
        "parameters",
        "tokens",
        "nats/token",
    ):
        assert label in result.stdout


def test_plan_json(capsys):
    assert main(["plan", "--budget", "1e22", "1e24", "--ci", "0.8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ci_prob"] == 0.8
    n_opt = [r for r in out["rows"] if r["quantity"] == "n_opt"]
    assert [r["budget"] for r in n_opt] == [1e22, 1e24]
    assert n_opt[0]["median"] < n_opt[1]["median"]
    assert all(r["eti_10%"] <= r["median"] <= r["eti_90%"] for r in out["rows"])


def test_fit_user_csv_then_plan(tmp_path):
    csv = tmp_path / "my_sweep.csv"
    synthetic_sweep(seed=2).rename(columns={"n_params": "N", "n_tokens": "D"}).to_csv(
        csv, index=False
    )
    post = tmp_path / "post.nc"
    result = run(
        "fit",
        str(csv),
        "-o",
        str(post),
        "--n",
        "N",
        "--d",
        "D",
        "--chains",
        "2",
        "--warmup",
        "150",
        "--draws",
        "150",
        "--extrapolation-error",
        "0.5",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert post.exists() and "alpha" in result.stdout
    from bayescale.posterior import load_posterior

    assert load_posterior(post).info.extrapolation_error == 0.5
    result = run("plan", "--budget", "1e21", "--posterior", str(post))
    assert result.returncode == 0, result.stderr
    assert "N_opt" in result.stdout
    again = run("fit", str(csv), "-o", str(post), "--n", "N", "--d", "D")
    assert again.returncode == 2 and "--overwrite" in again.stderr


@pytest.mark.parametrize(
    "content, expected",
    [
        ("n_params,n_tokens,loss\n1e8,2e9,3.1\n2e8,abc,3.0\n", "non-numeric"),
        ("n_params,n_tokens,loss\n1e8,2e9,-3.1\n", "<= 0"),
        ("N,D,L\n1e8,2e9,3.1\n", "missing"),
        ("", "empty"),
    ],
)
def test_bad_input_exits_nonzero_without_traceback(tmp_path, content, expected):
    csv = tmp_path / "bad.csv"
    csv.write_text(content)
    result = run("fit", str(csv), "-o", str(tmp_path / "post.nc"))
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_unknown_source_and_missing_posterior(tmp_path):
    result = run("fit", "no_such_dataset", "-o", str(tmp_path / "p.nc"))
    assert result.returncode == 2 and "bundled datasets" in " ".join(result.stderr.split())
    result = run("plan", "--budget", "1e24", "--posterior", str(tmp_path / "nope.nc"))
    assert result.returncode == 2 and "no posterior file" in result.stderr
    assert "Traceback" not in result.stderr


def test_offset_groups_of_a_sweep_without_curves_are_refused_by_name(tmp_path, capsys):
    out = str(tmp_path / "p.nc")
    assert main(["fit", "chinchilla", "-o", out, "--offset-groups", "n_params", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--offset-groups n_params" in err and "training curves" in err
    assert "Traceback" not in err


def test_bundled_dataset_takes_group_but_not_file_columns(tmp_path, capsys):
    out = str(tmp_path / "p.nc")
    assert main(["fit", "routing_clark2022", "-o", out, "--n", "n_params", "--quiet"]) == 2
    assert "--n name columns of a file" in capsys.readouterr().err
    assert main(["fit", "routing_clark2022", "-o", out, "--group", "no_such", "--quiet"]) == 2
    assert "no column 'no_such'" in capsys.readouterr().err


def test_datasets_lists_bundled(capsys):
    assert main(["datasets"]) == 0
    assert "chinchilla" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, extra",
    [
        ("frontier", []),
        ("fit", []),
        ("excess-compute", ["--budget", "1e22"]),
        ("allocations", ["--budget", "1e21", "--n-a", "4.68e9", "--n-b", "2.86e9"]),
        (
            "variants",
            [
                "--dataset",
                "gadre_overtrain",
                "--group",
                "rpj",
                "--b-group",
                "c4_original",
                "--budget",
                "2e21",
                "4e21",
                "--gpu",
                "H100",
                "--gpus",
                "16",
            ],
        ),
    ],
)
def test_plot_writes_files(tmp_path, kind, extra):
    out = tmp_path / f"{kind}.png"
    assert main(["plot", kind, "-o", str(out), *extra]) == 0
    assert out.stat().st_size > 10_000  # a rendered figure, not an empty canvas


def test_plot_bad_output_name(tmp_path, capsys):
    assert main(["plot", "frontier", "-o", str(tmp_path / "figure.txt")]) == 2
    assert ".png, .svg or .pdf" in capsys.readouterr().err


def test_sizes_read_in_the_llm_convention():
    """``human`` writes billions as B, not as the SI G of matplotlib's ``EngFormatter``
    (the reason it is not that formatter); 4.63e10 is the docstring's example, 1.4e12
    Chinchilla's token count."""
    from matplotlib.ticker import EngFormatter

    assert human(4.63e10, "parameters") == "46.3B"
    assert EngFormatter(sep="")(4.63e10) == "46.3G"
    assert human(1.4e12, "tokens") == "1.4T"
    assert human(7e6, "parameters") == "7M" and human(1500, "tokens") == "1.5k"
    assert human(4.63e10, "FLOPs") == "4.63e+10"  # other units stay plain
    assert human(float("inf"), "parameters") == "unreachable"


def test_plan_states_what_a_finished_run_is_for_a_law_that_reads_schedules():
    from bayescale.cli.sources import finished_run
    from bayescale.laws.multipower import multipower_law

    settings = multipower_law(bs.schedules.cosine(1000, 3e-4, 3e-5, warmup=10), 2**20).settings
    line = finished_run(settings)
    assert "cosine 0.0003 → 3e-05 over 1,000 steps (10 warmup)" in line
    assert "1,048,576 tokens per step" in line
    assert finished_run(bs.get_law("chinchilla").settings) == ""
