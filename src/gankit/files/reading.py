"""Reading a user's or a run's file only when it is a regular file.

Opening a FIFO for reading waits for a writer forever, and a device or socket is never
what a user meant, so every read of a data file, config, checkpoint, export or run file
goes through :func:`regular_file` first: anything but a regular file (after following
links) is refused with one line that names it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gankit.errors import DataError, GankitError

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def regular_file(path: str | Path, what: str = "file", error: type[GankitError] = DataError) -> Path:
    """``path`` when it is a regular file (links followed); else ``error`` saying what it is
    (missing, a folder, a FIFO, a device) without ever opening it."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise error(f"{what} '{path}' does not exist; check the path") from None
    except OSError as exc:
        raise error(f"{what} '{path}' cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise error(f"{what} '{path}' is {kind}, not a file gankit can read; give a regular file")
    return path


def optional_file(path: str | Path, what: str = "file", error: type[GankitError] = DataError) -> Path | None:
    """``path`` when it is a regular file, None when nothing is there (a run file not written
    yet), else ``error`` as :func:`regular_file` raises it."""
    if not os.path.exists(path):
        return None
    return regular_file(path, what, error)


def read_bytes(path: str | Path, what: str = "file", error: type[GankitError] = DataError) -> bytes:
    """The content of ``path``, refused as :func:`regular_file` refuses it."""
    path = regular_file(path, what, error)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise error(f"{what} '{path}' cannot be read ({exc.strerror or exc})") from None


def read_text(path: str | Path, what: str = "file", error: type[GankitError] = DataError,
              errors: str = "strict") -> str:
    """``path`` decoded as UTF-8 (``errors`` as in :meth:`bytes.decode`); a file that is not
    UTF-8 under ``errors="strict"`` is ``error`` too."""
    raw = read_bytes(path, what, error)
    try:
        return raw.decode("utf-8", errors=errors)
    except UnicodeDecodeError as exc:
        raise error(f"{what} '{path}' is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                    f"{exc.start})") from None
