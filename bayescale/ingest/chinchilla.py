"""``chinchilla``: the Chinchilla runs of Hoffmann et al. (2022), Figure 4, as reconstructed
by Besiroglu et al. (2024) from the paper's vector figure.

Raw file: ``epoch_chinchilla/svg_extracted_data.csv`` (245 rows) from
``epoch-research/analyzing-chinchilla``. The figure gives model size ``N`` and
training compute ``C``; tokens are derived as ``D = C / (6 N)``, as the replication
does. All 245 points are kept; the five the replication left out of its fit are
flagged in ``besiroglu_excluded``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bayescale.errors import InputError
from bayescale.ingest.card import raw_digests

NAME = "chinchilla"
RAW_FILE = "epoch_chinchilla/svg_extracted_data.csv"
EXCLUDED = 5  # Besiroglu et al. fit 240 of the 245 points


def _besiroglu_excluded(loss: pd.Series) -> pd.Series:
    """The replication's rule: keep points whose loss is below the 5th-largest loss."""
    threshold = np.sort(loss.to_numpy())[-EXCLUDED]
    excluded = loss >= threshold
    if excluded.sum() != EXCLUDED:
        raise InputError(
            f"{int(excluded.sum())} rows tie at or above the {EXCLUDED}th-largest loss "
            f"{threshold!r}, so the replication's exclusion is ambiguous; check {RAW_FILE}."
        )
    return excluded


def build(raw: Path) -> tuple[pd.DataFrame, dict]:
    """Read the raw extraction under ``raw`` and return the tidy table and its card."""
    table = pd.read_csv(raw / RAW_FILE)
    n, flops = table["Model Size"], table["Training FLOP"]
    frame = pd.DataFrame(
        {
            "n_params": n,
            "n_tokens": flops / (6.0 * n),
            "loss": table["loss"],
            "flops": flops,
            "besiroglu_excluded": _besiroglu_excluded(table["loss"]),
        }
    )
    frame = frame.sort_values(["n_params", "n_tokens"], kind="stable", ignore_index=True)
    return frame, _card(raw_digests(raw, [RAW_FILE]))


def _card(raw_sha256: dict[str, str]) -> dict:
    return {
        "name": NAME,
        "title": "Chinchilla scaling runs (Hoffmann et al. 2022, Figure 4), extracted by "
        "Besiroglu et al. 2024",
        "description": (
            "245 final losses of dense transformer language models trained on MassiveText, "
            "57M to 16B parameters and 1.4e18 to 1.3e22 FLOPs, read off Figure 4 of the "
            "Chinchilla paper by Besiroglu et al. in their replication of its Approach 3 "
            "(parametric fit). One group; final losses only, no curves."
        ),
        "source": {
            "repository": "https://github.com/epoch-research/analyzing-chinchilla",
            "paths": ["data/svg_extracted_data.csv"],
            "commit": "92258837425e1b5f2851d624287f0120583a3d0e",
        },
        "citation": {
            "title": "Training Compute-Optimal Large Language Models",
            "authors": [
                "Jordan Hoffmann",
                "Sebastian Borgeaud",
                "Arthur Mensch",
                "Elena Buchatskaya",
                "Trevor Cai",
                "Eliza Rutherford",
                "Diego de Las Casas",
                "Lisa Anne Hendricks",
                "Johannes Welbl",
                "Aidan Clark",
                "Tom Hennigan",
                "Eric Noland",
                "Katie Millican",
                "George van den Driessche",
                "Bogdan Damoc",
                "Aurelia Guy",
                "Simon Osindero",
                "Karen Simonyan",
                "Erich Elsen",
                "Jack W. Rae",
                "Oriol Vinyals",
                "Laurent Sifre",
            ],
            "short": "Hoffmann et al.",
            "year": 2022,
            "venue": "NeurIPS 2022",
            "arxiv": "2203.15556",
            "extraction": {
                "title": "Chinchilla Scaling: A replication attempt",
                "authors": ["Tamay Besiroglu", "Ege Erdil", "Matthew Barnett", "Josh You"],
                "short": "Besiroglu et al.",
                "year": 2024,
                "arxiv": "2404.10102",
            },
        },
        "licence": "none found",
        "licence_status": (
            "The source repository has no LICENSE file, so no licence is granted; the values "
            "are measurements read off a published figure and are bundled for research and "
            "reproduction with full attribution. Check the terms yourself before "
            "redistributing them further."
        ),
        "curves": False,
        "columns": {
            "n_params": "model size N in parameters, including embeddings (Chinchilla's "
            "convention), read from the point's vertical position in the figure",
            "n_tokens": "training tokens D, derived as flops / (6 n_params)",
            "loss": "final training loss on MassiveText in nats per token (SentencePiece, "
            "32k vocabulary), read from the point's colour",
            "flops": "training compute C in FLOPs, read from the point's horizontal position",
            "besiroglu_excluded": "True for the 5 points Besiroglu et al. left out of their "
            "fit (the 5 highest losses); their fit uses the other 240",
        },
        "derived": [
            "n_tokens = flops / (6 n_params), the C = 6ND approximation; the paper does not "
            "give D for these points, and the replication derives it the same way.",
            "besiroglu_excluded marks the rows whose loss is at or above the 5th-largest loss, "
            "the rule in the replication's analysis code (nr_of_models_excluded = 5: keep "
            "loss < sorted(loss)[-5]). No two losses tie at that threshold, so exactly 5 rows "
            "are flagged.",
            "Rows are sorted by n_params, then n_tokens. The raw SVG coordinates (x, y) and "
            "the fill colour (color, hex_color) are not carried over.",
        ],
        "caveats": [
            "The values were reconstructed from a vector figure: N and C from each point's "
            "position, loss by matching its fill colour against the colourbar. Loss therefore "
            "takes only 99 distinct values over the 245 rows.",
            "The table covers only the ~245 points visible in the figure, out of the ~400 runs "
            "trained for the paper.",
            "The 5 flagged points are the largest models at the smallest budget (about 1e19 "
            "FLOPs): 2.0B to 6.8B parameters on 0.25B to 0.81B tokens, 0.04 to 0.4 tokens per "
            "parameter, with losses 3.45 to 5.01. They are raw rows 0 to 4.",
            "There are near-duplicate points: 17 pairs of rows agree within 1% in N and 5% in "
            "C, and the two pairs at N = 553M and 587M near 8.5e19 FLOPs have their loss "
            "values swapped between them. Open-Athena's isoFLOP QC flags 7 of its 123 "
            "Chinchilla rows as near_duplicate_params (18 over all its sources).",
            "Besiroglu et al. could not reproduce the published Approach 3 fit (E=1.69, "
            "A=406.4, B=410.7, alpha=0.34, beta=0.28) from these points; their own Huber fit "
            "on the 240 kept points gives E=1.82, A=482, B=2085, alpha=0.35, beta=0.37.",
            "N counts embedding parameters, which shifts fitted exponents relative to "
            "non-embedding counts (Pearce & Song 2024).",
            "The loss is the final training loss; runs are single-epoch, so it is close to a "
            "held-out loss, but it is not a separate validation measurement.",
            "No run identifiers are given, so runs is null; each point is one run's final "
            "loss as far as the figure shows.",
        ],
        "raw_sha256": raw_sha256,
    }
