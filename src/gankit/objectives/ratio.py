"""The density ratio p_data/p_g implied by an objective's optimal discriminator (for DRS)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gankit.errors import ConfigError
from gankit.objectives.losses import _flat


# Objectives whose optimal critic loses p/q, and why (the others all have an estimate).
NO_DENSITY_RATIO: dict[str, str] = {
    "hinge": "its optimal critic is sign(p − q), which loses the ratio's size",
    "wgan-gp": "its optimal critic is a Kantorovich potential, not a function of p/q",
    "tv": "its optimal critic is ½·sign(p − q), which loses the ratio's size",
}


def _safe_log(x: Tensor) -> Tensor:
    return torch.log(x.clamp_min(torch.finfo(x.dtype).tiny))


def _weight_log_ratio(name: str, v: Tensor, gamma: float) -> Tensor:
    """log(a/b) where v minimises a·ℓ_real(v) + b·ℓ_fake(v) pointwise (a = p, b = q unsmoothed).

    bce, js, reverse_kl: v · kl: v − 1 · hellinger: 2v · pearson: log(1 + v/2) ·
    lsgan: log v − log(1 − v) (D* = a/(a + b)) ·
    boundary: D* = (a + γb)/(a + 2γb), so a/b = γ(e^v − 1).
    Outside the range an optimal critic can take the estimate is clamped to a
    large finite value.
    """
    if name in ("bce", "js", "reverse_kl"):
        return v
    if name == "kl":
        return v - 1.0
    if name == "hellinger":
        return 2.0 * v
    if name == "pearson":
        return _safe_log(1.0 + v / 2.0)
    if name == "lsgan":
        return _safe_log(v) - _safe_log(1.0 - v)
    if name == "boundary":
        positive = v.clamp_min(torch.finfo(v.dtype).tiny)
        return math.log(gamma) + positive + _safe_log(-torch.expm1(-positive))
    raise ConfigError(f"objective {name!r} has no density-ratio estimate ({NO_DENSITY_RATIO[name]}); "
                      "use bce, lsgan, boundary or an f-divergence other than tv "
                      "for discriminator rejection sampling")


def log_density_ratio(name: str, out: Tensor, gamma: float = 0.8, label_smoothing: float = 1.0) -> Tensor:
    """Estimate of log p_data(x)/p_g(x) from the optimal discriminator's raw output.

    Undoes one-sided label smoothing: with s the weight ratio seen by the critic,
    r = s / (t − (1 − t)·s).
    """
    log_s = _weight_log_ratio(name, _flat(out), gamma)
    if label_smoothing == 1.0:
        return log_s
    t = label_smoothing
    return log_s - _safe_log(t - (1.0 - t) * torch.exp(log_s))
