"""``gankit.sweep``: train every point of a config grid, one run folder each, restartable.

A sweep folder holds ``sweep.json`` (target, grid, fixed overrides, run list) and one
run folder per grid point. Running the same sweep again skips finished runs, resumes
interrupted ones from their checkpoint and restarts runs that never saved one, so a
killed job (or a cluster pre-emption) just needs to be started again. ``shard=(i, n)``
runs every n-th point from the i-th, so n jobs share one grid; ``gankit compare``
merges their folders.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gankit.config import Config, load_config
from gankit.errors import GankitError, TrainingInterrupted
from gankit.files import owner
from gankit.files.atomic import write_text
from gankit.experiments.grid import (
    GridPoint,
    expand,
    normalise_grid,
    parse_shard,
    shard_points,
    validate_points,
)
from gankit.files.checkpoint import epoch_checkpoints
from gankit.files.reading import optional_file
from gankit.files.rundir import RunPaths

SWEEP_FILE = "sweep.json"
# Settings that may change between a run's start and its resumption without making it another run.
RESUMABLE_CHANGES = frozenset({"train.epochs", "train.progress", "train.device"})


@dataclass
class SweepRun:
    """One grid point's run folder and what this sweep did with it.

    ``status``: ``trained`` (fresh), ``resumed`` (from its checkpoint), ``restarted`` (had a
    config but no checkpoint), ``skipped`` (already finished), ``failed`` (``message`` says
    why), or in a dry run the planned action: ``new``, ``resume``, ``restart``, ``finished``.
    """

    name: str
    path: Path
    overrides: list[str]
    status: str = "new"
    message: str = ""
    final: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status == "failed"


def _target_text(target: str | Path) -> str:
    """A preset name as is; a file or run folder as an absolute path (so reruns from
    another working directory are recognised as the same sweep)."""
    path = Path(str(target))
    return str(path.resolve()) if path.exists() else str(target)


def _read_final(path: Path) -> dict[str, Any]:
    file = RunPaths(path).final_metrics
    if optional_file(file, "run file", GankitError) is None:
        return {}
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, not JSON, or not UTF-8
        return {}


def run_state(path: Path, epochs: int) -> str:
    """``finished`` (final_metrics.json at ``epochs``, or stopped early by ``train.stop_at``),
    ``resume`` (config.toml and a checkpoint), ``restart`` (config.toml, no checkpoint) or ``new``."""
    final = _read_final(path)
    if final and (final.get("epoch") == epochs or final.get("stopped_by")):
        return "finished"
    paths = RunPaths(path)
    if not paths.config.is_file():
        return "new"
    if paths.last_checkpoint.is_file() or epoch_checkpoints(paths.checkpoints):
        return "resume"
    return "restart"


def _flat(config: Config) -> dict[str, Any]:
    return {f"{section}.{key}": value for section, values in config.to_dict().items() if isinstance(values, dict)
            for key, value in values.items()}


def _foreign_keys(path: Path, expected: Config) -> list[str]:
    """Config keys in which the run already in ``path`` differs from this grid point's config."""
    try:
        existing = _flat(load_config(RunPaths(path).config))
    except GankitError:
        return ["config.toml (unreadable)"]
    wanted = _flat(expected)
    return sorted(k for k in wanted if k not in RESUMABLE_CHANGES and existing.get(k) != wanted[k])


def _manifest(target: str | Path, grid: dict[str, list[str]], overrides: list[str],
              points: Sequence[GridPoint]) -> dict[str, Any]:
    return {"target": _target_text(target), "grid": grid, "overrides": overrides,
            "runs": [{"name": p.name, "overrides": p.overrides} for p in points]}


def _check_manifest(out: Path, manifest: dict[str, Any], write: bool = True) -> None:
    """Write ``sweep.json`` (unless ``write`` is false), or refuse when the folder holds another sweep."""
    path = out / SWEEP_FILE
    if optional_file(path, "sweep file", GankitError) is not None:
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            raise GankitError(f"{path} is not valid JSON; delete it to adopt the folder for this sweep") from None
        differs = [key for key in ("target", "grid", "overrides") if stored.get(key) != manifest[key]]
        if differs:
            detail = "; ".join(f"{key}: stored {stored.get(key)!r}, now {manifest[key]!r}" for key in differs)
            raise GankitError(f"'{out}' holds a different sweep ({detail}). Re-run it with the same TARGET, "
                              "--grid and KEY=VALUE settings, or give another --out")
        return
    if not write:
        return
    write_text(path, json.dumps(manifest, indent=2) + "\n")


def _sweep_folder(out: str | Path, create: bool) -> Path:
    """``out`` as a sweep location of gankit's: the one it made there earlier (continued), or
    a new one in a new or empty folder (``files/owner.py``)."""
    out = owner.resolve_output(out)
    marker = owner.bound_marker(out) if out.is_dir() else None
    if marker is not None and marker.kind == "sweep":
        return out
    if not create:
        return owner.check_new(out, "sweep")
    return owner.new_location(out, "sweep")


def plan(target: str | Path, grid: Mapping[str, Any] | Sequence[str], overrides: Sequence[str] = (),
         shard: str | tuple[int, int] | None = None) -> tuple[list[GridPoint], list[GridPoint], dict[str, Config]]:
    """Every grid point, the slice this job runs, and each point's resolved config; raises
    ConfigError for any bad key or value before anything is trained."""
    normalised = normalise_grid(grid)
    points = expand(normalised)
    configs = validate_points(target, points, list(overrides))
    return points, shard_points(points, parse_shard(shard)), configs


def _train_point(target: str | Path, run: SweepRun, state: str, progress: list[str]) -> str:
    from gankit.run import train

    overrides = [*run.overrides, *progress]
    if state == "resume":
        train(run.path, overrides=overrides, out=run.path, resume=True)
        return "resumed"
    train(target, overrides=overrides, out=run.path, force=state == "restart")
    return "restarted" if state == "restart" else "trained"


def sweep(target: str | Path, grid: Mapping[str, Any] | Sequence[str], *, overrides: Sequence[str] = (),
          out: str | Path, shard: str | tuple[int, int] | None = None, dry_run: bool = False,
          progress: bool = True, log: Callable[[str], None] | None = print) -> list[SweepRun]:
    """Train the cartesian product of ``grid`` (``{"objective.name": ["bce", "lsgan"]}`` or
    ``["objective.name=bce,lsgan"]``) on ``target`` (a preset or .toml) with the fixed
    ``overrides``, one run folder per point inside ``out``; return what happened to each.

    A run that raises a :class:`GankitError` (e.g. divergence) is marked ``failed`` and the
    sweep goes on; Ctrl-C stops the sweep (the run's checkpoint is kept for the next call).
    """
    out = _sweep_folder(out, create=False)  # refused at once, made only once the grid is valid
    # Progress bars are not part of what a run is: kept out of sweep.json and the names.
    display = [str(o) for o in overrides if str(o).partition("=")[0].strip() == "train.progress"]
    display = display or ([] if progress else ["train.progress=false"])
    overrides = [str(o) for o in overrides if str(o) not in display]
    points, mine, configs = plan(target, grid, overrides, shard)
    if not dry_run:
        _sweep_folder(out, create=True)
    _check_manifest(out, _manifest(target, normalise_grid(grid), overrides, points), write=not dry_run)
    if not mine and log:
        index, count = parse_shard(shard)
        log(f"--shard {index}/{count}: the grid has {len(points)} run(s), so this slice has nothing to run")
    results = []
    for number, point in enumerate(mine, 1):
        run = SweepRun(point.name, out / point.name, [*overrides, *point.overrides])
        state = run_state(run.path, configs[point.name].train.epochs)
        foreign = _foreign_keys(run.path, configs[point.name]) if state in ("resume", "finished") else []
        if foreign:
            run.status = "failed"
            run.message = (f"{run.path} holds a run with other settings ({', '.join(foreign[:4])}); "
                           "move it away or use another --out")
        elif dry_run:
            run.status = state
        elif state == "finished":
            run.status = "skipped"
        else:
            if log:
                action = {"new": "training", "resume": "resuming", "restart": "restarting"}[state]
                log(f"[{number}/{len(mine)}] {action} {run.name}")
            try:
                run.status = _train_point(target, run, state, display)
            except GankitError as exc:
                if isinstance(exc, TrainingInterrupted):
                    raise TrainingInterrupted(f"{exc}; or run the same sweep again: it resumes this run and "
                                              "skips the finished ones") from None
                run.status, run.message = "failed", str(exc)
        if run.failed and log:
            log(f"[{number}/{len(mine)}] {run.name} failed: {run.message}")
        run.final = _read_final(run.path)
        results.append(run)
    return results
