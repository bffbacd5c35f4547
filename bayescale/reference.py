"""Reference fits shipped in ``models/``: one spec per bundled dataset and its posterior.

A spec (``models/<name>.json``) names the dataset, the law, the likelihood, priors
(defaults unless listed), rows to exclude, the sampler settings and the seed. The
posterior (``models/<name>.nc``) is what ``bayescale plan`` queries, so answering needs
no sampling; it keeps the groups that answering and figures read (``SHIPPED_GROUPS``), not
the prior and predictive draws, which would make each file some 15 MB. Regenerate every
reference fit with::

    python -m bayescale.reference            # or: python -m bayescale.reference chinchilla
"""

from __future__ import annotations

import argparse
import json

from bayescale.datasets import load_dataset
from bayescale.errors import InputError
from bayescale.posterior import Posterior, load_posterior
from bayescale.resources import package_dir

SHIPPED_GROUPS = ("posterior", "sample_stats", "observed_data", "constant_data")


def reference_names() -> list[str]:
    """Names of the shipped reference fits."""
    return sorted(p.stem for p in package_dir("models").glob("*.json"))


def reference_spec(name: str) -> dict:
    """The spec of reference fit ``name``."""
    names = reference_names()
    if name not in names:
        raise InputError(f"no reference fit named {name!r}; available: {names}.")
    return json.loads((package_dir("models") / f"{name}.json").read_text(encoding="utf-8"))


def load_reference(name: str = "chinchilla") -> Posterior:
    """The shipped posterior of reference fit ``name`` (no sampling)."""
    reference_spec(name)
    return load_posterior(package_dir("models") / f"{name}.nc")


def reference_sweep(name: str):
    """The sweep of reference fit ``name``, with the rows its spec excludes flagged."""
    spec = reference_spec(name)
    sweep = load_dataset(spec["dataset"])
    if spec.get("exclude_column"):
        flag = sweep.frame[spec["exclude_column"]].astype(bool)
        sweep = sweep.exclude(flag, reason=spec["exclude_reason"])
    return sweep


def refit(name: str, progress: bool = True) -> Posterior:
    """Fit reference ``name`` from its spec (the same call the shipped file came from)."""
    from bayescale.inference import fit

    spec = reference_spec(name)
    sweep = reference_sweep(name)
    return fit(
        sweep,
        law=spec["law"],
        likelihood=spec["likelihood"],
        pooling=spec.get("pooling", "none"),
        vary=spec.get("vary"),
        progress=progress,
        **spec["sampler"],
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bayescale.reference",
        description="Regenerate the reference fits in models/.",
    )
    parser.add_argument("names", nargs="*", help="reference fits to redo (default: all)")
    args = parser.parse_args(argv)
    for name in args.names or reference_names():
        path = package_dir("models") / f"{name}.nc"
        post = refit(name)
        groups = {k: v for k, v in post.groups.items() if k in SHIPPED_GROUPS}
        Posterior(groups=groups, law=post.law, info=post.info, warnings=post.warnings).save(
            path, overwrite=True
        )
        print(f"{name}: wrote {path} in {post.info.sampler.seconds:.1f} s of sampling")
        print(post.summary().round(4).to_string())


if __name__ == "__main__":
    main()
