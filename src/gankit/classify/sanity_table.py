"""The result of a feature-space sanity check: numbers, expected directions, and verdicts.

A row is one degradation at one severity; a cell is one metric there: its value, its
bootstrap spread, its change from the clean baseline, the direction the metric's definition
says it should move, the direction it did move, and whether that held.

**Expected directions** come from what each metric measures, not from results:
FID is a distance between the two image distributions, so every defect that changes the
distribution should raise it; precision is fidelity (the share of generated images inside
the real images' k-NN balls), so defects that push images off the real manifold should lower
it, while defects made of clean real images (collapse, a class swap) should not; recall is
diversity (the share of real images inside the generated images' balls), so collapse and a
class swap should lower it, and for pure fidelity defects nothing is claimed ("none");
coverage (the share of real images whose ball holds a generated one) falls with both kinds.
Exact copies of reference images are real images: FID, precision, recall and coverage should
not call them worse (that they may look *better* is the blind spot the row exposes), and
memorisation, which looks for near-copies, should rise. Memorisation should not rise for any
other defect: none of them copies a reference image.

**Moved, beyond noise**: a change counts only when |Δ| > z · √(σ_baseline² + σ_degraded²),
z = 2, where σ is each score's bootstrap spread (resampling the images, the reference's
k-NN balls held fixed for PRDC). The two sets share most images, so this treats a paired
difference as an unpaired one and errs towards "no change". A cell with an expected
direction *holds* when the metric moved that way; "no change" holds when it did not move
worse.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from gankit.errors import DataError
from gankit.numbers import float_text

METRICS = ("fid", "precision", "recall", "coverage", "memorisation")
METRIC_TITLES = {"fid": "FID", "precision": "precision", "recall": "recall", "coverage": "coverage",
                 "memorisation": "memorisation"}
WORSE_SIGN = {"fid": 1, "precision": -1, "recall": -1, "coverage": -1, "memorisation": 1}  # sign of a worse change
Z = 2.0
CLASS_RELATED = ("collapse", "class swap")
FORMAT = "gankit-evaluator-check"
VERSION = 1

_FIDELITY = {"fid": "worse", "precision": "worse", "recall": "none", "coverage": "worse", "memorisation": "no change"}
_DIVERSITY = {"fid": "worse", "precision": "no change", "recall": "worse", "coverage": "worse",
              "memorisation": "no change"}
EXPECTED: dict[str, dict[str, str]] = {
    "blur": _FIDELITY,
    "noise": _FIDELITY,
    "colour shift": _FIDELITY,
    "collapse": _DIVERSITY,
    "class swap": _DIVERSITY,
    "off-domain": _FIDELITY,
    "copies": {"fid": "no change", "precision": "no change", "recall": "no change", "coverage": "no change",
               "memorisation": "worse"},
}
DIRECTIONS = ("worse", "better", "no change", "none")


def moved(metric: str, baseline: float, baseline_std: float, value: float, value_std: float, *,
          z: float = Z) -> str:
    """How ``value`` moved from ``baseline``: "worse", "better" or "no change" (within
    z · √(σ_b² + σ_v²), or not a finite change)."""
    delta = value - baseline
    spread = z * math.hypot(baseline_std, value_std)
    if not math.isfinite(delta) or abs(delta) <= max(spread, 1e-9):
        return "no change"
    return "worse" if delta * WORSE_SIGN[metric] > 0 else "better"


def holds(expected: str, direction: str) -> bool | None:
    """Whether a move in ``direction`` meets ``expected`` (None: nothing was expected)."""
    if expected == "none":
        return None
    if expected == "no change":
        return direction != "worse"
    return direction == expected


@dataclass(frozen=True)
class Cell:
    """One metric at one degradation and severity."""

    value: float
    std: float
    change: float
    expected: str
    moved: str
    held: bool | None


@dataclass(frozen=True)
class Row:
    degradation: str
    severity: int  # 1 (mild) .. 3 (strong)
    setting: str  # the strength in words, e.g. "σ = 1.1 px"
    cells: dict[str, Cell]


def make_row(degradation: str, severity: int, setting: str, baseline: dict[str, tuple[float, float]],
             scores: dict[str, tuple[float, float]], z: float = Z) -> Row:
    """A row from the baseline's and the degraded set's (value, std) per metric."""
    cells = {}
    for metric in METRICS:
        (base, base_std), (value, std) = baseline[metric], scores[metric]
        direction = moved(metric, base, base_std, value, std, z=z)
        expected = EXPECTED[degradation][metric]
        cells[metric] = Cell(value, std, value - base, expected, direction, holds(expected, direction))
    return Row(degradation, severity, setting, cells)


@dataclass
class SanityTable:
    """What `check_feature_space` found: the baseline, one row per (degradation, severity)."""

    extractor: str
    data: str
    n_reference: int
    n_heldout: int
    k: int
    seed: int
    baseline: dict[str, tuple[float, float]]  # metric -> (value, bootstrap std), held-out vs reference
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    z: float = Z

    def summary(self, degradations: tuple[str, ...] | None = None) -> dict[str, Any]:
        """``held`` of ``expected`` cells (those with an expected direction) and their ``share``
        (None when none), over the rows of ``degradations`` (all rows when None)."""
        verdicts = [cell.held for row in self.rows if degradations is None or row.degradation in degradations
                    for cell in row.cells.values() if cell.held is not None]
        held = sum(verdicts)
        return {"held": held, "expected": len(verdicts), "share": held / len(verdicts) if verdicts else None}

    def summary_line(self) -> str:
        overall, classes = self.summary(), self.summary(CLASS_RELATED)
        line = f"expected directions held in {_share_text(overall)}"
        if classes["expected"]:
            line += f"; class-related cells (collapse, class swap): {_share_text(classes)}"
        return line

    def display_rows(self, changes: bool = True) -> list[list[str]]:
        """The table as text cells: degradation, severity, setting, then per metric "value (Δ) mark"
        ("value mark" without ``changes``) with ✓ (held), ✗ (did not) or · (no expectation); the
        baseline first."""
        lines = [["baseline", "", f"n = {self.n_heldout}"]
                 + [_number(value) for value, _ in (self.baseline[m] for m in METRICS)]]
        for row in self.rows:
            cells = []
            for metric in METRICS:
                cell = row.cells[metric]
                mark = "·" if cell.held is None else ("✓" if cell.held else "✗")
                sign = "+" if cell.change > 0 else ""
                change = f" ({sign}{_number(cell.change)})" if changes else ""
                cells.append(f"{_number(cell.value)}{change} {mark}")
            lines.append([row.degradation, str(row.severity), row.setting] + cells)
        return lines

    def to_markdown(self) -> str:
        header = ["defect", "severity", "setting"] + [METRIC_TITLES[m] for m in METRICS]
        lines = [f"# Feature-space check: evaluator '{self.extractor}' on {self.data}", "",
                 f"{self.n_reference} reference and {self.n_heldout} held-out real images, k = {self.k}, "
                 f"seed {self.seed}; a change counts beyond {float_text(self.z)} bootstrap spreads.", "",
                 f"**{self.summary_line()}.**", "", _markdown_table(header, self.display_rows()), "",
                 "✓ moved the way the metric's definition expects, ✗ did not, · no expectation. "
                 "Expected, per defect:", "",
                 _markdown_table(["defect"] + [METRIC_TITLES[m] for m in METRICS],
                                 [[name] + [EXPECTED[name][m] for m in METRICS]
                                  for name in dict.fromkeys(row.degradation for row in self.rows)])]
        if self.notes:
            lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "extractor": self.extractor, "data": self.data,
                "n_reference": self.n_reference, "n_heldout": self.n_heldout, "k": self.k, "seed": self.seed,
                "z": self.z, "baseline": {m: {"value": v, "std": s} for m, (v, s) in self.baseline.items()},
                "rows": [{"degradation": r.degradation, "severity": r.severity, "setting": r.setting,
                          "cells": {m: asdict(c) for m, c in r.cells.items()}} for r in self.rows],
                "notes": list(self.notes), "summary": self.summary(),
                "summary_class_related": self.summary(CLASS_RELATED)}

    @classmethod
    def from_json(cls, data: Any) -> SanityTable:
        """Read back what `to_json` wrote; `DataError` naming the first thing wrong."""
        try:
            if data.get("format") != FORMAT or data.get("version") != VERSION:
                raise ValueError(f"not a {FORMAT} version {VERSION} record")
            rows = [Row(str(r["degradation"]), int(r["severity"]), str(r["setting"]),
                        {m: _cell(r["cells"][m]) for m in METRICS}) for r in data["rows"]]
            for row in rows:
                if row.degradation not in EXPECTED:
                    raise ValueError(f"unknown degradation {row.degradation!r}")
            return cls(str(data["extractor"]), str(data["data"]), int(data["n_reference"]),
                       int(data["n_heldout"]), int(data["k"]), int(data["seed"]),
                       {m: (float(data["baseline"][m]["value"]), float(data["baseline"][m]["std"])) for m in METRICS},
                       rows, [str(note) for note in data.get("notes", [])], float(data["z"]))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise DataError(f"not a readable evaluator check ({type(exc).__name__}: {exc})") from None


def _cell(data: dict[str, Any]) -> Cell:
    expected, direction, held = str(data["expected"]), str(data["moved"]), data["held"]
    if expected not in DIRECTIONS or direction not in DIRECTIONS or held not in (True, False, None):
        raise ValueError(f"malformed cell {data!r}")
    return Cell(float(data["value"]), float(data["std"]), float(data["change"]), expected, direction, held)


def _number(value: float) -> str:
    return float_text(value, 3 if abs(value) < 10 else 4)


def _share_text(summary: dict[str, Any]) -> str:
    if not summary["expected"]:
        return "no cell (nothing was expected)"
    return f"{summary['held']} of {summary['expected']} cells ({summary['share']:.0%})"


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows])
