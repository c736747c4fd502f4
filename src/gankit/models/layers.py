"""Small building blocks shared by the model families: activations, the image-channel
transposed convolution, minibatch standard deviation, minibatch discrimination, the
discriminator's score head, weight initialisation and parameter counting."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

import gankit.fastpaths as fastpaths
from gankit.errors import ConfigError

_INIT_TARGETS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d,
                 nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def leaky_relu(slope: float) -> nn.Module:
    """LeakyReLU with negative slope `slope`; slope 0 is a plain ReLU."""
    if not slope >= 0:
        raise ConfigError(f"activation slope must be >= 0 (0 means ReLU), got {slope}")
    return nn.ReLU() if slope == 0 else nn.LeakyReLU(slope)


class ImageConvTranspose2d(nn.ConvTranspose2d):
    """A transposed convolution to a few image channels (a generator's last layer): the same
    module, parameters and function as ``nn.ConvTranspose2d``, computed on the CPU by
    PyTorch's im2col kernel (``slow_conv_transpose2d``) instead of oneDNN's deconvolution,
    which is slow with 1–3 output channels: measured for the CPU DCGAN's last layer (32 → 1
    channels, 5×5, 14 → 28, batch 64) 4–9× faster forward and 1.4–2.9× forward+backward on
    AVX2 and AVX-512 code paths (BENCHMARKS.md, "The image step, the demo and the metrics on
    an AMD EPYC"). Elsewhere (GPU, autocast,
    non-float32, tracing, which ONNX export does) it runs as ``nn.ConvTranspose2d``, and so it does
    with ``GANKIT_PRIVATE_TORCH=0``: the kernel is private (``gankit/fastpaths.py``,
    "im2col_conv_transpose"). Results agree with oneDNN's to float32 rounding (a different
    summation order)."""

    MAX_CHANNELS = 4  # the im2col kernel wins up to here (1 and 3 measured)

    def forward(self, x: Tensor, output_size: list[int] | None = None) -> Tensor:
        if (output_size is not None or not x.is_cpu or x.dtype != torch.float32 or self.groups != 1
                or self.out_channels > self.MAX_CHANNELS or torch.is_autocast_enabled("cpu")
                or torch.jit.is_scripting() or torch.jit.is_tracing()  # (ONNX export traces)
                or not fastpaths.enabled("im2col_conv_transpose")):
            return super().forward(x, output_size)
        return torch._C._nn.slow_conv_transpose2d(x, self.weight, self.kernel_size, self.bias, self.stride,
                                                  self.padding, self.output_padding, self.dilation)


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


class MinibatchDiscrimination(nn.Module):
    """Append B closeness-to-the-batch features to every row (minibatch discrimination,
    Salimans et al. 2016, "Improved Techniques for Training GANs", section 3.2).

    For a row's features f(x_i) ∈ R^A and the learned tensor T ∈ R^{A×B×C} (``weight``):

        M_i = f(x_i)·T ∈ R^{B×C}
        c_b(x_i, x_j) = exp(−‖M_{i,b} − M_{j,b}‖_L1)
        o(x_i)_b = Σ_{j=1}^{n} c_b(x_i, x_j)

    over the n rows of the batch D is scoring (the paper's sum includes j = i, which adds
    exactly 1); the output is [f(x_i), o(x_i)] of shape (n, A + B). Each kernel b counts,
    softly, how many rows of the batch lie near row i along its own C-dimensional
    projection: o_b = n for a batch of identical rows, o_b → 1 for rows far apart. A
    discriminator that sees o can tell a collapsed batch of near-copies from a varied one,
    and G's gradient through o pushes its samples apart. Real and generated batches must
    be scored in separate calls (otherwise each would count the other's rows). o grows
    with n, so D's scores depend on the batch size it is given.

    Memory: the distances are computed per kernel, (B, n, C) → (B, n, n), so the forward
    pass keeps B·n² numbers (13 MB at n = 256, B = 50, C = 5), never the n×n×B×C table of
    differences; the backward pass builds one (B, n, n) table of signs per coordinate,
    transiently (13 MB at those sizes), and is itself differentiable (WGAN-GP and R1
    differentiate D's gradient).
    """

    def __init__(self, in_features: int, kernels: int, kernel_dim: int = 5) -> None:
        super().__init__()
        if in_features < 1 or kernels < 1 or kernel_dim < 1:
            raise ConfigError(f"minibatch discrimination needs in_features, kernels and kernel_dim >= 1, got "
                              f"{in_features}, {kernels}, {kernel_dim}")
        self.in_features, self.kernels, self.kernel_dim = int(in_features), int(kernels), int(kernel_dim)
        self.weight = nn.Parameter(torch.empty(self.in_features, self.kernels, self.kernel_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """T ~ N(0, 1/A). Each entry of M_i − M_j then has variance ‖f(x_i) − f(x_j)‖²/A, the
        mean squared feature difference, whatever the width A: the L1 distances, and so
        exp(−distance), start in the same range for an MLP's 64 features as for a DCGAN's
        8,192. A fixed σ such as 0.1 would make the distances grow as √A, so that at wide A
        o ≡ 1 and its gradient vanishes. The authors' code gets the same scale another way:
        it weight-normalises each of T's B·C columns to unit length (entries ≈ 1/√A)."""
        nn.init.normal_(self.weight, 0.0, 1.0 / math.sqrt(self.in_features))

    def forward(self, x: Tensor) -> Tensor:
        rows = x.shape[0]
        projected = (x @ self.weight.flatten(1)).view(rows, self.kernels, self.kernel_dim)
        exact = projected.to(torch.promote_types(projected.dtype, torch.float32))  # bf16/fp16 -> fp32
        distances = _PairwiseL1.apply(exact.transpose(0, 1))  # (B, n, n)
        closeness = torch.exp(-distances).sum(dim=2)  # (B, n): o(x_i)_b, self term included
        return torch.cat([x, closeness.t().to(x.dtype)], dim=1)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, kernels={self.kernels}, kernel_dim={self.kernel_dim}"


def score_head(features: int, *, minibatch_std: bool = False, minibatch_kernels: int = 0,
               minibatch_kernel_dim: int = 5, wrap: Callable[[nn.Module], nn.Module] = lambda layer: layer
               ) -> list[nn.Module]:
    """The end of every discriminator, after its flat features (rows of ``features``
    numbers): ``MinibatchStd`` when ``minibatch_std`` (one feature), then
    ``MinibatchDiscrimination`` with ``minibatch_kernels`` kernels when > 0 (that many
    features, not wrapped), then ``wrap(nn.Linear(·, 1))``, the raw score (``wrap`` adds
    spectral norm where asked). The layers are made in that order, so the random draws
    that make them come in that order too."""
    layers: list[nn.Module] = []
    if minibatch_std:
        layers.append(MinibatchStd())
        features += 1
    if minibatch_kernels:
        layers.append(MinibatchDiscrimination(features, minibatch_kernels, minibatch_kernel_dim))
        features += minibatch_kernels
    layers.append(wrap(nn.Linear(features, 1)))
    return layers


class _PairwiseL1(torch.autograd.Function):
    """d[b, i, j] = Σ_c |m[b, i, c] − m[b, j, c]| for m of shape (B, n, C), keeping only m
    for the backward pass: ∂L/∂m[b, i, c] = Σ_j (G + Gᵀ)[b, i, j] · sign(m[b, i, c] − m[b, j, c])
    with G = ∂L/∂d. The backward is written in differentiable ops, so gradient penalties
    can differentiate it again (torch.cdist's own backward cannot be)."""

    @staticmethod
    def forward(ctx, m: Tensor) -> Tensor:
        ctx.save_for_backward(m)
        return torch.cdist(m, m, p=1.0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (m,) = ctx.saved_tensors
        symmetric = grad + grad.transpose(1, 2)
        # One (B, n, n) sign table per coordinate c: 3x faster on a CPU than one (B, n, n, C)
        # table reduced by einsum, whose last axis is too short to vectorise.
        columns = [(symmetric * (m_c.unsqueeze(2) - m_c.unsqueeze(1)).sign_()).sum(2) for m_c in m.unbind(2)]
        return torch.stack(columns, dim=2)


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
