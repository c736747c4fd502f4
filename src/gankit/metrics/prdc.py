"""Precision, recall, density and coverage (Kynkäänniemi et al. 2019; Naeem et al.
2020), with the definitions of the `prdc` package, computed in memory-bounded chunks.

Each point gets a ball whose radius is the distance to its k-th nearest neighbour
in its own set (the (k+1)-th smallest entry of its distance row, the zero distance
to itself included, exactly as `prdc` does — so a duplicate counts as a neighbour).
With strict `<` throughout:

- precision = share of fakes inside at least one real ball;
- recall    = share of reals inside at least one fake ball;
- density   = (1/k) · mean over fakes of the number of real balls containing it;
- coverage  = share of reals whose nearest fake lies inside their own ball.

Works on (N, D) features of any D (2D points or image features); numbers depend on
k and on the sample sizes, which are returned alongside.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import DataError
from gankit.metrics.distance import as_points, distance_blocks


def nearest_neighbour_radii(
    features: Tensor, k: int, chunk_size: int | None = None
) -> Tensor:
    """Distance of each row to its k-th nearest neighbour within `features` (self excluded)."""
    radii = torch.empty(features.shape[0], dtype=features.dtype, device=features.device)
    for start, block in distance_blocks(features, features, chunk_size):
        smallest = torch.topk(block, k + 1, dim=1, largest=False, sorted=True).values
        radii[start : start + block.shape[0]] = smallest[:, k]
    return radii


def prdc(
    real_features: Tensor,
    fake_features: Tensor,
    k: int = 5,
    chunk_size: int | None = None,
    dtype: torch.dtype = torch.float64,
) -> dict[str, float | int]:
    """Precision, recall, density and coverage of `fake_features` against
    `real_features` (both (N, D)), with k-nearest-neighbour balls.

    `chunk_size` bounds memory: at most chunk_size × max(N_real, N_fake) distances
    exist at once (default: about 4M entries). Returns a dict with `precision`,
    `recall`, `density`, `coverage`, `k`, `n_real`, `n_fake`.
    """
    real = as_points(real_features, dtype)
    fake = as_points(fake_features, dtype).to(real.device)
    if real.shape[1] != fake.shape[1]:
        raise DataError(
            f"real and fake features differ in dimension ({real.shape[1]} vs {fake.shape[1]})"
        )
    if k < 1:
        raise DataError(f"k must be at least 1, got {k}")
    for label, points in (("real", real), ("fake", fake)):
        if points.shape[0] < k + 1:
            raise DataError(
                f"{label} set has {points.shape[0]} samples; k={k} needs at least {k + 1}"
            )
    real_radii = nearest_neighbour_radii(real, k, chunk_size)
    fake_radii = nearest_neighbour_radii(fake, k, chunk_size)

    in_some_real_ball = torch.zeros(fake.shape[0], dtype=torch.bool, device=real.device)
    real_balls_per_fake = torch.zeros(fake.shape[0], dtype=torch.int64, device=real.device)
    reals_recalled = 0
    reals_covered = 0
    for start, block in distance_blocks(real, fake, chunk_size):
        radii = real_radii[start : start + block.shape[0], None]
        inside_real_ball = block < radii
        in_some_real_ball |= inside_real_ball.any(dim=0)
        real_balls_per_fake += inside_real_ball.sum(dim=0)
        reals_recalled += int((block < fake_radii[None, :]).any(dim=1).sum())
        reals_covered += int((block.min(dim=1).values < radii[:, 0]).sum())

    n_real, n_fake = real.shape[0], fake.shape[0]
    return {
        "precision": float(in_some_real_ball.double().mean()),
        "recall": reals_recalled / n_real,
        "density": float(real_balls_per_fake.double().mean()) / k,
        "coverage": reals_covered / n_real,
        "k": int(k),
        "n_real": int(n_real),
        "n_fake": int(n_fake),
    }
