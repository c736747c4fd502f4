"""Datasets by name: ``load_dataset(config.data)`` returns tensors in memory plus geometry."""

from __future__ import annotations

from gankit.data.base import CurveGeometry, Dataset, ModeGeometry
from gankit.data.points import load_points
from gankit.data.toy2d import TOY2D_NAMES, make_toy2d

__all__ = ["CurveGeometry", "Dataset", "ModeGeometry", "load_dataset", "TOY2D_NAMES"]


def load_dataset(data_config) -> Dataset:
    """The training data named by a ``DataConfig`` (toy 2D sets or a user's point file)."""
    if data_config.name in TOY2D_NAMES:
        return make_toy2d(data_config.name, data_config.n_samples, data_config.seed)
    if data_config.name == "points":
        return load_points(data_config.path)
    raise ValueError(f"no loader for data.name={data_config.name}")  # config validation prevents this
