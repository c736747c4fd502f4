"""Diversity: how spread out generated samples are, relative to real ones, in a feature space.

    diversity = mean_{i≠j} ‖φ(g_i) − φ(g_j)‖  /  mean_{i≠j} ‖φ(x_i) − φ(x_j)‖

the mean pairwise distance of the generated samples over that of the real ones. A generator
that draws from the data distribution scores ≈ 1 (exactly 1 when its samples are the real
ones); one that draws the same image for every latent scores 0. Recall and coverage also
fall when a generator collapses, but they also fall when samples are merely off the data
manifold; this ratio asks only "do the samples differ from each other as much as real ones
do?", which is what a grid of near-identical rows shows by eye.

For a conditional generator the ratio is taken within each class (generated samples of
class c against real images of class c), because distances between classes would hide a
generator that draws one image per class: ``diversity`` is then the mean over the classes.
At most ``MAX_SAMPLES`` of each set enter a ratio (the first ones: both sets are already
random draws), which bounds the all-pairs cost.
"""

from __future__ import annotations

from torch import Tensor

from gankit.metrics.distance import as_points, distance_blocks

MAX_SAMPLES = 2000  # per set and ratio: 2,000² distances, well under a second in 128-d


def mean_pairwise_distance(features: Tensor) -> float:
    """Mean Euclidean distance over the n·(n − 1) ordered pairs of distinct rows (self-pairs
    left out); needs n ≥ 2."""
    points = as_points(features)
    n = len(points)
    if n < 2:
        raise ValueError(f"a mean pairwise distance needs at least 2 samples, got {n}")
    total = sum(float(block.sum()) for _, block in distance_blocks(points, points))
    return total / (n * (n - 1))


def diversity(real_features: Tensor, fake_features: Tensor, max_samples: int = MAX_SAMPLES) -> float | None:
    """The ratio above for two (N, D) sets; None when either has fewer than 2 samples or
    the real samples are all identical (no scale to compare with)."""
    real, fake = real_features[:max_samples], fake_features[:max_samples]
    if min(len(real), len(fake)) < 2:
        return None
    scale = mean_pairwise_distance(real)
    return mean_pairwise_distance(fake) / scale if scale > 0 else None


def diversity_per_class(real_features: Tensor, real_labels: Tensor, fake_features: Tensor, fake_labels: Tensor,
                        n_classes: int, max_samples: int = MAX_SAMPLES) -> list[float | None]:
    """:func:`diversity` of each class c (real images of c vs samples generated for c), in
    class order; None for a class with fewer than 2 real or generated samples."""
    return [diversity(real_features[real_labels == c], fake_features[fake_labels == c], max_samples)
            for c in range(n_classes)]
