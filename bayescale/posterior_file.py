"""The posterior file format: netCDF (HDF5) with the InferenceData group layout.

A file holds the groups ``posterior``, ``sample_stats``, ``observed_data`` and
``constant_data`` and, from format 4 on, those of ``OPTIONAL_GROUPS`` that the posterior
holds (``prior``, ``prior_predictive``, ``posterior_predictive``, ``log_likelihood``;
:mod:`bayescale.idata`). The root attribute ``bayescale`` holds JSON, the header: the fit
information (:class:`~bayescale.fitinfo.FitInfo`, ``to_dict``), the fit's warnings, the
file format number, from format 3 on a SHA-256 digest of every variable of every group and
of the header itself, and from format 4 on ``derived``, the names of the law's derived
quantities (``E``, ``A``, ...) written as variables of ``posterior`` and ``prior`` so that
ArviZ shows them; reading drops them again (they follow from the parameters). Format 4 is
current; formats 3 (no optional groups, no derived quantities), 2 (the same without
digests) and 1 (bayescale 0.1's first files, whose fit information was an untyped
dictionary, read by :meth:`~bayescale.fitinfo.FitInfo.from_format1`) are still read.

``Posterior.idata`` carries the same root attributes (:func:`root_attrs`), so a file that
ArviZ writes from it (``az.to_netcdf(post.idata)``) is a format-4 file too.

Integrity. Reading a file of format 3 or 4 recomputes each digest and refuses a file whose
data or header changed after it was written, naming the variable. The digest of a variable
covers its decoded values, as a reader sees them: dtype, shape and little-endian bytes in C
order (text as its strings), with every NaN written as the one canonical NaN. A
cryptographic digest rather than HDF5's ``fletcher32`` filter, because Fletcher-32 sums
16-bit words modulo 65535, where the words ``0x0000`` and ``0xFFFF`` are equal: flipping 64
bytes of zero words in ``alpha`` (draws such as 0.5 have four) passes its check and changes
the draws. SHA-256 misses a change with probability ``2^-256``, covers coordinates, group
labels and the header too, and names the variable that changed. Whatever the format, a
posterior whose draws are not all finite is refused on reading and on writing: every
planning answer from it would be NaN.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import xarray as xr

from bayescale import __version__
from bayescale.draws import SAMPLE_DIMS
from bayescale.errors import PosteriorFileError
from bayescale.fitinfo import FitInfo
from bayescale.hull import hull
from bayescale.laws import Law, get_law
from bayescale.paths import check_output, replacing

FILE_FORMAT = 4
READABLE_FORMATS = (1, 2, 3, 4)
GROUPS = ("posterior", "sample_stats", "observed_data", "constant_data")
OPTIONAL_GROUPS = ("prior", "prior_predictive", "posterior_predictive", "log_likelihood")
DERIVED_IN = ("posterior", "prior")  # the groups that carry the derived quantities
SHOWN = 5  # non-finite draws listed by position in an error; the rest are counted
HEADER = "header"  # the key of the header's own digest
MAX_DEPTH = 64  # how deep a header may nest; Posterior.save writes under ten levels


def digest(values) -> str:
    """SHA-256 (hex) of an array's values as decoded: dtype, shape and little-endian bytes
    in C order; text (numpy's str, bytes or object arrays) as the UTF-8 JSON of its strings,
    whichever of those kinds a reader returns; NaNs as one canonical NaN."""
    values = np.asarray(values)
    sha = hashlib.sha256(repr(values.shape).encode())
    if values.dtype.kind in "OSU":
        text = [v.decode() if isinstance(v, bytes) else str(v) for v in values.ravel()]
        sha.update(b"text" + json.dumps(text).encode())
        return sha.hexdigest()
    if values.dtype.kind in "fc":
        values = np.where(np.isnan(values), np.nan, values).astype(values.dtype)
    little = values.astype(values.dtype.newbyteorder("<"), copy=False)
    sha.update(little.dtype.str.encode() + np.ascontiguousarray(little).tobytes())
    return sha.hexdigest()


def _header_digest(header: Mapping) -> str:
    """SHA-256 of the header's fit information, warnings and (format 4) derived names, as
    canonical JSON."""
    body = {"info": header["info"], "warnings": header["warnings"]}
    if "derived" in header:
        body["derived"] = header["derived"]
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _checksums(groups: Mapping[str, xr.Dataset], header: Mapping) -> dict[str, str]:
    out = {HEADER: _header_digest(header)}
    for name in (*GROUPS, *OPTIONAL_GROUPS):
        if name in groups:
            for var, values in groups[name].variables.items():
                out[f"{name}/{var}"] = digest(values.values)
    return out


def check_finite(posterior: xr.Dataset, where: str, fix: str) -> None:
    """Refuse draws that are not all finite, naming the variable, how many draws and where.

    Parameters
    ----------
    posterior
        the ``posterior`` group, without derived quantities.
    where
        what is being written or read, opening the error: a path, a component of a stack.
    fix
        the sentence that closes the error: what to do about it.

    Raises
    ------
    PosteriorFileError
        where a variable over ``(chain, draw)`` has a draw that is NaN or infinite.
    """
    for name, da in posterior.data_vars.items():
        if da.dtype.kind not in "fc" or not set(SAMPLE_DIMS) <= set(da.dims):
            continue
        other = [d for d in da.dims if d not in SAMPLE_DIMS]
        values = da.transpose(*SAMPLE_DIMS, *other).values
        values = values.reshape(*values.shape[:2], -1)  # (chain, draw, anything else)
        bad = ~np.isfinite(values)
        draws = np.argwhere(bad.any(axis=-1))
        if not draws.size:
            continue
        shown = ", ".join(f"({c}, {d}): {values[c, d][bad[c, d]][0]}" for c, d in draws[:SHOWN])
        more = f" and {len(draws) - SHOWN} more" if len(draws) > SHOWN else ""
        raise PosteriorFileError(
            f"{where}: posterior variable {name!r} has {len(draws)} non-finite draw(s) of "
            f"{bad.shape[0] * bad.shape[1]}, at (chain, draw) {shown}{more}; every planning "
            f"answer from it would be NaN or inf. {fix}"
        )


def root_attrs(
    groups: Mapping[str, xr.Dataset],
    info: FitInfo,
    warnings: tuple[str, ...],
    derived: tuple[str, ...] = (),
) -> dict[str, str]:
    """The root attributes of a file of ``groups`` (as written: with the ``derived``
    quantities among the variables of ``posterior`` and ``prior``): the header as JSON,
    the law's name and the bayescale version that writes it."""
    header = {
        "file_format": FILE_FORMAT,
        "info": info.to_dict(),
        "warnings": list(warnings),
        "derived": list(derived),
    }
    header["sha256"] = _checksums(groups, json.loads(json.dumps(header)))
    return {"bayescale": json.dumps(header), "law": info.law, "bayescale_version": __version__}


def write(
    path: str | Path,
    groups: Mapping[str, xr.Dataset],
    info: FitInfo,
    warnings: tuple[str, ...],
    overwrite: bool = False,
    derived: tuple[str, ...] = (),
) -> Path:
    """Write a posterior file of ``groups`` (``GROUPS`` and any of ``OPTIONAL_GROUPS``),
    whose ``posterior`` and ``prior`` hold the ``derived`` quantities too; refuses to
    replace an existing file unless ``overwrite``, a path it cannot write
    (:func:`bayescale.paths.check_output`), and draws that are not all finite. The file
    appears whole or not at all (:func:`bayescale.paths.replacing`)."""
    path = check_output(path, overwrite=overwrite)
    check_finite(
        groups["posterior"].drop_vars(list(derived)),
        f"cannot save to {str(path)!r}",
        "Refit (a fit whose draws are not finite failed; its warnings say why).",
    )
    root = xr.Dataset(attrs=root_attrs(groups, info, warnings, derived))
    with replacing(path) as tmp:
        root.to_netcdf(tmp, mode="w", engine="h5netcdf")
        for name in (*GROUPS, *OPTIONAL_GROUPS):
            if name in groups:
                groups[name].to_netcdf(tmp, mode="a", group=name, engine="h5netcdf")
    return path


READ_ERRORS = (OSError, ValueError, KeyError, RuntimeError, TypeError, AttributeError)
"""What h5py, h5netcdf and xarray raise on a damaged file (AttributeError: h5netcdf on a
damaged dimension reference; KeyError: h5py on a damaged object header)."""
STACK_ATTR = "bayescale_stack"
"""The root attribute of a stack file (:mod:`bayescale.stack_file`), which is not a posterior."""


def _open(path: Path) -> tuple[dict, dict[str, xr.Dataset]]:
    """The root attributes and the groups of the file at ``path``."""
    if not path.exists():
        raise PosteriorFileError(f"no posterior file at {str(path)!r}.")
    if not path.is_file():
        raise PosteriorFileError(
            f"{str(path)!r} is not a regular file (a directory, pipe or device); pass the "
            ".nc file that Posterior.save or `bayescale fit -o` wrote."
        )
    try:
        # h5netcdf reads the root attributes before it can close itself again: when they
        # are damaged, its half-made file prints an "Exception ignored" traceback as it is
        # collected. Read them here first, with h5py alone.
        with h5py.File(path, "r") as f:
            f.attrs.get("_nc3_strict")
            stack = STACK_ATTR in dict(f.attrs)
            present = [name for name in OPTIONAL_GROUPS if name in f]
        if stack:
            raise PosteriorFileError(
                f"{str(path)!r} holds a stack of several laws' posteriors (Stack.save, "
                "`bayescale fit --law A B`), not one posterior: load it with "
                "bs.load_stack(path)."
            )
        with xr.open_dataset(path, engine="h5netcdf") as root:
            attrs = dict(root.attrs)
        groups = {}
        for name in (*GROUPS, *present):
            with xr.open_dataset(path, group=name, engine="h5netcdf") as ds:
                groups[name] = ds.load()
    except PosteriorFileError:  # already says what the file is (a ValueError, as READ_ERRORS)
        raise
    except READ_ERRORS as err:
        raise PosteriorFileError(
            f"{str(path)!r} is not a readable bayescale posterior (truncated or corrupted?): "
            f"{err}. Refit and save it again."
        ) from err
    return attrs, groups


def _depth(value) -> int:
    """How deep JSON ``value`` nests (a number or text is 0 deep), without recursion."""
    depth, level = 0, [value]
    while level := [
        inner
        for outer in level
        if isinstance(outer, (dict, list))
        for inner in (outer.values() if isinstance(outer, dict) else outer)
    ]:
        depth += 1
    return depth


def _header(where: str, attrs: dict) -> dict:
    """The root attribute ``bayescale``, parsed: a JSON object with a readable format."""
    if "bayescale" not in attrs:
        raise PosteriorFileError(
            f"{where!r} lacks the root attribute 'bayescale', the header (file format, "
            "fit information, warnings, digests) that Posterior.save writes and that "
            "Posterior.idata carries in its attrs; the file was not written by either, or "
            "its attributes were dropped on the way. Save the posterior with post.save(path) "
            "or az.to_netcdf(post.idata, path); for draws sampled elsewhere, use "
            "bs.Posterior.from_idata(az.from_netcdf(path), law=..., sweep=...)."
        )
    text = attrs["bayescale"]
    try:
        header = json.loads(text)
    except (TypeError, ValueError, RecursionError) as err:  # also UnicodeDecodeError
        raise PosteriorFileError(
            f"{where!r}: its bayescale metadata (the root attribute 'bayescale') is not "
            f"valid JSON ({err}); the file is damaged. Restore it from a copy, or refit and "
            "save again."
        ) from err
    if not isinstance(header, dict):
        raise PosteriorFileError(
            f"{where!r}: its bayescale metadata is a JSON {type(header).__name__}, not "
            "the object (with file_format, info and warnings) that Posterior.save writes; "
            "the file is damaged or was not written by bayescale. Refit and save again."
        )
    if _depth(header) > MAX_DEPTH:  # the digest and the fit information recurse into it
        raise PosteriorFileError(
            f"{where!r}: its bayescale metadata nests deeper than {MAX_DEPTH} levels; "
            "Posterior.save writes a few. The file is damaged. Refit and save again."
        )
    if "file_format" not in header and {"law", "sampler", "data"} <= set(header):
        raise PosteriorFileError(
            f"{where!r}: its root attribute 'bayescale' holds the fit information alone, "
            "as Posterior.idata's attrs did in earlier bayescale versions, without the file "
            "header around it (file_format, warnings, digests), so the file (written by "
            "ArviZ from that idata) cannot be checked or read as a posterior. Save the "
            "posterior again with this version: post.save(path), or az.to_netcdf(post.idata, "
            "path), whose attributes carry the header; or wrap its draws with "
            "bs.Posterior.from_idata(az.from_netcdf(path), law=..., sweep=<the fitted sweep>)."
        )
    if "file_format" not in header:
        raise PosteriorFileError(
            f"{where!r}: its bayescale metadata lacks 'file_format' (it has "
            f"{sorted(header)[:8]}); the file is damaged or was not written by bayescale. "
            "Refit and save again."
        )
    file_format = header["file_format"]
    if isinstance(file_format, bool) or file_format not in READABLE_FORMATS:
        raise PosteriorFileError(
            f"{where!r} has file format {file_format!r} (written by bayescale "
            f"{attrs.get('bayescale_version')}); this bayescale {__version__} reads formats "
            f"{list(READABLE_FORMATS)}. Install the version that wrote it, or refit."
        )
    need = {
        1: (),
        2: ("info", "warnings"),
        3: ("info", "warnings", "sha256"),
        4: ("info", "warnings", "sha256", "derived"),
    }[file_format]
    missing = [key for key in need if key not in header]
    if missing:
        raise PosteriorFileError(
            f"{where!r}: its bayescale metadata (file format {file_format}) lacks "
            f"{missing}; the file is damaged. Refit and save again."
        )
    return header


def _verify(where: str, header: dict, groups: dict[str, xr.Dataset]) -> None:
    """Compare the digests written in a format-3 header with the data as read."""
    stored = header["sha256"]
    if not isinstance(stored, dict):
        raise PosteriorFileError(
            f"{where!r}: its sha256 entry is a {type(stored).__name__}, not the "
            "digests Posterior.save writes; the file is damaged. Refit and save again."
        )
    found = _checksums(groups, header)
    changed = [key for key in found if key in stored and stored[key] != found[key]]
    missing = sorted(set(stored) - set(found))
    added = sorted(set(found) - set(stored))
    if not (changed or missing or added):
        return
    parts = []
    if HEADER in changed:
        parts.append("the header (fit information, warnings, derived quantities' names)")
    named = [k.split("/", 1) for k in changed if k != HEADER]
    if named:
        parts.append("the data of " + ", ".join(f"{var!r} in group {g}" for g, var in named))
    if parts:
        parts = [f"{' and '.join(parts)} no longer match the SHA-256 digests written with them"]
    if missing:
        parts.append(f"variables {missing} are gone, though digests were written for them")
    if added:
        parts.append(f"variables {added} were added, though no digest was written for them")
    raise PosteriorFileError(
        f"{where!r} is corrupted: {'; '.join(parts)}. The file changed after it was "
        "saved (a disk or transfer error, or an edit, such as a change to Posterior.idata "
        "before ArviZ wrote it). Restore it from a copy, or refit and save again."
    )


def _with_hull(info: FitInfo, constant) -> FitInfo:
    """``info`` with the hull of its fitted points, from the file's ``constant_data``
    where a file written before hulls were kept lacks it."""
    if info.data.hull or "log_n" not in constant or constant["log_n"].size == 0:
        return info
    vertices = hull(constant["log_n"].values, constant["log_d"].values)
    return replace(info, data=replace(info.data, hull=vertices))


def _info(where: str, header: dict, groups: dict) -> tuple[FitInfo, tuple[str, ...]]:
    """The fit information and warnings of a header whose format is known."""
    header = dict(header)
    try:
        if header.pop("file_format") == 1:
            constant = groups["constant_data"]
            warnings = tuple(header.pop("warnings", ()))
            info = FitInfo.from_format1(header, constant["log_n"].values, constant["log_d"].values)
        else:
            info, warnings = FitInfo.from_dict(header["info"]), tuple(header["warnings"])
            info = _with_hull(info, groups["constant_data"])
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        what = f"lacks {err}" if isinstance(err, KeyError) else f"is malformed ({err})"
        raise PosteriorFileError(
            f"{where!r}: its fit information {what}; the file is damaged or was "
            "written by another program. Refit and save again."
        ) from err
    if not all(isinstance(w, str) for w in warnings):
        raise PosteriorFileError(
            f"{where!r}: its warnings are not a list of messages; the file is damaged. "
            "Refit and save again."
        )
    return info, warnings


def _without_derived(where: str, header: dict, groups: dict) -> dict[str, xr.Dataset]:
    """``groups`` less the derived quantities that the header names (format 4)."""
    derived = header.get("derived", [])
    if not isinstance(derived, list) or not all(isinstance(name, str) for name in derived):
        raise PosteriorFileError(
            f"{where!r}: its header's 'derived' entry is not a list of names; the file is "
            "damaged. Refit and save again."
        )
    return {
        name: group.drop_vars([v for v in derived if v in group]) if name in DERIVED_IN else group
        for name, group in groups.items()
    }


def unpack(
    where: str, attrs: Mapping, groups: dict[str, xr.Dataset]
) -> tuple[dict[str, xr.Dataset], Law, FitInfo, tuple[str, ...]]:
    """``(groups, law, info, warnings)`` of the posterior that a file's root attributes and
    groups hold, each checked as the module docstring says: its header, its digests (from
    format 3 on), its fit information and warnings, its law (registered, with every
    parameter among the draws) and its draws (finite); the derived quantities are dropped.
    :func:`read` unpacks a posterior file, :mod:`bayescale.stack_file` each component of a
    stack.

    Parameters
    ----------
    where
        the file, or the part of one, that errors name.
    attrs
        the root attributes (the header under ``bayescale``).
    groups
        the groups as read: ``GROUPS`` and any of ``OPTIONAL_GROUPS``.

    Returns
    -------
    tuple
        the groups without derived quantities, the law, the fit information and the fit's
        warnings.

    Raises
    ------
    PosteriorFileError
        naming what is wrong and what to do.
    """
    header = _header(where, attrs)
    if header["file_format"] >= 3:
        _verify(where, header, groups)
    info, warnings = _info(where, header, groups)
    groups = _without_derived(where, header, groups)
    try:
        law = get_law(info.law, info.law_settings)
    except (TypeError, ValueError) as err:
        raise PosteriorFileError(
            f"{where!r} was fitted with law {info.law!r}, which is not registered here; "
            "register it with bs.register_law(...) before loading."
        ) from err
    missing = [p for p in law.params if p not in groups["posterior"]]
    if missing:
        raise PosteriorFileError(
            f"{where!r} lacks parameters {missing} of the {law.name} law it names; the "
            "file does not match its law."
        )
    check_finite(
        groups["posterior"], where, "The file is damaged: restore it, or refit and save again."
    )
    return groups, law, info, warnings


def read(path: str | Path) -> tuple[dict[str, xr.Dataset], Law, FitInfo, tuple[str, ...]]:
    """``(groups, law, info, warnings)`` of a posterior file (:func:`unpack`); errors say
    what is wrong."""
    path = Path(path)
    return unpack(str(path), *_open(path))
