"""Radford et al.'s DCGAN layout (``model.dcgan_style = "radford"``): the all-convolutional
4×4-kernel, stride-2 network of "Unsupervised Representation Learning with Deep
Convolutional GANs" (2016), as its LSUN/ImageNet 64×64 model and the PyTorch DCGAN example
lay it out.

For a square image of side S = 4·2^k (k ≥ 1: 8, 16, 32, 64, 128, …) and w = ``base_width``:

- G: z → ConvT 4×4 stride 1 (a projection: on a 1×1 input it is a Dense layer) to
  4×4×(w·2^(k−1)), BN, ReLU; then k − 1 up-blocks [ConvT 4×4 stride 2 padding 1, BN, ReLU],
  each doubling the side and halving the channels down to S/2 × S/2 × w; then ConvT 4×4
  stride 2 to S×S×C, tanh. At 64×64 that is 4×4×8w → 8×8×4w → 16×16×2w → 32×32×w →
  64×64×C; at 32×32 it starts at 4×4×4w.
- D mirrors it: k convs [Conv 4×4 stride 2 padding 1, BN (all but the first conv), LeakyReLU
  0.2] from S×S×C to 4×4×(w·2^(k−1)), then Flatten and Dense 1 (the paper's final 4×4 conv to
  one value over a 4×4 map is the same function as a Dense over its flattened input), a raw
  logit. The Dense layer is the last module of ``D.net`` and everything before it gives a flat
  feature vector, as in the other discriminators.

Layers followed by batch norm have no bias, nor has G's last ConvT (the PyTorch example's
choice); weights are N(0, 0.02) and BN gains N(1, 0.02) (``init_weights``). With base_width
64, latent 100 and 3 channels at 64×64, G has 3,576,704 parameters, the PyTorch DCGAN example's
count, and D 2,765,633: the example's 2,765,568 plus the first conv's 64 biases and the Dense
layer's one (the example leaves every D layer without bias).

Everything comes from the config as written, so a preset sets Radford's choices explicitly:
``g_batch_norm = true``, ``g_slope = 0`` (ReLU), ``d_batch_norm = true``, ``d_slope = 0.2``.
The other discriminator options work as in ``DCGANDiscriminator``: ``pack`` stacks samples
channel-wise, ``spectral_norm`` wraps every conv and the Dense layer, ``minibatch_std`` adds
one feature before the Dense layer and ``minibatch_kernels`` then that many
minibatch-discrimination features, ``d_dropout`` follows every LeakyReLU. ``g_dropout`` follows
the 4×4 projection block.

Cost (``forward_flops``, 2 × MACs of conv/linear layers) per sample at base width 64,
64×64×3, latent 100: G 0.209 GFLOP (0.8 M MACs for the projection, 33.6 M for each of the three
up-blocks, 3.1 M for the output layer) and D 0.208 GFLOP, so a training step (G forward, D on
real and fake, backward ≈ 2 × forward) is about 1.9 GFLOP per sample, four times the TF
layout's at 32×32: slow on a CPU at full width. Widths scale FLOPs quadratically: the
folder-rgb64 preset's base width 24 costs 0.032 (G) and 0.031 (D) GFLOP per sample.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.models.conv_discriminator import ConvDiscriminator
from gankit.models.layers import init_weights, leaky_relu
from gankit.models.mlp import OUTPUT_ACTIVATIONS

__all__ = ["RADFORD", "RadfordDiscriminator", "RadfordGenerator", "radford_depth"]

RADFORD = "radford"
START_SIDE = 4  # G starts, and D ends, at 4×4


def radford_depth(image_shape: Sequence[int]) -> int:
    """k for an image (C, S, S) with S = 4·2^k, k ≥ 1: the number of stride-2 layers."""
    shape = tuple(int(d) for d in image_shape)
    if len(shape) != 3 or any(d < 1 for d in shape):
        raise ConfigError(f"the radford DCGAN needs an image shape (channels, height, width), got {shape}")
    _, height, width = shape
    side, depth = height, 0
    while side > START_SIDE and side % 2 == 0:
        side, depth = side // 2, depth + 1
    if height != width or side != START_SIDE or depth < 1:
        raise ConfigError(f"the radford DCGAN doubles a 4×4 start up to a square side 4·2^k "
                          f"(8, 16, 32, 64, 128, …), got {height}×{width}; set data.image_size to 32 or 64")
    return depth


def _check_width(base_width: int, dropout: float) -> None:
    if base_width < 1:
        raise ConfigError(f"base_width must be >= 1, got {base_width}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}")


class RadfordGenerator(nn.Module):
    """z (B, latent_dim) -> images (B, C, S, S), S = 4·2^k (see the module)."""

    def __init__(self, latent_dim: int, image_shape: Sequence[int], *, base_width: int = 64,
                 batch_norm: bool = True, dropout: float = 0.0, output_activation: str = "tanh",
                 slope: float = 0.0) -> None:
        super().__init__()
        depth = radford_depth(image_shape)
        _check_width(base_width, dropout)
        if latent_dim < 1:
            raise ConfigError(f"latent_dim must be >= 1, got {latent_dim}")
        if output_activation not in OUTPUT_ACTIVATIONS:
            raise ConfigError(f"output_activation must be one of {sorted(OUTPUT_ACTIVATIONS)}, "
                              f"got {output_activation!r}")
        channels = int(image_shape[0])
        self.latent_dim, self.style = int(latent_dim), RADFORD
        self.image_shape = self.out_shape = tuple(int(d) for d in image_shape)

        def block(layer: nn.Module, features: int) -> list[nn.Module]:
            return [layer, *([nn.BatchNorm2d(features)] if batch_norm else []), leaky_relu(slope)]

        width = base_width * 2 ** (depth - 1)
        layers: list[nn.Module] = [nn.Unflatten(1, (latent_dim, 1, 1))]
        layers += block(nn.ConvTranspose2d(latent_dim, width, START_SIDE, 1, 0, bias=not batch_norm), width)
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        for _ in range(depth - 1):
            layers += block(nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=not batch_norm), width // 2)
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), OUTPUT_ACTIVATIONS[output_activation]()]
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class RadfordDiscriminator(ConvDiscriminator):
    """x (B, C, S, S) -> raw logits (B // pack,); the options as ``DCGANDiscriminator``'s.

    ``net`` is a Sequential whose last module is the Dense layer to one logit
    (``nn.Linear(features, 1)``, spectral-norm wrapped when asked); ``net[:-1]`` maps the
    packed images to the flat feature vector it reads.
    """

    def __init__(self, image_shape: Sequence[int], *, base_width: int = 64, batch_norm: bool = True,
                 dropout: float = 0.0, slope: float = 0.2, pack: int = 1, spectral_norm: bool = False,
                 minibatch_std: bool = False, minibatch_kernels: int = 0, minibatch_kernel_dim: int = 5) -> None:
        depth = radford_depth(image_shape)
        _check_width(base_width, dropout)
        super().__init__(image_shape, pack, RADFORD)
        self._build([base_width * 2 ** index for index in range(depth)],
                    lambda n_in, n_out, bias: nn.Conv2d(n_in, n_out, 4, 2, 1, bias=bias),
                    batch_norm=batch_norm, slope=slope, dropout=dropout, spectral_norm=spectral_norm,
                    minibatch_std=minibatch_std, minibatch_kernels=minibatch_kernels,
                    minibatch_kernel_dim=minibatch_kernel_dim)
