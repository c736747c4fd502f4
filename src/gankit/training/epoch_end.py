"""The end of an epoch on rank 0: which of the hooks (training/hooks.py) are due, in what order,
and what they leave in the run folder. The loop itself is in training/trainer.py, which
builds the ``EpochEnd`` these work with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from gankit.data.base import Dataset
from gankit.files import checkpoint as ckpt
from gankit.files.records import append_record
from gankit.files.rundir import RunPaths
from gankit.metrics.select import quality_key
from gankit.training.hooks import DiagnosticsHook, EvaluationHook, plot_curves, plot_epoch, write_report_safely
from gankit.training.loop_state import epoch_record
from gankit.training.state import TrainingState, checkpoint_dict, write_checkpoint

if TYPE_CHECKING:
    from gankit.config.rules import StopRule
    from gankit.training.progress import TrainingProgress
    from gankit.training.tensorboard import TensorBoardLog


@dataclass
class EpochEnd:
    """What the end of an epoch works with: the training state (whose ``best_key`` and
    ``last_metrics`` it updates, and which it checkpoints), the run folder, the dataset and the
    fixed inputs the sample pictures are drawn from, the evaluation and diagnostics hooks, the
    TensorBoard log (None: off) and ``train.stop_at`` as a rule (None: none)."""

    state: TrainingState
    paths: RunPaths
    dataset: Dataset
    fixed_latents: torch.Tensor
    fixed_labels: torch.Tensor | None
    evaluate: EvaluationHook
    diagnostics: DiagnosticsHook
    tensorboard: TensorBoardLog | None
    stop_rule: StopRule | None
    has_ratio: bool  # the objective estimates the density ratio (the record's d_real_prob/d_fake_prob)


def _due(epoch: int, every: int, last: bool) -> bool:
    return last or (every > 0 and epoch % every == 0)


def end_epoch(end: EpochEnd, records: list[dict[str, Any]], progress: TrainingProgress | None = None) -> str:
    """Rank 0's work after an epoch, each part when due: evaluate (and keep ``best.pt``, check
    ``train.stop_at``), diagnose, log the record (metrics.jsonl, TensorBoard), draw samples and
    curves, refresh the report, save checkpoints. ``records``: the log so far, appended to.
    Returns why the run stops here, or "" when it goes on."""
    state, paths, c = end.state, end.paths, end.state.config
    epoch = state.position.epoch
    last = epoch == c.train.epochs
    stopped_by = ""
    record = epoch_record(state.epoch_stats, state.position, c.train.batch_size, end.has_ratio)
    if state.small_data is not None:
        record.update(state.small_data.log_values())
    if _due(epoch, c.eval.every, last):
        metrics = end.evaluate(state.models.sampling_generator, state.models.discriminator)
        record.update(metrics)
        state.last_metrics = metrics
        key = quality_key(metrics, c.eval.select, c.objective.name)
        if key and (state.best_key is None or key > state.best_key):
            state.best_key = key
            ckpt.save_checkpoint({**checkpoint_dict(state), "metrics": metrics}, paths.best_checkpoint)
        if end.stop_rule is not None and end.stop_rule.reached(metrics):
            stopped_by = record["stopped_by"] = f"{end.stop_rule} reached at epoch {epoch}"
    collapse = end.diagnostics.update([*records, record], record, progress)
    if collapse is not None and c.train.stop_on_collapse and not stopped_by:
        stopped_by = record["stopped_by"] = (f"mode collapse since epoch {collapse.since_epoch} "
                                             "(train.stop_on_collapse); checkpoints/best.pt holds the best "
                                             "model before it")
    if _due(epoch, c.eval.every, last) and (last or stopped_by):  # the final evaluation: its closest pairs
        end.evaluate.save_memorisation(paths.plot("memorisation"))
    append_record(paths.metrics, record)
    records.append(record)
    if end.tensorboard is not None:
        end.tensorboard.log_record(record)
    if _due(epoch, c.train.sample_every, last or bool(stopped_by)):
        plot_epoch(state.models.sampling_generator, end.fixed_latents, end.dataset, c, epoch, records,
                   paths.samples, paths.plots, end.fixed_labels)
        if end.tensorboard is not None:
            end.tensorboard.log_image("samples", paths.sample_grid(epoch), state.position.step)
        write_report_safely(paths.root)
    elif _due(epoch, c.eval.every, last):  # new metrics: the curves and the page follow
        plot_curves(records, c, paths.plots)
        write_report_safely(paths.root)
    every = c.train.checkpoint_every
    if _due(epoch, every, last or bool(stopped_by)):
        write_checkpoint(state, paths, epoch_file=every > 0 and epoch % every == 0)
    return stopped_by
