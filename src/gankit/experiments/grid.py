"""A sweep's grid: ``KEY=V1,V2`` specs -> the cartesian product of override lists, the
folder name of each point, and the round-robin slice a ``--shard i/n`` job runs.

Kept apart from the training loop so a whole grid is checked (keys, values, folder
names) before the first run starts.
"""

from __future__ import annotations

import itertools
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gankit.config import Config, load_config
from gankit.errors import ConfigError

UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


@dataclass(frozen=True)
class GridPoint:
    """One run of a sweep: its folder name and the overrides that make it (grid values only)."""

    name: str
    values: tuple[tuple[str, str], ...]

    @property
    def overrides(self) -> list[str]:
        return [f"{key}={value}" for key, value in self.values]


def _is_list_key(key: str) -> bool:
    """Whether ``section.field`` holds a list (its grid alternatives are then split on ``|``)."""
    section, _, name = key.partition(".")
    hints = typing.get_type_hints(Config)
    if section not in hints or not name:
        return False
    hint = typing.get_type_hints(hints[section]).get(name)
    return typing.get_origin(hint) is list


def _as_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(_as_text(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value).strip()


def parse_grid_spec(spec: str) -> tuple[str, list[str]]:
    """``"objective.name=bce,lsgan"`` -> ``("objective.name", ["bce", "lsgan"])``.

    Alternatives are separated by ``,``; for list-valued keys (``model.g_hidden``) and
    whenever the text contains ``|``, by ``|`` instead (``model.g_hidden=64,64|128,128``).
    """
    key, sep, text = spec.partition("=")
    key = key.strip()
    if not sep or not key or not text.strip():
        raise ConfigError(f"--grid '{spec}' is not KEY=V1,V2,... (e.g. objective.name=bce,lsgan)")
    separator = "|" if "|" in text or _is_list_key(key) else ","
    values = [v.strip() for v in text.split(separator)]
    if any(not v for v in values):
        raise ConfigError(f"--grid '{spec}': an empty value between separators")
    return key, values


def normalise_grid(grid: Mapping[str, Any] | Sequence[str]) -> dict[str, list[str]]:
    """A ``{key: values}`` mapping (values a list or a ``"a,b"`` string) or a list of
    ``KEY=V1,V2`` specs -> ``{key: [text, ...]}`` in the given order; duplicates refused."""
    pairs: list[tuple[str, list[str]]] = []
    if isinstance(grid, Mapping):
        for key, values in grid.items():
            if isinstance(values, str):
                pairs.append(parse_grid_spec(f"{key}={values}"))
            else:
                texts = [_as_text(v) for v in (values if isinstance(values, (list, tuple)) else [values])]
                pairs.append((str(key).strip(), texts))
    else:
        pairs = [parse_grid_spec(spec) for spec in grid]
    result: dict[str, list[str]] = {}
    for key, values in pairs:
        if key in result:
            raise ConfigError(f"--grid: '{key}' is given twice; list all its values once (KEY=V1,V2)")
        if not values:
            raise ConfigError(f"--grid: '{key}' has no values")
        if len(set(values)) != len(values):
            raise ConfigError(f"--grid: '{key}' lists a value twice: {', '.join(values)}")
        result[key] = values
    if not result:
        raise ConfigError("a sweep needs at least one --grid KEY=V1,V2")
    return result


def short_key(key: str) -> str:
    """``train.epochs`` -> ``epochs``; a section's ``name`` says which section it names:
    ``objective.name`` -> ``objective``, ``data.name`` -> ``data``."""
    section, _, last = key.rpartition(".")
    return section.rsplit(".", 1)[-1] if last == "name" and section else last


def short_names(keys: Sequence[str], reserved: Sequence[str] = ()) -> dict[str, str]:
    """:func:`short_key` of each key, or the full key where two would read the same or the
    short one is ``reserved`` (e.g. another table column's name). Folder names and labels."""
    short = [short_key(k) for k in keys]
    return {k: (s if short.count(s) == 1 and s not in reserved else k) for k, s in zip(keys, short)}


def sanitise(text: str) -> str:
    """A file-name-safe version of ``text``: runs of other characters become ``-``."""
    return UNSAFE.sub("-", text).strip("-.") or "x"


def expand(grid: dict[str, list[str]]) -> list[GridPoint]:
    """The cartesian product in grid order (last key fastest), each point named by the
    values of the keys that vary, e.g. ``objective-bce_epochs-25``; names are unique."""
    keys = list(grid)
    varied = [k for k in keys if len(grid[k]) > 1] or keys
    labels = short_names(varied)
    points, seen = [], {}
    for combination in itertools.product(*(grid[k] for k in keys)):
        values = tuple(zip(keys, combination))
        chosen = dict(values)
        name = "_".join(f"{sanitise(labels[k])}-{sanitise(chosen[k])}" for k in varied)
        if name in seen:  # values that differ only in unsafe characters
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        points.append(GridPoint(name, values))
    return points


def validate_points(target: str | Path, points: Sequence[GridPoint], overrides: Sequence[str]) -> dict[str, Config]:
    """Resolve every point's config now, so a typo in any key or value fails before training."""
    fixed = {item.partition("=")[0].strip() for item in overrides}
    clash = fixed & {key for key, _ in points[0].values} if points else set()
    if clash:
        raise ConfigError(f"{', '.join(sorted(clash))}: given both as --grid and as a fixed KEY=VALUE; keep one")
    configs = {}
    for point in points:
        try:
            configs[point.name] = load_config(target, [*overrides, *point.overrides])
        except ConfigError as exc:
            raise ConfigError(f"grid point {point.name}: {exc}") from None
    return configs


def parse_shard(shard: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"2/4"`` or ``(2, 4)`` -> ``(2, 4)``; 1-based, 1 <= i <= n."""
    if shard is None:
        return None
    if isinstance(shard, str):
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", shard)
        if not match:
            raise ConfigError(f"--shard '{shard}' is not I/N (e.g. 1/4 for the first of four slices)")
        shard = (int(match.group(1)), int(match.group(2)))
    index, count = int(shard[0]), int(shard[1])
    if count < 1 or not 1 <= index <= count:
        raise ConfigError(f"--shard {index}/{count}: need 1 <= I <= N (slices are numbered from 1)")
    return index, count


def shard_points(points: Sequence[GridPoint], shard: tuple[int, int] | None) -> list[GridPoint]:
    """The points of slice ``i`` of ``n``: every n-th point from the (i-1)-th, so slices
    differ in size by at most one and the union of all slices is the grid."""
    if shard is None:
        return list(points)
    index, count = shard
    return [p for position, p in enumerate(points) if position % count == index - 1]
