"""Discriminator and generator losses: minimax BCE, LSGAN, hinge, WGAN-GP, boundary.

Each is a small pure function of the discriminator's raw outputs with its formula in
the docstring; one-sided label smoothing is applied the same way to every one of
them (see ``gankit.objectives``). Each objective's section ends with its record
(objectives/record.py): the losses, their derivatives (table in derivatives.py) and the
density ratio its optimal discriminator implies.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.objectives.derivatives import constant, negated, sigmoid, sigmoid_minus_one
from gankit.objectives.ratio import safe_log
from gankit.objectives.record import ObjectiveRecord, register_objective

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


register_objective(ObjectiveRecord(
    "bce", lambda real, fake, o: bce_d_losses(real, fake, o.label_smoothing),
    lambda fake, o: bce_g_loss(fake, o.generator_loss == "saturating"),
    d_terms=(sigmoid_minus_one, sigmoid), g_term=sigmoid_minus_one,
    saturating=True, g_saturating_term=negated(sigmoid),
    density_ratio=lambda v, gamma: v,  # D* = σ(v) = p/(p + q)
    ratio_text="logit of the BCE discriminator: D̃ = v", logit=True,
))


# --- least squares (Mao et al. 2017), targets a=0, b=1, c=1 ------------------

def lsgan_d_losses(real_out: Tensor, fake_out: Tensor, label_smoothing: float = 1.0) -> tuple[Tensor, Tensor]:
    """D minimises E_P[(v − 1)²] + E_Q[v²]; with smoothing the real term is (v − t)² + t(1 − t)."""
    v_r, v_f = _flat(real_out), _flat(fake_out)
    return _mean_pair(smoothed_real_term(lambda v: (v - 1.0) ** 2, torch.square, v_r, label_smoothing),
                      v_f ** 2)


def lsgan_g_loss(fake_out: Tensor) -> Tensor:
    """G minimises E_Q[(v − 1)²]."""
    return ((_flat(fake_out) - 1.0) ** 2).mean()


def _lsgan_real_term(v: Tensor, gamma: float) -> Tensor:
    return 2.0 * (v - 1.0)


def _lsgan_log_ratio(v: Tensor, gamma: float) -> Tensor:
    """log v − log(1 − v): D* = a/(a + b)."""
    return safe_log(v) - safe_log(1.0 - v)


register_objective(ObjectiveRecord(
    "lsgan", lambda real, fake, o: lsgan_d_losses(real, fake, o.label_smoothing),
    lambda fake, o: lsgan_g_loss(fake),
    d_terms=(_lsgan_real_term, lambda v, gamma: 2.0 * v), g_term=_lsgan_real_term,
    density_ratio=_lsgan_log_ratio,
    ratio_text="LSGAN: log D − log(1 − D), D the least-squares critic (optimum p/(p + q))",
))


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


register_objective(ObjectiveRecord(
    "hinge", lambda real, fake, o: hinge_d_losses(real, fake, o.label_smoothing),
    lambda fake, o: critic_g_loss(fake),
    d_terms=(lambda v, gamma: -(v < 1.0).to(v.dtype), lambda v, gamma: (v > -1.0).to(v.dtype)),
    g_term=constant(-1.0),
    density_ratio=None, ratio_text="its optimal critic is sign(p − q), which loses the ratio's size",
))


# --- WGAN-GP (Gulrajani et al. 2017) ------------------------------------------

def wgan_d_losses(real_out: Tensor, fake_out: Tensor, label_smoothing: float = 1.0) -> tuple[Tensor, Tensor]:
    """D minimises E_Q[v] − E_P[v]; the gradient penalty is added by the trainer."""
    v_r, v_f = _flat(real_out), _flat(fake_out)
    return _mean_pair(smoothed_real_term(torch.negative, lambda v: v, v_r, label_smoothing), v_f)


register_objective(ObjectiveRecord(
    "wgan-gp", lambda real, fake, o: wgan_d_losses(real, fake, o.label_smoothing),
    lambda fake, o: critic_g_loss(fake),
    d_terms=(constant(-1.0), constant(1.0)), g_term=constant(-1.0),
    density_ratio=None, ratio_text="its optimal critic is a Kantorovich potential, not a function of p/q",
    gradient_penalty=True,
))


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    generator: torch.Generator | None = None,
    alpha: Tensor | None = None,
) -> Tensor:
    """WGAN-GP penalty E_x̂[(‖∇_x̂ D(x̂)‖₂ − 1)²] (not multiplied by λ).

    x̂ = α·real + (1 − α)·fake with one α ~ U(0, 1) per sample (shape (B, 1, …, 1),
    broadcast over all other dims), drawn from ``generator`` on ``real``'s device.
    The norm is over all non-batch dims; the graph is kept (create_graph=True) so
    the penalty can be backpropagated into the critic's parameters. ``real`` and
    ``fake`` are detached: the penalty trains the critic only. A given ``alpha`` (shape
    (B, 1, …, 1)) is used instead of a draw: a DDP rank passes its rows of the global draw.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} must have the same shape")
    if alpha is None:
        alpha_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        alpha = torch.rand(alpha_shape, generator=generator, device=real.device, dtype=real.dtype)
    mixed = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    scores = critic(mixed)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    return ((grad.reshape(grad.shape[0], -1).norm(2, dim=1) - 1.0) ** 2).mean()


# --- boundary objective (the lung-cell boundary-loss study) --------------------------------------------

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


def _boundary_log_ratio(v: Tensor, gamma: float) -> Tensor:
    """D* = (a + γb)/(a + 2γb), so a/b = γ(e^v − 1)."""
    positive = v.clamp_min(torch.finfo(v.dtype).tiny)
    return math.log(gamma) + positive + safe_log(-torch.expm1(-positive))


register_objective(ObjectiveRecord(
    "boundary", lambda real, fake, o: boundary_d_losses(real, fake, o.gamma, o.label_smoothing),
    lambda fake, o: bce_g_loss(fake, o.generator_loss == "saturating"),
    d_terms=(sigmoid_minus_one, lambda v, gamma: gamma * (2.0 * torch.sigmoid(v) - 1.0)),
    g_term=sigmoid_minus_one,  # BCE's generator loss
    saturating=True, g_saturating_term=negated(sigmoid),
    density_ratio=_boundary_log_ratio,
    ratio_text="boundary objective: D̃ = log γ + log(e^v − 1), from D* = (p + γq)/(p + 2γq)", logit=True,
))
