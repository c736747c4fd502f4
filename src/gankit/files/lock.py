"""One writer per run folder: an advisory lock file with its holder's PID and host.

``RUN/.gankit.lock`` is locked with ``flock`` while a process trains, resumes, or
otherwise writes into the run; a second writer fails at once with a line naming the
holder. The kernel drops an ``flock`` when its process dies, however it dies, so a lock
left by a killed process is never in the way: the next writer takes it over and says
so. (Windows has no ``flock``: there the lock file only records the writer.)
"""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
import time
from pathlib import Path
from typing import Any

from gankit.errors import GankitError, RunLocked
from gankit.files.oserrors import describe_os_error
from gankit.files.owner import LOCK_NAME, O_NOFOLLOW, O_NONBLOCK

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None



def describe_holder(holder: dict[str, Any]) -> str:
    """``gankit train (pid 123 on host, since 2026-12-04 15:30:00)``."""
    if not holder:
        return "another process"
    return (f"{holder.get('command', 'gankit')} (pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
            f"since {holder.get('since', '?')})")


class RunLock:
    """Hold ``root/.gankit.lock`` for writing; use as a context manager or call
    :meth:`acquire` / :meth:`release`. ``note`` says whether a stale lock was taken over."""

    def __init__(self, root: str | Path, command: str = "gankit"):
        self.root = Path(root)
        self.path = self.root / LOCK_NAME
        self.command = command
        self.note = ""
        self._descriptor: int | None = None

    @property
    def held(self) -> bool:
        return self._descriptor is not None

    def acquire(self) -> RunLock:
        if self.held:
            return self
        descriptor = self._open_locked()
        previous = _read_holder(descriptor)
        if previous and previous.get("pid") != os.getpid():
            self.note = (f"took over the lock of {self.root} left by {describe_holder(previous)}, "
                         "which is no longer running")
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, (json.dumps(info) + "\n").encode(), 0)
        except OSError as exc:
            os.close(descriptor)
            raise GankitError(f"cannot take the lock: {describe_os_error(exc, self.path)}") from None
        self._descriptor = descriptor
        return self

    def _open_locked(self) -> int:
        try:  # never through a symlink, and never a FIFO or device that would block or be truncated
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o644)
        except FileNotFoundError:
            raise GankitError(f"'{self.root}' is not a run folder (it does not exist)") from None
        except OSError as exc:
            if os.path.islink(self.path) or (os.path.lexists(self.path) and not os.path.isfile(self.path)):
                raise GankitError(f"'{self.path}' is not a regular file (a symlink or something else gankit did not "
                                  "write); move it away and try again") from None
            raise GankitError(f"cannot take the lock: {describe_os_error(exc, self.path)}") from None
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise GankitError(f"'{self.path}' is not a regular file; move it away and try again")
        try:
            if fcntl is not None:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_holder(descriptor)
            os.close(descriptor)
            raise RunLocked(f"'{self.root}' is in use by {describe_holder(holder)}; wait for it to finish "
                            "or stop it, then try again") from None
        return descriptor

    def release(self) -> None:
        """Empty the lock file (so the next holder sees a clean hand-over) and unlock it."""
        if self._descriptor is None:
            return
        descriptor, self._descriptor = self._descriptor, None
        try:
            os.ftruncate(descriptor, 0)
        except OSError:
            pass
        if fcntl is not None:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc_info: Any) -> None:
        self.release()

    def __del__(self) -> None:  # a forgotten lock still goes when its object does
        if self._descriptor is not None and sys is not None:
            self.release()


def _read_holder(descriptor: int) -> dict[str, Any]:
    try:
        text = os.pread(descriptor, 4096, 0).decode("utf-8", errors="replace")
        holder = json.loads(text) if text.strip() else {}
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}
