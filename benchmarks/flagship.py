"""The flagship fit side by side: bayescale against what users would pick instead.

    python benchmarks/flagship.py                        # every engine, one process each
    python benchmarks/flagship.py --cold                 # ... each with empty caches
    python benchmarks/flagship.py --warmup 200 --draws 200 --engines bayescale,nutpie

Every engine fits the same model to the same data with the same priors and sampler
settings: Chinchilla's law on the 240 Hoffmann et al. runs of bayescale's reference fit
(Besiroglu et al.'s replication data), Student-t likelihood on log loss, default priors,
float64, ``--chains`` chains of ``--warmup`` + ``--draws`` iterations (default 4 × (1000 +
1000)), seed ``--seed``. The model and its two parameterisations of the intercepts are
written out in ``peers/problem.py``; each engine's module says what it runs and how its
time is split. Engines whose libraries are not installed are skipped with the reason
(``pip install -e '.[bench]'`` installs them all).

Per engine (``peers/figures.py``: ArviZ's estimators on every engine's draws):

* ``e2e``: importing the engine's libraries plus its fit call (``import + wall``);
  ``compile`` (or first-call setup) and ``sampling``, split as the engine's module says;
* min bulk and tail ESS over e, a, α, b, β; ``ESS/s`` = min bulk ESS per second of
  sampling; max R-hat; divergences; gradient evaluations per draw;
* ratios against bayescale in the same run: ``e2e ×bs`` (its e2e over bayescale's;
  below 1 is faster) and ``ESS/s ×bs`` (its ESS/s over bayescale's; above 1 is better);
* posterior medians; an engine whose median of a parameter lies more than 2 of
  bayescale's posterior SDs from bayescale's is flagged in the ``medians`` column.

Processes and caches. By default every engine runs in its own fresh subprocess, so its
import and compile times are its own and no engine's JIT cache helps another
(``--in-process`` runs them one after another in this process instead: quicker to
debug, but then later engines find libraries imported and caches filled). ``--cold``
gives each engine subprocess empty caches: ``BAYESCALE_JAX_CACHE=off`` and no JAX cache
directory, a new ``NUMBA_CACHE_DIR``, PyTensor's ``base_compiledir`` and httpstan's
model cache (``XDG_CACHE_HOME``) in a new temporary directory. Without ``--cold`` each
engine uses its default persistent caches as earlier runs left them (bayescale's JAX
cache, PyTensor's compiledir, httpstan's built models; plain NumPyro and nutpie keep
none), so run the benchmark twice for warm figures: bayescale's compiled sampler depends
on ``--chains``, ``--warmup`` and ``--draws``, so only an earlier run with the same
settings warms it (the JSON counts its persistent-cache hits, ``jax_cache_hits``).

The table is printed and everything (settings, machine, load average, versions,
per-parameter figures) is saved as JSON (``--json``). Timings on a shared or busy CPU
are not comparable; the JSON records the load average before and after.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from peers import ENGINES
from peers.problem import LAW_PARAMS, Problem, Settings

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results" / "flagship.json"
REFERENCE = "bayescale"
DISAGREE_SD = 2.0
PACKAGES = (
    "bayescale",
    "jax",
    "jaxlib",
    "numpyro",
    "arviz",
    "numpy",
    "scipy",
    "pymc",
    "pytensor",
    "nutpie",
    "numba",
    "pystan",
    "httpstan",
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=Settings.chains)
    parser.add_argument("--warmup", type=int, default=Settings.warmup)
    parser.add_argument("--draws", type=int, default=Settings.draws)
    parser.add_argument("--seed", type=int, default=Settings.seed)
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help=f"comma-separated, from: {', '.join(ENGINES)}"
    )
    parser.add_argument(
        "--cold", action="store_true", help="give each engine's process empty compilation caches"
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the engines in this process, not one subprocess each",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=1200.0,
        help="seconds before an engine's process is stopped (default 1200)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        help=f"where to save the results (default {DEFAULT_JSON})",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--problem", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    unknown = [name for name in args.engines if name not in ENGINES]
    if unknown:
        parser.error(f"unknown engine(s) {unknown}; choose from {list(ENGINES)}")
    if args.cold and args.in_process:
        parser.error("--cold needs a fresh process per engine; drop --in-process")
    return args


# ------------------------------------------------------------------------- running


def cold_env(cache_root: Path) -> dict:
    """The environment for an engine process with empty caches under ``cache_root``."""
    env = dict(
        os.environ,
        BAYESCALE_JAX_CACHE="off",
        NUMBA_CACHE_DIR=str(cache_root / "numba"),
        XDG_CACHE_HOME=str(cache_root / "xdg"),
    )
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    flags = [env["PYTENSOR_FLAGS"]] if env.get("PYTENSOR_FLAGS") else []
    env["PYTENSOR_FLAGS"] = ",".join(flags + [f"base_compiledir={cache_root / 'pytensor'}"])
    return env


def run_isolated(
    name: str, problem_file: Path, settings: Settings, cold: bool, timeout: float, workdir: Path
) -> dict:
    """Run engine ``name`` in a new Python process; its output goes to a log file."""
    result_file, log_file = workdir / f"{name}.json", workdir / f"{name}.log"
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        name,
        "--problem",
        str(problem_file),
        "--result",
        str(result_file),
        "--chains",
        str(settings.chains),
        "--warmup",
        str(settings.warmup),
        "--draws",
        str(settings.draws),
        "--seed",
        str(settings.seed),
    ]
    with (
        tempfile.TemporaryDirectory(prefix=f"flagship-{name}-cache-") as cache_root,
        open(log_file, "w", encoding="utf-8") as log,
    ):
        env = cold_env(Path(cache_root)) if cold else None
        started = time.perf_counter()
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the engine and its chain processes
            process.wait()
            return {"status": "timed out", "reason": f"stopped after {timeout:.0f} s"}
        seconds = time.perf_counter() - started
    if process.returncode != 0:
        tail = log_file.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return {
            "status": "failed",
            "reason": tail[-1] if tail else "no output",
            "log_tail": tail[-25:],
        }
    return {
        "status": "ok",
        "process_s": seconds,
        **json.loads(result_file.read_text(encoding="utf-8")),
    }


def run_in_process(name: str, problem: Problem, settings: Settings) -> dict:
    try:
        return {"status": "ok", **ENGINES[name].run(problem, settings)}
    except Exception as error:
        return {
            "status": "failed",
            "reason": f"{type(error).__name__}: {error}",
            "log_tail": traceback.format_exc().splitlines()[-25:],
        }


def child(args: argparse.Namespace) -> None:
    """Inside an engine's own process: fit, then write the result for the parent."""
    settings = Settings(args.chains, args.warmup, args.draws, args.seed)
    result = ENGINES[args.child].run(Problem.load(args.problem), settings)
    args.result.write_text(json.dumps(result), encoding="utf-8")


# ------------------------------------------------------------------------- figures


def derive(results: dict) -> None:
    """Add e2e, ESS/s, the ratios against bayescale and the median check, in place."""
    for record in results.values():
        if record["status"] == "ok":
            record["e2e_s"] = record["import_s"] + record["wall_s"]
            ess = record.get("min_ess_bulk")
            record["ess_per_s"] = None if ess is None else ess / record["sampling_s"]
    reference = results.get(REFERENCE, {})
    if reference.get("status") != "ok":
        return
    for record in results.values():
        if record["status"] != "ok":
            continue
        record["vs_bayescale"] = {
            "e2e": record["e2e_s"] / reference["e2e_s"],
            "sampling": record["sampling_s"] / reference["sampling_s"],
            "ess_per_s": (
                None
                if record["ess_per_s"] is None
                else record["ess_per_s"] / reference["ess_per_s"]
            ),
        }
        shift = {
            p: (record["median"][p] - reference["median"][p]) / reference["sd"][p]
            for p in LAW_PARAMS
        }
        record["median_shift_sd"] = shift
        record["disagrees"] = [p for p in LAW_PARAMS if abs(shift[p]) > DISAGREE_SD]


def _num(value, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def table(results: dict) -> str:
    """The summary table and the table of medians, as text."""
    head = (
        f"{'engine':<23}{'e2e s':>8}{'import':>8}{'compile':>9}{'sampling':>9}"
        f"{'bulk ESS':>9}{'tail ESS':>9}{'ESS/s':>8}{'R-hat':>7}{'div':>5}"
        f"{'grad/draw':>10}{'e2e ×bs':>9}{'ESS/s ×bs':>10}  medians"
    )
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        if r["status"] != "ok":
            lines.append(f"{name:<23}{r['status']}: {r['reason']}")
            continue
        ratio = r.get("vs_bayescale", {})
        check = (
            "—"
            if "disagrees" not in r
            else "agree"
            if not r["disagrees"]
            else "DIFFER: "
            + ", ".join(f"{p} {r['median_shift_sd'][p]:+.1f} sd" for p in r["disagrees"])
        )
        lines.append(
            f"{name:<23}{_num(r['e2e_s']):>8}{_num(r['import_s']):>8}"
            f"{_num(r['compile_s']):>9}{_num(r['sampling_s']):>9}"
            f"{_num(r.get('min_ess_bulk'), 0):>9}{_num(r.get('min_ess_tail'), 0):>9}"
            f"{_num(r['ess_per_s'], 0):>8}{_num(r.get('max_rhat'), 3):>7}"
            f"{r.get('divergences', '—'):>5}{_num(r.get('grad_evals_per_draw')):>10}"
            f"{_num(ratio.get('e2e'), 2):>9}{_num(ratio.get('ess_per_s'), 2):>10}  {check}"
        )
    medians = [f"{'posterior median':<23}" + "".join(f"{p:>10}" for p in LAW_PARAMS)]
    for name, r in results.items():
        if r["status"] == "ok":
            medians.append(f"{name:<23}" + "".join(f"{r['median'][p]:>10.4f}" for p in LAW_PARAMS))
    if results.get(REFERENCE, {}).get("status") == "ok":
        sd = results[REFERENCE]["sd"]
        medians.append(f"{'(bayescale sd)':<23}" + "".join(f"{sd[p]:>10.4f}" for p in LAW_PARAMS))
    return "\n".join(lines + ([""] + medians if len(medians) > 1 else []))


# ------------------------------------------------------------------------- report


def versions() -> dict:
    out = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = None
    return out


def machine() -> dict:
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    return {"platform": platform.platform(), "cpu": cpu, "cpus": os.cpu_count()}


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.child:
        child(args)
        return
    settings = Settings(args.chains, args.warmup, args.draws, args.seed)
    problem = Problem.from_reference()
    mode = (
        "in-process"
        if args.in_process
        else "one fresh process per engine, "
        + ("empty caches (cold)" if args.cold else "default persistent caches")
    )
    print(
        f"flagship fit: {problem.log_n.size} points, {settings.chains} chains × "
        f"({settings.warmup} warmup + {settings.draws} draws), seed {settings.seed}; {mode}"
    )
    load_before = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory(prefix="flagship-") as workdir:
        problem_file = Path(workdir) / "problem.json"
        problem.save(problem_file)
        for name in args.engines:
            engine = ENGINES[name]
            missing = engine.missing()
            print(f"  {name}: ", end="", flush=True)
            if missing:
                record = {
                    "status": "skipped",
                    "reason": f"{', '.join(missing)} not installed (pip install -e '.[bench]')",
                }
            elif args.in_process:
                record = run_in_process(name, problem, settings)
            else:
                record = run_isolated(
                    name, problem_file, settings, args.cold, args.timeout, Path(workdir)
                )
            results[name] = {"about": engine.about, **record}
            print(
                record["status"]
                if record["status"] != "ok"
                else f"{record['import_s'] + record['wall_s']:.1f} s",
                flush=True,
            )
    derive(results)
    text = table(results)
    print()
    print(text)
    report = {
        "benchmark": "flagship",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "mode": mode,
        "settings": asdict(settings),
        "problem": problem.describe(),
        "machine": {
            **machine(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "versions": versions(),
        "disagreement_threshold_sd": DISAGREE_SD,
        "engines": results,
        "table": text,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"\nsaved {args.json}")


if __name__ == "__main__":
    main()
