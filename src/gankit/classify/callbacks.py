"""The cats-vs-dogs study's Keras callbacks, as small state machines fed one validation number per epoch.

All three watch the same monitored value (validation accuracy: higher is better) and
count an epoch as an improvement only when it beats the best so far by more than
`min_delta` (Keras's strict comparison; a tie is not an improvement):

- ``ReduceLROnPlateau(factor=0.1, patience=7)``: after `patience` epochs in a row
  without improvement the learning rate is multiplied by `factor`, and the count
  starts again (so with patience 7 the rate drops after the 7th and 14th stale epoch).
- ``EarlyStopping(patience=15, restore_best_weights=True)``: training stops after
  `patience` epochs in a row without improvement; the caller restores the weights
  of the best epoch.
- ``ModelCheckpoint(save_best_only=True)``: the weights are saved on every improvement.

They are pure: no model, no optimiser, no files, so a scripted validation curve
tests them (tests/test_classify_callbacks.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Plateau:
    """Best value so far, its epoch, and how many epochs since it."""

    min_delta: float = 0.0
    best: float = -math.inf
    best_epoch: int = 0
    wait: int = 0

    def update(self, epoch: int, value: float) -> bool:
        """Record one epoch; True when `value` improves on the best."""
        if value > self.best + self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return True
        self.wait += 1
        return False


@dataclass
class ReduceLROnPlateau:
    """Multiply the learning rate by `factor` after `patience` stale epochs (not below `min_lr`)."""

    factor: float = 0.1
    patience: int = 7
    min_lr: float = 0.0
    plateau: Plateau = field(default_factory=Plateau)

    def update(self, epoch: int, value: float, lr: float) -> float:
        """The learning rate for the next epoch."""
        if self.plateau.update(epoch, value) or self.plateau.wait < self.patience:
            return lr
        self.plateau.wait = 0
        return max(lr * self.factor, self.min_lr)


@dataclass
class EarlyStopping:
    """Stop after `patience` stale epochs; `best_epoch` is the one whose weights to restore."""

    patience: int = 15
    plateau: Plateau = field(default_factory=Plateau)

    def update(self, epoch: int, value: float) -> bool:
        """True when training should stop after this epoch."""
        self.plateau.update(epoch, value)
        return self.plateau.wait >= self.patience

    @property
    def best_epoch(self) -> int:
        return self.plateau.best_epoch


@dataclass
class ModelCheckpoint:
    """Save on improvement: `update` says whether this epoch's weights are the new best."""

    plateau: Plateau = field(default_factory=Plateau)

    def update(self, epoch: int, value: float) -> bool:
        return self.plateau.update(epoch, value)


@dataclass(frozen=True)
class EpochDecision:
    """What the callbacks decided after one epoch."""

    save: bool
    lr: float
    stop: bool


@dataclass
class Callbacks:
    """The three callbacks of the cats-vs-dogs study together (patience 0 turns one off)."""

    reduce_lr: ReduceLROnPlateau | None = field(default_factory=ReduceLROnPlateau)
    early_stopping: EarlyStopping | None = field(default_factory=EarlyStopping)
    checkpoint: ModelCheckpoint = field(default_factory=ModelCheckpoint)

    @classmethod
    def plateau_schedule(cls, reduce_lr_patience: int = 7, reduce_lr_factor: float = 0.1,
                          early_stop_patience: int = 15) -> "Callbacks":
        """Learning rate × `reduce_lr_factor` after `reduce_lr_patience` epochs without improvement, a stop
        after `early_stop_patience`, a checkpoint on each improvement: the cats-vs-dogs study's schedule
        (7, 0.1, 15) by default, each patience changeable (0 = that callback off)."""
        return cls(
            reduce_lr=ReduceLROnPlateau(reduce_lr_factor, reduce_lr_patience) if reduce_lr_patience > 0 else None,
            early_stopping=EarlyStopping(early_stop_patience) if early_stop_patience > 0 else None,
        )

    def on_epoch_end(self, epoch: int, value: float, lr: float) -> EpochDecision:
        """Feed epoch `epoch`'s monitored `value` (learning rate `lr` was used for it)."""
        save = self.checkpoint.update(epoch, value)
        next_lr = self.reduce_lr.update(epoch, value, lr) if self.reduce_lr else lr
        stop = self.early_stopping.update(epoch, value) if self.early_stopping else False
        return EpochDecision(save=save, lr=next_lr, stop=stop)

    @property
    def best_epoch(self) -> int:
        return self.checkpoint.plateau.best_epoch

    @property
    def best_value(self) -> float:
        return self.checkpoint.plateau.best
