"""Labelled images for the workbench and the stratified k-fold split over them.

The data is a folder with one subfolder per class (read by `gankit.data.folder`,
so unreadable files are skipped and listed, or moved to ``Trash/`` with
quarantine, exactly as for GAN training) or ``mnist``, the bundled 5,000-digit
sample. The cats-vs-dogs study used a shuffled ``KFold``; here the folds are stratified
(scikit-learn's ``StratifiedKFold``, shuffled, seeded) so that every fold keeps the
class shares — which also makes a class with fewer images than folds an error
rather than a fold without that class.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import DataError

FOLDER_IMAGE_SIZE = 50  # the cats-vs-dogs study resized its images to 50×50


@dataclass(eq=False)
class LabelledImages:
    """Images (N, C, S, S) float32 in [−1, 1], labels (N,) int64 in 0..K−1 and K class names."""

    images: Tensor
    labels: Tensor
    class_names: list[str]
    source: str = ""
    name: str = "images"
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or len(self.images) != len(self.labels):
            raise DataError(f"labelled images need images (N, C, H, W) and N labels; got {tuple(self.images.shape)} "
                            f"and {len(self.labels)} labels")

    def counts(self) -> dict[str, int]:
        """Images per class name."""
        tally = torch.bincount(self.labels, minlength=len(self.class_names)).tolist()
        return dict(zip(self.class_names, tally))


def load_labelled_images(data: str | Path, *, image_size: int | None = None, channels: int = 1,
                         classes: Sequence[str] | None = None, per_class: int = 0, seed: int = 0,
                         quarantine: bool = False, progress: bool = False) -> LabelledImages:
    """``mnist`` or a folder of class folders as `LabelledImages`, resized to `image_size`
    (default: 28 for MNIST, 50 for a folder), keeping only `classes` (relabelled 0..K−1 in
    the given order) and at most `per_class` images of each class (a seeded random subset)."""
    if channels not in (1, 3):
        raise DataError(f"channels={channels}: use 1 (grayscale) or 3 (RGB)")
    if image_size is not None and image_size < 1:
        raise DataError(f"image size {image_size}: give a positive number of pixels")
    if str(data) == "mnist":
        from gankit.data.mnist import load_mnist

        dataset = load_mnist()
        images = resize(dataset.tensor, channels, image_size or dataset.tensor.shape[-1])
    else:
        from gankit.data.folder import load_folder

        dataset = load_folder(data, channels=channels, image_size=image_size or FOLDER_IMAGE_SIZE,
                              quarantine=quarantine, progress=progress)
        if dataset.labels is None:
            raise DataError(f"{data}: the images lie directly in the folder, so they have no classes; put them "
                            "in one subfolder per class (e.g. DATA/cat/*.jpg, DATA/dog/*.jpg)")
        images = dataset.tensor
    name = "mnist" if str(data) == "mnist" else Path(data).name
    labelled = LabelledImages(images, dataset.labels.to(torch.int64), list(dataset.class_names or []),
                              source=str(dataset.source or data), skipped=list(dataset.skipped), name=name)
    if classes:
        labelled = select_classes(labelled, classes)
    if per_class > 0:
        labelled = cap_per_class(labelled, per_class, seed)
    present = [name for name, count in labelled.counts().items() if count > 0]
    if len(present) < 2:
        raise DataError(f"{data}: found images of {len(present)} class(es) ({', '.join(present) or 'none'}); "
                        "a classifier needs at least 2 classes with images")
    return labelled


def select_classes(labelled: LabelledImages, classes: Sequence[str]) -> LabelledImages:
    """Only the images of `classes` (names), relabelled 0..len(classes)−1 in that order."""
    names = [str(name).strip() for name in classes]
    unknown = [name for name in names if name not in labelled.class_names]
    if unknown or len(set(names)) != len(names) or len(names) < 2:
        missing = f" ({', '.join(unknown)} not among them)" if unknown else ""
        raise DataError(f"--classes {','.join(names)}: give at least 2 different class names from "
                        f"{', '.join(labelled.class_names)}{missing}")
    old_index = torch.tensor([labelled.class_names.index(name) for name in names])
    keep = torch.isin(labelled.labels, old_index)
    remap = torch.full((len(labelled.class_names),), -1, dtype=torch.int64)
    remap[old_index] = torch.arange(len(names))
    return dataclasses.replace(labelled, images=labelled.images[keep], labels=remap[labelled.labels[keep]],
                               class_names=names)


def cap_per_class(labelled: LabelledImages, per_class: int, seed: int) -> LabelledImages:
    """At most `per_class` images of each class, a seeded random subset kept in original order."""
    generator = torch.Generator().manual_seed(seed)
    keep = []
    for label in range(len(labelled.class_names)):
        members = torch.nonzero(labelled.labels == label).flatten()
        keep.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    index = torch.cat(keep).sort().values
    return dataclasses.replace(labelled, images=labelled.images[index], labels=labelled.labels[index])


def resize(images: Tensor, channels: int, size: int) -> Tensor:
    """Images converted to `channels` (gray mean or repeat) and resized bilinearly to size×size."""
    if images.shape[1] != channels:
        images = images.mean(dim=1, keepdim=True) if channels == 1 else images.repeat(1, 3, 1, 1)
    if tuple(images.shape[2:]) != (size, size):
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False,
                               antialias=size < images.shape[2])
    return images.contiguous()


def stratified_folds(labels: Tensor | np.ndarray, folds: int, seed: int,
                     class_names: Sequence[str] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train indices, validation indices) for each of `folds` stratified, shuffled, seeded
    folds; the validation sets are disjoint and together cover every image once.

    Each class's images are shuffled (NumPy's seeded generator) and dealt to the folds in
    turn, the deal continuing from class to class, so every class splits into shares that
    differ by at most one image and so do the folds' sizes (the guarantees of
    scikit-learn's StratifiedKFold, without the dependency; the folds themselves differ)."""
    labels = np.asarray(labels)
    if folds < 2:
        raise DataError(f"--folds {folds}: cross-validation needs at least 2 folds")
    counts = np.bincount(labels, minlength=len(class_names) if class_names is not None else 0)
    small = [(value, int(count)) for value, count in enumerate(counts)
             if count < folds and (count > 0 or class_names is not None)]
    if small:
        listed = ", ".join(f"class '{class_names[value] if class_names is not None else value}' has {count}"
                           for value, count in small)
        fewest = min(count for _, count in small)
        lower = f"lower --folds to {fewest}, " if fewest >= 2 else ""
        raise DataError(f"{folds}-fold cross-validation needs at least {folds} images of every class (one per "
                        f"fold), but {listed}; add images, {lower}or leave the class out with --classes")
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(labels), dtype=np.int64)
    dealt = 0
    for value in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == value))
        fold_of[members] = (dealt + np.arange(len(members))) % folds
        dealt += len(members)
    every = np.arange(len(labels))
    return [(every[fold_of != fold], every[fold_of == fold]) for fold in range(folds)]
