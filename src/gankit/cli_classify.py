"""``gankit classify DATA ...``: the cats-vs-dogs study's classifier workbench as one command. No logic here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from gankit.errors import ConfigError


def _ints(option: str, text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"{option}: give whole numbers separated by commas, e.g. 30,60; got {text!r}") from None


def _names(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def classify(
    data: Annotated[str, typer.Argument(
        help="A folder with one subfolder of images per class, or 'mnist' (the bundled 5,000-digit sample).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (results.md/.csv/.html, curves, best.pt).")],
    models: Annotated[str, typer.Option(help="Comma-separated: perceptron, cnn, resnet18, resnet50.")]
    = "perceptron,cnn,resnet18",
    folds: Annotated[int, typer.Option(help="k of the stratified k-fold cross-validation.")] = 5,
    epochs: Annotated[str, typer.Option(
        help="Epoch budgets, comma-separated (the cats-vs-dogs study used 30,60).")] = "30,60",
    batch_sizes: Annotated[str, typer.Option("--batch-sizes", help="Batch sizes, comma-separated.")] = "32,64",
    image_size: Annotated[Optional[int], typer.Option(
        "--image-size", help="Side in pixels (default 28 for mnist, 50 for a folder, as in the "
                           "cats-vs-dogs study).")] = None,
    channels: Annotated[int, typer.Option(help="1 (grayscale) or 3 (RGB).")] = 1,
    classes: Annotated[Optional[str], typer.Option(
        help="Only these classes, comma-separated names (e.g. 3,8 for mnist, cat,dog for a folder).")] = None,
    per_class: Annotated[int, typer.Option("--per-class", help="At most this many images per class (0 = all).")] = 0,
    pretrained: Annotated[Optional[Path], typer.Option(
        help="torchvision ResNet weights file: transfer learning (frozen backbone, new head). "
             "Without it a ResNet trains from scratch.")] = None,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    seed: Annotated[int, typer.Option(help="Seed of the folds, the initialisation and the batch order.")] = 0,
    reduce_lr_patience: Annotated[int, typer.Option(help="Epochs without improvement before lr × 0.1 (0 = off).")] = 7,
    early_stop_patience: Annotated[int, typer.Option(help="Epochs without improvement before stopping (0 = off).")]
    = 15,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "cpu",
    quarantine: Annotated[bool, typer.Option(
        help="Move unreadable images to DATA/Trash/ (as the cats-vs-dogs study did).")] = False,
    checkpoints: Annotated[bool, typer.Option(help="Write best.pt per fold (ResNet-50: ~100 MB each).")] = True,
    force: Annotated[bool, typer.Option("--force", help="Replace earlier workbench results gankit wrote in --out (only if it holds nothing else).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Cross-validate image classifiers (the cats-vs-dogs study): every model × epochs × batch size, k folds each.

    Adam, the cats-vs-dogs study's callbacks (lr × 0.1 after 7 epochs without a better validation accuracy, early stop after 15 with the best weights restored, checkpoint on improvement). Writes the grid of mean ± std validation accuracy as results.md/.csv/.html, per-fold curves and best.pt files; a best.pt scores GANs on that data with eval.features=PATH.
    """
    from gankit.classify import cross_validate

    result = cross_validate(
        data, out, progress=not quiet, force=force, models=_names(models) or [], folds=folds,
        epochs=_ints("--epochs", epochs), batch_sizes=_ints("--batch-sizes", batch_sizes), image_size=image_size,
        channels=channels, classes=_names(classes), per_class=per_class,
        pretrained=str(pretrained) if pretrained else None, lr=lr, seed=seed, device=device,
        reduce_lr_patience=reduce_lr_patience, early_stop_patience=early_stop_patience, quarantine=quarantine,
        checkpoints=checkpoints)
    console = Console()
    table = Table("epochs, batch", *dict.fromkeys(c.model for c in result.cells), box=None,
                  title=f"mean ± std validation accuracy over {folds} folds · {result.image_count} images, "
                        f"{len(result.class_names)} classes", title_justify="left")
    rows = sorted({(c.epochs, c.batch_size) for c in result.cells})
    by_key = {(c.model, c.epochs, c.batch_size): c for c in result.cells}
    for epochs_value, batch in rows:
        table.add_row(f"{epochs_value}E, {batch}B", *[
            f"{by_key[(m, epochs_value, batch)].mean:.4f} ± {by_key[(m, epochs_value, batch)].std:.4f}"
            for m in dict.fromkeys(c.model for c in result.cells)])
    console.print(table)
    console.print(f"results: [bold]{result.out}[/bold] (results.md, results.csv, results.html, "
                  "<model>_e<E>_b<B>/fold_<k>/best.pt)", soft_wrap=True)
