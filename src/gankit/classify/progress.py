"""One progress bar per fold (rich, on stderr): batches done, epoch, validation accuracy, ETA."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn


class GridProgress:
    """Context manager holding the bars; `fold(label, epochs, steps)` gives one fold's observer."""

    def __init__(self, enabled: bool = True):
        self._progress: Progress | None = None
        if enabled:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(bar_width=20),
                TextColumn("{task.fields[status]}"),
                TimeRemainingColumn(compact=True),
                console=Console(file=sys.stderr),
                transient=False,
            )

    def __enter__(self) -> "GridProgress":
        if self._progress is not None:
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def fold(self, label: str, epochs: int, steps_per_epoch: int) -> "FoldBar":
        return FoldBar(self._progress, label, epochs, steps_per_epoch)

    def log(self, message: str) -> None:
        """A line above the bars (or on stderr when they are off)."""
        if self._progress is not None:
            self._progress.console.print(message, highlight=False, soft_wrap=True)
        else:
            print(message, file=sys.stderr)


class FoldBar:
    """The `FoldObserver` of one fold: the bar fills per batch; the text shows the last epoch."""

    def __init__(self, progress: Progress | None, label: str, epochs: int, steps_per_epoch: int):
        self._progress, self.epochs = progress, epochs
        self._task = None
        if progress is not None:
            self._task = progress.add_task(label, total=epochs * max(1, steps_per_epoch), status="")

    def batch_done(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def epoch_done(self, record: dict[str, Any]) -> None:
        if self._progress is None:
            return
        status = (f"ep {record['epoch']}/{self.epochs} val {record['val_accuracy']:.2%} "
                  f"loss {record['val_loss']:.3f} lr {record['lr']:.0e}")
        if record.get("stopped"):
            status += " early stop"
        self._progress.update(self._task, status=status)

    def finish(self, summary: str) -> None:
        """Fill the bar (early stopping leaves it short) and show the fold's result."""
        if self._progress is not None:
            total = self._progress.tasks[self._task].total
            self._progress.update(self._task, completed=total, status=summary)
