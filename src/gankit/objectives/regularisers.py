"""Regularisers added to any objective: R1 and LeCam for D (small data), mode seeking for G.

R1 and LeCam are added to the discriminator's loss; mode seeking to the generator's.

R1 (Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?"):
    R1 = E_x[‖∇_x D(x)‖²] on real data, added as (γ/2)·R1.
A zero-centred penalty: at the equilibrium D is flat on the data. With a lazy interval k
(Karras et al. 2020, StyleGAN2) it is computed every k-th step and weighted by k, which
keeps its expected strength and costs 1/k of the double backward.

LeCam (Tseng et al. 2021, "Regularizing Generative Adversarial Networks under Limited
Data"):
    R_LC = E_x[(D(x) − α_F)²] + E_z[(D(G(z)) − α_R)²],
where α_R and α_F are exponential moving averages (decay 0.99) of D's mean output on real
and on generated data. It keeps D's outputs on the two sides from drifting apart, which
bounds a weighted LeCam divergence between the distributions; added as λ·R_LC.

Mode seeking (Mao et al. 2019, "Mode Seeking Generative Adversarial Networks for Diverse
Image Synthesis"): for pairs of latents (z₁, z₂) — of the same class in a conditional GAN —
    L_ms = 1 / (d_I + ε),   d_I = mean|G(z₁) − G(z₂)| / mean|z₁ − z₂|,   ε = 1e-5,
added to G's loss as λ·L_ms. Minimising it maximises how far apart two latents' images
are per unit of latent distance, which fights a generator that ignores z. The batch's
first half is paired with its second half, so it costs no extra forward pass.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor


def r1_penalty(discriminator: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """E_x[‖∇_x D(x)‖²] over the batch ``real`` (not multiplied by γ/2); the graph is kept
    (create_graph=True) so the penalty trains D. ``real`` is detached first."""
    inputs = real.detach().requires_grad_(True)
    scores = discriminator(inputs)
    (grad,) = torch.autograd.grad(scores.sum(), inputs, create_graph=True)
    if grad.dtype in (torch.float16, torch.bfloat16):  # under autocast: sum the squares in float32
        grad = grad.float()
    return grad.pow(2).reshape(grad.shape[0], -1).sum(dim=1).mean()


MODE_SEEKING_EPS = 1e-5


def mode_seeking(fake: Tensor, z: Tensor) -> Tensor:
    """L_ms = 1 / (mean|G(z₁)−G(z₂)| / mean|z₁−z₂| + ε) with row i of the first half of
    ``fake``/``z`` paired with row i of the second half (an odd last row is left out)."""
    half = fake.shape[0] // 2
    if half == 0:
        raise ValueError("mode seeking needs at least two samples in the batch")
    image_gap = (fake[:half].float() - fake[half:2 * half].float()).abs().mean()
    latent_gap = (z[:half].float() - z[half:2 * half].float()).abs().mean()
    return 1.0 / (image_gap / latent_gap + MODE_SEEKING_EPS)


def paired_labels(labels: Tensor) -> Tensor:
    """Class labels for a fake batch whose second half repeats the first half's classes, so
    that mode seeking compares two latents of one class: [l₁..l_h, l₁..l_h(, l_B)]."""
    half = labels.shape[0] // 2
    return torch.cat([labels[:half], labels[:half], labels[2 * half:]])


class LeCam:
    """The LeCam regulariser with its two moving averages (saved in checkpoints)."""

    def __init__(self, decay: float = 0.99, device: torch.device | str = "cpu"):
        self.decay = decay
        self.real_mean = torch.zeros((), device=device)  # α_R
        self.fake_mean = torch.zeros((), device=device)  # α_F

    def __call__(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        """R_LC for this batch, after moving α_R and α_F toward this batch's means."""
        with torch.no_grad():
            self.real_mean.lerp_(real_out.detach().float().mean(), 1.0 - self.decay)
            self.fake_mean.lerp_(fake_out.detach().float().mean(), 1.0 - self.decay)
        return (real_out.float() - self.fake_mean).pow(2).mean() + (fake_out.float() - self.real_mean).pow(2).mean()

    def state_dict(self) -> dict[str, Any]:
        return {"real_mean": self.real_mean.detach().cpu().clone(), "fake_mean": self.fake_mean.detach().cpu().clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.real_mean.copy_(state["real_mean"])
        self.fake_mean.copy_(state["fake_mean"])
