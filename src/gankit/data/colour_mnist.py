"""Colour MNIST: the MNIST digits gankit already loads, painted in class colours at 32×32 RGB.

A small colour image set that every machine can build offline, for tests, demos and
benchmarks of colour runs (the RGB folder presets, conditional training). Each digit is
built deterministically from one MNIST image (the bundled 5,000-image sample, or the
IDX files of ``data.path`` and ``data.split``):

1. the 28×28 digit is padded by 2 pixels of background on every side to 32×32 (no
   resampling, so the stroke stays sharp); its grey value, mapped from [−1, 1] to
   a ∈ [0, 1], is how much stroke a pixel holds;
2. the stroke colour of class c has hue 36°·c (ten hues around the colour wheel),
   saturation 0.85 and value 1: bright and saturated;
3. the background of class c has the complementary hue 36°·c + 180°, saturation 0.6
   and value 0.3: dark, so the stroke stands out;
4. per image, both hues are shifted by their own seeded offset, uniform in ±8° (less
   than half the 36° between classes, so the classes' colour bands do not overlap),
   and the background's value by one uniform in ±0.1, from ``torch.Generator`` seeded
   with ``data.seed``: the same seed gives the same images;
5. pixel = a · stroke + (1 − a) · background, then mapped to [−1, 1] as 2·x − 1.

The class is thus visible both in the digit's shape and in its colours (a conditional
generator has to get both right). Labels 0..9 and class names "0".."9" are MNIST's.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.data.base import Dataset
from gankit.data.mnist import CLASS_COUNT, CLASS_NAMES, load_mnist

SIDE = 32
HUE_STEP = 36.0  # degrees between the stroke hues of consecutive classes
HUE_JITTER = 8.0  # per-image hue offset, uniform in ± this many degrees
STROKE_SATURATION, STROKE_VALUE = 0.85, 1.0
BACKGROUND_SATURATION, BACKGROUND_VALUE, BACKGROUND_VALUE_JITTER = 0.6, 0.3, 0.1


def load_colour_mnist(path: str | None = None, *, split: str = "train", seed: int = 0) -> Dataset:
    """Colour MNIST as (N, 3, 32, 32) float32 in [−1, 1], with MNIST's labels (see the module)."""
    digits = load_mnist(path, split=split)
    count = len(digits)
    generator = torch.Generator().manual_seed(seed)
    hue_offsets = (torch.rand(count, 2, generator=generator, dtype=torch.float64) * 2 - 1) * HUE_JITTER
    value_offsets = (torch.rand(count, generator=generator, dtype=torch.float64) * 2 - 1) * BACKGROUND_VALUE_JITTER
    base_hue = digits.labels.to(torch.float64) * HUE_STEP
    stroke = hsv_to_rgb(base_hue + hue_offsets[:, 0], torch.full((count,), STROKE_SATURATION, dtype=torch.float64),
                        torch.full((count,), STROKE_VALUE, dtype=torch.float64))
    background = hsv_to_rgb(base_hue + 180.0 + hue_offsets[:, 1],
                            torch.full((count,), BACKGROUND_SATURATION, dtype=torch.float64),
                            BACKGROUND_VALUE + value_offsets)
    margin = (SIDE - digits.tensor.shape[-1]) // 2
    stroke_share = torch.nn.functional.pad((digits.tensor.to(torch.float64) + 1) / 2, (margin,) * 4)
    pixels = stroke_share * stroke[:, :, None, None] + (1 - stroke_share) * background[:, :, None, None]
    return Dataset(
        name="colour-mnist",
        tensor=pixels.mul(2).sub(1).clamp(-1, 1).to(torch.float32).contiguous(),
        geometry=None,
        labels=digits.labels,
        kind="images",
        class_names=list(CLASS_NAMES[:CLASS_COUNT]),
        source=digits.source,
    )


def hsv_to_rgb(hue_degrees: Tensor, saturation: Tensor, value: Tensor) -> Tensor:
    """(N,) hue in degrees (any real, taken mod 360), saturation and value in [0, 1] -> (N, 3) RGB
    in [0, 1], the standard hexcone conversion (as ``colorsys.hsv_to_rgb``)."""
    hue = torch.remainder(hue_degrees, 360.0) / 60.0
    channel_offsets = torch.tensor([5.0, 3.0, 1.0], dtype=hue.dtype)  # R, G, B
    k = torch.remainder(hue[:, None] + channel_offsets, 6.0)
    ramp = torch.clamp(torch.minimum(k, 4 - k), 0.0, 1.0)
    return value[:, None] - value[:, None] * saturation[:, None] * ramp
