"""Draw samples from a trained generator, batched, memory-bounded, seeded."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from gankit.errors import ConfigError
from gankit.models.conditional import is_conditional
from gankit.sampling.labels import draw_labels
from gankit.sampling.latent import sample_latent


@torch.no_grad()
def generate(
    generator_net: nn.Module,
    n: int,
    *,
    latent_dim: int,
    distribution: str = "normal",
    generator: torch.Generator,
    batch_size: int = 1024,
    device: torch.device | str = "cpu",
    truncation: float | None = None,
    on_batch: Callable[[int], None] | None = None,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """``n`` samples of G(z) on the CPU, drawn in batches; the network is left in its mode.

    A conditional generator gets ``labels`` (n,) — or, when None, labels drawn first from
    ``generator`` with the training data's class frequencies (sampling/labels.py)."""
    if labels is None:
        labels = draw_labels(generator_net, n, generator)
    elif not is_conditional(generator_net):
        raise ConfigError("class labels were given, but this generator is not class-conditional")
    elif labels.shape != (n,):
        raise ValueError(f"expected {n} labels, got shape {tuple(labels.shape)}")
    was_training = generator_net.training
    generator_net.eval()
    chunks = []
    try:
        for start in range(0, n, batch_size):
            count = min(batch_size, n - start)
            z = sample_latent(count, latent_dim, distribution, generator=generator, device=device,
                              truncation=truncation)
            if labels is None:
                chunks.append(generator_net(z).float().cpu())
            else:
                chunks.append(generator_net(z, labels[start:start + count].to(z.device)).float().cpu())
            if on_batch is not None:
                on_batch(count)
    finally:
        generator_net.train(was_training)
    if not chunks:
        return torch.empty(0)
    return torch.cat(chunks)
