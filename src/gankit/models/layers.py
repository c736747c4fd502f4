"""Small building blocks shared by the model families: activations, minibatch
standard deviation, weight initialisation and parameter counting."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from gankit.errors import ConfigError

_INIT_TARGETS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d,
                 nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def leaky_relu(slope: float) -> nn.Module:
    """LeakyReLU with negative slope `slope`; slope 0 is a plain ReLU."""
    if not slope >= 0:
        raise ConfigError(f"activation slope must be >= 0 (0 means ReLU), got {slope}")
    return nn.ReLU() if slope == 0 else nn.LeakyReLU(slope)


class MinibatchStd(nn.Module):
    """Append the minibatch standard deviation as one extra feature (ProGAN,
    Karras et al. 2018, section 3).

    For x of shape (N, C): s = mean_c sqrt(Var_n[x_nc] + eps), with the biased
    (1/N) variance over the batch; the output is [x, s] of shape (N, C + 1), the
    same s on every row. A discriminator that sees s can tell a batch of
    near-identical samples (mode collapse) from a varied one.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        variance = x.var(dim=0, unbiased=False)
        batch_std = torch.sqrt(variance + self.eps).mean()
        return torch.cat([x, batch_std.expand(x.shape[0], 1)], dim=1)

    def extra_repr(self) -> str:
        return f"eps={self.eps}"


def init_weights(module: nn.Module, std: float = 0.02) -> nn.Module:
    """Initialise every Linear / Conv / ConvTranspose weight from N(0, std²) and
    its bias to 0 (DCGAN, Radford et al. 2016, use std 0.02). BatchNorm layers get
    the DCGAN tutorial's gain N(1, std²) and zero shift. Returns `module`.

    Spectrally normalised layers are initialised through their raw (original)
    weight; their power-iteration vectors then catch up over the next forward
    passes in train mode.
    """
    if not std > 0:
        raise ConfigError(f"init std must be > 0, got {std}")
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, _INIT_TARGETS):
                if parametrize.is_parametrized(layer, "weight"):
                    weight = layer.parametrizations.weight.original
                else:
                    weight = layer.weight
                nn.init.normal_(weight, 0.0, std)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)
            elif isinstance(layer, _BATCH_NORMS) and layer.affine:
                nn.init.normal_(layer.weight, 1.0, std)
                nn.init.zeros_(layer.bias)
    return module


def count_parameters(module: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of scalar parameters (shared tensors counted once; buffers such as
    BatchNorm statistics or spectral-norm vectors are not parameters)."""
    return sum(p.numel() for p in module.parameters()
               if p.requires_grad or not trainable_only)
