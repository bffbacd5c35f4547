"""The stack file format: one netCDF (HDF5) file holding every component of a
:class:`~bayescale.stacking.Stack`.

Layout. The root attribute ``bayescale_stack`` holds JSON, the stack's header: the
``stack_format`` number, the component ``labels`` in order, their ``weights``, the ``seed``
of the draw selection, the leave-future-out frame's attributes (``lfo_attrs``, or ``null``
without a frame) and SHA-256 digests of the header and of every variable of the frame. The
group ``components/<k>`` holds the ``k``-th component as a posterior file does at its root
(:mod:`bayescale.posterior_file`): its root attributes (header with fit information,
warnings and digests) as the group's attributes, and its groups (``posterior``,
``sample_stats``, ...) below it. The group ``lfo`` holds the leave-future-out frame, one
variable per column along the dimension ``row``.

Integrity. Each component is checked as :func:`bayescale.posterior_file.read` checks a
posterior file (its digests, its law, finite draws); the stack's own digests cover the
labels, weights, seed and frame. A file that is truncated, lacks a component, or changed
after it was written is refused, naming what is wrong. Files appear whole or not at all
(:func:`bayescale.paths.replacing`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import xarray as xr

from bayescale import __version__, posterior_file
from bayescale.errors import InputError, PosteriorFileError
from bayescale.idata import with_derived
from bayescale.paths import check_output, replacing
from bayescale.posterior import Posterior

STACK_FORMAT = 1
ATTR = posterior_file.STACK_ATTR  # the root attribute holding the stack's header
COMPONENTS = "components"  # the group holding one group per component, named by position
LFO = "lfo"  # the group holding the leave-future-out frame
ROW = "row"  # the frame's dimension
HEADER = "header"  # the key of the header's own digest


def _header_digest(header: dict) -> str:
    """SHA-256 of the header's labels, weights, seed and frame attributes, as canonical
    JSON."""
    body = {k: header[k] for k in ("labels", "weights", "seed", "lfo_attrs")}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _checksums(header: dict, lfo: xr.Dataset | None) -> dict[str, str]:
    out = {HEADER: _header_digest(header)}
    if lfo is not None:
        out.update(
            {f"{LFO}/{v}": posterior_file.digest(x.values) for v, x in lfo.variables.items()}
        )
    return out


def _frame_dataset(lfo: pd.DataFrame) -> xr.Dataset:
    """The leave-future-out frame as a dataset, one variable per column along ``row``."""
    return xr.Dataset({str(c): (ROW, lfo[c].to_numpy()) for c in lfo.columns})


def _frame(lfo: xr.Dataset, attrs: dict, columns: list[str]) -> pd.DataFrame:
    """The frame back from its dataset, columns in their written order."""
    frame = pd.DataFrame({c: lfo[c].values for c in columns})
    frame.attrs.update(attrs)
    return frame


def _plain(value):
    """A numpy scalar as the Python number JSON writes."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON")


def write(path: str | Path, stack, overwrite: bool = False) -> Path:
    """Write ``stack`` to one file (module docstring); refuses to replace an existing file
    unless ``overwrite``, and components whose draws are not all finite.

    Parameters
    ----------
    path
        the file to write.
    stack
        a :class:`~bayescale.stacking.Stack`.
    overwrite
        replace an existing file.

    Returns
    -------
    pathlib.Path
        the path written.
    """
    path = check_output(path, overwrite=overwrite)
    lfo = None if stack.lfo is None else _frame_dataset(stack.lfo)
    header = {
        "stack_format": STACK_FORMAT,
        "labels": list(stack.components),
        "weights": [float(w) for w in stack.weights.values()],
        "seed": int(stack.seed),
        "lfo_attrs": None if stack.lfo is None else dict(stack.lfo.attrs),
        "lfo_columns": None if stack.lfo is None else [str(c) for c in stack.lfo.columns],
    }
    try:  # tuples become lists, numpy scalars numbers, as a reader sees them
        header = json.loads(json.dumps(header, default=_plain))
    except TypeError as err:
        raise InputError(
            f"cannot save the stack to {str(path)!r}: its leave-future-out frame's attrs "
            f"hold a value JSON cannot write ({err}); keep numbers, text, lists and dicts."
        ) from err
    header["sha256"] = _checksums(header, lfo)
    parts = []
    for label, post in stack.components.items():
        groups, derived = with_derived(post)
        posterior_file.check_finite(
            groups["posterior"].drop_vars(list(derived)),
            f"cannot save component {label!r} to {str(path)!r}",
            "Refit it (a fit whose draws are not finite failed; its warnings say why).",
        )
        attrs = posterior_file.root_attrs(groups, post.info, post.warnings, derived)
        parts.append((groups, attrs))
    root = xr.Dataset(attrs={ATTR: json.dumps(header), "bayescale_version": __version__})
    with replacing(path) as tmp:
        root.to_netcdf(tmp, mode="w", engine="h5netcdf")
        for k, (groups, attrs) in enumerate(parts):
            where = f"{COMPONENTS}/{k}"
            xr.Dataset(attrs=attrs).to_netcdf(tmp, mode="a", group=where, engine="h5netcdf")
            for name, group in groups.items():
                group.to_netcdf(tmp, mode="a", group=f"{where}/{name}", engine="h5netcdf")
        if lfo is not None:
            lfo.to_netcdf(tmp, mode="a", group=LFO, engine="h5netcdf")
    return path


def is_stack_file(path: str | Path) -> bool:
    """Whether ``path`` is an HDF5 file whose root carries a stack header (the file's
    contents are not checked).

    Parameters
    ----------
    path
        the file to look at.

    Returns
    -------
    bool
        True for a file that :meth:`~bayescale.stacking.Stack.save` wrote.
    """
    try:
        with h5py.File(path, "r") as f:
            return ATTR in f.attrs
    except posterior_file.READ_ERRORS:  # a damaged file is no stack; its reader says why
        return False


def _damaged(path: Path, what: str) -> PosteriorFileError:
    return PosteriorFileError(
        f"{str(path)!r} is not a readable bayescale stack: {what}. The file is damaged or "
        "was not written by Stack.save; restore it from a copy, or refit and save again."
    )


def _open(path: Path) -> tuple[dict, list[tuple[dict, dict]], xr.Dataset | None]:
    """The stack's header, each component's ``(attrs, groups)`` and the frame's dataset."""
    if not path.exists():
        raise PosteriorFileError(f"no stack file at {str(path)!r}.")
    if not path.is_file():
        raise PosteriorFileError(
            f"{str(path)!r} is not a regular file; pass the .nc file that Stack.save or "
            "`bayescale fit --law A B -o` wrote."
        )
    try:
        with h5py.File(path, "r") as f:
            if ATTR not in f.attrs:
                raise PosteriorFileError(
                    f"{str(path)!r} lacks the root attribute {ATTR!r} that Stack.save "
                    "writes: it is not a stack file. Read a single posterior with "
                    "bs.load_posterior(path)."
                )
            header = _parse(path, f.attrs[ATTR])
            labels = header["labels"]
            stored = f[COMPONENTS] if COMPONENTS in f else {}
            missing = [labels[k] for k in range(len(labels)) if str(k) not in stored]
            if missing:
                raise _damaged(path, f"it lacks the components {missing} its header names")
            names = [
                [name for name in stored[str(k)] if isinstance(stored[str(k)][name], h5py.Group)]
                for k in range(len(labels))
            ]
            attrs = [dict(stored[str(k)].attrs) for k in range(len(labels))]
            has_lfo = LFO in f
        parts = []
        for k, (own, groups) in enumerate(zip(attrs, names, strict=True)):
            read = {}
            for name in groups:
                where = f"{COMPONENTS}/{k}/{name}"
                with xr.open_dataset(path, group=where, engine="h5netcdf") as ds:
                    read[name] = ds.load()
            parts.append((own, read))
        lfo = None
        if has_lfo:
            with xr.open_dataset(path, group=LFO, engine="h5netcdf") as ds:
                lfo = ds.load()
    except PosteriorFileError:
        raise
    except posterior_file.READ_ERRORS as err:
        raise _damaged(path, f"{err} (truncated or corrupted?)") from err
    return header, parts, lfo


def _parse(path: Path, text) -> dict:
    """The stack header: JSON with the keys :func:`write` gives it, in a known format."""
    try:
        header = json.loads(text)
    except (TypeError, ValueError, RecursionError) as err:
        raise _damaged(path, f"its header is not valid JSON ({err})") from err
    keys = ("stack_format", "labels", "weights", "seed", "lfo_attrs", "lfo_columns", "sha256")
    if not isinstance(header, dict) or any(key not in header for key in keys):
        raise _damaged(path, f"its header lacks some of {list(keys)}")
    if header["stack_format"] != STACK_FORMAT:
        raise PosteriorFileError(
            f"{str(path)!r} has stack format {header['stack_format']!r}; this bayescale "
            f"{__version__} reads format {STACK_FORMAT}. Install the version that wrote it, "
            "or refit."
        )
    labels, weights = header["labels"], header["weights"]
    if not (
        isinstance(labels, list)
        and isinstance(weights, list)
        and len(labels) == len(weights)
        and all(isinstance(label, str) for label in labels)
        and isinstance(header["sha256"], dict)
    ):
        raise _damaged(path, "its header's labels, weights or digests are malformed")
    return header


def _component(path: Path, label: str, attrs: dict, groups: dict) -> Posterior:
    """One component, checked as :func:`bayescale.posterior_file.read` checks a file
    (:func:`bayescale.posterior_file.unpack`)."""
    missing = [name for name in posterior_file.GROUPS if name not in groups]
    if missing:
        raise _damaged(path, f"component {label!r} lacks the groups {missing}")
    groups, law, info, warnings = posterior_file.unpack(
        f"{path}, component {label!r}", attrs, groups
    )
    return Posterior(groups=groups, law=law, info=info, warnings=warnings)


def read(path: str | Path) -> dict:
    """The parts of a stack saved at ``path``; errors say what is wrong.

    Parameters
    ----------
    path
        the file that :func:`write` wrote.

    Returns
    -------
    dict
        the keyword arguments of a :class:`~bayescale.stacking.Stack`: ``components``,
        ``weights``, ``lfo`` and ``seed``.
    """
    path = Path(path)
    header, parts, lfo = _open(path)
    if (lfo is None) != (header["lfo_columns"] is None):
        raise _damaged(path, "its leave-future-out frame is missing or unexpected")
    found = _checksums(header, lfo)
    stored = header["sha256"]
    changed = sorted(k for k in set(found) | set(stored) if found.get(k) != stored.get(k))
    if changed:
        raise _damaged(path, f"{changed} no longer match the SHA-256 digests written with them")
    labels = header["labels"]
    components = {
        label: _component(path, label, attrs, groups)
        for label, (attrs, groups) in zip(labels, parts, strict=True)
    }
    frame = None
    if lfo is not None:
        frame = _frame(lfo, header["lfo_attrs"], header["lfo_columns"])
    return {
        "components": components,
        "weights": dict(zip(labels, header["weights"], strict=True)),
        "lfo": frame,
        "seed": header["seed"],
    }
