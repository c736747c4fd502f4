"""The adversarial step for plain MLPs with hand-written gradients instead of autograd.

When G and D are both plain chains of Linears, (Leaky)ReLUs and dropout (``plain_chain()``:
no batch norm, spectral norm or minibatch std) the step's passes need no autograd graph:
``chain_forward`` keeps each layer's activations and ``chain_backward`` (models/fused.py)
applies the chain rule layer by layer, from the objective's closed-form derivatives with
respect to the scores (objectives/derivatives.py). The network operations are those autograd
runs through ``mlp_chain``; only the scores' derivatives are computed by formula instead of
autograd (equal to ~1e-7 relative in float32), so a run matches the autograd step to float
rounding (tests/test_manual_mlp.py).

It is used for one process on one device, without autocast, ``torch.compile`` or a gradient
penalty (which needs second derivatives), and without hooks on the networks or their layers
(checked when the step first sees the networks); everything else takes the autograd step. Measured
in BENCHMARKS.md ("Training speed and distributed"): autograd's bookkeeping (recording, engine, gradient accumulation,
the losses' small graphs) was ~a quarter of a ring8 step of 128-wide layers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import torch
from torch import Tensor

from gankit.models.fused import chain_backward, chain_forward, chain_parameters
from gankit.models.mlp import has_layer_hooks
from gankit.training.types import AdversarialModels, EMAPairs, ManualChain, ManualChains, Prepared

if TYPE_CHECKING:
    from gankit.config import TrainConfig
    from gankit.objectives import Objective


class StepParts(Protocol):
    """What the manual step uses of the autograd step (``AdversarialStep``, training/step.py):
    its networks and objective, its latent draws, G's gradient norm, the EMA update and the
    statistics row, so that both steps draw, update and log alike."""

    models: AdversarialModels
    objective: Objective
    pack: int
    zero: Tensor

    def latents(self) -> Tensor: ...

    def gradient_norm(self, g_params: list[Tensor]) -> Tensor: ...

    def update_ema(self, generator_steps: int, pairs: EMAPairs | None) -> None: ...

    def row(self, losses: tuple[Tensor, ...], scores: Tensor, with_generator_step: bool,
            grad_norm: Tensor) -> Tensor: ...


def plain_chains(models: AdversarialModels, objective: Objective, train_config: TrainConfig) -> ManualChains | None:
    """G's and D's chains when the step can run by hand, else None."""
    chains = []
    for net, wrapped in ((models.generator, models.generator_train),
                         (models.discriminator, models.discriminator_train)):
        spec = net.plain_chain() if hasattr(net, "plain_chain") and wrapped is None else None
        if spec is None or has_layer_hooks(list(net.modules())):  # hooks need the modules called
            return None
        params = chain_parameters(spec.linears)
        own = list(net.parameters())
        if len(own) != len(params) or any(a is not b or not a.requires_grad for a, b in zip(own, params)):
            return None
        chains.append(ManualChain(net, params, spec.slope, spec.output, spec.dropout))
    if objective.uses_gradient_penalty or getattr(train_config, "autocast", "none") != "none":
        return None
    return ManualChains(*chains)


def _set_grads(params: list[Tensor], grads: list[Tensor | None]) -> None:
    for param, grad in zip(params, grads):
        param.grad = grad


def _forward(chain: ManualChain, x: Tensor) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    return chain_forward(x, chain.params, chain.slope, chain.output, chain.dropout if chain.net.training else 0.0)


def _backward(chain: ManualChain, grad: Tensor, x: Tensor, y: Tensor, hidden: list[Tensor], noises: list[Tensor],
              **wanted) -> tuple[Tensor | None, list[Tensor | None]]:
    return chain_backward(grad, x, y, hidden, chain.params, chain.slope, chain.output, noises=noises, **wanted)


@torch.no_grad()
def manual_step(step: StepParts, prepared: Prepared, real: Tensor, with_generator_step: bool,
                generator_steps: int) -> Tensor:
    """``AdversarialStep.__call__`` for plain MLPs, by hand (same draws, updates and row);
    ``prepared`` is the step's ``Prepared`` with its ``chains``."""
    m, objective = step.models, step.objective
    g_chain, d_chain = prepared.chains.generator, prepared.chains.discriminator
    batch = real.shape[0]
    z = step.latents()
    fake, g_hidden, g_noises = _forward(g_chain, z)
    d_in = m.discriminator.pack_rows(torch.cat([real.reshape(batch, -1), fake]))
    d_out, d_hidden, d_noises = _forward(d_chain, d_in)
    scores = d_out.squeeze(1)
    half = batch // step.pack
    loss_real, loss_fake = objective.d_losses(scores[:half], scores[half:])
    grad = torch.cat(objective.d_score_gradients(scores[:half], scores[half:]))
    _, d_grads = _backward(d_chain, grad.unsqueeze(1), d_in, d_out, d_hidden, d_noises)
    _set_grads(d_chain.params, d_grads)
    prepared.d_step()

    g_loss = grad_norm = step.zero
    if with_generator_step:
        fake_rows = m.discriminator.pack_rows(fake)
        d_out, d_hidden, d_noises = _forward(d_chain, fake_rows)
        g_loss = objective.g_loss(d_out.squeeze(1))
        grad = objective.g_score_gradient(d_out.squeeze(1))
        grad_rows, _ = _backward(d_chain, grad.unsqueeze(1), fake_rows, d_out, d_hidden, d_noises,
                                 want_params=False, want_x=True)
        _, g_grads = _backward(g_chain, grad_rows.view(fake.shape), z, fake, g_hidden, g_noises)
        _set_grads(g_chain.params, g_grads)
        grad_norm = step.gradient_norm(g_chain.params)
        prepared.g_step()
        step.update_ema(generator_steps, prepared.ema)
    return step.row((loss_real, loss_fake, g_loss), scores, with_generator_step, grad_norm)
