"""One record per dataset, and the registry of them (``DATASETS``).

A record names a dataset, says whether it is ``"points"`` (vectors) or ``"images"``
((C, H, W) tensors in [−1, 1]; what ``augment.policy`` needs), and loads it from the
``data`` config section. The built-ins are registered in ``gankit.data``; a new dataset is
one ``register_dataset`` call (plus its name and kind in config/registry.py to make it a
built-in).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gankit.config.registry import DATA_NAMES, Registry
from gankit.config.schema import DataConfig
from gankit.data.base import Dataset

KINDS = ("points", "images")


@dataclass(frozen=True)
class DatasetRecord:
    """``load(data_config, progress)`` returns the whole dataset (``data.limit`` is applied
    after it), a :class:`Dataset` of this ``kind``."""

    name: str
    kind: str
    load: Callable[[DataConfig, bool], Dataset]

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"dataset {self.name!r}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")


# Every data.name (iterates in config/registry.py's order).
DATASETS: Registry[DatasetRecord] = Registry(DATA_NAMES, fact=lambda record: record.kind)


def register_dataset(record: DatasetRecord) -> DatasetRecord:
    """Make ``record`` a dataset: ``data.name`` and ``load_dataset`` take its name."""
    return DATASETS.register(record)
