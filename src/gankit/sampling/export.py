"""Write generated samples to disk in the format the file name asks for, after checking
that what the export holds at once fits in memory."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from gankit.errors import GankitError
from gankit.files.atomic import atomic_open
from gankit.files.owner import claim_file
from gankit.files.budget import check_memory

POINT_FORMATS = (".csv", ".npy")
FEWER = "ask for fewer samples (-n)"


def sample_bytes(n: int, sample_shape: tuple[int, ...]) -> int:
    """Bytes that drawing ``n`` samples into one float32 tensor holds at its peak: the
    batches and their concatenation."""
    return 2 * 4 * n * math.prod(sample_shape)


def check_export(n: int, sample_shape: tuple[int, ...], output: Path, *, drawn_first: bool,
                 labelled: bool = False) -> None:
    """Refuse, in one line naming ``-n``, an export of ``n`` samples whose data cannot fit in
    memory: points (.csv/.npy) and ``drawn_first`` samples (DRS) are all drawn before writing,
    an ``.npz`` holds every image's pixels, and a ``labelled`` (conditional) export the int64
    class of every sample. A folder of PNGs holds one batch at a time."""
    images = len(sample_shape) == 3
    folder = images and (output.is_dir() or output.suffix == "")
    needed = sample_bytes(n, sample_shape) if drawn_first or not images else 0
    needed += 8 * n if labelled else 0
    if images and not folder:
        needed += n * math.prod(sample_shape)  # the uint8 pixels
    hint = f", or write a folder of PNGs (-o {output.with_suffix('')})" if images and not folder and not drawn_first \
        else ""
    check_memory(needed, f"writing {n} samples to {output}", FEWER + hint)


def check_points_path(path: Path) -> None:
    if Path(path).suffix not in POINT_FORMATS:
        raise GankitError(f"cannot write points to '{path}': use a .csv or .npy file name")


def save_points(samples: torch.Tensor, path: Path, *, force: bool = False) -> Path:
    """(n, d) points to ``.csv`` (header x0,x1,...) or ``.npy``: a new file, or (with ``force``)
    one gankit wrote."""
    path = Path(path)
    check_points_path(path)
    path = claim_file(path, force=force)
    array = samples.reshape(samples.shape[0], -1).cpu().numpy().astype(np.float32, copy=False)
    with atomic_open(path, "wb") as handle:  # a full disk leaves the old file, never a shorter one
        if path.suffix == ".npy":
            np.save(handle, array)
        else:
            header = ",".join(f"x{i}" for i in range(array.shape[1]))
            np.savetxt(handle, array, delimiter=",", header=header, comments="", fmt="%.7g")
    return path
