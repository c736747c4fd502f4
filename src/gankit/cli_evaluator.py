"""``gankit evaluator ...``: train the network whose features the image metrics use, and check what
its features see. No logic here."""

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


@evaluator_app.command("check")
def check(
    args: Annotated[list[str] | None, typer.Argument(
        metavar="[EVALUATOR.pt] [data.KEY=VALUE...]",
        help="The evaluator file (omitted: the shipped MNIST evaluator for MNIST, else the data's own "
             "self-supervised one, trained once and cached, as a run would use), then data.KEY=VALUE settings, "
             "e.g. data.path=DIR data.image_size=32 data.channels=3.")] = None,
    data: Annotated[str, typer.Option(
        "--data", help="A data.name: the real images to check on (folder: one subfolder per class).")] = "mnist",
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="The Markdown table; the JSON goes beside it with the suffix .json.")
    ] = Path("evaluator-check.md"),
    n: Annotated[int, typer.Option("--n", "-n", help="Images in each of the reference and held-out parts "
                                                     "(fewer when the data holds fewer than 2n).")] = 1000,
    seed: Annotated[int, typer.Option(help="Split and degradation seed.")] = 0,
    k: Annotated[int, typer.Option("-k", help="Nearest neighbours for precision/recall/coverage.")] = 5,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace the output files if gankit wrote them "
                                                        "(never a file of yours).")] = False,
) -> None:
    """Check that the evaluator's feature space sees blur, noise, colour shifts, collapse, a wrong class mix and copies.

    Splits the real images into a reference and a held-out part, degrades the held-out images at three severities each, scores them against the reference (FID, precision, recall, coverage, memorisation) and marks where each metric moved the way its definition expects. Writes OUT.md and OUT.json.
    """
    import json

    from rich.table import Table

    from gankit.classify.evaluator import load_evaluator
    from gankit.classify.evaluator_train import load_labelled_data
    from gankit.config import EvalConfig
    from gankit.evaluation import feature_note, load_extractor
    from gankit.classify.sanity import check_feature_space, require_same_shape
    from gankit.errors import DataError
    from gankit.files.atomic import write_text
    from gankit.files.owner import claim_file

    items = list(args or [])
    paths = [item for item in items if "=" not in item]
    if len(paths) > 1:
        raise ConfigError(f"give one evaluator file, then data.KEY=VALUE settings; got {', '.join(paths)}")
    markdown_path = claim_file(output, force=force)  # refused before the check, not after it
    json_path = claim_file(markdown_path.with_suffix(".json"), force=force)
    dataset = load_labelled_data(data, [item for item in items if "=" in item], progress=not quiet)
    evaluator = load_evaluator(paths[0]) if paths else load_extractor(EvalConfig(), data, dataset=dataset,
                                                                       progress=not quiet)
    if evaluator is None:
        raise ConfigError(feature_note(EvalConfig(), dataset))
    try:  # a shape that does not fit, or too few images: settings to change, so exit code 2
        require_same_shape(evaluator, dataset)
        table = check_feature_space(evaluator, dataset, n=n, seed=seed, k=k, progress=not quiet)
    except DataError as exc:
        raise ConfigError(str(exc)) from None
    shown = Table(title=f"feature-space check · evaluator '{table.extractor}' on {table.data}", title_justify="left")
    for column in ["defect", "sev.", "setting", "FID", "prec.", "recall", "cover.", "memor."]:
        shown.add_column(column, justify="left" if column in ("defect", "setting") else "right")
    for row in table.display_rows(changes=False):
        shown.add_row(*row)
    console = Console()
    console.print(shown)
    console.print(f"[bold]{table.summary_line()}[/bold]; ✓ moved as the metric's definition expects, ✗ did not, "
                  "· no expectation", soft_wrap=True)
    for note in table.notes:
        console.print(f"note: {note}", soft_wrap=True, highlight=False)
    write_text(markdown_path, table.to_markdown())
    write_text(json_path, json.dumps(table.to_json(), indent=1) + "\n")
    console.print(f"wrote {markdown_path} and {json_path}", soft_wrap=True, highlight=False)


@evaluator_app.command("train")
def train(
    args: Annotated[list[str] | None, typer.Argument(
        metavar="[mnist | KEY=VALUE...]",
        help="'mnist': the recipe of the shipped evaluator. With --data: data.KEY=VALUE settings, "
             "e.g. data.path=DIR data.image_size=32 data.channels=3.")] = None,
    data: Annotated[str | None, typer.Option(
        "--data", help="A data.name (e.g. folder: one subfolder per class, or any image folder with "
                          "--self-supervised).")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Evaluator file (default evaluator-mnist.pt, or evaluator-NAME.pt for --data NAME).")] = None,
    ship: Annotated[bool, typer.Option("--ship", help="Write the mnist recipe's result into the package.")] = False,
    epochs: Annotated[int | None, typer.Option(help="Epochs (default: the mnist recipe's; with --self-supervised, "
                                                       "as many as make 14,000 images seen).")] = None,
    batch_size: Annotated[int | None, typer.Option(
        help="Batch size (default: the recipe's; 128 with --self-supervised).")] = None,
    lr: Annotated[float | None, typer.Option(
        help="Adam learning rate (default: the recipe's; 0.002 with --self-supervised).")] = None,
    seed: Annotated[int | None, typer.Option(help="Split, init and augmentation seed (default: the recipe's).")] = None,
    self_supervised: Annotated[bool, typer.Option(
        "--self-supervised", help="Learn the features without labels (needs --data; any image folder, class "
                                  "subfolders or not): an evaluator for FID/KID/precision/recall, "
                                  "no classes.")] = False,
    with_labels: Annotated[bool, typer.Option(
        "--with-labels", help="With --self-supervised: also train a class head on the labels, in the same "
                              "network (classes covered and Inception Score then work too).")] = False,
    objective: Annotated[str | None, typer.Option(
        help="With --self-supervised: simclr (default) or vicreg.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or per-epoch lines.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace the evaluator file if gankit wrote it "
                                                        "(never a file of yours).")] = False,
) -> None:
    """Train an evaluator and write it as one .pt file: a classifier on labelled images (prints its
    held-out accuracy), or with --self-supervised a feature network learnt from the images alone."""
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
    if self_supervised or with_labels or objective is not None:
        if not self_supervised or ship or data is None:
            raise ConfigError("--with-labels and --objective go with --self-supervised, which needs --data NAME "
                              "(e.g. --data folder data.path=DIR) and not --ship")
        _train_self_supervised(data, args, output or Path(f"evaluator-{data}.pt"), with_labels, objective, changed,
                               quiet, force)
        return
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


def _train_self_supervised(data: str, args: list[str], path: Path, with_labels: bool, objective: str | None,
                           changed: dict, quiet: bool, force: bool) -> None:
    """`gankit evaluator train --self-supervised`: load the data, train, print one summary line."""
    from gankit.classify.evaluator_train import load_labelled_data
    from gankit.classify.selfsup_train import train_self_supervised

    settings = {**changed, **({"objective": objective} if objective is not None else {})}
    dataset = load_labelled_data(data, args, progress=not quiet)
    report = train_self_supervised(dataset, path, force=force, use_labels=with_labels, progress=not quiet,
                                   **settings)
    accuracy = (f", held-out accuracy {report['holdout_accuracy']:.2%} on {report['n_holdout']}"
                if with_labels else "")
    epochs = f"{report['epochs']} epoch" + ("s" if report["epochs"] != 1 else "")
    Console().print(f"self-supervised evaluator ({report['objective']}, {epochs}) trained in {report['seconds']:.0f} s "
                    f"on {report['n_train']} images{accuracy}: [bold]{path}[/bold]", soft_wrap=True)
