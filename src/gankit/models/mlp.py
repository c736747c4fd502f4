"""Fully connected generator and discriminator (the point GANs of the 2D line/parabola/spiral
exercise and the MNIST MLP course assignment's template), with PacGAN packing, spectral norm, minibatch
standard deviation and minibatch discrimination as options of the discriminator."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

import gankit.fastpaths as fastpaths
from gankit.errors import ConfigError
from gankit.models.fused import ChainSpec, mlp_chain
from gankit.models.layers import count_parameters, leaky_relu, score_head

# How a packed MLP discriminator's first layer starts (``block_pack_init``).
PACK_INITS: tuple[str, ...] = ("dense", "block")

__all__ = ["MLPGenerator", "MLPDiscriminator", "PackSizeError", "count_parameters",
           "OUTPUT_ACTIVATIONS"]

OUTPUT_ACTIVATIONS = {"tanh": nn.Tanh, "linear": nn.Identity, "sigmoid": nn.Sigmoid}


class PackSizeError(ConfigError, ValueError):
    """A batch whose size is not a multiple of the discriminator's pack size."""


def _shape(value: int | Sequence[int], name: str) -> tuple[int, ...]:
    shape = (value,) if isinstance(value, int) else tuple(int(d) for d in value)
    if not shape or any(d < 1 for d in shape):
        raise ConfigError(f"{name} must be a non-empty list of positive sizes, got {value!r}")
    return shape


def _widths(hidden: Sequence[int]) -> tuple[int, ...]:
    widths = tuple(int(w) for w in hidden)
    if any(w < 1 for w in widths):
        raise ConfigError(f"hidden layer widths must be positive, got {list(hidden)}")
    return widths


def _check_dropout(dropout: float) -> None:
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}")


class _PlainChain:
    """What G and D share: ``self.net`` run as one autograd node (models/fused.py) when it is a
    plain chain (``self._chain``, set by ``_chain_of``)."""

    _chain: ChainSpec | None

    def plain_chain(self) -> ChainSpec | None:
        """(Linears, slope, output activation, dropout) when the network is a plain chain (no
        batch norm, spectral norm, minibatch std or minibatch discrimination), for models/fused.py;
        None otherwise."""
        return self._chain

    def _through_chain(self, x: Tensor) -> Tensor | None:
        """``x`` through the chain as one node, or None where the Sequential has to run."""
        if not _use_chain(self._chain, x):
            return None
        chain = self._chain
        return mlp_chain(x, chain.linears, chain.slope, chain.output, chain.dropout if self.training else 0.0)


class MLPGenerator(_PlainChain, nn.Module):
    """z (B, latent_dim) -> samples (B, *out_shape).

    Each hidden layer is Linear -> [BatchNorm1d] -> LeakyReLU(slope) -> [Dropout];
    then Linear to prod(out_shape) and the output activation (tanh for data in
    [-1, 1], sigmoid for [0, 1], linear for unbounded data). With batch_norm the
    hidden Linears have no bias (BatchNorm's shift replaces it). PyTorch's default
    Linear init, as the source studies used.
    """

    def __init__(self, latent_dim: int, hidden: Sequence[int], out_shape: int | Sequence[int],
                 *, slope: float = 0.2, dropout: float = 0.0, output_activation: str = "tanh",
                 batch_norm: bool = False) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ConfigError(f"latent_dim must be >= 1, got {latent_dim}")
        if output_activation not in OUTPUT_ACTIVATIONS:
            raise ConfigError(f"output_activation must be one of {sorted(OUTPUT_ACTIVATIONS)}, "
                              f"got {output_activation!r}")
        _check_dropout(dropout)
        self.latent_dim = int(latent_dim)
        self.out_shape = _shape(out_shape, "out_shape")
        layers: list[nn.Module] = []
        width = self.latent_dim
        for next_width in _widths(hidden):
            layers.append(nn.Linear(width, next_width, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(next_width))
            layers.append(leaky_relu(slope))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = next_width
        layers += [nn.Linear(width, math.prod(self.out_shape)),
                   OUTPUT_ACTIVATIONS[output_activation](),
                   nn.Unflatten(1, self.out_shape)]
        self.net = nn.Sequential(*layers)
        # Without batch norm the layers are a plain chain: one autograd node.
        self._chain = None if batch_norm else _chain_of(self.net, slope, output_activation, dropout)

    def forward(self, z: Tensor) -> Tensor:
        out = self._through_chain(z)
        return self.net(z) if out is None else out.unflatten(1, self.out_shape)


class MLPDiscriminator(_PlainChain, nn.Module):
    """x (B, *in_shape) -> raw logits (B // pack,); no sigmoid, the objectives work
    on raw scores.

    Each hidden layer is Linear -> LeakyReLU(slope) -> [Dropout], then
    [MinibatchStd] -> [MinibatchDiscrimination] and a final Linear to 1.

    pack = m (PacGAN, Lin et al. 2018): D judges m samples at once; consecutive
    rows are concatenated, (B, F) -> (B/m, m·F), so rows 0..m-1 form pack 0 and B
    must be a multiple of m. pack_init = "block" starts the first layer block-diagonal, each
    unit reading one sample of the pack (``block_pack_init``); "dense" is PyTorch's default
    start. spectral_norm wraps every Linear in
    torch.nn.utils.parametrizations.spectral_norm (Miyato et al. 2018): one power
    iteration per forward in train mode, none in eval mode. minibatch_std appends
    the batch std feature (over the packed rows) before the final Linear;
    minibatch_kernels = B > 0 then appends B minibatch-discrimination features
    (Salimans et al. 2016, kernels of minibatch_kernel_dim), the packs being the rows. In
    that order the std feature, equal on every row, adds nothing to the distances.
    """

    def __init__(self, in_shape: int | Sequence[int], hidden: Sequence[int], *,
                 slope: float = 0.2, dropout: float = 0.0, pack: int = 1,
                 spectral_norm: bool = False, minibatch_std: bool = False, minibatch_kernels: int = 0,
                 minibatch_kernel_dim: int = 5, pack_init: str = "dense") -> None:
        super().__init__()
        if pack < 1:
            raise ConfigError(f"pack must be >= 1, got {pack}")
        _check_dropout(dropout)
        self.in_shape = _shape(in_shape, "in_shape")
        self.pack = int(pack)

        def wrap(layer: nn.Module) -> nn.Module:
            return _spectral_norm(layer) if spectral_norm else layer

        layers: list[nn.Module] = []
        width = self.pack * math.prod(self.in_shape)
        for next_width in _widths(hidden):
            layers += [wrap(nn.Linear(width, next_width)), leaky_relu(slope)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = next_width
        layers += score_head(width, minibatch_std=minibatch_std, minibatch_kernels=minibatch_kernels,
                             minibatch_kernel_dim=minibatch_kernel_dim, wrap=wrap)
        self.net = nn.Sequential(*layers)
        if pack_init not in PACK_INITS:
            raise ConfigError(f"pack_init must be one of {', '.join(PACK_INITS)}, got {pack_init!r}")
        if self.pack > 1 and pack_init == "block":
            block_pack_init(self.net[0], self.pack)
        plain = not (spectral_norm or minibatch_std or minibatch_kernels)
        self._chain = _chain_of(self.net, slope, "linear", dropout) if plain else None

    def pack_rows(self, x: Tensor) -> Tensor:
        """(B, *in_shape) or (B, F) -> (B // pack, pack·F): the rows D scores (checked)."""
        batch = x.shape[0]
        if x.ndim < 2 or math.prod(x.shape[1:]) != math.prod(self.in_shape):
            raise ValueError(f"discriminator expects inputs of shape (B, {', '.join(map(str, self.in_shape))}) "
                             f"or the same flattened, got {tuple(x.shape)}")
        if batch % self.pack:
            raise PackSizeError(f"batch of {batch} samples cannot be split into packs of {self.pack}: "
                                f"use a batch size (and sample count) that is a multiple of {self.pack}")
        return x.reshape(batch // self.pack, -1)

    def forward(self, x: Tensor) -> Tensor:
        rows = self.pack_rows(x)
        out = self._through_chain(rows)
        return (self.net(rows) if out is None else out).squeeze(1)

    def features(self, x: Tensor) -> Tensor:
        """The input of the final Linear (B // pack, F): what a projection head reads."""
        return self.net[:-1](self.pack_rows(x))


def block_pack_init(layer: nn.Linear, pack: int) -> nn.Linear:
    """Start a packed discriminator's first Linear block-diagonal: its units are split into
    ``pack`` groups and group j reads only sample j of the pack, W[group j, sample j] ~
    U(−1/√F, 1/√F) (PyTorch's default for a layer reading the F features of one sample) and 0
    elsewhere; the bias keeps its default. Training may then mix the samples.

    Why: with PyTorch's dense start every unit reads a random mix w₁·x₁ + … + w_m·x_m of the m
    samples, and the sum of m independent draws hides the fine structure each sample has (on
    grid25 a unit sees a near-continuous distribution instead of 25 sharp modes). A packed D so
    started stays at chance far longer than an unpacked one (BENCHMARKS.md, PacGAN on grid25)."""
    weight = layer.parametrizations.weight.original if hasattr(layer, "parametrizations") else layer.weight
    units, width = weight.shape
    if pack < 1 or width % pack or units < pack:
        raise ConfigError(f"cannot split a {units}x{width} layer into {pack} sample blocks")
    features = width // pack
    bound = 1.0 / math.sqrt(features)
    with torch.no_grad():
        weight.zero_()
        for j in range(pack):
            rows = slice(j * units // pack, (j + 1) * units // pack)
            weight[rows, j * features:(j + 1) * features].uniform_(-bound, bound)
    return layer


def _use_chain(chain, x: Tensor) -> bool:
    """The one-node chain runs unless the model is not a plain chain, is being compiled (dynamo
    traces the Sequential), is being traced for export (TorchScript and ONNX record the
    Sequential's ops; a Python autograd Function cannot be saved), runs under autocast (whose
    casts the hand-written backward lacks) or has hooks on its layers (which only the
    Sequential calls)."""
    return (chain is not None and not torch.compiler.is_compiling() and not torch.jit.is_tracing()
            and not torch.is_autocast_enabled(x.device.type) and not has_layer_hooks(chain.linears))


def has_layer_hooks(layers) -> bool:
    """Whether any of ``layers`` has forward (pre-)hooks or backward hooks of its own. The hook
    tables are private (fastpaths "module_hooks"): True, so the modules are called, where they
    cannot be read (``GANKIT_PRIVATE_TORCH=0``, or a PyTorch without them)."""
    if not fastpaths.enabled("module_hooks"):
        return True
    try:
        return any(layer._forward_hooks or layer._forward_pre_hooks or layer._backward_hooks
                   or layer._backward_pre_hooks for layer in layers)
    except AttributeError:
        return True


def _chain_of(net: nn.Sequential, slope: float, output: str, dropout: float) -> ChainSpec | None:
    """(the Linears of ``net``, hidden slope, output activation, dropout): what ``mlp_chain``
    needs to run ``net`` as one autograd node with the same results (models/fused.py)."""
    linears = tuple(m for m in net if isinstance(m, nn.Linear))
    if any(layer.bias is None for layer in linears):
        return None  # the chain adds a bias in every layer
    return ChainSpec(linears, float(slope), output, float(dropout))
