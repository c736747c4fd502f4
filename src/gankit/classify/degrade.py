"""Controlled defects applied to real images, for checking what a feature space can see.

Each function takes images (N, C, H, W) in [−1, 1] and returns a new tensor of the same
shape (nothing is changed in place), so that the sanity check in ``classify/sanity.py`` can
score a set of real images against itself once clean and once with one known defect. Every
defect has one strength parameter, and a larger value is a stronger defect:

- ``blur``: a Gaussian blur of standard deviation ``sigma`` pixels (reflected edges);
- ``noise``: additive Gaussian pixel noise of standard deviation ``std`` (in [−1, 1] units),
  clipped back to [−1, 1];
- ``colour_shift``: on RGB a hue rotation by ``amount`` × 180° (a rotation of the colour
  cube about its grey axis, so greys stay grey); on one channel a brightness and contrast
  change (the only colour a grey image has);
- ``collapse``: every group of images (a class, or the whole set) replaced by ``keep``
  distinct members of it, each repeated: the generator's "few good images" failure;
- ``swap_classes``: a share of the images replaced by images of other classes, so the class
  mix is wrong while every image is still a clean real one;
- ``mix_in``: a share of the images replaced by given out-of-domain images;
- ``copy_reference``: a share of the images replaced by exact copies of reference images,
  the memorisation a distance between distributions cannot see.

``off_domain_images`` builds the out-of-domain images offline: tinted MNIST digits for any
data that is not MNIST, and smooth random fields for MNIST itself.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import DataError

# The ITU-R BT.601 luma weights: the brightness a person sees in an RGB pixel.
LUMA = (0.299, 0.587, 0.114)


def gaussian_blur(images: Tensor, sigma: float) -> Tensor:
    """Blur each channel with a separable Gaussian of ``sigma`` pixels (kernel radius ⌈3σ⌉,
    reflected edges, so the image's borders are not darkened by zero padding)."""
    if sigma <= 0:
        return images.clone()
    radius = max(1, math.ceil(3 * sigma))
    radius = min(radius, images.shape[-1] - 1, images.shape[-2] - 1)  # reflect padding needs radius < size
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(images.dtype)
    channels = images.shape[1]
    flat = images.reshape(-1, 1, *images.shape[2:])
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))
    return flat.reshape(-1, channels, *images.shape[2:])


def add_noise(images: Tensor, std: float, generator: torch.Generator) -> Tensor:
    """``images`` + N(0, std²) per pixel, clipped to [−1, 1]."""
    noise = torch.randn(images.shape, generator=generator, dtype=images.dtype)
    return (images + std * noise).clamp(-1, 1)


def hue_rotation(angle_degrees: float) -> Tensor:
    """The 3×3 matrix rotating RGB vectors by ``angle_degrees`` about the grey axis (1, 1, 1)/√3
    (Rodrigues' formula): hues turn, greys stay grey."""
    theta = math.radians(angle_degrees)
    a = 1 / math.sqrt(3)
    axis = torch.full((3,), a, dtype=torch.float64)
    cross = torch.tensor([[0.0, -a, a], [a, 0.0, -a], [-a, a, 0.0]], dtype=torch.float64)  # [axis]×
    return torch.eye(3, dtype=torch.float64) * math.cos(theta) + math.sin(theta) * cross \
        + (1 - math.cos(theta)) * torch.outer(axis, axis)


def colour_shift(images: Tensor, amount: float) -> Tensor:
    """RGB: hue rotated by ``amount`` × 180°. One channel: brightness raised by ``amount`` / 2 and
    contrast lowered to 1 − ``amount`` / 2 (pixels in [0, 1] units), i.e. a washed-out image.
    Other channel counts are refused. Results are clipped to [−1, 1]."""
    unit = (images.to(torch.float64) + 1) / 2
    if images.shape[1] == 3:
        shifted = torch.einsum("ij,njhw->nihw", hue_rotation(180.0 * amount), unit)
    elif images.shape[1] == 1:
        shifted = (1 - amount / 2) * (unit - 0.5) + 0.5 + amount / 2
    else:
        raise DataError(f"a colour shift takes 1- or 3-channel images; got {images.shape[1]} channels")
    return (shifted * 2 - 1).clamp(-1, 1).to(images.dtype)


def _groups(labels: Tensor | None, count: int) -> list[Tensor]:
    """The indices of each class (one group of everything without labels)."""
    if labels is None:
        return [torch.arange(count)]
    return [torch.nonzero(labels == label).flatten() for label in torch.unique(labels).tolist()]


def collapse(images: Tensor, labels: Tensor | None, keep_share: float, generator: torch.Generator) -> Tensor:
    """Each group (a class, or the whole set without labels) reduced to ``keep`` = max(1,
    round(``keep_share`` × group size)) distinct members: ``keep`` members chosen at random keep
    their place, every other member becomes a copy of one of them drawn at random. So each group
    holds exactly ``keep`` distinct images (when its own images are distinct), and the class mix
    is unchanged."""
    out = images.clone()
    for members in _groups(labels, len(images)):
        members = members[torch.randperm(len(members), generator=generator)]
        keep = max(1, round(keep_share * len(members)))
        kept, replaced = members[:keep], members[keep:]
        sources = kept[torch.randint(0, keep, (len(replaced),), generator=generator)]
        out[replaced] = images[sources]
    return out


def dropped_classes(labels: Tensor) -> tuple[list[int], list[int]]:
    """(the classes a class swap takes images from, the classes it gives images to): the classes
    present, sorted, split in two halves; the second half is replaced by the first."""
    present = sorted(torch.unique(labels).tolist())
    if len(present) < 2:
        raise DataError("a class swap needs at least 2 classes")
    half = len(present) // 2
    return present[half:], present[:half]


def swap_classes(images: Tensor, labels: Tensor, share: float, pool: Tensor, pool_labels: Tensor,
                 generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Replace ``share`` of the images (at most all images of the dropped classes, see
    `dropped_classes`) by images of the kept classes drawn from ``pool`` (without replacement
    while it lasts). The dropped classes lose exactly what the kept classes gain, so the class
    mix is wrong while every image is a real one. Returns (images, their new labels)."""
    dropped, kept = dropped_classes(labels)
    victims = torch.nonzero(torch.isin(labels, torch.tensor(dropped))).flatten()
    victims = victims[torch.randperm(len(victims), generator=generator)][:round(share * len(images))]
    donors = torch.nonzero(torch.isin(pool_labels, torch.tensor(kept))).flatten()
    if len(donors) == 0:
        raise DataError("a class swap found no images of the kept classes to swap in")
    donors = donors[torch.randperm(len(donors), generator=generator)]
    if len(victims) > len(donors):  # a small pool: draw again from it
        extra = donors[torch.randint(0, len(donors), (len(victims) - len(donors),), generator=generator)]
        donors = torch.cat([donors, extra])
    out, out_labels = images.clone(), labels.clone()
    out[victims], out_labels[victims] = pool[donors[:len(victims)]], pool_labels[donors[:len(victims)]]
    return out, out_labels


def mix_in(images: Tensor, others: Tensor, share: float, generator: torch.Generator) -> Tensor:
    """Replace ``share`` of the images, chosen at random, by the first of ``others``."""
    count = min(round(share * len(images)), len(others))
    chosen = torch.randperm(len(images), generator=generator)[:count]
    out = images.clone()
    out[chosen] = others[:count].to(images.dtype)
    return out


def copy_reference(images: Tensor, reference: Tensor, share: float,
                   generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Replace ``share`` of the images by exact copies of distinct reference images (both chosen
    at random). Returns (images, the index into ``reference`` of each image, −1 where not a copy)."""
    count = min(round(share * len(images)), len(reference))
    chosen = torch.randperm(len(images), generator=generator)[:count]
    sources = torch.randperm(len(reference), generator=generator)[:count]
    out = images.clone()
    out[chosen] = reference[sources]
    origin = torch.full((len(images),), -1, dtype=torch.int64)
    origin[chosen] = sources
    return out, origin


def off_domain_images(count: int, channels: int, size: int, *, mnist_like: bool,
                      generator: torch.Generator) -> Tensor:
    """``count`` images (count, channels, size, size) in [−1, 1] that are clearly not from the data.

    For data that is not MNIST: bundled MNIST digits resized to ``size`` and painted in a random
    stroke and background colour (grey levels on one channel). For MNIST-like data, where digits
    are in-domain: smooth random fields, uniform noise on a 4×4 grid upsampled bicubically, which
    have neither strokes nor a dark background.
    """
    if mnist_like:
        coarse = torch.rand(count, channels, 4, 4, generator=generator) * 2 - 1
        return F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False).clamp(-1, 1)
    from gankit.data.mnist import load_mnist

    digits = load_mnist().tensor
    picked = digits[torch.randint(0, len(digits), (count,), generator=generator)]
    shrinking = size < picked.shape[-1]
    stroke_share = (F.interpolate(picked, size=(size, size), mode="bilinear", align_corners=False,
                                  antialias=shrinking).clamp(-1, 1) + 1) / 2
    stroke = torch.rand(count, channels, 1, 1, generator=generator)
    background = torch.rand(count, channels, 1, 1, generator=generator)
    return (stroke_share * stroke + (1 - stroke_share) * background) * 2 - 1
