"""The config's metric rules: ``eval.select`` (the metric that picks ``best.pt``) and
``train.stop_at`` rules such as ``fid<=5`` or ``score>=0.95``, checked against the metric
catalogue (gankit/catalogue.py) before a run starts.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable

from gankit.catalogue import DIRECTIONS
from gankit.errors import ConfigError

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
