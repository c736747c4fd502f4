"""Image grids a person looks at: generator outputs in [-1, 1] -> uint8 pixels ->
one tiled PNG per sampled epoch (``samples/epoch_0005.png``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from gankit.errors import GankitError
from gankit.files.atomic import atomic_path

__all__ = ["to_uint8", "image_grid", "save_grid", "saved_grid_shape", "GRID_MIN_WIDTH", "SEPARATOR_VALUE"]

GRID_MIN_WIDTH = 600  # pixels; small (28 px) tiles are enlarged to reach it
SEPARATOR_VALUE = 128  # mid grey: visible between white-on-black digits and on photos


def to_uint8(images: Tensor) -> np.ndarray:
    """Images in [-1, 1], (N, C, H, W) with C in {1, 3} -> uint8 pixels, (N, H, W) for
    C = 1 or (N, H, W, 3) for C = 3.

    pixel = clamp(round((x + 1) · 127.5), 0, 255), round half to even, clamped after
    the affine map: −1 -> 0, −0.5 -> 64, 0 -> 128, 1 -> 255. (The course template
    clamped x to [0, 1] first, turning every negative value — half the range — black.)
    NaN maps to 0. A 3-D (N, H, W) input is taken as single-channel.
    """
    images = torch.as_tensor(images).detach()
    if images.ndim == 3:
        images = images.unsqueeze(1)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise GankitError(f"expected images of shape (N, 1 or 3, H, W), got {tuple(images.shape)}")
    pixels = torch.nan_to_num(images.float().cpu(), nan=-1.0).add(1).mul(127.5).round().clamp(0, 255)
    array = pixels.to(torch.uint8).numpy()
    return array[:, 0] if array.shape[1] == 1 else array.transpose(0, 2, 3, 1).copy()


def image_grid(images: Tensor | np.ndarray, nrow: int = 10, padding: int = 2,
               pad_value: int = SEPARATOR_VALUE) -> np.ndarray:
    """Tile N images into one uint8 picture, ``nrow`` images per row: image k lands in
    grid row k // nrow, column k % nrow, with ``padding`` pixels of ``pad_value``
    around and between tiles (empty trailing cells are filled with it too).

    ``images`` is a float tensor in [-1, 1] (mapped by ``to_uint8``) or an already
    converted uint8 array (N, H, W) / (N, H, W, 3). Returns (Hg, Wg) or (Hg, Wg, 3).
    """
    tiles = images if isinstance(images, np.ndarray) and images.dtype == np.uint8 else to_uint8(images)
    if len(tiles) == 0:
        raise GankitError("cannot make a grid of zero images")
    if nrow < 1 or padding < 0:
        raise GankitError(f"grid needs nrow >= 1 and padding >= 0, got nrow={nrow}, padding={padding}")
    count, height, width = tiles.shape[:3]
    columns = min(nrow, count)
    rows = math.ceil(count / columns)
    grid = np.full((rows * (height + padding) + padding, columns * (width + padding) + padding,
                    *tiles.shape[3:]), pad_value, dtype=np.uint8)
    for k, tile in enumerate(tiles):
        top = padding + (k // columns) * (height + padding)
        left = padding + (k % columns) * (width + padding)
        grid[top:top + height, left:left + width] = tile
    return grid


def saved_grid_shape(count: int, nrow: int, height: int, width: int, padding: int = 2) -> tuple[int, int]:
    """(height, width) in pixels of the grid ``save_grid`` writes for ``count`` tiles of
    height × width, ``nrow`` per row, without a title or labels: known before any image is made."""
    columns = min(nrow, count)
    rows = math.ceil(count / columns)
    grid_height, grid_width = rows * (height + padding) + padding, columns * (width + padding) + padding
    factor = max(1, math.ceil(GRID_MIN_WIDTH / grid_width))
    return grid_height * factor, grid_width * factor


def save_grid(images: Tensor | np.ndarray, path: str | Path, nrow: int = 10, upscale: int | None = None,
              title: str | None = None, row_labels: list[str] | None = None,
              column_labels: list[str] | None = None) -> Path:
    """Write ``image_grid(images, nrow)`` as a PNG; returns the path.

    ``upscale`` enlarges every pixel to an upscale × upscale block (nearest
    neighbour: no blur); None picks the smallest factor making the grid at least
    ``GRID_MIN_WIDTH`` pixels wide (×2 for a 10 × 10 grid of 28 px digits). ``title``
    is written on a white band above the grid; ``row_labels`` (one per grid row, e.g. the
    classes of a conditional run's grid) on a white band left of it; ``column_labels`` (one per grid
    column, e.g. a caption under each pair of pictures) on a white band below it. The file is written to a temporary
    name and moved into place, so a reader never sees half a PNG.
    """
    grid = image_grid(images, nrow=nrow)
    factor = upscale if upscale is not None else max(1, math.ceil(GRID_MIN_WIDTH / grid.shape[1]))
    if factor < 1:
        raise GankitError(f"upscale must be >= 1, got {upscale}")
    picture = Image.fromarray(grid)
    if factor > 1:
        picture = picture.resize((grid.shape[1] * factor, grid.shape[0] * factor), Image.Resampling.NEAREST)
    if column_labels:
        picture = _with_column_labels(picture, column_labels)
    if row_labels:
        picture = _with_row_labels(picture, row_labels)
    if title:
        picture = _with_title(picture, title)
    with atomic_path(path) as temporary:
        picture.save(temporary, format="PNG")
    return Path(path)


def _with_title(picture: Image.Image, title: str) -> Image.Image:
    """``picture`` below a white band holding ``title`` in black."""
    font = ImageFont.load_default(size=max(12, picture.width // 40))
    left, top, right, bottom = ImageDraw.Draw(picture).textbbox((0, 0), title, font=font)
    band = bottom + 2 * max(4, (bottom - top) // 2)
    white = 255 if picture.mode == "L" else (255, 255, 255)
    titled = Image.new(picture.mode, (picture.width, picture.height + band), white)
    titled.paste(picture, (0, band))
    position = (max(0, (picture.width - left - right) // 2), (band - top - bottom) // 2)
    ImageDraw.Draw(titled).text(position, title, fill=0 if picture.mode == "L" else (0, 0, 0), font=font)
    return titled


def _with_column_labels(picture: Image.Image, labels: list[str]) -> Image.Image:
    """``picture`` above a white band holding one label, horizontally centred, per grid column."""
    font = ImageFont.load_default(size=max(12, picture.width // 50))
    pen = ImageDraw.Draw(picture)
    boxes = [pen.textbbox((0, 0), label, font=font) for label in labels]
    margin = max(4, picture.width // 150)
    band = max(bottom for _, _, _, bottom in boxes) + 2 * margin
    white = 255 if picture.mode == "L" else (255, 255, 255)
    labelled = Image.new(picture.mode, (picture.width, picture.height + band), white)
    labelled.paste(picture, (0, 0))
    column_width = picture.width / len(labels)
    pen = ImageDraw.Draw(labelled)
    for index, (label, (left, _, right, _)) in enumerate(zip(labels, boxes)):
        x = round((index + 0.5) * column_width - (left + right) / 2)
        pen.text((x, picture.height + margin), label, fill=0 if picture.mode == "L" else (0, 0, 0), font=font)
    return labelled


def _with_row_labels(picture: Image.Image, labels: list[str]) -> Image.Image:
    """``picture`` right of a white band holding one label, vertically centred, per grid row."""
    font = ImageFont.load_default(size=max(12, picture.width // 45))
    draw = ImageDraw.Draw(picture)
    widths = [draw.textbbox((0, 0), label, font=font)[2] for label in labels]
    margin = max(6, picture.width // 100)
    band = max(widths) + 2 * margin
    white = 255 if picture.mode == "L" else (255, 255, 255)
    labelled = Image.new(picture.mode, (picture.width + band, picture.height), white)
    labelled.paste(picture, (band, 0))
    row_height = picture.height / len(labels)
    pen = ImageDraw.Draw(labelled)
    for index, (label, width) in enumerate(zip(labels, widths)):
        _, top, _, bottom = pen.textbbox((0, 0), label, font=font)
        y = round((index + 0.5) * row_height - (top + bottom) / 2)
        pen.text((band - margin - width, y), label, fill=0 if picture.mode == "L" else (0, 0, 0), font=font)
    return labelled
