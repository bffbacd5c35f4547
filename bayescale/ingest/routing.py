"""``routing_clark2022``: dense and routed (mixture-of-experts) transformers of Clark et al.
(2022), with evaluation curves every 10,000 steps.

Raw file: ``routing_clark2022/curves.csv.gz`` from ``google-deepmind/scaling_laws_for_routing``
(5,799 rows, 223 runs ``hyper_id``, evaluations at steps 0 to 250,000). One row per
(run, evaluation round). ``loss`` is ``loss_validation``; the other evaluation sets are kept
as ``loss_<set>`` columns.

Tokens are not in the data: ``n_tokens = step * 524,288`` (256 sequences of 2,048 tokens
per step). The batch size is checked against the raw ``flops_per_step`` column in
:func:`tokens_per_step_from_flops`, and the build fails if the two disagree by more than 1%.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from bayescale.errors import InputError
from bayescale.ingest.card import raw_digests

NAME = "routing_clark2022"
RAW_FILE = "routing_clark2022/curves.csv.gz"
TOKENS_PER_STEP = 256 * 2048
VOCAB = 32_000  # Gopher's SentencePiece vocabulary (inferred, not stated in the data)
EVAL_SETS = {
    "c4": "C4",
    "curation_corpus": "Curation Corpus",
    "lambada": "LAMBADA",
    "pile": "The Pile",
    "wikitext103": "WikiText-103",
}
RUN_COLUMNS = [
    "router_type",
    "num_experts",
    "model_size_label",
    "k",
    "routing_frequency",
    "flop_increase",
    "seed",
    "d_model",
    "num_blocks",
    "num_heads",
    "kqv_size",
    "total_parameter_count",
    "flops_per_step",
]


def _group(row, size: bool = True) -> str:
    """``S-Base/E64/370M``, with ``/k=2`` or ``/rf=1in4`` when k or the routing frequency
    differ from the main grid (k = 1, every other block routed); without the size
    (``S-Base/E64``) for the architecture."""
    label = f"{row.router_type}/E{row.num_experts}"
    if size:
        label += f"/{row.model_size_label}"
    if row.k != 1:
        label += f"/k={row.k}"
    if not np.isclose(row.routing_frequency, 0.5):
        every = Fraction(row.routing_frequency).limit_denominator(64)
        label += f"/rf={every.numerator}in{every.denominator}"
    return label


def non_embedding_count(dense: pd.DataFrame) -> pd.Series:
    """``L * (5 d (h k) + 8 d^2 + 4 d)``: attention Q, K, V, O plus one more d x (h k)
    matrix, a 4d feed-forward layer and two layer norms per block, no embedding term."""
    hk = dense["num_heads"] * dense["kqv_size"]
    d = dense["d_model"]
    return dense["num_blocks"] * (5 * d * hk + 8 * d * d + 4 * d)


def tokens_per_step_from_flops(runs: pd.DataFrame) -> dict[str, float]:
    """Tokens per step implied by ``flops_per_step`` of the dense k = 1 base models.

    Least squares of ``flops_per_step`` on ``N``, ``L * h * k`` and ``d``: a forward pass
    costs ``2 N`` per token plus attention (proportional to L h k) plus the output layer
    (proportional to d), so the coefficient of ``N`` is ``2 x tokens per step``. Returns
    that figure (``forward``), the one a ``6 N`` (training) reading would give
    (``training``), the implied output-layer width (``vocab``) and the largest relative
    residual of the fit (``residual``).
    """
    dense = runs[(runs["router_type"] == "Dense") & (runs["k"] == 1)]
    dense = dense.drop_duplicates("dense_parameter_count")
    design = np.column_stack(
        [
            dense["dense_parameter_count"],
            dense["num_blocks"] * dense["num_heads"] * dense["kqv_size"],
            dense["d_model"],
        ]
    ).astype(float)
    observed = dense["flops_per_step"].to_numpy(float)
    coef, *_ = np.linalg.lstsq(design, observed, rcond=None)
    return {
        "forward": float(coef[0] / 2.0),
        "training": float(coef[0] / 6.0),
        "vocab": float(coef[2] / coef[0]),
        "residual": float(np.max(np.abs(design @ coef / observed - 1.0))),
    }


def build(raw: Path) -> tuple[pd.DataFrame, dict]:
    """Read the raw curves under ``raw`` and return the tidy table and its card."""
    table = pd.read_csv(raw / RAW_FILE)
    if (
        table.groupby("hyper_id")[RUN_COLUMNS + ["dense_parameter_count"]]
        .nunique()
        .gt(1)
        .any(axis=None)
    ):
        raise InputError(f"a run's hyperparameters change between rows of {RAW_FILE}.")
    runs = table.groupby("hyper_id").first()

    dense = runs[runs["router_type"] == "Dense"]
    mismatch = non_embedding_count(dense) != dense["dense_parameter_count"]
    if mismatch.any():
        raise InputError(
            f"dense_parameter_count of dense runs {list(dense.index[mismatch])} no longer "
            "matches the non-embedding formula documented in the card; re-check the card."
        )
    check = tokens_per_step_from_flops(runs)
    if abs(check["forward"] / TOKENS_PER_STEP - 1) > 0.01:
        raise InputError(
            f"flops_per_step implies {check['forward']:.4g} tokens per step, not "
            f"{TOKENS_PER_STEP}: the batch size assumed for n_tokens is wrong."
        )

    for column in ("dense_parameter_count", "total_parameter_count"):
        if (table[column] % 1 != 0).any():
            raise InputError(f"{column} in {RAW_FILE} has non-integer values.")
        table[column] = table[column].astype("int64")
    at_init = table["step"] == 0
    no_loss = ~at_init & table["loss_validation"].isna()
    kept = table[~at_init & ~no_loss]
    frame = pd.DataFrame(
        {
            "n_params": kept["dense_parameter_count"],
            "n_tokens": kept["step"] * TOKENS_PER_STEP,
            "loss": kept["loss_validation"],
            "group": [_group(row) for row in kept.itertuples()],
            "run": kept["hyper_id"],
            "step": kept["step"],
            "architecture": [_group(row, size=False) for row in kept.itertuples()],
            **{column: kept[column] for column in RUN_COLUMNS},
            "main_grid": (kept["k"] == 1) & np.isclose(kept["routing_frequency"], 0.5),
            **{f"loss_{name}": kept[f"loss_{name}"] for name in EVAL_SETS},
        }
    )
    frame = frame.sort_values(["run", "step"], kind="stable", ignore_index=True)
    facts = {
        "init_rows": int(at_init.sum()),
        "init_loss": (
            table.loc[at_init, "loss_validation"].min(),
            table.loc[at_init, "loss_validation"].max(),
        ),
        "no_loss_rows": int(no_loss.sum()),
        "no_loss_runs": sorted(int(run) for run in table.loc[no_loss, "hyper_id"].unique()),
        "no_loss_steps": sorted(int(step) for step in table.loc[no_loss, "step"].unique()),
        "check": check,
        "gaps": {name: int(frame[f"loss_{name}"].isna().sum()) for name in EVAL_SETS},
    }
    return frame, _card(raw_digests(raw, [RAW_FILE]), facts)


def _card(raw_sha256: dict[str, str], facts: dict) -> dict:
    check = facts["check"]
    columns = {
        "n_params": "dense parameter count N (dense_parameter_count): parameters a single "
        "token passes through, the paper's N; the same for a routed model and its "
        "dense base. Excludes embeddings (see caveats)",
        "n_tokens": "training tokens D seen at the evaluation, step x 524,288 (256 sequences "
        "of 2,048 tokens per step; derived, see 'derived')",
        "loss": "validation loss (loss_validation): held-out split of the training corpus "
        "(MassiveText, as in Gopher), nats per token",
        "group": "router type / number of experts / model size, e.g. 'S-Base/E64/370M'; "
        "ablations of the main grid add '/k=<k>' (experts per token, or widened "
        "feed-forward for Dense) and '/rf=1in<n>' (one routed block in n)",
        "architecture": "the group without the model size, e.g. 'S-Base/E64' or "
        "'S-Base/E64/k=2': one architecture across base sizes, the unit of "
        "a scaling law in N (load_dataset(..., group='architecture'))",
        "run": "hyper_id: one hyperparameter setting, i.e. one training run",
        "step": "optimizer steps completed before the evaluation round",
        "router_type": "Dense, Hash (hash layers), S-Base (Sinkhorn-BASE) or RL-R "
        "(reinforcement-learned routing)",
        "num_experts": "experts per routed layer, E (1 for Dense)",
        "model_size_label": "nominal size of the dense base model: 15M, 25M, 55M, 130M, "
        "370M or 1.3B",
        "k": "experts used per token (for Dense: equal to flop_increase)",
        "routing_frequency": "fraction of blocks that are routed (0.5: every other block)",
        "flop_increase": "Dense only: factor by which the feed-forward layer is widened to "
        "match the FLOPs of k > 1 routing; 1 otherwise",
        "seed": "initialisation seed (42 for all runs but the three 130M dense replicates, "
        "seeds 1-3)",
        "d_model": "model width",
        "num_blocks": "transformer blocks",
        "num_heads": "attention heads",
        "kqv_size": "key/query/value size per head",
        "total_parameter_count": "all parameters including every expert (the paper's P)",
        "flops_per_step": "the authors' estimate of the FLOPs of one forward pass over a "
        "training batch; NOT training compute (see 'derived')",
        "main_grid": "True for k = 1 and routing frequency 0.5, the setting of the paper's "
        "main scaling fits (the repository's example notebook also keeps seed "
        "42 only)",
    }
    for name, what in EVAL_SETS.items():
        columns[f"loss_{name}"] = (
            f"loss on {what}, nats per token (empty where the evaluation round lacks it)"
        )
    gaps = ", ".join(f"loss_{name} {count}" for name, count in facts["gaps"].items())
    return {
        "name": NAME,
        "title": "Unified scaling laws for routed language models (Clark et al. 2022): "
        "dense and mixture-of-experts training curves",
        "description": (
            "Validation-loss curves of 223 decoder-only transformers trained for 250,000 "
            "steps (about 131B tokens): dense models of 6 sizes (15M to 1.3B non-embedding "
            "parameters) and routed versions with 2 to 512 experts trained with three "
            "routing techniques (Hash, S-Base, RL-R), plus ablations of experts per token "
            "and routing frequency. Evaluated every 10,000 steps. Groups are router type x "
            "experts x base size (x ablation); one run per group except for replicates."
        ),
        "source": {
            "repository": "https://github.com/google-deepmind/scaling_laws_for_routing",
            "paths": ["data/curves.csv.gz"],
            "commit": "42da0c392b127df2c01fa7b705f72396050d05e5",
        },
        "citation": {
            "title": "Unified Scaling Laws for Routed Language Models",
            "authors": [
                "Aidan Clark",
                "Diego de las Casas",
                "Aurelia Guy",
                "Arthur Mensch",
                "Michela Paganini",
                "Jordan Hoffmann",
                "Bogdan Damoc",
                "Blake Hechtman",
                "Trevor Cai",
                "Sebastian Borgeaud",
                "George van den Driessche",
                "Eliza Rutherford",
                "Tom Hennigan",
                "Matthew Johnson",
                "Katie Millican",
                "Albin Cassirer",
                "Chris Jones",
                "Elena Buchatskaya",
                "David Budden",
                "Laurent Sifre",
                "Simon Osindero",
                "Oriol Vinyals",
                "Jack Rae",
                "Erich Elsen",
                "Koray Kavukcuoglu",
                "Karen Simonyan",
            ],
            "short": "Clark et al.",
            "year": 2022,
            "venue": "ICML 2022",
            "arxiv": "2202.01169",
        },
        "licence": "CC-BY-4.0",
        "licence_status": (
            "The repository README licenses all materials other than software under Creative "
            "Commons Attribution 4.0 International (software: Apache-2.0), Copyright 2022 "
            "DeepMind Technologies Limited. Redistribution and adaptation are permitted with "
            "attribution; the values here are reshaped (rows dropped, columns renamed and "
            "derived), as listed under 'derived'."
        ),
        "curves": True,
        "columns": columns,
        "derived": [
            f"Dropped the {facts['init_rows']} step-0 rows, one per run: they are evaluations "
            f"at initialisation (loss_validation {facts['init_loss'][0]:.2f} to "
            f"{facts['init_loss'][1]:.2f} nats), not a measured point of the law, and have "
            "zero tokens.",
            f"Dropped {facts['no_loss_rows']} rows at step(s) {facts['no_loss_steps']} that "
            f"have no loss_validation (runs {facts['no_loss_runs']}): extra evaluation "
            "rounds that logged only some evaluation sets; each of these runs has a later "
            "round with loss_validation.",
            "n_tokens = step x 524,288, i.e. 256 sequences of 2,048 tokens per step. The data "
            "has no token count. The figure is the paper's setting as reported in the raw "
            "data's documentation (about 130B tokens over 250k steps) and is checked against "
            "flops_per_step: for the 6 dense base models a least-squares fit of "
            "flops_per_step = a N + b (L h k) + c d reproduces every value within "
            f"{100 * check['residual']:.2f}%, with a / 2 = {check['forward']:,.0f} tokens per "
            f"step ({100 * (check['forward'] / TOKENS_PER_STEP - 1):+.2f}% from 524,288) and "
            f"c / a = {check['vocab']:,.0f}, the output-layer size expected for a "
            f"{VOCAB:,}-token vocabulary. Reading flops_per_step as training compute "
            f"(6 N per token) instead would imply {check['training']:,.0f} tokens per step, "
            "not a whole number of 2,048-token sequences, and contradicts the ~130B-token "
            "budget.",
            "flops: not provided. flops_per_step is a forward-pass estimate (the README says "
            "so, and the fit above confirms the 2 N per token scale); training compute is "
            "roughly 3 x flops_per_step x step, or 6 n_params n_tokens for dense models.",
            "loss = loss_validation; loss_c4, loss_curation_corpus, loss_lambada, loss_pile "
            f"and loss_wikitext103 are kept as columns, with gaps: {gaps} empty cells.",
            "group: '<router_type>/E<num_experts>/<model_size_label>', plus '/k=<k>' when "
            "k != 1 and '/rf=1in<n>' when routing_frequency != 0.5 (1/n rounded exactly: "
            "1in1, 1in4, 1in8, 1in12), so that ablated architectures are not pooled with the "
            "main grid. architecture: the same label without the size, to pool one law per "
            "architecture across sizes (load_dataset(..., group='architecture')); or regroup "
            "with router_type, num_experts, model_size_label, k and routing_frequency.",
            "Rows are sorted by run, then step.",
        ],
        "caveats": [
            "Whether dense_parameter_count includes embeddings is not stated by the source. "
            "For all 6 dense sizes it equals exactly num_blocks x (5 d (h k) + 8 d^2 + 4 d) "
            "(attention Q, K, V, O plus one more d x (h k) matrix, plausibly a relative-"
            "position projection; a 4d feed-forward layer; two layer norms), with no "
            "vocabulary term, so N is almost certainly a non-embedding count. This is a "
            "reconstruction, not confirmed by the authors; treat N as non-embedding, "
            "unlike the chinchilla and gadre_overtrain tables.",
            "n_tokens assumes the same 524,288 tokens per step for every run; the data "
            "itself gives only steps.",
            "The paper fits its scaling laws to the final evaluation of each run; the "
            "intermediate rounds come from the same runs mid-training, so points of one run "
            "are correlated and are not trained-to-completion results at smaller D.",
            "Four pairs of runs share every hyperparameter including seed 42 yet have "
            "different curves (hyper_id 28/67, 47/56, 49/57, 54/66; final losses differ by "
            "up to 0.1 nats): treat them as unlabelled replicates. The 130M dense model has "
            "three seeds (1, 2, 3).",
            "Evaluation rounds do not line up exactly: most runs end at step 249,000, run 17 "
            "at 250,000 and run 112 at 248,000; runs 32, 36, 37, 165 and 166 each miss one "
            "or two intermediate rounds.",
            "For routed models N counts only the parameters one token passes through; "
            "total_parameter_count (up to 2.1e11) is the memory footprint. A law in N alone "
            "cannot tell experts apart: compare groups or use num_experts.",
            "The tokenizer (Gopher's 32k SentencePiece) and the training corpus (MassiveText) "
            "are inferred from the paper's lineage, not stated in the data.",
            "Losses from this dataset are not comparable with other bundled datasets: "
            "tokenizer, evaluation data and parameter counting differ.",
            "No schedule column: the raw file and its README record no learning rate, "
            "warmup, decay shape or final rate (only the step of each evaluation), and the "
            "raw data's documentation records none of the paper's training recipe, so no "
            "run's schedule can be rebuilt without inventing it.",
        ],
        "raw_sha256": raw_sha256,
    }
