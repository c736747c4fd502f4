"""Checkpoints: atomic writes, safe loads (``weights_only=True``) whose contents are checked,
and finding one to resume.

A checkpoint is a plain dict of tensors, numbers and strings — networks, optimizers,
every RNG state, the position in training and the resolved config — so it loads
with ``torch.load(weights_only=True)`` and never unpickles arbitrary objects.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import torch

from gankit.errors import CheckpointError, GankitError
from gankit.files.atomic import write_bytes
from gankit.files.torchfile import load_plain

CHECKPOINT_FORMAT = 1
_EPOCH_FILE = re.compile(r"epoch_(\d+)\.pt$")
# What every checkpoint holds, by type; then what it may hold (None when absent).
_REQUIRED = {"config": dict, "epoch": int, "batch": int, "step": int, "elapsed": (int, float), "generator": dict,
             "discriminator": dict, "g_optimizer": dict, "d_optimizer": dict, "rng": torch.Tensor,
             "torch_rng": torch.Tensor}
_OPTIONAL = {"generator_ema": dict, "best_key": (list, tuple), "class_names": (list, tuple),
             "sample_shape": (list, tuple), "permutation": torch.Tensor, "epoch_stats": torch.Tensor,
             "last_metrics": dict}


def save_checkpoint(state: dict[str, Any], path: Path, *more_paths: Path) -> None:
    """Write ``state`` to ``path`` (and each of ``more_paths``) atomically (temporary file,
    fsync, rename, fsync folder). The state is serialised once for all paths."""
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, **state}, buffer)
    payload = buffer.getbuffer()
    for target in (Path(path), *map(Path, more_paths)):
        write_bytes(target, payload)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a gankit checkpoint safely; a missing, truncated or foreign file raises CheckpointError."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    state = load_plain(path, "checkpoint", CheckpointError, map_location=map_location)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"'{path}' is not a gankit checkpoint (format {CHECKPOINT_FORMAT})")
    why = _problem(state)
    if why:
        raise CheckpointError(f"'{path}' is not a complete gankit checkpoint ({why})")
    return state


def _problem(state: dict[str, Any]) -> str:
    """What is missing or of the wrong type in a checkpoint dict ('' when nothing): a file
    with the right format number can still lack the networks or the position in training."""
    for key, kind in _REQUIRED.items():
        if key not in state:
            return f"no '{key}'"
        if isinstance(state[key], bool) or not isinstance(state[key], kind):
            return f"'{key}' is a {type(state[key]).__name__}"
    for key, kind in _OPTIONAL.items():
        if state.get(key) is not None and not isinstance(state[key], kind):
            return f"'{key}' is a {type(state[key]).__name__}"
    if min(state["epoch"], state["batch"], state["step"]) < 0:
        return "a negative epoch, batch or step"
    if state["batch"] > 0 and (state.get("permutation") is None or state.get("epoch_stats") is None):
        return "stopped mid-epoch without the epoch's data order"
    for part in ("generator", "discriminator", "generator_ema"):
        if any(not isinstance(value, torch.Tensor) for value in (state.get(part) or {}).values()):
            return f"'{part}' holds something other than tensors"
    return ""


def epoch_checkpoints(directory: Path) -> list[Path]:
    """The ``epoch_NNNN.pt`` files in ``directory``, newest (highest epoch) first."""
    found = [(int(m.group(1)), p) for p in Path(directory).glob("epoch_*.pt") if (m := _EPOCH_FILE.search(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def prune_checkpoints(directory: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest epoch checkpoints (``last.pt`` and ``best.pt`` stay)."""
    for stale in epoch_checkpoints(directory)[keep:]:
        stale.unlink(missing_ok=True)


def load_latest(directory: Path, map_location: str | torch.device = "cpu") -> tuple[dict[str, Any], Path, list[str]]:
    """The newest checkpoint that loads, with its path and a warning per damaged one skipped.

    Candidates are ``last.pt``, then the epoch files newest first; the one furthest
    into training wins, so a damaged ``last.pt`` falls back to the previous epoch file.
    """
    directory = Path(directory)
    candidates = [directory / "last.pt"] + epoch_checkpoints(directory)
    warnings: list[str] = []
    loaded: list[tuple[int, dict[str, Any], Path]] = []
    for path in candidates:
        if not path.exists():
            continue
        try:
            state = load_checkpoint(path, map_location)
        except CheckpointError as exc:
            warnings.append(str(exc))
            continue
        loaded.append((int(state["step"]), state, path))
    if not loaded:
        detail = f": {warnings[0]}" + (f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else "") \
            if warnings else ""
        raise CheckpointError(f"no usable checkpoint in '{directory}'{detail}")
    step, state, path = max(loaded, key=lambda item: item[0])
    return state, path, warnings


def last_good(directory: Path) -> str:
    """``the last good checkpoint is epoch_0012.pt (epoch 12, step 96)``, or '' when none
    loads: for messages after a failure, naming what a ``--resume`` will continue from."""
    try:
        state, path, _ = load_latest(directory)
    except GankitError:
        return ""
    return f"the last good checkpoint is {path.name} (epoch {state.get('epoch')}, step {state.get('step')})"
