"""The density ratio p_data/p_g implied by an objective's optimal discriminator (for DRS).

Each objective's record gives ``density_ratio(v, γ)``: log(a/b) where v minimises
a·ℓ_real(v) + b·ℓ_fake(v) pointwise (a = p, b = q unsmoothed), clamped to a large finite
value outside the range an optimal critic can take; or None, with the reason in its
``ratio_text``. This module undoes one-sided label smoothing on top of it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import ConfigError


def safe_log(x: Tensor) -> Tensor:
    """log x, with x clamped at the smallest positive normal number of its dtype."""
    return torch.log(x.clamp_min(torch.finfo(x.dtype).tiny))


def log_density_ratio(record, out: Tensor, gamma: float = 0.8, label_smoothing: float = 1.0,
                      alternatives: tuple[str, ...] = ()) -> Tensor:
    """Estimate of log p_data(x)/p_g(x) from the optimal discriminator's raw output, by the
    objective ``record``; ConfigError (naming ``alternatives``) for one without an estimate.

    Undoes one-sided label smoothing: with s the weight ratio seen by the critic,
    r = s / (t − (1 − t)·s).
    """
    if record.density_ratio is None:
        raise ConfigError(f"objective {record.name!r} has no density-ratio estimate ({record.ratio_text}); "
                          f"use {', '.join(alternatives)} for discriminator rejection sampling")
    log_s = record.density_ratio(out.reshape(-1), gamma)
    if label_smoothing == 1.0:
        return log_s
    t = label_smoothing
    return log_s - safe_log(t - (1.0 - t) * torch.exp(log_s))
