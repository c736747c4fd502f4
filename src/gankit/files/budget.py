"""Whether a result fits this machine before any of it is made: memory and disk.

A request that cannot fit (a hundred billion samples in one ``.npz``, a points file whose
header claims more rows than RAM holds) is refused at once with one line naming the
option to lower, instead of a MemoryError traceback or a machine swapping for an hour.
The estimates are lower bounds of what the work holds, so a refusal is never wrong;
work near the limit may still run out.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from gankit.errors import GankitError

_CGROUP = Path("/sys/fs/cgroup")


def byte_text(count: float) -> str:
    """``count`` bytes for people: ``812 B``, ``3.2 GB``, ``6.4 TB`` (powers of 1000)."""
    for unit in ("B", "kB", "MB", "GB"):
        if count < 999.5:  # .3g of 999.5 would print 1e+03
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.3g} {unit}"
        count /= 1000
    return f"{count:.3g} TB" if count < 999.5 else f"{count:,.0f} TB"


def available_memory() -> int | None:
    """Bytes this process may allocate without swapping: the kernel's MemAvailable
    (``os.sysconf``'s free pages where /proc is missing), or a smaller cgroup memory limit;
    None when the system does not say."""
    found = [_meminfo_available(), _cgroup_limit()]
    if found[0] is None:
        try:
            found[0] = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            pass
    known = [value for value in found if value is not None]
    return min(known) if known else None


def check_memory(needed: int, doing: str, lower: str, error: type[GankitError] = GankitError) -> None:
    """``error`` when ``needed`` bytes exceed the available memory: ``doing`` says what
    would hold them, ``lower`` what to do instead (``lower -n``)."""
    available = available_memory()
    if available is not None and needed > available:
        raise error(f"{doing} needs at least {byte_text(needed)} of memory, more than the "
                          f"{byte_text(available)} available; {lower}")


def check_disk(target: str | Path, needed: int, files: int, doing: str, lower: str) -> None:
    """GankitError when the file system that will hold ``target`` has less than ``needed``
    bytes or ``files`` free file entries (inodes, where it counts them)."""
    folder = Path(target).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
        stats = os.statvfs(folder) if hasattr(os, "statvfs") else None
    except OSError:
        return
    if needed > free:
        raise GankitError(f"{doing} needs at least {byte_text(needed)} of disk, more than the {byte_text(free)} "
                          f"free on {folder}; {lower}")
    if stats is not None and stats.f_files > 0 and files > stats.f_favail:
        raise GankitError(f"{doing} makes {files} files, more than the {stats.f_favail} the file system of "
                          f"{folder} has room for; {lower}")


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:  # a kernel file, never a FIFO
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_limit() -> int | None:
    """A cgroup (v2) memory limit on this process's group, or None without one."""
    try:
        limit = (_CGROUP / "memory.max").read_text().strip()
        return None if limit == "max" else int(limit)
    except (OSError, ValueError):
        return None
