"""The adversarial step for plain MLPs with hand-written gradients instead of autograd.

When G and D are both plain chains of Linears and (Leaky)ReLUs (``plain_chain()``: no batch
norm, dropout, spectral norm or minibatch std) the step's passes need no autograd graph:
``chain_forward`` keeps each layer's activations and ``chain_backward`` (models/fused.py)
applies the chain rule layer by layer. Only the objective is differentiated by autograd,
on the discriminator's scores alone (a few hundred numbers), so every objective works
unchanged. The operations are those autograd runs through ``mlp_chain``, so parameters,
losses and statistics are bitwise those of the autograd step (tests/test_manual_mlp.py).

It is used for one process on one device, without autocast, ``torch.compile`` or a gradient
penalty (which needs second derivatives); everything else takes the autograd step. Measured
in BENCHMARKS.md (issue 8): the ring8 step went from 2.46 to ~1.9 ms at one thread, the
graph's bookkeeping (recording, engine, gradient accumulation) being ~a quarter of a step of
128-wide layers.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.models.fused import chain_backward, chain_forward, chain_parameters


def plain_chains(models, objective, train_config) -> tuple | None:
    """((G params, slope, output), (D params, slope, output)) when the step can run by hand."""
    chains = []
    for net, wrapped in ((models.generator, models.generator_train),
                         (models.discriminator, models.discriminator_train)):
        chain = net.plain_chain() if hasattr(net, "plain_chain") and wrapped is None else None
        if chain is None:
            return None
        linears, slope, output = chain
        params = chain_parameters(linears)
        own = list(net.parameters())
        if len(own) != len(params) or any(a is not b or not a.requires_grad for a, b in zip(own, params)):
            return None
        chains.append((params, slope, output))
    if objective.uses_gradient_penalty or getattr(train_config, "autocast", "none") != "none":
        return None
    return tuple(chains)


def _score_gradients(loss_fn, *scores: Tensor) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    """(losses, ∂(their sum)/∂ each of ``scores``): autograd on the scores alone, each its own
    leaf (no slicing in the graph, so no slice backward to pay for)."""
    with torch.enable_grad():
        leaves = [s.detach().requires_grad_() for s in scores]
        losses = loss_fn(*leaves)
        total = losses[0] if len(losses) == 1 else losses[0] + losses[1]
        grads = torch.autograd.grad(total, leaves)
    return tuple(loss.detach() for loss in losses), grads


def _set_grads(params: list[Tensor], grads: list[Tensor | None]) -> None:
    for param, grad in zip(params, grads):
        param.grad = grad


@torch.no_grad()
def manual_step(step, chains: tuple, real: Tensor, with_generator_step: bool, generator_steps: int) -> Tensor:
    """``AdversarialStep.__call__`` for plain MLPs, by hand (same draws, updates and row)."""
    m, objective = step.models, step.objective
    (g_params, g_slope, g_output), (d_params, d_slope, d_output) = chains
    batch = real.shape[0]
    z = step.latents()
    fake, g_hidden = chain_forward(z, g_params, g_slope, g_output)
    d_in = m.discriminator.pack_rows(torch.cat([real.reshape(batch, -1), fake]))
    d_out, d_hidden = chain_forward(d_in, d_params, d_slope, d_output)
    scores = d_out.squeeze(1)
    half = batch // step.pack
    (loss_real, loss_fake), grads = _score_gradients(objective.d_losses, scores[:half], scores[half:])
    d_step, g_step = step.optimizer_steps()
    _, d_grads = chain_backward(torch.cat(grads).unsqueeze(1), d_in, d_out, d_hidden, d_params, d_slope, d_output)
    _set_grads(d_params, d_grads)
    d_step()

    g_loss = grad_norm = step.zero
    if with_generator_step:
        fake_rows = m.discriminator.pack_rows(fake)
        d_out, d_hidden = chain_forward(fake_rows, d_params, d_slope, d_output)
        (g_loss,), (grad,) = _score_gradients(lambda s: (objective.g_loss(s),), d_out.squeeze(1))
        grad_rows, _ = chain_backward(grad.unsqueeze(1), fake_rows, d_out, d_hidden, d_params, d_slope,
                                      d_output, want_params=False, want_x=True)
        _, g_grads = chain_backward(grad_rows.view(fake.shape), z, fake, g_hidden, g_params, g_slope, g_output)
        _set_grads(g_params, g_grads)
        grad_norm = step.gradient_norm(g_params)
        g_step()
        step.update_ema(generator_steps)
    return step.row((loss_real, loss_fake, g_loss), scores, with_generator_step, grad_norm)
