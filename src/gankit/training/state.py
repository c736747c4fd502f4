"""A run in progress as its checkpoints hold it: writing a checkpoint, and putting one back.

``TrainingState`` is what a checkpoint saves: networks, optimizers, every RNG state, the
position inside the epoch (with the epoch's permutation and the statistics of its steps so
far), the best evaluation so far and the resolved config: enough for a resumed run to
continue bit for bit. The networks are stored as their own modules' state dicts, never a DDP
or torch.compile wrapper's (no ``module.``/``_orig_mod.`` prefixes), so a checkpoint written
by a multi-process run resumes in one process and vice versa.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from gankit.config import Config
from gankit.errors import CheckpointError, OutputError
from gankit.files import checkpoint as ckpt
from gankit.files.atomic import describe_os_error
from gankit.files.records import truncate_records
from gankit.files.rundir import RunPaths
from gankit.training.loop_state import LoopPosition
from gankit.training.types import AdversarialModels

if TYPE_CHECKING:
    from gankit.training.small_data import SmallData


@dataclass
class TrainingState:
    """What a checkpoint saves of a run in progress and a resume puts back. The trainer builds
    it from the objects it trains with (the networks, the generator, the position and the
    statistics tensor are shared with it and changed in place, never replaced); the end of an
    epoch updates ``best_key`` and ``last_metrics``."""

    config: Config
    sample_shape: tuple[int, ...]
    class_names: list[str] | None  # a conditional run's classes, label i = class_names[i]
    models: AdversarialModels
    rng: torch.Generator  # all training randomness but dropout (torch's global generator)
    device: torch.device
    position: LoopPosition
    epoch_stats: torch.Tensor  # the current epoch's per-step statistics (columns STAT_NAMES)
    small_data: SmallData | None = None  # ADA's p, LeCam's averages
    best_key: list[float] | None = None  # the quality key of the best evaluation so far (best.pt)
    last_metrics: dict[str, Any] = field(default_factory=dict)  # the last evaluation's


def checkpoint_dict(state: TrainingState) -> dict[str, Any]:
    """The checkpoint dict of ``state`` at its current step."""
    m, at = state.models, state.position
    mid_epoch = at.batch > 0
    small_data = state.small_data
    extra = {"small_data": small_data.state_dict()} if small_data is not None else {}
    return {
        "config": state.config.to_dict(), "sample_shape": list(state.sample_shape),
        "class_names": state.class_names,
        "epoch": at.epoch, "batch": at.batch, "step": at.step, "elapsed": at.elapsed,
        "generator": m.generator.state_dict(), "discriminator": m.discriminator.state_dict(),
        "generator_ema": m.generator_ema.state_dict() if m.generator_ema is not None else None,
        "g_optimizer": m.g_optimizer.state_dict(), "d_optimizer": m.d_optimizer.state_dict(),
        "rng": state.rng.get_state(), "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if state.device.type == "cuda" else None,
        "permutation": at.permutation.cpu() if mid_epoch else None,
        "epoch_stats": state.epoch_stats[: at.batch].cpu() if mid_epoch else None,
        "best_key": state.best_key,
        "last_metrics": {k: v for k, v in state.last_metrics.items() if isinstance(v, (int, float))},
        **extra,
    }


def mismatch_message(saved: dict[str, Any] | None, config: Config, part: str, source: Path | str,
                     error: Exception) -> str:
    """Why a checkpoint's ``part`` does not fit the networks ``config`` builds: the model and
    data keys that differ from the config stored in the checkpoint, or the loader's first line."""
    current = config.to_dict()
    changed = [f"{section}.{key} is {json.dumps(value)} in config.toml but "
               f"{json.dumps((saved or {}).get(section, {}).get(key))} in the checkpoint"
               for section in ("model", "data") for key, value in current.get(section, {}).items()
               if isinstance(saved, dict) and isinstance(saved.get(section), dict)
               and saved[section].get(key) != value]
    if changed:
        return (f"config.toml does not match {source}: {'; '.join(changed[:3])}; put the old value back, "
                "or start a new run with another --out")
    detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return f"the {part} in {source} does not fit the network the config builds ({detail[:200]})"


def restore_checkpoint(state: TrainingState, checkpoint: dict[str, Any],
                       source: Path | str = "the checkpoint") -> None:
    """Put ``checkpoint`` (from :func:`checkpoint_dict`) back into ``state``, in place; a checkpoint
    whose shapes no longer fit the config raises CheckpointError naming the keys that changed."""
    m = state.models
    pairs = [(m.generator, "generator"), (m.discriminator, "discriminator"), (m.g_optimizer, "g_optimizer"),
             (m.d_optimizer, "d_optimizer")]
    if m.generator_ema is not None and checkpoint.get("generator_ema") is not None:
        pairs.append((m.generator_ema, "generator_ema"))
    for target, key in pairs:
        try:
            target.load_state_dict(checkpoint[key])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise CheckpointError(mismatch_message(checkpoint.get("config"), state.config, key, source, exc)) from None
    state.rng.set_state(checkpoint["rng"].cpu())
    torch.set_rng_state(checkpoint["torch_rng"].cpu())
    if checkpoint.get("cuda_rng") is not None and state.device.type == "cuda":
        torch.cuda.set_rng_state_all([s.cpu() for s in checkpoint["cuda_rng"]])
    at = state.position
    at.epoch, at.batch, at.step = int(checkpoint["epoch"]), int(checkpoint["batch"]), int(checkpoint["step"])
    at.elapsed = float(checkpoint["elapsed"])
    if at.batch > 0:
        at.permutation = checkpoint["permutation"].to(state.device)
        saved = checkpoint["epoch_stats"].to(state.device)  # older checkpoints hold fewer columns
        state.epoch_stats[: at.batch] = float("nan")
        state.epoch_stats[: at.batch, : saved.shape[1]] = saved
    state.best_key = checkpoint.get("best_key")
    if state.small_data is not None and checkpoint.get("small_data") is not None:
        state.small_data.load_state_dict(checkpoint["small_data"])
    state.last_metrics = dict(checkpoint.get("last_metrics") or {})


def write_checkpoint(state: TrainingState, paths: RunPaths, *, epoch_file: bool) -> Path:
    """``checkpoints/last.pt``, and with ``epoch_file`` also ``epoch_NNNN.pt`` (the oldest
    beyond ``train.keep_checkpoints`` pruned); returns the path of ``last.pt``."""
    last = paths.last_checkpoint
    if epoch_file:
        ckpt.save_checkpoint(checkpoint_dict(state), last, paths.checkpoints / f"epoch_{state.position.epoch:04d}.pt")
        ckpt.prune_checkpoints(paths.checkpoints, state.config.train.keep_checkpoints)
    else:
        ckpt.save_checkpoint(checkpoint_dict(state), last)
    return last


def load_latest_checkpoint(state: TrainingState, paths: RunPaths, warnings: list[str], *,
                           truncate_metrics: bool) -> None:
    """Put the newest readable checkpoint of the run folder back into ``state`` (a damaged one
    is skipped, with a line in ``warnings``); with ``truncate_metrics`` (rank 0) also cut
    ``metrics.jsonl`` back to the checkpoint's step."""
    if not paths.last_checkpoint.exists() and not ckpt.epoch_checkpoints(paths.checkpoints):
        raise CheckpointError(f"nothing to resume in {paths.root}: no checkpoint was saved; {start_again(paths)}")
    checkpoint, path, skipped = ckpt.load_latest(paths.checkpoints, map_location=state.device)
    warnings.extend(f"skipped damaged checkpoint: {w}" for w in skipped)
    restore_checkpoint(state, checkpoint, source=path)
    if truncate_metrics:
        truncate_records(paths.metrics, state.position.step, on_warning=warnings.append)


def output_failed(paths: RunPaths, error: OSError | OutputError) -> OutputError:
    """One line for a write that failed mid-run, naming what is still safe on disk and
    what works next: ``--resume`` from that checkpoint, or starting again when there is none."""
    text = str(error) if isinstance(error, OutputError) else describe_os_error(error, error.filename or "?")
    saved = ckpt.last_good(paths.checkpoints)
    if saved:
        return OutputError(f"{text}; {saved}; free some space and continue with: "
                           f"gankit train {paths.root} --resume")
    return OutputError(f"{text}; no checkpoint had been saved yet, so there is nothing to resume: free some "
                       f"space and {start_again(paths)}")


def start_again(paths: RunPaths) -> str:
    """The command that starts this run afresh in its folder, with the config it was given."""
    return f"start again with: gankit train {paths.config} --out {paths.root} --force"
