"""Saving and loading a stack: one file round-trips every component, the weights, labels,
seed and leave-future-out frame, and a damaged or partial file is refused. The stack's
seed (7) only fixes which draws it selects; the round trip must hold for any seed.

No sampling: the stack comes from :func:`bayescale.stack` with the stand-in fit of
``tests/test_lfo.py`` (made-up draws around known parameters).
"""

from __future__ import annotations

import ast
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from test_lfo import BIASED, fake_fit, made_up_posterior

import bayescale as bs
from bayescale import stack_file
from bayescale.evaluation import lfo as lfo_mod
from bayescale.stacking import Stack


@pytest.fixture(scope="module")
def sweep():
    from conftest import synthetic_sweep

    return bs.Sweep.from_frame(synthetic_sweep())


@pytest.fixture(scope="module")
def mixed(sweep):
    """A stack made by bs.stack, with stand-in fits (tests/test_lfo.py)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lfo_mod, "fit", fake_fit([]))
        mp.setattr("bayescale.stacking.fit", fake_fit([]))
        return bs.stack(sweep, ["chinchilla", BIASED], cuts=(0.5, 0.75), seed=7)


@pytest.fixture(autouse=True)
def biased_law_registered(monkeypatch):
    """The biased stand-in law must be registered for its component to load."""
    from bayescale.laws import law

    monkeypatch.setitem(law._REGISTRY, BIASED.name, BIASED)


def test_a_saved_stack_loads_with_its_weights_labels_seed_frame_and_draws(mixed, tmp_path):
    path = mixed.save(tmp_path / "stack.nc")
    back = bs.load_stack(path)
    assert list(back.components) == list(mixed.components)
    assert dict(back.weights) == dict(mixed.weights)
    assert back.seed == mixed.seed == 7
    for label, post in mixed.components.items():
        again = back.components[label]
        assert again.law.name == post.law.name
        for name in post.posterior.data_vars:
            np.testing.assert_array_equal(again.posterior[name].values, post.posterior[name].values)
    pd.testing.assert_frame_equal(back.lfo, mixed.lfo, check_dtype=False)
    assert back.lfo.attrs["fits"] == mixed.lfo.attrs["fits"]
    pd.testing.assert_frame_equal(back.summary(), mixed.summary())
    # the same draws are selected, so every query answers the same
    np.testing.assert_array_equal(
        back.optimal(1e22)["n_opt"].values, mixed.optimal(1e22)["n_opt"].values
    )


def test_a_stack_without_a_frame_round_trips(sweep, tmp_path):
    own = Stack(
        {"a": made_up_posterior(sweep), "b": made_up_posterior(sweep, shift=0.05)},
        {"a": 0.25, "b": 0.75},
        seed=3,
    )
    back = bs.load_stack(own.save(tmp_path / "own.nc"))
    assert back.lfo is None
    assert dict(back.weights) == {"a": 0.25, "b": 0.75}


def test_an_existing_file_is_kept_unless_overwrite(mixed, tmp_path):
    path = mixed.save(tmp_path / "stack.nc")
    with pytest.raises(bs.InputError, match="overwrite"):
        mixed.save(path)
    mixed.save(path, overwrite=True)


def test_a_truncated_file_is_refused(mixed, tmp_path):
    path = mixed.save(tmp_path / "stack.nc")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(bs.PosteriorFileError, match="not a readable bayescale stack"):
        bs.load_stack(path)


def test_a_missing_component_is_refused(mixed, tmp_path):
    path = mixed.save(tmp_path / "stack.nc")
    with h5py.File(path, "a") as f:
        del f["components/1"]
    with pytest.raises(
        bs.PosteriorFileError, match=r"lacks the components \['chinchilla_biased'\]"
    ):
        bs.load_stack(path)


def test_changed_draws_of_a_component_are_refused(mixed, tmp_path):
    path = mixed.save(tmp_path / "stack.nc")
    with h5py.File(path, "a") as f:
        f["components/0/posterior/alpha"][0, 0] += 0.1
    with pytest.raises(bs.PosteriorFileError, match=r"component 'chinchilla'.*'alpha'"):
        bs.load_stack(path)


def test_changed_weights_are_refused(mixed, tmp_path):
    path = mixed.save(tmp_path / "stack.nc")
    with h5py.File(path, "a") as f:
        header = f.attrs["bayescale_stack"]
        f.attrs["bayescale_stack"] = header.replace('"weights": [', '"weights": [0.5, 0.5, ')
    with pytest.raises(bs.PosteriorFileError, match="header"):
        bs.load_stack(path)


def test_a_single_posterior_file_is_not_a_stack(mixed, tmp_path):
    path = mixed.components["chinchilla"].save(tmp_path / "one.nc")
    with pytest.raises(bs.PosteriorFileError, match="load_posterior"):
        bs.load_stack(path)


def test_load_posterior_on_a_stack_file_points_to_load_stack(mixed, tmp_path):
    path = tmp_path / "stack.nc"
    mixed.save(path)
    with pytest.raises(bs.PosteriorFileError, match=r"bs\.load_stack") as err:
        bs.load_posterior(path)
    assert "corrupted" not in str(err.value)  # the file is sound: no advice to refit


def test_a_component_of_an_unregistered_law_is_refused_naming_it(mixed, tmp_path, monkeypatch):
    from bayescale.laws import law

    path = mixed.save(tmp_path / "stack.nc")
    monkeypatch.delitem(law._REGISTRY, BIASED.name)
    with pytest.raises(
        bs.PosteriorFileError,
        match=r"component 'chinchilla_biased'.* was fitted with law 'chinchilla_biased', "
        r"which is not registered here; register it with bs\.register_law",
    ):
        bs.load_stack(path)


def test_components_are_read_through_the_posterior_files_public_functions():
    tree = ast.parse(Path(stack_file.__file__).read_text(encoding="utf-8"))
    private = [
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "posterior_file"
        and node.attr.startswith("_")
    ]
    assert private == []
