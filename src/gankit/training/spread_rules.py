"""Collapse rules on how far generated images spread, for every image run: the ones that
counting classes cannot see.

A conditional generator that draws one image per class covers every class and is always
right about the class, so the class-count rules of ``training/diagnostics.py`` stay quiet
while its grid shows ten near-identical rows. These rules read what such a generator
cannot hide, from an image run's evaluation records (records with a ``features`` key;
2D point runs keep their own rules):

- **recall/coverage fell to half of their best** (best at least 0.2), as for unlabelled data;
- **recall below ``RECALL_FLOOR`` (0.05) or coverage below ``COVERAGE_FLOOR`` (0.03) while
  precision is at least ``PRECISION_GATE`` (0.3)**, past the spread warm-up: the samples look
  like the data but cover almost none of it, so they are few kinds of image. Healthy runs sit
  above: the demo (``mnist-dcgan``, 30 epochs) scores recall 0.19 → 0.72 and coverage
  0.09 → 0.18 from epoch 10 to 30, the conditional MNIST preset recall 0.72–0.78 and coverage
  0.71–0.76 at epoch 30, the unconditional colour preset on Colour MNIST recall 0.10–0.18;
  the one-shape-per-class conditional Colour MNIST run scores recall 0.004–0.046 at precision
  0.47–0.59. Early on even a healthy generator is below the floors (the demo: recall 0.00,
  coverage 0.01 at epoch 5), hence the warm-up. A generator that is still poor at everything
  is not called collapsed by them: the Stacked MNIST preset ends its 20 epochs at recall 0.016
  with precision 0.24, covering 800 of 1,000 modes;
- **per class** (conditional runs, ``recall_per_class``): any class with recall below the
  same floor, the classes named;
- **diversity below ``DIVERSITY_FLOOR`` (0.4)** past the warm-up: generated samples differ
  from each other less than 40% as much as real ones do (``gankit.metrics.diversity``;
  ≈ 1 when healthy), and per class for conditional runs, the classes named. A generator
  still learning spreads less than the data: the demo scores 0.51, 0.62, 0.65 at epochs 5,
  10, 15, hence 0.4 rather than a half. In a feature space that sees colour more than shape
  it can miss a collapse the recall rules catch (the one-shape-per-class Colour MNIST run
  scores 0.8–1.0: its samples differ in colour noise).

The spread warm-up is the first ``SPREAD_WARMUP_SHARE`` (a quarter) of the run's epochs,
longer than the class-count rules' 10%: recall and coverage rise later than class counts do.
Every rule is judged per evaluation; ``training/diagnostics.py`` turns consecutive hits into
a finding with its onset epoch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

RECALL_FLOOR = 0.05
COVERAGE_FLOOR = 0.03
DIVERSITY_FLOOR = 0.4
PRECISION_GATE = 0.3  # the recall/coverage floors judge only samples this realistic
HALVED_FROM = 0.2  # a fall to half counts only from a best at least this high
SPREAD_WARMUP_SHARE = 0.25
SPREAD_KEYS = ("recall", "coverage", "diversity", "recall_per_class", "diversity_per_class")


def spread_warmup(epochs: int, warmup_epochs: int = 0) -> int:
    """Epochs before the floors apply: a quarter of the run (at least ``warmup_epochs``)."""
    return max(warmup_epochs, math.ceil(SPREAD_WARMUP_SHARE * epochs))


def _number(record: dict[str, Any], key: str) -> float | None:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _class_names(record: dict[str, Any], count: int) -> list[str]:
    names = record.get("intra_fid_classes")
    if isinstance(names, list) and len(names) == count:
        return [str(name) for name in names]
    return [str(index) for index in range(count)]


def _classes_below(record: dict[str, Any], key: str, floor: float) -> list[str]:
    values = record.get(key)
    if not isinstance(values, list):
        return []
    names = _class_names(record, len(values))
    return [name for name, value in zip(names, values)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < floor]


def _listed(names: Sequence[str], total: int) -> str:
    return f"{'class' if len(names) == 1 else 'classes'} {', '.join(names)} (of {total})"


def is_image_evaluation(record: dict[str, Any]) -> bool:
    """An evaluated record of an image run (scored in a feature space)."""
    return isinstance(record.get("features"), str) and any(key in record for key in SPREAD_KEYS)


def spread_reasons(history: Sequence[dict[str, Any]], record: dict[str, Any], warm: bool) -> list[str]:
    """Every rule above that ``record`` (an image run's evaluation) breaks, given the
    ``history`` of evaluations before it; ``warm``: past the spread warm-up."""
    reasons = []
    precision = _number(record, "precision")
    realistic = precision is None or precision >= PRECISION_GATE
    for key, floor in (("recall", RECALL_FLOOR), ("coverage", COVERAGE_FLOOR)):
        value = _number(record, key)
        if value is None:
            continue
        best = max((_number(r, key) or 0.0 for r in history), default=0.0)
        if best >= HALVED_FROM and value <= best / 2:
            reasons.append(f"{key} fell from {best:.3g} to {value:.3g}")
        elif warm and realistic and value < floor:
            reasons.append(f"{key} {value:.3g} is below {floor:g}"
                           + (f" at precision {precision:.2f}" if precision is not None else ""))
    if not warm:
        return reasons
    per_class = record.get("recall_per_class")
    below = _classes_below(record, "recall_per_class", RECALL_FLOOR)
    if below:
        reasons.append(f"recall below {RECALL_FLOOR:g} in {_listed(below, len(per_class))}: "
                       "few distinct samples per class")
    spread = _number(record, "diversity")
    if spread is not None and spread < DIVERSITY_FLOOR:
        narrow = _classes_below(record, "diversity_per_class", DIVERSITY_FLOOR)
        where = f", below {DIVERSITY_FLOOR:g} in {_listed(narrow, len(record['diversity_per_class']))}" if narrow else ""
        reasons.append(f"diversity {spread:.2f}: generated samples differ {spread:.0%} as much as real ones{where}")
    return reasons
