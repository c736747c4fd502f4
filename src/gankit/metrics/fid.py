"""Fréchet Inception Distance (Heusel et al. 2017, "GANs trained by a two time-scale
update rule converge to a local Nash equilibrium") between two sets of features.

Each set is summarised by a Gaussian — mean μ and unbiased covariance Σ (divisor
N − 1) — and FID is the squared Fréchet (2-Wasserstein) distance between the two:

    FID = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2·tr √(Σ₁Σ₂).

tr √(Σ₁Σ₂) is the sum of the square roots of the eigenvalues of Σ₁Σ₂ (as in
torch-fidelity), read here from the symmetric matrix √Σ₁ Σ₂ √Σ₁, which has the same
eigenvalues, with `eigh`; round-off negatives are clamped to 0. This is exact for
singular covariances too and agrees with `scipy.linalg.sqrtm`. Everything is float64.

FID is biased upward at small N (Chong & Forsyth 2020): compare only numbers from the
same N and feature space. `fid_with_spread` returns N, a bootstrap spread and warnings.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import DataError

# Below this many samples per set FID is noticeably biased upward (papers use 10k-50k).
RECOMMENDED_SAMPLES = 2000


def feature_matrix(values: Tensor, name: str, min_rows: int = 1) -> Tensor:
    """`values` (a tensor or array of shape (N, D), any float dtype) as float64."""
    matrix = torch.as_tensor(values)
    if matrix.ndim != 2:
        raise DataError(f"{name} must be an (N, D) array of features, got shape {tuple(matrix.shape)}")
    if matrix.shape[0] < min_rows:
        raise DataError(f"{name} has {matrix.shape[0]} samples; at least {min_rows} are needed")
    matrix = matrix.to(torch.float64)
    if not bool(torch.isfinite(matrix).all()):
        raise DataError(f"{name} contains NaN or Inf values")
    return matrix


def feature_pair(real_features: Tensor, fake_features: Tensor, min_rows: int) -> tuple[Tensor, Tensor]:
    """Both sets as float64 on the device of `real_features`, with equal dimension D."""
    real = feature_matrix(real_features, "real features", min_rows)
    fake = feature_matrix(fake_features, "fake features", min_rows).to(real.device)
    if real.shape[1] != fake.shape[1]:
        raise DataError(
            f"real and fake features differ in dimension ({real.shape[1]} vs {fake.shape[1]})"
        )
    return real, fake


def gaussian_stats(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean (D,) and unbiased covariance (D, D) of `features` (N, D), N ≥ 2, in float64."""
    matrix = feature_matrix(features, "features", min_rows=2)
    centred = matrix - matrix.mean(dim=0)
    return matrix.mean(dim=0), centred.T @ centred / (matrix.shape[0] - 1)


def fid_from_stats(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2·tr √(Σ₁Σ₂) for two Gaussians, in float64."""
    device = torch.as_tensor(mu1).device
    mu1, sigma1, mu2, sigma2 = (
        torch.as_tensor(stat).to(device, torch.float64) for stat in (mu1, sigma1, mu2, sigma2)
    )
    d = mu1.shape[0] if mu1.ndim == 1 else -1
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise DataError(
            "statistics do not match: expected means (D,) and covariances (D, D) of one D, got "
            f"{tuple(mu1.shape)}, {tuple(sigma1.shape)}, {tuple(mu2.shape)}, {tuple(sigma2.shape)}"
        )
    values, vectors = torch.linalg.eigh((sigma1 + sigma1.T) / 2)
    root1 = (vectors * values.clamp_min(0.0).sqrt()) @ vectors.T
    inner = root1 @ sigma2 @ root1
    trace_sqrt = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp_min(0.0).sqrt().sum()
    difference = mu1 - mu2
    return float(difference @ difference + sigma1.trace() + sigma2.trace() - 2.0 * trace_sqrt)


def fid(real_features: Tensor, fake_features: Tensor) -> float:
    """FID between `real_features` (N, D) and `fake_features` (M, D); N, M ≥ 2."""
    real, fake = feature_pair(real_features, fake_features, min_rows=2)
    return fid_from_stats(*gaussian_stats(real), *gaussian_stats(fake))


def _resampled_stats(features: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """gaussian_stats of a bootstrap resample (N draws with replacement), computed from
    the distinct rows weighted by how often each was drawn."""
    n = features.shape[0]
    counts = torch.bincount(torch.randint(n, (n,), generator=generator), minlength=n)
    drawn = torch.nonzero(counts, as_tuple=True)[0].to(features.device)
    weights, rows = counts.to(features.device, torch.float64)[drawn, None], features[drawn]
    mean = (weights * rows).sum(dim=0) / n
    centred = (rows - mean) * weights.sqrt()
    return mean, centred.T @ centred / (n - 1)


def fid_with_spread(
    real_features: Tensor, fake_features: Tensor, bootstrap: int = 10, seed: int = 0
) -> dict:
    """FID with its sample sizes, a bootstrap spread and warnings about small samples.

    `fid_std` is the standard deviation (N − 1 divisor) of FID over `bootstrap`
    resamples, with replacement, of both sets (one `torch.Generator` seeded with
    `seed`); None when `bootstrap` is 0. Returns `fid`, `fid_std`, `n_real`, `n_fake`,
    `feature_dim`, `bootstrap` and `warnings` (a list of sentences, maybe empty).
    """
    if bootstrap < 0 or bootstrap == 1:
        raise DataError(f"bootstrap must be 0 (no spread) or at least 2, got {bootstrap}")
    real, fake = feature_pair(real_features, fake_features, min_rows=2)
    real_stats, fake_stats = gaussian_stats(real), gaussian_stats(fake)
    generator = torch.Generator().manual_seed(seed)
    replicates = [
        fid_from_stats(*_resampled_stats(real, generator), *_resampled_stats(fake, generator))
        for _ in range(bootstrap)
    ]
    dim, warnings = real.shape[1], []
    for label, n in (("real", real.shape[0]), ("fake", fake.shape[0])):
        if n < dim + 1:
            warnings.append(f"{label} set has {n} samples for {dim} features: its covariance is "
                            "singular, so FID is unstable; use more samples or fewer features")
        if n < RECOMMENDED_SAMPLES:
            warnings.append(f"{label} set has {n} samples: FID is biased upward below "
                            f"{RECOMMENDED_SAMPLES}; compare only FIDs from equal sample counts")
    spread = float(torch.tensor(replicates, dtype=torch.float64).std()) if replicates else None
    return {"fid": fid_from_stats(*real_stats, *fake_stats), "fid_std": spread,
            "n_real": int(real.shape[0]), "n_fake": int(fake.shape[0]), "feature_dim": int(dim),
            "bootstrap": int(bootstrap), "warnings": warnings}
