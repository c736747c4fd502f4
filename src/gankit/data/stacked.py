"""Stacked MNIST (Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN): three
MNIST digits drawn independently and stacked as the R, G and B channels of one
28×28 image, so the data has 10³ = 1,000 modes (one per digit triple).

A generator's mode coverage is counted by classifying each channel with the MNIST
evaluator (`gankit.metrics.modes.stacked_modes`). The digits come from the same
source as ``data.name=mnist`` (the bundled 5,000-image sample, or the IDX files in
``data.path``); the draw is seeded by ``data.seed``.
"""

from __future__ import annotations

import torch

from gankit.data.base import Dataset
from gankit.data.mnist import load_mnist
from gankit.errors import DataError

CHANNELS = 3


def load_stacked_mnist(n_samples: int, seed: int, path: str | None = None, *, split: str = "train") -> Dataset:
    """``n_samples`` images (N, 3, 28, 28) in [−1, 1]; label = 100·d₀ + 10·d₁ + d₂ (the mode)."""
    if n_samples < 1:
        raise DataError(f"data.n_samples must be at least 1 for stacked-mnist, got {n_samples}")
    digits = load_mnist(path, split=split)
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(digits), (n_samples, CHANNELS), generator=generator)
    images = digits.tensor[picks.reshape(-1), 0].reshape(n_samples, CHANNELS, *digits.tensor.shape[2:])
    channel_labels = digits.labels[picks]
    modes = channel_labels[:, 0] * 100 + channel_labels[:, 1] * 10 + channel_labels[:, 2]
    return Dataset(
        name="stacked-mnist",
        tensor=images.contiguous(),
        geometry=None,
        labels=modes,
        kind="images",
        class_names=[f"{mode:03d}" for mode in range(1000)],
        source=digits.source,
    )
