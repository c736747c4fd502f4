"""``metrics.jsonl``: one JSON object per logged epoch, appended as training goes.

Reading is tolerant: a line that is not a record (torn by a crash, edited by hand, not
UTF-8, ``[1, 2, 3]``, ``{"epoch": "abc"}``, one without the epoch's losses) is skipped with
a warning, never fatal.
When gankit rewrites the log (on ``--resume``) such lines are moved, byte for byte, to
``metrics.rejected.jsonl`` beside it, so nothing a user had is ever silently lost; an
epoch logged twice keeps its later record there too.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from gankit.catalogue import LIST_KEYS, TEXT_KEYS  # text or list values; the rest numbers
from gankit.errors import GankitError
from gankit.files.atomic import append_line, output_error, write_bytes
from gankit.files.reading import optional_file, read_bytes

REJECTED_NAME = "metrics.rejected.jsonl"
# The losses every epoch's record holds (a value may be null): curves and progress read them.
LOSS_KEYS = ("g_loss", "d_loss_real", "d_loss_fake")


@dataclass
class MetricsLog:
    """The records of a ``metrics.jsonl``, and the lines that were not records."""

    records: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[int, bytes, str]] = field(default_factory=list)  # (line number, raw line, why)
    superseded: list[bytes] = field(default_factory=list)  # earlier records of an epoch logged twice

    def warning(self, path: Path) -> str:
        """One line saying what was skipped, or '' when every line was a record."""
        if not self.rejected and not self.superseded:
            return ""
        parts = [f"line {number}: {why}" for number, _, why in self.rejected[:3]]
        more = f" and {len(self.rejected) - 3} more" if len(self.rejected) > 3 else ""
        text = f"{path}: skipped {len(self.rejected)} line(s) that are not metric records ({'; '.join(parts)}{more})" \
            if self.rejected else f"{path}:"
        if self.superseded:
            text += f"{';' if self.rejected else ''} {len(self.superseded)} epoch(s) logged twice (the later record kept)"
        return text


def _clean(value: Any) -> Any:
    """JSON has no NaN/Inf: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _problem(record: Any) -> str:
    """Why a parsed line is not a record, or '' when it is one."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    for key in ("epoch", "step"):
        value = record.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"'{key}' is {json.dumps(value)}, not a count"
    missing = [key for key in LOSS_KEYS if key not in record]
    if missing:
        return f"no '{missing[0]}' (every epoch's record holds {', '.join(LOSS_KEYS)})"
    for key, value in record.items():
        if key in LIST_KEYS:
            if value is not None and not isinstance(value, list):
                return f"'{key}' is not a list"
        elif key in TEXT_KEYS:
            if value is not None and not isinstance(value, str):
                return f"'{key}' is not text"
        elif value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"'{key}' is {json.dumps(value)[:40]}, not a number"
    return ""


def read_log(path: str | Path) -> MetricsLog:
    """Parse ``path`` line by line (see module doc); a missing file is an empty log, and a
    FIFO or device in its place a GankitError (reading it would wait forever)."""
    log = MetricsLog()
    if optional_file(path, "metrics log", GankitError) is None:
        return log
    raw = read_bytes(path, "metrics log", GankitError)
    kept: dict[int, tuple[dict[str, Any], bytes]] = {}  # epoch -> its latest record and line
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            log.rejected.append((number, line, "not UTF-8 text"))
            continue
        except ValueError:
            log.rejected.append((number, line, "not JSON (torn or edited)"))
            continue
        why = _problem(record)
        if why:
            log.rejected.append((number, line, why))
            continue
        if record["epoch"] in kept:
            log.superseded.append(kept[record["epoch"]][1])
        kept[record["epoch"]] = (record, line)
    log.records = sorted((record for record, _ in kept.values()), key=lambda r: r["step"])
    return log


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def read_records(path: str | Path, on_warning: Callable[[str], None] | None = warn) -> list[dict[str, Any]]:
    """The valid records of ``metrics.jsonl``; skipped lines are reported to ``on_warning``."""
    log = read_log(path)
    if on_warning is not None and (message := log.warning(Path(path))):
        on_warning(message)
    return log.records


def append_record(path: str | Path, record: dict[str, Any]) -> None:
    """Append one record as a line, fsynced; a failed write leaves no torn line."""
    append_line(path, json.dumps({k: _clean(v) for k, v in record.items()}, sort_keys=False))


def truncate_records(path: str | Path, max_step: int,
                     on_warning: Callable[[str], None] | None = warn) -> list[dict[str, Any]]:
    """Keep the records up to ``max_step`` (on resume, so replayed epochs log once), written
    back atomically; lines that are not records go to ``metrics.rejected.jsonl``."""
    path = Path(path)
    log = read_log(path)
    kept = [r for r in log.records if r["step"] <= max_step]
    set_aside = [line for _, line, _ in log.rejected] + log.superseded
    if set_aside:
        rejected = path.with_name(REJECTED_NAME)
        try:
            with open(rejected, "ab") as handle:
                handle.write(b"".join(line + b"\n" for line in set_aside))
        except OSError as exc:
            raise output_error(exc, rejected, existed=rejected.exists()) from None
        if on_warning is not None:
            on_warning(f"{log.warning(path)}; moved them to {rejected}")
    if path.exists():
        write_bytes(path, "".join(json.dumps(r) + "\n" for r in kept).encode("utf-8"))
    return kept


def write_json(path: str | Path, payload: dict[str, Any]) -> None:
    """A small JSON file (NaN/Inf as null), written atomically."""
    text = json.dumps({k: _clean(v) for k, v in payload.items()}, indent=2) + "\n"
    write_bytes(path, text.encode("utf-8"))
