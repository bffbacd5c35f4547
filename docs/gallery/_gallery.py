"""Shared plumbing of the gallery scripts: command-line options and the reference fit.

Every script takes ``--draws N`` (keep the first N draws of each chain; the
``BAYESCALE_GALLERY_DRAWS`` environment variable sets the same, for quick CI runs),
``--out DIR`` (default: this folder) and ``--posterior FILE`` (a saved posterior to use
instead of the shipped Chinchilla reference fit).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import matplotlib.pyplot as plt

import bayescale as bs
from bayescale.reference import reference_spec

plt.switch_backend("Agg")  # files only; no window

HERE = Path(__file__).resolve().parent


def options(doc: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    env = os.environ.get("BAYESCALE_GALLERY_DRAWS")
    parser.add_argument(
        "--draws",
        type=int,
        default=int(env) if env else None,
        help="keep the first N draws of each chain (default: all)",
    )
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the PNG")
    parser.add_argument(
        "--posterior",
        type=Path,
        default=None,
        help="saved posterior file (default: the chinchilla reference fit)",
    )
    opts = parser.parse_args()
    opts.out.mkdir(parents=True, exist_ok=True)
    return opts


def posterior(opts: argparse.Namespace, name: str = "chinchilla") -> bs.Posterior:
    """``--posterior`` if given, else the reference fit ``name``; thinned to ``--draws``."""
    post = bs.load_posterior(opts.posterior) if opts.posterior else bs.load_reference(name)
    if opts.draws:
        keep = {"draw": slice(0, opts.draws)}
        groups = {
            **post.groups,
            "posterior": post.posterior.isel(keep),
            "sample_stats": post.groups["sample_stats"].isel(keep),
        }
        post = bs.Posterior(groups=groups, law=post.law, info=post.info, warnings=post.warnings)
    return post


def reference(opts: argparse.Namespace) -> tuple[bs.Posterior, bs.Sweep]:
    """The posterior (thinned to ``--draws``) and the sweep it was fitted to, with the
    reference spec's excluded rows flagged."""
    post = posterior(opts)
    spec = reference_spec("chinchilla")
    sweep = bs.load_dataset(spec["dataset"])
    sweep = sweep.exclude(
        sweep.frame[spec["exclude_column"]].astype(bool), reason=spec["exclude_reason"]
    )
    return post, sweep


def save(fig, opts: argparse.Namespace, name: str) -> Path:
    path = opts.out / f"{name}.png"
    fig.savefig(path, dpi=200)
    print(f"wrote {path}")
    return path
