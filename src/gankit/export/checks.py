"""Checks of a safetensors export before ``load_generator`` builds anything from it.

The architecture record (in the file's header, or in the ``FILE.json`` card) may have been
edited: its keys, types and names are checked as a config's are, and the network it
describes is built on PyTorch's ``meta`` device (shapes only, no memory) and compared,
tensor by tensor, with the shapes the safetensors header lists. Only a record that fits
the weights in the file is then built for real, so an edited ``base_width=200000`` is one
line, not a 15 GB network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gankit.config import config_from_dict
from gankit.config.schema import ModelConfig
from gankit.errors import GankitError
from gankit.export.module import ARCHITECTURE_FORMAT, ARCHITECTURE_VERSION, GENERATOR_FIELDS
from gankit.models import build_generator

RECORD_KEYS = frozenset({"format", "version", "family", "sample_shape", "latent_dim", "latent_distribution",
                         "truncation", "uint8", "model", "inputs", "output", "class_names"})
REQUIRED_KEYS = ("format", "version", "sample_shape", "latent_dim", "latent_distribution", "uint8", "model")
AGAIN = "export it again with `gankit export --format safetensors`"


def tensor_shapes(path: Path) -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """The shape of every tensor of the safetensors file ``path`` and its metadata, read from
    its header alone (no tensor is loaded)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            shapes = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
            return shapes, dict(handle.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise GankitError(f"'{path}' is not a safetensors file ({exc}); ONNX exports load with onnxruntime, "
                          "TorchScript exports with torch.jit.load") from None


def check_record(record: Any, source: str) -> tuple[ModelConfig, tuple[int, ...], int | None]:
    """The generator's model settings, sample shape and class count from an architecture
    ``record`` read from ``source``; GankitError (one line) for anything an export never holds."""
    def fail(problem: str) -> GankitError:
        return GankitError(f"{source}: {problem}; {AGAIN}")

    if not isinstance(record, dict) or record.get("format") != ARCHITECTURE_FORMAT:
        raise fail(f"not a gankit generator architecture record (format '{ARCHITECTURE_FORMAT}')")
    version = record.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise fail(f"'version' is {version!r}, not a version number")
    if version > ARCHITECTURE_VERSION:
        raise GankitError(f"{source}: generator architecture version {version} is newer than this gankit reads "
                          f"({ARCHITECTURE_VERSION}); upgrade gankit")
    missing = [key for key in REQUIRED_KEYS if key not in record]
    if missing:
        raise fail(f"the key '{missing[0]}' is missing")
    if not isinstance(record["model"], dict):
        raise fail(f"'model' is {type(record['model']).__name__}, not a table of settings")
    unknown = sorted(set(record) - RECORD_KEYS) or [f"model.{key}" for key in sorted(record["model"])
                                                    if key not in GENERATOR_FIELDS]
    if unknown:
        raise fail(f"unknown key '{unknown[0]}'")
    try:
        model = config_from_dict({"model": record["model"]}).model
    except GankitError as exc:
        raise fail(str(exc)) from None
    if any(width < 1 for width in model.g_hidden):
        raise fail(f"model.g_hidden: widths must be at least 1, got {model.g_hidden}")
    shape = record["sample_shape"]
    if (not isinstance(shape, list) or len(shape) not in (1, 3)
            or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape)):
        raise fail(f"'sample_shape' is {shape!r}, not [features] or [channels, height, width] of positive whole "
                   "numbers")
    for key, value in (("family", model.family), ("latent_dim", model.latent_dim),
                       ("latent_distribution", model.latent_distribution)):
        if key in record and record[key] != value:
            raise fail(f"'{key}' is {record[key]!r} but model.{key} is {value!r}")
    if not isinstance(record["uint8"], bool) or (record["uint8"] and len(shape) != 3):
        raise fail(f"'uint8' is {record['uint8']!r}; it is true or false, and true only for images")
    truncation = record.get("truncation", 0.0)
    if isinstance(truncation, bool) or not isinstance(truncation, (int, float)) or not truncation >= 0:
        raise fail(f"'truncation' is {truncation!r}, not a number of at least 0")
    names = record.get("class_names")
    if model.conditional != bool(names) or (names and not all(isinstance(name, str) for name in names)):
        raise fail("'class_names' must list the classes (strings) of a conditional generator, and only of one")
    return model, tuple(shape), len(names) if names else None


def check_weights(model: ModelConfig, sample_shape: tuple[int, ...], n_classes: int | None,
                  shapes: dict[str, tuple[int, ...]], source: str) -> None:
    """GankitError unless the generator ``model`` describes has exactly the tensors ``shapes``
    lists (names and shapes); built on the meta device, so its size costs nothing."""
    if len(model.g_hidden) >= len(shapes):  # every layer has a weight: more layers than tensors cannot fit
        raise GankitError(f"{source}: model.g_hidden has {len(model.g_hidden)} layers, but the file holds "
                          f"{len(shapes)} tensors; {AGAIN}")
    try:
        with torch.device("meta"):
            generator = build_generator(model, sample_shape, n_classes)
    except GankitError as exc:
        raise GankitError(f"{source}: {exc}") from None
    except (RuntimeError, ValueError, TypeError) as exc:
        raise GankitError(f"{source}: no generator can be built from it ({exc}); {AGAIN}") from None
    expected = {name: tuple(tensor.shape) for name, tensor in generator.state_dict().items()}
    problems = [f"'{name}' is missing from the file" for name in expected if name not in shapes]
    problems += [f"the file holds '{name}', which the architecture has not" for name in shapes
                 if name not in expected]
    problems += [f"'{name}' is {_dims(shapes[name])} in the file but {_dims(size)} in the architecture"
                 for name, size in expected.items() if name in shapes and shapes[name] != size]
    if problems:
        raise GankitError(f"{source}: the weights do not fit the architecture it records: {problems[0]}"
                          + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "") + f"; {AGAIN}")


def _dims(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape) or "a scalar"
