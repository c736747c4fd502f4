"""Finding run folders to compare and naming each by the settings that set it apart.

A comparison names runs by the config values that differ between them (``objective=bce,
epochs=25``), not by folder paths: that is what a reader of the figure wants to know,
and it stays right when shards of one sweep were written to different folders.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gankit.config import load_config
from gankit.errors import GankitError
from gankit.experiments.grid import short_names
from gankit.files.reading import optional_file
from gankit.files.records import read_records
from gankit.numbers import float_text
from gankit.files.rundir import RunPaths

# Settings that say where or how verbosely a run trained, not what it is.
NOT_SETTINGS = frozenset({"description", "train.progress", "train.device"})
SEARCH_DEPTH = 3


@dataclass
class ComparedRun:
    """A run folder's flat config, metric records, final metrics and latest sample picture."""

    path: Path
    settings: dict[str, Any]
    records: list[dict[str, Any]]
    final: dict[str, Any]
    label: str = ""
    varied: dict[str, str] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return bool(self.final)

    @property
    def last_sample(self) -> Path | None:
        pictures = RunPaths(self.path).sample_grids()
        return pictures[-1] if pictures else None


def _is_run(path: Path) -> bool:
    return RunPaths(path).config.is_file()


def _sweep_order(folder: Path) -> dict[str, int]:
    """Run name -> position in the grid, when ``folder`` is a sweep folder (so runs keep grid order)."""
    if optional_file(folder / "sweep.json", "sweep file", GankitError) is None:
        return {}
    try:
        runs = json.loads((folder / "sweep.json").read_text(encoding="utf-8")).get("runs", [])
        return {str(run["name"]): index for index, run in enumerate(runs)}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def _search(folder: Path, depth: int) -> list[Path]:
    found = []
    order = _sweep_order(folder)
    children = sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                      key=lambda p: (order.get(p.name, len(order)), p.name))
    for child in children:
        if _is_run(child):
            found.append(child)
        elif depth > 1:
            found.extend(_search(child, depth - 1))
    return found


def find_runs(paths: Sequence[str | Path], notes: list[str] | None = None) -> list[Path]:
    """Run folders among ``paths``: each is a run folder (it has config.toml) or a folder
    holding run folders up to three levels down (a sweep folder, a folder of shard outputs).
    Plain files among several paths (``sweep.json`` from a shell glob ``runs/sweep/*``) are
    skipped with a note in ``notes``."""
    if not paths:
        raise GankitError("nothing to compare: give run folders or folders that hold them (e.g. a sweep folder)")
    runs: list[Path] = []
    for item in map(Path, paths):
        if item.is_file() and len(paths) > 1 and notes is not None:
            notes.append(f"{item}: a file, not a run folder; skipped")
            continue
        if not item.exists():
            raise GankitError(f"'{item}' does not exist")
        if _is_run(item):
            found = [item]
        elif item.is_dir():
            found = _search(item, SEARCH_DEPTH)
            if not found:
                raise GankitError(f"'{item}' is not a run folder (no config.toml) and holds none "
                                  f"(searched {SEARCH_DEPTH} levels down)")
        else:
            raise GankitError(f"'{item}' is not a run folder: give a folder with config.toml and metrics.jsonl")
        runs.extend(p for p in found if p.resolve() not in {r.resolve() for r in runs})
    return runs


def _flat_settings(path: Path) -> dict[str, Any]:
    try:
        config = load_config(RunPaths(path).config)
    except GankitError as exc:
        raise GankitError(f"{path}: its config.toml cannot be read: {exc}") from None
    flat = {"description": config.description}
    for section, values in config.to_dict().items():
        if isinstance(values, dict):
            flat.update({f"{section}.{key}": value for key, value in values.items()})
    return flat


def _final(path: Path) -> dict[str, Any]:
    file = RunPaths(path).final_metrics
    if optional_file(file, "run file", GankitError) is None:
        return {}
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except ValueError:  # not JSON, or not UTF-8
        return {}


def value_text(value: Any) -> str:
    """A setting as typed on the command line: ``16,16`` for lists, ``0.0002`` for floats."""
    if isinstance(value, (list, tuple)):
        return ",".join(value_text(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return float_text(value, None)
    return str(value)


def varied_keys(runs: Sequence[ComparedRun]) -> list[str]:
    """Config keys whose values differ between the runs, in config order."""
    if len(runs) < 2:
        return []
    keys = [k for k in runs[0].settings if k not in NOT_SETTINGS]
    return [k for k in keys if len({value_text(r.settings.get(k)) for r in runs}) > 1]


def label_runs(runs: Sequence[ComparedRun]) -> list[str]:
    """Set each run's ``varied`` values (by full key) and ``label`` (by short names, e.g.
    ``name=bce, epochs=25``); returns the varied keys."""
    keys = varied_keys(runs)
    names = short_names(keys)
    for run in runs:
        run.varied = {k: value_text(run.settings.get(k)) for k in keys}
        run.label = ", ".join(f"{names[k]}={v}" for k, v in run.varied.items()) or run.path.name
    labels = [r.label for r in runs]
    for run in runs:
        if labels.count(run.label) > 1:  # identical settings, e.g. the same run copied
            run.label = f"{run.label} ({run.path.parent.name}/{run.path.name})"
    return keys


def load_runs(paths: Sequence[str | Path]) -> tuple[list[ComparedRun], list[str]]:
    """Every run under ``paths`` with its records and label, and a warning per run left out
    because it has not logged an epoch yet; raises when no run is left."""
    runs, warnings = [], []
    for path in find_runs(paths, warnings):
        records = [r for r in read_records(RunPaths(path).metrics) if "epoch" in r]
        if not records:
            warnings.append(f"{path}: no epochs in metrics.jsonl yet; left out")
            continue
        runs.append(ComparedRun(path, _flat_settings(path), records, _final(path)))
    if not runs:
        raise GankitError("no run to compare has metrics: " + "; ".join(warnings))
    label_runs(runs)
    return runs, warnings
