"""KID against a direct NumPy implementation of the unbiased estimator on the same subsets."""

import numpy as np
import pytest
import torch

from gankit.errors import DataError
from gankit.metrics.kid import kid, kid_subset_indices, mmd2_unbiased


def numpy_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Bińkowski et al.'s unbiased MMD² with k(a, b) = (a·b/d + 1)³, written out."""
    m, d = x.shape
    k_xx, k_yy, k_xy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
    off_diagonal = ~np.eye(m, dtype=bool)
    return k_xx[off_diagonal].sum() / (m * (m - 1)) + k_yy[off_diagonal].sum() / (m * (m - 1)) - 2 * k_xy.sum() / m**2


@pytest.mark.parametrize("subset_size", [100, 37, 2])
def test_matches_numpy_on_the_same_subsets(subset_size):
    rng = np.random.default_rng(subset_size)
    real = rng.normal(size=(300, 16))
    fake = 1.3 * rng.normal(size=(250, 16)) + 0.4
    mean, std = kid(torch.from_numpy(real).float(), fake.astype(np.float32), subsets=20, subset_size=subset_size, seed=3)
    real, fake = real.astype(np.float32).astype(np.float64), fake.astype(np.float32).astype(np.float64)
    real_rows, fake_rows = kid_subset_indices(300, 250, subsets=20, subset_size=subset_size, seed=3)
    estimates = [numpy_mmd2(real[r.numpy()], fake[f.numpy()]) for r, f in zip(real_rows, fake_rows)]
    assert mean == pytest.approx(np.mean(estimates), rel=1e-10)
    assert std == pytest.approx(np.std(estimates), rel=1e-10)
    assert mean > 0.1


def test_subset_indices_are_seeded_draws_without_replacement():
    real_rows, fake_rows = kid_subset_indices(50, 40, subsets=7, subset_size=1000, seed=0)
    assert real_rows.shape == fake_rows.shape == (7, 40)  # m = min(subset_size, n_real, n_fake)
    assert all(len(set(row.tolist())) == 40 for row in torch.cat([real_rows, fake_rows]))
    assert int(real_rows.max()) < 50 and int(fake_rows.max()) < 40 and int(real_rows.min()) >= 0
    assert not torch.equal(real_rows[0], real_rows[1])
    again = kid_subset_indices(50, 40, subsets=7, subset_size=1000, seed=0)
    assert torch.equal(again[0], real_rows) and torch.equal(again[1], fake_rows)
    assert not torch.equal(kid_subset_indices(50, 40, subsets=7, subset_size=1000, seed=1)[0], real_rows)


def test_near_zero_for_the_same_distribution():
    generator = torch.Generator().manual_seed(0)
    real, same = torch.randn(600, 8, generator=generator), torch.randn(600, 8, generator=generator)
    shifted = torch.randn(600, 8, generator=generator) + 0.5
    mean_same, std_same = kid(real, same, subsets=30, subset_size=200)
    mean_shifted, _ = kid(real, shifted, subsets=30, subset_size=200)
    assert abs(mean_same) < 3 * std_same
    assert abs(mean_same) < 0.01 * mean_shifted


def test_single_subset_equals_mmd_of_the_whole_sets_when_m_is_n():
    rng = np.random.default_rng(9)
    real, fake = rng.normal(size=(40, 5)), rng.normal(size=(40, 5)) + 1.0
    mean, std = kid(real, fake, subsets=1, subset_size=40)
    assert mean == pytest.approx(numpy_mmd2(real, fake), rel=1e-10)  # a permutation leaves MMD² unchanged
    assert std == 0.0
    assert mmd2_unbiased(torch.from_numpy(real), torch.from_numpy(fake)) == pytest.approx(mean, rel=1e-12)


def test_unusable_inputs_raise_data_error():
    with pytest.raises(DataError, match="dimension"):
        kid(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(DataError, match="at least 2"):
        kid(np.zeros((10, 3)), np.zeros((10, 3)), subset_size=1)
    with pytest.raises(DataError, match="subsets"):
        kid(np.zeros((10, 3)), np.zeros((10, 3)), subsets=0)
