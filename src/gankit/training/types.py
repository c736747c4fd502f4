"""The data the adversarial step works on, shared by the modules around it: the networks and
their optimizers (``AdversarialModels``), the columns of the per-step statistics, and what a
step gathers once per set of networks (``Prepared``, with the plain MLP chains of the
hand-written step). The step itself is training/step.py; this module imports no other
training module, so the step, the optimizers, the manual MLP step, the loop's state and the
checkpoints all import these types without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

import torch
from torch import Tensor, nn

# Columns of the per-step statistics buffer. ``d_real_prob``/``d_fake_prob``: mean over the
# batch of p/(p + q) as the discriminator sees it, σ(log-density-ratio estimate), NaN for
# objectives without one (hinge, wgan-gp, tv); ``g_grad_norm``: the L2 norm of the generator's
# gradient at its step (0 on steps without one). The diagnostics read these.
STAT_NAMES = ("d_loss_real", "d_loss_fake", "g_loss", "d_real_score", "d_fake_score", "g_step",
              "d_real_prob", "d_fake_prob", "g_grad_norm")
# Column index by name (``stats[:, COLUMN.g_step]``), and the loss columns as one slice.
COLUMN = IntEnum("StatColumn", [(name, index) for index, name in enumerate(STAT_NAMES)])
LOSS_COLUMNS = slice(COLUMN.d_loss_real, COLUMN.g_loss + 1)


@dataclass
class AdversarialModels:
    generator: nn.Module
    discriminator: nn.Module
    g_optimizer: torch.optim.Optimizer
    d_optimizer: torch.optim.Optimizer
    generator_ema: nn.Module | None = None
    # What the training passes call when it is not the module itself: a DDP wrapper and/or a
    # torch.compile'd module sharing its parameters. Checkpoints store the modules above.
    generator_train: nn.Module | None = None
    discriminator_train: nn.Module | None = None

    @property
    def sampling_generator(self) -> nn.Module:
        """The network used for samples and metrics: the EMA copy when there is one."""
        return self.generator_ema or self.generator


# (EMA parameters, G's parameters, (EMA buffer, G buffer) pairs).
EMAPairs = tuple[list[Tensor], list[Tensor], list[tuple[Tensor, Tensor]]]


class ManualChain(NamedTuple):
    """One network as the manual step runs it: the module (for its train/eval mode), its
    parameters [w0, b0, w1, …] and the chain's slope, output activation and dropout."""

    net: nn.Module
    params: list[Tensor]
    slope: float
    output: str
    dropout: float


class ManualChains(NamedTuple):
    generator: ManualChain
    discriminator: ManualChain


@dataclass
class Prepared:
    """What a step gathers once per set of network and optimizer objects."""
    g_params: list[Tensor]              # G's trainable parameters
    d_params: list[Tensor]              # D's optimizer's parameters
    ema: EMAPairs | None                # (EMA, G) parameter and buffer pairs
    d_step: Callable[[], None]          # D's optimizer step (a FusedAdamStep, training/optim.py)
    g_step: Callable[[], None]          # G's
    chains: ManualChains | None         # plain MLP chains for the manual step, or None
