"""The exported generator: a run's generator behind a fixed signature, plus the architecture
record that rebuilds it without the run folder.

Every format exports the same :class:`ExportedGenerator`, so an ONNX file, a TorchScript file
and a safetensors file of one run compute one function: latent batch ``z`` (B, latent_dim)
float32 -> samples (B, *sample_shape), images in [-1, 1] or points, or uint8 pixels in
[0, 255] when the pixel mapping is baked in.

Inputs are described by ``architecture["inputs"]`` (name, shape, dtype), not hard-coded:
a conditional generator adds ``{"name": "class_id", "shape": ["batch"], "dtype": "int64"}``
after ``z`` and every writer (input names, dynamic batch axes, example inputs, the card's
usage lines) follows from that list.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

import torch
from torch import Tensor, nn

from gankit.config.schema import ModelConfig
from gankit.errors import ConfigError
from gankit.models import build_generator

ARCHITECTURE_FORMAT = "gankit-generator"
ARCHITECTURE_VERSION = 1
# The ModelConfig fields that shape the generator (the rest describe the discriminator).
GENERATOR_FIELDS = ("family", "dcgan_style", "base_width", "latent_dim", "latent_distribution", "g_hidden",
                    "g_slope", "g_dropout", "g_batch_norm", "g_output", "conditional", "class_dim")


def is_image_shape(sample_shape: tuple[int, ...]) -> bool:
    """Images are (C, H, W); anything else is a point set (vectors)."""
    return len(sample_shape) == 3


class ExportedGenerator(nn.Module):
    """``z`` (B, latent_dim) [, more inputs of a conditional generator] -> samples.

    ``uint8=True`` appends gankit's pixel mapping (the one ``gankit sample`` writes PNGs with):
    pixel = clamp(round((x + 1) · 127.5), 0, 255) as uint8, round half to even, NaN -> 0.
    The wrapped generator runs in eval mode (batch norm uses its running statistics, no dropout).
    """

    def __init__(self, generator: nn.Module, architecture: dict[str, Any]) -> None:
        super().__init__()
        self.generator = generator.eval()
        self.architecture = architecture
        self.latent_dim = int(architecture["latent_dim"])
        self.sample_shape = tuple(int(d) for d in architecture["sample_shape"])
        self.latent_distribution = str(architecture["latent_distribution"])
        self.uint8 = bool(architecture["uint8"])

    def forward(self, z: Tensor, *conditions: Tensor) -> Tensor:
        samples = self.generator(z, *conditions)
        if self.uint8:
            samples = samples.masked_fill(torch.isnan(samples), -1.0)
            samples = ((samples + 1.0) * 127.5).round().clamp(0.0, 255.0).to(torch.uint8)
        return samples


def architecture_of(model_config: ModelConfig, sample_shape: tuple[int, ...], *, uint8: bool = False,
                    truncation: float = 0.0, class_names: list[str] | None = None) -> dict[str, Any]:
    """The JSON-able record that rebuilds the generator (:func:`build_from_architecture`) and
    names the exported model's inputs and output: ``z``, and for a conditional generator
    ``labels`` (int64 class indices, ``class_names[i]`` for label i)."""
    sample_shape = tuple(int(d) for d in sample_shape)
    images = is_image_shape(sample_shape)
    if uint8 and not images:
        raise ConfigError(f"--uint8 maps images to pixels, but this run generates points of shape "
                          f"{sample_shape}; export without --uint8")
    model = {name: value for name, value in asdict(model_config).items() if name in GENERATOR_FIELDS}
    output = "images" if images else "points"
    inputs = [{"name": "z", "shape": ["batch", int(model_config.latent_dim)], "dtype": "float32"}]
    classes = {}
    if model_config.conditional:
        if not class_names:
            raise ConfigError("a conditional generator's export needs its class names (from the checkpoint)")
        inputs.append({"name": "labels", "shape": ["batch"], "dtype": "int64"})
        classes = {"class_names": [str(name) for name in class_names]}
    return {
        "format": ARCHITECTURE_FORMAT, "version": ARCHITECTURE_VERSION,
        "family": model_config.family, "sample_shape": list(sample_shape),
        "latent_dim": int(model_config.latent_dim), "latent_distribution": model_config.latent_distribution,
        "truncation": float(truncation), "uint8": bool(uint8), "model": model,
        "inputs": inputs, **classes,
        "output": {"name": output, "shape": ["batch", *sample_shape], "dtype": "uint8" if uint8 else "float32",
                   "range": "[0, 255]" if uint8 else ("[-1, 1]" if model_config.g_output == "tanh" else None)},
    }


def build_from_architecture(architecture: dict[str, Any]) -> ExportedGenerator:
    """An :class:`ExportedGenerator` with freshly initialised weights, from an architecture record."""
    if not isinstance(architecture, dict) or architecture.get("format") != ARCHITECTURE_FORMAT:
        raise ConfigError("not a gankit generator architecture record (format 'gankit-generator')")
    if int(architecture.get("version", 0)) > ARCHITECTURE_VERSION:
        raise ConfigError(f"generator architecture version {architecture['version']} is newer than this gankit "
                          f"reads ({ARCHITECTURE_VERSION}); upgrade gankit")
    known = {f.name for f in fields(ModelConfig)}
    model_config = ModelConfig(**{k: v for k, v in architecture["model"].items() if k in known})
    n_classes = len(architecture["class_names"]) if architecture.get("class_names") else None
    generator = build_generator(model_config, tuple(architecture["sample_shape"]), n_classes)
    return ExportedGenerator(generator, architecture)


def example_inputs(architecture: dict[str, Any], batch: int) -> tuple[Tensor, ...]:
    """One tensor per declared input for a batch of ``batch``: latents ``z`` ~ N(0, I) (float
    inputs) and class 0 (integer inputs), what tracing runs the generator on."""
    seeded = torch.Generator().manual_seed(0)
    tensors = []
    for spec in architecture["inputs"]:
        shape = [batch if d == "batch" else int(d) for d in spec["shape"]]
        if spec["dtype"] == "float32":
            tensors.append(torch.randn(shape, generator=seeded))
        else:
            tensors.append(torch.zeros(shape, dtype=getattr(torch, spec["dtype"])))
    return tuple(tensors)
