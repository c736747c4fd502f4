"""Write generated samples to disk in the format the file name asks for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gankit.errors import GankitError
from gankit.files.atomic import atomic_open
from gankit.files.owner import claim_file

POINT_FORMATS = (".csv", ".npy")


def check_points_path(path: Path) -> None:
    if Path(path).suffix not in POINT_FORMATS:
        raise GankitError(f"cannot write points to '{path}': use a .csv or .npy file name")


def save_points(samples: torch.Tensor, path: Path, *, force: bool = False) -> Path:
    """(n, d) points to ``.csv`` (header x0,x1,...) or ``.npy``: a new file, or (with ``force``)
    one gankit wrote."""
    path = Path(path)
    check_points_path(path)
    path = claim_file(path, force=force)
    array = samples.reshape(samples.shape[0], -1).cpu().numpy().astype(np.float32)
    with atomic_open(path, "wb") as handle:  # a full disk leaves the old file, never a shorter one
        if path.suffix == ".npy":
            np.save(handle, array)
        else:
            header = ",".join(f"x{i}" for i in range(array.shape[1]))
            np.savetxt(handle, array, delimiter=",", header=header, comments="", fmt="%.7g")
    return path
