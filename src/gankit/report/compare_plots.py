"""Figures that put several runs side by side: one metric's curves of every run (the lung-cell boundary-loss study's
original-vs-boundary score figure), all metrics as panels, the three loss curves per run
(the cats-vs-dogs study's BCE-vs-MSE figure), and every run's last sample picture in one grid.

A run is given as ``(label, records)``: its legend text (the settings that differ between
the runs) and its ``metrics.jsonl`` records. Each run keeps one colour, line style and
marker in every figure, so a run is recognisable across them and in black and white.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from gankit.catalogue import COUNT_METRICS, DIRECTIONS, LOG_SCALE_OK
from gankit.report.plots import plt, save_figure

Series = tuple[str, Sequence[dict[str, Any]]]
COLOURS = plt.get_cmap("tab10").colors
LINE_STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
LOSSES = (("g_loss", "generator loss"), ("d_loss_real", "discriminator loss on real"),
          ("d_loss_fake", "discriminator loss on fake"))


def run_style(index: int) -> dict[str, Any]:
    """Colour, line style and marker of the ``index``-th run; the triple repeats only after 140 runs."""
    return {"color": COLOURS[index % len(COLOURS)], "linestyle": LINE_STYLES[index % len(LINE_STYLES)],
            "marker": MARKERS[index % len(MARKERS)]}


def _points(records: Sequence[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = [r for r in records if r.get(key) is not None and "epoch" in r]
    epochs = np.array([r["epoch"] for r in rows], dtype=float)
    values = np.array([r[key] for r in rows], dtype=float)
    spread = np.array([r.get(f"{key}_std") if r.get(f"{key}_std") is not None else np.nan for r in rows], dtype=float)
    return epochs, values, spread


def _panel_title(runs: Sequence[Series], key: str) -> str:
    """``fid ↓ (n=2500)``: which way is better, and the sample count(s) behind the numbers."""
    name = f"{key} {'↓' if DIRECTIONS[key] < 0 else '↑'}" if key in DIRECTIONS else key
    counts = sorted({r["n_fake"] for _, records in runs for r in records if key in r and "n_fake" in r})
    if not counts:
        return name
    return f"{name} (n={counts[0]})" if len(counts) == 1 else f"{name} (n={counts[0]}–{counts[-1]})"


def draw_metric(ax, runs: Sequence[Series], key: str) -> None:
    """Every run's curve of ``key`` over epochs on ``ax``, with a ±1 std band where logged."""
    everything = []
    for index, (label, records) in enumerate(runs):
        epochs, values, spread = _points(records, key)
        if not len(epochs):
            continue
        style = run_style(index)
        ax.plot(epochs, values, label=label, linewidth=1.6, markersize=4,
                markevery=max(1, len(epochs) // 12), **style)
        if np.isfinite(spread).any():
            ax.fill_between(epochs, values - spread, values + spread, color=style["color"], alpha=0.15, linewidth=0)
        everything.append(values[np.isfinite(values)])
    values = np.concatenate(everything) if everything else np.array([])
    if key in LOG_SCALE_OK and values.size and values.min() > 0 and values.max() / values.min() > 100:
        ax.set_yscale("log")
    if key in COUNT_METRICS:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(_panel_title(runs, key), fontsize=10)
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)


def _legend_below(fig, axes, count: int) -> None:
    """One legend for all panels, under them (the labels are the same in every panel)."""
    handles, labels = [], []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    columns = max(1, min(count, 3 if max((len(l) for l in labels), default=0) > 30 else 4))
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=columns, fontsize=9,
               frameon=False)


def metric_figure(runs: Sequence[Series], key: str, path: Path, title: str = "") -> Path:
    """One metric, every run's curve: the figure to put in a report about that metric."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    draw_metric(ax, runs, key)
    if title:
        ax.set_title(f"{title} · {ax.get_title()}", fontsize=10)
    if len(runs) <= 6:
        ax.legend(fontsize=8)
    else:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


def _panel_figure(runs: Sequence[Series], keys: Sequence[str], draw, path: Path, columns: int = 3) -> Path:
    columns = min(columns, len(keys))
    rows = -(-len(keys) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.0 * columns, 3.0 * rows), squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    used = list(axes.flat[:len(keys)])
    for ax, key in zip(used, keys):
        draw(ax, key)
    fig.tight_layout()
    _legend_below(fig, used, len(runs))
    return save_figure(fig, path)


def metrics_figure(runs: Sequence[Series], keys: Sequence[str], path: Path) -> Path:
    """All chosen metrics as panels (e.g. s1, s2, s3), one shared legend below."""
    return _panel_figure(runs, keys, lambda ax, key: draw_metric(ax, runs, key), path)


def loss_figure(runs: Sequence[Series], path: Path) -> Path:
    """A panel per loss (G, D on real, D on fake) with every run's curve per epoch."""
    def draw(ax, key: str) -> None:
        draw_metric(ax, runs, key)
        ax.set_title(dict(LOSSES)[key], fontsize=10)
        ax.set_ylabel("loss")

    return _panel_figure(runs, [key for key, _ in LOSSES], draw, path)


def samples_figure(pictures: Sequence[tuple[str, Path | None]], path: Path, columns: int = 4) -> Path:
    """Every run's last sample picture in a grid, titled with the run's label; a run
    without pictures gets an empty panel that says so."""
    from PIL import Image

    columns = min(columns, len(pictures))
    rows = -(-len(pictures) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.4 * columns, 4.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (label, picture) in zip(axes.flat, pictures):
        title = "\n".join(textwrap.wrap(label, 34))
        if picture is None:
            ax.text(0.5, 0.5, "no sample pictures", ha="center", va="center", color="0.4")
        else:
            with Image.open(picture) as image:  # grey grids stay grey: no colour map
                ax.imshow(np.asarray(image.convert("RGB")), interpolation="lanczos")
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
