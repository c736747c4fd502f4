"""The progress line of a training run: epoch, losses, ETA (rich), or silence."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn


# metric -> short label in the progress line (the bar must keep its width)
SHOWN_METRICS = {"modes_captured": "modes", "high_quality": "HQ", "curve_coverage": "cov", "curve_distance": "dist"}


class TrainingProgress:
    """Context manager; ``update(step)`` moves the bar, ``epoch_done`` shows the epoch's numbers."""

    def __init__(self, epochs: int, steps_per_epoch: int, enabled: bool = True):
        self.epochs, self.steps_per_epoch = epochs, steps_per_epoch
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task = None
        if enabled:
            self._progress = Progress(
                TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
                BarColumn(bar_width=20),
                TextColumn("{task.fields[losses]}"),
                TextColumn("eta"),
                TimeRemainingColumn(compact=True),
                console=Console(file=sys.stderr),
                transient=False,
            )

    def __enter__(self) -> "TrainingProgress":
        if self._progress is not None:
            self._progress.__enter__()
            self._task = self._progress.add_task(
                "train", total=self.epochs * self.steps_per_epoch, epoch=0, epochs=self.epochs, losses=""
            )
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def update(self, step: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=step,
                                  epoch=min(self.epochs, step // max(1, self.steps_per_epoch) + 1))

    def epoch_done(self, epoch: int, record: dict[str, Any]) -> None:
        if self._progress is None:
            return
        text = f"G {record['g_loss']:.3f} D {record['d_loss_real']:.3f}/{record['d_loss_fake']:.3f}"
        if "samples_per_second" in record:
            text += f" {_short(record['samples_per_second'])}/s"
        for key, label in SHOWN_METRICS.items():
            if key in record:
                text += f" {label} {record[key]:.3g}"
        self._progress.update(self._task, epoch=epoch, losses=text)

    def log(self, message: str) -> None:
        if self._progress is not None:
            self._progress.console.print(message)


def _short(count: float) -> str:
    """12345 -> '12k', 1234567 -> '1.2M': throughput without eating the bar's width."""
    if count >= 1e6:
        return f"{count / 1e6:.1f}M"
    if count >= 1e4:
        return f"{count / 1e3:.0f}k"
    return f"{count:.0f}"
