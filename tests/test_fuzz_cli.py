"""Fuzzing the command line (issue 20, item 4): generated argument vectors for ``bayescale``.

Each example builds an argument vector for one command, mixing valid and invalid
subcommands, flags and values: ``plan`` (one to three budgets or target losses that may
be negative, zero, NaN, infinite, huge, tiny or text; ``--ci``; ``--group``; hardware
flags), ``compare allocations|variants``, ``plot KIND -o PATH`` (a new file, an existing
one with or without ``--overwrite``, a folder, a path under a file or in a missing
folder, a wrong suffix), ``datasets``, ``fit`` (only with at least one invalid argument;
sampling is patched to fail the test if it ever starts), and vectors of loose tokens for
the top-level parser. Flags come in any order, sometimes as ``--flag=value``, sometimes
abbreviated, repeated or unknown. Only the shipped reference posteriors are used (no
``--posterior``, or ``--dataset gadre_overtrain`` for a per-group one), so nothing samples.

The promise checked on every example, with ``main`` called in-process (and, for a few,
``python -m bayescale`` in a subprocess):

- the exit status is 0 or 2 (argparse's errors are 2), never 1 and never an exception;
- no ``Traceback`` on either stream, and no warning but bayescale's own;
- on status 2, standard output is empty and standard error ends with one error paragraph
  (``bayescale CMD: error: ...``) that names a flag, an argument or a value given;
- on status 0 with ``--json``, standard output is one object of strict JSON (no ``NaN``
  or ``Infinity``) that answers for every budget, target loss and group asked, each as
  often as asked (nothing dropped or merged silently);
- the folder the example writes in is unchanged, byte for byte, except, when ``plot``
  exits 0, its ``-o`` file: new, or replaced only with ``--overwrite``; no ``.partial``
  file is left behind.

Runtime: 360 in-process examples (``plan`` 100, ``compare`` 60, ``plot`` 40, ``fit`` 80,
loose tokens 80; about half of ``plan`` and ``compare`` and a quarter of ``plot`` answer
or draw, the rest are refused) and 5 subprocesses take 35–55 s on 2 shared cores (the
first planning call compiles its kernels; a figure takes about a second).
``derandomize=True`` runs the same examples every time; ``--hypothesis-show-statistics``
shows how many exited with 0 and 2, and which faults were drawn. Known and left alone:
``KNOWN_OVERFLOW`` below.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from bayescale import errors
from bayescale.cli import main, parser
from bayescale.resources import package_dir

FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

OWN_WARNINGS = {name for name in dir(errors) if name.endswith("Warning")}
WARNING_LINE = re.compile(r"^(\w+Warning): ", re.M)
ERROR_LINE = re.compile(r"^(?:usage: .*\n(?:.*\n)*?)?bayescale(?: \w+)?: error: (.+)", re.M | re.S)
# Known, left to bayescale/comparisons.py: with --n-a or --n-b below about budget · 1e-309,
# compare_allocations's tokens = budget / 6N overflow to inf and NumPy warns.
KNOWN_OVERFLOW = re.compile(r"^RuntimeWarning: overflow encountered in divide$", re.M)
HELP = {"-h", "--help", "--version"}
MAGIC = {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF"}

# ----------------------------------------------------------------------------- values
# numbers as a user might type them: in range, out of range, not finite, not numbers
BAD_NUMBERS = (
    "0",
    "-0",
    "0.0",
    "-1",
    "-1e22",
    "-.5",
    "nan",
    "-nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "1e-400",
    "5e-324",
    "1.7976931348623157e308",
    "abc",
    "",
    "  ",
    "1e22x",
    "1,5",
    "0x10",
    "1e",
    ".",
    "-",
    "True",
    "[1]",
    "١٢",  # Arabic-Indic digits: float() reads them
    "1_000",  # so does the underscore
    " 1e22 ",
    "+1e22",
)
BUDGETS = ("1e18", "6e19", "1e21", "1e22", "3.5e23", "1e24", "1e26", "1", "1e40", "1e300")
LOSSES = ("1.5", "1.9", "2.0", "2.2", "2.5", "3", "10", "300", "1e-300", "1e300")
GROUPS = ("rpj", "c4_original", "rw_original", "new")  # gadre_overtrain's, and an unseen one
BAD_GROUPS = ("c4", "RPJ", "", "all", " new")
GPUS = ("H100", "h100", "A100-80GB", "MI300X", "H200", "B200")
BAD_GPUS = ("TPUv5", "", "H100-SXM ")
COUNTS = ("1", "8", "16", "1024")
BAD_COUNTS = ("3", "0", "-8", "1.5", "1e3", "x", str(2**63), str(10**20))


@st.composite
def choose(draw, valid, invalid=(), clean=False) -> str:
    """One of ``valid``; unless ``clean``, one time in four one of ``invalid``."""
    if invalid and not clean and draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(invalid))
    return draw(st.sampled_from(valid))


@st.composite
def numbers(draw, valid, clean=False) -> str:
    """A number as text: one of ``valid``; unless ``clean``, three times in eight a bad
    one, or any float or integer."""
    pick = 0 if clean else draw(st.integers(0, 7))
    if pick < 5:
        return draw(st.sampled_from(valid))
    if pick == 5:
        return draw(st.sampled_from(BAD_NUMBERS))
    if pick == 6:
        return repr(draw(st.floats(allow_nan=True, allow_infinity=True)))
    return str(draw(st.integers(-(10**25), 10**25)))


@st.composite
def seldom(draw, strategy) -> list[str]:
    """Mostly nothing, one time in four from ``strategy``."""
    return draw(strategy) if draw(st.integers(0, 3)) == 0 else []


# text a shell can pass: no NUL (argv cannot hold one) and no lone surrogates
words = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=8)
labels = st.one_of(st.sampled_from(("A", "B", "rpj", "nan", "1e22", "-x", "a b", "--json")), words)


def flag(name: str, values) -> st.SearchStrategy[list[str]]:
    """``[name, value, ...]``, or ``[name=value]`` for one value."""
    return st.builds(
        lambda vs, joined: [f"{name}={vs[0]}"] if joined and len(vs) == 1 else [name, *vs],
        values,
        st.booleans(),
    )


def one(values) -> st.SearchStrategy[list[str]]:
    return st.lists(values, min_size=1, max_size=1)


def several(values, most: int = 3) -> st.SearchStrategy[list[str]]:
    return st.lists(values, min_size=1, max_size=most)


JUNK = (
    ["--bogus"],
    ["stray"],
    ["--budget"],  # a flag missing its value
    ["--budg", "1e22"],  # an abbreviation argparse accepts
    ["--gp", "H100"],  # an ambiguous one (--gpu, --gpus)
    ["--json", "--json"],
    ["-o"],
    ["--ci", "0.5", "--ci", "0.8"],  # the last one wins
    ["-h"],
    ["--version"],
)


@st.composite
def assemble(draw, command: list[str], parts: list[list[str]], clean: bool) -> list[str]:
    """``command`` and then ``parts`` in any order; unless ``clean``, sometimes with a
    junk part."""
    parts = [part for part in parts if part]
    if not clean and draw(st.integers(0, 3)) == 0:
        junk = draw(st.sampled_from(JUNK))
        parts.append(junk)
        event(f"junk: {' '.join(junk)}")
    event("clean" if clean else "mutated")
    return [*command, *(token for part in draw(st.permutations(parts)) for token in part)]


# ------------------------------------------------------------------------ the folder
class Folder:
    """A scratch folder with the things an argument can name: a file, a subfolder, a
    corrupt posterior; snapshots of it, byte for byte."""

    def __init__(self, root: Path):
        self.root = root
        (root / "sub").mkdir()
        (root / "notes.txt").write_text("notes\n")
        (root / "broken.nc").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
        (root / "runs.csv").write_text("not,a\nsweep,file\n")

    def snapshot(self) -> dict[str, bytes | None]:
        return {
            str(p.relative_to(self.root)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(self.root.rglob("*"))
        }


POSTERIORS = ("missing.nc", "sub", "notes.txt", "broken.nc", "sub/missing.nc")
BAD_SOURCES = (
    *(["--posterior", f"{{dir}}/{path}"] for path in POSTERIORS),
    ["--dataset", "gemstones"],  # bundled, but no reference fit
    ["--dataset", "nope"],
    ["--dataset", ""],
    ["--dataset", "chinchilla", "--posterior", "{dir}/broken.nc"],  # two sources
)


@st.composite
def source_and_group(draw, needs_group: bool, clean: bool) -> list[list[str]]:
    """The posterior (none: the Chinchilla reference; a reference by name; unless
    ``clean``, sometimes a source that is not one) and a ``--group`` that suits it
    (unless not ``clean``). ``needs_group``: the command wants a group of a per-group
    posterior."""
    pick = draw(st.integers(0 if clean else -1, 3))
    if pick == -1:
        group = draw(seldom(flag("--group", one(choose(GROUPS, BAD_GROUPS)))))
        return [draw(st.sampled_from(BAD_SOURCES)), group]
    if pick < 2:
        source = [] if pick == 0 else ["--dataset", "chinchilla"]
        group = [] if clean else draw(seldom(flag("--group", one(choose(GROUPS, BAD_GROUPS)))))
        return [source, group]
    group = flag("--group", one(choose(GROUPS, BAD_GROUPS, clean)))
    if not needs_group or not clean:
        group = st.one_of(st.just([]), group)
    return [["--dataset", "gadre_overtrain"], draw(group)]


@st.composite
def hardware(draw, clean: bool) -> list[list[str]]:
    """No hardware, or --gpu and --gpus (unless ``clean``, sometimes one alone), and
    sometimes --mfu (when ``clean``, only with them)."""
    shapes = ["none", "both"] if clean else ["none", "both", "gpu", "gpus"]
    shape = draw(st.sampled_from(shapes))
    parts = []
    if shape in ("both", "gpu"):
        parts.append(draw(flag("--gpu", one(choose(GPUS, BAD_GPUS, clean)))))
    if shape in ("both", "gpus"):
        parts.append(draw(flag("--gpus", one(choose(COUNTS, BAD_COUNTS, clean)))))
    if parts or not clean:
        mfu = numbers(("0.4", "1", "0.05", "1e-300"), clean)
        parts.append(draw(seldom(flag("--mfu", one(mfu)))))
    return parts


def uses_gpus(parts: list[list[str]]) -> bool:
    return any(part and part[0].startswith("--gpu") for part in parts)


json_flag = st.sampled_from([[], ["--json"], ["--json"]])


# -------------------------------------------------------------------------- commands
@st.composite
def plan_argv(draw) -> list[str]:
    """``plan``: half of the examples clean (every value in range, the flags agreeing),
    half mutated."""
    clean = draw(st.booleans())
    questions = ["budget", "budget", "target"] + ([] if clean else ["both", "neither"])
    question = draw(st.sampled_from(questions))
    parts = []
    if question in ("budget", "both"):
        parts.append(draw(flag("--budget", several(numbers(BUDGETS, clean)))))
    if question in ("target", "both"):
        parts.append(draw(flag("--target-loss", several(numbers(LOSSES, clean)))))
    if question == "budget" or not clean:  # hardware answers for a budget only
        parts += draw(hardware(clean))
    needs_group = question != "budget" or uses_gpus(parts)
    parts += draw(source_and_group(needs_group, clean))
    if uses_gpus(parts) or not clean:
        tensor = choose(("1",) if clean else COUNTS, BAD_COUNTS, clean)
        parts.append(draw(seldom(flag("--tensor-parallel", one(tensor)))))
        parts.append(draw(seldom(flag("--price", one(numbers(("2.5", "0", "1e308"), clean))))))
        recompute = choose(("full", "none"), ("x",), clean)
        parts.append(draw(seldom(flag("--recompute", one(recompute)))))
    parts.append(draw(seldom(flag("--ci", one(numbers(("0.9", "0.5", "0.99", "1e-9"), clean))))))
    parts.append(draw(json_flag))
    return draw(assemble(["plan"], parts, clean))


SIZES = ("4.68e9", "2.86e9", "1e8", "1e12", "1e-300", "1e16")


@st.composite
def compare_argv(draw) -> list[str]:
    """``compare allocations|variants``: half clean, half mutated."""
    clean = draw(st.booleans())
    kind = draw(choose(("allocations", "variants"), ("allocation", "plan"), clean))
    parts = draw(source_and_group(needs_group=True, clean=clean))
    most = 1 if kind == "allocations" and (clean or draw(st.integers(0, 3))) else 3
    budgets = flag("--budget", several(numbers(BUDGETS[:7], clean), most))
    parts.append(draw(budgets) if clean or draw(st.integers(0, 5)) else [])
    if kind != "variants" or (not clean and draw(st.integers(0, 3)) == 0):
        for side in ("--n-a", "--n-b"):
            parts.append(draw(flag(side, one(numbers(SIZES, clean)))))
    if kind != "allocations" or (not clean and draw(st.integers(0, 3)) == 0):
        if ["--dataset", "gadre_overtrain"] in parts:
            parts.append(draw(flag("--b-group", one(choose(GROUPS, BAD_GROUPS, clean)))))
        elif clean:  # B is needed: the Chinchilla reference fit's file
            parts.append(["--b-posterior", str(package_dir("models") / "chinchilla.nc")])
        else:
            parts.append(draw(seldom(flag("--b-group", one(choose(GROUPS, BAD_GROUPS))))))
        if not clean:
            parts.append(draw(seldom(st.sampled_from(BAD_SOURCES[:5]).map(b_posterior))))
        gpus = draw(hardware(clean))
        if clean and not uses_gpus(gpus):
            gpus.append(["--gpu", "H100", "--gpus", "16"])
        parts += gpus
    parts.append(draw(seldom(flag("--label-a", one(labels)))))
    parts.append(draw(seldom(flag("--label-b", one(labels)))))
    parts.append(draw(seldom(flag("--ci", one(numbers(("0.9", "0.5"), clean))))))
    parts.append(draw(json_flag))
    return draw(assemble(["compare", kind], parts, clean))


def b_posterior(source: list[str]) -> list[str]:
    return ["--b-posterior", source[1]]


OUTPUTS = {
    "new": "{dir}/figure{suffix}",
    "exists": "{dir}/old{suffix}",
    "folder": "{dir}/sub",
    "under a file": "{dir}/notes.txt/figure{suffix}",
    "missing folder": "{dir}/later/figure{suffix}",
    "relative, missing folder": "later-{dir_name}/figure{suffix}",
}
CHEAP_PLOTS = ("frontier", "excess-compute", "allocations")  # about a second each
OTHER_PLOTS = ("fit", "loss-vs-params", "pairs", "ppc", "isoflops", "variants", "scatter")


@st.composite
def plot_argv(draw) -> list[str]:
    """``plot KIND -o PATH``: a path that is refused, or one where a figure may be drawn
    (then with one of the quicker kinds); the rest clean or mutated."""
    output = draw(st.sampled_from(["new", "exists", "new", "exists", *OUTPUTS]))
    suffix = draw(st.sampled_from([".png", ".svg", ".pdf", ".svg", ".txt", ""]))
    rendered = output in ("new", "exists") and suffix in MAGIC
    clean = rendered and draw(st.integers(0, 3)) > 0
    kind = draw(st.sampled_from(CHEAP_PLOTS if rendered else CHEAP_PLOTS + OTHER_PLOTS))
    parts = [["-o", OUTPUTS[output].replace("{suffix}", suffix)]]
    parts += draw(source_and_group(kind != "ppc", clean))
    if not clean:
        parts.append(draw(seldom(flag("--budget", several(numbers(BUDGETS[:7]))))))
    elif kind in ("excess-compute", "allocations"):  # one budget; the other figures none
        parts.append(draw(flag("--budget", one(numbers(BUDGETS[:7], clean)))))
    if kind == "allocations":
        parts.append(draw(flag("--n-a", one(numbers(("4.68e9", "1e10"), clean)))))
        parts.append(draw(flag("--n-b", one(numbers(("2.86e9", "1e9"), clean)))))
    parts.append(draw(seldom(flag("--ci", one(numbers(("0.9", "0.5"), clean))))))
    if not rendered:
        parts.append(draw(seldom(flag("--data", one(st.sampled_from(DATA))))))
    if output == "exists" and clean:
        parts.append(["--overwrite"])
    else:
        parts.append(draw(st.sampled_from([[], ["--overwrite"]])))
    parts.append(draw(st.sampled_from([[], ["--json"]])))
    event(f"plot output: {output}{' (may draw)' if rendered else ''}")
    return draw(assemble(["plot", kind], parts, clean))


DATA = ("chinchilla", "nope", "{dir}/missing.csv", "{dir}/runs.csv", "{dir}/sub")

# fit: every vector holds at least one of these faults, each caught before any work
FIT_FAULTS = {
    "chains": ["--chains", ("0", "-1", "1.5", "x", "", "1e3")],
    "draws": ["--draws", ("0", "-5", "x", "2.5")],
    "warmup": ["--warmup", ("-1", "x", "2.5")],
    "seed": ["--seed", ("-1", str(2**32), str(2**64 + 1), "x")],
    "extrapolation": ["--extrapolation-error", ("-1", "nan", "inf", "-inf", "x")],
    "likelihood": ["--likelihood", ("cauchy", "")],
    "pooling": ["--pooling", ("full", "Partial")],
    "centring": ["--centring", ("centered",)],
    "device": ["--device", ("tpu", "GPU")],
}
FIT_SOURCES = {
    "missing file": "{dir}/missing.csv",
    "folder": "{dir}/sub",
    "not a sweep": "{dir}/runs.csv",
    "unknown name": "chinchila",
}
FIT_OUTPUTS = {
    "exists": "{dir}/notes.txt",
    "folder": "{dir}/sub",
    "under a file": "{dir}/notes.txt/post.nc",
    "missing folder": "{dir}/later/post.nc",
    "missing": None,
}


@st.composite
def fit_argv(draw) -> list[str]:
    faults = draw(
        st.sets(
            st.sampled_from(
                sorted(FIT_FAULTS)
                + [f"source: {k}" for k in FIT_SOURCES]
                + [f"output: {k}" for k in FIT_OUTPUTS]
                + ["columns of a dataset"]
            ),
            min_size=1,
            max_size=3,
        )
    )
    for fault in faults:
        event(f"fit fault: {fault}")
    sources = [FIT_SOURCES[f[8:]] for f in faults if f.startswith("source: ")]
    source = sources[0] if sources else draw(st.sampled_from(("chinchilla", "gadre_overtrain")))
    outputs = [f[8:] for f in faults if f.startswith("output: ")]
    parts = [[source]]
    if outputs:
        path = FIT_OUTPUTS[outputs[0]]
        parts.append([] if path is None else ["-o", path])
    else:
        parts.append(["-o", "{dir}/post.nc"])
        parts.append(draw(st.sampled_from([[], ["--overwrite"]])))
    for name, (option, bad) in FIT_FAULTS.items():
        if name in faults:
            parts.append(draw(flag(option, one(st.sampled_from(bad)))))
    if "columns of a dataset" in faults and not sources:
        parts.append(["--loss", "val_loss"])
    parts.append(draw(seldom(flag("--law", one(st.sampled_from(("chinchilla", "kaplan", "x")))))))
    parts.append(draw(seldom(flag("--group", one(st.sampled_from(("architecture", "x")))))))
    parts.append(draw(seldom(flag("--vary", one(st.sampled_from(("e,alpha", "q", "")))))))
    parts.append(draw(st.sampled_from([[], ["--json"], ["--quiet"]])))
    return draw(assemble(["fit"], parts, clean=False))


TOKENS = (
    "plan",
    "fit",
    "compare",
    "plot",
    "datasets",
    "Plan",
    "--json",
    "--budget",
    "1e22",
    "-o",
    "--version",
    "-h",
    "--",
    "-",
    "",
    "variants",
)
loose_argv = st.lists(st.one_of(st.sampled_from(TOKENS), words), max_size=4)


# ------------------------------------------------------------------------- the promise
def run_in_process(argv: list[str]) -> tuple[int, str, str]:
    """``bayescale argv`` in-process: exit status, standard output, standard error.
    Warnings print, as they do for a user (the suite would raise them instead)."""
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as stop:  # argparse: errors, --help and --version
                code = stop.code
    return code, out.getvalue(), err.getvalue()


def strict_json(text: str):
    def refuse(token):
        raise AssertionError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


def names_what_was_given(message: str, argv: list[str]) -> bool:
    """The error names a flag (``--budget``, ``-o``), an argument argparse knows
    (``command``, ``kind``, ``source``), a path or a value given."""
    if re.search(r"(?<![\w-])(--[a-z][\w-]*|-o\b|-h\b)", message):
        return True
    if re.search(r"\barguments? (are required: )?(command|kind|source)\b", message):
        return True
    if message.startswith("unrecognized arguments:"):  # argparse lists them as given
        typed = " ".join(argv)
        return all(piece in typed for piece in message.split(":", 1)[1].strip(" \n").split(" "))
    message = " ".join(message.split())
    given_ = {part for token in argv for part in token.split("=", 1)}
    return any(len(token) > 1 and token.strip() and token in message for token in given_)


def asked(args, name: str) -> Counter:
    return Counter(float(v) for v in getattr(args, name))


def check_answers(argv: list[str], data: dict) -> None:
    """A JSON answer holds every budget, target loss and group asked, as often as asked."""
    args = parser().parse_args(argv)
    if args.command == "plan" or (args.command == "compare" and args.kind == "variants"):
        key = "budget" if args.budget is not None else "target_loss"
        want = asked(args, key)
        rows: dict[tuple, Counter] = {}
        for row in data["rows"]:
            rows.setdefault((row["quantity"], row.get("group")), Counter())[row[key]] += 1
        assert rows, data
        for where, got in rows.items():
            assert got == want, (where, got, want)
        if args.command == "plan" and args.group is not None:
            assert {group for _, group in rows} <= {args.group, None}, rows.keys()
    elif args.command == "compare":
        assert data["budget"] == args.budget[0] and len(args.budget) == 1
        assert (data["n_a"], data["n_b"]) == (args.n_a, args.n_b)
    elif args.command == "plot":
        assert data["wrote"] == args.output and data["kind"] == args.kind
    if "ci_prob" in data:
        assert data["ci_prob"] == args.ci


def check_promise(argv: list[str], code, out: str, err: str) -> None:
    assert code in (0, 2), (code, err)
    assert "Traceback" not in out + err, err
    stray = set(WARNING_LINE.findall(err)) - OWN_WARNINGS
    if stray == {"RuntimeWarning"} and KNOWN_OVERFLOW.search(err) and "allocations" in argv:
        event("known: RuntimeWarning from tokens = budget / 6N overflowing")
        stray = set()
    assert not stray, err
    event(f"exit {code}")
    if code == 2:
        assert out == "", out
        match = ERROR_LINE.search(err)
        assert match, err
        assert err.endswith("\n") and "\n\n" not in err[match.start() :], err
        assert names_what_was_given(match.group(1), argv), err
        return
    assert out, err
    if HELP & set(argv):
        return
    if argv[0] == "plan" and "--json" not in argv:  # tables say unreachable or undefined
        assert not re.search(r"\b(nan|inf)\b", out, re.I), out
    if "--json" in argv:
        data = strict_json(out)
        assert isinstance(data, dict) and data, out
        check_answers(argv, data)


def prepare(argv: list[str], folder: Path) -> list[str]:
    """``argv`` with its paths in ``folder``, whose ``old*`` files, if named, exist."""
    argv = [a.replace("{dir}", str(folder)).replace("{dir_name}", folder.name) for a in argv]
    for token in argv:
        if Path(token).name.startswith("old") and Path(token).parent == folder:
            Path(token).write_bytes(b"an earlier figure")
    return argv


def run_and_check(argv: list[str]) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Folder(Path(name))
        argv = prepare(argv, folder.root)
        before = folder.snapshot()
        code, out, err = run_in_process(argv)
        check_promise(argv, code, out, err)
        after = folder.snapshot()
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        assert not any(k.endswith(".partial") for k in after), after.keys()
        if code == 0 and argv[0] == "plot" and not HELP & set(argv):
            output = Path(parser().parse_args(argv).output)
            written = str(output.relative_to(name))
            assert changed == {written}, changed
            assert after[written].startswith(MAGIC[output.suffix.lower()])
            assert written not in before or "--overwrite" in argv, argv
        else:
            assert not changed, (code, changed, err)
        for token in argv:  # a relative -o lies in the working directory
            if token.startswith("later-"):
                assert not Path(token).parent.exists(), token


# ------------------------------------------------------------------------ properties
@FUZZ
@given(argv=plan_argv())
@example(argv=["plan", "--budget", "1e22", "1e22", "--json"])  # once printed 4 rows each
def test_plan_keeps_its_promise(argv):
    run_and_check(argv)


@settings(FUZZ, max_examples=60)
@given(argv=compare_argv())
def test_compare_keeps_its_promise(argv):
    run_and_check(argv)


@settings(FUZZ, max_examples=40)
@given(argv=plot_argv())
def test_plot_keeps_its_promise(argv):
    run_and_check(argv)


@settings(FUZZ, max_examples=80)
@given(argv=fit_argv())
def test_fit_refuses_bad_arguments_before_any_work(argv):
    with mock.patch("bayescale.inference._sample", side_effect=AssertionError("sampling started")):
        run_and_check(argv)


@settings(FUZZ, max_examples=80)
@given(argv=st.one_of(loose_argv, st.builds(lambda j: ["datasets", *j], loose_argv)))
def test_loose_tokens_keep_the_promise(argv):
    with mock.patch("bayescale.inference._sample", side_effect=AssertionError("sampling started")):
        run_and_check(argv)


# ------------------------------------------------------------------- as a user runs it
@settings(FUZZ, max_examples=3)
@given(argv=st.one_of(plan_argv(), compare_argv(), fit_argv()))
@example(argv=["plan", "--budget", "1e22", "1e22", "--gpu", "H100", "--gpus", "8", "--json"])
@example(argv=["plan", "--target-loss=-inf"])
def test_the_entry_point_keeps_its_promise(argv):
    """``python -m bayescale argv``: the exit status and streams a user sees."""
    with tempfile.TemporaryDirectory() as name:
        folder = Folder(Path(name))
        argv = prepare(argv, folder.root)
        before = folder.snapshot()
        done = subprocess.run(
            [sys.executable, "-m", "bayescale", *argv],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=name,
        )
        check_promise(argv, done.returncode, done.stdout, done.stderr)
        assert folder.snapshot() == before
