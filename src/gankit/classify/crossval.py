"""The cats-vs-dogs study's experiment as one call: every model × epochs × batch size, k-fold cross-validated.

For each model and batch size, each fold gets a freshly initialised model and a new
Adam optimiser (lr 1e-3), seeded by ``seed·1000 + fold``, and is trained with the
callbacks of `gankit.classify.callbacks`; the epoch budgets share one run per fold
(see `gankit.classify.train`). Output folder::

    OUT/config.json                      settings, classes, image counts, folds, notes
    OUT/results.md|.csv|.html, folds.csv the grid (gankit.classify.results)
    OUT/skipped_files.txt                files of a folder that could not be used
    OUT/<model>_e<E>_b<B>/curves.png     all folds' curves
    OUT/<model>_e<E>_b<B>/fold_<k>/      best.pt, history.jsonl, curves.png
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gankit.classify.callbacks import Callbacks
from gankit.files.atomic import write_text
from gankit.files.reading import optional_file
from gankit.files.rundir import check_removable
from gankit.classify.data import LabelledImages, cap_per_class, load_labelled_images, select_classes, stratified_folds
from gankit.classify.classifier_file import classifier_payload
from gankit.classify.models import MODEL_NAMES, build_model
from gankit.classify.plots import cell_curves, fold_curves
from gankit.classify.progress import GridProgress
from gankit.classify.results import CellResult, cell_name, write_results
from gankit.classify.train import fit_fold, steps_per_epoch
from gankit.errors import ConfigError, GankitError


@dataclass
class ClassifyConfig:
    """Every setting of a workbench run; the defaults are the cats-vs-dogs study's."""

    models: list[str] = field(default_factory=lambda: ["perceptron", "cnn", "resnet18"])
    folds: int = 5
    epochs: list[int] = field(default_factory=lambda: [30, 60])
    batch_sizes: list[int] = field(default_factory=lambda: [32, 64])
    image_size: int | None = None  # None: 28 for mnist, 50 for a folder (the cats-vs-dogs study)
    channels: int = 1
    classes: list[str] | None = None
    per_class: int = 0  # at most this many images per class (0 = all)
    pretrained: str | None = None  # torchvision ResNet weights file
    lr: float = 1e-3
    seed: int = 0
    device: str = "cpu"
    reduce_lr_patience: int = 7
    reduce_lr_factor: float = 0.1
    early_stop_patience: int = 15
    quarantine: bool = False
    checkpoints: bool = True

    def validate(self) -> "ClassifyConfig":
        """Raise `ConfigError` naming the first bad setting."""
        unknown = [m for m in self.models if m not in MODEL_NAMES]
        if not self.models or unknown:
            raise ConfigError(f"--models: unknown {', '.join(unknown) or '(none given)'}; choose from "
                              f"{', '.join(MODEL_NAMES)}")
        for key, values in (("--epochs", self.epochs), ("--batch-sizes", self.batch_sizes)):
            if not values or any(v < 1 for v in values) or len(set(values)) != len(values):
                raise ConfigError(f"{key}: give distinct positive whole numbers, e.g. 30,60; got {values}")
        if self.folds < 2:
            raise ConfigError(f"--folds: cross-validation needs at least 2 folds, got {self.folds}")
        if self.channels not in (1, 3):
            raise ConfigError(f"--channels: 1 (grayscale) or 3 (RGB), got {self.channels}")
        if not self.lr > 0 or not 0 < self.reduce_lr_factor < 1:
            raise ConfigError(f"lr must be positive and the reduce factor in (0, 1); got {self.lr}, "
                              f"{self.reduce_lr_factor}")
        if self.reduce_lr_patience < 0 or self.early_stop_patience < 0 or self.per_class < 0:
            raise ConfigError("patiences and --per-class must be 0 (off) or more")
        if self.device not in ("cpu", "cuda", "auto"):
            raise ConfigError(f"--device: cpu, cuda or auto, got {self.device!r}")
        if self.pretrained and not any(m.startswith("resnet") for m in self.models):
            raise ConfigError("--pretrained loads ResNet weights; add resnet18 or resnet50 to --models")
        if self.pretrained and len([m for m in self.models if m.startswith("resnet")]) > 1:
            raise ConfigError("--pretrained is one weights file; run resnet18 and resnet50 separately")
        return self


@dataclass
class GridResult:
    """What `cross_validate` wrote: the cells, the class names, the files."""

    out: Path
    cells: list[CellResult]
    class_names: list[str]
    image_count: int
    notes: list[str]
    files: list[Path]

    def cell(self, model: str, epochs: int, batch_size: int) -> CellResult:
        return next(c for c in self.cells if (c.model, c.epochs, c.batch_size) == (model, epochs, batch_size))


def cross_validate(data: str | Path | LabelledImages, out: str | Path, config: ClassifyConfig | None = None, *,
                   progress: bool = True, force: bool = False, **settings: Any) -> GridResult:
    """Run the grid on `data` (``mnist``, a folder of class folders, or `LabelledImages`) and write
    it to `out`. Settings are `ClassifyConfig` fields, given as `config` and/or keywords."""
    config = dataclasses.replace(config or ClassifyConfig(), **settings).validate()
    out = _prepare_out(Path(out), force)
    labelled = _labelled(data, config, progress)
    folds = stratified_folds(labelled.labels, config.folds, config.seed, labelled.class_names)
    device = _device(config.device)
    images = labelled.images.to(torch.float32)
    notes = _notes(config, labelled, images)
    _write_json(out / "config.json", {
        "tool": "gankit classify", "data": str(data) if not isinstance(data, LabelledImages) else labelled.source,
        "settings": dataclasses.asdict(config), "device": device, "image_shape": list(images.shape[1:]),
        "class_names": labelled.class_names, "images_per_class": labelled.counts(), "skipped": len(labelled.skipped),
        "folds": [{"fold": k, "train": len(t), "validation": len(v)} for k, (t, v) in enumerate(folds, 1)],
        "notes": notes, "torch": str(torch.__version__), "threads": torch.get_num_threads()})
    if labelled.skipped:
        from gankit.data.base import Dataset
        from gankit.data.folder import write_skip_list

        write_skip_list(Dataset("folder", images[:0], None, skipped=labelled.skipped, source=labelled.source), out)
    title = (f"Classifier workbench: {labelled.name}, {len(labelled.class_names)} classes, {len(images)} images, "
             f"{config.folds}-fold")
    cells: list[CellResult] = []
    files: list[Path] = []
    with GridProgress(progress) as bars:
        for note in notes:
            bars.log(f"note: {note}")
        for model_name in config.models:
            for batch_size in config.batch_sizes:
                new = _run_cell_group(model_name, batch_size, config, labelled, images, folds, out, device, bars)
                cells += new
                cells.sort(key=lambda c: (config.models.index(c.model), c.epochs, c.batch_size))
                files = write_results(cells, out, title, notes)
    return GridResult(out, cells, labelled.class_names, len(images), notes, files)


def _run_cell_group(model_name: str, batch_size: int, config: ClassifyConfig, labelled: LabelledImages,
                    images: torch.Tensor, folds: list, out: Path, device: str, bars: GridProgress) -> list[CellResult]:
    """Every fold of one model and batch size, for all epoch budgets at once."""
    budgets = sorted(config.epochs)
    cells = {e: CellResult(model_name, e, batch_size) for e in budgets}
    labels = labelled.labels
    for k, (train_index, val_index) in enumerate(folds, 1):
        fold_dirs = {e: out / cell_name(model_name, e, batch_size) / f"fold_{k}" for e in budgets}
        checkpoints = {e: d / "best.pt" for e, d in fold_dirs.items()} if config.checkpoints else None
        label = f"{model_name} b{batch_size} fold {k}/{len(folds)}"
        bar = bars.fold(label, budgets[-1], steps_per_epoch(len(train_index), batch_size))
        report = {"name": f"{model_name} on {labelled.name} (fold {k})",
                  "fold": k, "folds": len(folds), "batch_size": batch_size, "seed": config.seed,
                  "data": labelled.source, "pretrained": config.pretrained or ""}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed * 1000 + k)
            model = build_model(model_name, images.shape[1], images.shape[2], len(labelled.class_names),
                                config.pretrained if model_name.startswith("resnet") else None)
            results = fit_fold(
                model, images, labels, torch.as_tensor(train_index), torch.as_tensor(val_index), budgets=budgets,
                batch_size=batch_size, lr=config.lr, seed=config.seed * 1000 + k,
                callbacks=Callbacks.seed004(config.reduce_lr_patience, config.reduce_lr_factor,
                                            config.early_stop_patience),
                checkpoints=checkpoints, device=device, observer=bar,
                payload=lambda net, record, report=report: classifier_payload(
                    net, labelled.class_names,
                    {**report, "epoch": record["epoch"], "val_accuracy": record["val_accuracy"]}, model_name))
        final = results[budgets[-1]]
        bar.finish(f"best val {final.val_accuracy:.2%} @ ep {final.best_epoch}, {final.epochs_run} ep, "
                   f"{final.seconds:.0f}s")
        for epochs, result in results.items():
            cells[epochs].folds.append(result)
            fold_dirs[epochs].mkdir(parents=True, exist_ok=True)
            write_text(fold_dirs[epochs] / "history.jsonl",
                       "".join(json.dumps(record) + "\n" for record in result.history))
            fold_curves(result.history, fold_dirs[epochs] / "curves.png",
                        f"{model_name}, {epochs} epochs, batch {batch_size}: fold {k} of {len(folds)}")
    for cell in cells.values():
        cell_curves([f.history for f in cell.folds], out / cell.name / "curves.png",
                    f"{model_name}, {cell.epochs} epochs, batch {batch_size}: {len(cell.folds)} folds "
                    f"(val acc {cell.mean:.4f} ± {cell.std:.4f})")
    return list(cells.values())


def _labelled(data: str | Path | LabelledImages, config: ClassifyConfig, progress: bool) -> LabelledImages:
    """The images to cross-validate, with `config.classes` and `config.per_class` applied."""
    if not isinstance(data, LabelledImages):
        return load_labelled_images(data, image_size=config.image_size, channels=config.channels,
                                    classes=config.classes, per_class=config.per_class, seed=config.seed,
                                    quarantine=config.quarantine, progress=progress)
    if config.classes:
        data = select_classes(data, config.classes)
    return cap_per_class(data, config.per_class, config.seed) if config.per_class else data


def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA GPU is visible to torch; use --device cpu (or auto)")
    return name


def _notes(config: ClassifyConfig, labelled: LabelledImages, images: torch.Tensor) -> list[str]:
    """What a reader of the results must know: training from scratch, skipped files, loss used."""
    notes = []
    for model in (m for m in config.models if m.startswith("resnet")):
        if config.pretrained:
            notes.append(f"{model}: transfer learning from {config.pretrained}; the backbone is frozen, only the "
                         f"new {len(labelled.class_names)}-class head trains; grayscale is repeated to 3 channels")
        else:
            notes.append(f"{model}: no --pretrained weights file, so it trains FROM SCRATCH (random init, every "
                         "layer trained) — not transfer learning; give torchvision weights with --pretrained PATH")
    if labelled.skipped:
        notes.append(f"{len(labelled.skipped)} files could not be used (listed in skipped_files.txt)")
    loss = "one sigmoid logit, binary cross-entropy" if len(labelled.class_names) == 2 else \
        "softmax over classes, cross-entropy"
    notes.append(f"{loss}; Adam lr {config.lr}; images {'×'.join(map(str, images.shape[1:]))} in [-1, 1]; "
                 f"stratified {config.folds}-fold, seed {config.seed}")
    return notes


def _prepare_out(out: Path, force: bool) -> Path:
    if (out / "config.json").exists() or (out / "results.csv").exists():
        if not force:
            raise ConfigError(f"{out} already holds workbench results; choose another --out or add --force")
        try:
            config = optional_file(out / "config.json", "workbench file", GankitError)
            previous = json.loads(config.read_text(encoding="utf-8") or "{}") if config else {}
        except (OSError, ValueError):
            previous = {}
        if isinstance(previous, dict) and previous.get("tool") == "gankit classify":
            check_removable(out)
            shutil.rmtree(out)  # only a folder this command wrote is removed
    out.mkdir(parents=True, exist_ok=True)
    return out


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    write_text(path, json.dumps(payload, indent=2) + "\n")
