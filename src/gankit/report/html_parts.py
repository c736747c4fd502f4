"""Sections of the run report, each a small function from the run folder's data to HTML.

Every piece of text from the folder goes through :func:`esc`; numbers through
:func:`fmt` (4 significant digits, counts as integers, spreads to 2 digits).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from typing import Any

from gankit.catalogue import ARROW_DIRECTIONS, BOOKKEEPING_KEYS, TRAINING_KEYS, per_class_names
from gankit.numbers import float_text
from gankit.report.html_data import COUNT_KEYS, RunFiles

FINDING_NAMES = {"mode_collapse": "Mode collapse", "d_saturation": "Discriminator saturation",
                 "vanishing_g_grads": "Vanishing generator gradients", "oscillation": "Oscillation without progress",
                 "memorisation": "Memorisation"}
SAMPLES_SHOWN_OPEN = 12  # newest sample pictures shown; older ones fold into a <details>


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any, *, spread: bool = False) -> str:
    """A number as a person reads it: integers whole, floats to 4 significant digits
    (spreads to 2), missing values (JSON null, NaN) as a dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value, 2 if spread else 4)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def metric_keys(metrics: dict[str, Any]) -> list[str]:
    """Numeric metric names in file order: no bookkeeping, counts, or ``_std`` companions."""
    return [key for key, value in metrics.items()
            if key not in BOOKKEEPING_KEYS and key not in COUNT_KEYS
            and isinstance(value, (int, float, type(None))) and not isinstance(value, bool)
            and not (key.endswith("_std") and key[:-4] in metrics)]


def _direction(key: str) -> str:
    direction = ARROW_DIRECTIONS.get(key, 0)
    if direction < 0:
        return '<span class="dir" title="lower is better">↓</span>'
    if direction > 0:
        return '<span class="dir" title="higher is better">↑</span>'
    return ""


def _value_cells(metrics: dict[str, Any], key: str) -> str:
    spread = metrics.get(f"{key}_std")
    spread_text = f"± {fmt(spread, spread=True)}" if spread is not None else ""
    return f'<td class="num">{esc(fmt(metrics.get(key)))}</td><td class="spread">{esc(spread_text)}</td>'


def _caption(metrics: dict[str, Any], epoch: int | None) -> str:
    parts = [f"evaluated at epoch {esc(epoch)}"] if epoch is not None else []
    parts += [f"{esc(key)} = {esc(fmt(metrics[key]))}" for key in COUNT_KEYS if key in metrics]
    parts += [f"{esc(key)}: {esc(value)}" for key, value in metrics.items() if isinstance(value, str)
              and key not in BOOKKEEPING_KEYS]
    return " · ".join(parts)


def _notes(lines: Iterable[str], css: str) -> str:
    return "".join(f'<p class="note {css}">{esc(line)}</p>' for line in lines)


def contents(sections: dict[str, str]) -> str:
    """In-page links (plain anchors: no script) to the sections present, by id."""
    links = " ".join(f'<a href="#{esc(anchor)}">{esc(label)}</a>' for anchor, label in sections.items())
    return f'<nav>{links}</nav>'


def header(files: RunFiles, status_state: str, status_text: str, written: str, nav: str = "") -> str:
    s = files.setting
    data = f"{s('data', 'name', '?')}" + (f" ({s('data', 'path')})" if s("data", "path") else "")
    objective = f"{s('objective', 'name', '?')}"
    if objective == "bce" and s("objective", "generator_loss"):
        objective += f", {s('objective', 'generator_loss')} G loss"
    family = f"{s('model', 'family', '?')}" + (f" ({s('model', 'dcgan_style')} style)"
                                              if s("model", "family") == "dcgan" else "")
    times = [(files.final or {}).get("train_seconds")] + [r.get("time") for r in reversed(files.records)]
    seconds = next((t for t in times if isinstance(t, (int, float)) and not isinstance(t, bool)), None)
    facts = [("data", data), ("objective", objective), ("model", family),
             ("epochs", f"{files.latest_epoch} of {s('train', 'epochs', '?')}"),
             ("batch size", s("train", "batch_size", "?")),
             ("training time", f"{fmt(float(seconds))} s" if seconds is not None else "—"),
             ("device", s("train", "device", "?"))]
    description = files.config.get("description", "")
    items = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in facts)
    return (f'<header><div class="title"><h1>{esc(files.root.resolve().name)}</h1>'
            f'<span class="status {esc(status_state.replace(" ", "-"))}">{esc(status_text)}</span></div>'
            + (f'<p class="description">{esc(description)}</p>' if description else "")
            + f'<dl class="facts">{items}</dl>{nav}<p class="written">{esc(written)}</p></header>')


def _finding(item: Any, *, resolved: bool = False) -> str:
    """One detector finding: kind, since which epoch (and until, once resolved), message."""
    item = item if isinstance(item, dict) else {"message": str(item)}
    kind = str(item.get("kind", "problem"))
    kind = FINDING_NAMES.get(kind, kind.replace("_", " ").capitalize())
    since, until = item.get("since_epoch"), item.get("last_epoch")
    when = f"since epoch {esc(since)}" if since is not None else ""
    if resolved:
        when = f"epochs {esc(since)}–{esc(until)}" if since is not None and until is not None else when
    message = esc(item.get("message", ""))
    return f'<li><strong>{esc(kind)}</strong><span class="since">{when}</span><p>{message}</p></li>'


def diagnostics(found: list[dict[str, Any]] | None, epoch: int | None, resolved: list[dict[str, Any]],
                skipped_count: int) -> str:
    """The training-health detector's active findings, or an explicit all-clear; earlier,
    resolved findings below (muted)."""
    at = f" at epoch {esc(epoch)}" if epoch is not None else ""
    if found is None:
        body = '<p class="muted">No diagnostics recorded in this run\'s files.</p>'
    elif not found:
        body = f'<p class="ok">✓ No problems detected{at}.</p>'
    else:
        body = (f'<p class="caption">active{at}:</p>'
                f'<ul class="diagnostics">{"".join(_finding(item) for item in found)}</ul>')
    if resolved:
        body += (f'<p class="caption later">earlier, no longer active:</p><ul class="diagnostics resolved">'
                 f'{"".join(_finding(item, resolved=True) for item in resolved)}</ul>')
    if skipped_count:
        body += (f'<p class="note warn">{skipped_count} unusable data files were skipped; they are listed in '
                 f'<a href="skipped_files.txt">skipped_files.txt</a>.</p>')
    return f'<section id="diagnostics"><h2>Diagnostics</h2>{body}</section>'


# The per-class rows of a conditional run, in order: (record key, row name, whether lower is better).
PER_CLASS_ROWS = (("intra_fid_per_class", "intra-FID", True), ("recall_per_class", "recall", False),
                  ("coverage_per_class", "coverage", False), ("diversity_per_class", "diversity", False))


def _per_class(metrics: dict[str, Any]) -> str:
    """A conditional run's per-class values under the metrics table, one row per metric
    (intra-FID, recall, coverage, diversity; those the record holds), the worst class of each row in bold."""
    names = per_class_names(metrics)
    rows = []
    for key, label, lower in PER_CLASS_ROWS:
        values = metrics.get(key)
        if not isinstance(values, list) or not values or len(values) != len(names):
            continue
        known = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        worst = (max(known) if lower else min(known)) if known else None
        cells = "".join(f'<td class="{"worst" if v == worst else ""}">'
                        f'{esc(float_text(v, 3)) if isinstance(v, (int, float)) else "–"}</td>' for v in values)
        rows.append(f'<tr><th scope="row">{esc(label)} {"↓" if lower else "↑"}</th>{cells}</tr>')
    if not rows:
        return ""
    header = "<th></th>" + "".join(f"<th>{esc(name)}</th>" for name in names)
    return ('<p class="caption">per class (the worst in bold)</p>'
            f'<table class="metrics per-class"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def metrics_table(metrics: dict[str, Any], epoch: int | None, final: bool, latest_sample: tuple[int, str] | None) -> str:
    """Final (or latest evaluated) metrics with spreads and sample counts, beside the newest samples."""
    title = "Final metrics" if final else "Latest metrics"
    if not metrics:
        table = '<p class="muted">No evaluation yet.</p>'
    else:
        rows = "".join(f'<tr><th scope="row">{esc(key)} {_direction(key)}</th>{_value_cells(metrics, key)}</tr>'
                       for key in metric_keys(metrics))
        table = (f'<p class="caption">{_caption(metrics, epoch)}</p>'
                 f'<table class="metrics"><tbody>{rows}</tbody></table>' + _per_class(metrics)
                 + _notes((f"warning: {w}" for w in metrics.get("warnings") or []), "warn"))
    picture = ""
    if latest_sample is not None:
        sample_epoch, src = latest_sample
        picture = (f'<figure class="latest"><img src="{esc(src)}" alt="generated samples, epoch {sample_epoch}">'
                   f'<figcaption>generated samples · epoch {sample_epoch}</figcaption></figure>')
    return (f'<section id="metrics"><h2>{title}</h2><div class="split"><div>{table}</div>{picture}</div>'
            '</section>')


def curves(plots: dict[str, str]) -> str:
    if not plots:
        return '<section id="curves"><h2>Curves</h2><p class="muted">No plots yet.</p></section>'
    names = {"losses": "losses per epoch", "metrics": "metrics at each evaluation (shaded: ± 1 std)"}
    figures = "".join(f'<figure><img src="{esc(src)}" alt="{esc(names[name])}"><figcaption>{esc(names[name])}'
                      f'</figcaption></figure>' for name, src in plots.items())
    return f'<section id="curves"><h2>Curves</h2><div class="curves">{figures}</div></section>'


def _change(key: str, before: Any, after: Any) -> str:
    """DRS minus plain, green where it moved the better way for this metric, red where worse."""
    if not (isinstance(before, (int, float)) and isinstance(after, (int, float))) or before is None:
        return '<td class="num">—</td>'
    delta = after - before
    text = fmt(delta)
    text = text if text.startswith("-") or delta == 0 else "+" + text
    direction = ARROW_DIRECTIONS.get(key, 0)
    better = (delta * direction > 0) if direction else None
    css = "" if better is None or delta == 0 else (" better" if better else " worse")
    return f'<td class="num{css}">{esc(text)}</td>'


def _acceptance_facts(drs_eval: dict[str, Any]) -> list[str]:
    acceptance = dict(drs_eval.get("acceptance") or {})
    facts = [f"n = {esc(fmt(drs_eval.get('n')))} samples each", f"seed {esc(fmt(drs_eval.get('seed')))}"]
    rate, proposed = acceptance.pop("drs_acceptance_rate", None), acceptance.pop("drs_proposed", None)
    if isinstance(rate, (int, float)):
        facts.append(f"accepted {rate:.1%} of {esc(fmt(proposed))} proposals")
    speed = acceptance.pop("drs_accepted_per_second", None)
    if isinstance(speed, (int, float)):
        facts.append(f"{speed:,.0f} accepted samples/s")
    facts += [f"{esc(key.removeprefix('drs_').replace('_', ' '))}: {esc(fmt(value))}"
              for key, value in acceptance.items()]
    return facts


def drs_table(drs_eval: dict[str, Any]) -> str:
    """The same metrics on plain samples and on DRS-accepted ones, with the acceptance statistics."""
    plain, drs = drs_eval.get("plain") or {}, drs_eval.get("drs") or {}
    rows = "".join(f'<tr><th scope="row">{esc(key)} {_direction(key)}</th>{_value_cells(plain, key)}'
                   f'{_value_cells(drs, key)}{_change(key, plain.get(key), drs.get(key))}</tr>'
                   for key in metric_keys(plain) if key in drs)
    settings = " · ".join(f"{esc(k)} = {esc(fmt(v))}" for k, v in (drs_eval.get("settings") or {}).items())
    table = ('<table class="metrics drs"><thead><tr><th>metric</th><th class="num">plain</th><th></th>'
             f'<th class="num">DRS</th><th></th><th class="num">change</th></tr></thead><tbody>{rows}</tbody></table>'
             if rows else '<p class="muted">No metric was scored on both sample sets.</p>')
    return (f'<section id="drs"><h2>Discriminator Rejection Sampling vs plain</h2>'
            f'<p class="caption">{" · ".join(_acceptance_facts(drs_eval))}</p>{table}'
            + (f'<p class="muted small">settings: {settings}</p>' if settings else "")
            + _notes((f"warning (DRS): {w}" for w in drs.get("warnings") or []), "warn") + "</section>")


def _sample_figure(epoch: int, src: str) -> str:
    """A sample picture linking to itself at full size (no script needed to enlarge it)."""
    return (f'<figure><a href="{esc(src)}"><img src="{esc(src)}" alt="generated samples, epoch {epoch}"></a>'
            f'<figcaption>epoch {epoch}</figcaption></figure>')


def sample_gallery(samples: list[tuple[int, str]]) -> str:
    """Every ``samples/epoch_*.png``, newest first; the older ones beyond a dozen fold away."""
    if not samples:
        return '<section id="samples"><h2>Samples over epochs</h2><p class="muted">No samples yet.</p></section>'
    shown = "".join(_sample_figure(e, s) for e, s in samples[:SAMPLES_SHOWN_OPEN])
    older = samples[SAMPLES_SHOWN_OPEN:]
    folded = (f'<details><summary>{len(older)} earlier epochs</summary><div class="gallery">'
              f'{"".join(_sample_figure(e, s) for e, s in older)}</div></details>' if older else "")
    return (f'<section id="samples"><h2>Samples over epochs <span class="muted small">newest first</span></h2>'
            f'<div class="gallery">{shown}</div>{folded}</section>')


def epoch_table(records: list[dict[str, Any]]) -> str:
    """metrics.jsonl as a table: training columns, then each metric as it first appears."""
    if not records:
        return ""
    columns = [key for key in TRAINING_KEYS if any(key in r for r in records)]
    for record in records:
        columns += [key for key in metric_keys(record) if key not in columns]
    head = "".join(f"<th>{esc(key)}</th>" for key in columns)
    body = "".join("<tr>" + "".join(f'<td class="num">{esc(_cell(r, key))}</td>' for key in columns) + "</tr>"
                   for r in records)
    return (f'<section id="history"><details><summary>Every epoch ({len(records)} records of metrics.jsonl)'
            f'</summary><div class="scroll"><table class="history"><thead><tr>{head}</tr></thead>'
            f'<tbody>{body}</tbody></table></div></details></section>')


def _cell(record: dict[str, Any], key: str) -> str:
    if key not in record:
        return ""
    spread = record.get(f"{key}_std")
    return fmt(record[key]) + (f" ± {fmt(spread, spread=True)}" if spread is not None else "")


def config_block(config_text: str) -> str:
    if not config_text:
        return '<section id="config"><p class="muted">No config.toml in this folder.</p></section>'
    return ('<section id="config"><details><summary>Resolved config (config.toml, re-runnable as is)</summary>'
            f'<pre>{esc(config_text)}</pre></details></section>')

