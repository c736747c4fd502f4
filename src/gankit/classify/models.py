"""The workbench's classifiers: the cats-vs-dogs study's perceptron and CNN, and ResNet-18/50.

Every model takes images (N, C, S, S) in [−1, 1] and has one output per class, or
one logit for two classes (the cats-vs-dogs study's single sigmoid unit with binary
cross-entropy); :func:`loss` and :func:`predict` hide the difference. Each model
also exposes ``features(x)`` (its penultimate activations) and
``features_and_logits(x)`` with one logit per class, so a trained classifier can be
the feature space of the GAN metrics (see `gankit.classify.evaluator`).
"""

from __future__ import annotations

import abc

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.classify.resnet import ResNet, load_backbone_weights
from gankit.errors import ConfigError

MODEL_NAMES = ("perceptron", "cnn", "resnet18", "resnet50")
CNN_WIDTHS = (32, 64, 128)
MIN_CNN_SIDE = 2 ** len(CNN_WIDTHS)


def output_count(num_classes: int) -> int:
    """1 (a sigmoid logit) for two classes, else one logit per class."""
    return 1 if num_classes == 2 else num_classes


class _Classifier(nn.Module, abc.ABC):
    """Shared interface: ``features`` → ``head``; class logits for the metrics."""

    in_channels: int
    image_size: int
    num_classes: int
    feature_dim: int
    head: nn.Module

    @abc.abstractmethod
    def features(self, x: Tensor) -> Tensor:
        """The penultimate activations (N, feature_dim) that the head maps to logits."""

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(penultimate features, (N, num_classes) logits whose softmax is the class probabilities)."""
        features = self.features(x)
        return features, class_logits(self.head(features))


class Perceptron(_Classifier):
    """The cats-vs-dogs study's fully connected perceptron: flatten → Dense 1024 ReLU → output."""

    def __init__(self, in_channels: int, image_size: int, num_classes: int, hidden: int = 1024):
        super().__init__()
        self.in_channels, self.image_size, self.num_classes = in_channels, image_size, num_classes
        self.feature_dim = hidden
        self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(in_channels * image_size * image_size, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, output_count(num_classes))

    def features(self, x: Tensor) -> Tensor:
        return self.hidden(x)


class SeedCNN(_Classifier):
    """The cats-vs-dogs study's CNN: 3 × [conv 3×3 (32, 64, 128), ReLU, max-pool 2×2] → Dense 512 ReLU →
    Dropout 0.5 → output. Convolutions are zero-padded ("same"), so any side ≥ 8 works:
    28 px ends at 3×3×128, the cats-vs-dogs study's 50 px at 6×6×128."""

    def __init__(self, in_channels: int, image_size: int, num_classes: int, hidden: int = 512):
        super().__init__()
        if image_size < MIN_CNN_SIDE:
            raise ConfigError(f"image size {image_size}: the CNN pools {len(CNN_WIDTHS)} times; give at least "
                              f"{MIN_CNN_SIDE} pixels (--image-size)")
        self.in_channels, self.image_size, self.num_classes = in_channels, image_size, num_classes
        self.feature_dim = hidden
        layers: list[nn.Module] = []
        channels, side = in_channels, image_size
        for width in CNN_WIDTHS:
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            channels, side = width, side // 2
        self.convolutions = nn.Sequential(*layers, nn.Flatten())
        self.dense = nn.Sequential(nn.Linear(channels * side * side, hidden), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(hidden, output_count(num_classes)))

    def features(self, x: Tensor) -> Tensor:
        return self.dense(self.convolutions(x))


class TransferResNet(ResNet):
    """`ResNet` with the workbench interface; ``fc`` is the head (see gankit.classify.resnet)."""

    @property
    def head(self) -> nn.Module:
        return self.fc

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.features(x)
        return features, class_logits(self.fc(features))


def build_model(name: str, in_channels: int, image_size: int, num_classes: int,
                pretrained: str | Path | None = None) -> nn.Module:
    """A freshly initialised classifier (torch's default generator draws the weights).

    For a ResNet, `pretrained` is a torchvision weights file: the backbone is loaded
    and frozen and only the new head trains; without it every layer trains from scratch.
    """
    if name == "perceptron":
        return Perceptron(in_channels, image_size, num_classes)
    if name == "cnn":
        return SeedCNN(in_channels, image_size, num_classes)
    if name in ("resnet18", "resnet50"):
        model = TransferResNet(name, output_count(num_classes), in_channels=in_channels, image_size=image_size,
                               num_classes=num_classes)
        if pretrained:
            load_backbone_weights(model, pretrained)
            model.freeze_backbone()
        return model
    raise ConfigError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")


def class_logits(outputs: Tensor) -> Tensor:
    """(N, classes) logits: a single sigmoid logit z becomes [0, z] (softmax = [1 − σ(z), σ(z)])."""
    if outputs.shape[1] == 1:
        return torch.cat([torch.zeros_like(outputs), outputs], dim=1)
    return outputs


def loss(outputs: Tensor, labels: Tensor, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy on one logit, or softmax cross-entropy on one logit per class."""
    if outputs.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(outputs[:, 0], labels.to(outputs.dtype), reduction=reduction)
    return F.cross_entropy(outputs, labels, reduction=reduction)


def predict(outputs: Tensor) -> Tensor:
    """Predicted class indices (N,)."""
    if outputs.shape[1] == 1:
        return (outputs[:, 0] > 0).long()
    return outputs.argmax(dim=1)


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters the optimiser updates (the head only for a frozen ResNet)."""
    return [parameter for parameter in model.parameters() if parameter.requires_grad]
