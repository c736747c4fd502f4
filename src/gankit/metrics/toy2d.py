"""Scores for generated 2D points against the true shape of a toy distribution.

Mixtures (ring8, grid25; after VEEGAN and PacGAN): a sample is *high quality* if it
lies within `n_std` standard deviations (Euclidean distance) of its nearest mode
centre; a mode is *captured* if at least `min_count` high-quality samples fall in
it. The literature draws 2,500 samples; the functions score whatever they are given.

Curves (line, parabola, spiral): the mean distance of samples to the true curve,
and the share of the curve that is covered. See `curve_metrics` for the binning.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.data.base import CurveGeometry, ModeGeometry
from gankit.metrics.distance import as_points, distance_blocks, energy_distance
from gankit.metrics.knn import prdc


def mode_metrics(
    samples: Tensor, geometry: ModeGeometry, n_std: float = 3.0, min_count: int = 20
) -> dict:
    """Modes captured and high-quality share of `samples` (N, 2) for a Gaussian mixture.

    Returns `modes_captured`, `n_modes`, `high_quality` (share in [0, 1]),
    `mode_counts` (high-quality samples per mode, in the order of `geometry.centers`) and
    `mode_entropy`, the entropy (nats) of every sample's nearest mode: log K when samples
    spread evenly, 0 when they all sit by one mode (the collapse detector reads it).
    """
    points = as_points(samples).cpu()
    centers = geometry.centers.to(torch.float64).cpu()
    n_modes = centers.shape[0]
    if points.shape[0] == 0:
        return {"modes_captured": 0, "n_modes": n_modes, "high_quality": 0.0,
                "mode_counts": [0] * n_modes, "mode_entropy": float("nan")}
    distances = torch.cdist(points, centers, compute_mode="donot_use_mm_for_euclid_dist")
    nearest_distance, nearest_mode = distances.min(dim=1)
    high_quality = nearest_distance <= n_std * geometry.std
    counts = torch.bincount(nearest_mode[high_quality], minlength=n_modes)
    shares = torch.bincount(nearest_mode, minlength=n_modes).double() / points.shape[0]
    return {
        "modes_captured": int((counts >= min_count).sum()),
        "n_modes": int(n_modes),
        "high_quality": float(high_quality.double().mean()),
        "mode_counts": [int(count) for count in counts],
        "mode_entropy": float(-torch.xlogy(shares, shares).sum()),
    }


def curve_metrics(
    samples: Tensor,
    geometry: CurveGeometry,
    tolerance: float = 0.05,
    bins: int = 100,
    resolution: int = 20001,
) -> dict:
    """Mean distance to the true curve and covered share of it, for samples (N, 2).

    The curve is discretised at `resolution` parameter values spread uniformly over
    `geometry.param_range`. `curve_distance` is the mean over samples of the distance
    to the nearest discretised point. `curve_coverage` is the share of `bins` bins of
    the curve parameter that hold the nearest curve point of at least one sample lying
    within `tolerance` of the curve.

    Refinement of the usual "100 equal bins of the curve parameter": the bins hold
    equal probability mass of the data distribution (bin = floor(bins·cdf(t))), not
    equal parameter length, so that a sample of the real data scores ~100% coverage
    (the normal tails of line/parabola would otherwise leave bins nearly empty).
    Distances are in the data's scale (the curves are scaled to max |coordinate| 1).
    """
    points = as_points(samples).cpu()
    low, high = geometry.param_range
    params = torch.linspace(low, high, resolution, dtype=torch.float64)
    curve_points = geometry.curve(params).to(torch.float64)
    if points.shape[0] == 0:
        return {"curve_distance": float("nan"), "curve_coverage": 0.0}
    nearest_distance = torch.empty(points.shape[0], dtype=torch.float64)
    nearest_index = torch.empty(points.shape[0], dtype=torch.int64)
    for start, block in distance_blocks(points, curve_points):
        values, indices = block.min(dim=1)
        nearest_distance[start : start + block.shape[0]] = values
        nearest_index[start : start + block.shape[0]] = indices
    close = nearest_distance <= tolerance
    mass = geometry.param_cdf(params[nearest_index[close]]).to(torch.float64)
    covered_bins = torch.floor(bins * mass).long().clamp(0, bins - 1).unique()
    return {
        "curve_distance": float(nearest_distance.mean()),
        "curve_coverage": covered_bins.numel() / bins,
    }


def evaluate_points(
    real: Tensor,
    fake: Tensor,
    geometry: ModeGeometry | CurveGeometry | None,
    *,
    k: int = 5,
    curve_tolerance: float = 0.05,
) -> dict[str, float | int]:
    """All point-set scores of `fake` against `real` as one flat JSON-ready dict.

    Always: `precision`, `recall`, `density`, `coverage` (prdc with k), `energy_distance`,
    `n_real`, `n_fake`, `k`. With a ModeGeometry also `modes_captured`, `n_modes`,
    `high_quality`, `mode_entropy`; with a CurveGeometry also `curve_distance`, `curve_coverage`.
    """
    real_points, fake_points = as_points(real), as_points(fake)
    scores: dict[str, float | int] = dict(prdc(real_points, fake_points, k=k))
    scores["energy_distance"] = energy_distance(real_points, fake_points)
    if isinstance(geometry, ModeGeometry):
        modes = mode_metrics(fake_points, geometry)
        scores.update({key: modes[key] for key in ("modes_captured", "n_modes", "high_quality", "mode_entropy")})
    elif isinstance(geometry, CurveGeometry):
        scores.update(curve_metrics(fake_points, geometry, tolerance=curve_tolerance))
    return scores
