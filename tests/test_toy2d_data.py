"""Toy 2D data: formulas, scaling, determinism, geometry consistent with the data."""

import math

import pytest
import torch

from gankit.data.base import CurveGeometry, Dataset, ModeGeometry
from gankit.data.toy2d import TOY2D_NAMES, make_toy2d
from gankit.errors import DataError

CURVES = ("line", "parabola", "spiral")


def test_names():
    assert set(TOY2D_NAMES) == {"line", "parabola", "spiral", "ring8", "grid25"}


@pytest.mark.parametrize("name", TOY2D_NAMES)
def test_shape_dtype_and_dataset_fields(name):
    data = make_toy2d(name, 300, seed=0)
    assert isinstance(data, Dataset)
    assert data.name == name and data.kind == "points"
    assert data.tensor.shape == (300, 2) and data.tensor.dtype == torch.float32
    assert data.tensor.device.type == "cpu"
    assert data.sample_shape == (2,) and len(data) == 300
    assert torch.isfinite(data.tensor).all()


@pytest.mark.parametrize("name", TOY2D_NAMES)
def test_determinism(name):
    first = make_toy2d(name, 200, seed=7)
    again = make_toy2d(name, 200, seed=7)
    other = make_toy2d(name, 200, seed=8)
    assert torch.equal(first.tensor, again.tensor)
    assert not torch.equal(first.tensor, other.tensor)


def test_does_not_touch_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make_toy2d("spiral", 100, seed=0)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("name", CURVES)
def test_curves_scaled_to_unit_max_abs(name):
    data = make_toy2d(name, 1000, seed=3)
    assert torch.allclose(data.tensor.abs().amax(dim=0), torch.ones(2), atol=0, rtol=0)


def test_curve_formulas():
    line = make_toy2d("line", 500, seed=1).tensor
    assert torch.equal(line[:, 0], line[:, 1])
    parabola = make_toy2d("parabola", 500, seed=1).tensor.double()
    # y = x² / max x², x = raw x / max |x|  =>  y = x_scaled² · (max|x|² / max x²) = x_scaled²
    assert torch.allclose(parabola[:, 1], parabola[:, 0] ** 2, atol=1e-6)
    assert (parabola[:, 1] >= 0).all()


def test_spiral_formula_matches_handout():
    generator = torch.Generator().manual_seed(5)
    u = torch.rand(400, generator=generator, dtype=torch.float64)
    n = torch.sqrt(u) * 780 * 2 * math.pi / 360
    raw = torch.stack([-torch.cos(n) * n + u, torch.sin(n) * n + u], dim=1)
    expected = (raw / raw.abs().amax(dim=0)).float()
    assert torch.equal(make_toy2d("spiral", 400, seed=5).tensor, expected)


@pytest.mark.parametrize("name", CURVES)
def test_curve_geometry_passes_through_data(name):
    data = make_toy2d(name, 300, seed=2)
    geometry = data.geometry
    assert isinstance(geometry, CurveGeometry)
    low, high = geometry.param_range
    t = torch.linspace(low, high, 20001, dtype=torch.float64)
    curve = geometry.curve(t)
    assert curve.shape == (20001, 2) and curve.dtype == torch.float64
    nearest = torch.cdist(data.tensor.double(), curve).min(dim=1).values
    assert nearest.max() < 2e-3
    assert nearest.mean() < 3e-4
    cdf = geometry.param_cdf(t)
    assert (cdf >= 0).all() and (cdf <= 1).all() and (cdf.diff() >= 0).all()


def test_curve_parameters_and_cdf():
    line = make_toy2d("line", 1000, seed=4).geometry
    low, high = line.param_range
    assert low < -2.5 and high > 2.5  # range of the raw N(0,1) draws
    assert float(line.param_cdf(torch.tensor([0.0], dtype=torch.float64))) == pytest.approx(0.5)
    assert float(line.param_cdf(torch.tensor([1.0], dtype=torch.float64))) == pytest.approx(
        0.8413447460685429
    )
    spiral = make_toy2d("spiral", 1000, seed=4).geometry
    assert spiral.param_range == (0.0, 1.0)
    t = torch.tensor([0.0, 0.25, 1.0], dtype=torch.float64)
    assert torch.equal(spiral.param_cdf(t), t)


def test_ring8_geometry_and_spread():
    data = make_toy2d("ring8", 4000, seed=0)
    geometry = data.geometry
    assert isinstance(geometry, ModeGeometry)
    assert geometry.std == 0.02
    centers = geometry.centers
    assert centers.shape == (8, 2) and centers.dtype == torch.float64
    assert torch.allclose(centers.norm(dim=1), torch.full((8,), 2.0, dtype=torch.float64))
    angles = torch.sort(torch.atan2(centers[:, 1], centers[:, 0]) % (2 * math.pi)).values
    assert torch.allclose(angles.diff(), torch.full((7,), math.pi / 4, dtype=torch.float64))
    offsets = data.tensor.double() - centers[data.labels]
    assert offsets.std().item() == pytest.approx(0.02, rel=0.05)
    counts = torch.bincount(data.labels, minlength=8).double()
    assert (counts / 4000 - 1 / 8).abs().max() < 0.03


def test_grid25_geometry():
    data = make_toy2d("grid25", 2000, seed=0)
    geometry = data.geometry
    assert geometry.std == 0.05
    assert geometry.centers.shape == (25, 2)
    assert {tuple(row) for row in geometry.centers.tolist()} == {
        (float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)
    }
    offsets = data.tensor.double() - geometry.centers[data.labels]
    assert offsets.std().item() == pytest.approx(0.05, rel=0.05)


def test_unknown_name_and_bad_size():
    with pytest.raises(DataError, match="unknown toy 2D dataset 'circle'"):
        make_toy2d("circle", 10, seed=0)
    with pytest.raises(DataError, match="n_samples"):
        make_toy2d("line", 0, seed=0)
