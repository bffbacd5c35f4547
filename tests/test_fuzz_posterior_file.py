"""Fuzzing the posterior file (issue 20, item 4): generated damage to saved posteriors.

A small posterior (a shipped reference fit thinned to five draws per chain: Chinchilla's,
with one law, and Gadre et al.'s, per group, with text coordinates) is saved with
``Posterior.save``, and the file is then damaged in generated ways:

- bytes: flipped, overwritten or zeroed anywhere, inside a variable's data, or in and
  around the header's JSON text; the file cut short at any length; garbage appended;
- the header (the root attribute ``bayescale``): replaced by any JSON (lists, numbers,
  objects, deep nesting), by the real header with one part deleted or replaced (wrong
  types, huge numbers, NaN and infinity, other ``file_format`` values), by a value that is
  not text, or deleted;
- the HDF5 structure, through h5py: a variable deleted, added or renamed, a group gone,
  a dimension list pointing at a scale that is gone, an attribute changed;
- draws that are not finite (NaN, ±inf) written with xarray directly, with digests
  recomputed to match, as format 2 (no digests), or under the original digests.

The promise checked on every example: ``bs.load_posterior(path)`` either returns a
posterior equal to the original (every group identical, the same fit information, law and
warnings: the damage touched nothing that matters, such as bytes in unused space) or
raises ``bs.PosteriorFileError`` whose message names the file; never another exception,
no "Exception ignored" from a half-opened file being collected, no warning from a file
that reads (one refused may first draw h5netcdf's warning about a variable without
dimension scales), and never a silently different posterior. ``bayescale plan
--posterior PATH`` on damaged files exits with 2 and one error paragraph naming the file,
or answers as from the original; never a traceback.

Runtime: 100 + 2 damaged byte strings, 70 + 2 headers, 40 structures, 25 files with
non-finite draws, 15 ``plan`` runs in-process and 3 as a user runs them: 30–60 s on 2
shared cores, as busy as they are (reading a file takes 30–150 ms).
``derandomize=True`` runs the same cases every time; ``--hypothesis-show-statistics``
shows how often each kind of damage was refused or read. The ``@example`` cases are the
damage behind the bugs this fuzz found (see ``ROOT_ATTRIBUTES`` and below).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import json
import math
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import bayescale as bs
from bayescale import posterior_file
from bayescale.cli import main

from conftest import thinned_reference

FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DRAWS = 5
REFERENCES = ("chinchilla", "gadre_overtrain")


# ------------------------------------------------------------------- the original
@dataclass(frozen=True)
class Saved:
    """A saved posterior: its bytes, where its parts lie in them, and how it reads back."""

    name: str
    raw: bytes
    header: dict
    header_at: int  # where the header's JSON text starts in the file
    data_at: dict  # variable path -> (offset, size) of its values in the file
    loaded: bs.Posterior  # as read back from the undamaged file


@functools.cache
def original(name: str) -> Saved:
    post = thinned_reference(name, DRAWS)
    with tempfile.TemporaryDirectory() as folder:
        path = post.save(Path(folder) / "post.nc")
        raw = path.read_bytes()
        with h5py.File(path, "r") as f:
            header = json.loads(f.attrs["bayescale"])
            data_at = {}
            for group in posterior_file.GROUPS:
                for var, ds in f[group].items():
                    if ds.chunks is None and ds.id.get_offset() is not None:
                        data_at[f"{group}/{var}"] = (ds.id.get_offset(), ds.id.get_storage_size())
        loaded = bs.load_posterior(path)
    assert_same(loaded, post)  # the round trip itself is faithful
    return Saved(name, raw, header, raw.index(b'{"file_format"'), data_at, loaded)


def assert_same(got: bs.Posterior, want: bs.Posterior) -> None:
    """Every group identical (values, coordinates, attributes), and the same fit."""
    assert set(got.groups) == set(want.groups)
    for key in want.groups:
        xr.testing.assert_identical(got.groups[key], want.groups[key])
    assert got.law.name == want.law.name
    assert got.info == want.info
    assert got.warnings == want.warnings


@pytest.fixture(scope="module", autouse=True)
def quick_collections():
    """Each read ends with ``gc.collect()``, which scans only what the read made: what
    is alive already (JAX, the reference fits) is frozen out of the collector while this
    module runs (a full collection takes 0.1 s here)."""
    for name in REFERENCES:
        original(name)
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


# ------------------------------------------------------------------------ reading
@contextlib.contextmanager
def nothing_left_behind():
    """Fail on an exception that an object raised as it was collected ("Exception
    ignored in ..."), which a user sees as a traceback on standard error."""
    caught = []
    hook, sys.unraisablehook = sys.unraisablehook, caught.append
    try:
        yield
        gc.collect()
    finally:
        sys.unraisablehook = hook
    assert not caught, [f"{u.exc_type.__name__}: {u.exc_value} in {u.object}" for u in caught]


def check_read(path: Path, saved: Saved, must_refuse: bool = False) -> str:
    """``bs.load_posterior(path)``: the original, or a PosteriorFileError naming the file;
    returns what happened."""
    with nothing_left_behind(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            post = bs.load_posterior(path)
        except bs.PosteriorFileError as err:
            assert str(path) in str(err), str(err)
            outcome = "refused"
        else:
            assert not must_refuse, "a damaged file was read"
            assert_same(post, saved.loaded)
            outcome = "read, unchanged"
    # a file that reads is read quietly; one refused may first draw a warning from h5netcdf
    # (a variable with no dimension scales, say), which the error then explains
    shown = [f"{w.category.__name__}: {w.message}" for w in caught]
    assert not (shown and outcome.startswith("read")), shown
    if shown:
        event(f"refused after a warning: {shown[0][:60]}")
    return outcome


# ------------------------------------------------------------------------- damage
def xor(raw: bytearray, at: int, masks: bytes) -> None:
    for i, mask in enumerate(masks):
        if at + i < len(raw):
            raw[at + i] ^= mask


masks = st.binary(min_size=1, max_size=64).map(lambda b: bytes(x or 0xFF for x in b))


@st.composite
def byte_damage(draw, saved: Saved) -> tuple:
    """One of the ways bytes go bad, as a tuple that says what was done."""
    size = len(saved.raw)
    kind = draw(
        st.sampled_from(
            ["flip", "overwrite", "zero", "truncate", "append", "data", "header", "near header"]
        )
    )
    if kind in ("flip", "overwrite", "zero"):
        at = draw(st.integers(0, size - 1))
        if kind == "flip":
            return kind, at, draw(masks)
        if kind == "overwrite":
            return kind, at, draw(st.binary(min_size=1, max_size=64))
        return kind, at, draw(st.integers(1, 256))
    if kind == "truncate":
        return kind, draw(st.integers(0, size - 1))
    if kind == "append":
        return kind, draw(st.binary(min_size=1, max_size=4096))
    if kind == "data":  # inside one variable's values
        var = draw(st.sampled_from(sorted(saved.data_at)))
        start, length = saved.data_at[var]
        return "flip", start + draw(st.integers(0, length - 1)), draw(masks)
    if kind == "header":  # inside the JSON text
        text = len(json.dumps(saved.header))
        return "flip", saved.header_at + draw(st.integers(0, text - 1)), draw(masks)
    # the root group's attribute storage and the structures around it
    at = draw(st.integers(0, min(size - 1, saved.header_at + 4096)))
    return "overwrite", at, draw(st.binary(min_size=1, max_size=32))


def apply_bytes(raw: bytes, damage: tuple) -> bytes:
    out = bytearray(raw)
    kind = damage[0]
    if kind == "flip":
        xor(out, damage[1], damage[2])
    elif kind == "overwrite":
        out[damage[1] : damage[1] + len(damage[2])] = damage[2]
        del out[len(raw) :]
    elif kind == "zero":
        end = min(damage[1] + damage[2], len(out))
        out[damage[1] : end] = bytes(end - damage[1])
    elif kind == "truncate":
        del out[damage[1] :]
    else:
        out += damage[1]
    return bytes(out)


# JSON values of every kind, with the numbers JSON writers emit at their limits
json_numbers = st.one_of(
    st.integers(),
    st.sampled_from([10**400, -(10**400), 0, -1, 2, 3, 4]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 5e-324, 3.0]),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), json_numbers, st.text(max_size=10)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def paths(value, prefix=()):
    """Every path into a JSON value (tuples of keys and indices)."""
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from paths(inner, (*prefix, i))


@st.composite
def header_damage(draw, saved: Saved) -> tuple:
    """The header replaced, or the real one with one part deleted or replaced."""
    kind = draw(st.sampled_from(["edit", "edit", "edit", "any JSON", "deep", "not text", "gone"]))
    if kind == "any JSON":
        return kind, json.dumps(draw(json_values))
    if kind == "deep":  # nesting deeper than Python's recursion limit, or just under it
        depth = draw(st.sampled_from([10, 70, 990, 5000, 100_000]))
        where = draw(st.sampled_from(["whole", "info", "extra"]))
        nest = "[" * depth + "]" * depth
        return kind, where, depth, nest
    if kind == "not text":
        return kind, draw(
            st.sampled_from(
                [
                    np.int64(3),
                    np.float64(math.nan),
                    np.arange(3),
                    np.bytes_(json.dumps(saved.header).encode()),  # the header, as bytes
                    np.bytes_(b"\xff\xfe{"),
                    "",
                ]
            )
        )
    if kind == "gone":
        return (kind,)
    where = draw(st.sampled_from(sorted((p for p in paths(saved.header) if p), key=repr)))
    how = draw(st.sampled_from(["delete", "replace", "replace", "file format"]))
    if how == "file format":
        where = ("file_format",)
        value = draw(st.sampled_from([1, 2, 3.0, 4, 0, -3, "3", True, None, [3], 10**400]))
        return kind, where, "replace", value
    return kind, where, how, draw(json_values) if how == "replace" else None


def edited_header(header: dict, where: tuple, how: str, value) -> str:
    header = json.loads(json.dumps(header))
    *above, last = where
    inner = header
    for key in above:
        inner = inner[key]
    if how == "delete":
        del inner[last]
    else:
        inner[last] = value
    return json.dumps(header)  # NaN and inf as NaN and Infinity, as Python writes them


def apply_header(path: Path, saved: Saved, damage: tuple) -> None:
    with h5py.File(path, "r+") as f:
        kind = damage[0]
        if kind == "gone":
            del f.attrs["bayescale"]
        elif kind == "not text":
            f.attrs["bayescale"] = damage[1]
        elif kind == "any JSON":
            f.attrs["bayescale"] = damage[1]
        elif kind == "deep":
            _, where, _, nest = damage
            text = json.dumps(saved.header)
            if where == "whole":
                text = nest
            elif where == "info":
                text = text.replace('"info": {', '"info": {"deep": ' + nest + ", ", 1)
            else:
                text = text[:-1] + ', "deep": ' + nest + "}"
            f.attrs["bayescale"] = text
        else:
            f.attrs["bayescale"] = edited_header(saved.header, *damage[1:])


def harmless_header(saved: Saved, damage: tuple) -> bool:
    """Edits the reader may accept: other file formats whose reading ignores the
    digests, a key it does not read, the same header as bytes."""
    if damage[0] == "not text" and isinstance(damage[1], np.bytes_):
        return True
    if damage[0] == "deep":
        return damage[1] == "extra" and damage[2] <= posterior_file.MAX_DEPTH
    if damage[0] != "edit":
        return False
    where, how, value = damage[1:]
    if where == ("file_format",):
        return how == "replace" and value in (2, 3) and not isinstance(value, bool)
    return json.loads(edited_header(saved.header, where, how, value)) == saved.header


STRUCTURE = (
    "delete a variable",
    "add a variable",
    "rename a variable",
    "delete a group",
    "dangling dimension",
    "fill value",
    "bool attribute",
    "root attribute",
)


def apply_structure(path: Path, kind: str, var: str) -> bool:
    """Damage that keeps the HDF5 file valid, made through h5py; whether the groups
    changed (a fill value or a dimension list that a variable lacks, say, is not set)."""
    group = var.split("/")[0]
    with h5py.File(path, "r+") as f:
        if kind == "delete a variable":
            del f[var]
        elif kind == "add a variable":
            f[group].create_dataset("extra", data=np.zeros(3))
        elif kind == "rename a variable":
            f.move(var, var + "_x")
        elif kind == "delete a group":
            del f[group]
        elif kind == "dangling dimension":  # to a scale that is gone when the file closes
            anonymous = f.create_dataset(None, data=np.arange(3))
            dims = f[var].attrs.get("DIMENSION_LIST")
            if dims is None:
                return False
            refs = np.empty(len(dims), dtype=object)
            for i in range(len(dims)):
                refs[i] = np.array([anonymous.ref], dtype=h5py.ref_dtype)
            f[var].attrs.create("DIMENSION_LIST", refs, dtype=h5py.vlen_dtype(h5py.ref_dtype))
        elif kind == "fill value":  # values equal to the fill value read as missing
            values = f[var][...].ravel()
            if values.dtype.kind != "f" or not values.size:
                return False
            f[var].attrs["_FillValue"] = values[:1]
        elif kind == "bool attribute":
            if f[var].attrs.get("dtype") == "bool":
                return False
            f[var].attrs["dtype"] = "bool"
        else:
            f.attrs["law"] = "kaplan"  # a root attribute the reader does not use
            return False
    return True


# ----------------------------------------------------------------------- properties
# The damage behind the bugs this fuzz found (offsets in the layout that h5py 3 and HDF5
# 1.14 give the thinned Chinchilla file; in another layout they damage something else):
ROOT_ATTRIBUTES = ("flip", 96, b"\xff")  # h5netcdf, half-opened: "Exception ignored"
DIMENSION_LIST = ("zero", 42509, 256)  # h5netcdf: AttributeError on a nameless scale
DEEP = ("deep", "whole", 100_000, "[" * 100_000 + "]" * 100_000)  # json: RecursionError


references = st.sampled_from(REFERENCES)


@st.composite
def damaged_bytes(draw):
    saved = original(draw(references))
    return saved.name, draw(byte_damage(saved))


@FUZZ
@given(case=damaged_bytes())
@example(case=("chinchilla", ROOT_ATTRIBUTES))
@example(case=("chinchilla", DIMENSION_LIST))
def test_damaged_bytes_are_refused_or_harmless(case):
    name, damage = case
    saved = original(name)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "damaged.nc"
        raw = apply_bytes(saved.raw, damage)
        path.write_bytes(raw)
        outcome = check_read(path, saved, must_refuse=damage[0] == "truncate")
    event(f"{damage[0]}: {outcome}")


@st.composite
def damaged_headers(draw):
    saved = original(draw(references))
    return saved.name, draw(header_damage(saved))


@settings(FUZZ, max_examples=70)
@given(case=damaged_headers())
@example(case=("chinchilla", DEEP))
@example(case=("chinchilla", ("deep", "info", 990, "[" * 990 + "]" * 990)))  # RecursionError
def test_damaged_headers_are_refused_or_harmless(case):
    name, damage = case
    saved = original(name)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "damaged.nc"
        path.write_bytes(saved.raw)
        apply_header(path, saved, damage)
        outcome = check_read(path, saved, must_refuse=not harmless_header(saved, damage))
    event(f"header {damage[0]}: {outcome}")


@st.composite
def damaged_structure(draw):
    saved = original(draw(references))
    var = draw(st.sampled_from(sorted(saved.data_at)))
    return saved.name, draw(st.sampled_from(STRUCTURE)), var


@settings(FUZZ, max_examples=40)
@given(case=damaged_structure())
def test_damaged_structure_is_refused_or_harmless(case):
    name, kind, var = case
    saved = original(name)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "damaged.nc"
        path.write_bytes(saved.raw)
        changed = apply_structure(path, kind, var)
        outcome = check_read(path, saved, must_refuse=changed)
    event(f"{kind}: {outcome}")


def write_directly(path: Path, groups: dict, info, warnings_: tuple, digests: str) -> None:
    """A posterior file written with xarray, not Posterior.save (which refuses non-finite
    draws): its digests recomputed to match, none (format 2), or the original's."""
    header = {"file_format": 3, "info": info.to_dict(), "warnings": list(warnings_)}
    if digests == "format 2":
        header["file_format"] = 2
    elif digests == "recomputed":
        header["sha256"] = posterior_file._checksums(groups, json.loads(json.dumps(header)))
    else:
        header["sha256"] = digests  # the original file's
    xr.Dataset(attrs={"bayescale": json.dumps(header)}).to_netcdf(path, engine="h5netcdf")
    for name in posterior_file.GROUPS:
        groups[name].to_netcdf(path, mode="a", group=name, engine="h5netcdf")


@st.composite
def non_finite_draws(draw):
    saved = original(draw(references))
    posterior = saved.loaded.posterior
    var = draw(st.sampled_from(sorted(posterior.data_vars)))
    size = posterior[var].size
    where = draw(st.sets(st.integers(0, size - 1), min_size=1, max_size=min(size, 8)))
    value = draw(st.sampled_from([math.nan, math.inf, -math.inf, -math.nan]))
    digests = draw(st.sampled_from(["recomputed", "format 2", "original"]))
    return saved.name, var, sorted(where), value, digests


@settings(FUZZ, max_examples=25)
@given(case=non_finite_draws())
def test_non_finite_draws_are_refused_by_name(case):
    name, var, where, value, digests = case
    saved = original(name)
    post = saved.loaded
    values = post.posterior[var].values.copy()
    values.flat[where] = value
    posterior = post.posterior.copy()
    posterior[var] = (post.posterior[var].dims, values)
    groups = {**post.groups, "posterior": posterior}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "non_finite.nc"
        kept = saved.header["sha256"] if digests == "original" else digests
        write_directly(path, groups, post.info, post.warnings, kept)
        with nothing_left_behind(), warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                bs.load_posterior(path)
            except bs.PosteriorFileError as err:
                message = str(err)
            else:
                raise AssertionError(f"non-finite draws of {var!r} were read")
        assert str(path) in message and repr(var) in message, message
        if digests != "original":
            assert "non-finite draw(s)" in message, message
    event(f"non-finite {var} ({digests}): refused")


# ------------------------------------------------------------------ the command line
def strict_json(text: str):
    def refuse(token):
        raise AssertionError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


def run_plan(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["plan", "--budget", "1e22", "--posterior", str(path), "--json"])
    return code, out.getvalue(), err.getvalue()


@st.composite
def damaged_files(draw):
    saved = original(draw(references))
    if draw(st.booleans()):
        return saved.name, "bytes", draw(byte_damage(saved))
    return saved.name, "header", draw(header_damage(saved))


@settings(FUZZ, max_examples=15)
@given(case=damaged_files())
def test_plan_on_a_damaged_file_exits_2_or_answers(case):
    name, what, damage = case
    saved = original(name)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "damaged.nc"
        path.write_bytes(apply_bytes(saved.raw, damage) if what == "bytes" else saved.raw)
        if what == "header":
            apply_header(path, saved, damage)
        with nothing_left_behind():
            code, out, err = run_plan(path)
        assert "Traceback" not in out + err, err
        if code == 2:
            assert out == "" and err.startswith("bayescale plan: error: "), err
            assert str(path) in err, err  # paragraphs never break inside a path
        else:
            assert code == 0, (code, err)
            assert strict_json(out)["rows"]
    event(f"plan {what} {damage[0]}: exit {code}")


def test_plan_on_damaged_files_as_a_user_runs_it():
    """``python -m bayescale plan --posterior`` on the damage behind the bugs found: exit
    2 with one paragraph naming the file (or, where the bytes damage nothing in this
    layout, the answer), never a traceback."""
    saved = original("chinchilla")
    with tempfile.TemporaryDirectory() as folder:
        for i, damage in enumerate((ROOT_ATTRIBUTES, DIMENSION_LIST, DEEP)):
            path = Path(folder) / f"damaged{i}.nc"
            if damage is DEEP:
                path.write_bytes(saved.raw)
                apply_header(path, saved, damage)
            else:
                path.write_bytes(apply_bytes(saved.raw, damage))
            refused = check_read(path, saved) == "refused"
            done = subprocess.run(
                [sys.executable, "-m", "bayescale", "plan", "--budget=1e22", "--posterior", path],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
            assert done.returncode == (2 if refused else 0), done.stderr
            if refused:
                assert done.stderr.startswith("bayescale plan: error: "), done.stderr
                assert str(path) in done.stderr, done.stderr
