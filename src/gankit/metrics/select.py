"""Which way is better for each metric, the metric that picks ``best.pt``, and
``train.stop_at`` rules such as ``fid<=5`` or ``score>=0.95``.

Kept apart from the trainer so the config can validate a rule before a run starts.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable

from gankit.errors import ConfigError

# +1: higher is better; -1: lower is better.
DIRECTIONS: dict[str, int] = {
    "fid": -1, "kid": -1, "energy_distance": -1, "curve_distance": -1, "class_kl": -1, "modes_kl": -1,
    "precision": 1, "recall": 1, "density": 1, "coverage": 1, "inception_score": 1,
    "classes_covered": 1, "modes_covered": 1, "modes_captured": 1, "mode_entropy": 1, "high_quality": 1,
    "curve_coverage": 1,
    "s1": 1, "s2": 1, "s3": 1, "score": 1,
}
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
}
RULE = re.compile(r"^\s*([a-z_0-9]+)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


def selection_direction(name: str) -> int:
    """+1 or −1 for a metric name (``auto`` gives 0: the caller decides); ConfigError otherwise."""
    if name == "auto":
        return 0
    if name not in DIRECTIONS:
        raise ConfigError(f"eval.select: unknown metric '{name}'; use auto or one of {', '.join(sorted(DIRECTIONS))}")
    return DIRECTIONS[name]


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


@dataclass(frozen=True)
class StopRule:
    """``metric op threshold``: training ends after the first evaluation that satisfies it."""

    metric: str
    op: str
    threshold: float

    def reached(self, metrics: dict[str, Any]) -> bool:
        value = metrics.get(self.metric)
        if not isinstance(value, (int, float)) or math.isnan(value):
            return False
        return COMPARISONS[self.op](float(value), self.threshold)

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.threshold:g}"


def parse_stop_rule(text: str) -> StopRule | None:
    """``"fid<=5"`` -> StopRule; ``""`` -> None; anything else a ConfigError that shows the form."""
    if not text.strip():
        return None
    match = RULE.match(text)
    if not match:
        raise ConfigError(f"train.stop_at: '{text}' is not METRIC OP NUMBER, e.g. fid<=5 or score>=0.95")
    metric, op, number = match.groups()
    if metric not in DIRECTIONS:
        raise ConfigError(f"train.stop_at: unknown metric '{metric}'; one of {', '.join(sorted(DIRECTIONS))}")
    try:
        threshold = float(number)
    except ValueError:
        raise ConfigError(f"train.stop_at: '{number}' is not a number") from None
    return StopRule(metric, op, threshold)
