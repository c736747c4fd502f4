"""The fixed inputs the trainer draws its pictures from every few epochs (same z every time)."""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.sampling.latent import sample_latent

GRID_COLUMNS = 10


def grid_classes(n_classes: int, rows: int = GRID_COLUMNS) -> list[int]:
    """The classes of a per-class grid: all of them up to ``rows``, else ``rows`` evenly spaced ones."""
    if n_classes <= rows:
        return list(range(n_classes))
    return torch.linspace(0, n_classes - 1, rows).round().long().tolist()


def fixed_inputs(count: int, model_config, class_names: list[str] | None, rng: torch.Generator,
                 device: torch.device | str) -> tuple[Tensor, Tensor | None]:
    """(latents, labels) for the pictures: ``count`` latents, and for a conditional run of images a
    per-class grid instead — one row per class (up to 10 classes), the same 10 latents in every row,
    so a column shows one z across classes. Conditional points cycle through the classes."""
    m = model_config
    if class_names is None:
        return sample_latent(count, m.latent_dim, m.latent_distribution, generator=rng, device=device), None
    if count <= GRID_COLUMNS * GRID_COLUMNS:  # an image grid
        classes = grid_classes(len(class_names))
        row = sample_latent(GRID_COLUMNS, m.latent_dim, m.latent_distribution, generator=rng, device=device)
        latents = row.repeat(len(classes), 1)
        labels = torch.tensor(classes, dtype=torch.int64).repeat_interleave(GRID_COLUMNS)
        return latents, labels.to(device)
    latents = sample_latent(count, m.latent_dim, m.latent_distribution, generator=rng, device=device)
    return latents, (torch.arange(count) % len(class_names)).to(device)
