"""The record behind the ownership rule: a location's marker and the manifest it keeps.

``FOLDER/.gankit`` is JSON: the kind of output, the device and inode of FOLDER (so a copy
of the marker, anywhere else, is not *bound* and vouches for nothing) and ``entries``,
every file and folder (``name/``) gankit wrote there. ``files/atomic.py`` calls
:func:`check_replaceable` before each write and :func:`record` after it, so the manifest
grows atomically (a new marker renamed over the old, under a short folder lock) as files
land. The rules built on it are in ``files/owner.py``.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from gankit.errors import OutputError
from gankit.files.oserrors import file_mode, fsync_folder, output_error

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

MARKER_NAME = ".gankit"
LEGACY_MARKER = ".gankit-run"  # what gankit wrote before markers were bound and listed their files
LOCK_NAME = ".gankit.lock"
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
MARKER_LIMIT = 64 << 20  # a marker is JSON of a few KB; anything huge is not ours
KINDS = {"run": "a training run", "samples": "a sample export", "classify": "classifier workbench results",
         "compare": "a comparison of runs", "sweep": "a sweep", "files": "files gankit wrote"}
# mkstemp/mkdtemp names gankit's own writes use: .NAME.XXXXXXXX.tmp (and .old / .replaced when swapping)
TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.(tmp|old|replaced)$")


@dataclass
class Marker:
    """What ``.gankit`` says: the kind of output, the folder it is bound to, the manifest."""

    kind: str
    device: int
    inode: int
    entries: set[str] = field(default_factory=set)
    created: str = ""
    inodes: dict[str, int] = field(default_factory=dict)  # each listed file's inode when gankit wrote it

    def to_json(self, folder: Path) -> str:
        return json.dumps({"made_by": "gankit", "kind": self.kind, "created": self.created,
                           "path": str(folder), "device": self.device, "inode": self.inode,
                           "entries": sorted(self.entries), "inodes": dict(sorted(self.inodes.items()))},
                          indent=0) + "\n"

    def owns(self, relative: str, path: Path) -> bool:
        """Whether the file at ``relative`` (``path``) is the one gankit wrote there: listed, and
        not replaced since (same inode), so a user's file put in its place is not taken for it."""
        if relative not in self.entries:
            return False
        recorded = self.inodes.get(relative)
        return recorded is None or _file_inode(path) == recorded


def _file_inode(path: Path) -> int | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_ino if stat.S_ISREG(info.st_mode) else None


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        info = os.lstat(folder)
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None


def read_regular(path: Path, limit: int = MARKER_LIMIT) -> bytes | None:
    """The bytes of ``path`` if it is a regular file (never through a symlink, never a FIFO), else None."""
    try:
        descriptor = os.open(path, os.O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        with os.fdopen(os.dup(descriptor), "rb") as handle:
            return handle.read(limit + 1)
    except OSError:
        return None
    finally:
        os.close(descriptor)


def read_marker(folder: Path) -> Marker | None:
    """The marker in ``folder`` when it is well-formed (bound or not), else None."""
    payload = read_regular(folder / MARKER_NAME)
    try:
        data = json.loads(payload) if payload else None
    except ValueError:
        return None
    if not (isinstance(data, dict) and data.get("kind") in KINDS and isinstance(data.get("device"), int)
            and isinstance(data.get("inode"), int) and isinstance(data.get("entries"), list)
            and all(isinstance(entry, str) for entry in data["entries"])):
        return None
    inodes = data.get("inodes", {})
    if not (isinstance(inodes, dict) and all(isinstance(value, int) for value in inodes.values())):
        inodes = {}
    return Marker(data["kind"], data["device"], data["inode"], set(data["entries"]), str(data.get("created", "")),
                  dict(inodes))


def bound_marker(folder: Path) -> Marker | None:
    """The marker of ``folder`` if it was written for this very folder (not copied into it)."""
    marker = read_marker(folder)
    if marker is None or _identity(folder) != (marker.device, marker.inode):
        return None
    return marker


def _write_marker(folder: Path, marker: Marker, durable: bool = True) -> None:
    """Replace ``folder/.gankit`` atomically (a new file renamed over it, never written through).
    ``durable=False`` skips the fsyncs: for a new inode of a listed file, whose loss in a power
    cut only makes gankit more careful (that file then counts as not its own)."""
    target = folder / MARKER_NAME
    try:
        descriptor, name = tempfile.mkstemp(dir=folder, prefix=f"{MARKER_NAME}.", suffix=".tmp")
    except OSError as exc:
        raise output_error(exc, target, existed=target.exists()) from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(marker.to_json(folder))
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(name, file_mode())
        os.replace(name, target)
    except OSError as exc:
        Path(name).unlink(missing_ok=True)
        raise output_error(exc, target, existed=True) from None
    if durable:
        fsync_folder(folder)


def mark(folder: str | Path, kind: str, entries: set[str] | frozenset[str] = frozenset()) -> Marker:
    """Make ``folder`` (which gankit just created or emptied) a location of ``kind``."""
    folder = Path(folder)
    identity = _identity(folder)
    if identity is None:
        raise OutputError(f"'{folder}' is not a folder; nothing was written")
    inodes = {entry: _file_inode(folder / entry) for entry in entries if not entry.endswith("/")}
    marker = Marker(kind, *identity, set(entries), time.strftime("%Y-%m-%d %H:%M:%S"),
                    {entry: inode for entry, inode in inodes.items() if inode is not None})
    _write_marker(folder, marker)
    return marker


class _FolderLock:
    """A short exclusive ``flock`` on a folder while its marker is read, changed and rewritten."""

    def __init__(self, folder: Path):
        self.folder, self.descriptor = folder, None

    def __enter__(self) -> _FolderLock:
        try:
            self.descriptor = os.open(self.folder, os.O_RDONLY | O_NOFOLLOW)
            if fcntl is not None:
                fcntl.flock(self.descriptor, fcntl.LOCK_EX)
        except OSError:
            self.descriptor = None
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.descriptor is not None:
            os.close(self.descriptor)  # closing drops the flock


def _nearest(path: Path) -> Path | None:
    """The nearest folder at or above ``path`` holding a gankit marker (bound, copied or legacy)."""
    for folder in (path, *path.parents):
        if os.path.lexists(folder / MARKER_NAME) or os.path.lexists(folder / LEGACY_MARKER):
            return folder
    return None


def _covering(path: Path) -> tuple[Path, Marker] | None:
    """The bound location whose manifest governs the file ``path``: the nearest marked folder
    above it, when bound; a ``files`` location governs only the files directly in it."""
    folder = _nearest(path.parent)
    marker = bound_marker(folder) if folder is not None else None
    if marker is None or (marker.kind == "files" and folder != path.parent):
        return None
    return folder, marker


def _absolute(path: str | Path) -> Path:
    return Path(os.path.abspath(path))


def _entries(relative: str, is_folder: bool = False) -> set[str]:
    """``a/b/c`` and the folders it lies in (``a/``, ``a/b/``); folders end in ``/``."""
    parts = relative.split("/")
    return {*("/".join(parts[:i]) + "/" for i in range(1, len(parts))), relative + ("/" if is_folder else "")}


def check_replaceable(path: str | Path) -> None:
    """Before gankit writes ``path``: refuse a symlink there, and a file inside a location
    of gankit's that its manifest does not list (the user's, however it is named), and a
    folder inside such a location that became a symlink (it would lead the write elsewhere)."""
    path = _absolute(path)
    covering = _covering(path)
    if covering is not None:
        for folder in path.parents:
            if folder == covering[0]:
                break
            if os.path.islink(folder):
                raise OutputError(f"will not write '{path}': '{folder}' is a symlink, not the folder gankit made; "
                                  "move it away and try again")
    if not os.path.lexists(path):
        return
    if os.path.islink(path) or not os.path.isfile(path):
        kind = "symlink" if os.path.islink(path) else "folder or special file"
        raise OutputError(f"will not write '{path}': it is a {kind}, not a file gankit wrote; move it away and try again")
    if covering is not None and not covering[1].owns(path.relative_to(covering[0]).as_posix(), path):
        raise OutputError(f"will not replace '{path}': gankit did not write it; move it away and try again")


def record(path: str | Path) -> None:
    """Add the file or folder ``path`` (just written by gankit) to its location's manifest."""
    path = _absolute(path)
    covering = _covering(path)
    if covering is None:
        return
    folder, marker = covering
    relative = path.relative_to(folder).as_posix()
    new = _entries(relative, path.is_dir())
    inode = None if path.is_dir() else _file_inode(path)
    if new <= marker.entries and marker.inodes.get(relative) == inode:
        return
    with _FolderLock(folder):
        current = bound_marker(folder)
        if current is None:
            return
        added = not new <= current.entries
        current.entries |= new
        if inode is not None:
            current.inodes[relative] = inode
        _write_marker(folder, current, durable=added)


def foreign_entries(folder: Path, marker: Marker, limit: int = 5) -> list[str]:
    """Entries under ``folder`` its manifest does not list (up to ``limit``): anything gankit
    did not write, any symlink, any special file. Nested locations are read by their own marker;
    gankit's marker, lock and left-over temporary files are its own."""
    found: list[str] = []

    def walk(directory: Path, prefix: str, governing: Marker, base: str) -> None:
        """``prefix``: path of ``directory`` from ``folder``; ``base``: that of ``governing``'s folder."""
        try:
            children = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError:
            found.append(prefix or ".")
            return
        for child in children:
            if len(found) >= limit:
                return
            name, own = prefix + child.name, prefix[len(base):] + child.name
            if child.name in (MARKER_NAME, LOCK_NAME) and not child.is_symlink() and child.is_file():
                continue
            if TEMP_NAME.match(child.name) and not child.is_symlink():
                continue
            if child.is_symlink():
                found.append(name)
            elif child.is_dir():
                nested = bound_marker(Path(child.path))
                if own + "/" not in governing.entries:
                    found.append(name + "/")
                elif nested is not None:
                    walk(Path(child.path), name + "/", nested, name + "/")
                else:
                    walk(Path(child.path), name + "/", governing, base)
            elif not (child.is_file() and governing.owns(own, Path(child.path))):
                found.append(name)

    walk(folder, "", marker, "")
    return found
