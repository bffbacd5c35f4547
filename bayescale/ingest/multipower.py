"""``multipower_schedules``: training-loss curves of Luo et al. (2025) for three model sizes
under nine learning-rate schedules, the data behind the multi-power law.

Raw files: ``multipower_schedules/loss_curve_repo/csv_{25,100,400}/<schedule>.csv`` from
``thu-yao-01-luo/MultiPowerLaw`` (27 files, columns ``step, lr, loss``, one row per
logged step), with the authors' ``src/config.py`` (train/test split, fitted constants) and
``src/lr_schedules.py`` (schedule definitions). One row per logged step; the group is the
model size and the run is ``<size>/<schedule>``.

Each run's schedule is rebuilt with :mod:`bayescale.schedules` from the settings of the
authors' data loader and stored as JSON; the build fails unless it reproduces every logged
``lr`` to floating-point rounding. The split is read from ``src/config.py`` and checked
against the authors' published one.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd

from bayescale import schedules
from bayescale.errors import InputError
from bayescale.ingest.card import raw_digests

NAME = "multipower_schedules"
ROOT = "multipower_schedules"
CONFIG = f"{ROOT}/src/config.py"
SCHEDULE_CODE = f"{ROOT}/src/lr_schedules.py"
LICENCE_FILE = f"{ROOT}/LICENSE"
# folder label -> (group, n_params). The counts are the nominal sizes the authors name the
# models by ("25M", "100M", "400M"); the repository gives no exact counts.
SIZES = {"25": ("25M", 25_000_000), "100": ("100M", 100_000_000), "400": ("400M", 400_000_000)}
# An assumption, not a published figure: the repository does not state the batch size or the
# sequence length, so n_tokens is step x 2**19 (0.5M tokens per step).
TOKENS_PER_STEP = 2**19
# The settings of the authors' src/data_loader.py (not among the raw files).
WARMUP = 2160
PEAK_LR = 3e-4
FINAL_LR = 3e-5
WSD_DECAY_START, WSD_TOTAL = 20_000, 24_000
TWO_STAGE_SWITCH, TWO_STAGE_TOTAL = 8_000, 16_000
PUBLISHED_SPLIT = {
    "train": ["cosine_24000", "constant_24000", "wsdcon_9"],
    "test": [
        "constant_72000",
        "cosine_72000",
        "wsd_20000_24000",
        "wsdld_20000_24000",
        "wsdcon_3",
        "wsdcon_18",
    ],
}
LR_RTOL = 1e-9
# The authors' README: evaluation of the fitted law per size (relative errors as fractions).
README_METRICS = {
    "25M": {
        "r2": 0.9988,
        "mae": 0.00376,
        "rmse": 0.00465,
        "mean_rel": 0.00110,
        "worst_rel": 0.00409,
    },
    "100M": {
        "r2": 0.9983,
        "mae": 0.00435,
        "rmse": 0.00592,
        "mean_rel": 0.00142,
        "worst_rel": 0.00583,
    },
    "400M": {
        "r2": 0.9978,
        "mae": 0.00484,
        "rmse": 0.00730,
        "mean_rel": 0.00168,
        "worst_rel": 0.00995,
    },
}
CONSTANTS = ("L0", "A", "alpha", "B", "C", "beta", "gamma")


def _config(raw: Path) -> dict:
    """The literal assignments of the authors' ``src/config.py``, read without running it."""
    tree = ast.parse((raw / CONFIG).read_text(encoding="utf-8"))
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    values[target.id] = ast.literal_eval(node.value)
                except ValueError:  # FILES = TRAIN_SET + TEST_SET is not a literal
                    continue
    for key in ("TRAIN_SET", "TEST_SET", "FOLDER_PATHS", "PARAMS", "OPT_WARMUP", "OPT_PEAK_LR"):
        if key not in values:
            raise InputError(f"{raw / CONFIG} has no literal {key}; the raw copy changed.")
    return values


def _split(config: dict) -> dict[str, list[str]]:
    split = {
        part: [name.removesuffix(".csv") for name in config[key]]
        for part, key in (("train", "TRAIN_SET"), ("test", "TEST_SET"))
    }
    if split != PUBLISHED_SPLIT or (config["OPT_WARMUP"], config["OPT_PEAK_LR"]) != (
        WARMUP,
        PEAK_LR,
    ):
        raise InputError(
            f"{CONFIG} gives the split {split}, warmup {config['OPT_WARMUP']} and peak "
            f"{config['OPT_PEAK_LR']}; expected {PUBLISHED_SPLIT}, {WARMUP} and {PEAK_LR}."
        )
    if sorted(config["FOLDER_PATHS"]) != sorted(SIZES):
        raise InputError(
            f"{CONFIG} names sizes {sorted(config['FOLDER_PATHS'])}; expected {sorted(SIZES)}."
        )
    return split


def schedule(name: str) -> schedules.Schedule:
    """The learning-rate schedule of the run named ``name`` (e.g. ``"wsdcon_9"``), as the
    authors' data loader builds it: linear warmup over 2,160 steps to 3e-4, then the shape."""
    kind, _, arg = name.partition("_")
    if kind in ("cosine", "constant") and arg.isdigit():
        total = int(arg)
        if kind == "cosine":
            return schedules.cosine(total, PEAK_LR, FINAL_LR, warmup=WARMUP)
        return schedules.constant(total, PEAK_LR, warmup=WARMUP)
    if kind in ("wsd", "wsdld") and arg == f"{WSD_DECAY_START}_{WSD_TOTAL}":
        decay = "exponential" if kind == "wsd" else "linear"
        return schedules.wsd(
            WSD_TOTAL, PEAK_LR, FINAL_LR, WSD_DECAY_START, warmup=WARMUP, decay=decay
        )
    if kind == "wsdcon" and arg.isdigit():
        second = int(arg) * 1e-5
        return schedules.piecewise(
            [TWO_STAGE_SWITCH, TWO_STAGE_TOTAL], [PEAK_LR, second], warmup=WARMUP
        )
    raise InputError(f"no schedule is known for the raw file {name}.csv.")


def _read(raw: Path, folder: str, name: str, sched: schedules.Schedule) -> pd.DataFrame:
    path = f"{ROOT}/loss_curve_repo/csv_{folder}/{name}.csv"
    table = pd.read_csv(raw / path)
    if list(table.columns) != ["step", "lr", "loss"] or table.isna().any(axis=None):
        raise InputError(f"{path} should have columns step, lr, loss and no gaps.")
    steps = table["step"].to_numpy()
    if not (np.diff(steps) > 0).all():
        raise InputError(f"the steps of {path} are not strictly increasing.")
    if steps[-1] >= sched.total:
        raise InputError(
            f"{path} logs step {steps[-1]}, at or past the schedule's {sched.total} steps; decide "
            "how to treat checkpoints at the end of training before ingesting it."
        )
    expected = np.asarray(sched.lr(steps), dtype=float)
    if not np.allclose(table["lr"].to_numpy(), expected, rtol=LR_RTOL, atol=0.0):
        worst = int(np.argmax(np.abs(table["lr"].to_numpy() - expected)))
        raise InputError(
            f"the logged lr of {path} differs from the rebuilt {name} schedule: at step "
            f"{steps[worst]} the file has {table['lr'].iloc[worst]!r}, the schedule "
            f"{expected[worst]!r}. The schedule definitions no longer match the data."
        )
    return table


def build(raw: Path) -> tuple[pd.DataFrame, dict]:
    """Read the 27 curves under ``raw`` and return the tidy table and its card."""
    config = _config(raw)
    split = _split(config)
    names = sorted(split["train"] + split["test"])
    parts, paths = [], [CONFIG, SCHEDULE_CODE, LICENCE_FILE]
    for folder, (group, n_params) in sorted(SIZES.items(), key=lambda item: item[1][1]):
        for name in names:
            sched = schedule(name)
            table = _read(raw, folder, name, sched)
            paths.append(f"{ROOT}/loss_curve_repo/csv_{folder}/{name}.csv")
            parts.append(
                pd.DataFrame(
                    {
                        "n_params": n_params,
                        "n_tokens": table["step"] * TOKENS_PER_STEP,
                        "loss": table["loss"],
                        "group": group,
                        "run": f"{group}/{name}",
                        "step": table["step"],
                        "lr": table["lr"],
                        "schedule": json.dumps(sched.to_dict(), sort_keys=True),
                        "split": "train" if name in split["train"] else "test",
                    }
                )
            )
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(frame.columns.get_loc("step") + 1, "trunk", _trunks(frame))
    return frame, _card(raw_digests(raw, paths), config["PARAMS"])


def _branch(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether two runs (``step``, ``lr``, ``loss`` rows of one size) are one training run up
    to where their learning rates part: losses identical at every common logged step before
    then, and at least two such steps. Independent runs differ by seed noise from the first
    steps on (the two constant-rate runs of a size part at step 2,176)."""
    common = a.merge(b, on="step", suffixes=("_a", "_b"))
    same_lr = common["lr_a"] == common["lr_b"]
    shared = common[same_lr.cummin()]  # steps before the learning rates first differ
    return len(shared) >= 2 and bool((shared["loss_a"] == shared["loss_b"]).all())


def _trunks(frame: pd.DataFrame) -> pd.Series:
    """Each row's trunk: runs of a size that are branches of one training run
    (:func:`_branch`, joined transitively) share the id of the one that stays at the peak
    learning rate longest, the run the others decay from."""
    trunk = frame["run"].copy()
    for _, size in frame.groupby("group", sort=False):
        runs = dict(list(size.groupby("run")))
        label = {run: run for run in runs}
        for a in runs:
            for b in runs:
                if a < b and _branch(runs[a], runs[b]):
                    old, new = label[b], label[a]
                    label = {r: new if t == old else t for r, t in label.items()}
        for members in pd.Series(label).groupby(pd.Series(label)).groups.values():
            at_peak = {run: int((runs[run]["lr"] == PEAK_LR).sum()) for run in members}
            root = max(sorted(at_peak), key=at_peak.get)
            for run in members:
                trunk[frame["run"] == run] = root
    return trunk


def _published(params: dict[str, list[float]]) -> dict:
    figures = {}
    for folder, (group, _) in SIZES.items():
        figures[group] = {
            **README_METRICS[group],
            "constants": dict(zip(CONSTANTS, params[folder], strict=True)),
        }
    return {
        "split": PUBLISHED_SPLIT,
        "figures": figures,
        "note": (
            "The multi-power law fitted per size on the three 'train' runs (split, from "
            "src/config.py). constants: L0, A, alpha, B, C, beta, gamma, the fitted values "
            "of src/config.py (PARAMS, full precision). r2, mae, rmse, mean_rel (PredE, "
            "mean relative error) and worst_rel (WorstE, largest relative error): the "
            "evaluation table of the repository README, which does not name the runs they "
            "are computed on and says they may differ from the paper's because not all "
            "experiments were rerun."
        ),
    }


def _card(raw_sha256: dict[str, str], params: dict[str, list[float]]) -> dict:
    return {
        "name": NAME,
        "title": "Multi-power law (Luo et al. 2025): training-loss curves of 25M, 100M and "
        "400M models under nine learning-rate schedules",
        "description": (
            "Training-loss curves of three Llama-2-style models (nominally 25M, 100M and 400M "
            "parameters) each trained under nine learning-rate schedules: cosine and constant "
            "for 24,000 and 72,000 steps, warmup-stable-decay with an exponential (wsd) or "
            "linear (wsdld) decay from step 20,000 to 24,000, and two-stage schedules "
            "(wsdcon_3/9/18) that drop from 3e-4 to 3e-5, 9e-5 or 1.8e-4 at step 8,000. "
            "All share a linear warmup of 2,160 steps to 3e-4. One row per logged step (every "
            "128 steps from about step 2,160); one run per (size, schedule), 27 runs. The "
            "schedule column holds each run's exact schedule, so laws that depend on the "
            "whole learning-rate history (multi-power law, annealing laws) can be fitted; the "
            "split column gives the authors' fit/predict split."
        ),
        "source": {
            "repository": "https://github.com/thu-yao-01-luo/MultiPowerLaw",
            "paths": [
                "loss_curve_repo/csv_{25,100,400}/<schedule>.csv",
                "src/config.py",
                "src/lr_schedules.py",
            ],
            "commit": "8da9f1902602f3391b971a811e3cc51604541769",
        },
        "citation": {
            "title": "A Multi-Power Law for Loss Curve Prediction Across Learning Rate Schedules",
            "authors": [
                "Kairong Luo",
                "Haodong Wen",
                "Shengding Hu",
                "Zhenbo Sun",
                "Zhiyuan Liu",
                "Maosong Sun",
                "Kaifeng Lyu",
                "Wenguang Chen",
            ],
            "short": "Luo et al.",
            "year": 2025,
            "venue": "ICLR 2025",
            "arxiv": "2503.12811",
        },
        "licence": "MIT",
        "licence_status": (
            "MIT (LICENSE in the source repository): redistribution and modification are "
            "permitted provided the copyright notice and the MIT permission notice accompany "
            "the data."
        ),
        "curves": True,
        "columns": {
            "n_params": "ASSUMED nominal parameter count: 25e6, 100e6 or 400e6, from the size "
            "the authors name each model by ('25M', '100M', '400M'; folders csv_25, csv_100, "
            "csv_400). The repository gives no exact counts and does not say whether "
            "embeddings are included",
            "n_tokens": "ASSUMED training tokens at the step: step x 524,288 (2**19, i.e. "
            "0.5M tokens per step). The repository states neither the batch size nor the "
            "sequence length; only the step is measured",
            "loss": "training loss at the step (not held-out loss), nats per token, as logged "
            "by the authors",
            "group": "model size label: '25M', '100M' or '400M'",
            "run": "'<size>/<schedule>', e.g. '25M/cosine_24000' (the raw file's name)",
            "trunk": "the run this run branches from, or its own id: two runs of a size "
            "whose losses are identical at every common logged step before their learning "
            "rates part are one training run, branched, and branches of branches join "
            "(transitively); the id is the member's that stays at the peak rate longest. "
            "The wsd and wsdld runs branch at step 20,000 and the wsdcon runs at 8,000 from "
            "constant_24000 (100M, 400M) or constant_72000 (25M); at 400M the wsd and wsdld "
            "runs repeat constant_24000's losses to step 16,000 only and differ from them by "
            "at most 0.063% after it (they join through the wsdcon runs). Derived from the "
            "losses, not stated by the authors",
            "step": "optimizer step of the logged loss (the index into the authors' "
            "learning-rate array)",
            "lr": "learning rate at the step, as logged in the raw file",
            "schedule": "the run's full learning-rate schedule as JSON, "
            "bayescale.schedules.Schedule.to_dict() (json.dumps with sorted keys); "
            "rebuild it with bayescale.schedules",
            "split": "'train' for the runs the authors fit on (cosine_24000, constant_24000, "
            "wsdcon_9), 'test' for the six they predict",
        },
        "derived": [
            "Rows are read unchanged from the 27 raw files (step, lr, loss); none is dropped. "
            "They are sorted by size, schedule name, then step.",
            "schedule: built from the settings of the authors' src/data_loader.py at the "
            "same commit (read in the public repository; it is not among the raw files): "
            "linear warmup 2,160 steps, peak 3e-4; cosine to 3e-5 over the run; wsd_lrs = "
            "exponential and wsdld_lrs = linear decay from step 20,000 to 3e-5 at 24,000; "
            "two_stage_lrs: 3e-4 to step 8,000, then the file's number x 1e-5 (3e-5, 9e-5 "
            "or 1.8e-4) to 16,000. The build checks that each schedule reproduces every "
            f"logged lr to a relative {LR_RTOL:g}, and fails otherwise.",
            "split: TRAIN_SET and TEST_SET of src/config.py, checked against the published split.",
            "The authors' loader drops a checkpoint at step 24,000 when a file's last step "
            "is 24,000. None of these 27 files logs that step (the 24,000-step runs end at "
            "step 23,904 to 23,936), so nothing is dropped, here or by the loader; the build "
            "fails if a file logs a step at or past its schedule's end.",
            "n_params and n_tokens are assumptions (see columns): nominal sizes, and 2**19 "
            "tokens per step. Fits in tokens are fits in steps up to this constant factor: "
            "exponents are unaffected, token-scale coefficients are not comparable with "
            "other datasets.",
            "flops: not provided and not derived.",
        ],
        "caveats": [
            "The loss is the TRAINING loss logged at the step, not a held-out evaluation; it "
            "is noisier than a validation loss and not comparable with other bundled "
            "datasets (tokenizer and data differ too).",
            "n_params (nominal 25M/100M/400M) and n_tokens (2**19 tokens per step) are "
            "assumed, not published in the repository; check the paper before relying on "
            "absolute parameter or token counts.",
            "Logging starts after warmup (step 2,160 or 2,176), so the warmup phase has no "
            "loss points; the schedule column still describes it.",
            "The 25M two-stage runs (wsdcon_*) end at step 14,144, short of the 16,000 of "
            "their schedule (the 100M and 400M ones end at 15,936).",
            "The logging grid is every 128 steps with a few exceptions: the two-stage runs "
            "log step 8,000 (64 steps after 7,936); the 25M wsd and wsdld runs lack step "
            "19,968 and log 20,064; the 100M wsd and wsdld runs log 20,064 after 19,968.",
            "Runs of one size share identical logged losses over common constant-learning-"
            "rate stretches (in every size the wsd and two-stage runs agree exactly up to "
            "step 7,936), so many runs are branches of one constant-LR run, not independent "
            "runs: their points are correlated, and a shared stretch appears in several runs.",
        ],
        "published": _published(params),
        "raw_sha256": raw_sha256,
    }
