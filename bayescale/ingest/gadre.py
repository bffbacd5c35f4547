"""``gadre_overtrain``: the over-training testbed of Gadre et al. (2024), 104 open_lm models.

Raw files: ``gadre_overtrain/exp_data/models/*.json`` from ``mlfoundations/scaling``,
one per trained model, each with its hyperparameters and its final validation loss
on 8 evaluation sets. One row per model; the group is the training dataset. ``loss``
is the C4 validation loss (``c4_val``); the other evaluation sets become
``loss_<set>`` columns.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from bayescale.errors import InputError
from bayescale.ingest.card import raw_digests

NAME = "gadre_overtrain"
RAW_DIR = "gadre_overtrain/exp_data/models"
MAIN_EVAL = "c4_val"
EVAL_SETS = {
    "c4_val": "C4 validation split (84,999 sequences, 174M tokens)",
    "de_en": "the de-en set (val_de-en_100; 512 sequences, 1.0M tokens)",
    "openlm": "open_lm validation shard (120 sequences, 0.25M tokens; the noisiest set)",
    "paloma_c4_en": "Paloma C4 (English) (491 sequences, 1.0M tokens)",
    "paloma_dolma_100_programing_languages": "Paloma Dolma, 100 programming languages "
    "(4,900 sequences, 10M tokens)",
    "paloma_falcon_refinedweb": "Paloma Falcon RefinedWeb (492 sequences, 1.0M tokens)",
    "paloma_ptb": "Paloma Penn Treebank (44 sequences, 90k tokens)",
    "paloma_redpajama": "Paloma RedPajama (343 sequences, 0.70M tokens)",
}


def _eval_name(val_data: list[str]) -> str:
    """``[".../val_tok_mult/paloma_ptb/00000001.tar"]`` -> ``"paloma_ptb"`` (sanitised)."""
    folder = val_data[0].split("/")[-2]
    return re.sub(r"[^a-z0-9]+", "_", folder.lower()).strip("_")


def _record(model: dict, run: str) -> dict:
    """One tidy row from one model file."""
    hyper = model["hyperparameters"]
    losses = {_eval_name(result["val_data"]): result["loss"] for result in model["results"]}
    if sorted(losses) != sorted(EVAL_SETS) or len(model["results"]) != len(EVAL_SETS):
        raise InputError(
            f"model {run} has evaluation sets {sorted(losses)}; expected exactly "
            f"{sorted(EVAL_SETS)}. Update EVAL_SETS in {__name__} if the raw data changed."
        )
    n, d = hyper["params"], hyper["tokens"]
    return {
        "n_params": n,
        "n_tokens": d,
        "loss": losses[MAIN_EVAL],
        "group": model["dataset_name"],
        "run": run,
        "flops": 6.0 * n * d,
        "params_no_embed": hyper["params_no_embed"],
        "chinchilla_multiplier": hyper["chinchilla_multiplier"],
        **{f"loss_{name}": losses[name] for name in sorted(EVAL_SETS)},
    }


def build(raw: Path) -> tuple[pd.DataFrame, dict]:
    """Read the model files under ``raw`` and return the tidy table and its card."""
    paths = sorted((raw / RAW_DIR).glob("*.json"))
    if not paths:
        raise FileNotFoundError(f"no model files in {raw / RAW_DIR}; check --raw.")
    records = [_record(json.loads(path.read_text(encoding="utf-8")), path.stem) for path in paths]
    frame = pd.DataFrame.from_records(records)
    frame = frame.sort_values(["group", "n_params", "n_tokens"], kind="stable", ignore_index=True)
    digests = raw_digests(raw, [path.relative_to(raw).as_posix() for path in paths])
    return frame, _card(digests)


def _card(raw_sha256: dict[str, str]) -> dict:
    columns = {
        "n_params": "model size N in parameters (hyperparameters.params), including one "
        "50,432 x d_model embedding matrix",
        "n_tokens": "training tokens D (hyperparameters.tokens) = 20 x chinchilla_multiplier x "
        "n_params",
        "loss": "final validation loss on C4 (the c4_val set), nats per token "
        "(GPT-NeoX-20B tokenizer); equal to loss_c4_val",
        "group": "training dataset (dataset_name): c4_original (C4), rpj (RedPajama), "
        "rw_original (RefinedWeb)",
        "run": "model file stem, e.g. c4_original-d=1024_l=24_h=8-0.25 (dataset, shape, "
        "chinchilla_multiplier)",
        "flops": "training compute C = 6 n_params n_tokens, FLOPs",
        "params_no_embed": "non-embedding parameters (hyperparameters.params_no_embed)",
        "chinchilla_multiplier": "tokens per parameter divided by 20: 1 is Chinchilla-optimal "
        "(20 tokens per parameter), 32 is 32x over-trained",
    }
    for name, what in sorted(EVAL_SETS.items()):
        columns[f"loss_{name}"] = f"final validation loss on {what}, nats per token"
    return {
        "name": NAME,
        "title": "Over-training testbed (Gadre et al. 2024): 104 open_lm models on C4, "
        "RedPajama and RefinedWeb",
        "description": (
            "Final validation losses of 104 decoder-only transformers (open_lm) from 11M to "
            "6.9B parameters, trained on three datasets (C4, RedPajama, RefinedWeb) at token "
            "multipliers 0.25 to 32 times the Chinchilla-optimal 20 tokens per parameter. "
            "Groups are the training datasets; one point per model, no curves."
        ),
        "source": {
            "repository": "https://github.com/mlfoundations/scaling",
            "paths": ["exp_data/models/*.json"],
            "commit": "a003c4913793ac2ae7ef87b28ecb562955d026d5",
        },
        "citation": {
            "title": "Language models scale reliably with over-training and on downstream tasks",
            "authors": [
                "Samir Yitzhak Gadre",
                "Georgios Smyrnis",
                "Vaishaal Shankar",
                "Suchin Gururangan",
                "Mitchell Wortsman",
                "Rulin Shao",
                "Jean Mercat",
                "Alex Fang",
                "Jeffrey Li",
                "Sedrick Keh",
                "Rui Xin",
                "Marianna Nezhurina",
                "Igor Vasiljevic",
                "Jenia Jitsev",
                "Luca Soldaini",
                "Alexandros G. Dimakis",
                "Gabriel Ilharco",
                "Pang Wei Koh",
                "Shuran Song",
                "Thomas Kollar",
                "Yair Carmon",
                "Achal Dave",
                "Reinhard Heckel",
                "Niklas Muennighoff",
                "Ludwig Schmidt",
            ],
            "short": "Gadre et al.",
            "year": 2024,
            "venue": "ICLR 2025",
            "arxiv": "2403.08540",
        },
        "licence": "MIT",
        "licence_status": (
            "MIT (LICENSE.txt in the source repository, Copyright (c) 2024 mlfoundations): "
            "redistribution and modification are permitted provided the copyright notice and "
            "the MIT permission notice accompany the data."
        ),
        "curves": False,
        "columns": columns,
        "derived": [
            "loss = the c4_val loss. The paper's main scaling fits use it, and it is the same "
            "evaluation set for all three training datasets, so losses are comparable across "
            "groups; the other seven sets are kept as loss_<set> columns.",
            "flops = 6 n_params n_tokens, as the repository's loader (scaling/shared.py) "
            "computes it.",
            "loss_<set> names come from the evaluation folder in each result's val_data path, "
            "lower-cased with runs of other characters replaced by '_' (de-en -> de_en, "
            "paloma_falcon-refinedweb -> paloma_falcon_refinedweb).",
            "Rows are sorted by group, n_params, n_tokens. Fields not carried over: the 95% "
            "bounds of each loss, learning rate, warmup, batch size and the open_lm "
            "arguments.",
        ],
        "caveats": [
            "Groups differ in how well the training data matches the C4 evaluation set: "
            "C4-trained models are evaluated in distribution, RedPajama and RefinedWeb models "
            "are not, so group differences in loss mix data quality with train/eval match.",
            "The 1.4B and 6.9B runs (1.4B at 2 multipliers per dataset, 6.9B at multiplier 1) "
            "are the paper's extrapolation targets; its loss fits use the four smaller sizes.",
            "Not every (dataset, size, multiplier) cell exists: c4_original has no 411M run at "
            "multiplier 32 (34 models, against 35 for rpj and rw_original), and the 1.4B runs "
            "use multipliers {1, 4} (c4_original), {1, 32} (rpj) and {1, 16} (rw_original).",
            "The c4_val loss rises with more tokens in three (dataset, size) cells: "
            "c4_original 154M from multiplier 16 to 32, c4_original 411M from 4 to 8, and "
            "rw_original 154M from 8 to 16.",
            "12 models record a hyperparameters.seed and were created in January-February "
            "2024, weeks after the others (December 2023); they appear to be runs added or "
            "redone later. Two of the three non-monotone cells above involve them.",
            "The 6.9B model files record lr 3e-4 and global batch size 1, unlike the other "
            "runs; these fields look like placeholders and are not used here.",
            "The openlm (0.25M tokens) and paloma_ptb (90k tokens) evaluation sets are small, "
            "so their losses are noisier than c4_val (174M tokens).",
            "Losses from this dataset are not comparable with other bundled datasets: "
            "tokenizer, evaluation data and parameter counting differ.",
        ],
        "raw_sha256": raw_sha256,
    }
