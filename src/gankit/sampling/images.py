"""Export generated images the way the course platform reads them: a folder
``DIR/0.png … DIR/{n-1}.png`` of single-channel (or RGB) PNGs of the data's size,
or one ``.npz`` file; batched, with a progress bar."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import Tensor

from gankit.errors import GankitError
from gankit.report.grid import to_uint8

__all__ = ["save_image_folder", "save_npz", "export_samples"]


def save_image_folder(samples: Tensor, directory: str | Path, start_index: int = 0) -> int:
    """Write samples (N, C, H, W) in [-1, 1] as ``directory/{start_index + i}.png``, one
    H × W PNG each: mode 'L' for C = 1, 'RGB' for C = 3, pixels ``to_uint8(samples)``.
    Existing files of the same names are overwritten. Returns N."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    pixels = to_uint8(samples)
    for offset, image in enumerate(pixels):
        Image.fromarray(image).save(directory / f"{start_index + offset}.png", format="PNG")
    return len(pixels)


def save_npz(samples: Tensor, path: str | Path) -> Path:
    """Write samples (N, C, H, W) in [-1, 1] to ``path`` (.npz) as one uint8 array
    ``images`` of shape (N, H, W) or (N, H, W, 3): exactly the pixels the PNG folder
    would hold, so both exports are interchangeable (and 4× smaller than float32)."""
    return _write_npz(to_uint8(samples), Path(path))


def _write_npz(images: np.ndarray, path: Path) -> Path:
    if path.suffix != ".npz":
        raise GankitError(f"cannot write images to '{path}': use a .npz file name or a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=images)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(path)
    return path


def _check_folder(directory: Path, n: int) -> None:
    """Refuse a folder holding numbered PNGs that this export would not overwrite:
    the result would mix two exports."""
    if directory.exists() and not directory.is_dir():
        raise GankitError(f"'{directory}' is a file: give a folder (no suffix) or a .npz file name")
    stale = [p.name for p in directory.glob("*.png") if p.stem.isdigit() and int(p.stem) >= n] \
        if directory.is_dir() else []
    if stale:
        raise GankitError(f"'{directory}' already holds {len(stale)} numbered PNGs beyond {n - 1}.png "
                          f"(e.g. {sorted(stale)[0]}) from an earlier export: use an empty folder or delete them")


def export_samples(draw: Callable[[int], Tensor], n: int, output: str | Path, batch_size: int = 1000,
                   progress: bool = True) -> Path:
    """Draw ``n`` images with ``draw(k)`` (the next k samples, (k, C, H, W) in [-1, 1])
    in batches of ``batch_size`` and write them to ``output``: a folder of
    ``0.png … {n-1}.png`` when ``output`` has no suffix or is an existing folder,
    else a ``.npz`` file (``save_npz``'s layout). A folder export holds one batch in
    memory at a time; an npz export holds the uint8 pixels of all n. Returns ``output``.
    """
    output = Path(output)
    if n < 1 or batch_size < 1:
        raise GankitError(f"need n >= 1 and batch_size >= 1, got n={n}, batch_size={batch_size}")
    to_folder = output.is_dir() or output.suffix == ""
    if to_folder:
        _check_folder(output, n)
    elif output.suffix != ".npz":
        raise GankitError(f"cannot write images to '{output}': use a folder (no suffix) or a .npz file name")
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
            if to_folder:
                save_image_folder(batch, output, start_index=start)
            else:
                batch_pixels = to_uint8(batch)
                if pixels is None:
                    pixels = np.empty((n, *batch_pixels.shape[1:]), dtype=np.uint8)
                pixels[start:start + count] = batch_pixels
            bar.advance(task, count)
    if not to_folder:
        _write_npz(pixels, output)
    return output
