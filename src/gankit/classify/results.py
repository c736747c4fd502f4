"""The results grid: model × epochs × batch size → mean ± std validation accuracy over folds.

Written as ``results.md`` (the cats-vs-dogs study's table: one row per epochs/batch pair, one column
per model, each model's best cell in bold, then the details), ``results.csv`` (one row
per cell), ``folds.csv`` (one row per fold) and ``results.html``. The spread is the
sample standard deviation over the folds (ddof = 1). A fold's accuracy is the one of
its best epoch, whose weights early stopping restores and ``best.pt`` holds; the
validation fold also picks that epoch, so it is slightly optimistic, as in the cats-vs-dogs study.
"""

from __future__ import annotations

import csv
import html
import io
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from gankit.classify.train import FoldResult
from gankit.files.atomic import write_text


@dataclass
class CellResult:
    """One grid cell: a model trained for `epochs` epochs at `batch_size`, on every fold."""

    model: str
    epochs: int
    batch_size: int
    folds: list[FoldResult] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The cell's folder name, e.g. ``cnn_e30_b64``."""
        return cell_name(self.model, self.epochs, self.batch_size)

    @property
    def accuracies(self) -> list[float]:
        return [fold.val_accuracy for fold in self.folds]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def std(self) -> float:
        return statistics.stdev(self.accuracies) if len(self.folds) > 1 else 0.0

    def summary(self) -> dict[str, Any]:
        """The cell as one flat row (results.csv)."""
        folds = self.folds
        return {
            "model": self.model, "epochs": self.epochs, "batch_size": self.batch_size, "folds": len(folds),
            "mean_val_accuracy": round(self.mean, 5), "std_val_accuracy": round(self.std, 5),
            "mean_val_loss": round(statistics.fmean(f.val_loss for f in folds), 5),
            "fold_val_accuracies": " ".join(f"{a:.4f}" for a in self.accuracies),
            "mean_best_epoch": round(statistics.fmean(f.best_epoch for f in folds), 1),
            "mean_epochs_run": round(statistics.fmean(f.epochs_run for f in folds), 1),
            "early_stops": sum(f.stopped_early for f in folds),
            "seconds": round(sum(f.seconds for f in folds), 1),
        }


def cell_name(model: str, epochs: int, batch_size: int) -> str:
    return f"{model}_e{epochs}_b{batch_size}"


def write_results(cells: Sequence[CellResult], out: Path, title: str, notes: Sequence[str] = ()) -> list[Path]:
    """Write results.md, results.csv, folds.csv and results.html into `out`; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "results.md", out / "results.csv", out / "folds.csv", out / "results.html"]
    texts = [markdown(cells, title, notes), _csv([cell.summary() for cell in cells]), _csv(fold_rows(cells)),
             html_page(cells, title, notes)]
    for path, text in zip(paths, texts):
        write_text(path, text)
    return paths


def fold_rows(cells: Sequence[CellResult]) -> list[dict[str, Any]]:
    """One row per fold of every cell (folds.csv)."""
    return [{"model": c.model, "epochs": c.epochs, "batch_size": c.batch_size, "fold": k,
             "val_accuracy": round(f.val_accuracy, 5), "val_loss": round(f.val_loss, 5), "best_epoch": f.best_epoch,
             "epochs_run": f.epochs_run, "stopped_early": f.stopped_early, "seconds": f.seconds}
            for c in cells for k, f in enumerate(c.folds, 1)]


def grid(cells: Sequence[CellResult]) -> tuple[list[str], list[tuple[int, int]],
                                                dict[tuple[str, int, int], CellResult]]:
    """(models, (epochs, batch size) rows, cell by (model, epochs, batch)), in first-seen order."""
    models = list(dict.fromkeys(c.model for c in cells))
    rows = sorted({(c.epochs, c.batch_size) for c in cells})
    return models, rows, {(c.model, c.epochs, c.batch_size): c for c in cells}


def _best_per_model(cells: Sequence[CellResult]) -> set[tuple[str, int, int]]:
    best: dict[str, CellResult] = {}
    for cell in cells:
        if cell.model not in best or cell.mean > best[cell.model].mean:
            best[cell.model] = cell
    return {(c.model, c.epochs, c.batch_size) for c in best.values()}


def markdown(cells: Sequence[CellResult], title: str, notes: Sequence[str] = ()) -> str:
    """The cats-vs-dogs study's table (best cell of each model in bold) and a details table."""
    models, rows, by_key = grid(cells)
    best = _best_per_model(cells)
    lines = [f"# {title}", "", *[f"- {note}" for note in notes], *([""] if notes else []),
             "| epochs, batch | " + " | ".join(models) + " |", "|---|" + "---:|" * len(models)]
    for epochs, batch in rows:
        values = []
        for model in models:
            cell = by_key.get((model, epochs, batch))
            text = "—" if cell is None else f"{cell.mean:.4f} ± {cell.std:.4f}"
            values.append(f"**{text}**" if (model, epochs, batch) in best else text)
        lines.append(f"| {epochs}E, {batch}B | " + " | ".join(values) + " |")
    lines += ["", "Mean ± std (ddof 1) over folds of the validation accuracy at each fold's best epoch; "
              "bold: each model's best cell.", "",
              "| cell | mean ± std | per fold | val loss | best epoch | epochs run | early stops | seconds |",
              "|---|---:|---|---:|---:|---:|---:|---:|"]
    for cell in cells:
        s = cell.summary()
        lines.append(f"| {cell.name} | {cell.mean:.4f} ± {cell.std:.4f} | {s['fold_val_accuracies']} | "
                     f"{s['mean_val_loss']:.4f} | {s['mean_best_epoch']} | {s['mean_epochs_run']} | "
                     f"{s['early_stops']}/{s['folds']} | {s['seconds']} |")
    return "\n".join(lines) + "\n"


def html_page(cells: Sequence[CellResult], title: str, notes: Sequence[str] = ()) -> str:
    """A standalone page: the grid, the details, and each cell's curves (``<cell>/curves.png``)."""
    models, rows, by_key = grid(cells)
    best = _best_per_model(cells)
    esc = html.escape
    head = "".join(f"<th>{esc(m)}</th>" for m in models)
    body = []
    for epochs, batch in rows:
        tds = []
        for model in models:
            cell = by_key.get((model, epochs, batch))
            text = "—" if cell is None else f"{cell.mean:.4f} ± {cell.std:.4f}"
            tds.append(f"<td class='best'>{text}</td>" if (model, epochs, batch) in best else f"<td>{text}</td>")
        body.append(f"<tr><th>{epochs}E, {batch}B</th>{''.join(tds)}</tr>")
    details = "".join(
        f"<tr><td>{esc(c.name)}</td><td>{c.mean:.4f} ± {c.std:.4f}</td><td>{esc(c.summary()['fold_val_accuracies'])}"
        f"</td><td>{c.summary()['mean_best_epoch']}</td><td>{c.summary()['early_stops']}/{len(c.folds)}</td>"
        f"<td>{c.summary()['seconds']}</td></tr>" for c in cells)
    figures = "".join(f"<figure><img src='{esc(c.name)}/curves.png' alt='{esc(c.name)} curves'>"
                      f"<figcaption>{esc(c.name)}</figcaption></figure>" for c in cells)
    note_items = "".join(f"<li>{esc(note)}</li>" for note in notes)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title><style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;"
        "text-align:right}td.best{font-weight:bold;color:#b00}img{max-width:100%}</style></head><body>"
        f"<h1>{esc(title)}</h1><ul>{note_items}</ul>"
        f"<table><tr><th>epochs, batch</th>{head}</tr>{''.join(body)}</table>"
        "<p>Mean ± std (ddof 1) over folds of the validation accuracy at each fold's best epoch; "
        "red: each model's best cell.</p>"
        "<table><tr><th>cell</th><th>mean ± std</th><th>per fold</th><th>best epoch</th><th>early stops</th>"
        f"<th>seconds</th></tr>{details}</table>{figures}</body></html>\n"
    )


def _csv(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
