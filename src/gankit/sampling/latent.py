"""Latent codes z for the generator: standard normal, uniform, and the truncated
normal of the truncation trick (BigGAN, Brock et al. 2019)."""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import ConfigError

LATENT_DISTRIBUTIONS = ("normal", "uniform")


def sample_latent(n: int, dim: int, distribution: str = "normal", *,
                  generator: torch.Generator, device: torch.device | str | None = None,
                  truncation: float | None = None) -> Tensor:
    """Draw n latent codes of size dim, float32, shape (n, dim).

    normal: z ~ N(0, I). uniform: z ~ U(-1, 1)^dim. truncation τ (normal only):
    every component with |z| > τ is redrawn from N(0, 1) until it lies in [-τ, τ],
    which gives the normal truncated to [-τ, τ] (not clipped: no mass piles up at
    ±τ). Small τ trades diversity for fidelity; very small τ needs many redraws
    (about 1/P(|z| <= τ) each).

    The numbers are drawn on the generator's device, so one seed gives the same z
    on every device; the result is then moved to `device` (default: the
    generator's device).
    """
    if distribution not in LATENT_DISTRIBUTIONS:
        raise ConfigError(f"unknown latent distribution {distribution!r}: "
                          f"use one of {', '.join(LATENT_DISTRIBUTIONS)}")
    if n < 0 or dim < 1:
        raise ConfigError(f"need n >= 0 latent codes of size dim >= 1, got n={n}, dim={dim}")
    source = generator.device
    if distribution == "uniform":
        if truncation is not None:
            raise ConfigError("truncation applies to the normal latent distribution only")
        z = torch.rand(n, dim, generator=generator, device=source) * 2 - 1
    else:
        z = torch.randn(n, dim, generator=generator, device=source)
        if truncation is not None:
            if not truncation > 0:
                raise ConfigError(f"truncation must be > 0 (or unset), got {truncation}")
            outside = z.abs() > truncation
            while outside.any():
                z[outside] = torch.randn(int(outside.sum()), generator=generator, device=source)
                outside = z.abs() > truncation
    return z if device is None else z.to(device)
