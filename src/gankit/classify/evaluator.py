"""A trained classifier as a metric feature space: load it, feed it any images.

FID, KID, precision/recall/density/coverage, Inception Score and class-mode counts
all compare images through a fixed network: features (penultimate activations)
for the distance-based metrics, class probabilities for IS and mode counts.
Offline, Inception weights are unavailable, so gankit ships a small MNIST
evaluator (`gankit evaluator train mnist --ship` reproduces it) and loads any
other one a user trains with `gankit evaluator train`, or a classifier checkpoint
(``best.pt``) of `gankit classify`: both are classifier files
(`gankit.classify.classifier_file`). The metrics themselves (`gankit.metrics`) only
see the feature tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.classify.classifier_file import read_classifier_file
from gankit.errors import DataError
from gankit.models.fold import inference_copy

SHIPPED_FILE = "mnist_evaluator.pt"


def shipped_evaluator_path() -> Path:
    """Where the MNIST evaluator shipped inside the package lies."""
    return Path(str(resources.files("gankit.weights").joinpath(SHIPPED_FILE)))


@dataclass(eq=False)
class Evaluator:
    """A trained classifier (an `EvaluatorCNN` or a workbench model) plus what it was trained on.

    `channels` × `image_size`² is the input the network expects; `extract` adapts
    other inputs to it. `report` is the training report stored in the file
    (held-out accuracy, split sizes, seed, epochs, data description).
    """

    name: str
    network: nn.Module
    class_names: list[str]
    report: dict[str, Any] = field(default_factory=dict)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def feature_dim(self) -> int:
        return self.network.feature_dim

    @property
    def num_classes(self) -> int:
        return self.network.num_classes

    @property
    def image_size(self) -> int:
        return self.network.image_size

    @property
    def channels(self) -> int:
        return self.network.in_channels

    def prepare(self, images: Tensor) -> Tensor:
        """(N, C, H, W) images in [−1, 1] as the network's input: gray↔RGB, bilinear resize."""
        if images.ndim != 4:
            raise DataError(f"the evaluator takes images of shape (N, C, H, W); got {tuple(images.shape)}")
        images = images.to(torch.float32)
        have = images.shape[1]
        if have != self.channels:
            if have == 3 and self.channels == 1:
                images = images.mean(dim=1, keepdim=True)
            elif have == 1 and self.channels == 3:
                images = images.repeat(1, 3, 1, 1)
            else:
                raise DataError(
                    f"the evaluator '{self.name}' takes {self.channels}-channel images; got {have} channels "
                    "(1 and 3 are converted, other counts are not)"
                )
        size = (self.image_size, self.image_size)
        if tuple(images.shape[2:]) != size:
            shrinking = images.shape[2] > size[0] or images.shape[3] > size[1]
            images = F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=shrinking)
        return images

    def extract(self, images: Tensor, batch_size: int = 500) -> tuple[Tensor, Tensor]:
        """(features (N, feature_dim), softmax probabilities (N, num_classes)), float32 on the CPU,
        from an inference copy of the network (``models/fold.py``: batch norm folded, channels-last
        on the CPU; the same values as the network in eval mode up to float32 rounding)."""
        if batch_size < 1:
            raise DataError(f"batch_size={batch_size}: give at least 1")
        features, probabilities = [], []
        network = inference_copy(self.network)  # batch norm folded, channels-last on the CPU
        layout = torch.channels_last if torch.device(self.device).type == "cpu" else torch.contiguous_format
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                batch = self.prepare(images[start:start + batch_size]).to(self.device)
                batch_features, logits = network.features_and_logits(batch.contiguous(memory_format=layout))
                features.append(batch_features.float().cpu())
                probabilities.append(torch.softmax(logits.float(), dim=1).cpu())
        if not features:
            return torch.empty(0, self.feature_dim), torch.empty(0, self.num_classes)
        return torch.cat(features), torch.cat(probabilities)


def load_evaluator(path: str | Path | None = None, device: str | torch.device = "cpu") -> Evaluator:
    """Load a classifier file (None: the shipped MNIST evaluator) as an `Evaluator`;
    `DataError` if it is missing or not one."""
    loaded = read_classifier_file(shipped_evaluator_path() if path is None else path)
    return Evaluator(loaded.name, loaded.network.to(device), loaded.class_names, loaded.report, torch.device(device))


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> Evaluator:
    """Load a ``gankit classify`` checkpoint as an `Evaluator` (`load_evaluator` reads both kinds)."""
    return load_evaluator(path, device=device)
