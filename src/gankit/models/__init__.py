"""Model families by name: ``build_models(config.model, sample_shape)`` -> (G, D).

``mlp`` works for any sample shape (points or flattened images); ``dcgan`` needs
(C, S, S) images. Every option comes from the config as written: DCGAN presets set
the slopes, dropout and batch norm of their style explicitly.
"""

from __future__ import annotations

from torch import nn

from gankit.errors import ConfigError
from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.models.mlp import MLPDiscriminator, MLPGenerator

# Every model.family the builders know (config/schema.py's choices are tested equal to it).
MODEL_FAMILIES: tuple[str, ...] = ("mlp", "dcgan")


def build_generator(model_config, sample_shape: tuple[int, ...]) -> nn.Module:
    """The generator for data of ``sample_shape`` (e.g. (2,) points, (1, 28, 28) digits)."""
    m = model_config
    if m.family == "dcgan":
        _require_images(sample_shape)
        return DCGANGenerator(
            m.latent_dim, sample_shape, style=m.dcgan_style, base_width=m.base_width,
            batch_norm=m.g_batch_norm, dropout=m.g_dropout, output_activation=m.g_output, slope=m.g_slope,
        )
    return MLPGenerator(
        m.latent_dim, m.g_hidden, sample_shape, slope=m.g_slope, dropout=m.g_dropout,
        output_activation=m.g_output, batch_norm=m.g_batch_norm,
    )


def build_discriminator(model_config, sample_shape: tuple[int, ...]) -> nn.Module:
    """The discriminator (raw scores, one per pack of ``model.pack`` samples)."""
    m = model_config
    if m.family == "dcgan":
        _require_images(sample_shape)
        return DCGANDiscriminator(
            sample_shape, style=m.dcgan_style, base_width=m.d_base_width or m.base_width, batch_norm=m.d_batch_norm,
            dropout=m.d_dropout, slope=m.d_slope, pack=m.pack, spectral_norm=m.spectral_norm,
            minibatch_std=m.minibatch_std,
        )
    return MLPDiscriminator(
        sample_shape, m.d_hidden, slope=m.d_slope, dropout=m.d_dropout, pack=m.pack,
        spectral_norm=m.spectral_norm, minibatch_std=m.minibatch_std,
    )


def build_models(model_config, sample_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    return build_generator(model_config, sample_shape), build_discriminator(model_config, sample_shape)


def _require_images(sample_shape: tuple[int, ...]) -> None:
    if len(sample_shape) != 3:
        raise ConfigError(
            f"model.family: dcgan needs image data (C, H, W), but the data has samples of shape {tuple(sample_shape)}; "
            "use model.family=mlp"
        )
