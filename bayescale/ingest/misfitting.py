"""``misfitting``: the open_lm sweep of Li, Kudugunta and Zettlemoyer (2025), 11 dense model
sizes x learning rates x training lengths, with checkpoint curves.

Raw file: ``misfitting/data/scaling_results.csv`` from ``hadasah/scaling_laws`` (4,852 rows,
one per checkpoint evaluation). The file has no run id; runs are recovered from its row
order, as written by the authors' parser (``open_lm/misfitting/scripts/parse_results.py``):
each run contributes its checkpoints 1..total_epochs as consecutive rows. That gives 261
runs, exactly the 261 rows of ``scaling_results_last_ckpt_only.csv``, whose rows are checked
to equal the last row of every recovered run. The group is the model size.

Each run's learning-rate schedule is rebuilt from its ``peak_lr`` and ``total_steps`` with the
settings of the authors' sweep (``open_lm/constants/slurm_constants.py`` and
``open_lm/ds/scripts/train.sh``, read in the public repository at the data's commit; they are
not among the raw files): a linear warmup of 50 steps, then a cosine decay (open_lm's
default scheduler) to a tenth of the peak at ``total_steps``. It is stored as JSON of a
:mod:`bayescale.schedules` schedule.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bayescale import schedules
from bayescale.errors import InputError
from bayescale.ingest.card import raw_digests

NAME = "misfitting"
RAW_FILE = "misfitting/data/scaling_results.csv"
LAST_FILE = "misfitting/data/scaling_results_last_ckpt_only.csv"
TOKENS_PER_STEP = 512 * 2048  # the sweep's GLOBAL_BATCH_SIZE x SEQ_LEN
# The sweep's NUM_WARMUP_STEPS and END_LR_RATIO (open_lm's --warmup, --lr-cooldown-end-ratio).
WARMUP = 50
END_LR_RATIO = 0.1
FLOPS = ("C", "C_no_emb", "C_6ND", "C_6ND_no_emb")  # integers too large for int64: text
CORRUPT_SWEEP = "2024_11_10-23_08_29_sweep_test"


def _runs(table: pd.DataFrame) -> pd.Series:
    """Run number of each row: a new run starts wherever current_epoch is 1."""
    segment = (table["current_epoch"] == 1).cumsum()
    fixed = ["model", "total_steps", "peak_lr", "sweep", "total_epochs"]
    for _, rows in table.groupby(segment):
        epochs = rows["current_epoch"].tolist()
        if (
            epochs != list(range(1, len(rows) + 1))
            or len(rows) != rows["total_epochs"].iloc[0]
            or rows[fixed].nunique().max() != 1
        ):
            raise InputError(
                f"rows {list(rows.index[:3])}... of {RAW_FILE} do not form one run "
                "(checkpoints 1..total_epochs with fixed settings); the row order changed."
            )
    return segment


def schedule(peak_lr: float, total_steps: int) -> schedules.Schedule:
    """The learning-rate schedule of a run with peak ``peak_lr`` planned for ``total_steps``:
    a linear warmup of :data:`WARMUP` steps, then a cosine to ``END_LR_RATIO x peak_lr`` at
    ``total_steps``."""
    return schedules.cosine(
        int(total_steps), float(peak_lr), END_LR_RATIO * float(peak_lr), warmup=WARMUP
    )


def _schedule_texts(table: pd.DataFrame) -> pd.Series:
    """Each row's run schedule as ``json.dumps(schedule.to_dict(), sort_keys=True)``."""
    settings = table[["peak_lr", "total_steps"]].drop_duplicates()
    texts = {
        (lr, total): json.dumps(schedule(lr, total).to_dict(), sort_keys=True)
        for lr, total in settings.itertuples(index=False)
    }
    return pd.Series(
        [texts[key] for key in zip(table["peak_lr"], table["total_steps"], strict=True)],
        index=table.index,
    )


def _run_ids(table: pd.DataFrame, segment: pd.Series) -> pd.Series:
    """'misfitting_35m/steps=16000/lr=0.002', with '#2', '#3' for repeated settings."""
    first = table.groupby(segment).first()
    base = (
        first["model"]
        + "/steps="
        + first["total_steps"].astype(str)
        + "/lr="
        + first["peak_lr"].map(lambda lr: f"{lr:g}")
    )
    repeat = base.groupby(base).cumcount() + 1
    ids = base.where(repeat == 1, base + "#" + repeat.astype(str))
    return segment.map(ids)


def build(raw: Path) -> tuple[pd.DataFrame, dict]:
    """Read the checkpoint table under ``raw`` and return the tidy table and its card."""
    text = dict.fromkeys(FLOPS, str)
    table = pd.read_csv(raw / RAW_FILE, dtype=text)
    last = pd.read_csv(raw / LAST_FILE, dtype=text)
    if (
        not (table["loss"] == table["C4 Eval Loss"]).all()
        or not (table["D"] == table["train_tokens"]).all()
    ):
        raise InputError(f"loss != 'C4 Eval Loss' or D != train_tokens in {RAW_FILE}.")
    if not (table["D"] == table["current_steps"] * TOKENS_PER_STEP).all():
        raise InputError(f"D != current_steps x {TOKENS_PER_STEP} in {RAW_FILE}.")
    segment = _runs(table)
    ends = table.groupby(segment).tail(1).reset_index(drop=True)
    if not ends.astype(str).equals(last.astype(str)):
        raise InputError(f"the last checkpoint of each recovered run differs from {LAST_FILE}.")

    flops = table["C_6ND"].map(float)
    if not (flops == 6.0 * table["N"].astype(float) * table["D"].astype(float)).all():
        raise InputError("C_6ND != 6 N D in float64.")
    corrupt = (table["sweep"] == CORRUPT_SWEEP).to_numpy()
    past_end = (table["current_steps"] > table["total_steps"]).to_numpy()
    frame = pd.DataFrame(
        {
            "n_params": table["N"],
            "n_tokens": table["D"],
            "loss": table["loss"],
            "group": table["model"].str.removeprefix("misfitting_"),
            "run": _run_ids(table, segment),
            "step": table["current_steps"],
            "flops": flops,
            "params_no_embed": table["N_no_emb"],
            "flops_no_embed": table["C_6ND_no_emb"].map(float),
            "model": table["model"],
            "peak_lr": table["peak_lr"],
            "total_steps": table["total_steps"],
            "checkpoint": table["current_epoch"],
            "checkpoints": table["total_epochs"],
            "final": table["current_epoch"] == table["total_epochs"],
            "sweep": table["sweep"],
            "suspect": corrupt | past_end,
            "schedule": _schedule_texts(table),
        }
    )
    size = frame["params_no_embed"]
    frame = (
        frame.assign(_size=size)
        .sort_values(["_size", "run", "step", "checkpoint"], kind="stable", ignore_index=True)
        .drop(columns="_size")
    )
    facts = {
        "corrupt_rows": int(corrupt.sum()),
        "corrupt_runs": int(segment[corrupt].nunique()),
        "past_end_rows": int(past_end.sum()),
        "runs": int(segment.nunique()),
        "settings": int(
            table.groupby(segment)
            .first()[["model", "total_steps", "peak_lr"]]
            .drop_duplicates()
            .shape[0]
        ),
    }
    return frame, _card(raw_digests(raw, [RAW_FILE, LAST_FILE]), facts)


def _card(raw_sha256: dict[str, str], facts: dict) -> dict:
    return {
        "name": NAME,
        "title": "(Mis)Fitting scaling laws (Li, Kudugunta & Zettlemoyer 2025): open_lm sweep "
        "of 11 sizes x learning rates x training lengths",
        "description": (
            f"Checkpoint curves of {facts['runs']} training runs of dense open_lm "
            "transformers, 11 sizes from 12M to 1.0B non-embedding parameters (57M to 1.2B "
            "with embeddings), each trained at up to 5 peak learning rates (4e-4 to 8e-3) "
            "for several lengths (100 to 20,000 steps of about 1M tokens, 0.1B to 21B "
            "tokens) on deduplicated FineWeb, with its own cosine schedule per length. C4 "
            "validation loss at every checkpoint. Groups are the model sizes. The schedule "
            "column holds each run's cosine schedule, rebuilt from its peak learning rate and "
            "length with the sweep's warmup and final rate (assumed), so laws that read "
            "schedules (multi-power law, annealing law) can fit every checkpoint."
        ),
        "source": {
            "repository": "https://github.com/hadasah/scaling_laws",
            "paths": ["data/scaling_results.csv", "data/scaling_results_last_ckpt_only.csv"],
            "commit": "1f3708c0a12df0effb0ee906b1da5f9f0ff4f4f1",
        },
        "citation": {
            "title": "(Mis)Fitting: A Survey of Scaling Laws",
            "authors": ["Margaret Li", "Sneha Kudugunta", "Luke Zettlemoyer"],
            "short": "Li et al.",
            "year": 2025,
            "venue": "ICLR 2025",
            "arxiv": "2502.18969",
        },
        "licence": "none found",
        "licence_status": (
            "The source repository has no LICENSE file, so no licence is granted. It vendors "
            "an open_lm fork whose MIT licence does not clearly cover these result files. "
            "The values are bundled for research and reproduction with full attribution; "
            "check the terms yourself before redistributing them further."
        ),
        "curves": True,
        "columns": {
            "n_params": "parameters N including the untied input and output embeddings "
            "(2 x vocabulary x width), as computed by the authors' parser (N)",
            "n_tokens": "training tokens D at the checkpoint (D = step x 512 x 2,048, "
            "computed by the parser from the step, not logged)",
            "loss": "C4 validation loss at the checkpoint (loss, equal to 'C4 Eval Loss'), "
            "nats per token (GPT-NeoX-20B tokenizer)",
            "group": "model size, the model name without its 'misfitting_' prefix "
            "(12m ... 1b; the figure is the non-embedding size)",
            "run": "'<model>/steps=<total_steps>/lr=<peak_lr>', with '#2', '#3' appended when "
            "the same setting occurs again (see 'derived')",
            "step": "optimizer steps at the checkpoint (current_steps)",
            "flops": "training compute 6 N D in FLOPs (C_6ND, with N including embeddings), "
            "as float64",
            "params_no_embed": "non-embedding parameters (N_no_emb: attention, feed-forward "
            "and norm weights)",
            "flops_no_embed": "6 x params_no_embed x D (C_6ND_no_emb), as float64",
            "model": "open_lm model configuration name, misfitting_12m ... misfitting_1b",
            "peak_lr": "peak learning rate of the run",
            "total_steps": "planned length of the run in steps; its cosine schedule ends there",
            "checkpoint": "checkpoint number within the run, 1-based (current_epoch)",
            "checkpoints": "checkpoints the run made (total_epochs)",
            "final": "True for the run's last checkpoint, the end of its schedule",
            "sweep": "launch folder (timestamp) the run belongs to",
            "suspect": "True where the run's labels (steps, learning rate) cannot be trusted; "
            "see caveats. Exclude these rows for fits",
            "schedule": "the run's learning-rate schedule as JSON, "
            "bayescale.schedules.Schedule.to_dict() (json.dumps with sorted keys), rebuilt "
            "from peak_lr and total_steps with an ASSUMED warmup and final rate (see "
            f"'derived'): cosine from peak_lr after a {WARMUP}-step linear warmup to "
            f"{END_LR_RATIO:g} x peak_lr at total_steps",
        },
        "derived": [
            f"run: the file has no run id. Rows are grouped into runs by their order: the "
            "authors' parser appends each run's checkpoints 1..total_epochs consecutively, so "
            f"a run starts wherever current_epoch is 1. This yields {facts['runs']} runs, each "
            "with consecutive checkpoints and constant model, total_steps, peak_lr, sweep and "
            "total_epochs, and the last row of each equals the matching row of "
            f"scaling_results_last_ckpt_only.csv (checked by the build). Only "
            f"{facts['settings']} distinct (model, total_steps, peak_lr) settings occur; the "
            "runs that repeat a setting get '#2', '#3' in file order.",
            "flops = float(C_6ND) and flops_no_embed = float(C_6ND_no_emb). The raw columns "
            "hold exact integers as text because they exceed int64; as float64 they keep "
            "about 16 significant digits (C_6ND equals 6.0 N D computed in float64 on every "
            "row). C and C_no_emb are not carried over: they are C_6ND and C_6ND_no_emb plus "
            "a constant 6 x seq_len x width per model ('mask_flops', at most 2.2e7 FLOPs), "
            "negligible at these scales.",
            "final = (current_epoch == total_epochs). Not carried over: 'C4 Eval Loss' (equal "
            "to loss), train_tokens (equal to D) and portion_steps_elapsed (= step / "
            "total_steps).",
            "group = model size. Each size has runs at several learning rates and lengths; "
            "regroup by peak_lr, or keep final rows only, as the analysis needs.",
            "Rows are sorted by size, run, then step.",
            f"schedule: bayescale.schedules.cosine(total_steps, peak_lr, {END_LR_RATIO:g} x "
            f"peak_lr, warmup={WARMUP}) per run. peak_lr and total_steps are the run's "
            "labels (the parser reads them from the run's folder name); the rest is ASSUMED "
            "to be the same for every run: the authors' sweep settings at the data's commit "
            f"(open_lm/constants/slurm_constants.py: NUM_WARMUP_STEPS {WARMUP}, "
            f"END_LR_RATIO {END_LR_RATIO:g}, GLOBAL_BATCH_SIZE 512, SEQ_LEN 2048; "
            "open_lm/ds/scripts/train.sh passes them as --warmup, --lr-cooldown-end-ratio "
            "and --global-batch-size, with open_lm's default cosine scheduler and the "
            "cosine's end at NUM_STEPS = total_steps), read in the public repository; they "
            "are not among the raw files, and the grid in that file lacks some settings that "
            "the data holds, so runs launched earlier may have used other values. No "
            "learning rate is logged, so the schedule cannot be checked against the data; "
            f"{TOKENS_PER_STEP:,} tokens per step (512 x 2,048) is the same config's batch "
            "and agrees with n_tokens / step on every row.",
        ],
        "caveats": [
            f"suspect rows ({facts['corrupt_rows'] + facts['past_end_rows']}): all "
            f"{facts['corrupt_rows']} rows ({facts['corrupt_runs']} runs) of the 17m launch "
            f"{CORRUPT_SWEEP}, and {facts['past_end_rows']} rows whose step exceeds the run's "
            "total_steps. In that launch the same (total_steps, peak_lr) setting appears up "
            "to 4 times, 36 loss values are copied exactly between runs with different "
            "labels (e.g. the final losses of steps=200 at lr 2e-3 and 4e-3 are swapped "
            "copies), and 12 runs with only 2 checkpoints are labelled 750 to 1,500 steps "
            "although that length implies 6 to 12 checkpoints, and start at a loss (~4.2 at "
            "'step 128') that the genuine 128-step checkpoint of the same setting (~5.9) "
            "contradicts. The authors' parser reuses the previous run's steps and learning "
            "rate when it cannot parse a folder name ('old run with EPOCH=1'), which would "
            "explain this. The 2 rows past the end are the first checkpoints of "
            "misfitting_70m, 250 steps, lr 1e-3 and 2e-3, labelled step 256.",
            "Every training length has its own cosine schedule, so an intermediate checkpoint "
            "is mid-schedule (not annealed) and is not the result of a shorter run; use "
            "final == True for end-of-schedule points. Many runs have only 1 to 4 "
            "checkpoints.",
            "n_tokens is derived from the step count (1,048,576 tokens per step), not a "
            "logged token count.",
            "n_params includes both embedding matrices (GPT-NeoX-20B vocabulary, untied), "
            "which are most of the parameters of the small models (45M of the 57M of "
            "misfitting_12m); params_no_embed gives the alternative.",
            "The learning-rate grid differs by size (4e-4 only for 25m and sizes from 200m "
            "up; 8e-3 only for 12m and 17m) and so do the training lengths; the learning "
            "rate with the lowest final loss differs by size too (2e-3 to 4e-3 for most "
            "sizes below 200m, 1e-3 to 2e-3 above).",
            "The schedule of a suspect run is built from its labels and inherits their "
            "doubt; the two misfitting_70m 250-step runs whose first checkpoint is labelled "
            "step 256 lie past the end of their 250-step schedule, so a law that reads "
            "schedules refuses them unless the suspect rows are dropped.",
            "Open-Athena's isoFLOP table interpolates these curves to fixed budgets; those "
            "interpolated points are not included here.",
            "Losses from this dataset are not comparable with other bundled datasets: "
            "tokenizer, evaluation data and parameter counting differ.",
        ],
        "raw_sha256": raw_sha256,
    }
