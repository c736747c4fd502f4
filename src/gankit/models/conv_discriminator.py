"""What the convolutional discriminators (``DCGANDiscriminator``, ``RadfordDiscriminator``)
share; a layout differs from another only in its convolutions' widths and kernels.

``net`` is a Sequential: per width a stride-2 conv [, BatchNorm2d], LeakyReLU [, Dropout];
then Flatten and ``score_head`` (the minibatch std feature, minibatch discrimination, the
Dense layer to one raw score). Its last module is that Dense layer, so ``net[:-1]`` gives
the flat features a projection head reads. Samples are packed channel-wise first (PacGAN).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from gankit.errors import ConfigError
from gankit.models.layers import init_weights, leaky_relu, score_head
from gankit.models.mlp import PackSizeError

__all__ = ["ConvDiscriminator"]

# (in channels, out channels, bias) -> a conv of stride 2 whose output side is ceil(side / 2)
ConvMaker = Callable[[int, int, bool], nn.Module]


class ConvDiscriminator(nn.Module):
    """x (B, C, H, W) -> raw logits (B // pack,). A layout checks its own options, calls
    ``__init__`` with the image shape, pack and style, then ``_build`` with its widths and
    conv."""

    def __init__(self, image_shape: Sequence[int], pack: int, style: str) -> None:
        super().__init__()
        if pack < 1:
            raise ConfigError(f"pack must be >= 1, got {pack}")
        self.in_shape = self.image_shape = tuple(int(d) for d in image_shape)
        self.pack, self.style = int(pack), style

    def _build(self, widths: Sequence[int], conv: ConvMaker, *, batch_norm: bool, slope: float, dropout: float,
               spectral_norm: bool, minibatch_std: bool, minibatch_kernels: int, minibatch_kernel_dim: int) -> None:
        """``net`` from ``conv`` once per width (with spectral norm when asked; batch norm after
        every conv but the first, whose conv then keeps its bias), then every weight drawn
        afresh (``init_weights``)."""

        def wrap(layer: nn.Module) -> nn.Module:
            return _spectral_norm(layer) if spectral_norm else layer

        layers: list[nn.Module] = []
        n_in, height, width = self.pack * self.in_shape[0], *self.in_shape[1:]
        for index, n_out in enumerate(widths):
            norm = batch_norm and index > 0
            layers.append(wrap(conv(n_in, n_out, not norm)))
            if norm:
                layers.append(nn.BatchNorm2d(n_out))
            layers.append(leaky_relu(slope))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            n_in = n_out
            height, width = -(-height // 2), -(-width // 2)
        layers.append(nn.Flatten())
        layers += score_head(n_in * height * width, minibatch_std=minibatch_std, minibatch_kernels=minibatch_kernels,
                             minibatch_kernel_dim=minibatch_kernel_dim, wrap=wrap)
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(self.packed(x)).squeeze(1)

    def features(self, x: Tensor) -> Tensor:
        """The input of the final Linear (B // pack, F): what a projection head reads."""
        return self.net[:-1](self.packed(x))

    def packed(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B // pack, pack·C, H, W), checked."""
        if x.ndim != 4 or tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(f"discriminator expects images of shape (B, {', '.join(map(str, self.in_shape))}), "
                             f"got {tuple(x.shape)}")
        batch, channels, height, width = x.shape
        if batch % self.pack:
            raise PackSizeError(f"batch of {batch} samples cannot be split into packs of {self.pack}: "
                                f"use a batch size (and sample count) that is a multiple of {self.pack}")
        return x.reshape(batch // self.pack, self.pack * channels, height, width)
