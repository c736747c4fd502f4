"""What the HTML report reads from a run folder, gathered once and tolerant of missing
or half-written files (the page is rewritten while training still appends to them).

The report is a pure function of these files, so it can be rebuilt at any time
(``gankit report RUN``) and describes exactly what the folder holds.
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from gankit.catalogue import BOOKKEEPING_KEYS, SAMPLE_COUNT_KEYS
from gankit.errors import GankitError
from gankit.files.atomic import write_text
from gankit.files.reading import optional_file
from gankit.files.records import read_records
from gankit.files.rundir import RunPaths

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# Sample counts and sizes: shown as integers in the caption, not as metrics.
COUNT_KEYS = SAMPLE_COUNT_KEYS
DRS_FILE = "drs_eval.json"
CHECK_FILE = "evaluator_check.json"  # the feature-space check of the run's evaluator on its data
SKIP_LIST = "skipped_files.txt"
SAMPLE_NAME = re.compile(r"epoch_(\d+)\.png$")


@dataclass
class Status:
    """Where the run stands: ``state`` is ``finished``, ``stopped`` or ``in progress``."""

    state: str
    text: str


@dataclass
class RunFiles:
    """Everything the report shows, read from one run folder."""

    root: Path
    config_text: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] | None = None
    drs_eval: dict[str, Any] | None = None
    evaluator_check: dict[str, Any] | None = None
    samples: list[tuple[int, str]] = field(default_factory=list)  # (epoch, relative path), newest first
    plots: dict[str, str] = field(default_factory=dict)  # "losses"/"metrics" -> relative path
    memorisation_plot: str | None = None  # plots/memorisation.png, relative, once the final evaluation wrote it
    skipped_count: int = 0
    updated: float = 0.0  # newest modification time among the files read

    def setting(self, section: str, key: str, default: Any = None) -> Any:
        value = self.config.get(section, {})
        return value.get(key, default) if isinstance(value, dict) else default

    @property
    def latest_epoch(self) -> int:
        epochs = [r["epoch"] for r in self.records if isinstance(r.get("epoch"), int)]
        return max(epochs, default=0)

    @property
    def finished(self) -> bool:
        """final_metrics.json exists and is not older than the log (a resumed run that
        continues past its earlier end is in progress again)."""
        epoch = self.final.get("epoch") if self.final is not None else None
        return isinstance(epoch, int) and epoch >= self.latest_epoch


def _read_json(path: Path) -> dict[str, Any] | None:
    if optional_file(path, "run file", GankitError) is None:
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _versioned(root: Path, path: Path) -> str:
    """Relative URL with the file's mtime as a query, so a reloaded page shows new images."""
    relative = quote(path.relative_to(root).as_posix())
    try:
        return f"{relative}?v={path.stat().st_mtime_ns // 1_000_000}"
    except OSError:  # replaced or removed since it was listed
        return relative


def read_run_files(run_dir: str | Path, on_warning: Callable[[str], None] | None = None) -> RunFiles:
    """Gather the run folder's files; any of them may be missing or damaged (a damaged
    line of metrics.jsonl is skipped and reported to ``on_warning``)."""
    root = Path(run_dir)
    paths = RunPaths(root)
    files = RunFiles(root=root)
    config_path = paths.config
    try:
        optional_file(config_path, "run file", GankitError)
        files.config_text = config_path.read_text(encoding="utf-8")
        files.config = tomllib.loads(files.config_text)
    except (OSError, ValueError):  # missing, not UTF-8, or not TOML
        files.config = {}
    files.records = read_records(paths.metrics, on_warning=on_warning)
    files.final = _read_json(paths.final_metrics)
    files.drs_eval = _read_json(root / DRS_FILE)
    files.evaluator_check = _read_json(root / CHECK_FILE)
    samples = []
    for path in paths.sample_grids():
        match = SAMPLE_NAME.search(path.name)
        if match:
            samples.append((int(match.group(1)), _versioned(root, path)))
    files.samples = sorted(samples, reverse=True)
    for name in ("losses", "metrics"):
        path = paths.plot(name)
        if path.is_file():
            files.plots[name] = _versioned(root, path)
    if paths.plot("memorisation").is_file():
        files.memorisation_plot = _versioned(root, paths.plot("memorisation"))
    try:
        optional_file(root / SKIP_LIST, "run file", GankitError)
        lines = (root / SKIP_LIST).read_text(encoding="utf-8", errors="replace").splitlines()
        files.skipped_count = sum(1 for line in lines if line.strip() and not line.startswith("#"))
    except OSError:
        pass
    mtimes = [p.stat().st_mtime for p in (config_path, paths.metrics, paths.final_metrics)
              if p.exists()]
    files.updated = max(mtimes, default=time.time())
    return files


def run_status(files: RunFiles) -> Status:
    """finished / stopped by an early-stop rule / in progress at epoch X of Y."""
    if files.finished:
        stopped_by = files.final.get("stopped_by") if files.final else None
        if stopped_by:
            return Status("stopped", f"stopped early: {stopped_by}")
        return Status("finished", f"finished after {files.final.get('epoch', files.latest_epoch)} epochs")
    total = files.setting("train", "epochs", "?")
    return Status("in progress", f"in progress at epoch {files.latest_epoch} of {total}")


def is_evaluation(record: dict[str, Any]) -> bool:
    return any(key not in BOOKKEEPING_KEYS for key in record)


def latest_metrics(files: RunFiles) -> tuple[dict[str, Any], int | None]:
    """The final metrics once finished, else those of the latest evaluated epoch; and that epoch."""
    if files.finished and files.final is not None and is_evaluation(files.final):
        return files.final, files.final.get("epoch")
    for record in reversed(files.records):
        if is_evaluation(record):
            return record, record.get("epoch")
    return {}, None


def active_diagnostics(files: RunFiles) -> tuple[list[dict[str, Any]] | None, int | None]:
    """The detector's active findings and the epoch they were checked at.

    Once finished: final_metrics.json's ``diagnostics``. In progress: the newest record's
    (the trainer writes the key only while something is wrong, so a newest record without
    it means nothing is active). None when a finished run's files hold no diagnostics at
    all (written before the detector existed).
    """
    if files.finished and files.final is not None:
        found = files.final.get("diagnostics")
        return (found, files.final.get("epoch")) if isinstance(found, list) else (None, None)
    if not files.records:
        return None, None
    last = files.records[-1]
    found = last.get("diagnostics")
    return (found if isinstance(found, list) else []), last.get("epoch")


def resolved_diagnostics(files: RunFiles, active: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Findings of earlier epochs that are no longer active, each with the last epoch it was seen."""
    current = {(d.get("kind"), d.get("since_epoch")) for d in active or [] if isinstance(d, dict)}
    earlier: dict[tuple[Any, Any], dict[str, Any]] = {}
    for record in files.records:
        for item in record.get("diagnostics") or []:
            if isinstance(item, dict) and (item.get("kind"), item.get("since_epoch")) not in current:
                earlier[(item.get("kind"), item.get("since_epoch"))] = {**item, "last_epoch": record.get("epoch")}
    return list(earlier.values())


def _json_safe(value: Any) -> Any:
    """JSON has no NaN/Inf (browsers and jq reject them): write them as null, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_drs_eval(run_dir: str | Path, plain: dict[str, Any], drs: dict[str, Any], *, n: int, seed: int,
                   settings: dict[str, Any], acceptance: dict[str, Any]) -> Path:
    """``RUN/drs_eval.json``: the same metrics on plain and on DRS-accepted samples, with
    the sample count, seed, the DRS settings and the acceptance statistics."""
    payload = {"plain": plain, "drs": drs, "n": n, "seed": seed, "settings": settings, "acceptance": acceptance,
               "written": time.strftime("%Y-%m-%d %H:%M:%S")}
    return write_text(Path(run_dir) / DRS_FILE, json.dumps(_json_safe(payload), indent=2) + "\n")
