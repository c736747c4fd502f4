"""A workbench checkpoint (``best.pt``) as a file, and as the feature space of the GAN metrics.

A checkpoint is a plain dict that loads with ``torch.load(weights_only=True)``:
``{"format": "gankit-classifier", "version": 1, "model": NAME, "state_dict",
"config": {in_channels, image_size, num_classes, feature_dim, class_names},
"report": {val_accuracy, epoch, fold, ...}}``.

Loaded with ``eval.features=PATH`` (or ``eval.evaluator=PATH`` / ``gankit eval
--evaluator PATH``), it becomes a `gankit.metrics.features.Evaluator`: its
penultimate activations are the features of FID/KID/precision/recall, its class
probabilities those of the Inception Score and the class-mode counts — a
classifier trained on the very dataset a GAN learns, as the evaluator is for MNIST.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit.errors import DataError

CLASSIFIER_FORMAT, CLASSIFIER_VERSION = "gankit-classifier", 1
CONFIG_KEYS = ("in_channels", "image_size", "num_classes", "feature_dim", "class_names")


def checkpoint_payload(model: nn.Module, model_name: str, class_names: list[str],
                       report: dict[str, Any]) -> dict[str, Any]:
    """The dict a classifier checkpoint holds, weights copied to the CPU."""
    return {
        "format": CLASSIFIER_FORMAT,
        "version": CLASSIFIER_VERSION,
        "model": model_name,
        "state_dict": {key: value.detach().cpu().clone() for key, value in model.state_dict().items()},
        "config": {"in_channels": model.in_channels, "image_size": model.image_size,
                   "num_classes": model.num_classes, "feature_dim": model.feature_dim,
                   "class_names": list(class_names)},
        "report": dict(report),
    }


def classifier_from_payload(payload: dict[str, Any], path: str | Path) -> tuple[nn.Module, list[str], dict]:
    """(network in eval mode, class names, report) of a loaded checkpoint; `DataError` if it does not fit."""
    from gankit.classify.models import MODEL_NAMES, build_model

    hint = "give a best.pt written by `gankit classify`"
    if payload.get("version") != CLASSIFIER_VERSION:
        raise DataError(f"'{path}' is a version {payload.get('version')} classifier file; this gankit reads "
                        f"version {CLASSIFIER_VERSION}")
    config = payload.get("config")
    name = payload.get("model")
    if name not in MODEL_NAMES or not isinstance(config, dict) or any(key not in config for key in CONFIG_KEYS):
        raise DataError(f"'{path}': the classifier file lacks its model name or config; {hint}")
    try:
        network = build_model(name, config["in_channels"], config["image_size"], config["num_classes"])
        network.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        detail = str(exc).splitlines()[0]
        raise DataError(f"'{path}': the weights do not fit a {name} ({detail}); {hint}") from None
    report = payload.get("report") if isinstance(payload.get("report"), dict) else {}
    return network.eval(), list(config["class_names"]), report


def evaluator_from_payload(payload: dict[str, Any], path: str | Path, device: str | torch.device = "cpu"):
    """A classifier checkpoint as a `gankit.metrics.features.Evaluator` (features + class probabilities)."""
    from gankit.metrics.features import Evaluator

    network, class_names, report = classifier_from_payload(payload, path)
    name = str(report.get("name") or f"{payload['model']}:{Path(path).stem}")
    return Evaluator(name, network.to(device), class_names, report, torch.device(device))


def load_classifier(path: str | Path, device: str | torch.device = "cpu"):
    """Load a ``gankit classify`` checkpoint as an `Evaluator` (via `load_evaluator`, which reads both kinds)."""
    from gankit.metrics.features import load_evaluator

    return load_evaluator(path, device=device)
