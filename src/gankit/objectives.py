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
2016; seed 001 uses t = 0.9) is defined the same way for every objective: a
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

import difflib
import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import ConfigError

OBJECTIVE_NAMES: tuple[str, ...] = (
    "bce", "lsgan", "hinge", "wgan-gp",
    "kl", "reverse_kl", "js", "pearson", "hellinger", "tv",
    "boundary",
)
F_DIVERGENCES: tuple[str, ...] = ("kl", "reverse_kl", "js", "pearson", "hellinger", "tv")
GENERATOR_LOSSES: tuple[str, ...] = ("nonsaturating", "saturating")
# Objectives whose generator loss has a minimax ("saturating") form distinct
# from the default one; lsgan, hinge and wgan-gp have a single generator loss.
_HAS_SATURATING_FORM = ("bce", "boundary", *F_DIVERGENCES)
_LOG2 = math.log(2.0)
_LOG4 = math.log(4.0)

ElementwiseLoss = Callable[[Tensor], Tensor]


def _flat(out: Tensor) -> Tensor:
    return out.reshape(-1)


def _mean_pair(real_terms: Tensor, fake_terms: Tensor) -> tuple[Tensor, Tensor]:
    return real_terms.mean(), fake_terms.mean()


def smoothed_real_term(
    real_loss: ElementwiseLoss, fake_loss: ElementwiseLoss, v: Tensor, label_smoothing: float
) -> Tensor:
    """One-sided label smoothing: t·ℓ_real(v) + (1 − t)·ℓ_fake(v), elementwise."""
    if label_smoothing == 1.0:
        return real_loss(v)
    t = label_smoothing
    return t * real_loss(v) + (1.0 - t) * fake_loss(v)


# --- minimax BCE (Goodfellow et al. 2014) -----------------------------------

def bce_real_term(v: Tensor) -> Tensor:
    """−log σ(v) = softplus(−v)."""
    return F.softplus(-v)


def bce_fake_term(v: Tensor) -> Tensor:
    """−log(1 − σ(v)) = softplus(v)."""
    return F.softplus(v)


def bce_d_losses(real_out: Tensor, fake_out: Tensor, label_smoothing: float = 1.0) -> tuple[Tensor, Tensor]:
    """D minimises E_P[−log σ(v)] + E_Q[−log(1 − σ(v))]; smoothing = BCE with target t."""
    v_r, v_f = _flat(real_out), _flat(fake_out)
    return _mean_pair(smoothed_real_term(bce_real_term, bce_fake_term, v_r, label_smoothing),
                      bce_fake_term(v_f))


def bce_g_loss(fake_out: Tensor, saturating: bool = False) -> Tensor:
    """Non-saturating: E_Q[−log σ(v)].
    Saturating (minimax): E_Q[log(1 − σ(v))] = −E_Q[softplus(v)]."""
    v = _flat(fake_out)
    return -F.softplus(v).mean() if saturating else F.softplus(-v).mean()


# --- least squares (Mao et al. 2017), targets a=0, b=1, c=1 ------------------

def lsgan_d_losses(real_out: Tensor, fake_out: Tensor, label_smoothing: float = 1.0) -> tuple[Tensor, Tensor]:
    """D minimises E_P[(v − 1)²] + E_Q[v²]; with smoothing the real term is (v − t)² + t(1 − t)."""
    v_r, v_f = _flat(real_out), _flat(fake_out)
    return _mean_pair(smoothed_real_term(lambda v: (v - 1.0) ** 2, torch.square, v_r, label_smoothing),
                      v_f ** 2)


def lsgan_g_loss(fake_out: Tensor) -> Tensor:
    """G minimises E_Q[(v − 1)²]."""
    return ((_flat(fake_out) - 1.0) ** 2).mean()


# --- hinge (Lim & Ye 2017; Miyato et al. 2018) --------------------------------

def hinge_d_losses(real_out: Tensor, fake_out: Tensor, label_smoothing: float = 1.0) -> tuple[Tensor, Tensor]:
    """D minimises E_P[relu(1 − v)] + E_Q[relu(1 + v)]."""
    v_r, v_f = _flat(real_out), _flat(fake_out)
    return _mean_pair(smoothed_real_term(lambda v: F.relu(1.0 - v), lambda v: F.relu(1.0 + v), v_r,
                                         label_smoothing),
                      F.relu(1.0 + v_f))


def critic_g_loss(fake_out: Tensor) -> Tensor:
    """G minimises E_Q[−v] (hinge and WGAN generator loss)."""
    return -_flat(fake_out).mean()


# --- WGAN-GP (Gulrajani et al. 2017) ------------------------------------------

def wgan_d_losses(real_out: Tensor, fake_out: Tensor, label_smoothing: float = 1.0) -> tuple[Tensor, Tensor]:
    """D minimises E_Q[v] − E_P[v]; the gradient penalty is added by the trainer."""
    v_r, v_f = _flat(real_out), _flat(fake_out)
    return _mean_pair(smoothed_real_term(torch.negative, lambda v: v, v_r, label_smoothing), v_f)


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP penalty E_x̂[(‖∇_x̂ D(x̂)‖₂ − 1)²] (not multiplied by λ).

    x̂ = α·real + (1 − α)·fake with one α ~ U(0, 1) per sample (shape (B, 1, …, 1),
    broadcast over all other dims), drawn from ``generator`` on ``real``'s device.
    The norm is over all non-batch dims; the graph is kept (create_graph=True) so
    the penalty can be backpropagated into the critic's parameters. ``real`` and
    ``fake`` are detached: the penalty trains the critic only.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} must have the same shape")
    alpha_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(alpha_shape, generator=generator, device=real.device, dtype=real.dtype)
    mixed = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    scores = critic(mixed)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    return ((grad.reshape(grad.shape[0], -1).norm(2, dim=1) - 1.0) ** 2).mean()


# --- f-GAN (Nowozin et al. 2016) ----------------------------------------------

def f_activation(name: str, v: Tensor) -> Tensor:
    """Output activation g_f(v), mapping ℝ into the domain of f*.

    kl: v · reverse_kl: −e^{−v} · js: log 2 − log(1 + e^{−v}) = log 2 + log σ(v) ·
    pearson: v · hellinger: 1 − e^{−v} · tv: ½ tanh v.
    """
    if name == "kl" or name == "pearson":
        return v
    if name == "reverse_kl":
        return -torch.exp(-v)
    if name == "js":
        return _LOG2 + F.logsigmoid(v)
    if name == "hellinger":
        return -torch.expm1(-v)
    if name == "tv":
        return 0.5 * torch.tanh(v)
    raise ConfigError(_unknown_message(name, F_DIVERGENCES, "f-divergence"))


def f_conjugate(name: str, t: Tensor) -> Tensor:
    """Fenchel conjugate f*(t), as in Nowozin et al. Table 2 (reference form, not stabilised).

    kl: e^{t−1} · reverse_kl: −1 − log(−t) · js: −log(2 − e^t) ·
    pearson: t²/4 + t · hellinger: t/(1 − t) · tv: t (for |t| ≤ ½).
    """
    if name == "kl":
        return torch.exp(t - 1.0)
    if name == "reverse_kl":
        return -1.0 - torch.log(-t)
    if name == "js":
        return -torch.log(2.0 - torch.exp(t))
    if name == "pearson":
        return t ** 2 / 4.0 + t
    if name == "hellinger":
        return t / (1.0 - t)
    if name == "tv":
        return t
    raise ConfigError(_unknown_message(name, F_DIVERGENCES, "f-divergence"))


def f_conjugate_of_activation(name: str, v: Tensor) -> Tensor:
    """f*(g_f(v)) in closed, numerically stable form.

    kl: e^{v−1} · reverse_kl: v − 1 · js: softplus(v) − log 2 ·
    pearson: v²/4 + v · hellinger: e^v − 1 · tv: ½ tanh v.
    """
    if name == "kl":
        return torch.exp(v - 1.0)
    if name == "reverse_kl":
        return v - 1.0
    if name == "js":
        return F.softplus(v) - _LOG2
    if name == "pearson":
        return v ** 2 / 4.0 + v
    if name == "hellinger":
        return torch.expm1(v)
    if name == "tv":
        return 0.5 * torch.tanh(v)
    raise ConfigError(_unknown_message(name, F_DIVERGENCES, "f-divergence"))


def f_gan_d_losses(name: str, real_out: Tensor, fake_out: Tensor,
                   label_smoothing: float = 1.0) -> tuple[Tensor, Tensor]:
    """D maximises the variational bound E_P[g_f(v)] − E_Q[f*(g_f(v))]:
    real loss −E_P[g_f(v)], fake loss E_Q[f*(g_f(v))].

    At the optimal critic −(real + fake) equals D_f(P‖Q) = ∫ q f(p/q). For ``js``
    (Nowozin's f(u) = u log u − (u + 1) log((u + 1)/2)) that is
    KL(P‖M) + KL(Q‖M) = 2·JSD(P, Q) with M = (P + Q)/2, in [0, 2 log 2].
    For ``tv`` (f(u) = ½|u − 1|) it is ½∫|p − q|, reached only as v → ±∞.
    """
    v_r, v_f = _flat(real_out), _flat(fake_out)
    real_term = smoothed_real_term(lambda v: -f_activation(name, v),
                                   lambda v: f_conjugate_of_activation(name, v), v_r, label_smoothing)
    return _mean_pair(real_term, f_conjugate_of_activation(name, v_f))


def f_gan_g_loss(name: str, fake_out: Tensor, saturating: bool = False) -> Tensor:
    """Non-saturating ("usual trick"): −E_Q[g_f(v)]. Saturating: −E_Q[f*(g_f(v))]."""
    v = _flat(fake_out)
    if saturating:
        return -f_conjugate_of_activation(name, v).mean()
    return -f_activation(name, v).mean()


# --- boundary objective (seed 000) --------------------------------------------

def boundary_fake_term(v: Tensor, gamma: float) -> Tensor:
    """−γ·log(1 − 4(D − ½)²) = −γ·(log 4 + log σ(v) + log σ(−v)), with D = σ(v)."""
    return -gamma * (_LOG4 + F.logsigmoid(v) + F.logsigmoid(-v))


def boundary_d_losses(real_out: Tensor, fake_out: Tensor, gamma: float = 0.8,
                      label_smoothing: float = 1.0) -> tuple[Tensor, Tensor]:
    """D minimises −E_P[log D] − γ·E_Q[log(4D(1 − D))]: real samples pushed to D = 1,
    fakes to the boundary D = ½. The generator uses the BCE generator loss."""
    v_r, v_f = _flat(real_out), _flat(fake_out)
    real_term = smoothed_real_term(bce_real_term, lambda v: boundary_fake_term(v, gamma), v_r,
                                   label_smoothing)
    return _mean_pair(real_term, boundary_fake_term(v_f, gamma))


# --- density ratio implied by the optimal critic ------------------------------

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
    reason = {
        "hinge": "its optimal critic is sign(p − q), which loses the ratio's size",
        "wgan-gp": "its optimal critic is a Kantorovich potential, not a function of p/q",
        "tv": "its optimal critic is ½·sign(p − q), which loses the ratio's size",
    }[name]
    raise ConfigError(f"objective {name!r} has no density-ratio estimate ({reason}); "
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


# --- the objective the trainer uses -------------------------------------------

def _unknown_message(name: object, choices: tuple[str, ...], what: str) -> str:
    close = difflib.get_close_matches(str(name), choices, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {name!r}.{hint} Choose one of: {', '.join(choices)}."


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
