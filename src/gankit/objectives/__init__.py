"""Adversarial objectives as pure functions of discriminator outputs.

The discriminator always outputs a raw real-valued score ``v`` per (packed)
sample: a logit for ``bce`` and ``boundary``, the critic value for ``lsgan``,
``hinge`` and ``wgan-gp``, the pre-activation of the f-GAN output activation
``g_f`` for the f-divergences. Outputs of shape (B,) or (B, 1) are flattened,
and real and fake batches may differ in length (a PacGAN discriminator outputs
B/m scores).

Every objective is a pair of elementwise losses: ``ℓ_real(v)`` on real data and
``ℓ_fake(v)`` on generated data; the discriminator minimises
``E_P[ℓ_real(v)] + E_Q[ℓ_fake(v)]`` (P data, Q generator). The generator loss
is a separate function of the fake scores.

One-sided label smoothing with real target ``t`` in (0, 1] (Salimans et al.
2016; the Keras MNIST DCGAN tutorial uses t = 0.9) is defined the same way for every objective: a
real sample counts as real with weight t and as fake with weight 1 − t,

    ℓ_real^t(v) = t·ℓ_real(v) + (1 − t)·ℓ_fake(v).

For ``bce`` this is exactly binary cross-entropy with target t:
t·softplus(−v) + (1−t)·softplus(v) = −t log σ(v) − (1−t) log(1−σ(v)).
For ``lsgan`` it is (v − t)² plus the constant t(1 − t):
t(v−1)² + (1−t)v² = v² − 2tv + t = (v − t)² + t(1 − t).
Generated samples are never smoothed (one-sided).

Because the loss is then the unsmoothed one for the measures tP and
(1 − t)P + Q, the optimal critic sees the weight ratio s = t·r / ((1 − t)·r + 1)
instead of r = p/q; :meth:`Objective.log_density_ratio` inverts this,
r = s / (t − (1 − t)·s), so its estimate of log p/q holds with smoothing on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType

from torch import Tensor

from gankit.errors import ConfigError
from gankit.objectives.derivatives import d_score_gradients, g_score_gradient
from gankit.objectives.fgan import (
    F_DIVERGENCES, _unknown_message, f_activation, f_conjugate, f_conjugate_of_activation, f_gan_d_losses,
    f_gan_g_loss,
)
from gankit.objectives.losses import (
    bce_d_losses, bce_fake_term, bce_g_loss, bce_real_term, boundary_d_losses, boundary_fake_term, critic_g_loss,
    gradient_penalty, hinge_d_losses, lsgan_d_losses, lsgan_g_loss, smoothed_real_term, wgan_d_losses,
)
from gankit.objectives.ratio import NO_DENSITY_RATIO, log_density_ratio

__all__ = [
    "F_DIVERGENCES", "GENERATOR_LOSSES", "OBJECTIVE_NAMES", "Objective", "bce_d_losses", "bce_fake_term",
    "bce_g_loss", "bce_real_term", "boundary_d_losses", "boundary_fake_term", "build_objective", "critic_g_loss",
    "f_activation", "f_conjugate", "f_conjugate_of_activation", "f_gan_d_losses", "f_gan_g_loss",
    "gradient_penalty", "hinge_d_losses", "log_density_ratio", "lsgan_d_losses", "lsgan_g_loss",
    "smoothed_real_term", "wgan_d_losses",
]

OBJECTIVE_NAMES: tuple[str, ...] = (
    "bce", "lsgan", "hinge", "wgan-gp",
    "kl", "reverse_kl", "js", "pearson", "hellinger", "tv",
    "boundary",
)
GENERATOR_LOSSES: tuple[str, ...] = ("nonsaturating", "saturating")
# Objectives whose generator loss has a minimax ("saturating") form distinct
# from the default one; lsgan, hinge and wgan-gp have a single generator loss.
_HAS_SATURATING_FORM = ("bce", "boundary", *F_DIVERGENCES)


def _check_number(key: str, value: object, low: float, high: float, low_open: bool, high_open: bool) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ConfigError(f"{key} must be a number in {interval}, got {value!r}")


@dataclass(frozen=True)
class Objective:
    """An adversarial objective selected by name, with its options validated."""

    name: str
    generator_loss: str = "nonsaturating"
    label_smoothing: float = 1.0
    gamma: float = 0.8
    gp_weight: float = 10.0

    def __post_init__(self) -> None:
        if self.name not in OBJECTIVE_NAMES:
            raise ConfigError(_unknown_message(self.name, OBJECTIVE_NAMES, "objective"))
        if self.generator_loss not in GENERATOR_LOSSES:
            raise ConfigError(_unknown_message(self.generator_loss, GENERATOR_LOSSES, "generator_loss"))
        if self.generator_loss == "saturating" and self.name not in _HAS_SATURATING_FORM:
            raise ConfigError(f"objective {self.name!r} has a single generator loss; "
                              f"generator_loss='saturating' applies to {', '.join(_HAS_SATURATING_FORM)}")
        _check_number("label_smoothing", self.label_smoothing, 0.0, 1.0, True, False)
        _check_number("gamma", self.gamma, 0.0, 1.0, True, False)
        _check_number("gp_weight", self.gp_weight, 0.0, math.inf, False, True)

    @property
    def uses_gradient_penalty(self) -> bool:
        return self.name == "wgan-gp"

    @property
    def has_density_ratio(self) -> bool:
        """Whether :meth:`log_density_ratio` has an estimate (not for hinge, wgan-gp, tv)."""
        return self.name not in NO_DENSITY_RATIO

    def d_losses(self, real_out: Tensor, fake_out: Tensor) -> tuple[Tensor, Tensor]:
        """(loss on real, loss on fake), each a scalar mean; D minimises their sum."""
        t = self.label_smoothing
        if self.name in F_DIVERGENCES:
            return f_gan_d_losses(self.name, real_out, fake_out, t)
        if self.name == "boundary":
            return boundary_d_losses(real_out, fake_out, self.gamma, t)
        return _D_LOSSES[self.name](real_out, fake_out, t)

    def g_loss(self, fake_out: Tensor) -> Tensor:
        """The generator's loss on the discriminator's scores of generated samples."""
        saturating = self.generator_loss == "saturating"
        if self.name in F_DIVERGENCES:
            return f_gan_g_loss(self.name, fake_out, saturating)
        if self.name in ("bce", "boundary"):
            return bce_g_loss(fake_out, saturating)
        if self.name == "lsgan":
            return lsgan_g_loss(fake_out)
        return critic_g_loss(fake_out)

    def d_score_gradients(self, real_out: Tensor, fake_out: Tensor) -> tuple[Tensor, Tensor]:
        """∂(sum of ``d_losses``)/∂ each score, in closed form (objectives/derivatives.py)."""
        return d_score_gradients(self, real_out, fake_out)

    def g_score_gradient(self, fake_out: Tensor) -> Tensor:
        """∂``g_loss``/∂ each score, in closed form (objectives/derivatives.py)."""
        return g_score_gradient(self, fake_out)

    def log_density_ratio(self, out: Tensor) -> Tensor:
        """log p_data/p_g implied by an optimal discriminator; raises ConfigError where none exists."""
        return log_density_ratio(self.name, out, self.gamma, self.label_smoothing)


_D_LOSSES = MappingProxyType({
    "bce": bce_d_losses,
    "lsgan": lsgan_d_losses,
    "hinge": hinge_d_losses,
    "wgan-gp": wgan_d_losses,
})


def build_objective(
    name: str,
    *,
    generator_loss: str = "nonsaturating",
    label_smoothing: float = 1.0,
    gamma: float = 0.8,
    gp_weight: float = 10.0,
) -> Objective:
    """The objective called ``name`` (one of OBJECTIVE_NAMES); ConfigError on bad names or values."""
    return Objective(name, generator_loss, label_smoothing, gamma, gp_weight)
