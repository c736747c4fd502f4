"""FID against a float64 scipy.linalg.sqrtm oracle and closed forms."""

import numpy as np
import pytest
import scipy.linalg
import torch

from gankit import metrics
from gankit.errors import DataError
from gankit.metrics.fid import fid, fid_from_stats, fid_with_spread, gaussian_stats


def scipy_fid(real: np.ndarray, fake: np.ndarray) -> float:
    """The textbook computation (pytorch-fid style) with scipy's matrix square root."""
    mu1, mu2 = real.mean(axis=0), fake.mean(axis=0)
    sigma1 = np.atleast_2d(np.cov(real, rowvar=False))
    sigma2 = np.atleast_2d(np.cov(fake, rowvar=False))
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def correlated(rng: np.random.Generator, n: int, dim: int, shift: float = 0.0, rank: int | None = None) -> np.ndarray:
    """n samples of a correlated Gaussian in `dim` dimensions, of the given rank."""
    rank = rank or dim
    mixing = rng.normal(size=(rank, dim)) / np.sqrt(rank)
    return rng.normal(size=(n, rank)) @ mixing + shift * rng.normal(size=dim)


@pytest.mark.parametrize("dim", [1, 2, 16, 64])
def test_matches_scipy_sqrtm(dim):
    rng = np.random.default_rng(dim)
    real, fake = correlated(rng, 400, dim), correlated(rng, 300, dim, shift=0.5)
    assert fid(real, fake) == pytest.approx(scipy_fid(real, fake), rel=1e-6, abs=1e-9)


def test_matches_scipy_with_rank_deficient_covariances():
    rng = np.random.default_rng(7)
    real = correlated(rng, 300, 32, rank=10)
    fake = correlated(rng, 300, 32, shift=0.3, rank=12)
    with np.errstate(all="ignore"):
        expected = scipy_fid(real, fake)
    assert fid(torch.from_numpy(real), torch.from_numpy(fake)) == pytest.approx(expected, rel=1e-6)


def test_closed_form_for_diagonal_gaussians():
    mu1, mu2 = torch.tensor([0.0, 1.0, -2.0]), torch.tensor([1.0, 1.0, 0.5])
    var1, var2 = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([9.0, 1.0, 0.25])
    expected = float(((mu1 - mu2) ** 2).sum() + ((var1.sqrt() - var2.sqrt()) ** 2).sum())  # 7.25 + 4 + 1 + 0
    assert expected == pytest.approx(12.25)
    assert fid_from_stats(mu1, torch.diag(var1), mu2, torch.diag(var2)) == pytest.approx(expected, rel=1e-12)


def test_zero_for_identical_sets_and_symmetric():
    rng = np.random.default_rng(1)
    real, fake = correlated(rng, 200, 64), correlated(rng, 250, 64, shift=1.0)
    assert abs(fid(real, real)) < 1e-9 * np.trace(np.cov(real, rowvar=False))
    assert fid(real, fake) == pytest.approx(fid(fake, real), rel=1e-9)
    assert fid(real, fake) > 1.0


def test_gaussian_stats_are_mean_and_unbiased_covariance_in_float64():
    rng = np.random.default_rng(2)
    features = correlated(rng, 50, 5).astype(np.float32)
    mean, covariance = gaussian_stats(torch.from_numpy(features))
    assert mean.dtype == covariance.dtype == torch.float64
    np.testing.assert_allclose(mean.numpy(), features.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(covariance.numpy(), np.cov(features.astype(np.float64), rowvar=False), rtol=1e-10)


def test_float32_and_numpy_inputs_give_the_float64_number():
    rng = np.random.default_rng(3)
    real, fake = correlated(rng, 100, 8), correlated(rng, 100, 8, shift=0.2)
    real32, fake32 = real.astype(np.float32), fake.astype(np.float32)
    expected = scipy_fid(real32.astype(np.float64), fake32.astype(np.float64))
    assert fid(torch.from_numpy(real32), fake32) == pytest.approx(expected, rel=1e-9)


def test_spread_is_a_seeded_bootstrap_of_both_sets():
    rng = np.random.default_rng(4)
    real, fake = torch.from_numpy(correlated(rng, 120, 6)), torch.from_numpy(correlated(rng, 90, 6, shift=0.4))
    result = fid_with_spread(real, fake, bootstrap=5, seed=11)
    generator = torch.Generator().manual_seed(11)
    replicates = []
    for _ in range(5):
        real_rows = torch.randint(120, (120,), generator=generator)
        fake_rows = torch.randint(90, (90,), generator=generator)
        replicates.append(fid(real[real_rows], fake[fake_rows]))
    assert result["fid"] == fid(real, fake)
    assert result["fid_std"] == pytest.approx(float(np.std(replicates, ddof=1)), rel=1e-9)
    assert result["fid_std"] > 0
    assert (result["n_real"], result["n_fake"], result["feature_dim"]) == (120, 90, 6)
    assert fid_with_spread(real, fake, bootstrap=5, seed=11) == result
    assert fid_with_spread(real, fake, bootstrap=5, seed=12)["fid_std"] != result["fid_std"]


def test_warnings_for_small_and_singular_samples():
    rng = np.random.default_rng(5)
    small = fid_with_spread(correlated(rng, 20, 32), correlated(rng, 2000, 32), bootstrap=0)
    assert small["fid_std"] is None
    assert any("singular" in text and "real" in text for text in small["warnings"])
    assert any("biased upward" in text and "real" in text for text in small["warnings"])
    assert not any(text.startswith("fake") for text in small["warnings"])
    assert fid_with_spread(correlated(rng, 2000, 4), correlated(rng, 2000, 4), bootstrap=0)["warnings"] == []


@pytest.mark.parametrize(
    "real, fake",
    [(np.zeros((10, 3)), np.zeros((10, 4))), (np.zeros((1, 3)), np.zeros((10, 3))), (np.zeros(10), np.zeros(10))],
)
def test_unusable_features_raise_data_error(real, fake):
    with pytest.raises(DataError):
        fid(real, fake)


def test_bad_statistics_and_bootstrap_raise_data_error():
    with pytest.raises(DataError, match="statistics"):
        fid_from_stats(torch.zeros(3), torch.eye(3), torch.zeros(2), torch.eye(2))
    with pytest.raises(DataError, match="bootstrap"):
        fid_with_spread(np.zeros((5, 2)), np.ones((5, 2)), bootstrap=1)


def test_public_api():
    assert metrics.fid is fid and metrics.fid_with_spread is fid_with_spread
    for name in metrics.__all__:
        assert callable(getattr(metrics, name)), name
