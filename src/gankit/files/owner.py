"""Whose is a folder? The one ownership rule for every place gankit writes.

A *location* (a run folder, a sample export, a classify, compare or sweep folder) is
gankit's only if gankit recorded it: a marker file ``.gankit`` inside it names the kind
of output, is bound to that very folder (its device and inode, so a copied marker vouches
for nothing), and lists every file and folder gankit wrote there (the manifest, rewritten
atomically whenever a new file lands; ``files/atomic.py`` records each write). From it:

- a new output goes only into a location that does not exist or is empty;
- ``--force`` replaces a location only when it is gankit's, of the same kind, and every
  entry in it is listed; one foreign entry makes it refuse, naming up to five. The
  location is moved aside in one rename, then deleted;
- inside a location gankit replaces only files it listed: a user's file of the same name
  is refused, never overwritten;
- a single-file output outside any location (``sample -o x.npz``) is recorded in a marker
  of kind ``files`` in its folder, which owns nothing but the files it lists;
- an output path is resolved once, up front (a symlinked ``--out`` is its target
  everywhere), and the marker, the lock and every temporary file are opened without
  following links.

Runs written by an older gankit (an unbound ``.gankit-run`` marker, or none) are never
replaced; resuming or reporting one records the files of the run layout it holds.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from gankit.errors import GankitError, OutputError
from gankit.files.manifest import (  # noqa: F401  (re-exported: the names callers use)
    KINDS, LEGACY_MARKER, LOCK_NAME, MARKER_NAME, O_NOFOLLOW, O_NONBLOCK, TEMP_NAME, Marker, _absolute, _covering,
    _entries, _nearest, bound_marker, check_replaceable, foreign_entries, mark, read_marker, record,
)
from gankit.files.oserrors import fsync_folder, output_error

# A run written by an older gankit: the entries of its layout that resuming or reporting it adopts.
RUN_LAYOUT = re.compile(r"^(config\.toml|metrics\.jsonl|final_metrics\.json|report\.html|skipped_files\.txt|"
                        r"drs_eval\.json|metrics\.rejected\.jsonl|checkpoints/[\w.-]+\.pt|samples/epoch_\d+\.png|"
                        r"plots/[\w.-]+\.png|tb/events\.out\.tfevents\.[\w.-]+)$")


def resolve_output(path: str | Path) -> Path:
    """``path`` with symlinks resolved once (kept as given when it has none): from here on a
    symlinked output is its target, so nothing is deleted through a link and then missed."""
    given = Path(path)
    real = Path(os.path.realpath(given))
    return given if real == _absolute(given) and given.name not in ("", ".", "..") else real


def is_empty(folder: Path) -> bool:
    names = os.listdir(folder)
    if not names:
        return True
    marker = bound_marker(folder) if names == [MARKER_NAME] else None
    return marker is not None and marker.kind == "files"


def _refusal(folder: Path, option: str) -> str:
    """Why a non-empty folder that is not a bound location of gankit's cannot take an output."""
    copied = read_marker(folder) is not None
    if copied:
        return (f"'{folder}' holds a gankit marker that was not written for this folder (copied, or restored from "
                f"an archive), so it cannot vouch for the files here: {option} takes a new or empty folder; move "
                "the files away, or pick another one")
    if _older_run(folder):
        return (f"'{folder}' looks like a run of an older gankit, which kept no record of the files it wrote, so "
                f"gankit cannot tell them from yours: delete it yourself, or resume/report it once with this "
                f"gankit (which records its run files), or give {option} a new or empty folder")
    return (f"'{folder}' is not empty and is not a folder made by gankit; {option} takes a new or empty folder "
            "(gankit never replaces what it did not write): pick another one")


def check_new(path: str | Path, kind: str, *, force: bool = False, option: str = "--out",
              again: str = "") -> Path:
    """Check that ``path`` may receive a new output of ``kind``; return it resolved. It may:
    not exist, be empty, or (with ``force``) be a location of gankit's of that kind holding
    nothing it did not record. ``again`` says how to continue an existing one instead."""
    path = resolve_output(path)
    if os.path.lexists(path) and not path.is_dir():
        raise GankitError(f"'{path}' is a file; {option} must name a folder")
    if not path.is_dir() or is_empty(path):
        return path
    if force:
        check_removable(path)
    marker = bound_marker(path)
    if marker is None:
        raise GankitError(_refusal(path, option))
    if marker.kind != kind:
        raise GankitError(f"'{path}' holds {KINDS[marker.kind]}, not {KINDS[kind]}: pick another {option}")
    if not force:
        raise GankitError(f"'{path}' already holds {KINDS[kind]}; {again + ', ' if again else ''}pick another "
                          f"{option}, or pass --force to replace it")
    foreign = foreign_entries(path, marker)
    if foreign:
        raise GankitError(f"--force will not replace '{path}': it holds entries gankit did not write "
                          f"({', '.join(foreign)}); move them out of it, or pick another {option}")
    return path


def claim_file(path: str | Path, *, force: bool = False, option: str = "-o") -> Path:
    """Check that the single file ``path`` may be written; return it resolved. It may be new,
    or (with ``force``) a file gankit wrote and recorded there. Its folder is marked as a
    ``files`` location when no location of gankit's governs it, so the write is recorded."""
    path = resolve_output(path)
    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            raise GankitError(f"'{path}' is a folder; {option} here names a file")
        covering = _covering(_absolute(path))
        listed = (covering is not None and not os.path.islink(path) and os.path.isfile(path)
                  and covering[1].owns(_absolute(path).relative_to(covering[0]).as_posix(), _absolute(path)))
        if not listed:
            raise GankitError(f"'{path}' exists and gankit did not write it; it is left as it is: give {option} "
                              "a new file name (or move that file away)")
        if not force:
            raise GankitError(f"'{path}' exists (written by gankit earlier); pass --force to replace it, or give "
                              f"{option} a new file name")
    folder = _absolute(path).parent
    if not folder.is_dir():
        try:
            folder.mkdir(parents=True)
        except OSError as exc:
            raise output_error(exc, folder, existed=False) from None
    if _covering(folder / "x") is None and _nearest(folder) != folder:
        mark(folder, "files")
    return path


def check_removable(root: Path) -> None:
    """Refuse to delete ``root`` when it is the working directory or a folder above it."""
    here, target = Path.cwd().resolve(), Path(root).resolve()
    if target == here or target in here.parents:
        raise GankitError(f"--force will not delete '{root}': it is the current directory or a folder above it")


def move_aside(path: Path) -> Path | None:
    """Rename the location ``path`` out of the way (one rename, so it is never half gone) and
    return the folder now holding it, for :func:`discard`; None when ``path`` is absent or empty."""
    if not path.is_dir() or is_empty(path):
        return None
    marker = bound_marker(path)
    foreign = foreign_entries(path, marker) if marker is not None else ["(no marker)"]
    if foreign:  # checked again: the folder may have changed since check_new
        raise GankitError(f"--force will not replace '{path}': it holds entries gankit did not write "
                          f"({', '.join(foreign)}); move them out of it")
    check_removable(path)
    try:
        aside = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".replaced"))
        os.replace(path, aside / path.name)
    except OSError as exc:
        raise OutputError(f"could not move '{path}' aside to replace it ({exc.strerror}); nothing was deleted") \
            from None
    fsync_folder(path.parent)
    return aside


def discard(aside: Path | None) -> None:
    """Delete what :func:`move_aside` moved out of the way."""
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def create(path: Path, kind: str, entries: set[str] | frozenset[str] = frozenset()) -> Marker:
    """Make ``path`` (absent or empty) and mark it as a new location of ``kind``."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, path, existed=False) from None
    if os.path.lexists(path / MARKER_NAME):  # a files marker of an emptied folder: start afresh
        (path / MARKER_NAME).unlink()
    record(path)  # a location made inside another (a sweep's runs) is listed by it
    return mark(path, kind, entries)


def new_location(path: str | Path, kind: str, *, force: bool = False, option: str = "--out") -> Path:
    """A fresh location of ``kind`` at ``path`` (see :func:`check_new`), an earlier one of
    gankit's there moved aside and deleted with ``force``; every file written into it later
    through ``files/atomic.py`` is recorded. Returns the resolved path."""
    path = check_new(path, kind, force=force, option=option)
    clean_stale_beside(path)
    aside = move_aside(path) if path.is_dir() and bound_marker(path) is not None else None
    create(path, kind)
    discard(aside)
    return path


def clean_stale(folder: Path) -> list[str]:
    """Remove the temporary files and folders a killed gankit left in its own location
    (``.NAME.XXXXXXXX.tmp`` beside what it was writing, in folders its manifest lists);
    return their names. A folder that is not bound to gankit is left alone."""
    marker = bound_marker(folder)
    if marker is None:
        return []
    removed = []
    for directory, subfolders, files in os.walk(folder):
        relative = Path(directory).relative_to(folder).as_posix()
        prefix = "" if relative == "." else relative + "/"
        for name in [*files, *subfolders]:
            target = Path(directory) / name
            if TEMP_NAME.match(name) and not target.is_symlink():
                if target.is_dir():
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    target.unlink(missing_ok=True)
                removed.append(prefix + name)
        subfolders[:] = [name for name in subfolders if f"{prefix}{name}/" in marker.entries
                         and not TEMP_NAME.match(name) and not (Path(directory) / name).is_symlink()]
    return removed


def _older_run(folder: Path) -> bool:
    """A run folder of an older gankit: its unbound marker, or config, records and checkpoints."""
    return os.path.lexists(folder / LEGACY_MARKER) or all(
        (folder / name).is_file() for name in ("config.toml", "metrics.jsonl")) and (folder / "checkpoints").is_dir()


def clean_stale_beside(path: Path) -> list[str]:
    """Remove what a killed gankit left beside the location ``path``: a half-written folder
    (``.NAME.XXXXXXXX.tmp``, its marker bound inside) or a replaced one not yet deleted
    (``.NAME.XXXXXXXX.replaced`` holding only ``NAME``, bound). Nothing unmarked is touched."""
    removed = []
    try:
        siblings = list(os.scandir(path.parent))
    except OSError:
        return removed
    for sibling in siblings:
        if not (sibling.name.startswith(f".{path.name}.") and TEMP_NAME.match(sibling.name)) or sibling.is_symlink() \
                or not sibling.is_dir():
            continue
        inside = Path(sibling.path)
        if sibling.name.endswith(".tmp"):
            ours = bound_marker(inside) is not None
        else:
            names = os.listdir(inside)
            ours = names == [path.name] and bound_marker(inside / path.name) is not None
        if ours:
            shutil.rmtree(inside, ignore_errors=True)
            removed.append(sibling.name)
    return removed


def check_run(path: str | Path) -> None:
    """Refuse, without writing anything, a folder a command may not update as a run: not
    gankit's run, nor a run of an older gankit or one restored from an archive."""
    folder = Path(path)
    marker = bound_marker(folder)
    if marker is not None:
        if marker.kind != "run":
            raise GankitError(f"'{folder}' holds {KINDS[marker.kind]}, not a training run")
        return
    if not (folder / "config.toml").is_file():
        raise GankitError(f"'{folder}' is not a run folder (no config.toml)")
    copied = read_marker(folder)
    if not (_older_run(folder) or (copied is not None and copied.kind == "run")):
        raise GankitError(f"'{folder}' is not a run folder gankit wrote (no marker, metrics.jsonl or checkpoints/); "
                          "gankit writes only into its own run folders")


def own_run(path: str | Path) -> Marker:
    """The marker of the run folder ``path``, which a command updates (resume, report, DRS)
    while holding its lock: bound already, or a run of an older gankit (or one restored from
    an archive) adopted now, its run-layout files recorded and anything else left foreign."""
    check_run(path)
    folder = Path(path)
    marker = bound_marker(folder)
    if marker is not None:
        return marker
    entries: set[str] = set()
    for directory, subfolders, files in os.walk(folder):
        for name in files:
            relative = (Path(directory) / name).relative_to(folder).as_posix()
            if RUN_LAYOUT.match(relative) and not os.path.islink(Path(directory) / name):
                entries |= _entries(relative)
        subfolders[:] = [name for name in subfolders if not os.path.islink(Path(directory) / name)]
    if os.path.lexists(folder / LEGACY_MARKER):
        entries.add(LEGACY_MARKER)
    return mark(folder, "run", entries)


def output_kind(folder: Path) -> str | None:
    """The kind of output gankit marked ``folder`` as (bound or not; an older run is a run)."""
    if os.path.lexists(folder / LEGACY_MARKER):
        return "run"
    marker = read_marker(folder)
    return marker.kind if marker is not None else None


def is_output(folder: Path) -> bool:
    """Whether ``folder`` is an output location of gankit's that a data scan must skip
    (any marked folder but a ``files`` one, whose listed files :func:`listed_files` gives)."""
    return output_kind(folder) not in (None, "files")


def governed(path: str | Path) -> bool:
    """Whether the file ``path`` lies in a location gankit marked (bound or not): never data to move."""
    folder = _nearest(_absolute(path).parent)
    return folder is not None and (output_kind(folder) != "files" or Path(path).name in listed_files(folder))


def listed_files(folder: Path) -> set[str]:
    """Names of the files a bound ``files`` marker in ``folder`` lists (written by gankit, not data)."""
    marker = bound_marker(folder)
    if not (marker and marker.kind == "files"):
        return set()
    return {entry for entry in marker.entries if "/" not in entry and marker.owns(entry, folder / entry)}
