"""Per-class metrics of a class-conditional generator, from evaluator features.

intra-FID (Miyato & Koyama 2018): the FID between the real and the generated samples of each
class c, FID(φ(x | y = c), φ(G(z, c))), in the evaluator's feature space, and their mean over
the classes. A generator that draws good images of the wrong class scores well on plain FID
but badly here.

Class accuracy: the share of generated samples that the evaluator classifies as the class
they were generated for (does ``--class 3`` give threes?). Classes are matched to the
evaluator's outputs by name.

Per-class recall and coverage (the k-NN balls of ``gankit.metrics.knn``, built within the
class: real images of class c against the samples generated for class c) and per-class
diversity (``gankit.metrics.diversity``) catch what intra-FID and class accuracy miss: a
generator that draws one good image per class. Its class accuracy is perfect and its
intra-FID can be low in a feature space that tells classes apart by colour, but the real
images of a class lie mostly outside the balls of its few distinct samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from gankit.metrics.diversity import diversity_per_class
from gankit.metrics.fid import fid
from gankit.metrics.knn import prdc

# Below this many samples of a class (real or generated) its FID is not computed.
MIN_CLASS_SAMPLES = 2


def intra_fid(real_features: Tensor, real_labels: Tensor, fake_features: Tensor, fake_labels: Tensor,
              n_classes: int) -> list[float | None]:
    """FID per class (None for a class with fewer than ``MIN_CLASS_SAMPLES`` real or generated samples)."""
    values: list[float | None] = []
    for label in range(n_classes):
        real = real_features[real_labels == label]
        fake = fake_features[fake_labels == label]
        values.append(fid(real, fake) if min(len(real), len(fake)) >= MIN_CLASS_SAMPLES else None)
    return values


def recall_coverage_per_class(real_features: Tensor, real_labels: Tensor, fake_features: Tensor,
                              fake_labels: Tensor, n_classes: int, k: int = 5
                              ) -> tuple[list[float | None], list[float | None]]:
    """(recall per class, coverage per class) in class order, with k-NN balls built within
    each class; None for a class with at most ``k`` real or generated samples (no k-th
    neighbour)."""
    recalls: list[float | None] = []
    coverages: list[float | None] = []
    for label in range(n_classes):
        real = real_features[real_labels == label]
        fake = fake_features[fake_labels == label]
        if min(len(real), len(fake)) <= k:
            recalls.append(None)
            coverages.append(None)
            continue
        scores = prdc(real, fake, k=k)
        recalls.append(float(scores["recall"]))
        coverages.append(float(scores["coverage"]))
    return recalls, coverages


def class_accuracy(fake_probs: Tensor, fake_labels: Tensor, class_names: Sequence[str],
                   evaluator_names: Sequence[str]) -> float | None:
    """Share of samples of class ``class_names[y]`` that the evaluator names the same; None when
    no class of the data is one of the evaluator's."""
    lookup = {name: index for index, name in enumerate(evaluator_names)}
    target = torch.tensor([lookup.get(name, -1) for name in class_names], dtype=torch.int64)[fake_labels.cpu()]
    known = target >= 0
    if not bool(known.any()):
        return None
    predicted = fake_probs.argmax(dim=1).cpu()
    return float((predicted[known] == target[known]).to(torch.float64).mean())


def conditional_scores(real_features: Tensor, real_labels: Tensor, fake_features: Tensor, fake_probs: Tensor,
                       fake_labels: Tensor, class_names: Sequence[str], evaluator_names: Sequence[str],
                       k: int = 5) -> dict[str, Any]:
    """``intra_fid`` (mean over the classes it could be computed for), ``intra_fid_per_class``
    (in class order, null where too few samples) with ``intra_fid_classes`` (the class names in
    that order), ``class_accuracy``, ``recall_per_class``, ``coverage_per_class`` (k-NN with
    ``k``), ``diversity_per_class`` and ``diversity`` (their mean over the classes), all in
    the same class order, and warnings."""
    n_classes = len(class_names)
    per_class = intra_fid(real_features, real_labels, fake_features, fake_labels, n_classes)
    computed = [value for value in per_class if value is not None]
    scores: dict[str, Any] = {"intra_fid": sum(computed) / len(computed) if computed else None,
                              "intra_fid_per_class": per_class, "intra_fid_classes": [str(n) for n in class_names],
                              "class_accuracy": class_accuracy(fake_probs, fake_labels, class_names, evaluator_names)}
    scores["recall_per_class"], scores["coverage_per_class"] = recall_coverage_per_class(
        real_features, real_labels, fake_features, fake_labels, n_classes, k)
    spread = diversity_per_class(real_features, real_labels, fake_features, fake_labels, n_classes)
    known = [value for value in spread if value is not None]
    scores["diversity_per_class"] = spread
    scores["diversity"] = sum(known) / len(known) if known else None
    warnings = []
    if len(computed) < len(per_class):
        warnings.append(f"intra-FID left out {len(per_class) - len(computed)} classes with fewer than "
                        f"{MIN_CLASS_SAMPLES} real or generated samples")
    smallest = min(int((fake_labels == label).sum()) for label in range(len(class_names)))
    if computed and smallest < 500:
        warnings.append(f"intra-FID per class on as few as {smallest} generated samples is biased upward; "
                        "compare runs at equal eval.n")
    if scores["class_accuracy"] is None:
        warnings.append("class accuracy needs an evaluator trained on the same classes (none of the data's "
                        "class names is one of the evaluator's)")
    return {**scores, "warnings": warnings}
