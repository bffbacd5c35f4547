"""The fit's progress bar (bayescale.progress), fed by the sampler's host callback
(bayescale.nuts.ReportingNUTS)."""

from __future__ import annotations

import warnings

import numpy as np

import bayescale as bs
from bayescale.progress import FitProgress, wanted

from conftest import synthetic_sweep


def test_the_bar_counts_every_iteration_and_names_the_phase(capsys):
    """Reports as the sampler sends them: every 2nd iteration of 50 (30 warmup), from two
    parallel chains (scalar counts) or vectorized ones (one count per chain), and off-
    schedule counts that are skipped."""
    bar = FitProgress(True, chains=2, warmup=30, draws=21)
    bar.every = 2
    seen = []
    for i in range(1, 52):
        if i % 2 == 0 or i == 51:
            bar.report(np.array([i, i]) if i < 30 else i)
            if i >= 30:
                bar.report(i)
        else:
            bar.report(i)  # off schedule: skipped
        seen.append((bar.bar.desc, bar.bar.n))
    bar.close()
    assert seen[28] == ("warmup", 56) and seen[29] == ("sampling", 60)
    assert seen[-1] == ("sampling", 102)
    err = capsys.readouterr().err
    assert "102/102" in err and "2 chains" in err


def test_no_bar_unless_stderr_is_a_terminal_or_asked(monkeypatch):
    class Stream:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    monkeypatch.setattr("sys.stderr", Stream(False))
    assert not wanted(None) and wanted(True) and not wanted(False)
    monkeypatch.setattr("sys.stderr", Stream(True))
    assert wanted(None) and not wanted(False)


def test_a_fit_shows_its_phases_and_no_numpyro_warning(capsys):
    sweep = bs.Sweep.from_frame(synthetic_sweep(seed=4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bs.fit(sweep, chains=2, warmup=60, draws=40, progress=True)
    assert not [w for w in caught if "progress bar" in str(w.message)]
    err = capsys.readouterr().err
    for phase in ("mode search", "compiling", "warmup", "sampling"):
        assert phase in err
    assert "200/200" in err  # 2 chains × (60 + 40) iterations, every one counted


def test_a_quiet_fit_prints_nothing(capsys):
    sweep = bs.Sweep.from_frame(synthetic_sweep(seed=4))
    with warnings.catch_warnings(record=True):  # sampling warnings of a short fit
        warnings.simplefilter("always")
        bs.fit(sweep, chains=2, warmup=30, draws=30, progress=False)
    assert capsys.readouterr().err == ""
