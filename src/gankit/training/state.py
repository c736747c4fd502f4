"""What a checkpoint holds about a run in progress, and putting it back.

Networks, optimizers, every RNG state, the position inside the epoch (with the epoch's
permutation and the statistics of its steps so far) and the resolved config: enough for
a resumed run to continue bit for bit. The networks are stored as their own modules'
state dicts, never a DDP or torch.compile wrapper's (no ``module.``/``_orig_mod.``
prefixes), so a checkpoint written by a multi-process run resumes in one process and
vice versa.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from gankit.training.trainer import Trainer


def training_state(trainer: Trainer) -> dict[str, Any]:
    """The checkpoint dict of ``trainer`` at its current step."""
    m = trainer.models
    mid_epoch = trainer.batch > 0
    return {
        "config": trainer.config.to_dict(), "sample_shape": list(trainer.dataset.sample_shape),
        "epoch": trainer.epoch, "batch": trainer.batch, "step": trainer.step, "elapsed": trainer.elapsed,
        "generator": m.generator.state_dict(), "discriminator": m.discriminator.state_dict(),
        "generator_ema": m.generator_ema.state_dict() if m.generator_ema is not None else None,
        "g_optimizer": m.g_optimizer.state_dict(), "d_optimizer": m.d_optimizer.state_dict(),
        "rng": trainer.rng.get_state(), "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if trainer.device.type == "cuda" else None,
        "permutation": trainer.permutation.cpu() if mid_epoch else None,
        "epoch_stats": trainer.epoch_stats[: trainer.batch].cpu() if mid_epoch else None,
        "best_key": trainer.best_key,
        "last_metrics": {k: v for k, v in trainer.last_metrics.items() if isinstance(v, (int, float))},
    }


def restore_state(trainer: Trainer, state: dict[str, Any]) -> None:
    """Put ``state`` (from :func:`training_state`) back into ``trainer``."""
    m = trainer.models
    m.generator.load_state_dict(state["generator"])
    m.discriminator.load_state_dict(state["discriminator"])
    if m.generator_ema is not None and state["generator_ema"] is not None:
        m.generator_ema.load_state_dict(state["generator_ema"])
    m.g_optimizer.load_state_dict(state["g_optimizer"])
    m.d_optimizer.load_state_dict(state["d_optimizer"])
    trainer.rng.set_state(state["rng"].cpu())
    torch.set_rng_state(state["torch_rng"].cpu())
    if state.get("cuda_rng") is not None and trainer.device.type == "cuda":
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
    trainer.epoch, trainer.batch, trainer.step = int(state["epoch"]), int(state["batch"]), int(state["step"])
    trainer.elapsed = float(state["elapsed"])
    if trainer.batch > 0:
        trainer.permutation = state["permutation"].to(trainer.device)
        saved = state["epoch_stats"].to(trainer.device)  # older checkpoints hold fewer columns
        trainer.epoch_stats[: trainer.batch] = float("nan")
        trainer.epoch_stats[: trainer.batch, : saved.shape[1]] = saved
    trainer.best_key = state["best_key"]
    trainer.last_metrics = dict(state.get("last_metrics") or {})
