"""Small image classifiers: the evaluator network whose features are gankit's metric space.

Inception-v3 features (FID's usual space) need weights that cannot be downloaded
offline, and they describe ImageNet photos, not digits. gankit instead trains a
small CNN per dataset and uses its penultimate activations as the feature space
for FID/KID/PRDC and its class probabilities for Inception Score and class-mode
counting (the approach of the Stacked-MNIST mode counts in VEEGAN and PacGAN,
which score samples with an MNIST classifier).
"""

from __future__ import annotations

from torch import Tensor, nn

POOLED_SIDE = 4  # the conv features are pooled to 4×4 whatever the input size


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3×3 convolutions (same padding) with batch norm and ReLU, then 2×2 max pooling."""
    layers: list[nn.Module] = []
    for index in range(2):
        layers += [
            nn.Conv2d(in_channels if index == 0 else out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*layers, nn.MaxPool2d(2))


class EvaluatorCNN(nn.Module):
    """conv 32 → conv 32 → pool → conv 64 → conv 64 → pool → dense `feature_dim` → dense classes.

    Made for 28×28-ish images (any side ≥ 4 works: the conv output is adaptively
    average-pooled to 4×4, so the dense layers keep their size and the weights stay
    well under 2 MB). `features(x)` are the post-ReLU activations of the
    `feature_dim` layer (like Inception's pool3: the penultimate layer); `forward`
    returns class logits. Inputs are (N, in_channels, H, W) in [−1, 1].
    """

    def __init__(self, in_channels: int, image_size: int, num_classes: int, feature_dim: int = 128):
        super().__init__()
        if in_channels < 1 or image_size < 4 or num_classes == 1 or num_classes < 0 or feature_dim < 1:
            raise ValueError(
                f"EvaluatorCNN needs in_channels ≥ 1, image_size ≥ 4, num_classes 0 or ≥ 2 and feature_dim ≥ 1; "
                f"got {in_channels}, {image_size}, {num_classes}, {feature_dim}"
            )
        self.in_channels, self.image_size = in_channels, image_size
        self.num_classes, self.feature_dim = num_classes, feature_dim
        self.trunk = nn.Sequential(
            _conv_block(in_channels, 32),
            _conv_block(32, 64),
            nn.AdaptiveAvgPool2d(POOLED_SIDE),
            nn.Flatten(),
        )
        self.embed = nn.Sequential(
            nn.Linear(64 * POOLED_SIDE * POOLED_SIDE, feature_dim, bias=False),
            nn.BatchNorm1d(feature_dim),
            nn.ReLU(inplace=True),
        )
        # No class head (num_classes=0) for a self-supervised evaluator: its logits are (N, 0).
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(feature_dim, num_classes)) if num_classes else None

    def features(self, x: Tensor) -> Tensor:
        """(N, feature_dim) penultimate activations: the metric feature space."""
        return self.embed(self.trunk(x))

    def forward(self, x: Tensor) -> Tensor:
        """(N, num_classes) class logits."""
        return self.features_and_logits(x)[1]

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Both outputs from one pass (what metric extraction needs); (N, 0) logits without a head."""
        features = self.features(x)
        return features, (features.new_zeros(len(features), 0) if self.head is None else self.head(features))


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters (float32 bytes on disk ≈ 4 × this)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["EvaluatorCNN", "parameter_count"]
