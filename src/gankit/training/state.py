"""What a checkpoint holds about a run in progress, and putting it back.

Networks, optimizers, every RNG state, the position inside the epoch (with the epoch's
permutation and the statistics of its steps so far) and the resolved config: enough for
a resumed run to continue bit for bit. The networks are stored as their own modules'
state dicts, never a DDP or torch.compile wrapper's (no ``module.``/``_orig_mod.``
prefixes), so a checkpoint written by a multi-process run resumes in one process and
vice versa.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from gankit.config import Config
from gankit.errors import CheckpointError

if TYPE_CHECKING:
    from gankit.training.trainer import Trainer


def training_state(trainer: Trainer) -> dict[str, Any]:
    """The checkpoint dict of ``trainer`` at its current step."""
    m, at = trainer.models, trainer.position
    mid_epoch = at.batch > 0
    small_data = trainer.step_fn.small_data
    extra = {"small_data": small_data.state_dict()} if small_data is not None else {}  # ADA's p, LeCam's averages
    return {
        "config": trainer.config.to_dict(), "sample_shape": list(trainer.dataset.sample_shape),
        "class_names": trainer.class_names,  # a conditional run's classes, label i = class_names[i]
        "epoch": at.epoch, "batch": at.batch, "step": at.step, "elapsed": at.elapsed,
        "generator": m.generator.state_dict(), "discriminator": m.discriminator.state_dict(),
        "generator_ema": m.generator_ema.state_dict() if m.generator_ema is not None else None,
        "g_optimizer": m.g_optimizer.state_dict(), "d_optimizer": m.d_optimizer.state_dict(),
        "rng": trainer.rng.get_state(), "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if trainer.device.type == "cuda" else None,
        "permutation": at.permutation.cpu() if mid_epoch else None,
        "epoch_stats": trainer.epoch_stats[: at.batch].cpu() if mid_epoch else None,
        "best_key": trainer.best_key,
        "last_metrics": {k: v for k, v in trainer.last_metrics.items() if isinstance(v, (int, float))},
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


def restore_state(trainer: Trainer, state: dict[str, Any], source: Path | str = "the checkpoint") -> None:
    """Put ``state`` (from :func:`training_state`) back into ``trainer``; a checkpoint whose
    shapes no longer fit the config raises CheckpointError naming the keys that changed."""
    m = trainer.models
    pairs = [(m.generator, "generator"), (m.discriminator, "discriminator"), (m.g_optimizer, "g_optimizer"),
             (m.d_optimizer, "d_optimizer")]
    if m.generator_ema is not None and state.get("generator_ema") is not None:
        pairs.append((m.generator_ema, "generator_ema"))
    for target, key in pairs:
        try:
            target.load_state_dict(state[key])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise CheckpointError(mismatch_message(state.get("config"), trainer.config, key, source, exc)) from None
    trainer.rng.set_state(state["rng"].cpu())
    torch.set_rng_state(state["torch_rng"].cpu())
    if state.get("cuda_rng") is not None and trainer.device.type == "cuda":
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
    at = trainer.position
    at.epoch, at.batch, at.step = int(state["epoch"]), int(state["batch"]), int(state["step"])
    at.elapsed = float(state["elapsed"])
    if at.batch > 0:
        at.permutation = state["permutation"].to(trainer.device)
        saved = state["epoch_stats"].to(trainer.device)  # older checkpoints hold fewer columns
        trainer.epoch_stats[: at.batch] = float("nan")
        trainer.epoch_stats[: at.batch, : saved.shape[1]] = saved
    trainer.best_key = state.get("best_key")
    if trainer.step_fn.small_data is not None and state.get("small_data") is not None:
        trainer.step_fn.small_data.load_state_dict(state["small_data"])
    trainer.last_metrics = dict(state.get("last_metrics") or {})
