"""The metric that picks ``best.pt``: ``eval.select=auto`` by what was measured, or the named
one, as a sort key (directions from the metric catalogue, gankit/catalogue.py).

The rules themselves (``eval.select`` names, ``train.stop_at``) are checked with the config
(config/rules.py) and re-exported here.
"""

from __future__ import annotations

import math
from typing import Any

from gankit.catalogue import DIRECTIONS
from gankit.config.rules import StopRule, parse_stop_rule, selection_direction

__all__ = ["DIRECTIONS", "StopRule", "auto_selection", "parse_stop_rule", "quality_key", "selection_direction"]


def auto_selection(metrics: dict[str, Any], objective: str = "") -> tuple[str, ...]:
    """The metrics ``eval.select=auto`` ranks by, in priority order, for what was measured."""
    if objective == "boundary" and "score" in metrics:
        return ("score",)
    for names in (("fid",), ("modes_captured", "high_quality"), ("curve_coverage", "curve_distance"),
                  ("energy_distance",)):
        if names[0] in metrics:
            return names
    return ()


def quality_key(metrics: dict[str, Any], select: str = "auto", objective: str = "") -> list[float]:
    """Sort key, higher is better, for picking the best checkpoint; [] when nothing applies."""
    names = auto_selection(metrics, objective) if select == "auto" else (select,)
    key = []
    for name in names:
        value = metrics.get(name)
        if not isinstance(value, (int, float)) or math.isnan(value):
            return []
        key.append(DIRECTIONS[name] * float(value))
    return key
