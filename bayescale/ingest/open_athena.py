"""``open_athena_isoflops``: the Marin "scaling ladder" isoFLOP runs on three pretraining
datasets (Comma, DCLM, Nemotron-CC), as exported from W&B and collected by Open-Athena.

Raw files: ``open_athena_isoflops/data/isoflops/extract/marin_202603/raw/isoflop-{comma,
dclm,nemotron}.csv`` from ``Open-Athena/scaling-law-analysis`` (273 runs, one row each), plus
``data/isoflops/transform/isoflops.csv`` for Open-Athena's quality-control flags. One row per
run; the group is the pretraining dataset.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from bayescale.errors import InputError
from bayescale.ingest.card import raw_digests

NAME = "open_athena_isoflops"
RAW_DIR = "open_athena_isoflops/data/isoflops"
DATASETS = ("comma", "dclm", "nemotron")
RAW_FILES = {name: f"{RAW_DIR}/extract/marin_202603/raw/isoflop-{name}.csv" for name in DATASETS}
QC_FILE = f"{RAW_DIR}/transform/isoflops.csv"
QC_SOURCE = "marin_202603"
VOCAB = 128_256  # Llama 3 vocabulary of Marin's tokenizer; untied embedding and LM head
BUDGET = re.compile(r"(\d+(?:\.\d+)?e\+\d+)")
REGULAR = re.compile(r"isoflop-[^-]+-d\d+-L\d+-B\d+-[\w-]+")
VALIDATION = re.compile(r"exp2166-scaling-ladder-\w+-validation-optimal-[^-]+-[0-9a-f]+")
COLUMNS = {
    "Name": "name",
    "parameter_count": "n_params",
    "throughput/total_tokens": "n_tokens",
    "eval/paloma/macro_loss": "loss",
    "throughput/total_gflops": "gflops",
    "trainer.train_batch_size": "batch_size",
    "trainer.num_train_steps": "num_train_steps",
    "optimizer.learning_rate": "learning_rate",
    "learning_rate": "learning_rate",
    "model.hidden_dim": "hidden_dim",
    "model.num_layers": "num_layers",
}


def _read(raw: Path, dataset: str) -> pd.DataFrame:
    table = pd.read_csv(raw / RAW_FILES[dataset]).rename(columns=COLUMNS)
    missing = sorted(set(COLUMNS.values()) - set(table.columns))
    if missing:
        raise InputError(f"{RAW_FILES[dataset]} lacks columns {missing}.")
    return table.assign(dataset=dataset)


def _qc(raw: Path, runs: pd.DataFrame) -> pd.DataFrame:
    """Open-Athena's outlier flags for the regular isoFLOP runs, matched on (dataset, N, D)."""
    qc = pd.read_csv(raw / QC_FILE)
    qc = qc[qc["source"] == QC_SOURCE]
    key = ["dataset", "n_params", "n_tokens"]
    qc = qc.rename(columns={"params": "n_params", "tokens": "n_tokens"})
    qc = qc.astype({"n_params": "int64", "n_tokens": "int64"})
    if qc.duplicated(key).any():
        raise InputError(f"{QC_FILE} has several {QC_SOURCE} rows with one (dataset, N, D).")
    regular = runs.loc[~runs["validation_optimal"], key + ["loss", "budget"]]
    merged = regular.merge(
        qc[key + ["loss", "budget", "outlier", "reason"]],
        on=key,
        how="outer",
        suffixes=("", "_qc"),
        indicator=True,
        validate="1:1",
    )
    if not (merged["_merge"] == "both").all():
        raise InputError(
            f"the regular Marin runs and the {QC_SOURCE} rows of {QC_FILE} do not match one to one."
        )
    if not (
        np.allclose(merged["loss"], merged["loss_qc"], rtol=0, atol=1e-12)
        and np.allclose(merged["budget"], merged["budget_qc"], rtol=1e-12, atol=0)
    ):
        raise InputError(f"loss or budget of a matched run differs from {QC_FILE}.")
    return merged[key + ["outlier", "reason"]]


def build(raw: Path) -> tuple[pd.DataFrame, dict]:
    """Read the Marin W&B exports under ``raw`` and return the tidy table and its card."""
    runs = pd.concat([_read(raw, name) for name in DATASETS], ignore_index=True)
    regular = runs["name"].str.fullmatch(REGULAR.pattern)
    validation = runs["name"].str.fullmatch(VALIDATION.pattern)
    if not (regular ^ validation).all() or not runs["name"].is_unique:
        raise InputError(f"unexpected or repeated run names in {sorted(RAW_FILES.values())}.")
    named = runs["name"].str.extract(BUDGET, expand=False).astype(float)
    # regular runs name a forward-pass (~2ND) budget, the validation runs a ~6ND one
    runs["validation_optimal"] = validation
    runs["budget"] = np.where(validation, named, 3.0 * named)
    runs["flops"] = runs["gflops"] * 1e9
    if not ((runs["flops"] / runs["budget"]) - 1.0).abs().lt(1e-4).all():
        raise InputError("throughput/total_gflops does not match the budget in the run name.")
    qc = _qc(raw, runs)
    runs = runs.merge(qc, on=["dataset", "n_params", "n_tokens"], how="left")
    runs.loc[runs["validation_optimal"], ["outlier", "reason"]] = [pd.NA, pd.NA]

    frame = pd.DataFrame(
        {
            "n_params": runs["n_params"],
            "n_tokens": runs["n_tokens"],
            "loss": runs["loss"],
            "group": runs["dataset"],
            "run": runs["name"],
            "flops": runs["flops"],
            "budget": runs["budget"],
            "params_no_embed": runs["n_params"] - 2 * VOCAB * runs["hidden_dim"],
            "hidden_dim": runs["hidden_dim"],
            "num_layers": runs["num_layers"],
            "batch_size": runs["batch_size"],
            "num_train_steps": runs["num_train_steps"],
            "learning_rate": runs["learning_rate"],
            "validation_optimal": runs["validation_optimal"],
            "oa_outlier": runs["outlier"].astype("boolean"),
            "oa_reason": runs["reason"],
        }
    )
    frame = frame.sort_values(
        ["group", "validation_optimal", "budget", "n_params", "run"],
        kind="stable",
        ignore_index=True,
    )
    digests = raw_digests(raw, [*RAW_FILES.values(), QC_FILE])
    return frame, _card(digests, frame)


def _card(raw_sha256: dict[str, str], frame: pd.DataFrame) -> dict:
    regular = frame[~frame["validation_optimal"]]
    flagged = regular["oa_reason"].value_counts().drop("none", errors="ignore").to_dict()
    flags = ", ".join(f"{count} {reason}" for reason, count in sorted(flagged.items()))
    ratio = frame["flops"] / (6.0 * frame["n_params"] * frame["n_tokens"].astype(float))
    return {
        "name": NAME,
        "title": "Marin scaling-ladder isoFLOP runs on Comma, DCLM and Nemotron-CC, via "
        "Open-Athena",
        "description": (
            f"Final Paloma validation losses of {len(frame)} Llama-style models (156M to "
            "11.8B parameters including embeddings) trained by the Marin project on three "
            f"pretraining datasets: {len(regular)} isoFLOP grid runs at budgets of 1.8e18 to "
            f"3e20 FLOPs and {int(frame['validation_optimal'].sum())} 'validation-optimal' "
            "runs (3e18 to 1e21 FLOPs) at the sizes the ladder predicted. Groups are the "
            "datasets; one point per run."
        ),
        "source": {
            "repository": "https://github.com/Open-Athena/scaling-law-analysis",
            "paths": [
                "data/isoflops/extract/marin_202603/raw/isoflop-comma.csv",
                "data/isoflops/extract/marin_202603/raw/isoflop-dclm.csv",
                "data/isoflops/extract/marin_202603/raw/isoflop-nemotron.csv",
                "data/isoflops/transform/isoflops.csv",
            ],
            "commit": "3e0656ee3dce1a2c89aa67691920f5eb9d30f0fc",
            "origin": "Marin community 'Scaling Ladders' W&B report (marin-community), "
            "exported March 2026",
        },
        "citation": {
            "title": "Marin scaling ladders (W&B report); isoFLOP data collected in "
            "Open-Athena/scaling-law-analysis",
            "authors": ["The Marin community", "Eric Czech (Open-Athena)"],
            "short": "Marin / Open-Athena",
            "year": 2026,
            "venue": "W&B report and GitHub repository (no paper)",
            "arxiv": None,
            "url": "https://github.com/Open-Athena/scaling-law-analysis",
        },
        "licence": "none found",
        "licence_status": (
            "Open-Athena/scaling-law-analysis has no LICENSE file, so no licence is granted "
            "for its copies. The Marin project's code is Apache-2.0, but these values are W&B "
            "exports whose terms are not stated. They are bundled for research and "
            "reproduction with full attribution; check the terms yourself before "
            "redistributing them further."
        ),
        "curves": False,
        "columns": {
            "n_params": "parameters N as counted by the trainer (parameter_count), INCLUDING "
            "the untied input embedding and LM head (128,256-token vocabulary), "
            "which dominate the small models",
            "n_tokens": "training tokens D (throughput/total_tokens, logged by the trainer)",
            "loss": "final Paloma macro-averaged validation loss (eval/paloma/macro_loss), "
            "nats per token",
            "group": "pretraining dataset: comma (Comma), dclm (DCLM baseline) or nemotron "
            "(Nemotron-CC)",
            "run": "W&B run name, e.g. 'isoflop-1e+20-d768-L8-B512-comma-mix'",
            "flops": "training FLOPs counted by the trainer (throughput/total_gflops x 1e9)",
            "budget": "nominal isoFLOP budget in the trainer's (about 6ND) units: 3 x the "
            "figure in a grid run's name, the figure itself for a validation-"
            "optimal run",
            "params_no_embed": "n_params - 2 x 128,256 x hidden_dim (derived, see 'derived')",
            "hidden_dim": "model width (model.hidden_dim)",
            "num_layers": "transformer layers (model.num_layers)",
            "batch_size": "sequences per batch (trainer.train_batch_size)",
            "num_train_steps": "optimizer steps (trainer.num_train_steps)",
            "learning_rate": "peak learning rate (optimizer.learning_rate); empty for every "
            "nemotron run, whose export has an empty learning_rate column",
            "validation_optimal": "True for the 15 'exp2166-scaling-ladder-...-validation-"
            "optimal' runs: models trained at the compute-optimal size "
            "the ladder predicted, not part of the isoFLOP grid",
            "oa_outlier": "Open-Athena's QC flag for the run (empty for validation-optimal "
            "runs, which Open-Athena drops)",
            "oa_reason": "Open-Athena's QC reason: none, too_few_points (budget with too few "
            "runs for its parabola fit) or spline_outlier",
        },
        "derived": [
            "One row per W&B run from the three raw exports: n_params = parameter_count, "
            "n_tokens = throughput/total_tokens, loss = eval/paloma/macro_loss, run = Name, "
            "group = the export's dataset.",
            "flops = throughput/total_gflops x 1e9, the trainer's own count. It equals 3 x "
            "the budget in a grid run's name and 1 x the budget in a validation-optimal "
            "run's name (checked to 1e-4 on every run): grid names state a forward-pass "
            "(about 2ND) budget, as Open-Athena notes when it multiplies them by 3. budget "
            "holds the nominal value in the trainer's units. The trainer's count is not "
            f"6ND: flops / (6 n_params n_tokens) ranges {ratio.min():.2f} to {ratio.max():.2f}, "
            "presumably because the input embedding costs no matmul FLOPs (lower ratio for "
            "small, embedding-heavy models) while attention adds some.",
            "params_no_embed = n_params - 2 x 128,256 x hidden_dim, assuming an untied "
            "embedding and LM head over the Llama 3 vocabulary (Marin's tokenizer). A least-"
            "squares fit of parameter_count on L d^2, d and L d over the 22 shapes gives "
            "256,516 d for the d term (2 x 128,258) and 16.0 L d^2, consistent with this.",
            f"oa_outlier and oa_reason come from Open-Athena's QC table ({QC_FILE}, source "
            f"{QC_SOURCE}), matched one to one on (dataset, n_params, n_tokens) for the "
            f"{len(regular)} grid runs, with loss and budget checked to agree. Flags: "
            f"{flags}. Open-Athena drops the validation-optimal runs, so they have no flags.",
            "Kept from the raw exports: batch size, steps, learning rate, width and depth. "
            "Rows are sorted by group, grid before validation-optimal runs, budget, then "
            "n_params.",
            "Open-Athena's combined table also holds Chinchilla, ml-scalefit, misfitting "
            "(interpolated) and Llama 3 (read off a figure) isoFLOP points; they are not "
            "included here (chinchilla and misfitting are bundled separately from their "
            "primary sources).",
        ],
        "caveats": [
            "n_params includes untied input and output embeddings over a 128,256-token "
            "vocabulary: for the smallest model (d=512, 156.5M parameters) embeddings are "
            "84% of N. Exponents fitted to this N differ from non-embedding fits; "
            "params_no_embed is the alternative.",
            "The validation-optimal runs are not on the isoFLOP grid: 4 of them share "
            "(N, D) with a grid run (separate training runs, losses differ by under 0.003). "
            "Open-Athena leaves them out; include them for an (N, D) law, exclude them for "
            "isoFLOP parabolas.",
            "The isoFLOP grid is the same for the three datasets (identical shapes, batch "
            "sizes, steps and token counts), except that nemotron has one more, smallest "
            "budget (6e17 in the run names, 3 runs). Run names end in 'comma-mix', "
            "'dclm-default' and 'nemo-wider-depth-adapt'; what the last suffix changes is "
            "not documented in the export.",
            "Loss is Paloma's macro average over its evaluation sources, the same evaluation "
            "for all three datasets, so groups are comparable in loss; how close each "
            "training set is to Paloma differs.",
            "No paper documents these runs; setup details (tokenizer, schedule) come from the "
            "Marin project and Open-Athena's notes, not from a peer-reviewed source. Marin "
            "runs are final points only; no curves.",
            "Losses from this dataset are not comparable with other bundled datasets: "
            "tokenizer, evaluation data and parameter counting differ.",
        ],
        "raw_sha256": raw_sha256,
    }
