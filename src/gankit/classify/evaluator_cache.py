"""The automatic feature space of a folder: a self-supervised evaluator, trained once per content.

A folder of a user's images has no shipped evaluator, and most such folders have no classes
to train a classifier on. With ``eval.features=auto`` and no ``eval.evaluator``, gankit
trains a self-supervised evaluator (`gankit.classify.selfsup_train`) on the data the first
time it is scored and keeps it in ``<cache>/evaluators/KEY.pt`` (``<cache>`` as for decoded
folders, `gankit.data.cache.cache_root`). KEY hashes the data's content (images, labels,
class names: a changed, added or removed image gives a new key), the recipe and its version,
and the torch version, so a run, a later ``gankit eval`` and a comparison of runs on the same
folder all score in the same space. The entry is an ordinary evaluator file, written
atomically and read with ``weights_only=True``; a damaged entry is rebuilt with a warning.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from gankit.classify.classifier_file import classifier_payload
from gankit.classify.evaluator import Evaluator, load_evaluator
from gankit.data.base import Dataset
from gankit.data.cache import cache_root, dataset_digest, store_entry
from gankit.errors import DataError

RECIPE_VERSION = 1
AUTO_SEED = 0
# Folders with classes get one network with both the self-supervised objective and a class
# head (class accuracy and intra-FID then work too); see docs/evaluation.md for the measurement.
AUTO_USE_LABELS = True


@dataclass(frozen=True)
class AutoEvaluator:
    """The evaluator of a folder, where its file lies, and whether it was trained just now."""

    evaluator: Evaluator
    path: Path
    trained: bool
    seconds: float


def evaluator_cache_dir() -> Path:
    return cache_root() / "evaluators"


def use_labels(dataset: Dataset) -> bool:
    """Whether the automatic evaluator of ``dataset`` gets a class head (≥ 2 classes)."""
    return AUTO_USE_LABELS and dataset.labels is not None and len(torch.unique(dataset.labels)) >= 2


def cache_entry(dataset: Dataset) -> Path:
    """Where the automatic evaluator of ``dataset`` is (or will be) kept."""
    from gankit.classify.selfsup_train import recipe

    labelled = use_labels(dataset)
    description = {"version": RECIPE_VERSION, "seed": AUTO_SEED, "labels": labelled,
                   "recipe": recipe(), "torch": str(torch.__version__),
                   "data": dataset_digest(dataset.tensor, dataset.labels if labelled else None,
                                          dataset.label_names if labelled else None)}
    key = hashlib.sha256(json.dumps(description, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return evaluator_cache_dir() / f"{key}.pt"


def auto_evaluator(dataset: Dataset, *, device: str = "cpu", progress: bool = True,
                   say: Callable[[str], None] | None = None) -> AutoEvaluator:
    """The cached self-supervised evaluator of ``dataset``, trained and stored first when there is
    none (or the stored one is damaged: rebuilt with a warning). ``say`` gets one line when it
    trains (default: printed to stderr)."""
    from gankit.classify.selfsup_train import fit_self_supervised

    say = say or (lambda line: print(line, file=sys.stderr))
    path = cache_entry(dataset)
    if path.is_file():
        try:
            return AutoEvaluator(_named(load_evaluator(path, device=device), dataset), path, False, 0.0)
        except DataError as error:
            warnings.warn(f"the cached evaluator {path} is damaged ({error}); training it again", stacklevel=2)
    source = _source_name(dataset)
    say(f"features: training a self-supervised evaluator for {source} ({len(dataset)} images; once, "
        "then cached)")
    started = time.perf_counter()
    network, class_names, report = fit_self_supervised(dataset, seed=AUTO_SEED, use_labels=use_labels(dataset),
                                                       progress=progress)
    seconds = time.perf_counter() - started
    report = {**report, "name": f"self-supervised:{source}", "automatic": True}
    store_entry(path, classifier_payload(network, class_names, report), what="the evaluator",
                consequence="the next run trains it again")
    say(f"features: self-supervised evaluator for {source} trained in {seconds:.0f} s, cached in {path}")
    evaluator = Evaluator(report["name"], network.to(device).eval(), list(class_names), report, torch.device(device))
    return AutoEvaluator(evaluator, path, True, seconds)


def _named(evaluator: Evaluator, dataset: Dataset) -> Evaluator:
    evaluator.name = f"self-supervised:{_source_name(dataset)}"
    return evaluator


def _source_name(dataset: Dataset) -> str:
    return Path(dataset.source).name if dataset.source else dataset.name

