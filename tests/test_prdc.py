"""prdc against the `prdc` package (Naeem et al. 2020) as the oracle, chunked."""

import numpy as np
import pytest
import torch
from prdc import compute_prdc

from gankit.errors import DataError
from gankit.metrics.prdc import nearest_neighbour_radii, prdc

KEYS = ("precision", "recall", "density", "coverage")


def oracle(real, fake, k):
    return compute_prdc(real, fake, nearest_k=k)


def assert_matches(real, fake, k, chunk_size=None):
    ours = prdc(torch.from_numpy(real), torch.from_numpy(fake), k=k, chunk_size=chunk_size)
    expected = oracle(real, fake, k)
    for key in KEYS:
        assert ours[key] == pytest.approx(float(expected[key]), abs=1e-12, rel=0), key
        assert type(ours[key]) is float
    assert ours["k"] == k and ours["n_real"] == len(real) and ours["n_fake"] == len(fake)
    return ours


@pytest.mark.parametrize(
    "n_real, n_fake, dim, k, shift",
    [(200, 150, 2, 5, 0.3), (120, 260, 7, 3, 0.0), (180, 180, 64, 5, 0.5), (60, 90, 1, 1, 0.2)],
)
@pytest.mark.parametrize("chunk_size", [None, 7, 64])
def test_matches_prdc_package(n_real, n_fake, dim, k, shift, chunk_size):
    rng = np.random.default_rng(n_real + dim)
    real = rng.normal(size=(n_real, dim))
    fake = rng.normal(loc=shift, scale=1.2, size=(n_fake, dim))
    assert_matches(real, fake, k, chunk_size)


@pytest.mark.parametrize("dim", [2, 40])
@pytest.mark.parametrize("chunk_size", [None, 13])
def test_matches_prdc_package_with_duplicates(dim, chunk_size):
    rng = np.random.default_rng(dim)
    base_real = rng.normal(size=(150, dim))
    # a third of the reals appear twice, a few three times; the fakes repeat too
    real = np.concatenate([base_real, base_real[:50], base_real[:10]])
    base_fake = rng.normal(loc=0.2, size=(120, dim))
    fake = np.concatenate([base_fake, base_fake[::3]])
    rng.shuffle(real)
    assert_matches(real, fake, 5, chunk_size)


def test_radii_are_index_k_of_sorted_row_with_self():
    rng = np.random.default_rng(1)
    points = rng.normal(size=(40, 3))
    points = np.concatenate([points, points[:5]])
    expected = np.sort(np.linalg.norm(points[:, None] - points[None], axis=-1), axis=1)[:, 4]
    radii = nearest_neighbour_radii(torch.from_numpy(points), 4, chunk_size=6)
    assert np.allclose(radii.numpy(), expected, atol=1e-12)
    # a duplicated point counts as a neighbour: its radius for k=1 is 0
    assert radii.shape == (45,) and float(nearest_neighbour_radii(torch.from_numpy(points), 1)[0]) == 0.0


def test_same_set_scores_one():
    real = torch.randn(300, 4, generator=torch.Generator().manual_seed(0))
    scores = prdc(real, real.clone(), k=5)
    assert scores["precision"] == scores["recall"] == scores["coverage"] == 1.0
    # each real ball strictly holds itself and its k-1 nearest neighbours
    assert scores["density"] == pytest.approx(1.0, abs=1e-12)


def test_disjoint_sets_score_zero():
    real = torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    scores = prdc(real, real + 100.0, k=3)
    assert all(scores[key] == 0.0 for key in KEYS)


def test_accepts_numpy_and_float32():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(80, 3)), rng.normal(size=(70, 3))
    from_numpy = prdc(real, fake)
    from_float32 = prdc(torch.from_numpy(real).float(), torch.from_numpy(fake).float())
    assert from_numpy["precision"] == pytest.approx(from_float32["precision"], abs=0.02)


def test_validation():
    real = torch.randn(10, 2)
    with pytest.raises(DataError, match="dimension"):
        prdc(real, torch.randn(10, 3))
    with pytest.raises(DataError, match="fake set has 5 samples; k=5 needs at least 6"):
        prdc(real, torch.randn(5, 2))
    with pytest.raises(DataError, match="k must be at least 1"):
        prdc(real, real, k=0)


def test_chunking_bounds_block_size(monkeypatch):
    import gankit.metrics.distance as distance

    shapes = []
    original = distance.pairwise_distances

    def recording(x, y):
        shapes.append(tuple(x.shape[:1]) + tuple(y.shape[:1]))
        return original(x, y)

    monkeypatch.setattr(distance, "pairwise_distances", recording)
    prdc(torch.randn(100, 2), torch.randn(80, 2), k=3, chunk_size=16)
    assert shapes and max(rows for rows, _ in shapes) <= 16
    assert max(rows * cols for rows, cols in shapes) <= 16 * 100
