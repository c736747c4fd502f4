"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs"): the
squared maximum mean discrepancy between real and fake features under the cubic
polynomial kernel k(x, y) = (x·y/d + 1)³, estimated without bias on random subsets.

For a real subset X and a fake subset Y of m rows each,

    MMD² = Σ_{i≠j} k(xᵢ,xⱼ)/(m(m−1)) + Σ_{i≠j} k(yᵢ,yⱼ)/(m(m−1)) − 2·Σ_{i,j} k(xᵢ,yⱼ)/m²,

the estimator of the paper, torch-fidelity and clean-fid (the cross term keeps i = j).
KID is the mean over subsets and its spread their standard deviation (N divisor, as
torch-fidelity). Unlike FID it is unbiased in N — and can be slightly negative when
the two distributions match. Everything is float64.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import DataError
from gankit.metrics.fid import feature_pair

# Row blocks per side when summing a symmetric kernel matrix (4 → 10 of 16 blocks).
SYMMETRIC_BLOCKS = 4


def kid_subset_indices(
    n_real: int, n_fake: int, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Row indices (subsets, m) into the real and into the fake set, m = min(subset_size,
    n_real, n_fake). Each subset draws m real rows, then m fake rows, without
    replacement (`torch.randperm`), from one `torch.Generator` seeded with `seed`."""
    size = min(subset_size, n_real, n_fake)
    if subsets < 1:
        raise DataError(f"subsets must be at least 1, got {subsets}")
    if size < 2:
        raise DataError(
            f"KID needs subsets of at least 2 samples; got subset_size={subset_size}, "
            f"{n_real} real and {n_fake} fake samples"
        )
    generator = torch.Generator().manual_seed(seed)
    real_rows, fake_rows = [], []
    for _ in range(subsets):
        real_rows.append(torch.randperm(n_real, generator=generator)[:size])
        fake_rows.append(torch.randperm(n_fake, generator=generator)[:size])
    return torch.stack(real_rows), torch.stack(fake_rows)


def _kernel_sum(x: Tensor, y: Tensor) -> Tensor:
    """Σ_{i,j} (xᵢ·yⱼ/d + 1)³."""
    return (x @ y.T).div_(x.shape[1]).add_(1.0).pow_(3).sum()


def _within_sum(x: Tensor) -> Tensor:
    """Σ_{i≠j} k(xᵢ, xⱼ): the kernel matrix is symmetric, so only the blocks on and
    above the diagonal of a SYMMETRIC_BLOCKS² tiling are computed (~30% fewer flops)."""
    parts = x.chunk(SYMMETRIC_BLOCKS)
    total = sum(
        _kernel_sum(parts[i], parts[j]) * (1.0 if i == j else 2.0)
        for i in range(len(parts))
        for j in range(i, len(parts))
    )
    self_terms = ((x * x).sum(dim=1) / x.shape[1] + 1.0).pow(3).sum()
    return total - self_terms


def mmd2_unbiased(real_subset: Tensor, fake_subset: Tensor) -> float:
    """The unbiased MMD² above for two (m, d) float64 subsets of equal size m ≥ 2."""
    m = real_subset.shape[0]
    within = _within_sum(real_subset) + _within_sum(fake_subset)
    return float(within / (m * (m - 1)) - 2.0 * _kernel_sum(real_subset, fake_subset) / (m * m))


def kid(
    real_features: Tensor,
    fake_features: Tensor,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD² over `subsets` random subsets of
    min(subset_size, N_real, N_fake) rows of `real_features` and `fake_features`
    ((N, D) each); subsets drawn as in `kid_subset_indices`."""
    real, fake = feature_pair(real_features, fake_features, min_rows=2)
    real_rows, fake_rows = kid_subset_indices(real.shape[0], fake.shape[0], subsets, subset_size, seed)
    estimates = torch.tensor(
        [
            mmd2_unbiased(real[real_index.to(real.device)], fake[fake_index.to(real.device)])
            for real_index, fake_index in zip(real_rows, fake_rows)
        ],
        dtype=torch.float64,
    )
    return float(estimates.mean()), float(estimates.std(correction=0))
