"""Figures a person looks at: generated-over-real scatter, loss curves, metric curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from matplotlib.ticker import MaxNLocator

from gankit.catalogue import COUNT_METRICS, LOG_SCALE_OK
from gankit.pictures.figures import plt, save_figure


def scatter_plot(real: np.ndarray, fake: np.ndarray, path: Path, title: str = "") -> Path:
    """Generated points (orange) over real points (grey), equal axes; first two columns."""
    real, fake = np.asarray(real), np.asarray(fake)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(real[:, 0], real[:, 1] if real.shape[1] > 1 else np.zeros(len(real)),
               s=4, c="0.6", alpha=0.5, label=f"real (n={len(real)})", linewidths=0)
    ax.scatter(fake[:, 0], fake[:, 1] if fake.shape[1] > 1 else np.zeros(len(fake)),
               s=4, c="tab:orange", alpha=0.7, label=f"generated (n={len(fake)})", linewidths=0)
    both = np.concatenate([real[:, :2], fake[:, :2]])
    low, high = np.percentile(both, 0.5, axis=0), np.percentile(both, 99.5, axis=0)
    pad = 0.1 * (high - low).max() + 1e-6
    ax.set_xlim(low[0] - pad, high[0] + pad)
    if both.shape[1] > 1:
        ax.set_ylim(low[1] - pad, high[1] + pad)
    ax.set_aspect("equal", adjustable="box")
    ax.locator_params(nbins=6)
    ax.tick_params(labelsize=8)
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8, markerscale=3)
    ax.grid(alpha=0.2)
    return save_figure(fig, path)


def loss_plot(history: Sequence[dict[str, Any]], path: Path, title: str = "Losses per epoch") -> Path:
    """G loss, D loss on real and D loss on fake per epoch (the cats-vs-dogs study's figure)."""
    rows = [r for r in history if "g_loss" in r]
    epochs = [r["epoch"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, label, style in (("g_loss", "G", "-"), ("d_loss_real", "D real", "--"), ("d_loss_fake", "D fake", ":")):
        ax.plot(epochs, [r[key] for r in rows], style, label=label, linewidth=1.5)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def metric_plot(history: Sequence[dict[str, Any]], keys: Sequence[str], path: Path) -> Path | None:
    """One panel per metric over epochs, for the evaluated epochs only; a shaded ±1 std
    band where the record carries ``<metric>_std``, and the sample count in the title."""
    keys = [k for k in keys if any(k in r for r in history)]
    if not keys:
        return None
    columns = min(4, len(keys))
    rows_count = -(-len(keys) // columns)
    fig, axes = plt.subplots(rows_count, columns, figsize=(3.4 * columns, 2.8 * rows_count), squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    for ax, key in zip(axes.flat, keys):
        rows = [r for r in history if key in r]
        epochs, values = [r["epoch"] for r in rows], np.array([r[key] for r in rows], dtype=float)
        ax.plot(epochs, values, "o-", markersize=3)
        spread = np.array([r.get(f"{key}_std", np.nan) for r in rows], dtype=float)
        if np.isfinite(spread).any():  # ±1 std band (bootstrap or subset spread)
            ax.fill_between(epochs, values - spread, values + spread, alpha=0.25, linewidth=0)
        positive = values[np.isfinite(values)]
        if key in LOG_SCALE_OK and positive.size and positive.min() > 0 and positive.max() / positive.min() > 100:
            ax.set_yscale("log")  # e.g. FID falling from hundreds to single digits
        if key in COUNT_METRICS:
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        n = next((r.get("n_fake") for r in reversed(rows) if "n_fake" in r), None)
        ax.set_title(key if n is None else f"{key} (n={n})", fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)
