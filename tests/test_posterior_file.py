"""The posterior file: format 2 round trips the typed fit information; format 1 files
(an untyped ``meta`` dictionary) are still read and answer the same queries."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

import bayescale as bs
from bayescale import posterior_file


def format1_meta(post: bs.Posterior) -> dict:
    """The root metadata a format-1 file held for ``post``: the fit information as one
    dictionary, the centre at the top level, and the data without their N and D ranges."""
    meta = post.info.to_dict()
    data = meta.pop("data")
    meta["centre"] = data.pop("centre")
    meta["data"] = {
        k: data[k] for k in ("source", "derivations", "points", "excluded", "log_compute_range")
    }
    return {**meta, "file_format": 1, "warnings": list(post.warnings)}


def test_format1_files_are_read(synthetic_posterior, tmp_path):
    path = tmp_path / "format1.nc"
    xr.Dataset(attrs={"bayescale": json.dumps(format1_meta(synthetic_posterior))}).to_netcdf(
        path, mode="w", engine="h5netcdf"
    )
    for name in posterior_file.GROUPS:
        synthetic_posterior.groups[name].to_netcdf(path, mode="a", group=name, engine="h5netcdf")
    loaded = bs.load_posterior(path)
    assert loaded.info == synthetic_posterior.info  # ranges and centre come from the data
    xr.testing.assert_identical(
        loaded.optimal([1e21, 1e24]).dataset, synthetic_posterior.optimal([1e21, 1e24]).dataset
    )


def test_unknown_formats_are_refused_with_the_versions(synthetic_posterior, tmp_path):
    path = synthetic_posterior.save(tmp_path / "p.nc")
    header = json.loads(xr.open_dataset(path, engine="h5netcdf").attrs["bayescale"])
    future = tmp_path / "future.nc"
    xr.Dataset(
        attrs={"bayescale": json.dumps({**header, "file_format": 99}), "bayescale_version": "9.0"}
    ).to_netcdf(future, engine="h5netcdf")
    for name in posterior_file.GROUPS:
        synthetic_posterior.groups[name].to_netcdf(future, mode="a", group=name, engine="h5netcdf")
    with pytest.raises(
        bs.PosteriorFileError,
        match=r"file format 99 \(written by bayescale "
        r"9\.0\).*reads formats \[1, 2, 3, 4\]",
    ):
        bs.load_posterior(future)


def test_fit_information_is_typed_and_round_trips(synthetic_posterior, tmp_path):
    info = synthetic_posterior.info
    assert info.data.points == 48 and info.sampler.chains == 2 and info.pooling == "none"
    low, high = info.data.log_compute_range
    const = synthetic_posterior.groups["constant_data"]
    np.testing.assert_allclose(
        [low, high],
        [
            np.min(np.log(6) + const["log_n"] + const["log_d"]),
            np.max(np.log(6) + const["log_n"] + const["log_d"]),
        ],
    )
    loaded = bs.load_posterior(synthetic_posterior.save(tmp_path / "p.nc"))
    assert loaded.info == info
