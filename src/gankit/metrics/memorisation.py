"""Memorisation: how many generated samples are near-copies of a training image.

The rule, in a feature space (the evaluator's): a generated sample g is a *copy* when its
nearest training image t is closer to g than a third of the distance from t to t's nearest
other distinct training image,

    d(g, t) < ratio · ρ(t),   t = argmin_t' d(g, t'),   ρ(t) = min over t' ≠ t with d(t, t') > 0,

with ``ratio`` = 1/3 (the rule Carlini et al. 2023 use to call a generated image extracted;
Alaa et al. 2022's authenticity is the same test at ratio 1). An independent draw from the
data distribution almost never lands that close to one training image and so much farther
from all others; an exact copy has d = 0. Duplicate training images do not hide each other
(ρ skips zero distances), so a copy of an image stored twice is still found.

``memorisation`` is the share of generated samples that are copies, with the bootstrap
spread over the generated samples; the pairs with the smallest ratio d(g, t)/ρ(t) are what
a report shows side by side.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gankit.metrics.distance import as_points, distance_blocks

COPY_RATIO = 1.0 / 3.0


def nearest_other_distance(train: Tensor) -> Tensor:
    """ρ(t): each training feature's distance to its nearest other training feature at a
    distance > 0 (inf when every other one is identical to it)."""
    points = as_points(train)
    radii = torch.full((len(points),), float("inf"), dtype=torch.float64)
    for start, block in distance_blocks(points, points):
        block = block.masked_fill(block <= 0, float("inf"))
        radii[start:start + len(block)] = block.min(dim=1).values
    return radii


def nearest_training(fake: Tensor, train: Tensor) -> tuple[Tensor, Tensor]:
    """(distance, index) of each generated feature's nearest training feature."""
    fake_points, train_points = as_points(fake), as_points(train)
    distances = torch.empty(len(fake_points), dtype=torch.float64)
    indices = torch.empty(len(fake_points), dtype=torch.int64)
    for start, block in distance_blocks(fake_points, train_points):
        values, where = block.min(dim=1)
        distances[start:start + len(block)], indices[start:start + len(block)] = values, where
    return distances, indices


def copy_ratios(train: Tensor, fake: Tensor, radii: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """(d(g, t)/ρ(t), index of t) per generated sample g; 0 for an exact copy. ``radii``:
    :func:`nearest_other_distance` of ``train`` when already known (it depends on the
    training set alone, so a run that scores every few epochs computes it once)."""
    if len(train) < 2 or len(fake) == 0:
        raise ValueError(f"memorisation needs at least 2 training and 1 generated samples; "
                         f"got {len(train)} and {len(fake)}")
    distances, nearest = nearest_training(fake, train)
    radii = nearest_other_distance(train) if radii is None else radii
    return distances / radii[nearest], nearest


def memorisation(train: Tensor, fake: Tensor, *, ratio: float = COPY_RATIO, bootstrap: int = 10,
                 seed: int = 0, pairs: int = 8, radii: Tensor | None = None) -> dict[str, Any]:
    """``memorisation`` (share of copies), ``memorisation_std`` (bootstrap over the generated
    samples, when ``bootstrap`` > 0), ``memorisation_ratio`` (the rule's ratio) and
    ``closest_pairs``: the ``pairs`` smallest (generated index, training index, ratio)."""
    ratios, nearest = copy_ratios(train, fake, radii)
    copies = (ratios < ratio).to(torch.float64)
    scores: dict[str, Any] = {"memorisation": float(copies.mean()), "memorisation_ratio": ratio}
    if bootstrap > 0:
        generator = torch.Generator().manual_seed(seed)
        draws = torch.randint(0, len(copies), (bootstrap, len(copies)), generator=generator)
        scores["memorisation_std"] = float(copies[draws].mean(dim=1).std(unbiased=False))
    order = torch.argsort(ratios, stable=True)[:pairs]
    scores["closest_pairs"] = [(int(i), int(nearest[i]), float(ratios[i])) for i in order]
    return scores
