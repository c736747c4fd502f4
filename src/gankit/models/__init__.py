"""Model families by name: ``build_models(config.model, sample_shape)`` -> (G, D).

``mlp`` works for any sample shape (points or flattened images); ``dcgan`` needs
(C, H, W) images, in one of the layouts ``DCGAN_STYLES`` (``tf`` and ``keras`` in
``dcgan.py``, ``radford`` in ``radford.py``: square sides 4·2^k). Every option comes from
the config as written: DCGAN presets set the slopes, dropout and batch norm of their style
explicitly.
"""

from __future__ import annotations

from dataclasses import replace

from torch import nn

from gankit.errors import ConfigError
from gankit.models.conditional import ConditionalGenerator, ProjectionDiscriminator, is_conditional
from gankit.models.dcgan import STYLES, DCGANDiscriminator, DCGANGenerator
from gankit.models.mlp import MLPDiscriminator, MLPGenerator
from gankit.models.radford import RADFORD, RadfordDiscriminator, RadfordGenerator

__all__ = ["DCGAN_STYLES", "MODEL_FAMILIES", "build_discriminator", "build_generator", "build_models", "is_conditional"]

# Every model.family the builders know (config/schema.py's choices are tested equal to it).
MODEL_FAMILIES: tuple[str, ...] = ("mlp", "dcgan")
# Every model.dcgan_style (the schema's choices are tested equal to it).
DCGAN_STYLES: tuple[str, ...] = (*STYLES, RADFORD)


def build_generator(model_config, sample_shape: tuple[int, ...], n_classes: int | None = None) -> nn.Module:
    """The generator for data of ``sample_shape`` (e.g. (2,) points, (1, 28, 28) digits); with
    ``model.conditional`` it takes (z, labels) of ``n_classes`` classes (models/conditional.py)."""
    m = model_config
    if m.conditional:
        n_classes = _class_count(n_classes)
        base = build_generator(replace(m, conditional=False, latent_dim=m.latent_dim + m.class_dim), sample_shape)
        return ConditionalGenerator(base, m.latent_dim, n_classes, m.class_dim)
    if m.family == "dcgan":
        _require_images(sample_shape)
        if m.dcgan_style == RADFORD:
            return RadfordGenerator(m.latent_dim, sample_shape, base_width=m.base_width, batch_norm=m.g_batch_norm,
                                    dropout=m.g_dropout, output_activation=m.g_output, slope=m.g_slope)
        return DCGANGenerator(
            m.latent_dim, sample_shape, style=m.dcgan_style, base_width=m.base_width,
            batch_norm=m.g_batch_norm, dropout=m.g_dropout, output_activation=m.g_output, slope=m.g_slope,
        )
    return MLPGenerator(
        m.latent_dim, m.g_hidden, sample_shape, slope=m.g_slope, dropout=m.g_dropout,
        output_activation=m.g_output, batch_norm=m.g_batch_norm,
    )


def build_discriminator(model_config, sample_shape: tuple[int, ...], n_classes: int | None = None) -> nn.Module:
    """The discriminator (raw scores, one per pack of ``model.pack`` samples); with
    ``model.conditional`` a projection discriminator taking (x, labels)."""
    m = model_config
    if m.conditional:
        n_classes = _class_count(n_classes)
        base = build_discriminator(replace(m, conditional=False), sample_shape)
        return ProjectionDiscriminator(base, n_classes, spectral_norm=m.spectral_norm)
    if m.family == "dcgan":
        _require_images(sample_shape)
        if m.dcgan_style == RADFORD:
            return RadfordDiscriminator(sample_shape, base_width=m.d_base_width or m.base_width,
                                        batch_norm=m.d_batch_norm,
                                        dropout=m.d_dropout, slope=m.d_slope, pack=m.pack,
                                        spectral_norm=m.spectral_norm, minibatch_std=m.minibatch_std,
                                        minibatch_kernels=m.minibatch_kernels,
                                        minibatch_kernel_dim=m.minibatch_kernel_dim)
        return DCGANDiscriminator(
            sample_shape, style=m.dcgan_style, base_width=m.d_base_width or m.base_width, batch_norm=m.d_batch_norm,
            dropout=m.d_dropout, slope=m.d_slope, pack=m.pack, spectral_norm=m.spectral_norm,
            minibatch_std=m.minibatch_std, minibatch_kernels=m.minibatch_kernels,
            minibatch_kernel_dim=m.minibatch_kernel_dim,
        )
    return MLPDiscriminator(
        sample_shape, m.d_hidden, slope=m.d_slope, dropout=m.d_dropout, pack=m.pack,
        spectral_norm=m.spectral_norm, minibatch_std=m.minibatch_std, minibatch_kernels=m.minibatch_kernels,
        minibatch_kernel_dim=m.minibatch_kernel_dim, pack_init=m.pack_init,
    )


def build_models(model_config, sample_shape: tuple[int, ...], n_classes: int | None = None
                 ) -> tuple[nn.Module, nn.Module]:
    return (build_generator(model_config, sample_shape, n_classes),
            build_discriminator(model_config, sample_shape, n_classes))


def _class_count(n_classes: int | None) -> int:
    if n_classes is None:
        raise ConfigError("model.conditional=true needs data with classes (one subfolder per class, or MNIST's "
                          "labels); this data has none: set model.conditional=false")
    return int(n_classes)


def _require_images(sample_shape: tuple[int, ...]) -> None:
    if len(sample_shape) != 3:
        raise ConfigError(
            f"model.family: dcgan needs image data (C, H, W), but the data has samples of shape {tuple(sample_shape)}; "
            "use model.family=mlp"
        )
