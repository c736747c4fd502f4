"""Class labels for a conditional generator: drawn from the training data's class frequencies,
or named by the user (``--class 3``, ``--class cat``, ``--class 3,5,7``, ``classes=[0, 1, 2]``).

A string naming a class exactly is that class, even with a comma in it (a class folder
``a,b``); only a string that is no class's name or index is read as a comma-separated list."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.models.conditional import is_conditional, unwrap

ClassSpec = int | str | Sequence[int | str]


def draw_labels(generator_net: nn.Module, n: int, rng: torch.Generator) -> Tensor | None:
    """``n`` class labels (int64, on ``rng``'s device) drawn with the training data's class
    frequencies (the generator's ``class_weights``); None for an unconditional generator."""
    if not is_conditional(generator_net):
        return None
    weights = unwrap(generator_net).class_weights.to(rng.device, torch.float64)
    if n == 0:
        return torch.empty(0, dtype=torch.int64, device=rng.device)
    return torch.multinomial(weights, n, replacement=True, generator=rng)


def class_index(value: int | str, names: Sequence[str]) -> int:
    """The label of one class given by index or by name; an unknown one is a ConfigError listing the valid ones."""
    if isinstance(value, bool):
        raise ConfigError(f"class {value!r}: give a class index or name")
    if isinstance(value, str) and value in names:
        return list(names).index(value)
    if isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
        index = int(value)
        if 0 <= index < len(names):
            return index
    shown = ", ".join(names[:20]) + (f", … ({len(names)} classes)" if len(names) > 20 else "")
    raise ConfigError(f"unknown class {value!r}: this run's classes are {shown} (or their indices 0..{len(names) - 1})")


def expand_classes(spec: ClassSpec, names: Sequence[str]) -> list[int | str]:
    """``spec`` as a list of single classes: a string that names a class (or is an index) stays
    whole; any other string is split at its commas (``"3,5,7"`` -> 3, 5, 7)."""
    values = [spec] if isinstance(spec, (int, str)) else list(spec)
    expanded: list[int | str] = []
    for value in values:
        if isinstance(value, str) and value not in names:
            expanded += [part.strip() for part in value.split(",") if part.strip()] if "," in value \
                else [value.strip()]
        else:
            expanded.append(value)
    return expanded


def labels_for(spec: ClassSpec, n: int, names: Sequence[str] | None) -> Tensor:
    """``n`` labels for ``spec``: one class (index or name) for every sample, or a list of classes
    the samples cycle through (sample i gets ``spec[i % len(spec)]``); strings are read as
    :func:`expand_classes` reads them."""
    if names is None:
        raise ConfigError("this run is not class-conditional (model.conditional=false), so it has no classes to "
                          "choose from; sample without a class")
    values = expand_classes(spec, names)
    if not values:
        raise ConfigError("classes: give at least one class")
    indices = torch.tensor([class_index(value, names) for value in values], dtype=torch.int64)
    return indices.repeat((n + len(indices) - 1) // len(indices))[:n]

