"""The final-metrics table of a comparison, as Markdown, CSV and HTML, best values marked.

Rows are runs; the first columns are the settings that differ between them, then epochs,
training time and sample count, then one column per metric. The best value of a metric
(direction from the metric catalogue, :data:`gankit.catalogue.DIRECTIONS`) is bold in Markdown and HTML;
CSV keeps numbers plain and lists the metrics a run is best in, ``;``-separated, in the
``best_in`` column, so the file reads back as numbers.
"""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gankit.catalogue import DIRECTIONS, RANKED
from gankit.experiments.grid import short_names
from gankit.experiments.runs import ComparedRun
from gankit.numbers import float_text

# Metrics in the order a reader expects them: the catalogue's (curve) order.


def _number(value: Any) -> int | float | None:
    """A finite number as is (counts stay integers); anything else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value


def run_metrics(run: ComparedRun) -> dict[str, Any]:
    """``final_metrics.json``, or for an unfinished run its latest evaluated record."""
    if run.final:
        return run.final
    evaluated = [r for r in run.records if any(k in r for k in DIRECTIONS)]
    return {**(evaluated[-1] if evaluated else {}), "epoch": run.records[-1].get("epoch"),
            "train_seconds": run.records[-1].get("time")}


def metric_columns(runs: Sequence[ComparedRun], only: Sequence[str] | None = None) -> list[str]:
    """Ranked metrics present in some run's final metrics (``only``: these, in this order)."""
    present = {k for run in runs for k, v in run_metrics(run).items() if _number(v) is not None}
    if only:
        return [k for k in only if k in present]
    return [k for k in RANKED if k in present]


@dataclass
class ResultTable:
    """Rows of plain values per column, and which rows hold the best value of each metric."""

    setting_columns: list[str]
    metric_columns: list[str]
    rows: list[dict[str, Any]]
    best: dict[str, set[int]]

    @property
    def info_columns(self) -> list[str]:
        info = ["epochs", "train_seconds", "finished"]
        return info + (["n"] if any(r.get("n") is not None for r in self.rows) else [])

    def best_in(self, index: int) -> list[str]:
        return [m for m in self.metric_columns if index in self.best.get(m, set())]


INFO_COLUMNS = ("epochs", "train_seconds", "finished", "n", "run", "best_in")


def build_table(runs: Sequence[ComparedRun], varied_keys: Sequence[str],
                only: Sequence[str] | None = None) -> ResultTable:
    """The table of ``runs``; ``varied_keys`` (full config keys) become the first columns,
    named by their last component unless that clashes with another column."""
    metrics = metric_columns(runs, only)
    reserved = [*INFO_COLUMNS, *metrics, *(f"{m}_std" for m in metrics)]
    names = short_names(varied_keys, reserved)
    setting_columns = [names[k] for k in varied_keys]
    rows = []
    for run in runs:
        values = run_metrics(run)
        row: dict[str, Any] = {**{names[k]: run.varied.get(k, "") for k in varied_keys},
                               "epochs": values.get("epoch"), "train_seconds": values.get("train_seconds"),
                               "finished": run.finished, "n": values.get("n_fake"), "run": run.path.name}
        for key in metrics:
            row[key], row[f"{key}_std"] = _number(values.get(key)), _number(values.get(f"{key}_std"))
        rows.append(row)
    best = {}
    for key in metrics:
        scored = [(i, DIRECTIONS.get(key, 1) * r[key]) for i, r in enumerate(rows) if r[key] is not None]
        if len(scored) >= 2:
            top = max(s for _, s in scored)
            best[key] = {i for i, s in scored if math.isclose(s, top, rel_tol=1e-12, abs_tol=1e-15)}
    return ResultTable(list(setting_columns), metrics, rows, best)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return float_text(value)
    return str(value)


def _cell(table: ResultTable, index: int, column: str) -> tuple[str, bool]:
    """Display text of a cell (metric ± std) and whether it is the column's best."""
    row = table.rows[index]
    text = _text(row.get(column))
    if column in table.metric_columns and row.get(f"{column}_std") is not None and text:
        text += f" ± {float_text(row[f'{column}_std'], 2)}"
    return text, index in table.best.get(column, set())


def _header(column: str, table: ResultTable) -> str:
    if column in table.metric_columns:
        return f"{column} {'↓' if DIRECTIONS.get(column, 1) < 0 else '↑'}"
    return column


def to_markdown(table: ResultTable) -> str:
    """A GitHub Markdown table; best values in bold; arrows say which way is better."""
    columns = table.setting_columns + table.info_columns + table.metric_columns + ["run"]
    lines = ["| " + " | ".join(_header(c, table) for c in columns) + " |",
             "|" + "|".join("---" if c in table.setting_columns or c == "run" else "---:" for c in columns) + "|"]
    for index in range(len(table.rows)):
        cells = []
        for column in columns:
            text, best = _cell(table, index, column)
            cells.append(f"**{text}**" if best else text.replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_csv(table: ResultTable) -> str:
    """Plain numbers; ``<metric>_std`` columns beside their metric; ``best_in`` lists the
    metrics this run is best in (``;``-separated)."""
    columns = table.setting_columns + table.info_columns
    for metric in table.metric_columns:
        columns.append(metric)
        if any(r.get(f"{metric}_std") is not None for r in table.rows):
            columns.append(f"{metric}_std")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns + ["best_in", "run"])
    for index, row in enumerate(table.rows):
        writer.writerow([_csv_value(row.get(c)) for c in columns] + [";".join(table.best_in(index)), row["run"]])
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else value


def to_html(table: ResultTable) -> str:
    """An HTML ``<table>`` (no page around it); best values in ``<b>`` with class ``best``."""
    columns = table.setting_columns + table.info_columns + table.metric_columns + ["run"]
    head = "".join(f"<th>{html.escape(_header(c, table))}</th>" for c in columns)
    body = []
    for index in range(len(table.rows)):
        cells = []
        for column in columns:
            text, best = _cell(table, index, column)
            text = html.escape(text)
            numeric = column not in table.setting_columns and column != "run"
            opening = '<td class="num">' if numeric else "<td>"
            cells.append(opening + (f'<b class="best">{text}</b>' if best else text) + "</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return ('<table class="results">\n<thead><tr>' + head + "</tr></thead>\n<tbody>\n"
            + "\n".join(body) + "\n</tbody>\n</table>\n")
