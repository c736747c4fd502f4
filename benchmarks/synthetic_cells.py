"""Synthetic "cell crops": a colour image set unlike digits, made procedurally for benchmarks.

Each image is a light, slightly grainy background with one to three soft-edged cells:
an ellipse of pink cytoplasm (random size, elongation and angle) holding a darker
purple nucleus, both with a low-frequency noise texture, in stain-like colours that
vary from image to image (the look of stained tissue or blood-smear crops). Nothing
here is downloaded; the same seed gives the same images.

    python benchmarks/synthetic_cells.py OUT_FOLDER --count 4000 --size 32 --seed 0

writes OUT_FOLDER/cell-00000.png ... (a new or empty folder). From Python,
`make_cells(count, size, seed)` returns the images as an (N, 3, size, size) tensor in
[−1, 1], gankit's image convention.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor


def _texture(count: int, size: int, cells: int, generator: torch.Generator) -> Tensor:
    """Smooth noise in about [−1, 1]: random values on a coarse grid, bicubically upsampled."""
    coarse = torch.randn(count, cells, 6, 6, generator=generator)
    return F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False).clamp(-2, 2) / 2


def _hsv(hue: Tensor, saturation: Tensor, value: Tensor) -> Tensor:
    """(…, 3) RGB in [0, 1] from hue in degrees, saturation and value in [0, 1]."""
    k = torch.stack([(5 + hue / 60) % 6, (3 + hue / 60) % 6, (1 + hue / 60) % 6], dim=-1)
    return value[..., None] - value[..., None] * saturation[..., None] * (
        torch.minimum(k, 4 - k).clamp(0, 1))


def make_cells(count: int, size: int = 32, seed: int = 0, max_cells: int = 3) -> Tensor:
    """`count` RGB cell crops of `size`×`size`, (count, 3, size, size) float32 in [−1, 1]."""
    generator = torch.Generator().manual_seed(seed)

    def uniform(low: float, high: float, *shape: int) -> Tensor:
        return low + (high - low) * torch.rand(*shape, generator=generator)

    axis = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    background = _hsv(uniform(320, 350, count), uniform(0.04, 0.12, count), uniform(0.88, 0.98, count))
    image = background[:, :, None, None] * torch.ones(count, 3, size, size)
    image = image + 0.02 * torch.randn(count, 3, size, size, generator=generator)  # grain
    n_cells = torch.randint(1, max_cells + 1, (count,), generator=generator)
    texture = _texture(count, size, 2 * max_cells, generator)
    for index in range(max_cells):
        present = (n_cells > index).float()[:, None, None]
        centre = uniform(-0.55, 0.55, count, 2)
        radius = uniform(0.3, 0.6, count) / (1 + 0.35 * index)
        elongation = uniform(1.0, 1.8, count)
        angle = uniform(0, math.pi, count)
        dx, dy = x - centre[:, 0, None, None], y - centre[:, 1, None, None]
        cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
        u, v = dx * cos + dy * sin, -dx * sin + dy * cos
        r = radius[:, None, None]
        distance = torch.sqrt((u * elongation[:, None, None] / r) ** 2 + (v / r) ** 2)
        edge = uniform(0.04, 0.12, count)[:, None, None]
        cytoplasm = torch.sigmoid((1 - distance) / edge) * present
        nucleus_scale = uniform(0.35, 0.6, count)[:, None, None]
        shift = uniform(-0.2, 0.2, count, 2)
        nucleus_distance = torch.sqrt(((u - shift[:, 0, None, None] * r) * elongation[:, None, None]
                                       / (r * nucleus_scale)) ** 2
                                      + ((v - shift[:, 1, None, None] * r) / (r * nucleus_scale)) ** 2)
        nucleus = torch.sigmoid((1 - nucleus_distance) / edge) * cytoplasm
        pink = _hsv(uniform(315, 350, count), uniform(0.25, 0.55, count), uniform(0.75, 0.95, count))
        purple = _hsv(uniform(255, 295, count), uniform(0.45, 0.8, count), uniform(0.35, 0.6, count))
        pink_layer = pink[:, :, None, None] * (1 + 0.12 * texture[:, 2 * index, None])
        purple_layer = purple[:, :, None, None] * (1 + 0.2 * texture[:, 2 * index + 1, None])
        image = image * (1 - cytoplasm[:, None]) + pink_layer * cytoplasm[:, None]
        image = image * (1 - nucleus[:, None]) + purple_layer * nucleus[:, None]
    return image.clamp(0, 1).mul(2).sub(1).contiguous()


def write_cells(folder: str | Path, count: int, size: int = 32, seed: int = 0) -> Path:
    """Write `make_cells(count, size, seed)` as PNGs into `folder` (created; must be new or empty)."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise SystemExit(f"'{folder}' is not empty; give a new or empty folder")
    pixels = ((make_cells(count, size, seed) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    for index, image in enumerate(pixels.permute(0, 2, 3, 1).numpy()):
        Image.fromarray(image).save(folder / f"cell-{index:05d}.png")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--count", type=int, default=4000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(write_cells(args.folder, args.count, args.size, args.seed))


if __name__ == "__main__":
    main()
