"""One fold: train a classifier with Adam and the cats-vs-dogs study's callbacks, validate every epoch.

Several epoch budgets (the cats-vs-dogs study's 30 and 60) are served by one run: with the same
seed, the same batches and callbacks that only look back, the first 30 epochs of a
60-epoch run *are* the 30-epoch run, so the fold is trained once for the largest
budget and a snapshot (best validation accuracy so far, its epoch, its checkpoint)
is taken when each smaller budget ends. Early stopping ends every budget still open.
The weights of the best epoch are restored at the end (``restore_best_weights``).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import torch
from torch import Tensor, nn

from gankit.classify.callbacks import Callbacks
from gankit.classify.models import loss, predict, trainable_parameters
from gankit.files.checkpoint import save_checkpoint

EVAL_BATCH = 500


class FoldObserver(Protocol):
    """What the fold loop reports to (a progress bar); every method may do nothing."""

    def batch_done(self) -> None: ...

    def epoch_done(self, record: dict[str, Any]) -> None: ...


@dataclass
class FoldResult:
    """A fold's outcome for one epoch budget: the best epoch's validation numbers."""

    val_accuracy: float
    val_loss: float
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)


def fit_fold(model: nn.Module, images: Tensor, labels: Tensor, train_index: Tensor, val_index: Tensor, *,
             budgets: Sequence[int], batch_size: int, lr: float, seed: int, callbacks: Callbacks,
             checkpoints: dict[int, Path] | None = None, payload: Callable[[nn.Module, dict], dict] | None = None,
             device: str | torch.device = "cpu", observer: FoldObserver | None = None) -> dict[int, FoldResult]:
    """Train `model` on `images[train_index]` and validate on `images[val_index]` each epoch, for
    max(`budgets`) epochs at most; return one `FoldResult` per budget. With `checkpoints`
    (budget → path) and `payload` (model, best record → checkpoint dict), the best weights
    are written on every improvement and copied to each budget's path when it ends."""
    budgets = sorted(set(budgets))
    model.to(device)
    optimizer = torch.optim.Adam(trainable_parameters(model), lr=lr)
    order_generator = torch.Generator().manual_seed(seed)
    val_images, val_labels = images[val_index], labels[val_index]
    live_checkpoint = checkpoints[budgets[-1]] if checkpoints else None
    history: list[dict[str, Any]] = []
    results: dict[int, FoldResult] = {}
    best_state: dict[str, Tensor] | None = None
    started = time.perf_counter()
    for epoch in range(1, budgets[-1] + 1):
        epoch_started = time.perf_counter()
        current_lr = optimizer.param_groups[0]["lr"]
        train_loss, train_accuracy = _train_epoch(model, optimizer, images, labels, train_index, batch_size,
                                                  order_generator, device, observer)
        val_loss, val_accuracy = evaluate(model, val_images, val_labels, device=device)
        decision = callbacks.on_epoch_end(epoch, val_accuracy, current_lr)
        record = {"epoch": epoch, "loss": train_loss, "accuracy": train_accuracy, "val_loss": val_loss,
                  "val_accuracy": val_accuracy, "lr": current_lr, "improved": decision.save,
                  "lr_reduced": decision.lr < current_lr, "stopped": decision.stop,
                  "seconds": round(time.perf_counter() - epoch_started, 3)}
        history.append(record)
        if decision.save:
            best_state = {key: value.detach().clone() for key, value in model.state_dict().items()}
            if live_checkpoint is not None and payload is not None:
                save_checkpoint(payload(model, record), live_checkpoint)
        for group in optimizer.param_groups:
            group["lr"] = decision.lr
        if observer is not None:
            observer.epoch_done(record)
        for budget in budgets:
            if budget not in results and (budget == epoch or decision.stop):
                results[budget] = _snapshot(history, callbacks, epoch, decision.stop, time.perf_counter() - started)
                if checkpoints and live_checkpoint is not None and checkpoints[budget] != live_checkpoint \
                        and live_checkpoint.exists():
                    checkpoints[budget].parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(live_checkpoint, checkpoints[budget])
        if decision.stop:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return results


def evaluate(model: nn.Module, images: Tensor, labels: Tensor, *, device: str | torch.device = "cpu",
             batch_size: int = EVAL_BATCH) -> tuple[float, float]:
    """(mean loss, accuracy) of `model` on labelled images, in inference mode (no dropout)."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = images[start:start + batch_size].to(device)
            batch_labels = labels[start:start + batch_size].to(device)
            outputs = model(batch).float()
            total_loss += float(loss(outputs, batch_labels, reduction="sum"))
            correct += int((predict(outputs) == batch_labels).sum())
    model.train(was_training)
    count = max(1, len(images))
    return total_loss / count, correct / count


def _train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, images: Tensor, labels: Tensor,
                 train_index: Tensor, batch_size: int, generator: torch.Generator, device: str | torch.device,
                 observer: FoldObserver | None) -> tuple[float, float]:
    """One pass over the training images in a seeded random order; (mean loss, accuracy)."""
    model.train()
    order = train_index[torch.randperm(len(train_index), generator=generator)]
    total_loss, correct, seen = 0.0, 0, 0
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        if len(batch) < 2 and seen:  # a lone leftover image would break batch norm; it comes back next epoch
            continue
        batch_images, batch_labels = images[batch].to(device), labels[batch].to(device)
        outputs = model(batch_images)
        batch_loss = loss(outputs, batch_labels)
        optimizer.zero_grad(set_to_none=True)
        batch_loss.backward()
        optimizer.step()
        total_loss += batch_loss.item() * len(batch)
        correct += int((predict(outputs.detach()) == batch_labels).sum())
        seen += len(batch)
        if observer is not None:
            observer.batch_done()
    return total_loss / max(1, seen), correct / max(1, seen)


def _snapshot(history: list[dict[str, Any]], callbacks: Callbacks, epoch: int, stopped: bool,
              seconds: float) -> FoldResult:
    best = history[callbacks.best_epoch - 1]
    return FoldResult(val_accuracy=best["val_accuracy"], val_loss=best["val_loss"], best_epoch=best["epoch"],
                      epochs_run=epoch, stopped_early=stopped, seconds=round(seconds, 2), history=list(history))


def steps_per_epoch(train_count: int, batch_size: int) -> int:
    """Optimizer steps in one epoch (a trailing batch of one image is skipped)."""
    full, rest = divmod(train_count, batch_size)
    return full + (1 if rest >= 2 or (rest == 1 and full == 0) else 0)
