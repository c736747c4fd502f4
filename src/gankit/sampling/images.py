"""Export generated images the way the course platform reads them: a folder
``DIR/0.png … DIR/{n-1}.png`` of single-channel (or RGB) PNGs of the data's size,
or one ``.npz`` file; batched, with a progress bar."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import Tensor

from gankit.errors import GankitError
from gankit.files import owner
from gankit.files.atomic import atomic_folder, atomic_open
from gankit.files.budget import check_disk
from gankit.pictures.grid import to_uint8

__all__ = ["save_image_folder", "save_npz", "export_samples"]

MIN_PNG_BYTES = 67  # the smallest valid PNG (1 × 1 pixel): what each file of a folder export takes at least


def save_image_folder(samples: Tensor, directory: str | Path, start_index: int = 0) -> int:
    """Write samples (N, C, H, W) in [-1, 1] as ``directory/{start_index + i}.png``, one
    H × W PNG each: mode 'L' for C = 1, 'RGB' for C = 3, pixels ``to_uint8(samples)``.
    An existing file of the same name is never overwritten (``FileExistsError``). Returns N."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    pixels = to_uint8(samples)
    for offset, image in enumerate(pixels):
        with open(directory / f"{start_index + offset}.png", "xb") as handle:
            Image.fromarray(image).save(handle, format="PNG")
    return len(pixels)


def save_npz(samples: Tensor, path: str | Path, *, force: bool = False) -> Path:
    """Write samples (N, C, H, W) in [-1, 1] to ``path`` (.npz) as one uint8 array
    ``images`` of shape (N, H, W) or (N, H, W, 3): exactly the pixels the PNG folder
    would hold, so both exports are interchangeable (and 4× smaller than float32).
    ``path`` must be new, or (with ``force``) a file gankit wrote."""
    path = Path(path)
    _check_npz_name(path)
    return _write_npz(to_uint8(samples), owner.claim_file(path, force=force))


def _check_npz_name(path: Path) -> None:
    if path.suffix != ".npz":
        raise GankitError(f"cannot write images to '{path}': use a .npz file name or a folder")


def _write_npz(images: np.ndarray, path: Path) -> Path:
    with atomic_open(path, "wb") as handle:
        np.savez_compressed(handle, images=images)
    return path


def export_samples(draw: Callable[[int], Tensor], n: int, output: str | Path, batch_size: int = 1000,
                   progress: bool = True, force: bool = False) -> Path:
    """Draw ``n`` images with ``draw(k)`` (the next k samples, (k, C, H, W) in [-1, 1])
    in batches of ``batch_size`` and write them to ``output``: a folder of
    ``0.png … {n-1}.png`` when ``output`` has no suffix or is an existing folder,
    else a ``.npz`` file (``save_npz``'s layout). A folder export holds one batch in
    memory at a time; an npz export holds the uint8 pixels of all n. Returns ``output``.
    The folder must be new or empty, or (with ``force``) an export gankit wrote and
    nothing else; the file must be new, or (with ``force``) one gankit wrote.
    """
    output = Path(output)
    if n < 1 or batch_size < 1:
        raise GankitError(f"need n >= 1 and batch_size >= 1, got n={n}, batch_size={batch_size}")
    to_folder = output.is_dir() or output.suffix == ""
    if to_folder:  # however well they compress, n PNGs take n files of at least MIN_PNG_BYTES
        check_disk(output, n * MIN_PNG_BYTES, n, f"writing {n} PNGs to {output}", "ask for fewer samples (-n)")
    if not to_folder and output.suffix != ".npz":
        raise GankitError(f"cannot write images to '{output}': use a folder (no suffix) or a .npz file name")
    output = owner.check_new(output, "samples", force=force, option="-o") if to_folder else \
        owner.claim_file(output, force=force)
    if to_folder:
        owner.clean_stale_beside(output)  # what a killed export left beside it
    with ExitStack() as stack:  # a folder is written beside its name and renamed in when complete
        folder = stack.enter_context(atomic_folder(output, replace=True)) if to_folder else None
        if folder is not None:  # marked at once, so a killed export's folder is known as gankit's
            owner.mark(folder, "samples")
        pixels = _draw_all(draw, n, batch_size, progress, folder)
        if folder is not None:  # the folder's record of its files, bound to it before it is renamed in
            owner.mark(folder, "samples", {f"{index}.png" for index in range(n)})
    if not to_folder:
        _write_npz(pixels, output)
    return output


def _draw_all(draw: Callable[[int], Tensor], n: int, batch_size: int, progress: bool,
              folder: Path | None) -> np.ndarray | None:
    """Draw ``n`` images in batches: written to ``folder`` as PNGs, or returned as uint8 pixels."""
    pixels: np.ndarray | None = None
    bar = Progress(TextColumn("[bold]sampling"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("ETA"), TimeRemainingColumn(), console=Console(file=sys.stderr),
                   disable=not progress)
    with bar:
        task = bar.add_task("sample", total=n)
        for start in range(0, n, batch_size):
            count = min(batch_size, n - start)
            batch = draw(count)
            if batch.ndim != 4 or batch.shape[0] != count:
                raise GankitError(f"expected {count} images of shape (C, H, W), got a batch of shape "
                                  f"{tuple(batch.shape)}")
            if folder is not None:
                save_image_folder(batch, folder, start_index=start)
            else:
                batch_pixels = to_uint8(batch)
                if pixels is None:
                    pixels = np.empty((n, *batch_pixels.shape[1:]), dtype=np.uint8)
                pixels[start:start + count] = batch_pixels
            bar.advance(task, count)
    return pixels
