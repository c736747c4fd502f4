"""Serialise an :class:`ExportedGenerator` as ONNX, TorchScript or safetensors bytes.

- ONNX: the TorchScript-based exporter (``dynamo=False``), which needs neither onnxscript
  nor torch.export; opset 17, which every onnxruntime since 1.14 (CPU and web) runs; the
  batch axis of every input and of the output is dynamic. The architecture record is kept in
  the model's ``metadata_props`` (key ``gankit_architecture``).
- TorchScript: ``torch.jit.trace`` in eval mode; the file loads with ``torch.jit.load`` alone.
  The architecture record is an extra file ``gankit_architecture.json`` inside it.
- safetensors: the generator's state dict (weights and batch-norm statistics) with the
  architecture record in the header's ``__metadata__``, so ``gankit.load_generator``
  rebuilds the network from the file alone.

Tracing runs the generator's plain ``nn.Sequential`` path: the MLP chain's one-node fast path
steps aside while ``torch.jit.is_tracing()`` (models/mlp.py).
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from gankit.errors import GankitError
from gankit.export.module import ExportedGenerator, example_inputs

FORMATS = ("onnx", "torchscript", "safetensors")
ONNX_OPSET = 17
ARCHITECTURE_KEY = "gankit_architecture"
TORCHSCRIPT_EXTRA_FILE = "gankit_architecture.json"
EXPORT_EXTRA_HINT = "pip install 'gankit[export]'"
_TRACE_BATCH = 2  # any size works: the batch axis stays dynamic


def require_onnx() -> Any:
    """The ``onnx`` module, or a one-line error naming the extra that provides it."""
    try:
        import onnx
    except ImportError:
        raise GankitError(f"ONNX export needs the 'export' extra (onnx, onnxruntime): {EXPORT_EXTRA_HINT}") from None
    return onnx


@contextmanager
def _quiet_tracing() -> Iterator[None]:
    """torch warns that TorchScript tracing and the TorchScript-based ONNX exporter are deprecated;
    both are what the pinned torch supports without extra packages, so the warning is noise here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        yield


def onnx_bytes(module: ExportedGenerator) -> bytes:
    """The ONNX model (opset ``ONNX_OPSET``, dynamic batch) with the architecture in its metadata."""
    onnx = require_onnx()
    architecture = module.architecture
    inputs = [spec["name"] for spec in architecture["inputs"]]
    output = architecture["output"]["name"]
    buffer = io.BytesIO()
    with _quiet_tracing(), torch.no_grad():
        torch.onnx.export(module.eval(), example_inputs(architecture, _TRACE_BATCH), buffer, dynamo=False,
                          opset_version=ONNX_OPSET, input_names=inputs, output_names=[output],
                          dynamic_axes={name: {0: "batch"} for name in [*inputs, output]})
    model = onnx.load_from_string(buffer.getvalue())
    entry = model.metadata_props.add()
    entry.key, entry.value = ARCHITECTURE_KEY, json.dumps(architecture)
    model.producer_name = "gankit"
    onnx.checker.check_model(model)
    return model.SerializeToString()


def torchscript_bytes(module: ExportedGenerator) -> bytes:
    """The traced TorchScript module with the architecture as an extra file."""
    buffer = io.BytesIO()
    with _quiet_tracing():
        with torch.no_grad():
            traced = torch.jit.trace(module.eval(), example_inputs(module.architecture, _TRACE_BATCH))
        torch.jit.save(traced, buffer, _extra_files={TORCHSCRIPT_EXTRA_FILE: json.dumps(module.architecture)})
    return buffer.getvalue()


def safetensors_bytes(module: ExportedGenerator) -> bytes:
    """The generator's state dict as safetensors, the architecture in ``__metadata__``."""
    from safetensors.torch import save

    tensors = {name: tensor.detach().contiguous().clone() for name, tensor in module.generator.state_dict().items()}
    return save(tensors, metadata={ARCHITECTURE_KEY: json.dumps(module.architecture)})


WRITERS: dict[str, Callable[[ExportedGenerator], bytes]] = {
    "onnx": onnx_bytes, "torchscript": torchscript_bytes, "safetensors": safetensors_bytes,
}
