"""``porian_rsld``: isoFLOP points of Porian et al. (2024), "Resolving discrepancies in
compute-optimal scaling of language models", 15 experimental configurations x 12 FLOP budgets.

Raw file: ``porian_rsld/isoflop_points_from_summary_pickles.csv`` (1,745 rows). It is a
CONVERTED file: the raw folder's curator re-encoded the ``data`` frames of the four summary
pickles of ``formll/resolving-scaling-law-discrepancies`` as CSV (``orig_n``, ``orig_t``,
``orig_loss`` per configuration and budget). One row per (configuration, budget, model
size); the group is the configuration.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bayescale.errors import InputError
from bayescale.ingest.card import raw_digests

NAME = "porian_rsld"
RAW_FILE = "porian_rsld/isoflop_points_from_summary_pickles.csv"
CONFIG = ["dataset", "hparams", "warmup", "decay", "param_count", "loss_split"]


def _group(table: pd.DataFrame) -> pd.Series:
    """'rw/hparams=base/warmup=long/decay=kaplan/N=standard/loss=val'."""
    return (
        table["dataset"]
        + "/hparams="
        + table["hparams"]
        + "/warmup="
        + table["warmup"]
        + "/decay="
        + table["decay"]
        + "/N="
        + table["param_count"]
        + "/loss="
        + table["loss_split"]
    )


def build(raw: Path) -> tuple[pd.DataFrame, dict]:
    """Read the converted isoFLOP table under ``raw`` and return the tidy table and its card."""
    table = pd.read_csv(raw / RAW_FILE)
    if (table["N"] % 1 != 0).any():
        raise InputError(f"N in {RAW_FILE} has non-integer values.")
    ratio = table["D_tokens"] * 6.0 * table["N"] / table["flops_budget"]
    if not ratio.sub(1.0).abs().le(1e-12).all():
        raise InputError(f"D_tokens != flops_budget / (6 N) in {RAW_FILE}.")
    if table.groupby(CONFIG)["source_file"].nunique().gt(1).any():
        raise InputError("a configuration spans several source pickles.")
    frame = pd.DataFrame(
        {
            "n_params": table["N"].astype("int64"),
            "n_tokens": table["D_tokens"],
            "loss": table["loss"],
            "group": _group(table),
            "flops": table["flops_budget"],
            **{column: table[column] for column in CONFIG},
            "source_file": table["source_file"].str.removeprefix("data/"),
        }
    )
    frame = frame.sort_values(["group", "flops", "n_params"], kind="stable", ignore_index=True)
    return frame, _card(raw_digests(raw, [RAW_FILE]))


def _card(raw_sha256: dict[str, str]) -> dict:
    return {
        "name": NAME,
        "title": "Resolving discrepancies in compute-optimal scaling (Porian et al. 2024): "
        "isoFLOP points of 15 configurations",
        "description": (
            "IsoFLOP points of decoder-only transformers (open_lm; 0.3M to 0.99B parameters "
            "depending on how they are counted) "
            "trained on RefinedWeb or OpenWebText2 at 12 FLOP budgets from 1.25e16 to "
            "2.56e19 (doubling), under 15 configurations that switch one discrepancy between "
            "the Kaplan and Chinchilla studies at a time: parameter counting (with or without "
            "embeddings, or with attention FLOPs), warmup length, learning-rate decay, tuned "
            "hyperparameters and training vs validation loss. Each point is the loss of a "
            "model of size N at the checkpoint where it reached the budget. Groups are the "
            "configurations. CONVERTED from the authors' pickles; final points only."
        ),
        "source": {
            "repository": "https://github.com/formll/resolving-scaling-law-discrepancies",
            "paths": [
                "data/summary_df.pickle.xz",
                "data/summary_df_att.pickle.xz",
                "data/summary_df_kaplan_tuned_hparams.pickle.xz",
                "data/summary_df_owt2.pickle.xz",
            ],
            "commit": "0dc60d91b8a525858a3067fc9e4a46ff5374cc6f",
            "conversion": (
                "CONVERTED: the pickles were read with a restricted unpickler (pandas, numpy "
                "and safe builtins only); for each configuration and budget the 'data' frame's "
                "orig_n, orig_t and orig_loss arrays became rows of "
                "isoflop_points_from_summary_pickles.csv (N, D_tokens, loss). See SOURCES.md, "
                "section 8, of the raw data folder."
            ),
        },
        "citation": {
            "title": "Resolving Discrepancies in Compute-Optimal Scaling of Language Models",
            "authors": [
                "Tomer Porian",
                "Mitchell Wortsman",
                "Jenia Jitsev",
                "Ludwig Schmidt",
                "Yair Carmon",
            ],
            "short": "Porian et al.",
            "year": 2024,
            "venue": "NeurIPS 2024",
            "arxiv": "2406.19146",
        },
        "licence": "MIT",
        "licence_status": (
            "MIT (LICENSE in the source repository; its copyright line reads 'Scott Chacon "
            "and others', apparently left from a template). Redistribution and modification "
            "are permitted provided the MIT notice accompanies the data."
        ),
        "curves": False,
        "columns": {
            "n_params": "model size N under the group's parameter counting (param_count): "
            "'standard' includes embeddings, 'kaplan' excludes them, 'attention' "
            "is an effective count that adds attention FLOPs",
            "n_tokens": "training tokens D = flops / (6 n_params), as stored by the authors "
            "(orig_t); exact under the group's own FLOP accounting",
            "loss": "loss at the budget (orig_loss), nats per token (GPT-NeoX-20B tokenizer): "
            "validation loss for loss=val groups, smoothed training loss for "
            "loss=train groups; the minimum over the runs (e.g. seeds) of that size",
            "group": "configuration, '<dataset>/hparams=<hparams>/warmup=<warmup>/"
            "decay=<decay>/N=<param_count>/loss=<loss_split>'",
            "flops": "the FLOP budget C (flops_budget) under the group's accounting, "
            "C = 6 n_params n_tokens",
            "dataset": "training data: rw (RefinedWeb) or owt2 (OpenWebText2)",
            "hparams": "base (the paper's default hyperparameters) or tuned (tuned learning "
            "rate and batch size per size)",
            "warmup": "long (Kaplan-style warmup) or short (warmup scaled to model size)",
            "decay": "learning-rate schedule: kaplan (cosine to a fixed long horizon), "
            "chinchilla (cosine matched to each budget) or const (constant)",
            "param_count": "standard, kaplan or attention (see n_params)",
            "loss_split": "val or train (see loss)",
            "source_file": "summary pickle the configuration was converted from",
        },
        "derived": [
            "The raw file is itself derived: CONVERTED from the authors' summary pickles "
            "(see source.conversion); the raw per-run curves (experiment_results.pickle.xz) "
            "were not available.",
            "n_params = N (integral, stored as integers), n_tokens = D_tokens, loss = loss, "
            "flops = flops_budget; the build checks D_tokens = flops_budget / (6 N) on every "
            "row (to 1e-12).",
            "group joins the six configuration columns, which are also kept as columns; the "
            "source pickle is kept as source_file without its 'data/' prefix.",
            "No run column: each point is already the minimum over the runs of one size at "
            "one budget, and the same training runs feed several configurations.",
            "Rows are sorted by group, flops, then n_params.",
        ],
        "caveats": [
            "Groups are NOT independent experiments: several configurations appear to re-use "
            "the same training runs under another accounting (e.g. 'N=kaplan/loss=train' and "
            "'N=standard/loss=val' of rw/base/long/kaplan) or another loss split, so the "
            "same model appears in several groups with a different N, D or loss. Pick the "
            "groups that answer one question rather than pooling all 15.",
            "N and therefore D and C differ in meaning between groups (param_count): a "
            "Kaplan-counted N excludes embeddings, so its FLOP budget omits embedding "
            "compute. Laws fitted to different param_count groups are not comparable "
            "without converting N.",
            "n_tokens is derived from the budget, not the logged token count: a point is "
            "the checkpoint where the run reached the budget within about 10%.",
            "The loss is the minimum over runs of the same size (e.g. seeds) at that "
            "budget, which biases it slightly downwards relative to a single run.",
            "The grid extends far from the compute-optimal size: 117 points have loss above "
            "7 nats, 103 of them with under 1 token per parameter (large models at small "
            "budgets), the rest at the smallest budget under the long warmup. The authors "
            "fit their isoFLOP parabolas near each budget's minimum only.",
            "Three configurations (the N=kaplan/loss=train ones) have 11 budgets instead of "
            "12: the largest, 2.56e19, is missing.",
            "Losses from this dataset are not comparable with other bundled datasets: "
            "tokenizer, evaluation data and parameter counting differ.",
        ],
        "raw_sha256": raw_sha256,
    }
