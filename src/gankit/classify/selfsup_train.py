"""Training a self-supervised evaluator: an image set without labels in, a feature space out.

An image folder without class subfolders has no classifier to compute FID, KID or
precision/recall in. Here an `EvaluatorCNN` without a class head learns its features
from the images alone, with a joint-embedding objective on two augmented views of
every image (`gankit.classify.selfsup`: the objectives, and why the augmentations are
geometric only); a projector MLP sits between the features and the loss while training
and is dropped afterwards. The saved features are `EvaluatorCNN.features`, as for the
classifier evaluators, so the file is an ordinary evaluator file.

``use_labels=True`` trains ONE network with both the self-supervised loss and a class
head (cross-entropy on the labelled images of a stratified 80/20 split), so the file also
gives class probabilities (Inception Score, classes covered) and its held-out accuracy.

The number of epochs defaults to a budget of images seen (`IMAGE_BUDGET`), so the time
is about the same whatever the set's size: 2,000 32×32 RGB images train in about 30 s on
an idle 2-core CPU (several minutes when other jobs share its cores). Same dataset and seed give the same weights on the same CPU and torch:
weight init draws from torch's default generator inside `torch.random.fork_rng` (the
caller's RNG state is left alone), batch order and views from explicit generators.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.classify.classifier_file import classifier_payload
from gankit.classify.evaluator import Evaluator
from gankit.classify.evaluator_train import accuracy, describe_data, stratified_split
from gankit.classify.selfsup import OBJECTIVES, Augmentation, objective_loss, projector, random_view
from gankit.data.base import Dataset
from gankit.errors import ConfigError, DataError
from gankit.files.checkpoint import save_checkpoint
from gankit.files.owner import claim_file
from gankit.models.classifiers import EvaluatorCNN

# Below this, two views of a few hundred images teach a network little beyond them, and the
# k-NN metrics computed in its space (precision, recall: k = 5) are too noisy to read.
MIN_IMAGES = 500
IMAGE_BUDGET = 14_000  # images seen (each as two views): 7 epochs of 2,000, ~30 s on 2 idle cores
MAX_EPOCHS = 60
DEFAULT_OBJECTIVE = "simclr"
BATCH_SIZE, LR, FEATURE_DIM, HOLDOUT_SHARE = 128, 2e-3, 128, 0.2


def recipe() -> dict[str, Any]:
    """Everything the default training depends on besides the data, seed and torch: what a
    cache of trained evaluators keys on, so a changed default trains a new one."""
    from gankit.classify import selfsup

    return {"objective": DEFAULT_OBJECTIVE, "augmentation": Augmentation().settings(), "batch_size": BATCH_SIZE,
            "lr": LR, "feature_dim": FEATURE_DIM, "image_budget": IMAGE_BUDGET, "max_epochs": MAX_EPOCHS,
            "holdout_share": HOLDOUT_SHARE, "temperature": selfsup.TEMPERATURE,
            "vicreg_weights": list(selfsup.VICREG_WEIGHTS), "projector": [512, 256]}


def default_epochs(count: int) -> int:
    """Epochs for `count` images: `IMAGE_BUDGET` images seen, at least 1, at most `MAX_EPOCHS`."""
    return max(1, min(MAX_EPOCHS, round(IMAGE_BUDGET / max(1, count))))


def fit_self_supervised(
    dataset: Dataset,
    *,
    seed: int = 0,
    epochs: int | None = None,
    batch_size: int = BATCH_SIZE,
    lr: float = LR,
    objective: str = DEFAULT_OBJECTIVE,
    augmentation: Augmentation | None = None,
    feature_dim: int = FEATURE_DIM,
    use_labels: bool = False,
    progress: bool = True,
    description: str | None = None,
) -> tuple[EvaluatorCNN, list[str], dict[str, Any]]:
    """Train a self-supervised `EvaluatorCNN` on `dataset`'s images (labels ignored unless
    `use_labels`); return (network in eval mode, class names ([] without a head), report).
    Writes nothing."""
    images = _images(dataset)
    augmentation = augmentation or Augmentation()
    if objective not in OBJECTIVES:
        raise ConfigError(f"objective '{objective}': choose one of {', '.join(OBJECTIVES)}")
    epochs = default_epochs(len(images)) if epochs is None else epochs
    if epochs < 1 or batch_size < 2 or lr <= 0:
        raise DataError(f"epochs={epochs}, batch_size={batch_size}, lr={lr}: give epochs ≥ 1, batch_size ≥ 2 "
                        "and lr > 0")
    labels, class_names = _labels(dataset) if use_labels else (None, [])
    if labels is not None:
        train_index, holdout_index = stratified_split(labels, HOLDOUT_SHARE, seed)
    else:
        train_index, holdout_index = torch.arange(len(images)), torch.arange(0)
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = EvaluatorCNN(images.shape[1], images.shape[2], len(class_names), feature_dim)
        head = projector(feature_dim)
        losses = _fit(network, head, images[train_index], None if labels is None else labels[train_index],
                      objective, augmentation, epochs, batch_size, lr, seed, progress)
    network.eval()
    report: dict[str, Any] = {
        "name": Path(dataset.source).name if dataset.name == "folder" and dataset.source else dataset.name,
        "self_supervised": True, "objective": objective, "augmentation": augmentation.settings(),
        "with_labels": labels is not None, "seed": seed, "epochs": epochs, "batch_size": batch_size, "lr": lr,
        "feature_dim": feature_dim, "n_train": len(train_index), "final_loss": losses[-1],
        "threads": torch.get_num_threads(), "torch_version": str(torch.__version__),
        "data": description or describe_data(dataset, len(images), "images"),
        "seconds": round(time.perf_counter() - started, 2),
    }
    if labels is not None:
        evaluator = Evaluator(report["name"], network, class_names)
        report.update(holdout_accuracy=accuracy(evaluator, images[holdout_index], labels[holdout_index]),
                      train_accuracy=accuracy(evaluator, images[train_index], labels[train_index]),
                      n_holdout=len(holdout_index), holdout_share=HOLDOUT_SHARE)
    return network, class_names, report


def train_self_supervised(dataset: Dataset, out_path: str | Path, *, force: bool = False,
                          **settings: Any) -> dict[str, Any]:
    """`fit_self_supervised(dataset, **settings)`, written as an evaluator file at `out_path`
    (a new file, or with `force` one gankit wrote: claimed before training); returns the report."""
    out_path = claim_file(out_path, force=force)
    network, class_names, report = fit_self_supervised(dataset, **settings)
    try:  # save_checkpoint writes atomically, through the location's record of what gankit wrote
        save_checkpoint(classifier_payload(network, class_names, report), out_path)
    except OSError as exc:
        raise DataError(f"cannot write the evaluator file '{out_path}': {exc.strerror or exc}") from None
    return report


def _fit(network: EvaluatorCNN, head: torch.nn.Module, images: Tensor, labels: Tensor | None, objective: str,
         augmentation: Augmentation, epochs: int, batch_size: int, lr: float, seed: int,
         progress: bool) -> list[float]:
    """The training loop (both networks in train mode); returns each epoch's mean loss."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    parameters = list(network.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(parameters, lr=lr, weight_decay=1e-6)
    batch_size = min(batch_size, len(images))
    steps = len(images) // batch_size  # full batches only: a small last batch gives poor batch statistics
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps)
    generator = torch.Generator().manual_seed(seed + 1)
    bar = Progress(TextColumn("self-supervised"), BarColumn(bar_width=30), TextColumn("{task.fields[status]}"),
                   TimeRemainingColumn(compact=True), console=Console(file=sys.stderr), disable=not progress)
    losses: list[float] = []
    network.to(memory_format=torch.channels_last)  # oneDNN's fast layout for CPU convolutions (~15% here)
    network.train()
    head.train()
    with bar:
        task = bar.add_task("fit", total=epochs * steps, status="")
        for epoch in range(1, epochs + 1):
            epoch_started, loss_sum = time.perf_counter(), 0.0
            order = torch.randperm(len(images), generator=generator)
            for step in range(steps):
                batch = order[step * batch_size:(step + 1) * batch_size]
                loss = _batch_loss(network, head, images[batch], None if labels is None else labels[batch],
                                   objective, augmentation, generator)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                loss_sum += loss.item()
                bar.update(task, advance=1, status=f"epoch {epoch}/{epochs} loss {loss.item():.3f}")
            losses.append(round(loss_sum / steps, 6))
            if progress:
                bar.console.print(f"epoch {epoch}/{epochs}  {objective} loss {losses[-1]:.4f}  "
                                  f"{time.perf_counter() - epoch_started:.1f}s", highlight=False, soft_wrap=True)
    network.to(memory_format=torch.contiguous_format)  # the file's weights in the usual layout
    return losses


def _batch_loss(network: EvaluatorCNN, head: torch.nn.Module, batch: Tensor, labels: Tensor | None,
                objective: str, augmentation: Augmentation, generator: torch.Generator) -> Tensor:
    """The objective on two views of `batch` (one forward pass for both), plus the class
    cross-entropy of both views when there are labels."""
    views = torch.cat([random_view(batch, augmentation, generator), random_view(batch, augmentation, generator)])
    views = views.contiguous(memory_format=torch.channels_last)
    features, logits = network.features_and_logits(views)
    z1, z2 = head(features).chunk(2)
    loss = objective_loss(objective, z1, z2)
    if labels is not None:
        loss = loss + F.cross_entropy(logits, torch.cat([labels, labels]))
    return loss


def _images(dataset: Dataset) -> Tensor:
    """The dataset's images as float32, or a DataError saying why they cannot be used."""
    if dataset.kind != "images" or dataset.tensor.ndim != 4:
        raise DataError(f"data '{dataset.name}' holds samples of shape {tuple(dataset.sample_shape)}; a "
                        "self-supervised evaluator is trained on images (N, C, H, W)")
    if len(dataset) < MIN_IMAGES:  # a setting to change (more images): exit code 2 on the command line
        raise ConfigError(f"data '{dataset.name}' has {len(dataset)} images; a self-supervised evaluator needs at "
                          f"least {MIN_IMAGES}")
    return dataset.tensor.to(torch.float32)


def _labels(dataset: Dataset) -> tuple[Tensor, list[str]]:
    """Labels and class names for the joint mode, or a DataError saying what is missing."""
    if dataset.labels is None:
        raise DataError(f"data '{dataset.name}' has no labels; --with-labels needs classes: for a folder, put the "
                        "images in one subfolder per class")
    labels = dataset.labels.to(torch.int64)
    if len(torch.unique(labels)) < 2:
        raise DataError(f"data '{dataset.name}' has fewer than 2 classes; --with-labels needs at least 2")
    return labels, list(dataset.label_names or [])



__all__ = ["IMAGE_BUDGET", "MIN_IMAGES", "default_epochs", "fit_self_supervised", "recipe", "train_self_supervised"]
