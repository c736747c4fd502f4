"""Atomic writes: a reader never sees half a file, and a failed write leaves the old one.

Every file gankit writes goes through a temporary file in the same folder (so the
final rename never crosses a filesystem), is flushed and fsynced, then renamed over
the target, and the folder entry is fsynced. On any failure the temporary file is
removed and the target is untouched. Disk-full and other I/O errors become one
:class:`~gankit.errors.OutputError` whose message names the file and says that the
previous version is intact.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from gankit.errors import OutputError

# Errors that mean "the disk (or the process's file-size allowance) is full".
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def describe_os_error(exc: OSError, path: str | Path) -> str:
    """``disk full writing PATH`` (or the OS's own words for other errors)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full writing {path}"
    if exc.errno == errno.EFBIG:
        return f"file size limit reached writing {path}"
    return f"{exc.strerror or exc} writing {path}"


def output_error(exc: OSError, path: str | Path, existed: bool) -> OutputError:
    """The one-line error for a failed write of ``path``."""
    kept = f"the previous {Path(path).name} is unchanged" if existed else "nothing was written"
    return OutputError(f"{describe_os_error(exc, path)}; {kept}")


def file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file (0o666 less the umask):
    temporary files are created 0o600, and the renamed file must not stay that private."""
    return 0o666 & ~_umask()


def fsync_folder(folder: str | Path) -> None:
    """Make a rename inside ``folder`` durable (where the OS supports fsync on folders)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends normally it is fsynced
    and renamed onto ``path``. Writers that want a file name (``fig.savefig``,
    ``Image.save``) write to the yielded path; give them the format explicitly, since
    the temporary name ends in ``.tmp``."""
    path = Path(path)
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
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise output_error(exc, path, existed) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


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
    try:
        with open(path, "ab") as handle:
            size = handle.tell()
            try:
                handle.write(line.encode("utf-8") + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            except OSError:
                handle.truncate(size)
                raise
    except OSError as exc:
        raise output_error(exc, path, existed=True) from None


@contextmanager
def atomic_folder(path: str | Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; when the block ends normally it
    becomes ``path``. ``path`` must not exist, be empty, or (with ``replace``) be
    swapped out whole: the old folder is moved aside, the new one renamed in, the old one
    deleted. On failure the temporary folder is removed and ``path`` is untouched."""
    path = Path(path)
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    except OSError as exc:
        raise output_error(exc, path, existed) from None
    try:
        yield temporary
        os.chmod(temporary, 0o777 & ~_umask())  # mkdtemp makes it 0o700
        if existed and any(path.iterdir()):
            if not replace:
                raise FileExistsError(errno.EEXIST, "folder is not empty", str(path))
            aside = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
            os.replace(path, aside / path.name)
            os.replace(temporary, path)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(temporary, path)
    except OSError as exc:
        shutil.rmtree(temporary, ignore_errors=True)
        raise output_error(exc, path, existed) from None
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    fsync_folder(path.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
