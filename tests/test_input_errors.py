"""Bad arguments to the Python API fail with an error that names the argument and the fix,
before any sampling, and nothing the user meant is silently read another way.

Sweeps' own tables are tested in ``test_bad_input.py``; these are the arguments around
them: group labels, exclusions, fit options, comparisons, queries and leave-future-out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_lfo import made_up_posterior

import bayescale as bs
from bayescale.curves import select_checkpoints
from bayescale.draws import interval_columns
from bayescale.model_inputs import model_inputs

from conftest import TRUTH, point_mass, synthetic_sweep


def grouped(first: str = "a") -> pd.DataFrame:
    """Two groups of six runs, the first labelled ``first``."""
    frame = synthetic_sweep(sizes=6, tokens_per_size=2)
    labels = np.where(np.arange(len(frame)) % 2 == 0, first, "b")
    return frame.assign(group=labels)


# ------------------------------------------------------------------------ group labels
@pytest.mark.parametrize("pooling", ["partial", "separate"])
def test_a_group_labelled_new_is_refused_where_new_means_an_unseen_group(pooling):
    sweep = bs.Sweep.from_frame(grouped(first="new"))
    with pytest.raises(bs.SweepValidationError, match=r"'new'.*Rename that group") as err:
        model_inputs(sweep, pooling=pooling)
    assert "rows 0, 2, 4" in str(err.value)


def test_a_group_labelled_new_is_only_a_label_without_pooling():
    sweep = bs.Sweep.from_frame(grouped(first="new"))
    assert model_inputs(sweep, pooling="none").groups == []


def test_vary_takes_one_name_as_that_name():
    sweep = bs.Sweep.from_frame(grouped())
    assert model_inputs(sweep, pooling="partial", vary="alpha").vary == ("alpha",)
    assert model_inputs(sweep, pooling="partial", vary=["e", "alpha"]).vary == ("e", "alpha")


# -------------------------------------------------------------------------- exclusions
def test_repeated_labels_are_refused_not_read_as_a_mask():
    sweep = bs.Sweep.from_frame(synthetic_sweep(sizes=3, tokens_per_size=2))
    with pytest.raises(bs.SweepValidationError, match=r"labels 0, 1 are given more than once"):
        sweep.exclude([0, 1, 0, 0, 1, 0], reason="meant as a mask")
    mask = np.array([0, 1, 0, 0, 1, 0], dtype=bool)
    assert sweep.exclude(mask, reason="a mask").frame["excluded"].tolist() == list(mask)
    assert sweep.exclude([1, 4], reason="labels").frame["excluded"].tolist() == list(mask)


def test_repeated_points_are_shown_by_their_values():
    frame = synthetic_sweep(sizes=3, tokens_per_size=2)
    copied = pd.concat([frame, frame.iloc[[1]]], ignore_index=True)
    n, d, loss = frame.loc[1, ["n_params", "n_tokens", "loss"]]
    with pytest.raises(bs.SweepValidationError) as err:
        bs.Sweep.from_frame(copied)
    assert f"rows 1, 6 hold ({n!r}, {d!r}, {loss!r})" in str(err.value)


# ------------------------------------------------------------------------- fit options
@pytest.mark.parametrize("value", ["0.1", None, 1.0, 2.0, -0.1, float("nan")])
def test_min_fraction_outside_zero_to_one_is_named(value):
    sweep = bs.Sweep.from_frame(synthetic_sweep(sizes=3, tokens_per_size=2))
    with pytest.raises(bs.InputError, match=r"min_fraction must be a number in \[0, 1\)"):
        select_checkpoints(sweep, False, None, value)


def test_read_sweep_adds_a_given_source_to_the_files_name(tmp_path):
    path = tmp_path / "runs.csv"
    synthetic_sweep(sizes=3, tokens_per_size=2).to_csv(path, index=False)
    sweep = bs.read_sweep(path, source={"paper": "made up"})
    assert dict(sweep.source) == {"name": "runs.csv", "path": str(path), "paper": "made up"}
    with pytest.raises(bs.SweepValidationError, match="source must be a mapping"):
        bs.read_sweep(path, source="made up")


def test_a_files_rows_are_told_apart_from_its_lines(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("n_params,n_tokens,loss\n1e8,2e9,3.1\n\n2e8,4e9,nan\n")
    with pytest.raises(bs.SweepValidationError) as err:
        bs.read_sweep(path)
    assert "rows 1 hold nan" in str(err.value)  # the second data row, on line 4
    assert "blank lines left out: row 0 is the first row under the header" in str(err.value)


# ------------------------------------------------------------------------- comparisons
def test_compare_refuses_posteriors_of_different_data_of_one_size():
    frame = synthetic_sweep(sizes=3, tokens_per_size=2)
    one = made_up_posterior(bs.Sweep.from_frame(frame))
    # the same draws for another sweep of the same size: the losses of the first, 30% higher
    other = made_up_posterior(bs.Sweep.from_frame(frame.assign(loss=1.3 * frame["loss"])))
    with pytest.raises(bs.InputError, match=r"'one' and 'other' were fitted to different data"):
        bs.compare({"one": one, "other": other})


def test_compare_names_what_it_takes():
    post = made_up_posterior(bs.Sweep.from_frame(synthetic_sweep(sizes=3, tokens_per_size=2)))
    with pytest.raises(bs.InputTypeError, match="must map a name to each posterior"):
        bs.compare([post, post])
    with pytest.raises(bs.InputTypeError, match=r"posteriors \['x'\] are not"):
        bs.compare({"post": post, "x": 3})


def test_a_leave_future_out_fit_too_small_for_its_law_names_the_cut():
    sweep = bs.Sweep.from_frame(synthetic_sweep(sizes=6, tokens_per_size=2))  # 12 points
    # the first default cut trains on half the runs, 6 points, fewer than the law's 5
    # parameters with Student-t noise (7): the fit refuses before sampling
    with pytest.raises(bs.SweepValidationError, match=r"leave-future-out cut 0 .* on 6 of"):
        bs.leave_future_out(sweep, ["chinchilla"])


# ----------------------------------------------------------------------------- queries
def test_predict_loss_pairs_equal_lengths_or_one_value():
    post = point_mass("chinchilla", TRUTH)
    assert post.predict_loss(1e9, [2e10, 4e10, 8e10]).dataset.sizes["point"] == 3
    with pytest.raises(bs.InputError, match=r"n \(parameters\) has 2 values and d \(tokens\) 3"):
        post.predict_loss([1e9, 2e9], [2e10, 4e10, 8e10])


@pytest.mark.parametrize("seed", [-1, "x", 2.5])
def test_predict_loss_names_a_bad_seed(seed):
    with pytest.raises(bs.InputError, match="seed must be a whole number"):
        point_mass("chinchilla", TRUTH).predict_loss(1e9, 2e10, seed=seed)


def test_a_group_too_small_for_its_own_law_is_refused_under_separate_pooling():
    frame = grouped()
    lone = pd.DataFrame([{**frame.iloc[0].to_dict(), "group": "c"}]).assign(loss=2.9)
    sweep = bs.Sweep.from_frame(pd.concat([frame, lone], ignore_index=True))
    with pytest.raises(bs.SweepValidationError, match=r"group\(s\) 'c' \(1\) have fewer"):
        model_inputs(sweep, pooling="separate")
    assert model_inputs(sweep, pooling="partial").groups == ["a", "b", "c"]


# -------------------------------------------------------------------- counts and names
def test_a_count_beyond_32_bits_is_refused_by_name():
    sweep = bs.Sweep.from_frame(synthetic_sweep(sizes=3, tokens_per_size=2))
    with pytest.raises(bs.InputError, match=r"draws must be .* at most 2147483647, got 10{20}"):
        bs.fit(sweep, chains=1, warmup=10, draws=10**20)


def test_interval_bounds_keep_distinct_names_at_any_ci_prob():
    assert interval_columns(0.9) == ("eti_5%", "eti_95%")  # az.summary's names
    low, high = interval_columns(1e-9)
    assert low != high
