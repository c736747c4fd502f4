"""Datasets by name: ``load_dataset(config.data)`` returns tensors in memory plus what is known about them."""

from __future__ import annotations

from dataclasses import replace

import torch

from gankit.data.base import CurveGeometry, Dataset, ModeGeometry
from gankit.data.colour_mnist import load_colour_mnist
from gankit.data.folder import load_folder, write_skip_list
from gankit.data.mnist import load_mnist
from gankit.data.points import load_points
from gankit.data.stacked import load_stacked_mnist
from gankit.data.toy2d import TOY2D_NAMES, make_toy2d

__all__ = ["CurveGeometry", "DATASET_NAMES", "Dataset", "ModeGeometry", "load_dataset", "write_skip_list",
           "TOY2D_NAMES"]

# Every data.name ``load_dataset`` knows (config/schema.py's choices are tested equal to it).
DATASET_NAMES: tuple[str, ...] = (*TOY2D_NAMES, "points", "mnist", "stacked-mnist", "colour-mnist",
                                   "folder")


def load_dataset(data_config, *, progress: bool = False) -> Dataset:
    """The training data named by a ``DataConfig``; ``data.limit`` > 0 keeps a seeded random subset."""
    c = data_config
    if c.name in TOY2D_NAMES:
        dataset = make_toy2d(c.name, c.n_samples, c.seed)
    elif c.name == "points":
        dataset = load_points(c.path)
    elif c.name == "mnist":
        dataset = load_mnist(c.path or None, split=c.split)
    elif c.name == "stacked-mnist":
        dataset = load_stacked_mnist(c.n_samples, c.seed, c.path or None, split=c.split)
    elif c.name == "colour-mnist":
        dataset = load_colour_mnist(c.path or None, split=c.split, seed=c.seed)
    elif c.name == "folder":
        dataset = load_folder(c.path, channels=c.channels, image_size=c.image_size, quarantine=c.quarantine,
                              progress=progress)
    else:  # config validation lists the names above (DATASET_NAMES)
        raise ValueError(f"no loader for data.name={c.name}")
    if 0 < c.limit < len(dataset.tensor):
        keep = torch.randperm(len(dataset.tensor), generator=torch.Generator().manual_seed(c.seed))[: c.limit]
        keep = keep.sort().values
        dataset = replace(dataset, tensor=dataset.tensor[keep],
                          labels=None if dataset.labels is None else dataset.labels[keep])
    return dataset
