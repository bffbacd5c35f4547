"""``gemstones``: the Gemstones model suite of McLeish et al. (2025), 22 width x depth
shapes with constant-learning-rate checkpoints up to 350B tokens.

Raw file: ``gemstones/wandb_dfs/wandb_df_for_fitting_hot_100b+_477.jsonl`` from
``mcleish7/gemstone-scaling-laws`` (3,850 rows: 22 runs x 175 checkpoints, one every 477
steps, about 2B tokens). One row per checkpoint; the group is the shape (``1024x28``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from bayescale.errors import InputError
from bayescale.ingest.card import raw_digests

NAME = "gemstones"
RAW_FILE = "gemstones/wandb_dfs/wandb_df_for_fitting_hot_100b+_477.jsonl"
VOCAB = 50_304
TOKENS_PER_STEP = 2048 * 2048
RUN_NAME = re.compile(r"PyGemma-(\d+)x(\d+)_pretrain")


def build(raw: Path) -> tuple[pd.DataFrame, dict]:
    """Read the main checkpoint table under ``raw`` and return the tidy table and its card."""
    lines = (raw / RAW_FILE).read_text(encoding="utf-8").splitlines()
    # json.loads parses floats exactly; pandas' JSON reader may be off in the last digit
    table = pd.DataFrame.from_records([json.loads(line) for line in lines if line.strip()])
    shapes = table["run_name"].str.fullmatch(RUN_NAME.pattern)
    if not shapes.all():
        raise InputError(f"unexpected run names {sorted(table.loc[~shapes, 'run_name'])}.")
    parsed = table["run_name"].str.extract(RUN_NAME).astype("int64")
    if not (parsed[0].eq(table["width"]) & parsed[1].eq(table["depth"])).all():
        raise InputError("a run name disagrees with its width and depth columns.")
    if not table["tokens"].eq(table["step"] * TOKENS_PER_STEP).all():
        raise InputError(f"tokens != step x {TOKENS_PER_STEP} in {RAW_FILE}.")
    frame = pd.DataFrame(
        {
            "n_params": table["params_active_precise"],
            "n_tokens": table["tokens"],
            "loss": table["final_loss"],
            "group": table["width"].astype(str) + "x" + table["depth"].astype(str),
            "run": table["run_name"],
            "step": table["step"],
            "width": table["width"],
            "depth": table["depth"],
            "params_no_embed": table["params_active_precise"] - 2 * VOCAB * table["width"],
            "num_nodes": table["num_nodes"],
            "seconds_per_step": table["seconds_per_step"],
        }
    )
    frame = frame.sort_values(["width", "depth", "step"], kind="stable", ignore_index=True)
    return frame, _card(raw_digests(raw, [RAW_FILE]))


def _card(raw_sha256: dict[str, str]) -> dict:
    return {
        "name": NAME,
        "title": "Gemstones (McLeish et al. 2025): 22 width x depth shapes, constant-LR "
        "checkpoints to 350B tokens",
        "description": (
            "Validation-loss curves of 22 decoder-only transformers (Gemma-style) with widths "
            "256 to 3072 and depths 3 to 80, 48M to 2.0B parameters, all trained on Dolma for "
            "350B tokens and checkpointed every 477 steps (about 2B tokens), 175 checkpoints "
            "per model. This is the authors' main fitting table ('hot', i.e. taken at constant "
            "learning rate before any cooldown). Groups are the shapes; one run per group."
        ),
        "source": {
            "repository": "https://github.com/mcleish7/gemstone-scaling-laws",
            "paths": ["wandb_dfs/wandb_df_for_fitting_hot_100b+_477.jsonl"],
            "commit": "5f420478f6057b0cbb4d13405fb10ca64675bccb",
        },
        "citation": {
            "title": "Gemstones: A Model Suite for Multi-Faceted Scaling Laws",
            "authors": [
                "Sean McLeish",
                "John Kirchenbauer",
                "David Yu Miller",
                "Siddharth Singh",
                "Abhinav Bhatele",
                "Micah Goldblum",
                "Ashwinee Panda",
                "Tom Goldstein",
            ],
            "short": "McLeish et al.",
            "year": 2025,
            "venue": "NeurIPS 2025",
            "arxiv": "2502.06857",
        },
        "licence": "MIT",
        "licence_status": (
            "MIT (LICENSE in the source repository, Copyright (c) 2025 the authors): "
            "redistribution and modification are permitted provided the copyright notice and "
            "the MIT permission notice accompany the data."
        ),
        "curves": True,
        "columns": {
            "n_params": "total parameters N (params_active_precise), INCLUDING the untied input "
            "embedding and the LM head (2 x 50,304 x width); see params_no_embed",
            "n_tokens": "training tokens D at the checkpoint (tokens = step x 2,048 sequences "
            "x 2,048 tokens, as recorded by the authors)",
            "loss": "validation loss at the checkpoint (W&B val_loss, exported as final_loss) "
            "on held-out Dolma, the training corpus, nats per token",
            "group": "model shape '<width>x<depth>', e.g. '1024x28'",
            "run": "W&B run name, e.g. 'PyGemma-1024x28_pretrain' (the two-hour W&B chunks "
            "stitched into one run by the authors)",
            "step": "optimizer step of the checkpoint (a multiple of 477)",
            "width": "model width (hidden size)",
            "depth": "number of transformer layers",
            "params_no_embed": "non-embedding parameters, n_params - 2 x 50,304 x width "
            "(input embedding and LM head both removed)",
            "num_nodes": "Frontier nodes (4 AMD MI250X, 8 GCDs, each) used for training",
            "seconds_per_step": "mean wall-clock seconds per optimizer step for the run",
        },
        "derived": [
            "n_params = params_active_precise, n_tokens = tokens, loss = final_loss, as the "
            "authors' fitting code (depth_width.py) uses them; the build checks that tokens "
            "= step x 4,194,304 on every row and that each run name matches its width and "
            "depth.",
            "params_no_embed = params_active_precise - 2 x 50,304 x width. The embedding and "
            "LM head are untied, so both are removed; the authors' own 'no_embeds' option "
            "subtracts only one 50,304 x width matrix.",
            "flops: not provided by the source and not derived here (6 n_params n_tokens is "
            "the usual approximation).",
            "Rows are sorted by width, depth, then step. The group is the shape, taken from "
            "the width and depth columns.",
        ],
        "caveats": [
            "'Hot' checkpoints are taken at constant learning rate before any cooldown, so "
            "their loss is higher than that of an annealed run of the same length: every "
            "point is mid-schedule, and points of one run are correlated. The annealed "
            "(cool_begin / cool_end) and half-learning-rate (lr_ablation, 'cooler_' runs) "
            "tables of the same repository are not included.",
            "n_params includes both embedding matrices (2 x 50,304 x width, up to 53% of the "
            "256-wide models), which shifts fitted exponents relative to non-embedding "
            "counts; params_no_embed gives the alternative.",
            "Some runs had training problems that the authors handled outside this table: "
            "the 1792x7 model was rerun at a lower learning rate, and 2560x8 and 3072x12 had "
            "problems after about 100B tokens (the authors also publish fits restricted to "
            "at most 100B or at least 120B tokens). Their curves here are as exported.",
            "Three runs repeat one loss value exactly at two non-adjacent checkpoints "
            "(512x12 at steps 60,579 and 67,257; 512x14 at 76,797 and 79,182; 768x3 at "
            "57,717 and 63,441). The cause is not documented; it may come from how the "
            "authors matched logged validation losses to checkpoints.",
            "The raw per-step W&B exports were not available; this table is the authors' "
            "processed export, sampled every 477 steps.",
            "Losses from this dataset are not comparable with other bundled datasets: "
            "tokenizer, evaluation data and parameter counting differ.",
            "No schedule column: the raw exports record no learning rate, warmup or decay "
            "shape (the cool_begin / cool_end tables give only the step where each cooldown "
            "branch starts and the step where it ends, 1.1 x later), and the rates differ "
            "between runs (1792x7 was rerun at a lower rate; the lr_ablation runs use half "
            "the rate), so no run's schedule can be rebuilt without inventing its peak rate.",
        ],
        "raw_sha256": raw_sha256,
    }
