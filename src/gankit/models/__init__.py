"""Model families by name: ``build_models(config.model, sample_shape)`` -> (G, D).

``mlp`` works for any sample shape (points or flattened images); ``dcgan`` needs
(C, H, W) images, in one of the layouts ``DCGAN_STYLES`` (``tf`` and ``keras`` in
``dcgan.py``, ``radford`` in ``radford.py``: square sides 4·2^k). Every option comes from
the config as written: DCGAN presets set the slopes, dropout and batch norm of their style
explicitly.

Every family is one record in ``MODEL_FAMILIES`` and every DCGAN layout one in
``DCGAN_STYLES`` (registered below); ``register_model_family`` / ``register_dcgan_style``
add another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from torch import nn

from gankit.config.registry import DCGAN_STYLE_NAMES, MODEL_FAMILY_NAMES, Registry
from gankit.errors import ConfigError
from gankit.models.conditional import ConditionalGenerator, ProjectionDiscriminator, is_conditional
from gankit.models.dcgan import STYLES, DCGANDiscriminator, DCGANGenerator
from gankit.models.mlp import MLPDiscriminator, MLPGenerator
from gankit.models.radford import RADFORD, RadfordDiscriminator, RadfordGenerator

__all__ = ["DCGAN_STYLES", "MODEL_FAMILIES", "ModelFamily", "build_discriminator", "build_generator", "build_models",
           "is_conditional", "register_dcgan_style", "register_model_family"]

Builder = Callable[..., nn.Module]  # (model_config, sample_shape) -> network


@dataclass(frozen=True)
class ModelFamily:
    """A network family (or a DCGAN style): ``build_generator(model_config, sample_shape)`` and
    ``build_discriminator(model_config, sample_shape)``, unconditional (the conditional wrappers
    are added around them). D outputs one raw score per pack of ``model.pack`` samples; both
    builders must work under ``torch.device("meta")``."""

    name: str
    build_generator: Builder
    build_discriminator: Builder


# Every model.family and every model.dcgan_style (iterate in config/registry.py's order).
MODEL_FAMILIES: Registry[ModelFamily] = Registry(MODEL_FAMILY_NAMES)
DCGAN_STYLES: Registry[ModelFamily] = Registry(DCGAN_STYLE_NAMES)


def register_model_family(record: ModelFamily) -> ModelFamily:
    """Make ``record`` a network family: ``model.family`` and the builders take its name."""
    return MODEL_FAMILIES.register(record)


def register_dcgan_style(record: ModelFamily) -> ModelFamily:
    """Make ``record`` a layout of the dcgan family: ``model.dcgan_style`` takes its name."""
    return DCGAN_STYLES.register(record)


def build_generator(model_config, sample_shape: tuple[int, ...], n_classes: int | None = None) -> nn.Module:
    """The generator for data of ``sample_shape`` (e.g. (2,) points, (1, 28, 28) digits); with
    ``model.conditional`` it takes (z, labels) of ``n_classes`` classes (models/conditional.py)."""
    m = model_config
    if m.conditional:
        n_classes = _class_count(n_classes)
        base = build_generator(replace(m, conditional=False, latent_dim=m.latent_dim + m.class_dim), sample_shape)
        return ConditionalGenerator(base, m.latent_dim, n_classes, m.class_dim)
    return MODEL_FAMILIES[m.family].build_generator(m, sample_shape)


def build_discriminator(model_config, sample_shape: tuple[int, ...], n_classes: int | None = None) -> nn.Module:
    """The discriminator (raw scores, one per pack of ``model.pack`` samples); with
    ``model.conditional`` a projection discriminator taking (x, labels)."""
    m = model_config
    if m.conditional:
        n_classes = _class_count(n_classes)
        base = build_discriminator(replace(m, conditional=False), sample_shape)
        return ProjectionDiscriminator(base, n_classes, spectral_norm=m.spectral_norm)
    return MODEL_FAMILIES[m.family].build_discriminator(m, sample_shape)


# --- mlp: any sample shape --------------------------------------------------------------------

def _mlp_generator(m, sample_shape: tuple[int, ...]) -> nn.Module:
    return MLPGenerator(
        m.latent_dim, m.g_hidden, sample_shape, slope=m.g_slope, dropout=m.g_dropout,
        output_activation=m.g_output, batch_norm=m.g_batch_norm,
    )


def _mlp_discriminator(m, sample_shape: tuple[int, ...]) -> nn.Module:
    return MLPDiscriminator(
        sample_shape, m.d_hidden, slope=m.d_slope, dropout=m.d_dropout, pack=m.pack,
        spectral_norm=m.spectral_norm, minibatch_std=m.minibatch_std, minibatch_kernels=m.minibatch_kernels,
        minibatch_kernel_dim=m.minibatch_kernel_dim, pack_init=m.pack_init,
    )


register_model_family(ModelFamily("mlp", _mlp_generator, _mlp_discriminator))


# --- dcgan: (C, H, W) images, in one of the DCGAN_STYLES ------------------------------------

def _dcgan_generator(m, sample_shape: tuple[int, ...]) -> nn.Module:
    _require_images(sample_shape)
    return DCGAN_STYLES[m.dcgan_style].build_generator(m, sample_shape)


def _dcgan_discriminator(m, sample_shape: tuple[int, ...]) -> nn.Module:
    _require_images(sample_shape)
    return DCGAN_STYLES[m.dcgan_style].build_discriminator(m, sample_shape)


register_model_family(ModelFamily("dcgan", _dcgan_generator, _dcgan_discriminator))


def _style_generator(m, sample_shape: tuple[int, ...]) -> nn.Module:
    return DCGANGenerator(
        m.latent_dim, sample_shape, style=m.dcgan_style, base_width=m.base_width,
        batch_norm=m.g_batch_norm, dropout=m.g_dropout, output_activation=m.g_output, slope=m.g_slope,
    )


def _style_discriminator(m, sample_shape: tuple[int, ...]) -> nn.Module:
    return DCGANDiscriminator(
        sample_shape, style=m.dcgan_style, base_width=m.d_base_width or m.base_width, batch_norm=m.d_batch_norm,
        dropout=m.d_dropout, slope=m.d_slope, pack=m.pack, spectral_norm=m.spectral_norm,
        minibatch_std=m.minibatch_std, minibatch_kernels=m.minibatch_kernels,
        minibatch_kernel_dim=m.minibatch_kernel_dim,
    )


def _radford_generator(m, sample_shape: tuple[int, ...]) -> nn.Module:
    return RadfordGenerator(m.latent_dim, sample_shape, base_width=m.base_width, batch_norm=m.g_batch_norm,
                            dropout=m.g_dropout, output_activation=m.g_output, slope=m.g_slope)


def _radford_discriminator(m, sample_shape: tuple[int, ...]) -> nn.Module:
    return RadfordDiscriminator(sample_shape, base_width=m.d_base_width or m.base_width, batch_norm=m.d_batch_norm,
                                dropout=m.d_dropout, slope=m.d_slope, pack=m.pack,
                                spectral_norm=m.spectral_norm, minibatch_std=m.minibatch_std,
                                minibatch_kernels=m.minibatch_kernels, minibatch_kernel_dim=m.minibatch_kernel_dim)


for _style in STYLES:  # the TF tutorial's and the Keras MNIST layouts (dcgan.py)
    register_dcgan_style(ModelFamily(_style, _style_generator, _style_discriminator))
register_dcgan_style(ModelFamily(RADFORD, _radford_generator, _radford_discriminator))


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
