"""Self-supervised evaluators compared as metric spaces for GAN evaluation: the table in BENCHMARKS.md.

For each image set, 2,000 images train each feature network and 2,000 others (two
disjoint halves A and B of 1,000) are scored in its space:

- ``base``: FID(A, B), what two real samples differ by;
- ``blur``, ``noise``, ``colour``: FID(A, A degraded) / base, the degradations at a moderate
  severity (Gaussian blur σ = 1 px; Gaussian noise σ = 0.1 in [−1, 1] units; a colour cast
  of +0.2 red, −0.2 blue in [−1, 1] units, on grayscale sets a brightness shift of +0.2);
- ``collapse``: FID(A, 10 distinct images of B, each repeated 100 times) / base;
- ``ood``: FID(A, 1,000 images of the other set, resized and converted) / base;
- ``knn``: 5-nearest-neighbour class accuracy of the held-out 2,000 among the 2,000
  training images' features (labels used only here; cells have none).

Bigger ratios = a more sensitive metric space. Methods: ``random`` (the untrained
network: what the architecture alone gives); ``OBJECTIVE-VIEWS`` such as ``simclr-both``
or ``vicreg-crop`` (`fit_self_supervised` at its default budget, or ``--epochs``, with the
views of `VIEWS`); ``joint`` (the default objective and views plus a class head,
``use_labels=True``) and ``classifier`` (``train_evaluator`` with ``MNIST_RECIPE``: the
existing labelled evaluator). Timings are wall clock on this machine.

    PYTHONPATH=src python benchmarks/bench_selfsup.py                 # random, vicreg-both, simclr-both on all sets
    PYTHONPATH=src python benchmarks/bench_selfsup.py --sets colour-mnist,cells,mnist --methods vicreg-crop,simclr-crop,vicreg-shift,simclr-shift
    PYTHONPATH=src python benchmarks/bench_selfsup.py --sets colour-mnist --methods joint,classifier
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_cells import make_cells  # noqa: E402

from gankit.classify.evaluator import Evaluator, load_evaluator  # noqa: E402
from gankit.classify.evaluator_train import MNIST_RECIPE, train_evaluator  # noqa: E402
from gankit.classify.selfsup import Augmentation  # noqa: E402
from gankit.classify.selfsup_train import DEFAULT_OBJECTIVE, fit_self_supervised  # noqa: E402
from gankit.data.base import Dataset  # noqa: E402
from gankit.metrics.fid import fid  # noqa: E402
from gankit.models.classifiers import EvaluatorCNN  # noqa: E402

N_TRAIN, N_EVAL = 2000, 2000
VIEWS = {  # METHOD-VIEWS picks one of these, e.g. vicreg-shift
    "crop": Augmentation(min_scale=0.5, max_scale=1.0, max_ratio=4 / 3, max_shift=0.0, flip=True),
    "shift": Augmentation(min_scale=1.0, max_scale=1.0, max_ratio=1.0, max_shift=0.125, flip=True),
    "both": Augmentation(min_scale=0.5, max_scale=1.0, max_ratio=4 / 3, max_shift=0.125, flip=True),
}
COLUMNS = ("base", "blur", "noise", "colour", "collapse", "ood", "knn", "acc", "seconds")


def load_set(name: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """4,000 images (and labels, where the set has them) of the named set, shuffled with seed 0."""
    if name == "cells":
        return make_cells(N_TRAIN + N_EVAL, 32, seed=0), None
    if name == "colour-mnist":
        from gankit.data.colour_mnist import load_colour_mnist
        data = load_colour_mnist()
    else:
        from gankit.data.mnist import load_mnist
        data = load_mnist()
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:N_TRAIN + N_EVAL]
    return data.tensor[order], data.labels[order]


def gaussian_blur(images: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    offsets = torch.arange(-2, 3, dtype=torch.float32)
    kernel = torch.exp(-offsets ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    padded = F.pad(images, (2, 2, 2, 2), mode="replicate")
    rows = F.conv2d(padded, kernel.view(1, 1, 1, 5).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(rows, kernel.view(1, 1, 5, 1).repeat(channels, 1, 1, 1), groups=channels)


def degraded(images: torch.Tensor) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    if images.shape[1] == 3:
        cast = torch.tensor([0.2, 0.0, -0.2]).view(1, 3, 1, 1)
    else:
        cast = torch.full((1, 1, 1, 1), 0.2)
    return {"blur": gaussian_blur(images),
            "noise": (images + 0.1 * torch.randn(images.shape, generator=generator)).clamp(-1, 1),
            "colour": (images + cast).clamp(-1, 1)}


def other_set(name: str, like: torch.Tensor) -> torch.Tensor:
    """1,000 images of another set, as `like`'s channels and size (the out-of-domain test)."""
    if name == "cells":
        from gankit.data.colour_mnist import load_colour_mnist
        images = load_colour_mnist().tensor[-1000:]
    else:
        images = make_cells(1000, 32, seed=99)
    if like.shape[1] == 1:
        images = images.mean(dim=1, keepdim=True)
    return F.interpolate(images, size=like.shape[2:], mode="bilinear", align_corners=False, antialias=True)


def knn_accuracy(train: torch.Tensor, train_labels: torch.Tensor, test: torch.Tensor, test_labels: torch.Tensor,
                 k: int = 5) -> float:
    distances = torch.cdist(test.double(), train.double())
    nearest = distances.topk(k, largest=False).indices
    votes = F.one_hot(train_labels[nearest], int(train_labels.max()) + 1).sum(dim=1)
    return float((votes.argmax(dim=1) == test_labels).float().mean())


def build(method: str, images: torch.Tensor, labels: torch.Tensor | None, name: str,
          scratch: Path, epochs: int | None = None) -> tuple[Evaluator, float, float | None]:
    """(evaluator, training seconds, held-out class accuracy or None) for one method."""
    dataset = Dataset(name=name, tensor=images, geometry=None, labels=labels, kind="images",
                      class_names=None if labels is None else [str(i) for i in range(10)])
    started = time.perf_counter()
    if method == "random":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            network = EvaluatorCNN(images.shape[1], images.shape[2], 0).eval()
        return Evaluator("random", network, []), 0.0, None
    if method == "classifier":
        report = train_evaluator(dataset, scratch / f"{name}-classifier.pt", **MNIST_RECIPE, progress=False)
        return (load_evaluator(scratch / f"{name}-classifier.pt"), time.perf_counter() - started,
                report["holdout_accuracy"])
    objective = DEFAULT_OBJECTIVE if method == "joint" else method.split("-")[0]
    augmentation = VIEWS[method.split("-")[1]] if "-" in method else None  # None: the default
    network, class_names, report = fit_self_supervised(dataset, objective=objective, use_labels=method == "joint",
                                                       augmentation=augmentation, epochs=epochs, progress=False)
    return (Evaluator(method, network, class_names), time.perf_counter() - started,
            report.get("holdout_accuracy"))


def score(evaluator: Evaluator, name: str, images: torch.Tensor, labels: torch.Tensor | None) -> dict[str, float]:
    train, held_out = images[:N_TRAIN], images[N_TRAIN:]
    half_a, half_b = held_out[:N_EVAL // 2], held_out[N_EVAL // 2:]
    features = lambda batch: evaluator.extract(batch)[0]  # noqa: E731
    a = features(half_a)
    base = fid(a, features(half_b))
    row = {"base": base}
    for kind, images_degraded in degraded(half_a).items():
        row[kind] = fid(a, features(images_degraded)) / base
    row["collapse"] = fid(a, features(half_b[:10].repeat(100, 1, 1, 1))) / base
    row["ood"] = fid(a, features(other_set(name, half_a))) / base
    if labels is not None:
        row["knn"] = knn_accuracy(features(train), labels[:N_TRAIN], features(held_out), labels[N_TRAIN:])
    return row


def _cell(key: str, row: dict[str, float]) -> str:
    if key not in row:
        return "—"
    digits = {"knn": ".3f", "acc": ".3f", "base": ".4g", "seconds": ".0f"}.get(key, ".2f")
    return format(row[key], digits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="colour-mnist,cells,mnist")
    parser.add_argument("--methods", default="random,vicreg-both,simclr-both")
    parser.add_argument("--epochs", type=int, default=None, help="self-supervised epochs (default: the budget's)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; ratios are FID / base", flush=True)
    print("| set | method | " + " | ".join(COLUMNS) + " |\n|" + "---|" * (len(COLUMNS) + 2), flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.sets.split(","):
            images, labels = load_set(name)
            for method in args.methods.split(","):
                train_labels = None if labels is None else labels[:N_TRAIN]
                evaluator, seconds, accuracy = build(method, images[:N_TRAIN], train_labels, name, Path(scratch),
                                                 args.epochs)
                row = {**score(evaluator, name, images, labels), "seconds": seconds}
                if accuracy is not None:
                    row["acc"] = accuracy
                cells = [_cell(key, row) for key in COLUMNS]
                print(f"| {name} | {method} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
