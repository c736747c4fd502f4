"""Atomic writes: a reader never sees half a file, and a failed write leaves the old one.

Every file gankit writes goes through a temporary file in the same folder (so the
final rename never crosses a filesystem), is flushed and fsynced, then renamed over
the target, and the folder entry is fsynced; inside a location of gankit's the file is
then added to its manifest, and a file gankit did not write there is never replaced
(``files/owner.py``). Nothing is written through a symlink. On any failure the temporary file is
removed and the target is untouched. Disk-full and other I/O errors become one
:class:`~gankit.errors.OutputError` whose message names the file and says that the
previous version is intact.
"""

from __future__ import annotations

import errno
import os
import stat
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from gankit.errors import OutputError
from gankit.files import owner
from gankit.files.oserrors import FULL_ERRNOS, describe_os_error, file_mode, fsync_folder, output_error, umask

__all__ = ["FULL_ERRNOS", "append_line", "atomic_folder", "atomic_open", "atomic_path", "describe_os_error",
           "file_mode", "fsync_folder", "output_error", "write_bytes", "write_text"]

@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends normally it is fsynced
    and renamed onto ``path``. Writers that want a file name (``fig.savefig``,
    ``Image.save``) write to the yielded path; give them the format explicitly, since
    the temporary name ends in ``.tmp``."""
    path = Path(path)
    owner.check_replaceable(path)  # never over a symlink, nor over a user's file in gankit's folder
    existed = path.exists()
    try:
        mode = path.stat().st_mode & 0o7777 if existed else file_mode()  # a replaced file keeps its mode
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise output_error(exc, path, existed) from None
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        descriptor = os.open(temporary, os.O_RDWR | owner.O_NOFOLLOW)
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                raise OSError(errno.EINVAL, "temporary file was replaced by something else")
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise output_error(exc, path, existed) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)
    owner.record(path)


@contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """``open`` for writing (``"w"`` text as UTF-8, or ``"wb"``), atomically (see module doc)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', not {mode!r}")
    with atomic_path(path) as temporary:
        with open(temporary, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as handle:
            yield handle


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    with atomic_open(path, "w") as handle:
        handle.write(text)
    return Path(path)


def write_bytes(path: str | Path, payload: bytes | memoryview) -> Path:
    """Write ``payload`` to ``path`` atomically; returns ``path``."""
    with atomic_open(path, "wb") as handle:
        handle.write(payload)
    return Path(path)


def append_line(path: str | Path, line: str) -> None:
    """Append one line (UTF-8, newline added) and fsync it. If the write fails the file
    is cut back to its previous length, so no torn line stays behind."""
    path = Path(path)
    owner.check_replaceable(path)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | owner.O_NOFOLLOW | owner.O_NONBLOCK,
                             file_mode())
    except OSError as exc:
        raise output_error(exc, path, existed=True) from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OutputError(f"will not append to '{path}': it is not a regular file; move it away and try again")
        with os.fdopen(descriptor, "ab", closefd=False) as handle:
            size = os.fstat(descriptor).st_size
            try:
                handle.write(line.encode("utf-8") + b"\n")
                handle.flush()
                os.fsync(descriptor)
            except OSError:
                os.ftruncate(descriptor, size)
                raise
    except OSError as exc:
        raise output_error(exc, path, existed=True) from None
    finally:
        os.close(descriptor)
    owner.record(path)


@contextmanager
def atomic_folder(path: str | Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; when the block ends normally it
    becomes ``path``. ``path`` must not exist, be empty, or (with ``replace``) be
    swapped out whole: the old folder is moved aside, the new one renamed in, the old one
    deleted (only a location of gankit's holding nothing but what it recorded: see
    ``files/owner.py``). On failure the temporary folder is removed and ``path`` is untouched."""
    path = Path(path)
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    except OSError as exc:
        raise output_error(exc, path, existed) from None
    try:
        yield temporary
        os.chmod(temporary, 0o777 & ~umask())  # mkdtemp makes it 0o700
        if existed and not owner.is_empty(path):
            if not replace:
                raise FileExistsError(errno.EEXIST, "folder is not empty", str(path))
            aside = owner.move_aside(path)
            os.replace(temporary, path)
            owner.discard(aside)
        else:
            if existed:  # empty, or holding only a files marker of gankit's
                (path / owner.MARKER_NAME).unlink(missing_ok=True)
            os.replace(temporary, path)
    except OSError as exc:
        shutil.rmtree(temporary, ignore_errors=True)
        raise output_error(exc, path, existed) from None
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    fsync_folder(path.parent)
    owner.record(path)
