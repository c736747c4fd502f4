"""``RUN/report.html``: the page a person opens to see how a run went.

One self-contained file: inline CSS, no scripts, no fonts or anything else fetched from
a network; pictures are referenced by paths relative to the run folder, so the folder
can be moved, zipped or opened from disk with no server. The page is a pure function of
the run folder's files, rewritten at each evaluation, at the end of training, and by
``gankit report RUN``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from gankit.errors import GankitError
from gankit.files.atomic import write_text
from gankit.files.rundir import RunPaths
from gankit.report import html_parts as parts
from gankit.report.html_memorisation import memorisation_panel
from gankit.report.html_check import feature_space_check
from gankit.report.html_data import (
    active_diagnostics,
    latest_metrics,
    read_run_files,
    resolved_diagnostics,
    run_status,
)

__all__ = ["REPORT_NAME", "render_report", "write_report"]

REPORT_NAME = "report.html"

CSS = """
:root { --ink: #1f2933; --muted: #66727f; --line: #e1e5ea; --bg: #f4f6f8; --card: #fff;
        --accent: #2f6fb2; --ok: #1d7a46; --warn: #9a5b00; --warn-bg: #fff6e5; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); line-height: 1.45;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 20px 40px; }
header, section { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
                  padding: 18px 22px; margin-bottom: 18px; }
h1 { font-size: 24px; margin: 0; word-break: break-all; }
h2 { font-size: 17px; margin: 0 0 12px; }
.title { display: flex; align-items: center; gap: 14px; flex-wrap: wrap; }
.status { font-size: 13px; font-weight: 600; padding: 3px 10px; border-radius: 999px; color: #fff; }
.status.finished { background: var(--ok); } .status.in-progress { background: var(--accent); }
.status.stopped { background: var(--warn); }
.description { color: var(--muted); margin: 8px 0 0; max-width: 920px; }
.facts { display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 14px 0 0; }
.facts dt { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.facts dd { margin: 0; font-weight: 600; }
.written, .muted { color: var(--muted); } .written { font-size: 12px; margin: 12px 0 0; }
.small { font-size: 12px; font-weight: normal; }
.caption { color: var(--muted); font-size: 13px; margin: 0 0 8px; }
.split { display: grid; grid-template-columns: minmax(300px, 1fr) minmax(280px, 440px); gap: 24px;
         align-items: start; }
@media (max-width: 820px) { .split { grid-template-columns: 1fr; } }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); }
table.metrics { width: 100%; max-width: 520px; } table.drs { max-width: 640px; } table.check { max-width: 900px; }
table.per-class td, table.per-class th { text-align: center; font-variant-numeric: tabular-nums; } td.worst { font-weight: 700; }
table.per-class th[scope=row] { text-align: left; white-space: nowrap; font-weight: 500; }
table.metrics th[scope=row] { text-align: left; font-weight: 500; }
thead th { text-align: left; font-size: 13px; color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; } td.better { color: var(--ok); } td.worse { color: #b42318; } td.spread { color: var(--muted); font-size: 13px; padding-left: 0; }
tbody tr:nth-child(even) { background: #f9fafb; }
.dir { color: var(--muted); font-size: 12px; }
.note { margin: 8px 0 0; padding: 7px 12px; border-radius: 6px; font-size: 14px; }
.note.warn { background: var(--warn-bg); color: var(--warn); }
.ok { color: var(--ok); font-weight: 600; margin: 0; }
ul.diagnostics { list-style: none; padding: 0; margin: 0; display: grid; gap: 8px; }
ul.diagnostics li { background: var(--warn-bg); border-left: 4px solid var(--warn); border-radius: 6px;
                    padding: 8px 12px; }
ul.diagnostics strong { color: var(--warn); }
ul.diagnostics p { margin: 4px 0 0; }
.since { margin-left: 10px; font-size: 13px; color: var(--muted); }
ul.diagnostics.resolved li { background: #f4f5f7; border-left-color: #b8c0c8; color: var(--muted); }
ul.diagnostics.resolved strong { color: var(--muted); }
.caption.later { margin-top: 12px; }
figure { margin: 0; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px;
             background: #fff; }
figcaption { font-size: 13px; color: var(--muted); margin-top: 4px; text-align: center; }
.curves { display: grid; gap: 18px; }
.curves img { margin: 0 auto; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 14px; }
.gallery img { width: 100%; height: 260px; object-fit: contain; }
details > summary { cursor: pointer; font-weight: 600; }
details[open] > summary { margin-bottom: 10px; }
details .gallery { margin-top: 10px; }
.scroll { overflow-x: auto; }
table.history { font-size: 13px; white-space: nowrap; }
table.history thead th { position: sticky; top: 0; background: var(--card); }
pre { background: #f7f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 12px; overflow-x: auto;
      font-size: 13px; margin: 0; }
a { color: var(--accent); }
nav { margin: 14px 0 0; display: flex; flex-wrap: wrap; gap: 6px; }
nav a { font-size: 13px; text-decoration: none; padding: 3px 10px; border: 1px solid var(--line);
        border-radius: 999px; background: #f7f9fb; }
nav a:hover { background: #eaf1f8; }
"""


def render_report(run_dir: str | Path, on_warning: Callable[[str], None] | None = None) -> str:
    """The report page for a run folder, as HTML text (nothing written)."""
    files = read_run_files(run_dir, on_warning)
    status = run_status(files)
    metrics, metrics_epoch = latest_metrics(files)
    found, checked_at = active_diagnostics(files)
    written = (f"report written {time.strftime('%Y-%m-%d %H:%M:%S')} · run files last changed "
               f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(files.updated))}")
    memorisation = memorisation_panel(metrics, files.memorisation_plot)
    anchors = {"diagnostics": "Diagnostics", "metrics": "Metrics", "memorisation": "Memorisation", "curves": "Curves",
               "drs": "DRS vs plain", "check": "Feature-space check", "samples": "Samples", "history": "Every epoch",
               "config": "Config"}
    if files.drs_eval is None:
        del anchors["drs"]
    if files.evaluator_check is None:
        del anchors["check"]
    if not memorisation:
        del anchors["memorisation"]
    if not files.records:
        del anchors["history"]
    nav = parts.contents(anchors)
    sections = [
        parts.header(files, status.state, status.text, written, nav),
        parts.diagnostics(found, checked_at, resolved_diagnostics(files, found), files.skipped_count),
        parts.metrics_table(metrics, metrics_epoch, files.finished, files.samples[0] if files.samples else None),
        memorisation,
        parts.curves(files.plots),
        parts.drs_table(files.drs_eval) if files.drs_eval is not None else "",
        feature_space_check(files.evaluator_check) if files.evaluator_check is not None else "",
        parts.sample_gallery(files.samples),
        parts.epoch_table(files.records),
        parts.config_block(files.config_text),
    ]
    title = f"{files.root.resolve().name} · gankit report"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{parts.esc(title)}</title><link rel=\"icon\" href=\"data:,\">"
            f"<style>{CSS}</style></head><body><main>\n" + "\n".join(s for s in sections if s)
            + "\n</main></body></html>\n")


def write_report(run_dir: str | Path, on_warning: Callable[[str], None] | None = None) -> Path:
    """(Re)write ``RUN/report.html`` from the run folder's files and return its path.

    Written through a temporary file and renamed, so a browser that reloads mid-write
    sees the old page or the new one, never half of one.
    """
    root = Path(run_dir)
    paths = RunPaths(root)
    if not (paths.config.is_file() or paths.metrics.is_file()):
        raise GankitError(f"'{root}' is not a run folder (no config.toml or metrics.jsonl)")
    return write_text(paths.report, render_report(root, on_warning))
