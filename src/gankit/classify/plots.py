"""Accuracy and loss curves, train vs validation: per fold, and all folds of a cell together
(the cats-vs-dogs study's "Plot for 30 Epochs and Batch Size 32")."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from matplotlib.ticker import MaxNLocator

from gankit.pictures.figures import plt, save_figure

History = Sequence[dict[str, Any]]


def fold_curves(history: History, path: Path, title: str) -> Path:
    """Two panels (accuracy, loss), train dashed and validation solid; the best epoch as a
    dotted line, each learning-rate reduction as a triangle on the validation accuracy."""
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = [r["epoch"] for r in history]
    best = max(history, key=lambda r: (r["val_accuracy"], -r["epoch"]))
    for ax, key, label in ((acc_ax, "accuracy", "accuracy"), (loss_ax, "loss", "loss")):
        ax.plot(epochs, [r[key] for r in history], "--", color="tab:blue", label=f"train {label}")
        ax.plot(epochs, [r[f"val_{key}"] for r in history], "-", color="tab:orange", label=f"validation {label}",
                marker="o" if len(epochs) < 25 else None, markersize=3)
        ax.axvline(best["epoch"], color="0.4", linestyle=":", linewidth=1,
                   label=f"best epoch {best['epoch']} (val acc {best['val_accuracy']:.4f})")
        _style(ax, label, [r[k] for r in history for k in (key, f"val_{key}")])
    reduced = [r for r in history if r.get("lr_reduced")]
    if reduced:
        acc_ax.plot([r["epoch"] for r in reduced], [r["val_accuracy"] for r in reduced], "v", color="tab:red",
                    markersize=7, label="learning rate cut after this epoch", linestyle="none")
    acc_ax.legend(fontsize=8, loc="best")
    loss_ax.legend(fontsize=8, loc="best")
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def cell_curves(histories: Sequence[History], path: Path, title: str) -> Path:
    """All folds of one cell: accuracy and loss per epoch, one colour per fold,
    train dashed and validation solid."""
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(11, 4))
    colours = plt.get_cmap("tab10")
    for index, history in enumerate(histories):
        epochs = [r["epoch"] for r in history]
        for ax, key in ((acc_ax, "accuracy"), (loss_ax, "loss")):
            ax.plot(epochs, [r[key] for r in history], "--", color=colours(index % 10), linewidth=1, alpha=0.7)
            ax.plot(epochs, [r[f"val_{key}"] for r in history], "-", color=colours(index % 10), linewidth=1.5,
                    label=f"fold {index + 1}")
    for ax, label in ((acc_ax, "accuracy"), (loss_ax, "loss")):
        _style(ax, label, [r[k] for h in histories for r in h for k in (label, f"val_{label}")])
        ax.plot([], [], "--", color="0.3", label="train (dashed)")
        ax.plot([], [], "-", color="0.3", label="validation (solid)")
    acc_ax.legend(fontsize=8, loc="lower right", ncol=2)
    loss_ax.legend(fontsize=8, loc="best", ncol=2)
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def _style(ax, label: str, values: Sequence[float]) -> None:
    ax.set_xlabel("epoch")
    ax.set_ylabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if label == "loss":
        if values and min(values) > 0 and max(values) / min(values) > 30:
            ax.set_yscale("log")  # a loss falling over orders of magnitude stays readable


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    return save_figure(fig, path, dpi=100, tight=False)
