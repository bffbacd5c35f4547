"""The posterior file format: netCDF (HDF5) with the InferenceData group layout.

A file holds the groups ``posterior``, ``sample_stats``, ``observed_data`` and
``constant_data``; the root attribute ``bayescale`` holds JSON: the fit information
(:class:`~bayescale.fitinfo.FitInfo`, ``to_dict``), the fit's warnings and the file format
number. Format 2 is current. Format 1 (bayescale 0.1's first files) stored the fit
information as an untyped dictionary; it is still read
(:meth:`~bayescale.fitinfo.FitInfo.from_format1`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import xarray as xr

from bayescale import __version__
from bayescale.errors import PosteriorFileError
from bayescale.fitinfo import FitInfo
from bayescale.laws import Law, get_law

FILE_FORMAT = 2
READABLE_FORMATS = (1, 2)
GROUPS = ("posterior", "sample_stats", "observed_data", "constant_data")


def write(
    path: str | Path,
    groups: Mapping[str, xr.Dataset],
    info: FitInfo,
    warnings: tuple[str, ...],
    overwrite: bool = False,
) -> Path:
    """Write a posterior file; refuses to replace an existing file unless ``overwrite``.
    The file appears whole or not at all (written aside, then renamed)."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it.")
    header = {"file_format": FILE_FORMAT, "info": info.to_dict(), "warnings": list(warnings)}
    root = xr.Dataset(
        attrs={"bayescale": json.dumps(header), "law": info.law, "bayescale_version": __version__}
    )
    tmp = path.with_name(path.name + ".partial")
    root.to_netcdf(tmp, mode="w", engine="h5netcdf")
    for name in GROUPS:
        if name in groups:
            groups[name].to_netcdf(tmp, mode="a", group=name, engine="h5netcdf")
    tmp.replace(path)
    return path


def read(path: str | Path) -> tuple[dict[str, xr.Dataset], Law, FitInfo, tuple[str, ...]]:
    """``(groups, law, info, warnings)`` of a posterior file; errors say what is wrong."""
    path = Path(path)
    if not path.exists():
        raise PosteriorFileError(f"no posterior file at {str(path)!r}.")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as root:
            attrs = dict(root.attrs)
        groups = {}
        for name in GROUPS:
            with xr.open_dataset(path, group=name, engine="h5netcdf") as ds:
                groups[name] = ds.load()
    except (OSError, ValueError, KeyError) as err:
        raise PosteriorFileError(
            f"{str(path)!r} is not a readable bayescale posterior (truncated or corrupted?): "
            f"{err}. Refit and save it again."
        ) from err
    if "bayescale" not in attrs:
        raise PosteriorFileError(
            f"{str(path)!r} holds no bayescale metadata; it was not written by Posterior.save."
        )
    header = json.loads(attrs["bayescale"])
    file_format = header.get("file_format")
    if file_format not in READABLE_FORMATS:
        raise PosteriorFileError(
            f"{str(path)!r} has file format {file_format!r} (written by bayescale "
            f"{attrs.get('bayescale_version')}); this bayescale {__version__} reads formats "
            f"{list(READABLE_FORMATS)}. Install the version that wrote it, or refit."
        )
    if file_format == 1:
        constant = groups["constant_data"]
        warnings = tuple(header.pop("warnings", ()))
        header.pop("file_format")
        info = FitInfo.from_format1(header, constant["log_n"].values, constant["log_d"].values)
    else:
        info, warnings = FitInfo.from_dict(header["info"]), tuple(header["warnings"])
    try:
        law = get_law(info.law)
    except ValueError as err:
        raise PosteriorFileError(
            f"{str(path)!r} was fitted with law {info.law!r}, which is not registered here; "
            "register it with bs.register_law(...) before loading."
        ) from err
    missing = [p for p in law.params if p not in groups["posterior"]]
    if missing:
        raise PosteriorFileError(
            f"{str(path)!r} lacks parameters {missing} of the {law.name} law it names; the "
            "file does not match its law."
        )
    return groups, law, info, warnings
