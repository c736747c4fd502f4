"""What the trainer does between epochs besides stepping: evaluate, diagnose, draw pictures,
refresh the report.

Each hook takes what it needs from the trainer's state and writes into the run folder;
the trainer decides when they are due.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit.catalogue import RANKED
from gankit.config import Config
from gankit.data.base import Dataset
from gankit.evaluation import Scorer
from gankit.metrics.memorisation import COPY_RATIO
from gankit.pictures.grid import save_grid
from gankit.report.html import write_report
from gankit.report.plots import loss_plot, metric_plot, scatter_plot
from gankit.training.diagnostics import Diagnosis, diagnose

PLOT_SAMPLES = 2000
GRID_SAMPLES = 100
CHECK_PART, CHECK_MIN_PART = 1000, 200  # images per part of the end-of-run feature-space check
CHECK_MIN_IMAGES = 3 * CHECK_MIN_PART


class EvaluationHook:
    """Scores the sampling generator; the scorer (feature extractor; the real features follow at
    the first evaluation) is built by ``prepare``, and each distinct warning is printed once but
    kept in every record."""

    def __init__(self, dataset: Dataset, config: Config, device: str):
        self.dataset, self.config, self.device = dataset, config, device
        self._scorer: Scorer | None = None
        self._warned: set[str] = set()

    def prepare(self) -> Scorer:
        """The scorer, built now if not yet: the trainer calls this at the start, so a feature
        space that does not load or an eval.k the data cannot meet stops the run before it trains."""
        if self._scorer is None:
            self._scorer = Scorer(self.dataset, self.config, device=self.device)
            if self._scorer.note:
                print(f"note: {self._scorer.note}", file=sys.stderr)
        return self._scorer

    def write_feature_check(self, path: Path) -> None:
        """The feature-space check of the run's evaluator on its data (cached across runs) into
        ``path``, for the report. Skipped with eval.check=false, for Inception and Stacked MNIST's
        per-channel scoring, and below ``CHECK_MIN_IMAGES`` images (too few for three parts of
        ``CHECK_MIN_PART``: the table's noise rule would hide every change)."""
        from gankit.classify.evaluator import Evaluator
        from gankit.classify.sanity_cache import cached_check
        from gankit.files.atomic import write_text

        scorer = self.prepare()
        extractor = scorer.extractor
        if not self.config.eval.check or not isinstance(extractor, Evaluator) or scorer.per_channel:
            return
        if len(self.dataset) < CHECK_MIN_IMAGES:
            return
        n = min(CHECK_PART, len(self.dataset) // 3)
        print(f"checking that the feature space '{extractor.name}' sees defects on this data (once, then cached)",
              file=sys.stderr)
        table = cached_check(None, extractor, self.dataset, n=n, seed=self.config.eval.seed, k=self.config.eval.k,
                             progress=self.config.train.progress)
        write_text(path, json.dumps(table.to_json(), indent=1) + "\n")

    def __call__(self, generator_net: nn.Module, discriminator: nn.Module) -> dict[str, Any]:
        metrics = self.prepare().score(generator_net, discriminator)
        warnings = metrics.pop("warnings", [])
        for warning in warnings:
            if warning not in self._warned:
                self._warned.add(warning)
                print(f"\nwarning: {warning}", file=sys.stderr)
        return {**metrics, "warnings": warnings} if warnings else metrics

    def save_memorisation(self, path: Path) -> Path | None:
        """``plots/memorisation.png``: the latest evaluation's closest generated/training
        pairs (by the memorisation rule's ratio), generated on top, its training image below,
        the ratio under each pair; None (nothing written) when no memorisation was scored."""
        pairs = self._scorer.closest if self._scorer is not None else []
        if not pairs:
            return None
        images = torch.cat([torch.stack([g.float() for g, _, _ in pairs]), torch.stack([t.float() for _, t, _ in pairs])])
        return save_grid(images, path, nrow=len(pairs), row_labels=["generated", "training"],
                         column_labels=[f"{ratio:.2f}" for _, _, ratio in pairs],
                         title=f"closest to training images: ratio < {COPY_RATIO:.2f} is a near-copy")


@torch.no_grad()
def plot_epoch(generator_net: nn.Module, fixed_latents: torch.Tensor, dataset: Dataset, config: Config,
               epoch: int, records: list[dict[str, Any]], samples_dir: Path, plots_dir: Path,
               fixed_labels: torch.Tensor | None = None) -> None:
    """``samples/epoch_NNNN.png`` (a grid of the fixed latents — one row per class for a
    conditional run — or generated points over real ones), ``plots/losses.png`` and
    ``plots/metrics.png``."""
    was_training = generator_net.training
    generator_net.eval()
    conditioned = () if fixed_labels is None else (fixed_labels,)
    fake = generator_net(fixed_latents, *conditioned).float().cpu()
    generator_net.train(was_training)
    path = samples_dir / f"epoch_{epoch:04d}.png"
    if dataset.kind == "images":
        row_labels = None
        if fixed_labels is not None:
            names = dataset.label_names
            row_labels = [names[int(label)] for label in fixed_labels[::10].tolist()]
        save_grid(fake[:GRID_SAMPLES], path, nrow=10, title=f"{config.data.name} - epoch {epoch}",
                  row_labels=row_labels)
    else:
        scatter_plot(dataset.tensor[:PLOT_SAMPLES].numpy(), fake.numpy(), path,
                     title=f"{config.data.name} · epoch {epoch}")
    plot_curves(records, config, plots_dir)


def plot_curves(records: list[dict[str, Any]], config: Config, plots_dir: Path) -> None:
    """``plots/losses.png`` and ``plots/metrics.png`` from the records so far."""
    loss_plot(records, plots_dir / "losses.png",
              title=f"{config.data.name} · {config.objective.name} · losses per epoch")
    metric_plot(records, RANKED, plots_dir / "metrics.png")


class DiagnosticsHook:
    """Keeps the problems active at the latest epoch; warns once when a new one begins."""

    def __init__(self, config: Config):
        self.config = config
        self.active: list[Diagnosis] = []

    def update(self, records: list[dict[str, Any]], record: dict[str, Any] | None = None,
               progress=None) -> Diagnosis | None:
        """Diagnose ``records`` (``record`` is the newest, which gets a ``diagnostics`` list
        while any problem is active); returns the active mode collapse, if any."""
        c = self.config
        found = diagnose(records, select=c.eval.select, objective=c.objective.name,
                         eval_every=c.eval.every, epochs=c.train.epochs)
        if record is not None:
            known = {(d.kind, d.since_epoch) for d in self.active}
            for diagnosis in found:
                if (diagnosis.kind, diagnosis.since_epoch) not in known:
                    if progress is not None and progress.enabled:
                        progress.log(f"[yellow]warning: {diagnosis}[/yellow]")
                    else:
                        print(f"warning: {diagnosis}", file=sys.stderr)
            if found:
                record["diagnostics"] = [d.as_dict() for d in found]
        self.active = found
        return next((d for d in found if d.kind == "mode_collapse"), None)


def write_report_safely(run_dir: Path) -> None:
    """Refresh ``report.html``; a failure to render the page never stops training."""
    try:
        write_report(run_dir)
    except Exception as error:  # noqa: BLE001 - the run matters more than its page
        print(f"warning: could not write {Path(run_dir) / 'report.html'}: {error}", file=sys.stderr)
