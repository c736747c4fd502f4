"""``gankit sweep`` and ``gankit compare``: parse, call :mod:`gankit.experiments`, print. No logic here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from gankit.errors import GankitError

out = Console()
err = Console(stderr=True)


def _headline(final: dict[str, Any], objective: str) -> str:
    from gankit.metrics.select import auto_selection

    names = auto_selection(final, objective)
    return ", ".join(f"{name} {final[name]:.4g}" if isinstance(final[name], float) else f"{name} {final[name]}"
                     for name in names if final.get(name) is not None)


def sweep_command(
    target: Annotated[str, typer.Argument(help="Preset name (see `gankit presets`) or a .toml config file.")],
    grid: Annotated[list[str], typer.Option(
        "--grid", "-g", metavar="KEY=V1,V2",
        help="Values to try for one key; repeat for more keys (every combination runs). List-valued keys "
             "separate alternatives with |, e.g. 'model.g_hidden=64,64|128,128'.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Sweep folder: one run folder per combination, "
                                                              "plus sweep.json.")],
    overrides: Annotated[list[str] | None, typer.Argument(
        metavar="[KEY=VALUE]...", help="Settings fixed for every run, e.g. train.epochs=20.")] = None,
    shard: Annotated[str | None, typer.Option(
        "--shard", metavar="I/N", help="Run only slice I of N (1-based, round-robin), e.g. one per machine.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the runs and what would happen to each; "
                                                            "train nothing.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Train every combination of the --grid values, one run folder each in --out.

    Running the same command again skips finished runs and resumes interrupted ones. A run that fails (e.g. diverges) is reported and the sweep goes on; the exit code is 1 if any failed. `gankit compare OUT -o DIR` puts the results side by side.
    """
    from gankit.experiments import sweep

    runs = sweep(target, grid, overrides=list(overrides or []), out=out_dir, shard=shard, dry_run=dry_run,
                 progress=not quiet, log=lambda line: err.print(line, highlight=False, markup=False, soft_wrap=True))
    if not runs:
        return
    title = f"sweep · {out_dir}" + (f" · shard {shard}" if shard else "") + (" · dry run" if dry_run else "")
    table = Table("run", "status", "epoch", "seconds", "result", title=title, box=None, title_justify="left")
    for run in runs:
        objective = next((o.partition("=")[2] for o in run.overrides if o.startswith("objective.name=")), "")
        result = run.message if run.failed else _headline(run.final, objective)
        table.add_row(run.name, run.status, str(run.final.get("epoch", "")),
                      str(run.final.get("train_seconds", "")), result)
    out.print(table)
    failed = [run.name for run in runs if run.failed]
    if failed:  # after the summary, so every run's outcome is on screen; exit code 1
        raise GankitError(f"{len(failed)} of {len(runs)} runs failed: {', '.join(failed)}; "
                          "fix the cause and run the same command again (finished runs are skipped)")
    if not dry_run:
        out.print(f"compare them with: gankit compare {out_dir} -o {out_dir / 'comparison'}", highlight=False)


def compare_command(
    paths: Annotated[list[Path], typer.Argument(
        metavar="RUN_OR_DIR...", help="Run folders, or folders holding them (a sweep folder, shard outputs).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the figures, tables and index.html.")],
    metrics: Annotated[str | None, typer.Option(
        "--metrics", "-m", metavar="M1,M2",
        help="Only these metrics in metrics.png and the table, e.g. s1,s2,s3.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an earlier comparison gankit wrote there "
                                                        "(only if it holds nothing else).")] = False,
) -> None:
    """Put runs side by side: every run's curve per metric, loss curves, the final-metrics table (best marked) as Markdown/CSV/HTML, and each run's last samples, all shown in OUTPUT/index.html."""
    from gankit.experiments import compare

    written = compare(paths, output, metrics=metrics, force=force,
                      log=lambda line: err.print(line, highlight=False, markup=False, soft_wrap=True))
    table_md = output / "final_metrics.md"
    if table_md.is_file():
        print(table_md.read_text(encoding="utf-8"))
    out.print(f"wrote {len(written)} files; open {written[-1]}", highlight=False)
