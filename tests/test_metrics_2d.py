"""Energy distance, mode metrics, curve metrics and the flat 2D evaluation dict."""

import json
import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from scipy.stats import energy_distance as scipy_energy_distance

from gankit.data.base import ModeGeometry
from gankit.data.toy2d import make_toy2d
from gankit.metrics.distance import energy_distance, pairwise_distances
from gankit.metrics.toy2d import curve_metrics, evaluate_points, mode_metrics

# share of a 2D isotropic Gaussian within 3 std of its centre: 1 - exp(-9/2)
WITHIN_3_STD_2D = 1.0 - math.exp(-4.5)


# ---------------------------------------------------------------- energy distance

@pytest.mark.parametrize("chunk_size", [None, 17])
def test_energy_distance_equals_scipy_in_1d(chunk_size):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=300), rng.normal(loc=0.4, scale=1.5, size=211)
    ours = energy_distance(torch.from_numpy(x), torch.from_numpy(y), chunk_size=chunk_size)
    assert ours == pytest.approx(scipy_energy_distance(x, y), rel=1e-10)
    assert energy_distance(x[:, None], y[:, None]) == pytest.approx(scipy_energy_distance(x, y), rel=1e-10)
    assert energy_distance([0.0], [2.0]) == pytest.approx(2.0)  # scipy's doc example


def direct_energy_distance(x, y):
    return math.sqrt(2 * cdist(x, y).mean() - cdist(x, x).mean() - cdist(y, y).mean())


@pytest.mark.parametrize("dim", [2, 5, 40])
def test_energy_distance_matches_direct_formula(dim):
    rng = np.random.default_rng(dim)
    x, y = rng.normal(size=(250, dim)), rng.normal(loc=0.1, size=(190, dim))
    expected = direct_energy_distance(x, y)
    for chunk_size in (None, 11):
        ours = energy_distance(torch.from_numpy(x), torch.from_numpy(y), chunk_size=chunk_size)
        assert ours == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("dim", [3, 64])
def test_pairwise_distances_accurate_and_exact_zero_for_equal_rows(dim):
    rng = np.random.default_rng(dim)
    x = rng.normal(loc=3.0, size=(120, dim))
    x[10] = x[20]
    x[30] = x[40] + 1e-7
    ours = pairwise_distances(torch.from_numpy(x), torch.from_numpy(x)).numpy()
    assert np.allclose(ours, cdist(x, x), rtol=1e-12, atol=1e-15)
    assert (np.diag(ours) == 0).all() and ours[10, 20] == 0.0
    assert ours[30, 40] == pytest.approx(1e-7 * math.sqrt(dim), rel=1e-6)


def test_energy_distance_zero_for_identical_and_symmetric():
    x = torch.randn(100, 2, generator=torch.Generator().manual_seed(1))
    y = torch.randn(80, 2, generator=torch.Generator().manual_seed(2))
    assert energy_distance(x, x.clone()) == pytest.approx(0.0, abs=1e-6)
    assert energy_distance(x, y) == pytest.approx(energy_distance(y, x), rel=1e-12)
    with pytest.raises(ValueError, match="dimensions differ"):
        energy_distance(x, torch.randn(5, 3))


# ---------------------------------------------------------------- mode metrics

GEOMETRY = ModeGeometry(
    centers=torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], dtype=torch.float64), std=0.1
)


def points_at(center, count, radius=0.0):
    angles = torch.linspace(0, 2 * math.pi, count + 1, dtype=torch.float64)[:-1]
    ring = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1) * radius
    return ring + torch.tensor(center, dtype=torch.float64)


def test_min_count_boundary():
    samples = torch.cat([points_at([0, 0], 20), points_at([10, 0], 19)])
    result = mode_metrics(samples, GEOMETRY)
    assert result["mode_counts"] == [20, 19, 0]
    assert result["modes_captured"] == 1 and result["n_modes"] == 3
    assert result["high_quality"] == 1.0
    assert mode_metrics(samples, GEOMETRY, min_count=19)["modes_captured"] == 2


def test_n_std_boundary():
    inside = points_at([0, 0], 30, radius=2.9 * 0.1)
    outside = points_at([10, 0], 30, radius=3.1 * 0.1)
    result = mode_metrics(torch.cat([inside, outside]), GEOMETRY)
    assert result["mode_counts"] == [30, 0, 0]
    assert result["high_quality"] == pytest.approx(0.5)
    assert result["modes_captured"] == 1
    assert mode_metrics(outside, GEOMETRY, n_std=3.2)["modes_captured"] == 1


def test_far_samples_are_low_quality():
    samples = torch.cat([points_at([0, 0], 25), points_at([5, 5], 75)])
    result = mode_metrics(samples, GEOMETRY)
    assert result["high_quality"] == pytest.approx(0.25)
    assert result["mode_counts"] == [25, 0, 0]


@pytest.mark.parametrize("name, n_modes", [("ring8", 8), ("grid25", 25)])
def test_real_mixture_data_captures_every_mode(name, n_modes):
    data = make_toy2d(name, 2500, seed=0)
    result = mode_metrics(data.tensor, data.geometry)
    assert result["modes_captured"] == n_modes == result["n_modes"]
    # 3 std in 2D holds 1 - e^-4.5 = 98.9% of a Gaussian, not 99.7%
    assert result["high_quality"] == pytest.approx(WITHIN_3_STD_2D, abs=0.008)
    assert sum(result["mode_counts"]) == round(result["high_quality"] * 2500)


def test_collapse_to_one_centre():
    geometry = make_toy2d("grid25", 10, seed=0).geometry
    samples = geometry.centers[7].repeat(2500, 1) + 0.01 * torch.randn(2500, 2, dtype=torch.float64)
    result = mode_metrics(samples, geometry)
    assert result["modes_captured"] == 1 and result["high_quality"] == 1.0
    assert result["mode_counts"][7] == 2500
    assert result["mode_entropy"] == 0.0


def test_mode_entropy_of_even_and_uneven_spreads():
    geometry = make_toy2d("ring8", 10, seed=0).geometry
    even = geometry.centers.repeat(100, 1)
    assert mode_metrics(even, geometry)["mode_entropy"] == pytest.approx(math.log(8))
    uneven = torch.cat([geometry.centers[:1].repeat(300, 1), geometry.centers[1:2].repeat(100, 1)])
    shares = torch.tensor([0.75, 0.25], dtype=torch.float64)
    assert mode_metrics(uneven, geometry)["mode_entropy"] == pytest.approx(float(-(shares * shares.log()).sum()))


# ---------------------------------------------------------------- curve metrics

@pytest.mark.parametrize("name", ["line", "parabola", "spiral"])
def test_real_curve_data_scores_full_coverage(name):
    data = make_toy2d(name, 2500, seed=0)
    result = curve_metrics(data.tensor, data.geometry)
    # measured: coverage 1.0, distance 3e-5 (line/parabola) and 1e-4 (spiral)
    assert result["curve_coverage"] >= 0.99
    assert result["curve_distance"] < 5e-4
    other = make_toy2d(name, 2500, seed=1)  # a fresh sample against seed 0's curve
    fresh = curve_metrics(other.tensor, data.geometry)
    assert fresh["curve_coverage"] >= 0.97 and fresh["curve_distance"] < 5e-3


def test_points_off_the_curve():
    data = make_toy2d("line", 2500, seed=0)
    normal = torch.tensor([1.0, -1.0]) / math.sqrt(2.0)
    shifted = data.tensor + 0.1 * normal
    result = curve_metrics(shifted, data.geometry)
    assert result["curve_distance"] == pytest.approx(0.1, abs=2e-3)
    assert result["curve_coverage"] == 0.0
    assert curve_metrics(shifted, data.geometry, tolerance=0.11)["curve_coverage"] >= 0.99


@pytest.mark.parametrize("name", ["parabola", "spiral"])
@pytest.mark.parametrize("side", [1.0, -1.0])
def test_points_pushed_along_the_normal(name, side):
    data = make_toy2d(name, 1000, seed=0)
    geometry = data.geometry
    params = torch.linspace(*geometry.param_range, 10001, dtype=torch.float64)
    curve = geometry.curve(params)
    nearest = torch.cdist(data.tensor.double(), curve).argmin(dim=1)
    tangent = curve[(nearest + 1).clamp(max=10000)] - curve[(nearest - 1).clamp(min=0)]
    normal = torch.stack([-tangent[:, 1], tangent[:, 0]], dim=1)
    normal = normal / normal.norm(dim=1, keepdim=True)
    result = curve_metrics(data.tensor.double() + side * 0.1 * normal, geometry)
    # measured 0.0992-0.1000: a few spiral points pushed inwards near the centre land closer
    assert result["curve_distance"] == pytest.approx(0.1, abs=2e-3)
    assert result["curve_coverage"] <= 0.02


@pytest.mark.parametrize("name", ["line", "spiral"])
def test_half_the_curve_covers_half(name):
    data = make_toy2d(name, 2500, seed=0)
    param = data.tensor[:, 0] if name == "line" else None
    if name == "spiral":
        # the spiral's first half (u < 0.5) lies inside radius sqrt(0.5) of the scaled centre
        distance_from_start = (data.tensor.double() - data.geometry.curve(torch.zeros(1))).norm(dim=1)
        keep = distance_from_start < torch.quantile(distance_from_start, 0.5)
    else:
        keep = param < 0
    result = curve_metrics(data.tensor[keep], data.geometry)
    assert result["curve_coverage"] == pytest.approx(0.5, abs=0.06)


def test_collapsed_samples_cover_one_bin():
    data = make_toy2d("parabola", 2500, seed=0)
    point = data.geometry.curve(torch.tensor([0.0], dtype=torch.float64))
    result = curve_metrics(point.repeat(500, 1), data.geometry)
    assert result["curve_distance"] < 1e-3 and result["curve_coverage"] == 0.01


# ---------------------------------------------------------------- flat evaluation dict

@pytest.mark.parametrize(
    "name, extra",
    [("ring8", {"modes_captured", "n_modes", "high_quality", "mode_entropy"}),
     ("spiral", {"curve_distance", "curve_coverage"})],
)
def test_evaluate_points_flat_json_dict(name, extra):
    real = make_toy2d(name, 600, seed=0)
    fake = make_toy2d(name, 500, seed=1)
    scores = evaluate_points(real.tensor, fake.tensor, real.geometry, k=3)
    base = {"precision", "recall", "density", "coverage", "energy_distance", "n_real", "n_fake", "k"}
    assert set(scores) == base | extra
    assert scores["k"] == 3 and scores["n_real"] == 600 and scores["n_fake"] == 500
    assert all(type(value) in (int, float) for value in scores.values())
    json.dumps(scores)
    assert scores["precision"] > 0.9 and scores["recall"] > 0.9


def test_evaluate_points_without_geometry():
    real = torch.randn(200, 3, generator=torch.Generator().manual_seed(0))
    scores = evaluate_points(real, real + 5.0, None)
    assert set(scores) == {"precision", "recall", "density", "coverage", "energy_distance",
                           "n_real", "n_fake", "k"}
    assert scores["precision"] == 0.0 and scores["energy_distance"] > 2.0


def test_evaluate_points_collapsed_generator():
    real = make_toy2d("grid25", 2500, seed=0)
    fake = real.geometry.centers[0] + 0.05 * torch.randn(2500, 2, dtype=torch.float64)
    scores = evaluate_points(real.tensor, fake, real.geometry)
    assert scores["modes_captured"] == 1
    assert scores["recall"] < 0.1 and scores["coverage"] < 0.1
