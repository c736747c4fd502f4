"""The run folder: the single source of truth about a run (layout in GUIDE.md)."""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gankit.errors import GankitError


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

    def create(self, *, force: bool = False) -> None:
        """Make a fresh run folder; refuse to mix with an existing run unless ``force``."""
        if self.config.exists():
            if not force:
                raise GankitError(
                    f"'{self.root}' already holds a run; continue it with --resume, "
                    "pick another --out, or pass --force to replace it"
                )
            shutil.rmtree(self.root)
        for folder in (self.root, self.checkpoints, self.samples, self.plots):
            folder.mkdir(parents=True, exist_ok=True)


def _clean(value: Any) -> Any:
    """JSON has no NaN/Inf: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON object as a line and flush it to disk."""
    line = json.dumps({k: _clean(v) for k, v in record.items()}, sort_keys=False)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every complete JSON line of ``metrics.jsonl`` (a torn last line is ignored)."""
    if not Path(path).exists():
        return []
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def truncate_records(path: Path, max_step: int) -> list[dict[str, Any]]:
    """Keep only records up to ``max_step`` (used on resume, so replayed epochs log once)."""
    kept = [r for r in read_records(path) if r.get("step", 0) <= max_step]
    tmp = Path(path).with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
    os.replace(tmp, path)
    return kept


def write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps({k: _clean(v) for k, v in payload.items()}, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
