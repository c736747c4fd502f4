"""Self-supervised objectives and the augmentations they are trained with.

A feature network for GAN metrics has to tell apart what generators get wrong: blur,
noise, wrong colours, wrong textures, wrong shapes, too little diversity. A joint-
embedding objective teaches a network to map two augmented *views* of an image close
together, so every augmentation is an invariance the network learns: whatever the
augmentations change, the features stop seeing. That decides the augmentations here:

- **geometric only**: a random resized crop with a moderate area range (50–100% of the
  image, aspect 3:4 to 4:3; SimCLR's 8–100% would make an object's size and the image's
  layout invisible), a shift by up to 1/8 of the side in whole pixels, and a horizontal
  mirror. Moving and rescaling the content a little is what two real images of the same
  thing differ by, so the metric should not count it as a defect. Crop and shift
  together were measured against each alone: the crop alone left cell images' blur and
  noise weakly visible, the shift alone Colour MNIST's; together the weakest of those
  four ratios was highest.
- **no colour jitter, no grayscale, no blur, no noise**: these are SimCLR's and BYOL's
  strongest augmentations for ImageNet classification, and they would make the features
  blind to exactly the colour casts, washed-out colours, blur and noise that a GAN's
  samples show. Without them, a contrastive network may lean on colour statistics to
  match views; for a metric space that is wanted, not a shortcut to remove.

The crop is one bilinear ``grid_sample`` per batch whose sampling grid stays inside the
image, so a flat image stays exactly its colour (up to float rounding) and no border
colour leaks in. All randomness comes from the ``torch.Generator`` passed in.

Two objectives are implemented, both from their papers' definitions:

- **SimCLR's NT-Xent** (Chen et al. 2020): a softmax cross-entropy over cosine
  similarities / temperature, where each view must pick its partner among the 2N − 1
  other views of the batch;
- **VICReg** (Bardes, Ponce and LeCun 2022): invariance (mean squared difference of the
  two views' embeddings) + variance (a hinge keeping each dimension's standard deviation
  above 1, so the embeddings cannot collapse) + covariance (off-diagonal covariances
  pushed to 0, so dimensions do not repeat each other), weighted 25 / 25 / 1 as in the paper.

SimCLR is the default: on the same budget it made the features more sensitive to blur,
noise, colour casts and foreign images than VICReg in 3 of 4 comparisons (BENCHMARKS.md,
"Self-supervised evaluators", and ``benchmarks/bench_selfsup.py``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError

OBJECTIVES = ("vicreg", "simclr")
TEMPERATURE = 0.2  # NT-Xent: small batches on a CPU give few negatives; 0.1-0.5 is the papers' range
VICREG_WEIGHTS = (25.0, 25.0, 1.0)  # invariance, variance, covariance: the paper's λ, μ, ν
VARIANCE_TARGET, VARIANCE_EPS = 1.0, 1e-4  # VICReg's γ and ε


@dataclass(frozen=True)
class Augmentation:
    """The views' geometry: a crop of area share in [min_scale, max_scale] of the image with
    aspect ratio (width / height) in [1 / max_ratio, max_ratio], resized back (bilinear); a
    shift by up to `max_shift` × the side in whole pixels (edges replicated, no resampling);
    and a coin-flip horizontal mirror. min_scale = max_scale = max_ratio = 1 turns the crop
    off, so the pixels are only moved, never interpolated."""

    min_scale: float = 0.5
    max_scale: float = 1.0
    max_ratio: float = 4 / 3
    max_shift: float = 0.125
    flip: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.min_scale <= self.max_scale <= 1.0 or self.max_ratio < 1.0 or not 0 <= self.max_shift < 0.5:
            raise ConfigError(f"augmentation {self}: give 0 < min_scale ≤ max_scale ≤ 1, max_ratio ≥ 1 and "
                              "0 ≤ max_shift < 0.5")

    @property
    def crops(self) -> bool:
        return self.min_scale < 1.0 or self.max_ratio > 1.0

    def settings(self) -> dict[str, float | bool]:
        """The settings as a plain dict (what an evaluator file's report records)."""
        return asdict(self)


def random_view(images: Tensor, augmentation: Augmentation, generator: torch.Generator) -> Tensor:
    """One augmented view of each (N, C, H, W) image, its own random draw from ``generator``:
    crop (the window never leaves the image), then shift, then mirror."""
    if augmentation.crops:
        images = _random_crop(images, augmentation, generator)
    if augmentation.max_shift > 0:
        images = _random_shift(images, round(augmentation.max_shift * min(images.shape[2:])), generator)
    if augmentation.flip:
        mirror = torch.rand(len(images), generator=generator) < 0.5
        images = torch.where(mirror[:, None, None, None], images.flip(-1), images)
    return images


def _random_crop(images: Tensor, augmentation: Augmentation, generator: torch.Generator) -> Tensor:
    """Each image's random crop, resized back to H×W with one bilinear ``grid_sample``."""
    count = len(images)
    area = augmentation.min_scale + (augmentation.max_scale - augmentation.min_scale) * torch.rand(
        count, generator=generator)
    ratio = torch.exp((torch.rand(count, generator=generator) * 2 - 1) * math.log(augmentation.max_ratio))
    width = torch.sqrt(area * ratio).clamp(max=1.0)  # shares of the image's side, in (0, 1]
    height = torch.sqrt(area / ratio).clamp(max=1.0)
    # The window's centre in grid coordinates (−1..1): anywhere that keeps the window inside.
    centre_x = (torch.rand(count, generator=generator) * 2 - 1) * (1 - width)
    centre_y = (torch.rand(count, generator=generator) * 2 - 1) * (1 - height)
    theta = torch.zeros(count, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = width, centre_x
    theta[:, 1, 1], theta[:, 1, 2] = height, centre_y
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _random_shift(images: Tensor, pixels: int, generator: torch.Generator) -> Tensor:
    """Each image moved by its own whole-pixel (dy, dx) in [−pixels, pixels], edges replicated."""
    if pixels < 1:
        return images
    side_h, side_w = images.shape[2:]
    padded = F.pad(images, (pixels,) * 4, mode="replicate")
    offsets = torch.randint(0, 2 * pixels + 1, (len(images), 2), generator=generator).tolist()
    return torch.stack([padded[i, :, dy:dy + side_h, dx:dx + side_w] for i, (dy, dx) in enumerate(offsets)])


def nt_xent(z1: Tensor, z2: Tensor, temperature: float = TEMPERATURE) -> Tensor:
    """SimCLR's loss for N pairs of embeddings (z1[i], z2[i]): the mean over all 2N views of
    −log softmax of the cosine similarity to its partner among every other view, / temperature."""
    embeddings = F.normalize(torch.cat([z1, z2]), dim=1)
    similarity = embeddings @ embeddings.T / temperature
    count = len(z1)
    self_pairs = torch.eye(2 * count, dtype=torch.bool, device=similarity.device)
    similarity = similarity.masked_fill(self_pairs, float("-inf"))
    partners = torch.cat([torch.arange(count, 2 * count), torch.arange(count)]).to(similarity.device)
    return F.cross_entropy(similarity, partners)


def variance_term(z: Tensor) -> Tensor:
    """VICReg's v(Z): mean over dimensions of max(0, γ − √(Var + ε)), the variance unbiased."""
    return F.relu(VARIANCE_TARGET - torch.sqrt(z.var(dim=0) + VARIANCE_EPS)).mean()


def covariance_term(z: Tensor) -> Tensor:
    """VICReg's c(Z): the sum of squared off-diagonal covariances (unbiased), divided by the dimension."""
    centred = z - z.mean(dim=0)
    covariance = centred.T @ centred / (len(z) - 1)
    off_diagonal = covariance - torch.diag(torch.diagonal(covariance))
    return off_diagonal.pow(2).sum() / z.shape[1]


def vicreg(z1: Tensor, z2: Tensor, weights: tuple[float, float, float] = VICREG_WEIGHTS) -> Tensor:
    """λ·mean((z1 − z2)²) + μ·½(v(Z1) + v(Z2)) + ν·(c(Z1) + c(Z2)) (the published code's scaling)."""
    invariance_weight, variance_weight, covariance_weight = weights
    invariance = F.mse_loss(z1, z2)
    variance = (variance_term(z1) + variance_term(z2)) / 2
    covariance = covariance_term(z1) + covariance_term(z2)
    return invariance_weight * invariance + variance_weight * variance + covariance_weight * covariance


def objective_loss(name: str, z1: Tensor, z2: Tensor) -> Tensor:
    """The named objective's loss on a batch of paired embeddings."""
    if name == "simclr":
        return nt_xent(z1, z2)
    if name == "vicreg":
        return vicreg(z1, z2)
    raise ConfigError(f"objective '{name}': choose one of {', '.join(OBJECTIVES)}")


def projector(feature_dim: int, hidden: int = 512, out: int = 256) -> nn.Sequential:
    """The MLP between the features and the loss, used only while training (both papers find
    the loss is better applied to a projection, the layer below keeping more information)."""
    return nn.Sequential(nn.Linear(feature_dim, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, out))


__all__ = ["OBJECTIVES", "Augmentation", "covariance_term", "nt_xent", "objective_loss", "projector",
           "random_view", "variance_term", "vicreg"]
