"""Posterior files: a SHA-256 digest of every variable and of the header, verified on
reading; non-finite draws refused; damaged metadata reported as a PosteriorFileError that
names the file and what is wrong (issue 20's reproductions)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import h5py
import numpy as np
import pytest
import xarray as xr

import bayescale as bs
from bayescale import posterior_file


@pytest.fixture(scope="module")
def reference():
    return bs.load_reference("chinchilla")


@pytest.fixture
def saved(reference, tmp_path):
    return reference.save(tmp_path / "p.nc")


def with_posterior(post: bs.Posterior, **variables) -> bs.Posterior:
    """``post`` with some posterior variables replaced by the given arrays."""
    posterior = post.posterior.copy()
    for name, values in variables.items():
        posterior[name] = (post.posterior[name].dims, values)
    return dataclasses.replace(post, groups={**post.groups, "posterior": posterior})


def data_offset(path, variable: str) -> int:
    """Where the bytes of ``variable`` start in the file (contiguous or first chunk)."""
    with h5py.File(path, "r") as f:
        ds = f[variable]
        return ds.id.get_offset() if ds.chunks is None else ds.id.get_chunk_info(0).byte_offset


def header(path) -> dict:
    with h5py.File(path, "r") as f:
        return json.loads(f.attrs["bayescale"])


def set_header(path, text: str) -> None:
    with h5py.File(path, "r+") as f:
        f.attrs["bayescale"] = text


def write_format2(post: bs.Posterior, path) -> None:
    """A file as format 2 wrote it: the same groups, no digests."""
    meta = {"file_format": 2, "info": post.info.to_dict(), "warnings": list(post.warnings)}
    xr.Dataset(attrs={"bayescale": json.dumps(meta)}).to_netcdf(path, engine="h5netcdf")
    for name in posterior_file.GROUPS:
        post.groups[name].to_netcdf(path, mode="a", group=name, engine="h5netcdf")


# ------------------------------------------------------------------- digests
def test_files_are_format_4_with_a_digest_per_variable_and_round_trip(reference, saved):
    head = header(saved)
    assert head["file_format"] == posterior_file.FILE_FORMAT == 4
    digests = head["sha256"]
    assert "posterior/alpha" in digests and "constant_data/log_n" in digests
    assert digests["posterior/alpha"] == posterior_file.digest(reference.posterior["alpha"].values)
    loaded = bs.load_posterior(saved)
    assert loaded.info == reference.info and loaded.warnings == reference.warnings
    xr.testing.assert_identical(loaded.posterior, reference.posterior)


def test_64_flipped_bytes_inside_alpha_are_refused(saved):
    start = data_offset(saved, "posterior/alpha") + 800  # inside the 4000 float64 draws
    raw = bytearray(saved.read_bytes())
    raw[start : start + 64] = bytes(b ^ 0xFF for b in raw[start : start + 64])
    saved.write_bytes(bytes(raw))
    with pytest.raises(bs.PosteriorFileError) as err:
        bs.load_posterior(saved)
    message = str(err.value)
    assert str(saved) in message and "'alpha' in group posterior" in message
    assert "SHA-256" in message and "refit and save again" in message


def test_flips_that_fletcher32_cannot_see_are_refused(reference, tmp_path):
    # 0.5 is 00 00 00 00 00 00 e0 3f: turning its zero 16-bit words into 0xFFFF leaves a
    # Fletcher-32 sum unchanged (0x0000 ≡ 0xFFFF mod 65535); the SHA-256 digest sees it.
    alpha = np.full(reference.posterior["alpha"].shape, 0.5)
    path = with_posterior(reference, alpha=alpha).save(tmp_path / "half.nc")
    raw = bytearray(path.read_bytes())
    i, flipped = data_offset(path, "posterior/alpha"), 0
    while flipped < 64:  # 32 zero words, three in each of the first draws
        if raw[i : i + 2] == bytes(2):
            raw[i : i + 2], flipped = b"\xff\xff", flipped + 2
        i += 2
    path.write_bytes(bytes(raw))
    with pytest.raises(bs.PosteriorFileError, match=r"'alpha' in group posterior"):
        bs.load_posterior(path)


def test_an_edited_header_is_refused(saved):
    head = header(saved)
    head["info"]["sampler"]["seed"] += 1  # valid JSON, a plausible value, not what was fitted
    set_header(saved, json.dumps(head))
    with pytest.raises(bs.PosteriorFileError, match=r"corrupted: the header \(fit information"):
        bs.load_posterior(saved)


def test_nan_written_into_a_format3_file_is_caught_by_its_digest(saved):
    with h5py.File(saved, "r+") as f:
        alpha = f["posterior/alpha"][...]
        alpha[0, :5] = np.nan
        f["posterior/alpha"][...] = alpha
    with pytest.raises(bs.PosteriorFileError, match=r"corrupted: the data of 'alpha'"):
        bs.load_posterior(saved)


# ------------------------------------------------------------ non-finite draws
def test_five_nan_draws_are_refused_on_save_naming_the_variable_and_draws(reference, tmp_path):
    alpha = reference.posterior["alpha"].values.copy()
    alpha[1, [3, 17, 40, 41, 999]] = np.nan
    with pytest.raises(bs.PosteriorFileError) as err:
        with_posterior(reference, alpha=alpha).save(tmp_path / "nan.nc")
    message = str(err.value)
    assert "'alpha' has 5 non-finite draw(s) of 4000" in message
    assert "(1, 3): nan" in message and "(1, 999): nan" in message
    assert not (tmp_path / "nan.nc").exists()


def test_non_finite_draws_in_an_older_file_are_refused_on_load(reference, tmp_path):
    alpha = reference.posterior["alpha"].values.copy()
    alpha[0, :7] = np.nan
    alpha[2, 5] = np.inf
    path = tmp_path / "format2.nc"
    write_format2(with_posterior(reference, alpha=alpha), path)
    with pytest.raises(bs.PosteriorFileError) as err:
        bs.load_posterior(path)
    message = str(err.value)
    assert str(path) in message and "'alpha' has 8 non-finite draw(s)" in message
    assert "(0, 0): nan" in message and "and 3 more" in message
    assert "NaN or inf" in message


def test_format2_files_are_still_read(reference, tmp_path):
    path = tmp_path / "format2.nc"
    write_format2(reference, path)
    loaded = bs.load_posterior(path)
    assert loaded.info == reference.info
    xr.testing.assert_identical(loaded.posterior, reference.posterior)


# ------------------------------------------------------------------ metadata
@pytest.mark.parametrize(
    "text, match",
    [
        ("[1, 2]", r"metadata is a JSON list, not the object"),
        ("{not json", r"not valid JSON \(Expecting property name"),
        ('"a string"', r"metadata is a JSON str"),
        ('{"file_format": true}', r"file format True"),
        ('{"file_format": 3, "info": {}}', r"lacks \['warnings', 'sha256'\]"),
    ],
)
def test_damaged_metadata_names_the_file_and_the_problem(saved, text, match):
    set_header(saved, text)
    with pytest.raises(bs.PosteriorFileError, match=match) as err:
        bs.load_posterior(saved)
    assert str(saved) in str(err.value)


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda info: info.pop("data"), r"fit information lacks 'data'"),
        (lambda info: info["data"].pop("log_n_range"), r"lacks 'log_n_range'"),
        (lambda info: info.update(sampler=[1]), r"fit information is malformed"),
        (lambda info: info.update(law=["chinchilla"]), r"with law \['chinchilla'\]"),
    ],
)
def test_damaged_fit_information_is_a_posterior_file_error(reference, tmp_path, damage, match):
    meta = reference.info.to_dict()
    damage(meta)
    path = tmp_path / "format2.nc"
    write_format2(reference, path)
    set_header(path, json.dumps({"file_format": 2, "info": meta, "warnings": []}))
    with pytest.raises(bs.PosteriorFileError, match=match):
        bs.load_posterior(path)


def test_a_directory_or_a_pipe_is_not_read(saved, tmp_path):
    with pytest.raises(bs.PosteriorFileError, match="not a regular file"):
        bs.load_posterior(tmp_path)
    fifo = tmp_path / "pipe.nc"
    os.mkfifo(fifo)  # with no writer, opening it would block forever
    with pytest.raises(bs.PosteriorFileError, match="not a regular file"):
        bs.load_posterior(fifo)


def test_a_truncated_file_is_a_posterior_file_error(saved, tmp_path):
    short = tmp_path / "short.nc"
    shutil.copy(saved, short)
    short.write_bytes(short.read_bytes()[: short.stat().st_size // 2])
    with pytest.raises(bs.PosteriorFileError, match="truncated or corrupted"):
        bs.load_posterior(short)
