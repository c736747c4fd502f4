"""prdc against two oracles, the `prdc` package (Naeem et al. 2020) and gankit's own
plain `reference_prdc` (the definition as code), chunked, and against exact rational
arithmetic where the oracles' own rounding could decide.

The package computes float64 |x|²+|y|²−2x·y and the reference float64 coordinate
differences; both are exact on small integer or dyadic features, so the tie-heavy cases below (duplicates, integer grids, points exactly on
a radius) compare with it exactly; near-ties one ulp apart compare with fractions.
"""

from fractions import Fraction

import numpy as np
import pytest
import torch
from prdc import compute_prdc

from gankit import hardware
from gankit.errors import DataError
from gankit.metrics.knn import fast, nearest_neighbour_radii, passes, prdc, reference_prdc
from gankit.metrics.knn.sketch import Sketch

KEYS = ("precision", "recall", "density", "coverage")
PLANS = [torch.bfloat16, torch.float32]


def oracle(real, fake, k):
    return compute_prdc(real, fake, nearest_k=k)


def exact_prdc(real, fake, k):
    """The definitions evaluated in exact rational arithmetic (small sets only)."""
    def squares(x, y):
        xf = [[Fraction(v) for v in row] for row in x.tolist()]
        yf = [[Fraction(v) for v in row] for row in y.tolist()]
        return [[sum((a - b) ** 2 for a, b in zip(p, q)) for q in yf] for p in xf]

    real_radii = [sorted(row)[k] for row in squares(real, real)]
    fake_radii = [sorted(row)[k] for row in squares(fake, fake)]
    cross = squares(real, fake)
    balls = [sum(cross[i][j] < real_radii[i] for i in range(len(real))) for j in range(len(fake))]
    return {
        "precision": sum(b > 0 for b in balls) / len(fake),
        "recall": sum(any(d < fake_radii[j] for j, d in enumerate(row)) for row in cross) / len(real),
        "density": (1.0 / k) * (sum(balls) / len(fake)),
        "coverage": sum(any(d < real_radii[i] for d in row) for i, row in enumerate(cross)) / len(real),
    }


def assert_matches(real, fake, k, chunk_size=None, reference=oracle):
    ours = prdc(torch.from_numpy(real), torch.from_numpy(fake), k=k, chunk_size=chunk_size)
    expected = reference(real, fake, k)
    for key in KEYS:
        assert ours[key] == pytest.approx(float(expected[key]), abs=1e-12, rel=0), key
        assert type(ours[key]) is float
    assert ours["k"] == k and ours["n_real"] == len(real) and ours["n_fake"] == len(fake)
    return ours


@pytest.mark.parametrize(
    "n_real, n_fake, dim, k, shift",
    [(200, 150, 2, 5, 0.3), (120, 260, 7, 3, 0.0), (180, 180, 64, 5, 0.5), (60, 90, 1, 1, 0.2),
     (250, 230, 512, 5, 0.1), (1500, 1300, 8, 3, 0.2)],
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


@pytest.mark.parametrize("k", [1, 3, 5])
def test_reference_is_the_definition_and_agrees_with_both_oracles(k):
    rng = np.random.default_rng(20 + k)
    real, fake = rng.normal(size=(150, 6)), rng.normal(loc=0.3, scale=1.2, size=(130, 6))
    reference = reference_prdc(real, fake, k)
    package = oracle(real, fake, k)
    assert all(reference[key] == pytest.approx(float(package[key]), abs=1e-12, rel=0) for key in KEYS)
    assert (reference["k"], reference["n_real"], reference["n_fake"]) == (k, 150, 130)
    ties = rng.integers(-2, 3, size=(80, 3)).astype(float), rng.integers(-1, 4, size=(70, 3)).astype(float)
    exact = exact_prdc(*ties, k)
    assert all(reference_prdc(*ties, k)[key] == exact[key] for key in KEYS)  # exact on integer features
    assert_matches(real, fake, k, chunk_size=29, reference=reference_prdc)


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
    rows = []
    original = Sketch.rows

    def recording(self, start, stop, offsets, pack=True):
        if pack:  # a block of GEMM rows
            rows.append(stop - start)
        return original(self, start, stop, offsets, pack)

    monkeypatch.setattr(Sketch, "rows", recording)
    prdc(torch.randn(100, 2), torch.randn(80, 2), k=3, chunk_size=16)
    assert rows and max(rows) <= 16
    rows.clear()
    prdc(torch.randn(100, 2), torch.randn(80, 2), k=3)
    assert max(rows) == 100


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("chunk_size", [None, 17])
def test_integer_features_with_many_exact_ties(k, chunk_size):
    rng = np.random.default_rng(k)
    real = rng.integers(-2, 3, size=(220, 3)).astype(float)  # 125 cells: duplicates galore
    fake = rng.integers(-1, 4, size=(190, 3)).astype(float)
    assert_matches(real, fake, k, chunk_size)
    assert_matches(real, fake, k, chunk_size, reference=reference_prdc)


@pytest.mark.parametrize("k", [1, 4, 8])
def test_points_exactly_on_a_radius(k):
    grid = np.array([(a, b) for a in range(12) for b in range(12)], dtype=float)
    fake = np.concatenate([grid[::3] + [0.0, 1.0], grid[::5] + 0.5, grid[::7] + [3.0, 4.0]])
    assert_matches(grid * 0.25, fake * 0.25, k)  # dyadic: the oracles' float64 is exact
    assert_matches(grid * 0.25, fake * 0.25, k, reference=reference_prdc)


def test_heavy_duplicates_radius_zero():
    rng = np.random.default_rng(2)
    cells = rng.normal(size=(30, 6)).round(3) * 8  # few distinct points, up to a dozen copies
    real = cells[rng.integers(0, 30, size=240)]
    fake = np.concatenate([cells[rng.integers(0, 30, size=100)], rng.normal(size=(60, 6))])
    for k in (1, 5):
        assert_matches(real, fake, k, reference=exact_prdc)


def test_near_ties_one_ulp_apart_match_exact_arithmetic():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(45, 4)) + 1e3
    fake = np.concatenate([np.nextafter(real[:15], np.inf), real[15:25],
                           np.nextafter(real[25:35], -np.inf), rng.normal(size=(10, 4)) + 1e3])
    for k in (1, 2, 5):
        assert_matches(real, fake, k, chunk_size=7, reference=exact_prdc)


def test_large_offset_dyadic_features():
    rng = np.random.default_rng(6)
    real = 1e6 + rng.integers(-4000, 4000, size=(300, 5)) / 1024  # exact in float64
    fake = 1e6 + rng.integers(-3000, 5000, size=(280, 5)) / 1024
    assert_matches(real, fake, 5, chunk_size=37)


@pytest.mark.parametrize("dim", [2, 40, 300])
def test_results_do_not_depend_on_the_sketch_format(monkeypatch, dim):
    rng = np.random.default_rng(dim)
    real = torch.from_numpy(np.concatenate([rng.normal(size=(200, dim))] * 2))
    fake = torch.from_numpy(rng.normal(loc=0.05, size=(260, dim)))
    results = []
    for plan in PLANS:
        monkeypatch.setattr(fast, "sketch_dtype", lambda *_, plan=plan: plan)
        results.append(prdc(real, fake, k=5, chunk_size=51))
    assert results[0] == results[1]
    assert_matches(real.numpy(), fake.numpy(), 5)


def test_topk_widening_path(monkeypatch):
    monkeypatch.setattr(passes, "PAD", 0)
    monkeypatch.setattr(passes, "GROUP", 4)
    rng = np.random.default_rng(8)
    real = np.concatenate([rng.normal(size=(150, 20))] * 3)  # triplicates: k=5 radii need width
    assert_matches(real, rng.normal(size=(170, 20)), 5, chunk_size=64)


def test_bootstrap_spreads():
    rng = np.random.default_rng(9)
    real, fake = torch.from_numpy(rng.normal(size=(800, 8))), torch.from_numpy(rng.normal(0.3, size=(700, 8)))
    plain = prdc(real, fake)
    assert not any(key.endswith("_std") for key in plain)
    spread = prdc(real, fake, bootstrap=200, seed=3)
    assert {key: spread[key] for key in plain} == plain  # same numbers, spreads added
    assert spread == prdc(real, fake, bootstrap=200, seed=3)  # seeded
    for key, n in (("precision", 700), ("recall", 800), ("coverage", 800)):
        p = plain[key]
        assert spread[f"{key}_std"] == pytest.approx((p * (1 - p) / n) ** 0.5, rel=0.25)
    assert 0 < spread["density_std"] < 0.2
    same = prdc(real, real.clone(), bootstrap=50)
    assert same["precision_std"] == same["recall_std"] == 0.0
    with pytest.raises(DataError, match="bootstrap"):
        prdc(real, fake, bootstrap=1)


def test_rejects_non_finite_and_huge_features():
    real = torch.randn(10, 2, dtype=torch.float64)
    with pytest.raises(DataError, match="finite"):
        prdc(real, torch.full((10, 2), float("nan")))
    with pytest.raises(DataError, match="finite"):
        prdc(real, torch.full((10, 2), 1e200, dtype=torch.float64))


def test_restores_threads_and_matmul_precision(monkeypatch):
    threads = torch.get_num_threads()
    torch.set_float32_matmul_precision("medium")
    try:
        prdc(torch.randn(50, 3), torch.randn(40, 3))
        assert torch.get_num_threads() == threads
        assert torch.get_float32_matmul_precision() == "medium"

        def broken(*args):
            raise RuntimeError("boom")

        monkeypatch.setattr(fast, "cross_tasks", broken)
        with pytest.raises(RuntimeError, match="boom"):
            prdc(torch.randn(50, 3), torch.randn(40, 3))
        assert torch.get_num_threads() == threads
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.set_float32_matmul_precision("highest")


def test_tight_clusters_far_apart():
    """Radii tiny against the spread around the centre: exact all the same (and the
    sketch falls back from bfloat16 to float32, where bfloat16 would be too coarse)."""
    rng = np.random.default_rng(10)
    centers = rng.normal(size=(12, 48)) * 30
    real = centers[rng.integers(0, 12, 700)] + rng.normal(size=(700, 48)) * 0.05
    fake = centers[rng.integers(0, 9, 600)] + rng.normal(size=(600, 48)) * 0.06
    assert_matches(real, fake, 5, chunk_size=97)
    real_t = torch.from_numpy(real)
    assert fast.sketch_dtype(real_t, real_t.mean(0), 5) == torch.float32
    gaussian = torch.randn(2000, 256, dtype=torch.float64)
    chosen = fast.sketch_dtype(gaussian, gaussian.mean(0), 5)
    assert chosen == (torch.bfloat16 if hardware.bf16_is_fast("cpu") else torch.float32)


def test_sketch_stays_float32_where_bfloat16_is_slow(monkeypatch):
    """On a CPU that emulates bfloat16 (AVX2 only) the sketch must not pick it for speed."""
    monkeypatch.setattr(hardware, "bf16_matmul_speedup", lambda device="cpu": 0.2)
    gaussian = torch.randn(2000, 256, dtype=torch.float64)
    assert fast.sketch_dtype(gaussian, gaussian.mean(0), 5) == torch.float32
    monkeypatch.setattr(hardware, "bf16_matmul_speedup", lambda device="cpu": 4.0)
    assert fast.sketch_dtype(gaussian, gaussian.mean(0), 5) == torch.bfloat16


@pytest.mark.parametrize("threads", [2, 3])
def test_block_threads_give_identical_results(monkeypatch, threads):
    rng = np.random.default_rng(threads)
    real = np.concatenate([rng.normal(size=(400, 24))] * 2)  # duplicates: tier 3 in threads
    fake = np.concatenate([real[:100], rng.normal(0.1, size=(500, 24))])
    single = prdc(torch.from_numpy(real), torch.from_numpy(fake), k=3, chunk_size=61)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        radii = nearest_neighbour_radii(torch.from_numpy(real), 3, chunk_size=61)
        assert prdc(torch.from_numpy(real), torch.from_numpy(fake), k=3, chunk_size=61) == single
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(previous)
    assert torch.equal(radii, nearest_neighbour_radii(torch.from_numpy(real), 3, chunk_size=61))
    assert_matches(real, fake, 3, chunk_size=61)
