"""Toy 2D distributions: three curves from the course handout (the 2D line/parabola/spiral exercise) and the
two Gaussian mixtures of the mode-collapse literature (VEEGAN, PacGAN).

- line: x ~ N(0,1), y = x.   parabola: x ~ N(0,1), y = x².
- spiral: u ~ U(0,1), n = sqrt(u)·780·2π/360, x = −cos(n)·n + u, y = sin(n)·n + u.
  For these three curves each coordinate is divided by its maximum absolute value
  over the drawn sample (the handout's scaling); the returned `CurveGeometry`
  uses the same scale factors, so the curve passes exactly through the data.
  Curve parameter: the raw x for line and parabola (mass below t = standard normal
  cdf), u for the spiral (mass below t = t).
- ring8: 8 Gaussians evenly spaced on a circle of radius 2, std 0.02.
- grid25: 25 Gaussians at {−4,−2,0,2,4}², std 0.05. Equal mixture weights.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gankit.data.base import CurveGeometry, Dataset, ModeGeometry
from gankit.errors import DataError

TOY2D_NAMES: tuple[str, ...] = ("line", "parabola", "spiral", "ring8", "grid25")

SPIRAL_TURN = 780.0 * 2.0 * math.pi / 360.0
RING8_RADIUS, RING8_STD = 2.0, 0.02
GRID25_STEP, GRID25_STD = 2.0, 0.05


def make_toy2d(name: str, n_samples: int, seed: int) -> Dataset:
    """Draw `n_samples` points of the toy distribution `name`, reproducibly from `seed`."""
    if name not in TOY2D_NAMES:
        raise DataError(f"unknown toy 2D dataset {name!r}; choose one of {', '.join(TOY2D_NAMES)}")
    if n_samples < 1:
        raise DataError(f"n_samples must be at least 1, got {n_samples}")
    generator = torch.Generator().manual_seed(seed)
    if name in ("ring8", "grid25"):
        points, geometry, labels = _gaussian_mixture(_mode_geometry(name), n_samples, generator)
    else:
        points, geometry = _curve_sample(name, n_samples, generator)
        labels = None
    return Dataset(name=name, tensor=points.to(torch.float32), geometry=geometry, labels=labels)


def _mode_geometry(name: str) -> ModeGeometry:
    if name == "ring8":
        angles = torch.arange(8, dtype=torch.float64) * (2.0 * math.pi / 8)
        centers = RING8_RADIUS * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
        return ModeGeometry(centers=centers, std=RING8_STD)
    axis = torch.arange(-2, 3, dtype=torch.float64) * GRID25_STEP
    centers = torch.cartesian_prod(axis, axis)
    return ModeGeometry(centers=centers, std=GRID25_STD)


def _gaussian_mixture(
    geometry: ModeGeometry, n_samples: int, generator: torch.Generator
) -> tuple[Tensor, ModeGeometry, Tensor]:
    n_modes = geometry.centers.shape[0]
    labels = torch.randint(n_modes, (n_samples,), generator=generator)
    noise = torch.randn(n_samples, 2, generator=generator, dtype=torch.float64)
    return geometry.centers[labels] + geometry.std * noise, geometry, labels


def _normal_cdf(t: Tensor) -> Tensor:
    return 0.5 * (1.0 + torch.erf(t / math.sqrt(2.0)))


def _uniform_cdf(t: Tensor) -> Tensor:
    return t.clamp(0.0, 1.0)


def _raw_curve(name: str, t: Tensor) -> Tensor:
    """Unscaled curve points for parameter t (float64)."""
    if name == "line":
        return torch.stack([t, t], dim=1)
    if name == "parabola":
        return torch.stack([t, t * t], dim=1)
    angle = torch.sqrt(t) * SPIRAL_TURN
    return torch.stack([-torch.cos(angle) * angle + t, torch.sin(angle) * angle + t], dim=1)


def _curve_sample(
    name: str, n_samples: int, generator: torch.Generator
) -> tuple[Tensor, CurveGeometry]:
    if name == "spiral":
        params = torch.rand(n_samples, generator=generator, dtype=torch.float64)
        param_cdf, param_range = _uniform_cdf, (0.0, 1.0)
    else:
        params = torch.randn(n_samples, generator=generator, dtype=torch.float64)
        param_cdf = _normal_cdf
        param_range = (float(params.min()), float(params.max()))
    raw = _raw_curve(name, params)
    scale = raw.abs().amax(dim=0).clamp_min(torch.finfo(torch.float64).tiny)

    def curve(t: Tensor) -> Tensor:
        return _raw_curve(name, t.to(torch.float64)) / scale

    geometry = CurveGeometry(curve=curve, param_cdf=param_cdf, param_range=param_range)
    return raw / scale, geometry
