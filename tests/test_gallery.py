"""Smoke test: every gallery script (docs/gallery/*.py) runs on a few draws of the
reference fit and writes its PNG into a temporary folder.

The scripts run in this process (``runpy``), so the suite's warnings-are-errors filter
applies to them too.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from bayescale.resources import package_dir

plt.switch_backend("Agg")

GALLERY = Path(__file__).resolve().parents[1] / "docs" / "gallery"
SCRIPTS = sorted(p for p in GALLERY.glob("*.py") if not p.name.startswith("_"))
NEEDS = {  # the reference fit each script draws, where not chinchilla
    "variants": "gadre_overtrain",
    "fit_over_data": "misfitting",
    "schedules": "multipower_schedules",
}


def test_gallery_has_scripts_and_a_readme():
    assert len(SCRIPTS) >= 9
    readme = (GALLERY / "README.md").read_text(encoding="utf-8")
    for script in SCRIPTS:
        assert script.name in readme, f"{script.name} is not shown in docs/gallery/README.md"
        assert f"{script.stem}.png" in readme


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_gallery_script_runs(script, tmp_path, monkeypatch):
    fit = NEEDS.get(script.stem, "chinchilla")
    if not (package_dir("models") / f"{fit}.nc").exists():
        pytest.skip(f"models/{fit}.nc is missing: run `python -m bayescale.reference`.")
    monkeypatch.setattr(sys, "argv", [str(script), "--draws", "10", "--out", str(tmp_path)])
    monkeypatch.syspath_prepend(str(GALLERY))
    try:
        runpy.run_path(str(script), run_name="__main__")
        figures = [plt.figure(number) for number in plt.get_fignums()]
        assert figures, "the script drew no figure"
        for fig in figures:
            check_figure_content(fig)
    finally:
        plt.close("all")
    png = tmp_path / f"{script.stem}.png"
    assert png.exists() and png.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def check_figure_content(fig):
    """The figure shows data, not empty frames: some axes holds finite plotted data (lines,
    markers, bands or images), and its axes are labelled."""
    plotted = [ax for ax in fig.axes if ax.lines or ax.collections or ax.images]
    assert plotted, "no axes plots anything"
    assert any(
        np.isfinite(ax.dataLim.bounds).all() and ax.dataLim.width > 0 and ax.dataLim.height > 0
        for ax in plotted
    ), "no axes holds finite data"
    labels = [label for ax in fig.axes for label in (ax.get_xlabel(), ax.get_ylabel())]
    assert any(label.strip() for label in labels), "no axis is labelled"
