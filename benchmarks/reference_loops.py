"""Reference loops and the matmul floor for ``bench_suite.py``.

``plain_gan_loop``: the plain PyTorch loop of ``bench_train_step.py`` on gankit's networks
built from stock PyTorch layers (for the DCGAN); ``step_work``: the FLOPs of one step of it and
of gankit's step, whose ratio bounds what gankit's algorithm can gain on FLOP-bound networks.
``minimal_loop``: gankit's algorithm as the leanest hand-written autograd loop (the ceiling
of the autograd step; the trainer's hand-written gradients for plain MLPs go below it).
``MatmulReplay``: the matrix products of one gankit step, replayed as bare float32
``torch.mm`` calls.
"""

from __future__ import annotations

import time

import torch
from torch import nn
from bench_train_step import timed_plain_steps
from gankit.models import build_models
from gankit.models.dcgan import forward_flops
from gankit.models.layers import ImageConvTranspose2d


def step_matmuls(g_shapes, d_shapes, batch: int, pack: int) -> list[tuple[int, int, int]]:
    """(m, k, n) of every matrix product of one gankit step (see ``step_flops`` in
    bench_train_step.py): G forward; D forward on real+fake (one pass); D backward (weight
    grads of every layer, input grads of all but the first); G step: D forward on fake, D
    input grads; G backward (weight grads, input grads of all but the first)."""
    def forward(shapes, rows):
        return [(rows, i, o) for i, o in shapes]

    def weight_grads(shapes, rows):
        return [(o, rows, i) for i, o in shapes]

    def input_grads(shapes, rows):
        return [(rows, o, i) for i, o in shapes]

    d_rows = batch // pack
    return (forward(g_shapes, batch) + forward(d_shapes, 2 * d_rows) + weight_grads(d_shapes, 2 * d_rows)
            + input_grads(d_shapes[1:], 2 * d_rows) + forward(d_shapes, d_rows) + input_grads(d_shapes, d_rows)
            + weight_grads(g_shapes, batch) + input_grads(g_shapes[1:], batch))


class MatmulReplay:
    """The step's matrix products as bare float32 ``torch.mm`` calls: the matmul floor of one step."""

    def __init__(self, shapes: list[tuple[int, int, int]]):
        self.operands = [(torch.randn(m, k), torch.randn(k, n)) for m, k, n in shapes]
        self.flops = sum(2.0 * m * k * n for m, k, n in shapes)

    def seconds(self, repeats: int = 20) -> float:
        for a, b in self.operands:
            torch.mm(a, b)
        start = time.perf_counter()
        for _ in range(repeats):
            for a, b in self.operands:
                torch.mm(a, b)
        return (time.perf_counter() - start) / repeats


def stock_layers(module: nn.Module) -> nn.Module:
    """``module`` with gankit's CPU kernel choices undone: each ``ImageConvTranspose2d`` (the
    generator's last layer, run by PyTorch's im2col kernel) becomes the ``nn.ConvTranspose2d``
    a plain loop would write (same parameters)."""
    for layer in module.modules():
        if isinstance(layer, ImageConvTranspose2d):
            layer.__class__ = nn.ConvTranspose2d
    return module


def step_work(config, sample_shape: tuple[int, ...]) -> tuple[float, float]:
    """(gankit, plain loop) FLOPs of one training step of the networks of ``config`` (linear and
    convolution layers, ``forward_flops``; a layer's weight gradients and its input gradients
    each cost its forward). With F_G, F_D the forward FLOPs at batch b and F_D1 D's first layer's:

    - gankit: G forward; D forward, weight grads and input grads but the first layer's on
      real+fake in one pass (2b); the G step's D forward and input grads on the fake (b); G
      weight and input grads but the first layer's: F_G + 3·F_D(2b) − F_D1(2b) + 2·F_D + 2·F_G − F_G1.
    - the plain loop: the same, plus a second G forward for its G step and D's weight grads
      in the G step (its D parameters still require grad): + F_G + F_D.
    """
    torch.manual_seed(0)
    generator, discriminator = build_models(config.model, sample_shape)
    b, latent = config.train.batch_size, config.model.latent_dim
    f_g = forward_flops(generator, (b, latent))
    f_g1 = forward_flops(generator.net[0], (b, latent))
    f_d = forward_flops(discriminator, (b, *sample_shape))
    f_d1 = forward_flops(discriminator.net[0], (b // config.model.pack, config.model.pack * sample_shape[0],
                                                *sample_shape[1:]))
    gankit = f_g + 3 * 2 * f_d - 2 * f_d1 + 2 * f_d + 2 * f_g - f_g1
    return gankit, gankit + f_g + f_d


def plain_gan_loop(data: torch.Tensor, config, steps: int) -> float:
    """Seconds per step of the plain loop on gankit's networks for ``config`` (used for the
    DCGAN) built from stock PyTorch layers (``stock_layers``): sigmoid + BCELoss on D's logit,
    separate passes, fresh G pass, default Adam."""
    torch.manual_seed(0)
    generator, discriminator = map(stock_layers, build_models(config.model, tuple(data.shape[1:])))
    discriminator = nn.Sequential(discriminator, nn.Sigmoid())
    t = config.train
    g_opt = torch.optim.Adam(generator.parameters(), lr=t.g_lr, betas=tuple(t.g_betas))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=t.d_lr, betas=tuple(t.d_betas))
    return timed_plain_steps(generator, discriminator, data, g_opt, d_opt, batch=t.batch_size,
                             latent=config.model.latent_dim, targets=(t.batch_size,), steps=steps, warmup=3)


def minimal_loop(data: torch.Tensor, config, steps: int) -> float:
    """Seconds per step of the leanest hand-written autograd loop of gankit's algorithm on gankit's
    networks for ``config`` (plain MLPs run as one autograd node each, models/fused.py): one D
    pass over real+fake, the D step's fake reused by the G step, G-only backward, fused Adam,
    the EMA of G; no statistics, LR schedule or trainer around it. The ceiling of what the
    trainer's autograd step can reach."""
    torch.manual_seed(0)
    generator, discriminator = build_models(config.model, tuple(data.shape[1:]))
    ema = [p.detach().clone() for p in generator.parameters()]
    t, batch, pack = config.train, config.train.batch_size, config.model.pack
    g_params, d_params = list(generator.parameters()), list(discriminator.parameters())
    g_opt = torch.optim.Adam(g_params, lr=t.g_lr, betas=tuple(t.g_betas), fused=True)
    d_opt = torch.optim.Adam(d_params, lr=t.d_lr, betas=tuple(t.d_betas), fused=True)
    softplus = nn.functional.softplus
    order = torch.randperm(len(data))
    start = time.perf_counter()
    for step in range(steps + 5):
        if step == 5:
            start = time.perf_counter()
        real = data[order[(step % (len(data) // batch)) * batch:][:batch]]
        fake = generator(torch.randn(batch, config.model.latent_dim))
        scores = discriminator(torch.cat([real, fake.detach()]))
        d_loss = softplus(-scores[: batch // pack]).mean() + softplus(scores[batch // pack:]).mean()
        for p in d_params:
            p.grad = None
        d_loss.backward()
        d_opt.step()
        g_loss = softplus(-discriminator(fake)).mean()
        for p in g_params:
            p.grad = None
        g_loss.backward(inputs=g_params)
        g_opt.step()
        if t.ema_decay > 0:
            torch._foreach_lerp_(ema, [p.detach() for p in g_params], 1 - t.ema_decay)
    return (time.perf_counter() - start) / steps
