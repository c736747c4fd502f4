"""Closed-form derivatives of every objective's losses with respect to D's raw scores v.

Each loss is a mean of a per-sample term ℓ(v), so ∂loss/∂vᵢ = ℓ′(vᵢ)/n. The hand-written
MLP step (training/manual_mlp.py) uses these instead of differentiating the losses with
autograd, which on a few hundred scores is all bookkeeping. Each objective's record holds its
terms' derivatives (``d_terms``, ``g_term``, ``g_saturating_term``); tested against autograd for
every objective, generator loss and label smoothing, at ordinary and extreme scores
(tests/test_objectives_derivatives.py). With σ = sigmoid(v), the built-ins' terms
(losses.py/fgan.py):

    objective   real term ℓ_r′          fake term ℓ_f′          G term (non-saturating)
    bce         σ − 1                   σ                       σ − 1
    lsgan       2(v − 1)                2v                      2(v − 1)
    hinge       −[v < 1]                [v > −1]                −1
    wgan-gp     −1                      1                       −1
    boundary    σ − 1                   γ(2σ − 1)               σ − 1 (BCE's)
    kl          −1                      e^{v−1}                 = ℓ_r′
    reverse_kl  −e^{−v}                 1                       = ℓ_r′
    js          σ − 1                   σ                       = ℓ_r′
    pearson     −1                      v/2 + 1                 = ℓ_r′
    hellinger   −e^{−v}                 e^{v}                   = ℓ_r′
    tv          −½(1 − tanh² v)         ½(1 − tanh² v)          = ℓ_r′

The saturating G term is −ℓ_f′ (for boundary, −σ: BCE's fake term). One-sided label
smoothing t makes the real term t·ℓ_r + (1 − t)·ℓ_f, so its derivative mixes the same way.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.objectives.record import Derivative


def constant(value: float) -> Derivative:
    """ℓ′ = ``value`` everywhere."""
    return lambda v, gamma: torch.full_like(v, value)


def sigmoid_minus_one(v: Tensor, gamma: float) -> Tensor:
    return torch.sigmoid(v) - 1.0


def sigmoid(v: Tensor, gamma: float) -> Tensor:
    return torch.sigmoid(v)


def half_sech2(v: Tensor, gamma: float) -> Tensor:
    return 0.5 * (1.0 - torch.tanh(v).square())


def negated(term: Derivative) -> Derivative:
    """−ℓ′: a saturating G term is minus D's fake term."""
    return lambda v, gamma: -term(v, gamma)


def d_score_gradients(objective, real_out: Tensor, fake_out: Tensor) -> tuple[Tensor, Tensor]:
    """(∂L_D/∂v_real, ∂L_D/∂v_fake) of ``objective.d_losses`` (the gradient penalty not included),
    shaped like the scores."""
    real_term, fake_term = objective.record.d_terms
    gamma, t = objective.gamma, objective.label_smoothing
    grad_real = real_term(real_out, gamma)
    if t != 1.0:
        grad_real = t * grad_real + (1.0 - t) * fake_term(real_out, gamma)
    return grad_real / real_out.numel(), fake_term(fake_out, gamma) / fake_out.numel()


def g_score_gradient(objective, fake_out: Tensor) -> Tensor:
    """∂L_G/∂v of ``objective.g_loss``, shaped like the scores."""
    record = objective.record
    term = record.g_saturating_term if objective.generator_loss == "saturating" else record.g_term
    return term(fake_out, objective.gamma) / fake_out.numel()
