"""``gankit.compare``: put runs side by side — metric and loss curves of every run in one
figure, the final-metrics table with the best values marked, every run's last samples in
one grid, and an ``index.html`` that shows it all from disk.

Output folder layout::

    index.html               the page to open (relative links only, no network)
    metrics.png              every metric present (or the chosen ones) as panels
    metrics/<metric>.png     one figure per metric, every run's curve
    losses.png               G loss, D loss on real, D loss on fake: a panel each
    samples.png              each run's last samples/epoch_*.png, titled with its settings
    final_metrics.md/.csv/.html
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from gankit.catalogue import RANKED
from gankit.errors import GankitError
from gankit.experiments.runs import ComparedRun, load_runs, varied_keys
from gankit.files.atomic import write_text
from gankit.files.owner import check_new, new_location
from gankit.experiments.tables import build_table, to_csv, to_html, to_markdown
from gankit.files.rundir import RunPaths

LOSS_KEYS = ("g_loss", "d_loss_real", "d_loss_fake")
PAGE_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;font-size:14px;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}b.best{color:#0a5}
img{max-width:100%;border:1px solid #eee}.figures{display:flex;flex-wrap:wrap;gap:12px}
.figures img{width:560px}code{background:#f5f5f5;padding:1px 4px}"""


def curve_metrics(runs: Sequence[ComparedRun]) -> list[str]:
    """Metrics with a curve in some run's metrics.jsonl, in the project's curve order."""
    return [k for k in RANKED if any(r.get(k) is not None for run in runs for r in run.records)]


def choose_metrics(present: Sequence[str], requested: Sequence[str] | str | None) -> list[str]:
    """``requested`` (e.g. ``"s1,s2,s3"``) checked against what the runs logged; all when None."""
    if requested is None or requested == "" or requested == []:
        return list(present)
    names = [m.strip() for m in requested.split(",")] if isinstance(requested, str) else list(requested)
    names = [m for m in names if m]
    missing = [m for m in names if m not in present]
    if missing:
        raise GankitError(f"--metrics: {', '.join(missing)} not logged by these runs; "
                          f"they have: {', '.join(present) or 'no metric curves'}")
    return names


def _common_data_name(runs: Sequence[ComparedRun]) -> str:
    names = {run.settings.get("data.name") for run in runs}
    return str(names.pop()) if len(names) == 1 else ""


def compare(paths: Sequence[str | Path] | str | Path, out: str | Path, *,
            metrics: Sequence[str] | str | None = None, log: Callable[[str], None] | None = print,
            force: bool = False) -> list[Path]:
    """Compare the runs in ``paths`` (run folders, or folders holding them such as a sweep
    folder or shard outputs) into ``out``; return the files written, ``index.html`` last.

    ``metrics`` limits the combined ``metrics.png`` and the table to those metrics (in that
    order); one figure per metric is written for every metric logged either way. ``out`` must
    be new or empty, or (with ``force``) an earlier comparison gankit wrote holding nothing else.
    """
    from gankit.report import compare_plots as plots

    if isinstance(paths, (str, Path)):
        paths = [paths]
    check_new(out, "compare", force=force, option="-o")  # refused before the runs are read
    runs, warnings = load_runs(paths)
    for warning in warnings:
        if log:
            log(f"warning: {warning}")
    out = new_location(out, "compare", force=force, option="-o")
    series = [(run.label, run.records) for run in runs]
    present = curve_metrics(runs)
    chosen = choose_metrics(present, metrics)
    data_name = _common_data_name(runs)
    written: list[Path] = []
    if chosen:
        written.append(plots.metrics_figure(series, chosen, out / "metrics.png"))
    for key in present:
        written.append(plots.metric_figure(series, key, out / "metrics" / f"{key}.png", title=data_name))
    if any(r.get(k) is not None for run in runs for r in run.records for k in LOSS_KEYS):
        written.append(plots.loss_figure(series, out / "losses.png"))
    if any(run.last_sample for run in runs):
        written.append(plots.samples_figure([(run.label, run.last_sample) for run in runs], out / "samples.png"))
    table = build_table(runs, varied_keys(runs), only=chosen if metrics else None)
    for suffix, render in (("md", to_markdown), ("csv", to_csv), ("html", to_html)):
        path = out / f"final_metrics.{suffix}"
        write_text(path, render(table))
        written.append(path)
    written.append(write_index(out, runs, written, to_html(table), warnings))
    return written


def _relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def write_index(out: Path, runs: Sequence[ComparedRun], figures: Sequence[Path], table_html: str,
                warnings: Sequence[str]) -> Path:
    """``index.html``: runs, the table, then every figure, all by relative path."""
    def image(path: Path, alt: str) -> str:
        return f'<a href="{html.escape(_relative(path, out))}"><img src="{html.escape(_relative(path, out))}" ' \
               f'alt="{html.escape(alt)}"></a>'

    by_name = {p.name: p for p in figures if p.suffix == ".png" and p.parent == out}
    singles = [p for p in figures if p.suffix == ".png" and p.parent == out / "metrics"]
    def link(run: ComparedRun) -> str:  # the run's own report page when it has one
        report = RunPaths(run.path).report
        return html.escape(_relative(report if report.is_file() else run.path, out))

    items = "".join(
        f'<li><b>{html.escape(run.label)}</b> — <a href="{link(run)}">'
        f'<code>{html.escape(str(run.path))}</code></a>'
        f'{"" if run.finished else " (unfinished)"}</li>' for run in runs)
    parts = [f"<h1>Comparison of {len(runs)} runs</h1>", f"<ul>{items}</ul>"]
    parts += [f'<p style="color:#a60">warning: {html.escape(w)}</p>' for w in warnings]
    parts += ["<h2>Final metrics</h2>", table_html,
              ('<p>Best value per metric in <b class="best">bold</b> (↓ lower is better, ↑ higher). '
               'Also as <a href="final_metrics.csv">CSV</a> and <a href="final_metrics.md">Markdown</a>.</p>')]
    for name, heading in (("metrics.png", "Metrics per epoch"), ("losses.png", "Losses per epoch"),
                          ("samples.png", "Last samples of each run")):
        if name in by_name:
            parts += [f"<h2>{heading}</h2>", image(by_name[name], heading)]
    if singles:
        parts += ["<h2>One figure per metric</h2>",
                  '<div class="figures">' + "".join(image(p, p.stem) for p in singles) + "</div>"]
    page = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>gankit comparison</title>"
            f"<style>{PAGE_STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
    path = out / "index.html"
    return write_text(path, page)
