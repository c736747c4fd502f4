"""The ``gankit`` command line: parse, call the library, print. No logic lives here."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from gankit.errors import ConfigError, GankitError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="Train, sample, evaluate and compare GANs — offline, on a CPU or one GPU.",
)
out = Console()
err = Console(stderr=True)

RUN_HELP = "A run folder (it holds config.toml, metrics.jsonl and checkpoints/)."


@app.command()
def train(
    target: str = typer.Argument(..., help="Preset name (see `gankit presets`), a .toml config file, "
                                           "or a run folder to continue with --resume."),
    overrides: Optional[List[str]] = typer.Argument(None, metavar="[KEY=VALUE]...",
                                                    help="Config overrides, e.g. train.epochs=20 objective.name=lsgan"),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default runs/<name>-<time>)."),
    resume: bool = typer.Option(False, "--resume", help="Continue TARGET (a run folder) from its last checkpoint."),
    force: bool = typer.Option(False, "--force", help="Replace an existing run in --out."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Train a GAN; writes config.toml, metrics.jsonl, checkpoints/, samples/ and plots/ to the run folder."""
    from gankit.run import train as train_run

    overrides = list(overrides or [])
    if quiet:
        overrides.append("train.progress=false")
    run = train_run(target, overrides=overrides, out=out_dir, resume=resume, force=force)
    _print_metrics(run.metrics, title=f"final metrics · {run.path}")
    out.print(f"run folder: [bold]{run.path}[/bold]  (samples/, plots/losses.png, metrics.jsonl, final_metrics.json)")


@app.command()
def sample(
    run_dir: Path = typer.Argument(..., help=RUN_HELP),
    n: int = typer.Option(1000, "-n", help="How many samples."),
    output: Path = typer.Option(..., "--output", "-o",
                                help="Points: a .csv or .npy file. Images: a folder (0.png ... N-1.png) or a .npz file."),
    seed: Optional[int] = typer.Option(None, help="Latent seed (default: the run's sample.seed)."),
    checkpoint: str = typer.Option("last", help="last, best, or a .pt path."),
) -> None:
    """Draw N samples from a trained generator and write them to disk, batched."""
    from gankit.run import load_run

    if n < 1:
        raise ConfigError(f"-n: must be at least 1, got {n}")
    path = load_run(run_dir, checkpoint).export(n, output, seed=seed)
    out.print(f"wrote {n} samples to {path}")


@app.command("eval")
def evaluate(
    run_dir: Path = typer.Argument(..., help=RUN_HELP),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the metrics as flat JSON here."),
    n_samples: Optional[int] = typer.Option(None, "--n-samples", "-n", help="Generated samples to score."),
    seed: Optional[int] = typer.Option(None, help="Evaluation seed (default: the run's eval.seed)."),
    checkpoint: str = typer.Option("last", help="last, best, or a .pt path."),
) -> None:
    """Score a trained generator with the metrics that fit its data."""
    from gankit.run import load_run

    run = load_run(run_dir, checkpoint)
    metrics = run.evaluate(n_samples=n_samples, seed=seed)
    _print_metrics(metrics, title=f"metrics · {run.path} · {run.checkpoint.name}")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        out.print(f"wrote {json_path}")


@app.command()
def presets() -> None:
    """List the shipped presets with a one-line description each."""
    from gankit.config import preset_descriptions

    table = Table("preset", "description", box=None)
    for name, text in preset_descriptions().items():
        table.add_row(name, text)
    out.print(table)


@app.command("config")
def show_config(
    target: Optional[str] = typer.Argument(None, help="Preset name, .toml file or run folder (default: the defaults)."),
    overrides: Optional[List[str]] = typer.Argument(None, metavar="[KEY=VALUE]..."),
) -> None:
    """Print the fully resolved config as TOML (what `train` would save as config.toml)."""
    from gankit.config import load_config

    print(load_config(target, list(overrides or [])).to_toml(), end="")


def _print_metrics(metrics: dict, title: str) -> None:
    if not metrics:
        return
    table = Table("metric", "value", title=title, box=None, title_justify="left")
    for key, value in metrics.items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    out.print(table)


def main() -> None:
    """Entry point: user errors print one line and exit 2 (config) or 1 (anything else)."""
    from gankit.training.trainer import TrainingInterrupted

    try:
        app(standalone_mode=False)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except TrainingInterrupted as exc:
        print(str(exc), file=sys.stderr)
        sys.exit(130)
    except GankitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:  # click usage errors come here with standalone_mode=False
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
