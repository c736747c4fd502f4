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

Every objective is one record in ``OBJECTIVES`` (objectives/record.py): the built-ins register
themselves in losses.py and fgan.py; ``register_objective`` adds another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType

from torch import Tensor

from gankit.config.registry import Names
from gankit.errors import ConfigError
from gankit.objectives.derivatives import d_score_gradients, g_score_gradient
from gankit.objectives.fgan import (
    F_DIVERGENCES, f_activation, f_conjugate, f_conjugate_of_activation, f_gan_d_losses, f_gan_g_loss,
)
from gankit.objectives.losses import (
    bce_d_losses, bce_fake_term, bce_g_loss, bce_real_term, boundary_d_losses, boundary_fake_term, critic_g_loss,
    gradient_penalty, hinge_d_losses, lsgan_d_losses, lsgan_g_loss, smoothed_real_term, wgan_d_losses,
)
from gankit.objectives.ratio import log_density_ratio
from gankit.objectives.record import OBJECTIVES, ObjectiveRecord, register_objective

__all__ = [
    "F_DIVERGENCES", "GENERATOR_LOSSES", "NO_DENSITY_RATIO", "OBJECTIVES", "Objective", "ObjectiveRecord",
    "bce_d_losses", "bce_fake_term", "bce_g_loss", "bce_real_term", "boundary_d_losses", "boundary_fake_term",
    "build_objective", "critic_g_loss", "f_activation", "f_conjugate", "f_conjugate_of_activation", "f_gan_d_losses",
    "f_gan_g_loss", "gradient_penalty", "hinge_d_losses", "log_density_ratio", "lsgan_d_losses", "lsgan_g_loss",
    "register_objective", "smoothed_real_term", "wgan_d_losses",
]

GENERATOR_LOSSES: tuple[str, ...] = ("nonsaturating", "saturating")
_GENERATOR_LOSS_NAMES = Names("objective.generator_loss", "generator_loss", GENERATOR_LOSSES)
# The built-in objectives without a density-ratio estimate, and why.
NO_DENSITY_RATIO = MappingProxyType({name: record.ratio_text for name, record in OBJECTIVES.items()
                                     if record.density_ratio is None})


def _check_number(key: str, value: object, low: float, high: float, low_open: bool, high_open: bool) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ConfigError(f"{key} must be a number in {interval}, got {value!r}")


@dataclass(frozen=True)
class Objective:
    """An adversarial objective selected by name (a record of ``OBJECTIVES``), with its options validated."""

    name: str
    generator_loss: str = "nonsaturating"
    label_smoothing: float = 1.0
    gamma: float = 0.8
    gp_weight: float = 10.0

    def __post_init__(self) -> None:
        record = OBJECTIVES[self.name]  # ConfigError naming the objectives for an unknown name
        if self.generator_loss not in GENERATOR_LOSSES:
            raise ConfigError(_GENERATOR_LOSS_NAMES.unknown(self.generator_loss))
        if self.generator_loss == "saturating" and not record.saturating:
            saturating = [name for name, other in OBJECTIVES.items() if other.saturating]
            raise ConfigError(f"objective {self.name!r} has a single generator loss; "
                              f"generator_loss='saturating' applies to {', '.join(saturating)}")
        _check_number("label_smoothing", self.label_smoothing, 0.0, 1.0, True, False)
        _check_number("gamma", self.gamma, 0.0, 1.0, True, False)
        _check_number("gp_weight", self.gp_weight, 0.0, math.inf, False, True)

    @property
    def record(self) -> ObjectiveRecord:
        """This objective's record: its losses, derivatives, density ratio and flags."""
        return OBJECTIVES[self.name]

    @property
    def uses_gradient_penalty(self) -> bool:
        return self.record.gradient_penalty

    @property
    def has_density_ratio(self) -> bool:
        """Whether :meth:`log_density_ratio` has an estimate (not for hinge, wgan-gp, tv)."""
        return self.record.density_ratio is not None

    def d_losses(self, real_out: Tensor, fake_out: Tensor) -> tuple[Tensor, Tensor]:
        """(loss on real, loss on fake), each a scalar mean; D minimises their sum."""
        return self.record.d_losses(real_out, fake_out, self)

    def g_loss(self, fake_out: Tensor) -> Tensor:
        """The generator's loss on the discriminator's scores of generated samples."""
        return self.record.g_loss(fake_out, self)

    def d_score_gradients(self, real_out: Tensor, fake_out: Tensor) -> tuple[Tensor, Tensor]:
        """∂(sum of ``d_losses``)/∂ each score, in closed form (objectives/derivatives.py)."""
        return d_score_gradients(self, real_out, fake_out)

    def g_score_gradient(self, fake_out: Tensor) -> Tensor:
        """∂``g_loss``/∂ each score, in closed form (objectives/derivatives.py)."""
        return g_score_gradient(self, fake_out)

    def log_density_ratio(self, out: Tensor) -> Tensor:
        """log p_data/p_g implied by an optimal discriminator; raises ConfigError where none exists."""
        alternatives = tuple(name for name, record in OBJECTIVES.items() if record.density_ratio is not None)
        return log_density_ratio(self.record, out, self.gamma, self.label_smoothing, alternatives)


def build_objective(
    name: str,
    *,
    generator_loss: str = "nonsaturating",
    label_smoothing: float = 1.0,
    gamma: float = 0.8,
    gp_weight: float = 10.0,
) -> Objective:
    """The objective called ``name`` (one of ``OBJECTIVES``); ConfigError on bad names or values."""
    return Objective(name, generator_loss, label_smoothing, gamma, gp_weight)
