"""Where the files bundled with bayescale live.

A wheel carries the repository's ``data/`` and ``models/`` folders inside the package
as ``bayescale/_data`` and ``bayescale/_models`` (hatchling ``force-include``). An
editable install, or code run straight from the repository, has no such folders:
there the files are read from ``<repo>/data`` and ``<repo>/models``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from bayescale.errors import InputError

KINDS = ("data", "models")


def package_dir(kind: str) -> Path:
    """The folder that holds the bundled ``kind`` files (``"data"`` or ``"models"``).

    The installed package's ``_<kind>`` folder wins; otherwise the repository's
    ``<kind>`` folder next to the package is used.
    """
    if kind not in KINDS:
        raise InputError(f"unknown resource kind {kind!r}; expected one of {list(KINDS)}.")
    packaged = resources.files("bayescale").joinpath(f"_{kind}")
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parent.parent / kind
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"bayescale's bundled {kind!r} folder is missing: looked for {packaged} (installed "
        f"wheel) and {checkout} (repository checkout). Reinstall bayescale from a wheel, or "
        f"run from a checkout that has its {kind}/ folder."
    )
