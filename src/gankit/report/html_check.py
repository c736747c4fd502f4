"""The report's feature-space check: ``evaluator_check.json`` (the check of the run's evaluator
on its data, `gankit.classify.sanity`) as a table, ✓ where a metric moved the way its definition
expects under a defect, ✗ where it did not, with the summary line. Runs without the file get
no section."""

from __future__ import annotations

from typing import Any

from gankit.report.html_parts import _notes, esc, fmt


def feature_space_check(check: dict[str, Any]) -> str:
    """The evaluator check of ``evaluator_check.json``: the metrics per defect and severity, ✓ where
    a metric moved the way its definition expects, ✗ where it did not, and the summary line."""
    from gankit.classify.sanity_table import METRIC_TITLES, METRICS, SanityTable
    from gankit.errors import DataError

    head = '<section id="check"><h2>Feature-space check</h2>'
    try:
        table = SanityTable.from_json(check)
    except DataError as exc:
        return f'{head}{_notes([f"evaluator_check.json: {exc}"], "warn")}</section>'
    rows = []
    for line, row in zip(table.display_rows(changes=False), [None, *table.rows]):  # the baseline first
        tds = "".join(_check_cell(text, row.cells[m] if row is not None else None) for m, text in zip(METRICS, line[3:]))
        rows.append(f'<tr><th scope="row">{esc(line[0])} {esc(line[1])}</th><td>{esc(line[2])}</td>{tds}</tr>')
    header = "".join(f'<th class="num">{esc(METRIC_TITLES[m])}</th>' for m in METRICS)
    caption = (f"evaluator '{table.extractor}' on {table.data} · {table.n_reference} reference and "
               f"{table.n_heldout} held-out real images · k = {table.k}")
    return (f'{head}<p class="caption">{esc(caption)}</p><p><strong>{esc(table.summary_line())}'
            '</strong> (✓ moved the way the metric\'s definition expects, ✗ did not, · nothing expected)</p>'
            f'<table class="metrics check"><thead><tr><th>defect</th><th>setting</th>{header}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>'
            + "".join(f'<p class="muted small">{esc(note)}</p>' for note in table.notes) + "</section>")


def _check_cell(text: str, cell: Any) -> str:
    """One metric of the check: green where the expected direction held, red where not; the change
    from the baseline and the expected direction on hover."""
    if cell is None:
        return f'<td class="num">{esc(text)}</td>'
    css = "" if cell.held is None else (" better" if cell.held else " worse")
    hint = f"change {fmt(cell.change)}, expected: {cell.expected}, moved: {cell.moved}"
    return f'<td class="num{css}" title="{esc(hint)}">{esc(text)}</td>'
