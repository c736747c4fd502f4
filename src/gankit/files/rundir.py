"""The run folder (layout in GUIDE.md): its paths, and whose it is.

gankit writes a small marker, ``.gankit-run``, first into every run folder it creates.
Only a marked folder (or one written by an older gankit: ``config.toml`` and nothing
but run files) counts as gankit's: ``--force`` replaces only such a folder, never the
current directory or a folder above it, and a new run goes only into a folder that
does not exist yet, is empty, or is gankit's.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from gankit.errors import GankitError, OutputError
from gankit.files.atomic import fsync_folder, output_error, write_text
from gankit.files.lock import LOCK_NAME, RunLock

MARKER_NAME = ".gankit-run"
# What a run folder written by gankit may hold (older gankit wrote no marker).
RUN_ENTRIES = frozenset({
    "config.toml", "metrics.jsonl", "final_metrics.json", "checkpoints", "samples", "plots", "tb",
    "report.html", "skipped_files.txt", "drs_eval.json", "metrics.rejected.jsonl", MARKER_NAME, LOCK_NAME,
})


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def final_metrics(self) -> Path:
        return self.root / "final_metrics.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    @property
    def marker(self) -> Path:
        return self.root / MARKER_NAME

    def check_new(self, *, force: bool = False) -> None:
        """Raise what :meth:`create` would refuse, without touching anything."""
        root = self.root
        if root.exists() and not root.is_dir():
            raise GankitError(f"'{root}' is a file; --out must name a folder")
        if root.is_dir() and any(root.iterdir()):
            if not is_run_folder(root):
                raise GankitError(
                    f"'{root}' is not empty and is not a run folder made by gankit; gankit writes a new run "
                    "only into a new or empty folder (and --force replaces only its own run folders): "
                    "pick another --out")
            if not force:
                raise GankitError(f"'{root}' already holds a run; continue it with --resume, pick another "
                                  "--out, or pass --force to replace it")
            check_removable(root)

    def create(self, *, force: bool = False, command: str = "gankit train") -> RunLock:
        """Make a fresh run folder and return its lock, held. Refuses a folder that holds a
        run (unless ``force``) and any non-empty folder gankit did not make (see module doc)."""
        root = self.root
        self.check_new(force=force)
        if root.is_dir() and any(root.iterdir()):
            _remove_run_folder(root)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise output_error(exc, root, existed=False) from None
        self.mark()
        lock = RunLock(root, command).acquire()
        try:
            for folder in (self.checkpoints, self.samples, self.plots):
                folder.mkdir(exist_ok=True)
        except OSError as exc:
            lock.release()
            raise output_error(exc, folder, existed=False) from None
        return lock

    def mark(self) -> None:
        """Write the marker that says gankit made (or adopted) this folder, if it is missing."""
        if not self.marker.exists():
            write_text(self.marker, json.dumps({"made_by": "gankit", "created": time.strftime("%Y-%m-%d %H:%M:%S")})
                       + "\n")


def is_run_folder(root: str | Path) -> bool:
    """gankit's: marked, or (older runs) ``config.toml`` beside nothing but run files."""
    root = Path(root)
    if (root / MARKER_NAME).is_file():
        return True
    if not (root / "config.toml").is_file():
        return False
    return all(entry.name in RUN_ENTRIES or (entry.name.startswith(".") and entry.name.endswith(".tmp"))
               for entry in root.iterdir())


def check_removable(root: Path) -> None:
    """Refuse to delete ``root`` when it is the working directory or a folder above it."""
    here, target = Path.cwd().resolve(), root.resolve()
    if target == here or target in here.parents:
        raise GankitError(f"--force will not delete '{root}': it is the current directory or a folder above it")


def _remove_run_folder(root: Path) -> None:
    """Delete a run folder for ``--force``: never the working directory or one above it,
    never while another process holds its lock. It is first moved aside in one rename,
    so a crash midway never leaves half a run under its name."""
    check_removable(root)
    target = root.resolve()
    with RunLock(root, "gankit train --force"):  # raises RunLocked while another process writes the run
        try:
            aside = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".replaced"))
            os.replace(target, aside / target.name)
        except OSError as exc:
            raise OutputError(f"could not move '{root}' aside to replace it ({exc.strerror}); "
                              "nothing was deleted") from None
    fsync_folder(target.parent)
    shutil.rmtree(aside, ignore_errors=True)
