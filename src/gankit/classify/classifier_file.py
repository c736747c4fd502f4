"""One file format for trained classifiers, and its one loader.

Both `gankit evaluator train` (an `EvaluatorCNN`, e.g. the shipped MNIST evaluator)
and `gankit classify` (a fold's ``best.pt``: perceptron, CNN or ResNet) write a plain
dict that loads with ``torch.load(weights_only=True)``::

    {"format": FORMAT, "version": 1, ["model": NAME,] "state_dict",
     "config": {in_channels, image_size, num_classes, feature_dim, class_names},
     "report": {...}}

FORMAT is ``"gankit-evaluator"`` for an `EvaluatorCNN` (no ``model`` key: the
shipped file's layout) or ``"gankit-classifier"`` for the workbench model named by
``model``. `read_classifier_file` reads either into a network in eval mode; as a GAN
feature space it becomes a `gankit.classify.evaluator.Evaluator`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from torch import nn

from gankit.classify.models import MODEL_NAMES, build_model
from gankit.errors import DataError
from gankit.files.torchfile import load_plain
from gankit.models.classifiers import EvaluatorCNN

EVALUATOR_FORMAT, CLASSIFIER_FORMAT, FILE_VERSION = "gankit-evaluator", "gankit-classifier", 1
CONFIG_KEYS = ("in_channels", "image_size", "num_classes", "feature_dim", "class_names")
EVALUATOR_HINT = "train one with `gankit evaluator train`"
CLASSIFIER_HINT = "give a best.pt written by `gankit classify`"


@dataclass(eq=False)
class ClassifierFile:
    """A loaded classifier file: the network (eval mode, on the CPU), what it tells apart,
    its training report, and a name for messages and metric records."""

    network: nn.Module
    class_names: list[str]
    report: dict[str, Any]
    name: str


def classifier_payload(network: nn.Module, class_names: list[str], report: dict[str, Any],
                       model_name: str | None = None) -> dict[str, Any]:
    """The dict a classifier file holds, weights copied to the CPU: an evaluator file
    without ``model_name``, a workbench checkpoint with it."""
    payload: dict[str, Any] = {"format": EVALUATOR_FORMAT if model_name is None else CLASSIFIER_FORMAT,
                               "version": FILE_VERSION}
    if model_name is not None:
        payload["model"] = model_name
    payload["state_dict"] = {key: value.detach().cpu().clone() for key, value in network.state_dict().items()}
    payload["config"] = {"in_channels": network.in_channels, "image_size": network.image_size,
                         "num_classes": network.num_classes, "feature_dim": network.feature_dim,
                         "class_names": list(class_names)}
    payload["report"] = dict(report)
    return payload


def read_classifier_file(path: str | Path) -> ClassifierFile:
    """Load either kind of classifier file; `DataError` saying what to do if it is
    missing, unreadable, of another format or version, or its weights do not fit."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"evaluator file '{path}' not found; {EVALUATOR_HINT}")
    payload = load_plain(path, "evaluator file", DataError, EVALUATOR_HINT)
    if not isinstance(payload, dict) or payload.get("format") not in (EVALUATOR_FORMAT, CLASSIFIER_FORMAT):
        raise DataError(f"'{path}' is not a gankit evaluator file (format '{EVALUATOR_FORMAT}'); {EVALUATOR_HINT}")
    report = payload.get("report") if isinstance(payload.get("report"), dict) else {}
    read = _workbench_network if payload["format"] == CLASSIFIER_FORMAT else _evaluator_network
    network, name = read(payload, report, path)
    return ClassifierFile(network.eval(), list(payload["config"]["class_names"]), report, name)


def _evaluator_network(payload: dict[str, Any], report: dict[str, Any], path: Path) -> tuple[nn.Module, str]:
    """The `EvaluatorCNN` of a ``gankit-evaluator`` file, and its name (the report's, else the file's stem)."""
    if payload.get("version") != FILE_VERSION:
        raise DataError(f"'{path}' is a version {payload.get('version')} evaluator file; this gankit reads "
                        f"version {FILE_VERSION}; retrain it with `gankit evaluator train`")
    config = payload.get("config")
    if not isinstance(config, dict) or any(key not in config for key in CONFIG_KEYS):
        raise DataError(f"'{path}': the evaluator config lacks some of {', '.join(CONFIG_KEYS)}; {EVALUATOR_HINT}")
    network = _with_weights(
        lambda: EvaluatorCNN(config["in_channels"], config["image_size"], config["num_classes"],
                             config["feature_dim"]),
        payload, path, "the evaluator config", EVALUATOR_HINT)
    return network, str(report.get("name", path.stem))


def _workbench_network(payload: dict[str, Any], report: dict[str, Any], path: Path) -> tuple[nn.Module, str]:
    """The workbench model of a ``gankit-classifier`` file, and its name (the report's, else ``model:stem``)."""
    if payload.get("version") != FILE_VERSION:
        raise DataError(f"'{path}' is a version {payload.get('version')} classifier file; this gankit reads "
                        f"version {FILE_VERSION}")
    config = payload.get("config")
    name = payload.get("model")
    if name not in MODEL_NAMES or not isinstance(config, dict) or any(key not in config for key in CONFIG_KEYS):
        raise DataError(f"'{path}': the classifier file lacks its model name or config; {CLASSIFIER_HINT}")
    network = _with_weights(
        lambda: build_model(name, config["in_channels"], config["image_size"], config["num_classes"]),
        payload, path, f"a {name}", CLASSIFIER_HINT)
    return network, str(report.get("name") or f"{name}:{path.stem}")


def _with_weights(build: Callable[[], nn.Module], payload: dict[str, Any], path: Path, what: str,
                  hint: str) -> nn.Module:
    """``build()`` with the file's weights loaded; `DataError` if they do not fit ``what``."""
    try:
        network = build()
        network.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        detail = str(exc).splitlines()[0]
        raise DataError(f"'{path}': the weights do not fit {what} ({detail}); {hint}") from None
    return network
