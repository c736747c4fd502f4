"""How much memory a config's networks need, known before they are built, so that an absurd
width (``model.latent_dim=1000000000``) is one line naming the key instead of minutes of
swapping, a MemoryError or a killed process.

The networks are built on PyTorch's ``meta`` device: every parameter has its shape and no
storage, so counting them costs milliseconds whatever their size. Training holds each
parameter four times (weights, gradients, Adam's two moments), G's once more for its EMA copy.
"""

from __future__ import annotations

import dataclasses

import torch

from gankit.errors import ConfigError
from gankit.models import build_models

# What to lower when the networks do not fit, in the order tried.
SIZE_KEYS = ("latent_dim", "g_hidden", "d_hidden", "base_width", "d_base_width", "class_dim",
             "minibatch_kernels", "minibatch_kernel_dim")
BYTES = 4  # float32
COPIES_TRAINED = 4  # weights, gradients, Adam's first and second moments


def parameter_counts(model_config, sample_shape: tuple[int, ...], n_classes: int | None = None) -> tuple[int, int]:
    """(G's, D's) parameter and buffer counts, from networks built without storage."""
    with torch.device("meta"):
        nets = build_models(model_config, sample_shape, n_classes)
    return tuple(sum(t.numel() for t in (*net.parameters(), *net.buffers())) for net in nets)


def training_bytes(model_config, sample_shape: tuple[int, ...], n_classes: int | None = None, *,
                   ema: bool = False) -> int:
    """Bytes the two networks take while they train (their activations not counted)."""
    g, d = parameter_counts(model_config, sample_shape, n_classes)
    return BYTES * (g * (COPIES_TRAINED + int(ema)) + d * COPIES_TRAINED)


def check_fits(model_config, sample_shape: tuple[int, ...], n_classes: int | None, memory: int | None, *,
               ema: bool = False, latent_rows: int = 0, where: str = "this machine's memory") -> None:
    """Raise ConfigError when training the networks (and ``latent_rows`` latent codes: a batch,
    the fixed picture latents) needs more than ``memory`` bytes, naming the key whose value,
    put back to its default, saves the most."""
    if memory is None:
        return

    def need(config) -> int:
        return training_bytes(config, sample_shape, n_classes, ema=ema) + BYTES * latent_rows * config.latent_dim

    total = need(model_config)
    if total <= memory:
        return
    defaults = type(model_config)()
    savings = {key: total - need(dataclasses.replace(model_config, **{key: getattr(defaults, key)}))
               for key in SIZE_KEYS if getattr(model_config, key) != getattr(defaults, key)}
    savings = {key: saved for key, saved in savings.items() if saved > 0}
    key = f"model.{max(savings, key=savings.get)}" if savings else "the model's widths"
    raise ConfigError(f"{key}: training these networks needs about {_size(total)}, more than {where} "
                      f"({_size(memory)}); lower it")


def _size(count: int) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count / 1e3:.3g} kB"
