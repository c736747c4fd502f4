"""The run folder (layout in docs/files.md): its paths, and how a new one is made.

Whose a folder is follows the one rule of ``files/owner.py``: a run goes only into a
folder that does not exist or is empty, and ``--force`` replaces only a run folder gankit
recorded, holding nothing but the files it wrote, never the current directory or a
folder above it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gankit.files import owner
from gankit.files.lock import RunLock

MARKER_NAME = owner.MARKER_NAME
AGAIN = "continue it with --resume"


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
    def evaluator_check(self) -> Path:
        return self.root / "evaluator_check.json"

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
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tb"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / "best.pt"

    def checkpoint(self, name: str) -> Path:
        """``checkpoints/NAME.pt`` (``last``, ``best``, ``epoch_0003``)."""
        return self.checkpoints / f"{name}.pt"

    def sample_grid(self, epoch: int) -> Path:
        return self.samples / f"epoch_{epoch:04d}.png"

    def sample_grids(self) -> list[Path]:
        """The sample pictures of every epoch that drew one, oldest first."""
        return sorted(p for p in self.samples.glob("epoch_*.png") if p.is_file())

    def plot(self, name: str) -> Path:
        return self.plots / f"{name}.png"

    @property
    def marker(self) -> Path:
        return self.root / MARKER_NAME

    def check_new(self, *, force: bool = False) -> None:
        """Raise what :meth:`create` would refuse, without touching anything."""
        owner.check_new(self.root, "run", force=force, again=AGAIN)

    def create(self, *, force: bool = False, command: str = "gankit train") -> RunLock:
        """Make a fresh run folder and return its lock, held. With ``force`` an earlier run
        there is moved aside and deleted, under its own lock (refused while another process
        writes it) and only when it holds nothing gankit did not write."""
        root = self.root
        owner.check_new(root, "run", force=force, again=AGAIN)
        owner.clean_stale_beside(root)
        aside = None
        if root.is_dir() and owner.bound_marker(root) is not None:
            with RunLock(root, f"{command} --force"):  # raises RunLocked while another process writes the run
                aside = owner.move_aside(root)
        owner.create(root, "run", {"checkpoints/", "samples/", "plots/"})
        owner.discard(aside)
        lock = RunLock(root, command).acquire()
        for folder in (self.checkpoints, self.samples, self.plots):
            folder.mkdir(exist_ok=True)
        return lock
