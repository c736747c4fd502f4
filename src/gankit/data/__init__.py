"""Datasets by name: ``load_dataset(config.data)`` returns tensors in memory plus what is known about them.

Every dataset is one record in ``DATASETS`` (data/registry.py), registered below;
``register_dataset`` adds another.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from gankit.data.base import CurveGeometry, Dataset, ModeGeometry
from gankit.data.colour_mnist import load_colour_mnist
from gankit.data.folder import load_folder, write_skip_list
from gankit.data.mnist import load_mnist
from gankit.data.points import load_points
from gankit.data.registry import DATASETS, DatasetRecord, register_dataset
from gankit.data.stacked import load_stacked_mnist
from gankit.data.toy2d import TOY2D_NAMES, make_toy2d
from gankit.errors import DataError

__all__ = ["CurveGeometry", "DATASETS", "Dataset", "DatasetRecord", "ModeGeometry", "TOY2D_NAMES", "load_dataset",
           "register_dataset", "write_skip_list"]


def _toy2d(name: str) -> DatasetRecord:
    return DatasetRecord(name, "points", lambda c, progress: make_toy2d(name, c.n_samples, c.seed))


for _name in TOY2D_NAMES:
    register_dataset(_toy2d(_name))
register_dataset(DatasetRecord("points", "points", lambda c, progress: load_points(c.path)))
register_dataset(DatasetRecord("mnist", "images", lambda c, progress: load_mnist(c.path or None, split=c.split)))
register_dataset(DatasetRecord(
    "stacked-mnist", "images",
    lambda c, progress: load_stacked_mnist(c.n_samples, c.seed, c.path or None, split=c.split)))
register_dataset(DatasetRecord(
    "colour-mnist", "images", lambda c, progress: load_colour_mnist(c.path or None, split=c.split, seed=c.seed)))
register_dataset(DatasetRecord(
    "folder", "images",
    lambda c, progress: load_folder(c.path, channels=c.channels, image_size=c.image_size, quarantine=c.quarantine,
                                    progress=progress)))


def load_dataset(data_config, *, progress: bool = False) -> Dataset:
    """The training data named by a ``DataConfig`` (a record of ``DATASETS``); ``data.limit`` > 0
    keeps a seeded random subset."""
    c = data_config
    record = DATASETS[c.name]  # ConfigError naming the datasets for an unknown name
    dataset = record.load(c, progress)
    if dataset.kind != record.kind:
        raise DataError(f"the loader of data.name={c.name} returned {dataset.kind}, but its record says {record.kind}")
    if 0 < c.limit < len(dataset.tensor):
        keep = torch.randperm(len(dataset.tensor), generator=torch.Generator().manual_seed(c.seed))[: c.limit]
        keep = keep.sort().values
        dataset = replace(dataset, tensor=dataset.tensor[keep],
                          labels=None if dataset.labels is None else dataset.labels[keep])
    return dataset
