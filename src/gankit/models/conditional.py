"""Class-conditional G and D around any family's networks (``model.conditional = true``).

Generator: a learned class embedding e_y ∈ R^d (``model.class_dim``) is concatenated to the
latent code, G(z, y) = G₀([z, e_y]); G₀ is the family's generator built for a latent of
length latent_dim + d (the conditional DCGAN of Mirza & Osindero 2014, with an embedding
in place of the one-hot code).

Discriminator: the projection discriminator (Miyato & Koyama 2018),

    D(x, y) = ψ(φ(x)) + ⟨v_y, φ(x)⟩,

where φ(x) is the base discriminator's last feature vector (everything of its ``net``
before the final Linear), ψ that final Linear (the unconditional logit) and v_y a learned
class embedding of φ's length. With ``model.spectral_norm`` the embedding is spectrally
normalised too, as in the paper. The base networks must end their ``net`` with the
Linear that gives one raw score; every family's discriminator does.

The generator keeps the training data's class frequencies as a buffer (``class_weights``,
saved in its state dict): :func:`draw_labels` draws classes from them when a caller asks for
samples without naming classes, so metrics compare like with like on imbalanced data.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from gankit.errors import ConfigError

__all__ = ["AtClass", "ConditionalGenerator", "ProjectionDiscriminator", "is_conditional", "set_class_weights", "unwrap"]


def unwrap(module: nn.Module) -> nn.Module:
    """The module itself under a DDP (``.module``) or torch.compile (``._orig_mod``) wrapper."""
    inner = getattr(module, "module", module)
    return getattr(inner, "_orig_mod", inner)


def is_conditional(module: nn.Module) -> bool:
    """Whether ``module`` (a generator or discriminator, possibly wrapped) takes class labels."""
    return isinstance(unwrap(module), (ConditionalGenerator, ProjectionDiscriminator))


def _check_labels(labels: Tensor, batch: int, n_classes: int) -> None:
    if labels.ndim != 1 or labels.shape[0] != batch:
        raise ValueError(f"expected one class label per sample ({batch}), got labels of shape {tuple(labels.shape)}")
    if labels.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"class labels must be integers, got {labels.dtype}")


class ConditionalGenerator(nn.Module):
    """z (B, latent_dim), labels (B,) int64 -> samples: ``base([z, embedding(labels)])``."""

    def __init__(self, base: nn.Module, latent_dim: int, n_classes: int, class_dim: int) -> None:
        super().__init__()
        if n_classes < 2:
            raise ConfigError(f"a conditional generator needs at least 2 classes, got {n_classes}")
        if class_dim < 1:
            raise ConfigError(f"model.class_dim must be >= 1, got {class_dim}")
        self.base = base
        self.latent_dim, self.n_classes, self.class_dim = int(latent_dim), int(n_classes), int(class_dim)
        self.out_shape = getattr(base, "out_shape", None)
        self.embedding = nn.Embedding(n_classes, class_dim)  # N(0, 1) rows, like the latent's scale
        self.register_buffer("class_weights", torch.ones(n_classes))

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        _check_labels(labels, z.shape[0], self.n_classes)
        return self.base(torch.cat([z, self.embedding(labels).to(z.dtype)], dim=1))


class ProjectionDiscriminator(nn.Module):
    """x (B, ...), labels (B,) -> raw scores (B,): ψ(φ(x)) + ⟨v_y, φ(x)⟩ (module docstring)."""

    def __init__(self, base: nn.Module, n_classes: int, *, spectral_norm: bool = False) -> None:
        super().__init__()
        if n_classes < 2:
            raise ConfigError(f"a conditional discriminator needs at least 2 classes, got {n_classes}")
        if getattr(base, "pack", 1) != 1:
            raise ConfigError("model.conditional does not combine with model.pack > 1 (a pack holds samples of "
                              "several classes); set model.pack=1")
        head = base.net[-1]
        if not isinstance(head, nn.Linear) or head.out_features != 1:
            raise ConfigError(f"{type(base).__name__} does not end with a Linear to one score; it cannot take a "
                              "projection head")
        self.base = base
        self.n_classes = int(n_classes)
        self.pack = 1
        self.in_shape = getattr(base, "in_shape", None)
        embedding = nn.Embedding(n_classes, head.in_features)
        nn.init.normal_(embedding.weight, 0.0, 0.02)
        self.embedding = _spectral_norm(embedding) if spectral_norm else embedding

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        _check_labels(labels, x.shape[0], self.n_classes)
        features = self.base.features(x)
        return self.base.net[-1](features).squeeze(1) + (self.embedding(labels) * features).sum(dim=1)


@torch.no_grad()
def set_class_weights(generator: nn.Module, labels: Tensor, n_classes: int) -> None:
    """Store the training labels' class frequencies in a conditional generator."""
    counts = torch.bincount(labels.cpu(), minlength=n_classes).to(torch.float32)
    generator.class_weights.copy_(counts / counts.sum())


class AtClass(nn.Module):
    """A conditional discriminator with its class fixed: ``x -> D(x, label)`` (DRS of one class)."""

    def __init__(self, discriminator: nn.Module, label: int) -> None:
        super().__init__()
        self.discriminator = discriminator
        self.label = int(label)
        self.pack = 1

    def forward(self, x: Tensor) -> Tensor:
        return self.discriminator(x, torch.full((x.shape[0],), self.label, dtype=torch.int64, device=x.device))
