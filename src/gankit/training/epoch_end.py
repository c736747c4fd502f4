"""The end of an epoch on rank 0: which of the hooks (training/hooks.py) are due, in what order,
and what they leave in the run folder. The loop itself is in training/trainer.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gankit.files.records import append_record
from gankit.metrics.select import quality_key
from gankit.files import checkpoint as ckpt
from gankit.training.hooks import plot_curves, plot_epoch, write_report_safely
from gankit.training.loop_state import epoch_record

if TYPE_CHECKING:  # the trainer imports this module
    from gankit.training.trainer import Trainer


def _due(epoch: int, every: int, last: bool) -> bool:
    return last or (every > 0 and epoch % every == 0)


def end_epoch(trainer: Trainer, records: list[dict[str, Any]]) -> None:
    """Rank 0's work after an epoch, each part when due: evaluate (and keep ``best.pt``, check
    ``train.stop_at``), diagnose, log the record (metrics.jsonl, TensorBoard), draw samples and
    curves, refresh the report, save checkpoints. ``records``: the log so far, appended to."""
    c = trainer.config
    last = trainer.position.epoch == c.train.epochs
    record = epoch_record(trainer.epoch_stats, trainer.position, c.train.batch_size, trainer.step_fn.has_ratio)
    if trainer.step_fn.small_data is not None:
        record.update(trainer.step_fn.small_data.log_values())
    if _due(trainer.position.epoch, c.eval.every, last):
        metrics = trainer.evaluate(trainer.models.sampling_generator, trainer.models.discriminator)
        record.update(metrics)
        trainer.last_metrics = metrics
        key = quality_key(metrics, c.eval.select, c.objective.name)
        if key and (trainer.best_key is None or key > trainer.best_key):
            trainer.best_key = key
            ckpt.save_checkpoint({**trainer.state_dict(), "metrics": metrics}, trainer.paths.best_checkpoint)
        if trainer.stop_rule is not None and trainer.stop_rule.reached(metrics):
            trainer.stopped_by = f"{trainer.stop_rule} reached at epoch {trainer.position.epoch}"
            record["stopped_by"] = trainer.stopped_by
    collapse = trainer.diagnostics.update([*records, record], record, trainer.progress)
    if collapse is not None and c.train.stop_on_collapse and not trainer.stopped_by:
        trainer.stopped_by = (f"mode collapse since epoch {collapse.since_epoch} (train.stop_on_collapse); "
                              "checkpoints/best.pt holds the best model before it")
        record["stopped_by"] = trainer.stopped_by
    append_record(trainer.paths.metrics, record)
    records.append(record)
    if trainer.tensorboard is not None:
        trainer.tensorboard.log_record(record)
    if _due(trainer.position.epoch, c.train.sample_every, last or bool(trainer.stopped_by)):
        plot_epoch(trainer.models.sampling_generator, trainer.fixed_latents, trainer.dataset, c,
                   trainer.position.epoch, records, trainer.paths.samples, trainer.paths.plots, trainer.fixed_labels)
        if trainer.tensorboard is not None:
            trainer.tensorboard.log_image("samples", trainer.paths.sample_grid(trainer.position.epoch),
                                          trainer.position.step)
        write_report_safely(trainer.paths.root)
    elif _due(trainer.position.epoch, c.eval.every, last):  # new metrics: the curves and the page follow
        plot_curves(records, c, trainer.paths.plots)
        write_report_safely(trainer.paths.root)
    every = c.train.checkpoint_every
    if _due(trainer.position.epoch, every, last or bool(trainer.stopped_by)):
        trainer.save(epoch_file=every > 0 and trainer.position.epoch % every == 0)
