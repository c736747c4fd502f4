"""Decode one image file into a square uint8 array, or say why it cannot be used.

Real image folders (the cats-vs-dogs study's cats and dogs) hold empty, truncated and
mislabelled files, and images in every mode a camera or an editor writes. Each
file is decoded completely (``load()``), so a truncated file is caught here and
not halfway through training. Conversions, chosen so that what the network sees
is what a person sees when opening the file:

- transparency (RGBA, LA, palette or grayscale with a transparent colour) is
  composited over a white background, as an image viewer on a white page shows
  it; dropping alpha instead would expose whatever colour hides under
  transparent pixels (often black, or noise);
- 16-bit and 32-bit integer grayscale is scaled from 0..65535 to 0..255 (not
  clipped, which would turn almost every pixel white); float images are
  taken as 0..1 when all values lie there, else as 0..255;
- CMYK, YCbCr and other colour modes go through Pillow's conversion to RGB;
- grayscale is ITU-R 601 luma (Pillow's ``convert("L")``), RGB repeats gray;
- the EXIF orientation of photos is applied.

Then the largest centred square is cut out and resized to `size`×`size`
(Lanczos; large JPEGs are first decoded at 1/2, 1/4 or 1/8 scale, and other large
images are box-reduced first, which keeps 4000×3000 photos fast). Images over
Pillow's decompression-bomb limit (about 179 million pixels) are refused with a
reason rather than decoded.
"""

from __future__ import annotations

import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

BACKGROUND = 255  # the white that transparent pixels are composited over
TRANSPARENT_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
INTEGER_GRAY_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")
REDUCING_GAP = 2.0  # box-reduce first when the image is over twice the target size


class UnusableImage(Exception):
    """A file that cannot be used as a training image; `reason` is said to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode_image(path: Path, channels: int, size: int) -> np.ndarray:
    """The image at `path` as a (channels, size, size) uint8 array.

    Raises `UnusableImage` with a reason: "empty file", "truncated", "not an
    image …", "too large …" or "cannot decode: …". Any exception from a decoder
    counts as a bad file, because a corrupt file can make Pillow's plugins fail in
    any way (OSError, SyntaxError, struct.error, ValueError, …).
    """
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):  # a FIFO would block the read
            raise UnusableImage("not a regular file")
        if status.st_size == 0:
            raise UnusableImage("empty file")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.draft(image.mode, (2 * size, 2 * size))  # JPEG only: decode at a reduced scale
                image.load()
                square = centre_crop_resize(to_channels(_upright(image), channels), size)
                array = np.array(square, dtype=np.uint8)  # inside: closing frees the pixels
    except UnusableImage:
        raise
    except (PermissionError, FileNotFoundError, IsADirectoryError) as error:
        raise UnusableImage(f"cannot read: {error.strerror}") from None
    except Image.DecompressionBombError as error:
        raise UnusableImage(f"too large: {error}") from None
    except UnidentifiedImageError:
        raise UnusableImage("not an image (Pillow does not recognise the format)") from None
    except Exception as error:  # noqa: BLE001 — see the docstring
        if "truncated" in str(error).lower() or isinstance(error, EOFError):
            raise UnusableImage("truncated") from None
        raise UnusableImage(f"cannot decode: {type(error).__name__}: {error}") from None
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def to_channels(image: Image.Image, channels: int) -> Image.Image:
    """`image` in mode "L" (channels 1) or "RGB" (channels 3), converted as the module says."""
    if image.mode in INTEGER_GRAY_MODES or image.mode == "F":
        image = _high_depth_to_gray(image)
    if image.mode in TRANSPARENT_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (BACKGROUND, BACKGROUND, BACKGROUND, 255))
        image = Image.alpha_composite(background, rgba).convert("RGB")
    target = "L" if channels == 1 else "RGB"
    if image.mode == target:
        return image
    try:
        if image.mode not in ("1", "L", "P", "RGB"):
            image = image.convert("RGB")  # CMYK, YCbCr, LAB, HSV: through RGB first
        return image.convert(target)
    except ValueError as error:
        raise UnusableImage(f"cannot decode: colour mode {image.mode} ({error})") from None


def centre_crop_resize(image: Image.Image, size: int) -> Image.Image:
    """The largest centred square of `image`, resized to `size`×`size`."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = image.crop((left, top, left + side, top + side))  # resize(box=) would blend in
    if side == size:                                              # pixels outside the square
        return square
    return square.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)


def _upright(image: Image.Image) -> Image.Image:
    """`image` turned as its EXIF orientation says; unchanged when that tag is unreadable."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 — a broken EXIF block should not discard good pixels
        return image


def _high_depth_to_gray(image: Image.Image) -> Image.Image:
    """16/32-bit integer or float grayscale as 8-bit "L", scaled rather than clipped."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode == "F":
        finite = values[np.isfinite(values)]
        unit_range = finite.size > 0 and finite.min() >= 0.0 and finite.max() <= 1.0
        values = np.nan_to_num(values) * (255.0 if unit_range else 1.0)
    else:
        values = values / 257.0  # 65535 -> 255 exactly
    gray = Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))
    if image.mode != "F" and isinstance(image.info.get("transparency"), int):
        gray.info["transparency"] = int(np.clip(np.rint(image.info["transparency"] / 257.0), 0, 255))
    return gray
