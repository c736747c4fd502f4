"""Euclidean distances between point sets, in memory-bounded chunks, the energy distance
between two samples.

Energy distance (Székely & Rizzo): D(X, Y) = sqrt(2·E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖),
estimated with the V-statistic (all pairs, self-pairs included). In one dimension
this equals `scipy.stats.energy_distance` exactly: scipy defines it as
sqrt(2)·(∫(F−G)²)^½, and 2∫(F−G)² = 2E|X−Y| − E|X−X'| − E|Y−Y'|.

The exact distance tiers under gankit's k-NN metrics are in `gankit.metrics.knn.sketch`
(tiers 1 and 1.5) and `gankit.metrics.knn.exact` (tiers 2 and 3).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

# A block of distances holds at most this many entries (32 MiB in float64).
BLOCK_ELEMENTS = 1 << 22
# Up to this many dimensions, distances are taken from coordinate differences
# (exact zero for equal points); above it, from the |x|² + |y|² − 2x·y expansion.
DIRECT_MAX_DIM = 32
# Above it, squared distances under this share of |x|² + |y|² are recomputed exactly.
NEAR_RELATIVE = 1e-4


def as_points(values: Tensor, dtype: torch.dtype = torch.float64) -> Tensor:
    """`values` (a tensor or array-like of shape (N, D)) as a `dtype` tensor."""
    points = torch.as_tensor(values)
    if points.ndim != 2:
        raise ValueError(f"expected an (N, D) array of points, got shape {tuple(points.shape)}")
    return points.to(dtype)


def default_chunk_size(n_columns: int) -> int:
    """Rows per block so that one block of distances holds at most BLOCK_ELEMENTS."""
    return max(1, BLOCK_ELEMENTS // max(1, n_columns))


def pairwise_distances(x: Tensor, y: Tensor) -> Tensor:
    """Euclidean distances (len(x), len(y)) between rows of x and rows of y.

    In high dimension the fast expansion |x|² + |y|² − 2x·y loses precision for
    near-equal rows (a self-distance comes out as ~1e-7, not 0); entries whose
    squared distance is below NEAR_RELATIVE of the squared norms are recomputed
    from coordinate differences, so equal rows give exactly 0.
    """
    if x.shape[1] <= DIRECT_MAX_DIM:
        return torch.cdist(x, y, compute_mode="donot_use_mm_for_euclid_dist")
    shift = y.mean(dim=0, keepdim=True)
    x, y = x - shift, y - shift
    norms = (x * x).sum(1, keepdim=True) + (y * y).sum(1)[None, :]
    squared = (norms - 2.0 * (x @ y.T)).clamp_min_(0.0)
    rows, cols = torch.nonzero(squared < NEAR_RELATIVE * norms, as_tuple=True)
    step = max(1, BLOCK_ELEMENTS // x.shape[1])
    for start in range(0, rows.numel(), step):
        r, c = rows[start : start + step], cols[start : start + step]
        squared[r, c] = ((x[r] - y[c]) ** 2).sum(1)
    return squared.sqrt_()


def distance_blocks(
    x: Tensor, y: Tensor, chunk_size: int | None = None
) -> Iterator[tuple[int, Tensor]]:
    """Yield (start, distances of x[start:start+chunk] to all of y), block by block."""
    chunk = chunk_size or default_chunk_size(y.shape[0])
    if chunk < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    for start in range(0, x.shape[0], chunk):
        yield start, pairwise_distances(x[start : start + chunk], y)


def mean_distance(x: Tensor, y: Tensor, chunk_size: int | None = None) -> float:
    """E‖X − Y‖ over all pairs of rows, in float64."""
    total = sum(float(block.sum()) for _, block in distance_blocks(x, y, chunk_size))
    return total / (x.shape[0] * y.shape[0])


def energy_distance(x: Tensor, y: Tensor, chunk_size: int | None = None) -> float:
    """Energy distance sqrt(2E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖) between samples x (N, D) and
    y (M, D) of any dimension; equals `scipy.stats.energy_distance` in 1-D.

    A 1-D input is read as N scalar samples. Zero for identical samples; never negative.
    """
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    x = as_points(x[:, None] if x.ndim == 1 else x)
    y = as_points(y[:, None] if y.ndim == 1 else y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"dimensions differ: x has {x.shape[1]}, y has {y.shape[1]}")
    if x.shape[0] == 0 or y.shape[0] == 0:
        raise ValueError("energy distance needs at least one sample in each set")
    squared = (
        2.0 * mean_distance(x, y, chunk_size)
        - mean_distance(x, x, chunk_size)
        - mean_distance(y, y, chunk_size)
    )
    return max(squared, 0.0) ** 0.5
