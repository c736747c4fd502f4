"""Which evaluator's feature space sees which defects: the feature-space check, side by side.

For each (evaluator, data) pair it runs ``check_feature_space`` and prints the share of
cells with an expected direction that held, overall and on the class-related cells
(collapse, class swap), plus how long the evaluator took to train:

- the shipped MNIST evaluator, on MNIST and on Colour MNIST (converted to its grey 28×28
  input, so it cannot see colour);
- a classifier evaluator trained on Colour MNIST with the shipped evaluator's recipe;
- the self-supervised evaluator (``fit_self_supervised``), trained on MNIST and on Colour
  MNIST, and with a class head on Colour MNIST (what ``eval.features=auto`` trains for a
  labelled folder); skipped with a note when it is not installed.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_evaluators.py            # n = 1000, full recipes
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_evaluators.py --full     # also every table
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_evaluators.py --quick    # n = 200, 1 epoch: a smoke test
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from gankit.classify.evaluator import Evaluator, load_evaluator
from gankit.classify.evaluator_train import MNIST_RECIPE, train_evaluator
from gankit.classify.sanity import check_feature_space
from gankit.classify.sanity_table import CLASS_RELATED, SanityTable
from gankit.data.colour_mnist import load_colour_mnist
from gankit.data.mnist import load_mnist


def colour_classifier(folder: Path, quick: bool) -> Evaluator:
    recipe = {**MNIST_RECIPE, **({"epochs": 1} if quick else {})}
    path = folder / "evaluator-colour-mnist.pt"
    train_evaluator(load_colour_mnist(), path, **recipe, progress=False)
    return load_evaluator(path)


def self_supervised(dataset_loader: Callable[[], Any], quick: bool, use_labels: bool = False) -> Evaluator | str:
    """The self-supervised evaluator of the data (with a class head: ``use_labels``), or why there is none."""
    try:
        from gankit.classify.selfsup_train import fit_self_supervised
    except ImportError as exc:
        return f"skipped: the self-supervised evaluator is not available here ({exc})"
    dataset = dataset_loader()
    fitted = fit_self_supervised(dataset, seed=0, progress=False, use_labels=use_labels,
                                 **({"epochs": 1} if quick else {}))
    if hasattr(fitted, "extract"):
        return fitted
    network, class_names, report = fitted
    return Evaluator(f"self-supervised ({dataset.name})", network, list(class_names), dict(report))


def _share(summary: dict[str, Any]) -> str:
    return "—" if not summary["expected"] else f"{summary['held']}/{summary['expected']} ({summary['share']:.0%})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="n = 200 per part, evaluators trained 1 epoch")
    parser.add_argument("--full", action="store_true", help="print every table, not only the summaries")
    parser.add_argument("--n", type=int, default=None, help="images per part (default 1000, 200 with --quick)")
    args = parser.parse_args()
    n = args.n or (200 if args.quick else 1000)
    data = {"mnist": load_mnist, "colour-mnist": load_colour_mnist}
    rows: list[tuple[str, str, str, float | None, SanityTable | None]] = []
    with tempfile.TemporaryDirectory() as folder:
        plans: list[tuple[str, str, Callable[[], Evaluator | str]]] = [
            ("shipped MNIST evaluator", "mnist", lambda: load_evaluator(None)),
            ("shipped MNIST evaluator", "colour-mnist", lambda: load_evaluator(None)),
            ("classifier trained on Colour MNIST", "colour-mnist", lambda: colour_classifier(Path(folder), args.quick)),
            ("self-supervised, trained on MNIST", "mnist", lambda: self_supervised(load_mnist, args.quick)),
            ("self-supervised, trained on Colour MNIST", "colour-mnist",
             lambda: self_supervised(load_colour_mnist, args.quick)),
            ("self-supervised + class head (automatic), Colour MNIST", "colour-mnist",
             lambda: self_supervised(load_colour_mnist, args.quick, use_labels=True)),
        ]
        trained: dict[str, tuple[Evaluator | str, float]] = {}
        for label, data_name, build in plans:
            if label not in trained:
                started = time.perf_counter()
                trained[label] = (build(), time.perf_counter() - started)
            evaluator, seconds = trained[label]
            if isinstance(evaluator, str):
                rows.append((label, data_name, evaluator, None, None))
                print(f"{label} on {data_name}: {evaluator}", flush=True)
                continue
            started = time.perf_counter()
            table = check_feature_space(evaluator, data[data_name](), n=n, progress=False)
            print(f"{label} on {data_name}: checked in {time.perf_counter() - started:.0f} s", flush=True)
            rows.append((label, data_name, "", seconds, table))
    print(f"\nfeature-space check, n = {n} per part{' (quick)' if args.quick else ''}\n")
    print("| evaluator | data | training | expected cells held | class-related (collapse, class swap) |")
    print("|---|---|---|---|---|")
    for label, data_name, note, seconds, table in rows:
        if table is None:
            print(f"| {label} | {data_name} | — | {note} | — |")
            continue
        training = "shipped" if label.startswith("shipped") else f"{seconds:.0f} s"
        print(f"| {label} | {data_name} | {training} | {_share(table.summary())} | "
              f"{_share(table.summary(CLASS_RELATED))} |")
    if args.full:
        for label, data_name, _, _, table in rows:
            if table is not None:
                print(f"\n## {label} on {data_name}\n\n{table.to_markdown()}")


if __name__ == "__main__":
    main()
