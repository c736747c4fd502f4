"""The ``gankit`` command line: parse, call the library, print. No logic lives here."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, NoReturn, Optional

import typer
from rich.console import Console
from rich.table import Table

from gankit.errors import ConfigError, GankitError, TrainingInterrupted

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="Train, sample, evaluate and compare GANs — offline, on a CPU or one GPU.",
)
out = Console()
err = Console(stderr=True)

RUN_HELP = "A run folder (it holds config.toml, metrics.jsonl and checkpoints/)."
FORCE_HELP = "Replace an earlier output of gankit's there (only what gankit recorded writing; never your files)."


@app.command()
def train(
    target: str = typer.Argument(..., help="Preset name (see `gankit presets`), a .toml config file, "
                                           "or a run folder to continue with --resume."),
    overrides: Optional[List[str]] = typer.Argument(None, metavar="[KEY=VALUE]...",
                                                    help="Config overrides, e.g. train.epochs=20 objective.name=lsgan"),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default runs/<name>-<time>): "
                                                                      "a new or empty folder, or a run to --force."),
    resume: bool = typer.Option(False, "--resume", help="Continue TARGET (a run folder) from its last checkpoint."),
    force: bool = typer.Option(False, "--force", help="Replace the run in --out: only a run folder gankit made, "
                                                      "never the current folder or one above it."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    nproc: int = typer.Option(1, "--nproc", help="Train in N processes on this machine (torchrun, DDP; "
                                                 "one per GPU, or gloo on CPU); train.batch_size is the global batch."),
) -> None:
    """Train a GAN; writes config.toml, metrics.jsonl, checkpoints/, samples/ and plots/ to the run folder."""
    from gankit.files.rundir import RunPaths
    from gankit.run import train as train_run
    from gankit.training import distributed, launch

    overrides = list(overrides or [])
    if nproc > 1:
        flags = [*(["--out", str(out_dir)] if out_dir else []), *(["--resume"] if resume else []),
                 *(["--force"] if force else []), *(["--quiet"] if quiet else [])]
        code, message = launch.launch([target, *overrides, *flags], nproc)
        if message:
            print(message, file=sys.stderr)
        raise typer.Exit(code)
    if quiet:
        overrides.append("train.progress=false")
    run = train_run(target, overrides=overrides, out=out_dir, resume=resume, force=force)
    if not distributed.is_main_process():
        return
    _print_metrics(run.metrics, title=f"final metrics · {run.path}")
    paths = RunPaths(run.path)
    written = [f"{path.relative_to(run.path).as_posix()}{'/' if path.is_dir() else ''}" for path in
               (paths.samples, paths.plot("losses"), paths.plot("metrics"), paths.metrics, paths.final_metrics,
                paths.best_checkpoint, paths.tensorboard) if path.exists()]
    out.print(f"run folder: [bold]{run.path}[/bold]  ({', '.join(written)})")
    for diagnosis in run.diagnostics:
        out.print(f"[yellow]diagnosis: {diagnosis['kind'].replace('_', ' ')} since epoch {diagnosis['since_epoch']}: "
                  f"{diagnosis['message']}[/yellow]")
    if paths.report.exists():
        out.print(f"report: [bold]{paths.report}[/bold]  (open it in a browser)")


@app.command()
def sample(
    run_dir: Path = typer.Argument(..., help=RUN_HELP),
    n: int = typer.Option(1000, "-n", help="How many samples."),
    output: Path = typer.Option(..., "--output", "-o",
                                help="Points: a .csv or .npy file. Images: a folder (0.png ... N-1.png) or a .npz file."),
    seed: Optional[int] = typer.Option(None, help="Latent seed (default: the run's sample.seed)."),
    checkpoint: str = typer.Option("last", help="last, best, or a .pt path."),
    truncation: Optional[float] = typer.Option(None, help="Truncated latents: redraw components with |z| > τ."),
    drs: bool = typer.Option(False, "--drs", help="Keep only samples accepted by Discriminator Rejection Sampling."),
    drs_gamma_percentile: Optional[float] = typer.Option(
        None, help="DRS γ: this percentile of F per batch (default: sample.drs_gamma_percentile, 95)."),
    drs_finetune_steps: Optional[int] = typer.Option(None, help="Fine-tune a copy of D this many steps first."),
    classes: Optional[List[str]] = typer.Option(
        None, "--class", metavar="CLASS",
        help="Conditional runs: the class to draw, by name (cat) or index (3); several, drawn in turn, as a "
             "comma-separated list (3,5,7) or by repeating --class. A value that is a class's whole name is that "
             "class, commas and all (--class 'a,b'). Default: classes as often as in the training data."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Draw N samples from a trained generator and write them to disk, batched (optionally truncated or DRS-filtered,
    or of one class for a class-conditional run)."""
    from gankit.run import load_run

    if n < 1:
        raise ConfigError(f"-n: must be at least 1, got {n}")
    if not drs and (drs_gamma_percentile is not None or drs_finetune_steps is not None):
        raise ConfigError("--drs-gamma-percentile and --drs-finetune-steps need --drs")
    settings = {key: value for key, value in {"drs_gamma_percentile": drs_gamma_percentile,
                                              "drs_finetune_steps": drs_finetune_steps}.items() if value is not None}
    run = load_run(run_dir, checkpoint)
    wanted = _class_list(classes)
    path = run.save_samples(n, output, seed=seed, truncation=truncation, classes=wanted, drs=drs, force=force,
                            **settings)
    out.print(f"wrote {n} samples{'' if wanted is None else ' of class ' + ', '.join(wanted)} to {path}")
    if drs:
        report = run.drs_report
        out.print(f"DRS: accepted {report['drs_acceptance_rate']:.1%} of {report['drs_proposed']} proposals, "
                  f"{report['drs_accepted_per_second']:.0f} accepted samples/s; γ = {report['drs_gamma']}; "
                  f"ratio estimate: {report['drs_ratio_estimate']}")


@app.command()
def interpolate(
    run_dir: Path = typer.Argument(..., help=RUN_HELP),
    output: Path = typer.Option(..., "--output", "-o", help="PNG file to write."),
    rows: int = typer.Option(8, help="How many interpolations (one per row, or one path each for 2D points)."),
    steps: int = typer.Option(10, help="Points along each interpolation, ends included."),
    method: str = typer.Option("slerp", help="linear or slerp (spherical; keeps Gaussian latents typical)."),
    seed: int = typer.Option(0, help="Seed of the end-point latents."),
    checkpoint: str = typer.Option("last", help="last, best, or a .pt path."),
    classes: Optional[List[str]] = typer.Option(
        None, "--class", metavar="CLASS",
        help="Conditional runs: the class of every row, or several taken in turn: a comma-separated list, or "
             "--class repeated. A class's whole name wins over splitting at commas (--class 'a,b'). "
             "Default: all classes in turn."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Write a grid of interpolations between random latents (images), or their paths over the data (2D points)."""
    from gankit.run import load_run

    path = load_run(run_dir, checkpoint).interpolate(output, rows=rows, steps=steps, method=method, seed=seed,
                                                     classes=_class_list(classes), force=force)
    out.print(f"wrote {path}")


@app.command("eval")
def evaluate(
    run_dir: Optional[Path] = typer.Argument(None, help=RUN_HELP + " Omit it to score --real against --fake."),
    n: Optional[int] = typer.Option(None, "--n", "-n", help="Generated samples to score (default: the run's eval.n)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the metrics as flat JSON here."),
    seed: Optional[int] = typer.Option(None, help="Evaluation seed (default: the run's eval.seed)."),
    checkpoint: str = typer.Option("last", help="last, best, or a .pt path."),
    real: Optional[str] = typer.Option(None, "--real", help="Real images: a folder, a .npz file, or 'mnist'."),
    fake: Optional[str] = typer.Option(None, "--fake", help="Generated images: a folder or a .npz file."),
    evaluator: Optional[Path] = typer.Option(None, "--evaluator",
                                             help="Feature network from `gankit evaluator train` (default: the "
                                                  "shipped MNIST evaluator for MNIST-like data)."),
    inception_weights: Optional[Path] = typer.Option(None, "--inception-weights",
                                                     help="Score in Inception-v3 space with this FID weights file "
                                                          "(pt_inception-2015-12-05-6726825d.pth)."),
    drs: bool = typer.Option(False, "--drs", help="Also score as many DRS-accepted samples, beside the plain ones."),
    force: bool = typer.Option(False, "--force", help="Replace the --json file if gankit wrote it (never yours)."),
) -> None:
    """Score a trained generator with every metric that fits its data, or two image sets.

    2D points: shape scores and precision/recall/density/coverage. Images: FID (with a bootstrap spread), KID, precision/recall/density/coverage, Inception Score and classes covered, in the evaluator's feature space; Stacked MNIST: modes covered of 1,000; the boundary objective adds s1, s2, s3 and score.
    """
    from gankit.config import EvalConfig, coerce_config

    settings = {"n": n, "seed": seed, "evaluator": evaluator, "inception_weights": inception_weights,
                "features": "inception" if inception_weights else None}
    overrides = [f"eval.{key}={value}" for key, value in settings.items() if value is not None]
    if json_path is not None:  # refused before the scoring, not after it
        from gankit.files.owner import claim_file

        json_path = claim_file(json_path, force=force, option="--json")
    if run_dir is None:
        if not (real and fake):
            raise ConfigError("give a run folder, or both --real PATH and --fake PATH")
        if drs:
            raise ConfigError("--drs needs a run folder (its discriminator filters the samples)")
        from gankit.evaluation import score_paths

        eval_config = coerce_config(None, overrides).eval if overrides else EvalConfig()
        metrics = score_paths(real, fake, eval_config)
        title = f"metrics · {fake} vs {real}"
    else:
        if real or fake:
            raise ConfigError("--real/--fake score two image sets; they cannot be combined with a run folder")
        from gankit.run import load_run

        run = load_run(run_dir, checkpoint)
        metrics = run.evaluate(drs=drs, **{key: value for key, value in settings.items() if value is not None})
        title = f"metrics · {run.path} · {run.checkpoint.name}"
    _print_metrics(metrics, title=title)
    if json_path is not None:
        from gankit.files.atomic import write_text

        write_text(json_path, json.dumps(metrics, indent=2) + "\n")
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
    keys: bool = typer.Option(False, "--keys", help="List every config key with its default, meaning and "
                                                    "allowed values instead."),
) -> None:
    """Print the fully resolved config as TOML (what `train` would save as config.toml)."""
    if keys:
        from gankit.config import key_docs

        for key, (default, doc, choices) in key_docs().items():
            allowed = f" [{' | '.join(choices)}]" if choices else ""
            print(f"{key} = {default!r}{allowed}\n    {doc}")
        return
    from gankit.config import load_config

    print(load_config(target, list(overrides or [])).to_toml(), end="")


@app.command()
def report(run_dir: Path = typer.Argument(..., help=RUN_HELP)) -> None:
    """(Re)write RUN/report.html from the run folder's files and print its path (open it in a browser)."""
    from gankit.run import report_run

    print(report_run(run_dir))


def _class_list(values: list[str] | None) -> list[str] | None:
    """The ``--class`` values as given (None when there are none): the library takes a value
    that names a class whole and splits any other at its commas (sampling/labels.py)."""
    if not values:
        return None
    if any(not value.replace(",", "").strip() for value in values):
        raise ConfigError("--class: give a class name or index (or a comma-separated list)")
    return list(values)


def _format(metrics: dict, key: str) -> str:
    value, spread = metrics.get(key), metrics.get(f"{key}_std")
    if value is None:
        return ""
    from gankit.numbers import float_text

    if isinstance(value, list):  # intra_fid_per_class: per class, in class order
        from gankit.catalogue import per_class_names

        return ", ".join(f"{name}: {'–' if item is None else float_text(item, 4)}"
                         for name, item in zip(per_class_names(metrics), value))
    text = float_text(value) if isinstance(value, float) else str(value)
    return text if spread is None else f"{text} ± {float_text(spread, 2)}"


def _print_metrics(metrics: dict, title: str) -> None:
    """Metric ± spread where a ``<metric>_std`` exists; DRS results (``drs_`` keys) in a
    second column beside the plain ones; warnings below the table."""
    if not metrics:
        return
    paired = any(key.startswith("drs_") and key[4:] in metrics for key in metrics)
    table = Table("metric", "plain", "DRS", title=title, box=None, title_justify="left") if paired \
        else Table("metric", "value", title=title, box=None, title_justify="left")
    for key, value in metrics.items():
        if (key in ("warnings", "intra_fid_classes") or (key.endswith("_std") and key[:-4] in metrics)
                or (paired and key.startswith("drs_"))):
            continue
        table.add_row(key, _format(metrics, key), *([_format(metrics, f"drs_{key}")] if paired else []))
    if paired:
        for key in [k for k in metrics if k.startswith("drs_") and k[4:] not in metrics and not k.endswith("_std")]:
            table.add_row(key, "", _format(metrics, key))
    out.print(table)
    for warning in metrics.get("warnings") or []:
        err.print(f"[yellow]warning:[/yellow] {warning}")


def _register_subcommands() -> None:
    from gankit.cli_classify import classify
    from gankit.cli_evaluator import evaluator_app

    app.add_typer(evaluator_app, name="evaluator", help="Train the evaluator networks that give image metrics "
                                                         "their feature space.")
    app.command("classify")(classify)
    from gankit.cli_experiments import compare_command, sweep_command

    app.command("sweep")(sweep_command)
    app.command("compare")(compare_command)
    from gankit.cli_export import export_command

    app.command("export")(export_command)


_register_subcommands()


OUT_OF_MEMORY = ("ran out of memory; lower the sizes in the config (model widths, train.batch_size, eval.n, "
                 "data.n_samples or data.image_size)")


def main() -> None:
    """Entry point: user errors print one line and exit 2 (config) or 1 (anything else,
    including a disk that filled up or another I/O error). Under ``--nproc`` each process
    leaves its failure to the launcher, which prints one (training/launch.py)."""
    try:
        code = app(standalone_mode=False)  # a command's typer.Exit(code) comes back as its return value
    except ConfigError as exc:
        _fail(f"error: {exc}", 2)
    except TrainingInterrupted as exc:
        _fail(str(exc), 130)
    except GankitError as exc:
        _fail(f"error: {exc}", 1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except OSError as exc:  # a write that did not go through gankit's own file helpers
        from gankit.files.atomic import FULL_ERRNOS, describe_os_error

        where = exc.filename or "a file"
        text = describe_os_error(exc, where) if exc.errno in FULL_ERRNOS else f"{exc.strerror or exc}: {where}"
        _fail(f"error: {text}", 1)
    except typer.Abort:
        sys.exit(130)
    except MemoryError:
        _fail(f"error: {OUT_OF_MEMORY}", 1)
    except Exception as exc:  # usage errors (bad option, missing argument) come here with standalone_mode=False
        if _is_usage_error(exc):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, RuntimeError) and ("can't allocate memory" in str(exc) or "out of memory" in str(exc)):
            _fail(f"error: {OUT_OF_MEMORY}", 1)  # PyTorch's allocators raise RuntimeError, not MemoryError
        import traceback

        from gankit.training.launch import hand_over

        if hand_over(traceback.format_exc().rstrip(), 1, user=False):
            sys.exit(1)
        raise
    if isinstance(code, int) and code:
        sys.exit(code)


def _fail(text: str, code: int) -> NoReturn:
    """Print ``text`` (or leave it to the ``--nproc`` launcher) and exit with ``code``."""
    from gankit.training.launch import hand_over

    if not hand_over(text, code):
        print(text, file=sys.stderr)
    sys.exit(code)


def _is_usage_error(exc: Exception) -> bool:
    """Click's ClickException: typer vendors click (typer._click) in recent versions and
    depends on the click package in older ones, so look for whichever is installed."""
    classes = []
    for module in ("click", "typer._click"):
        try:
            classes.append(__import__(module, fromlist=["ClickException"]).ClickException)
        except (ImportError, AttributeError):
            continue
    return bool(classes) and isinstance(exc, tuple(classes))
