"""Sets of images to score against each other (``gankit eval --real PATH --fake PATH``):
a folder of images (e.g. the course platform's ``0.png … 9999.png``), a ``.npz`` file
(``gankit sample -o x.npz``, or any uint8 array of shape (N, H, W), (N, H, W, C) or
(N, C, H, W)), or ``mnist`` for the bundled MNIST sample.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.data.base import Dataset
from gankit.data.folder import load_folder, scan_folder
from gankit.errors import DataError
from gankit.files.arrays import npz_header
from gankit.files.budget import check_memory
from gankit.files.reading import regular_file


def load_image_set(path: str | Path, *, channels: int, image_size: int | None = None) -> torch.Tensor:
    """Images (N, channels, S, S) float32 in [−1, 1]; S is ``image_size``, or the size of the
    images themselves when None (the first image's larger side, for a folder)."""
    if str(path) == "mnist":
        from gankit.data.mnist import load_mnist

        return _resize(load_mnist().tensor, channels, image_size)
    path = Path(path)
    if path.suffix == ".npz":
        return _resize(_read_npz(path), channels, image_size)
    if not path.is_dir():
        problem = "is not a folder or a .npz file" if path.exists() else "not found"
        raise DataError(f"{path}: {problem}; give a folder of images, a .npz file, or 'mnist'")
    size = image_size or _native_size(path)
    dataset = load_folder(path, channels=channels, image_size=size, use_cache=False)
    _warn_skipped(dataset, path)
    return dataset.tensor


def reference_dataset(path: str | Path) -> Dataset:
    """The real set of ``gankit eval --real PATH`` as a `Dataset` at its own size and channels
    (a folder's first readable image decides: grey modes give 1 channel, others 3), with the
    labels of a folder of class folders: what the folder's automatic feature space is trained on."""
    if str(path) == "mnist":
        from gankit.data.mnist import load_mnist

        return load_mnist()
    path = Path(path)
    if not path.is_dir():  # a .npz file (anything else is refused by load_image_set)
        images = _read_npz(path) if path.suffix == ".npz" else load_image_set(path, channels=3)
        return Dataset("npz", images, None, kind="images", source=str(path))
    size, channels = _native_size(path), _native_channels(path)
    dataset = load_folder(path, channels=channels, image_size=size)
    _warn_skipped(dataset, path)
    return dataset


def _warn_skipped(dataset: Dataset, path: Path) -> None:
    if dataset.skipped:
        print(f"warning: {len(dataset.skipped)} files under {path} skipped (e.g. {dataset.skipped[0][0]}: "
              f"{dataset.skipped[0][1]})")


def _read_npz(path: Path) -> torch.Tensor:
    """The images of ``path``: its header is checked (numbers, as much data as it claims, room
    in memory) before the array is read; object arrays are never unpickled."""
    regular_file(path, "image file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            key = "images" if "images" in archive.files else (archive.files[0] if len(archive.files) == 1 else None)
            if key is None:
                raise DataError(f"{path}: holds {archive.files}; expected one array, or one named 'images'")
            header = npz_header(archive.zip, key, str(path))
            # held at once: the stored array and its float32 tensor
            check_memory(header.nbytes + 4 * header.count, f"loading {path} ({header.count} pixel values)",
                         "give fewer images", DataError)
            images = archive[key]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: cannot read as .npz ({error})") from None
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4 and images.shape[-1] in (1, 3) and images.shape[1] not in (1, 3):
        images = images.transpose(0, 3, 1, 2)
    if images.ndim != 4 or images.shape[1] not in (1, 3) or images.shape[0] == 0:
        raise DataError(f"{path}: images of shape {images.shape}; expected (N, H, W), (N, H, W, C) or (N, C, H, W)")
    tensor = torch.from_numpy(np.ascontiguousarray(images))
    if tensor.dtype == torch.uint8:
        return tensor.float().div_(127.5).sub_(1.0)
    tensor = tensor.float()
    low, high = float(tensor.min()), float(tensor.max())
    if low >= -1.0 and high <= 1.0:
        return tensor if low < 0 else tensor.mul(2).sub_(1)  # [−1, 1] as is; [0, 1] stretched
    return tensor.div(127.5).sub_(1.0)  # 0..255 floats


def _resize(images: torch.Tensor, channels: int, size: int | None) -> torch.Tensor:
    if images.shape[1] != channels:
        images = images.mean(dim=1, keepdim=True) if channels == 1 else images.expand(-1, 3, -1, -1)
    if size is not None and tuple(images.shape[2:]) != (size, size):
        images = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear",
                                                 antialias=size < images.shape[2], align_corners=False)
    return images.contiguous()


def _native_size(folder: Path) -> int:
    return max(_first_image(folder)[0])


def _native_channels(folder: Path) -> int:
    return 1 if _first_image(folder)[1] in GREY_MODES else 3


GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})


def _first_image(folder: Path) -> tuple[tuple[int, int], str]:
    """(size, mode) of the first readable image of ``folder``."""
    layout = scan_folder(folder)
    for name in layout.images[:20]:
        try:
            with Image.open(folder / name) as image:
                return image.size, image.mode
        except OSError:
            continue
    raise DataError(f"{folder}: no readable image among the first files; is it the right folder?")
