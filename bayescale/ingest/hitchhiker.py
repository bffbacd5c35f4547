"""``hitchhiker_datablations``: the data-repetition curves of Muennighoff et al. (2023), as
collected in the Hitchhiker's Guide scaling-law collection of Choshen et al. (2025).

Raw file: ``colpret_hitchhiker/aggregated_eval/datablations_losses.csv`` from ``IBM/ColPret``
(9,261 rows, 48 runs: 2 datasets x 3 model sizes x 8 repetition levels). One row per
logged evaluation; the run is the TensorBoard id; the group is dataset x repetition level,
so each group holds the three model sizes trained on the same data budget.

Only this table of the collection is bundled; the card's ``derived`` notes say why each
other table was left out.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from bayescale.errors import InputError
from bayescale.ingest.card import raw_digests

NAME = "hitchhiker_datablations"
RAW_FILE = "colpret_hitchhiker/aggregated_eval/datablations_losses.csv"
SIZES = {"2.8B": 2_800_000_000, "4.2B": 4_200_000_000, "8.7B": 8_700_000_000}
TOTAL_TOKENS = {"2.8B": 55_000_000_000, "4.2B": 84_000_000_000, "8.7B": 178_000_000_000}
TENSORBOARD = re.compile(r"\{'tensorboard': '(\w+)'\}")
HF_REPO = re.compile(r"https://huggingface\.co/datablations/(lm1-[\w-]+)")


def _identical_runs(frame: pd.DataFrame) -> pd.Series:
    """True for rows of runs whose whole (n_tokens, loss) curve equals another run's."""
    curves = {
        run: tuple(map(tuple, rows[["n_tokens", "loss"]].to_numpy()))
        for run, rows in frame.groupby("run", sort=True)
    }
    seen: dict[tuple, list[str]] = {}
    for run, curve in curves.items():
        seen.setdefault(curve, []).append(run)
    copied = {run for runs in seen.values() if len(runs) > 1 for run in runs}
    return frame["run"].isin(copied)


def build(raw: Path) -> tuple[pd.DataFrame, dict]:
    """Read the datablations curves under ``raw`` and return the tidy table and its card."""
    table = pd.read_csv(raw / RAW_FILE)
    if not (table["index"].to_numpy() == np.arange(len(table))).all():
        raise InputError(f"the index column of {RAW_FILE} is not 0..n-1.")
    run = table["model_args"].str.fullmatch(TENSORBOARD.pattern)
    repo = table["checkpoint"].str.fullmatch(HF_REPO.pattern)
    if not (run.all() and repo.all() and table["num_params"].isin(list(SIZES)).all()):
        raise InputError(f"unexpected model_args, checkpoint or num_params in {RAW_FILE}.")
    total = table["num_params"].map(TOTAL_TOKENS)
    if not (table["tokens_per_epoch"] * table["epochs"] - total).abs().le(1e-6 * total).all():
        raise InputError("tokens_per_epoch x epochs is not the documented total per size.")
    n = table["num_params"].map(SIZES)
    d = table["token_num"]
    frame = pd.DataFrame(
        {
            "n_params": n,
            "n_tokens": d,
            "loss": table["loss"],
            "group": table["data"] + "/" + table["epochs"].astype(str) + "ep",
            "run": table["model_args"].str.extract(TENSORBOARD, expand=False),
            "flops": 6.0 * n * d,
            "data": table["data"],
            "size_label": table["num_params"],
            "epochs": table["epochs"],
            "unique_tokens": table["tokens_per_epoch"],
            "total_tokens": total,
            "hf_repo": table["checkpoint"].str.extract(HF_REPO, expand=False),
        }
    )
    if frame.groupby("run")[["group", "size_label"]].nunique().gt(1).any(axis=None):
        raise InputError("a TensorBoard id spans several settings.")
    frame["identical_curve"] = _identical_runs(frame)
    frame = frame.sort_values(
        ["data", "epochs", "n_params", "run", "n_tokens"], kind="stable", ignore_index=True
    )
    return frame, _card(raw_digests(raw, [RAW_FILE]))


def _card(raw_sha256: dict[str, str]) -> dict:
    return {
        "name": NAME,
        "title": "Data-constrained scaling (Muennighoff et al. 2023): loss curves under data "
        "repetition, from the Hitchhiker's Guide collection",
        "description": (
            "Loss curves of 48 GPT-2-style decoder-only models, 2.8B, 4.2B and 8.7B "
            "parameters, each trained on a fixed token budget (55B, 84B, 178B tokens) drawn "
            "from a unique-data pool repeated 1, 2, 3, 4, 5, 7, 14 or 44 times, on C4 or "
            "OSCAR. Curves are logged evaluations (every 0.1B, 1.0B and 2.1B tokens for the "
            "three sizes). Groups are "
            "dataset x repetition level ('c4/4ep'), each holding the three sizes."
        ),
        "source": {
            "repository": "https://github.com/IBM/ColPret",
            "paths": ["aggregated_eval/datablations_losses.csv"],
            "commit": "16f23bbe054277ddc4afd07a972dd7cfbe3f48c3",
        },
        "citation": {
            "title": "Scaling Data-Constrained Language Models",
            "authors": [
                "Niklas Muennighoff",
                "Alexander M. Rush",
                "Boaz Barak",
                "Teven Le Scao",
                "Aleksandra Piktus",
                "Nouamane Tazi",
                "Sampo Pyysalo",
                "Thomas Wolf",
                "Colin Raffel",
            ],
            "short": "Muennighoff et al.",
            "year": 2023,
            "venue": "NeurIPS 2023",
            "arxiv": "2305.16264",
            "extraction": {
                "title": "A Hitchhiker's Guide to Scaling Law Estimation",
                "authors": ["Leshem Choshen", "Yang Zhang", "Jacob Andreas"],
                "short": "Choshen et al.",
                "year": 2025,
                "venue": "ICML 2025",
                "arxiv": "2410.11840",
            },
        },
        "licence": "MIT (compilation); Apache-2.0 (underlying datablations results)",
        "licence_status": (
            "The ColPret repository is MIT-licensed (Copyright (c) 2024 IBM) for the "
            "compilation; the runs and models come from huggingface/datablations, released "
            "under Apache-2.0. Both permit redistribution with attribution and the licence "
            "notices."
        ),
        "curves": True,
        "columns": {
            "n_params": "model size N in parameters, from the nominal label (2.8B -> 2.8e9, "
            "4.2B -> 4.2e9, 8.7B -> 8.7e9); see caveats",
            "n_tokens": "training tokens D seen at the evaluation (token_num, logged)",
            "loss": "the run's logged evaluation loss (loss), nats per token (GPT-2 "
            "tokenizer); most likely validation loss on held-out data of the training "
            "corpus, see caveats",
            "group": "'<data>/<epochs>ep': training dataset and number of repetitions of the "
            "unique data, e.g. 'oscar/14ep'",
            "run": "TensorBoard run id from model_args, one per trained model",
            "flops": "training compute 6 n_params n_tokens, FLOPs (recomputed; the source's "
            "flops column is wrong)",
            "data": "training corpus: c4 (C4) or oscar (OSCAR)",
            "size_label": "nominal model size as given by the source (num_params)",
            "epochs": "times the unique data is repeated over the full token budget",
            "unique_tokens": "unique tokens in the repeated pool (tokens_per_epoch) = "
            "total_tokens / epochs",
            "total_tokens": "the run's full token budget: 55e9 (2.8B), 84e9 (4.2B), 178e9 (8.7B)",
            "hf_repo": "Hugging Face repository of the run's checkpoints, under "
            "https://huggingface.co/datablations/",
            "identical_curve": "True for the two runs whose curves are identical value for "
            "value (see caveats)",
        },
        "derived": [
            "n_params = the nominal size label mapped to 2.8e9, 4.2e9 and 8.7e9, as the "
            "collection's loader (util/read_data.py, to_int) does.",
            "flops = 6 n_params n_tokens. The raw flops column is not carried over: it "
            "decreases as tokens grow within a run, so it is not training compute.",
            "run = the TensorBoard id parsed from model_args; hf_repo = the repository name "
            "parsed from the checkpoint URL (one repository per dataset and size, shared by "
            "its 8 repetition runs). The raw index column is dropped.",
            "total_tokens is checked to equal tokens_per_epoch x epochs on every row.",
            "No step column: the source logs tokens, not steps, and the batch size is not "
            "in the data.",
            "Only this table of the Hitchhiker's Guide collection is bundled. Not bundled: "
            "datablations_contour_losses.csv (229 final losses; model names, parameter "
            "counts and token counts disagree in places, e.g. '25m...' names on 35.5M-"
            "parameter rows, and its tokens_per_epoch and epochs columns are wrong), "
            "olmo.csv (3 models; D = step x 4M is an assumption and N is nominal), "
            "opt_trajectories.csv and raw_data/gpt3/extracted.csv (digitised from figures; "
            "OPT gives perplexity at log10 token counts, GPT-3 mostly training loss), "
            "revisiting_lang.csv (x axis is examples, not tokens, so D cannot be recovered) "
            "and raw_data/gzip/results_new.jsonl (synthetic PCFG data, not natural language, "
            "with 2 validation points per run).",
            "Rows are sorted by data, epochs, n_params, run, then n_tokens.",
        ],
        "caveats": [
            "The OSCAR 2.8B curves at 3 and 4 epochs (runs wVxrmLoHRZaRRYer6Z1fQQ and "
            "gzBUNp8eQc2UEOmWVerBxQ) are identical value for value (326 points each) despite "
            "different TensorBoard ids, most likely a copy error in the source; which one is "
            "genuine is unknown. Both are flagged identical_curve; exclude both, or one, "
            "before fitting.",
            "n_params is nominal (two significant figures). The collection's contour table "
            "gives 2.81e9, 4.2465e9 and 8.67e9 for what appear to be the same three "
            "architectures, so the nominal values may be off by up to about 1%.",
            "The loss is the run's logged evaluation loss; the source does not name the "
            "split. It rises late in training for the 44-epoch runs (e.g. c4 2.8B: minimum "
            "3.05, final 3.43), which training loss on repeated data would not do, so it is "
            "almost certainly validation loss on held-out data from the training corpus. "
            "C4 and OSCAR losses are therefore measured on different data.",
            "Repetition changes what D means: beyond about 4 epochs, repeated tokens are "
            "worth less than fresh ones, so a law in (N, D) alone will not fit the high-"
            "epoch groups; epochs and unique_tokens are there for data-constrained laws.",
            "Only three model sizes, so the N-dependence within a group rests on three "
            "points. The evaluation interval differs by size (about 0.1B, 1.0B and 2.1B "
            "tokens), so runs have 60 to 525 points, and the 2.8B runs dominate the row count "
            "(6,782 of 9,261 rows).",
            "Points of one run are correlated (one training run, one learning-rate "
            "schedule); intermediate points are mid-schedule.",
            "Losses from this dataset are not comparable with other bundled datasets: "
            "tokenizer, evaluation data and parameter counting differ.",
        ],
        "raw_sha256": raw_sha256,
    }
