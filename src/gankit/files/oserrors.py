"""What a failed write says, and the small OS helpers every writer of ``files/`` shares."""

from __future__ import annotations

import errno
import os
from pathlib import Path

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
    return 0o666 & ~umask()


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


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
