"""Take a trained generator anywhere: ONNX, TorchScript or safetensors, with a model card.

``gankit.run.export_run(RUN, FILE, "onnx")`` (``gankit export``) or ``run.export_generator(FILE, "onnx")``
writes FILE plus its model card ``FILE.json`` and ``FILE.md``; ``load_generator(FILE)`` rebuilds
a safetensors export as a torch module without the run folder. The exported generator is
the run's EMA generator when it kept one, from ``last.pt`` or ``best.pt``; it maps a latent
batch to images in [-1, 1] (uint8 pixels with ``uint8=True``) or points. Formats: formats.py;
the wrapped module and its architecture record: module.py; the card: card.py; the checks of
a record and its weights before loading: checks.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from gankit.errors import ConfigError, GankitError
from gankit.export.card import card_bytes, model_card
from gankit.export.checks import check_record, check_weights, tensor_shapes
from gankit.export.formats import ARCHITECTURE_KEY, FORMATS, WRITERS
from gankit.export.module import ExportedGenerator, architecture_of, build_from_architecture
from gankit.files.atomic import write_bytes
from gankit.files.owner import claim_file
from gankit.files.reading import read_text, regular_file

__all__ = ["FORMATS", "ExportedGenerator", "card_paths", "check_format", "export_generator", "load_generator"]


def card_paths(output: str | Path) -> tuple[Path, Path]:
    """Where the model card of an export to ``output`` goes: ``output.json`` and ``output.md``."""
    output = Path(output)
    return output.with_name(output.name + ".json"), output.with_name(output.name + ".md")


def check_format(file_format: str) -> str:
    """``file_format`` if gankit can export it, else a ConfigError listing the formats."""
    if file_format not in FORMATS:
        raise ConfigError(f"--format: unknown export format {file_format!r}; choose one of {', '.join(FORMATS)}")
    return file_format


def export_generator(run: Any, output: str | Path, file_format: str, *, uint8: bool = False,
                     force: bool = False) -> Path:
    """Write ``run``'s generator (a loaded :class:`gankit.Run`) to ``output`` in ``file_format``
    with its model card beside it; returns ``output``. ``uint8=True`` (images only) bakes the
    [-1, 1] -> [0, 255] pixel mapping into the exported model. The three files must be new, or
    (with ``force``) files gankit wrote."""
    check_format(file_format)
    output = Path(output)
    if output.is_dir():
        raise ConfigError(f"-o: '{output}' is a folder; give a file name such as {output / 'generator.onnx'}")
    output = claim_file(output, force=force)
    for sidecar in card_paths(output):
        claim_file(sidecar, force=force)
    truncation = run.config.sample.truncation
    architecture = architecture_of(run.config.model, run.sample_shape, uint8=uint8, truncation=truncation,
                                   class_names=run.class_names)
    module = ExportedGenerator(_copy_of(run.generator), architecture)
    payload = WRITERS[file_format](module)
    epoch, uses_ema = run.epoch, run.uses_ema  # as load_run read them: the file is not read again
    card = model_card(run, architecture, file_name=output.name, file_format=file_format, epoch=epoch,
                      uses_ema=uses_ema)
    card_json, card_md = card_bytes(card)
    json_path, md_path = card_paths(output)
    write_bytes(output, payload)
    write_bytes(json_path, card_json)
    write_bytes(md_path, card_md)
    return output


def load_generator(path: str | Path) -> ExportedGenerator:
    """Rebuild a generator exported with ``--format safetensors`` from the file alone (the
    architecture is in its header; the ``FILE.json`` card is the fallback), in eval mode and
    without gradients (``requires_grad_(True)`` to fine-tune it):
    ``generator(torch.randn(16, generator.latent_dim))`` gives 16 samples.

    The architecture is checked against the tensors the file lists before any network is
    built (export/checks.py): an edited record is one GankitError, never a huge network."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = regular_file(path, "generator file", GankitError)
    shapes, metadata = tensor_shapes(path)
    architecture, source = _architecture(path, metadata)
    model, sample_shape, n_classes = check_record(architecture, source)
    check_weights(model, sample_shape, n_classes, shapes, source)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise GankitError(f"'{path}' cannot be read ({exc})") from None
    module = build_from_architecture(architecture)
    try:
        module.generator.load_state_dict(state)
    except RuntimeError as exc:
        raise GankitError(f"'{path}': the weights do not fit the recorded architecture: "
                          f"{str(exc).splitlines()[0]}") from None
    return module.eval().requires_grad_(False)


def _architecture(path: Path, metadata: dict[str, str]) -> tuple[Any, str]:
    """The architecture record of the export ``path`` (its header's, else its card's) and
    where it was read, for messages."""
    if ARCHITECTURE_KEY in metadata:
        text, source = metadata[ARCHITECTURE_KEY], f"the architecture in '{path}'"
    else:
        card_json, _ = card_paths(path)
        if not card_json.exists():
            raise GankitError(f"'{path}' carries no gankit architecture and '{card_json}' is missing: "
                              "it was not written by `gankit export --format safetensors`")
        text, source = read_text(card_json, "model card", GankitError), f"the model card '{card_json}'"
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise GankitError(f"{source} is not JSON ({exc})") from None
    if source.startswith("the model card"):
        record = record.get("architecture") if isinstance(record, dict) else None
    return record, source


def _copy_of(generator: torch.nn.Module) -> torch.nn.Module:
    """A detached eval-mode copy, so exporting never changes the run's own generator."""
    import copy

    return copy.deepcopy(generator).eval().requires_grad_(False)
