"""Model families by name: ``build_models(config.model, sample_shape)`` -> (G, D)."""

from __future__ import annotations

from torch import nn

from gankit.models.mlp import MLPDiscriminator, MLPGenerator


def build_generator(model_config, sample_shape: tuple[int, ...]) -> nn.Module:
    """The generator for data of ``sample_shape`` (e.g. (2,) points)."""
    m = model_config
    return MLPGenerator(
        m.latent_dim, m.g_hidden, sample_shape, slope=m.g_slope, dropout=m.g_dropout,
        output_activation=m.g_output, batch_norm=m.g_batch_norm,
    )


def build_discriminator(model_config, sample_shape: tuple[int, ...]) -> nn.Module:
    """The discriminator (raw scores, one per pack of ``model.pack`` samples)."""
    m = model_config
    return MLPDiscriminator(
        sample_shape, m.d_hidden, slope=m.d_slope, dropout=m.d_dropout, pack=m.pack,
        spectral_norm=m.spectral_norm, minibatch_std=m.minibatch_std,
    )


def build_models(model_config, sample_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    return build_generator(model_config, sample_shape), build_discriminator(model_config, sample_shape)
