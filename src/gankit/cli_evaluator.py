"""``gankit evaluator ...``: train the network whose features the image metrics use. No logic here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gankit.errors import ConfigError

evaluator_app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)


@evaluator_app.callback()
def evaluator_group() -> None:
    """The evaluator network: the feature space of FID/KID/PRDC/IS and the class-mode counts."""


@evaluator_app.command("train")
def train(
    args: Annotated[list[str] | None, typer.Argument(
        metavar="[mnist | KEY=VALUE...]",
        help="'mnist': the recipe of the shipped evaluator. With --data: data.KEY=VALUE settings, "
             "e.g. data.path=DIR data.image_size=32 data.channels=3.")] = None,
    data: Annotated[str | None, typer.Option(
        "--data", help="A data.name (e.g. folder: one subfolder per class).")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Evaluator file (default evaluator-mnist.pt, or evaluator-NAME.pt for --data NAME).")] = None,
    ship: Annotated[bool, typer.Option("--ship", help="Write the mnist recipe's result into the package.")] = False,
    epochs: Annotated[int | None, typer.Option(help="Epochs (default: the mnist recipe's).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size (default: the recipe's).")] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate (default: the recipe's).")] = None,
    seed: Annotated[int | None, typer.Option(help="Split, init and augmentation seed (default: the recipe's).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No per-epoch lines.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace the evaluator file if gankit wrote it "
                                                        "(never a file of yours).")] = False,
) -> None:
    """Train an evaluator on labelled images and write it as one .pt file (prints its held-out accuracy)."""
    from gankit.classify.evaluator_train import (
        MNIST_RECIPE,
        load_labelled_data,
        train_evaluator,
        train_mnist_recipe,
    )
    from gankit.classify.evaluator import shipped_evaluator_path

    args = list(args or [])
    changed = {key: value for key, value in
               {"epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed}.items() if value is not None}
    if ship and (data is not None or args != ["mnist"] or changed or output is not None):
        raise ConfigError("--ship writes the shipped file: use it alone, as `gankit evaluator train mnist --ship`")
    path = shipped_evaluator_path() if ship else (output or Path(f"evaluator-{data or 'mnist'}.pt"))
    if data is None:
        if args != ["mnist"]:
            raise ConfigError("give the recipe `mnist`, or --data NAME with data.KEY=VALUE settings "
                              "(e.g. --data folder data.path=DIR)")
        report = train_mnist_recipe(path, progress=not quiet, force=force, **changed)
    else:
        dataset = load_labelled_data(data, args, progress=not quiet)
        report = train_evaluator(dataset, path, **{**MNIST_RECIPE, **changed}, progress=not quiet, force=force)
    Console().print(
        f"held-out accuracy {report['holdout_accuracy']:.2%} on {report['n_holdout']} images "
        f"(trained on {report['n_train']}, best of {report['epochs']} epochs: {report['best_epoch']}, "
        f"{report['seconds']:.0f} s)\nevaluator file: [bold]{path}[/bold]", soft_wrap=True,
    )
