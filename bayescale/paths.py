"""Files a user names: inputs must be regular files, outputs new (or replaceable) and
writable, and an output appears whole or not at all.

Each check runs before any work, so that a bad path fails in a second rather than after
a fit, and names the argument in the caller's own syntax (``-o`` and ``--overwrite`` on
the command line, ``path`` and ``overwrite=True`` in Python). Only the path's metadata is
read (``stat``): a named pipe with no writer would block whoever opens it, so nothing is
opened that is not a regular file.
"""

from __future__ import annotations

import contextlib
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bayescale.errors import InputError

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _kind(mode: int) -> str:
    """What a path that is not a regular file is, in words."""
    return next((words for test, words in _KINDS if test(mode)), "not a regular file")


def check_input_file(path: str | Path, name: str, what: str) -> Path:
    """``path`` as a :class:`~pathlib.Path`, if it names an existing regular file.

    ``name`` is the argument as the caller spells it (``"--posterior"``), ``what`` the
    file it should be (``"posterior file"``).
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"no {what} at {str(path)!r} ({name}); check the path.") from None
    except OSError as err:
        raise InputError(f"cannot read {str(path)!r} ({name}): {err.strerror}.") from None
    if not stat.S_ISREG(mode):
        raise InputError(
            f"{name} {str(path)!r} is {_kind(mode)}, not a regular file; pass the {what} itself."
        )
    return path


def _missing_folder(path: Path, name: str) -> InputError:
    """The error for an output whose folder does not exist: a file on the way, or a
    folder to create."""
    for above in path.parents:
        if above.exists():
            if not above.is_dir():
                return InputError(
                    f"{name} {str(path)!r} lies under {str(above)!r}, which is a file, not a "
                    "folder; choose a path in a folder."
                )
            break
    return InputError(
        f"{name} {str(path)!r}: the folder {str(path.parent)!r} does not exist; create it "
        f"first (mkdir -p {path.parent}) or choose another path."
    )


def check_output(
    path: str | Path, *, overwrite: bool, name: str = "path", replace_with: str = "overwrite=True"
) -> Path:
    """``path`` as a :class:`~pathlib.Path`, if a file can be written there.

    A path that exists must be a regular file, and is replaced only with ``overwrite``
    (``replace_with`` says how to ask for that: ``"--overwrite"`` on the command line); its
    folder must exist and take a new file (tried by creating and removing a temporary one,
    which also catches read-only file systems and users whom permissions do not stop).
    """
    path = Path(path)
    if path.exists():
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"{name} {str(path)!r} is a folder; name a file in it.")
        if not stat.S_ISREG(mode):
            raise InputError(
                f"{name} {str(path)!r} is {_kind(mode)}, not a regular file; choose a file path."
            )
        if not overwrite:
            raise InputError(
                f"{name} {str(path)!r} exists; pass {replace_with} to replace it, or choose "
                "another path."
            )
    folder = path.parent
    if not folder.is_dir():
        raise _missing_folder(path, name)
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise InputError(
            f"{name} {str(path)!r}: cannot write in {str(folder)!r} ({err.strerror}); "
            "choose a folder you can write to."
        ) from None
    return path


@contextlib.contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A path beside ``path`` to write to: on leaving the block it replaces ``path``, or,
    when the block raises, it is removed, so ``path`` is left whole or as it was."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    try:
        yield partial
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
