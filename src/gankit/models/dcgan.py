"""Convolutional generator and discriminator for (C, H, W) images, in the two styles
of the seeds, plus a FLOP counter for benchmarks.

``style="keras"`` is the Keras MNIST DCGAN tutorial's network (Brownlee): D = 2 × [Conv
w, 3×3, s2, LeakyReLU 0.2, Dropout 0.4], Flatten, Dense 1; G = Dense 2w·h·w', LeakyReLU
0.2, reshape, 2 × [ConvT 2w, 4×4, s2, LeakyReLU 0.2], Conv C 7×7, tanh.
``style="tf"`` is the cats-vs-dogs study's TF-tutorial DCGAN: G = Dense 4w·h·w' (no bias), BN,
ReLU, reshape, ConvT 2w 5×5 s1, BN, ReLU, ConvT w 5×5 s2, BN, ReLU, ConvT C 5×5 s2
(no bias), tanh; D = Conv w 5×5 s2, LeakyReLU, Dropout 0.3, Conv 2w 5×5 s2,
LeakyReLU, Dropout 0.3, Flatten, Dense 1. Here w = ``base_width`` and (h, w') =
(H/4, W/4), the start resolution (7 for 28, 8 for 32, 16 for 64); base_width=64
gives exactly the seeds' widths (Keras D 64, 64 and G 128; TF G 256, 128, 64 and D
64, 128), smaller base widths scale every layer (16 is the CPU preset's width).

Arguments left as None take the source study's own value (``STYLE_DEFAULTS``): the TF
generator uses ReLU (the cats-vs-dogs study; slope 0) and batch norm; Keras' ``LeakyReLU()``
default slope is 0.3, which the TF discriminator used. As in Keras, the batch
norm after the Dense layer is per feature (BatchNorm1d before the reshape), and
layers followed by batch norm have no bias. Dropout in G (the cats-vs-dogs study used 0.4) goes
after each block at the start resolution: the Dense block, and for "tf" also the
stride-1 ConvT block. Keras 'same' padding is matched in output size (symmetric
padding and output_padding; TF puts an odd extra pixel on the bottom/right, a
half-pixel shift that changes no shape or parameter count). Weights are drawn from
N(0, 0.02) (DCGAN, Radford et al. 2016), not Keras' Glorot init.

Cost: forward FLOPs per sample at full width (``forward_flops``, 2 × MACs of
conv/linear layers) are about 0.14 G for either generator (TF 32×32: 0.135 G;
Keras 28×28: 0.140 G; TF 64×64: 0.54 G) and 0.027 G (TF, 32×32) or 0.004 G (Keras,
28×28) for the discriminator; a training step (G forward, D on real and fake,
backward ≈ 2 × forward) is about 0.5 GFLOP per sample, slow on a 2-core CPU. Widths
scale FLOPs quadratically: the CPU presets' base_width 16 costs about 1/15 of that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.models.conv_discriminator import ConvDiscriminator
from gankit.models.layers import ImageConvTranspose2d, init_weights, leaky_relu
from gankit.models.mlp import OUTPUT_ACTIVATIONS

__all__ = ["DCGANGenerator", "DCGANDiscriminator", "STYLES", "STYLE_DEFAULTS", "forward_flops"]

STYLES = ("keras", "tf")
STYLE_DEFAULTS = {
    "keras": {"g_batch_norm": False, "g_slope": 0.2, "d_slope": 0.2, "d_dropout": 0.4},
    "tf": {"g_batch_norm": True, "g_slope": 0.0, "d_slope": 0.3, "d_dropout": 0.3},
}


def _check(style: str, image_shape: Sequence[int], base_width: int, dropout: float) -> tuple[int, int, int]:
    if style not in STYLES:
        raise ConfigError(f"DCGAN style must be one of {list(STYLES)}, got {style!r}")
    shape = tuple(int(d) for d in image_shape)
    if len(shape) != 3 or any(d < 1 for d in shape):
        raise ConfigError(f"DCGAN needs an image shape (channels, height, width), got {tuple(image_shape)}")
    if base_width < 1:
        raise ConfigError(f"base_width must be >= 1, got {base_width}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
    return shape  # type: ignore[return-value]


def _conv_same(n_in: int, n_out: int, kernel: int, stride: int, bias: bool) -> nn.Conv2d:
    """Conv with Keras 'same' output size ceil(in / stride) (odd kernels)."""
    return nn.Conv2d(n_in, n_out, kernel, stride, padding=kernel // 2, bias=bias)


def _conv_transpose_same(n_in: int, n_out: int, kernel: int, stride: int, bias: bool) -> nn.ConvTranspose2d:
    """Transposed conv with Keras 'same' output size in · stride (to image channels: the CPU's
    faster kernel, ``ImageConvTranspose2d``)."""
    padding = math.ceil((kernel - stride) / 2)
    kind = ImageConvTranspose2d if n_out <= ImageConvTranspose2d.MAX_CHANNELS else nn.ConvTranspose2d
    return kind(n_in, n_out, kernel, stride, padding=padding,
                              output_padding=2 * padding + stride - kernel, bias=bias)


class DCGANGenerator(nn.Module):
    """z (B, latent_dim) -> images (B, C, H, W); H and W must be multiples of 4."""

    def __init__(self, latent_dim: int, image_shape: Sequence[int], *, style: str = "tf",
                 base_width: int = 64, batch_norm: bool | None = None, dropout: float = 0.0,
                 output_activation: str = "tanh", slope: float | None = None) -> None:
        super().__init__()
        channels, height, width = _check(style, image_shape, base_width, dropout)
        if latent_dim < 1:
            raise ConfigError(f"latent_dim must be >= 1, got {latent_dim}")
        if height % 4 or width % 4:
            raise ConfigError(f"DCGAN generator upsamples ×4 from H/4 × W/4: image height and width "
                              f"must be multiples of 4, got {height}×{width} (e.g. 28, 32 or 64)")
        if output_activation not in OUTPUT_ACTIVATIONS:
            raise ConfigError(f"output_activation must be one of {sorted(OUTPUT_ACTIVATIONS)}, "
                              f"got {output_activation!r}")
        defaults = STYLE_DEFAULTS[style]
        norm = defaults["g_batch_norm"] if batch_norm is None else bool(batch_norm)
        slope = defaults["g_slope"] if slope is None else slope
        self.latent_dim, self.style = int(latent_dim), style
        self.image_shape = self.out_shape = (channels, height, width)
        start = (height // 4, width // 4)

        def block(layer: nn.Module, features: int, flat: bool, drop: bool) -> list[nn.Module]:
            mods = [layer]
            if norm:
                mods.append(nn.BatchNorm1d(features) if flat else nn.BatchNorm2d(features))
            mods.append(leaky_relu(slope))
            if drop and dropout > 0:
                mods.append(nn.Dropout(dropout))
            return mods

        if style == "keras":
            wide = 2 * base_width
            layers = block(nn.Linear(latent_dim, wide * math.prod(start), bias=not norm),
                           wide * math.prod(start), flat=True, drop=True)
            layers.append(nn.Unflatten(1, (wide, *start)))
            for _ in range(2):
                layers += block(_conv_transpose_same(wide, wide, 4, 2, bias=not norm), wide, False, False)
            layers.append(_conv_same(wide, channels, 7, 1, bias=True))
        else:
            w1, w2, w3 = 4 * base_width, 2 * base_width, base_width
            layers = block(nn.Linear(latent_dim, w1 * math.prod(start), bias=not norm),
                           w1 * math.prod(start), flat=True, drop=False)
            layers.append(nn.Unflatten(1, (w1, *start)))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            layers += block(_conv_transpose_same(w1, w2, 5, 1, bias=not norm), w2, False, True)
            layers += block(_conv_transpose_same(w2, w3, 5, 2, bias=not norm), w3, False, False)
            layers.append(_conv_transpose_same(w3, channels, 5, 2, bias=False))
        layers.append(OUTPUT_ACTIVATIONS[output_activation]())
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class DCGANDiscriminator(ConvDiscriminator):
    """x (B, C, H, W) -> raw logits (B // pack,); no sigmoid, the objectives work on
    raw scores.

    pack = m (PacGAN, Lin et al. 2018): consecutive samples are stacked channel-wise,
    (B, C, H, W) -> (B/m, m·C, H, W), so the first conv sees m·C channels.
    spectral_norm wraps every conv and the Dense layer (Miyato et al. 2018).
    minibatch_std appends the batch std (ProGAN) as one feature after Flatten, before
    the Dense layer; a Dense over a constant feature map is the same function as a
    Dense over that one value. minibatch_kernels = B > 0 then appends B
    minibatch-discrimination features (Salimans et al. 2016; ``MinibatchDiscrimination``,
    not spectrally normalised) over the packs. batch_norm adds BatchNorm2d after every conv
    but the first (DCGAN), whose conv then has no bias.
    """

    def __init__(self, image_shape: Sequence[int], *, style: str = "tf", base_width: int = 64,
                 batch_norm: bool = False, dropout: float | None = None, slope: float | None = None,
                 pack: int = 1, spectral_norm: bool = False, minibatch_std: bool = False,
                 minibatch_kernels: int = 0, minibatch_kernel_dim: int = 5) -> None:
        defaults = STYLE_DEFAULTS.get(style, {})
        dropout = defaults.get("d_dropout", 0.0) if dropout is None else dropout
        slope = defaults.get("d_slope", 0.2) if slope is None else slope
        channels, height, width = _check(style, image_shape, base_width, dropout)
        super().__init__((channels, height, width), pack, style)
        widths = (base_width, base_width) if style == "keras" else (base_width, 2 * base_width)
        kernel = 3 if style == "keras" else 5
        self._build(widths, lambda n_in, n_out, bias: _conv_same(n_in, n_out, kernel, 2, bias=bias),
                    batch_norm=batch_norm, slope=slope, dropout=dropout, spectral_norm=spectral_norm,
                    minibatch_std=minibatch_std, minibatch_kernels=minibatch_kernels,
                    minibatch_kernel_dim=minibatch_kernel_dim)


_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_TRANSPOSES = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


@torch.no_grad()
def forward_flops(module: nn.Module, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass of ``module`` on a batch of ``input_shape`` (batch
    dimension included): 2 × the multiply-accumulates of every Linear, Conv and
    ConvTranspose layer (bias adds, norms and activations are not counted). Divide by
    the batch size for a per-sample figure. Runs once on zeros in eval mode."""
    macs = 0

    def count(layer: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        nonlocal macs
        if isinstance(layer, nn.Linear):
            macs += output.numel() * layer.in_features
        elif isinstance(layer, _CONV_TRANSPOSES):
            macs += inputs[0].numel() * layer.out_channels // layer.groups * math.prod(layer.kernel_size)
        elif isinstance(layer, _CONVS):
            macs += output.numel() * layer.in_channels // layer.groups * math.prod(layer.kernel_size)

    layers = [m for m in module.modules() if isinstance(m, (nn.Linear, *_CONVS, *_CONV_TRANSPOSES))]
    handles = [layer.register_forward_hook(count) for layer in layers]
    modes = {m: m.training for m in module.modules()}
    parameter = next(module.parameters(), None)
    device = parameter.device if parameter is not None else "cpu"
    try:
        module.eval()
        module(torch.zeros(tuple(input_shape), device=device))
    finally:
        for handle in handles:
            handle.remove()
        for m, training in modes.items():
            m.training = training
    return 2 * macs
