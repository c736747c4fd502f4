"""The training loop: epochs of index-batched steps, hooks, checkpoints, exact resume.

The trainer builds the run from its config, steps through the epochs (the step itself is
training/step.py; its position is a ``LoopPosition``, training/loop_state.py) and hands each
epoch's end to training/epoch_end.py, which runs the hooks that are due. Those modules see
only the objects the trainer hands them: a ``TrainingState`` (what a checkpoint holds,
training/state.py) and an ``EpochEnd`` (that state, the run folder and the hooks).

All randomness of training (data order, latents, gradient-penalty mixing) comes from
one seeded ``torch.Generator``; dropout draws from torch's global generator, which is
seeded from the same seed. Both states, the optimizers and the position inside the
epoch go into every checkpoint (training/state.py), so a resumed run continues bit for bit.

Under torchrun the same loop runs in every process (training/distributed.py): each trains
on its rows of the global batch; rank 0 alone evaluates and writes the run folder.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from gankit.config import Config
from gankit.config.rules import parse_stop_rule
from gankit.data import load_dataset, write_skip_list
from gankit.errors import ConfigError, OutputError, TrainingDiverged, TrainingInterrupted
from gankit.files.atomic import FULL_ERRNOS, write_text
from gankit.files.lock import RunLock
from gankit.files.records import read_records, write_json
from gankit.files.rundir import RunPaths
from gankit.hardware import device_line, memory_bytes
from gankit.models import build_models
from gankit.models.conditional import set_class_weights
from gankit.models.size import check_fits
from gankit.objectives import build_objective
from gankit.sampling.grid_inputs import fixed_inputs
from gankit.files import owner
from gankit.training import distributed
from gankit.training.epoch_end import EpochEnd, end_epoch
from gankit.training.small_data import SmallData
from gankit.training.hooks import GRID_SAMPLES, PLOT_SAMPLES, DiagnosticsHook, EvaluationHook, write_report_safely
from gankit.training.loop_state import LoopPosition, first_non_finite
from gankit.training.optim import make_optimizers, set_learning_rates
from gankit.training.progress import TrainingProgress
from gankit.training.state import TrainingState, load_latest_checkpoint, output_failed, write_checkpoint
from gankit.training.step import AdversarialStep, make_ema
from gankit.training.tensorboard import TensorBoardLog
from gankit.training.types import STAT_NAMES, AdversarialModels


class Trainer:
    """Owns one run: builds everything from the config, trains, writes the run folder."""

    def __init__(self, config: Config, run_dir: Path, *, resume: bool = False, force: bool = False):
        self.config = config
        self.paths = RunPaths(owner.resolve_output(run_dir))  # a symlinked folder is its target throughout
        t = config.train
        self.place, self.device = distributed.setup(t.device)
        self.is_main = self.place.is_main
        self.lock: RunLock | None = None  # rank 0 holds the run folder's lock until close()
        if self.is_main and resume:  # before the slow parts: a second writer is told at once
            owner.check_run(self.paths.root)  # only a run folder gets a lock file
            self.lock = RunLock(self.paths.root, "gankit train --resume").acquire()
            owner.own_run(self.paths.root)  # a run of an older gankit is adopted: its run files recorded
            owner.clean_stale(self.paths.root)  # what a killed writer left half-written
        elif self.is_main:
            self.paths.check_new(force=force)
        data_config = config.data if self.is_main else replace(config.data, quarantine=False)  # rank 0 moves files
        self.dataset = load_dataset(data_config, progress=t.progress and self.is_main)
        self.data = self.dataset.tensor.to(self.device)  # once; batches are index gathers on the device
        n = self.data.shape[0]
        if n < t.batch_size:
            raise ConfigError(f"train.batch_size: {t.batch_size} is larger than the dataset ({n} samples)")
        self.steps_per_epoch = n // t.batch_size
        self.total_steps = self.steps_per_epoch * t.epochs
        self.rows = distributed.rank_rows(t.batch_size, config.model.pack, self.place)

        # Class-conditional runs train on (image, class) pairs; the classes' names go into checkpoints.
        self.class_names = self.dataset.label_names if config.model.conditional else None
        self.labels = self.dataset.labels.to(self.device) if self.class_names is not None else None
        n_classes = None if self.class_names is None else len(self.class_names)
        self._check_memory(n_classes)
        torch.manual_seed(t.seed)  # initial weights and dropout masks
        generator, discriminator = build_models(config.model, self.dataset.sample_shape, n_classes)
        if self.labels is not None:
            set_class_weights(generator, self.labels, len(self.class_names))
        generator, discriminator = generator.to(self.device), discriminator.to(self.device)
        g_opt, d_opt = make_optimizers(generator, discriminator, t)
        self.models = AdversarialModels(generator, discriminator, g_opt, d_opt,
                                        make_ema(generator) if t.ema_decay > 0 and self.is_main else None)
        distributed.prepare_training_passes(self.models, self.place, self.device, t)
        objective = build_objective(
            config.objective.name, generator_loss=config.objective.generator_loss,
            label_smoothing=config.objective.label_smoothing, gamma=config.objective.gamma,
            gp_weight=config.objective.gp_weight,
        )
        self.rng = torch.Generator(device=self.device).manual_seed(t.seed)
        self.step_fn = AdversarialStep(self.models, objective, config.model, t, self.rng, self.device, self.rows,
                                       small_data=SmallData.from_config(config, self.device))
        fixed_latents, fixed_labels = fixed_inputs(
            GRID_SAMPLES if self.dataset.kind == "images" else PLOT_SAMPLES, config.model, self.class_names,
            torch.Generator(device=self.device).manual_seed(t.seed + 1), self.device)
        self.position = LoopPosition()
        self.epoch_stats = torch.zeros(self.steps_per_epoch, len(STAT_NAMES), device=self.device)
        # What checkpoints save: the objects above, shared (training/state.py).
        self.state = TrainingState(config, self.dataset.sample_shape, self.class_names, self.models, self.rng,
                                   self.device, self.position, self.epoch_stats, self.step_fn.small_data)
        self.warnings: list[str] = []
        stop_rule = parse_stop_rule(t.stop_at)
        self.stopped_by: str = ""
        self.diagnostics = DiagnosticsHook(config)
        evaluate = EvaluationHook(self.dataset, config, str(self.device))
        if self.is_main:
            evaluate.prepare()
        self._stop_requested = False
        if resume:
            if self.lock is not None and self.lock.note:
                self.warnings.append(self.lock.note)
            self._resume()
        elif self.is_main:
            self.lock = self.paths.create(force=force)
        if not self.is_main:  # dropout masks differ per rank (rank 0 keeps the one-process stream)
            torch.manual_seed(t.seed + 7919 * self.place.rank + self.position.step)
        purge_step = self.position.step + 1 if resume else None
        self.tensorboard = TensorBoardLog(self.paths.tensorboard, purge_step=purge_step) \
            if t.tensorboard and self.is_main else None
        self.epoch_end = EpochEnd(self.state, self.paths, self.dataset, fixed_latents, fixed_labels, evaluate,
                                  self.diagnostics, self.tensorboard, stop_rule, self.step_fn.has_ratio)
        if not self.is_main:
            return
        # On resume too: overrides such as train.epochs=300 become part of the run.
        write_text(self.paths.config, config.to_toml())
        self.warnings.extend(self.dataset.notes)
        if self.dataset.skipped:
            count = write_skip_list(self.dataset, self.paths.root)
            self.warnings.append(f"{count} unusable files skipped, listed in {self.paths.root / 'skipped_files.txt'}")

    def _check_memory(self, n_classes: int | None) -> None:
        """Refuse networks too large for the device's memory before building them (one line
        naming the key to lower); on the CPU each process of a DDP run holds its own copy."""
        memory, on_gpu = memory_bytes(self.device), self.device.type == "cuda"
        if memory is not None and not on_gpu:
            memory //= self.place.world_size
        pictures = GRID_SAMPLES if self.dataset.kind == "images" else PLOT_SAMPLES
        check_fits(self.config.model, self.dataset.sample_shape, n_classes, memory,
                   ema=self.config.train.ema_decay > 0, latent_rows=self.config.train.batch_size + pictures,
                   where="the GPU's memory" if on_gpu else "this machine's memory")

    # ------------------------------------------------------------ state
    def _resume(self) -> None:
        try:
            load_latest_checkpoint(self.state, self.paths, self.warnings, truncate_metrics=self.is_main)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the run folder's lock (``fit`` does this when it ends, however it ends)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    # ------------------------------------------------------------ loop
    def _should_stop(self) -> bool:
        """Ctrl-C seen: one process checks before every step; under DDP all ranks agree on it
        every 50 steps and at the start of each epoch (one small all-reduce)."""
        if not self.place.enabled:
            return self._stop_requested
        return self.position.batch % 50 == 0 and distributed.any_rank(self._stop_requested, self.place, self.device)

    def _check_finite(self, start: int, stop: int) -> None:
        """Raise TrainingDiverged at the first non-finite loss of steps ``start:stop``; under DDP
        the rows are first averaged over the ranks, so every rank logs and decides the same."""
        rows = self.epoch_stats[start:stop]
        if stop > start:
            distributed.average_(rows, self.place)
        found = first_non_finite(rows)
        if found is None:
            return
        row, value = found
        step = self.position.epoch * self.steps_per_epoch + start + row + 1
        last = self.paths.last_checkpoint
        kept = f"the last good checkpoint is {last}" if last.exists() else "no checkpoint had been saved yet"
        raise TrainingDiverged(
            f"loss became {value} at step {step} (epoch {self.position.epoch + 1}, objective "
            f"{self.config.objective.name}); training stopped and {kept}. Try a lower learning rate, "
            "spectral normalisation, or another objective"
        )

    def run_epoch(self, progress: TrainingProgress | None = None) -> None:
        """Train the remaining steps of the current epoch (no hooks; `fit` calls those)."""
        progress = progress or TrainingProgress(0, 1, enabled=False)
        t, data, at = self.config.train, self.data, self.position
        checked = at.batch
        started = time.perf_counter()
        while at.batch < self.steps_per_epoch:
            if self._should_stop():  # before any randomness of the step is drawn
                raise KeyboardInterrupt
            if at.batch == 0:
                at.permutation = torch.randperm(data.shape[0], generator=self.rng, device=self.device)
            index = at.permutation[at.batch * t.batch_size:(at.batch + 1) * t.batch_size][self.rows]
            set_learning_rates(self.models, t, at.step, self.total_steps)
            labels = None if self.labels is None else self.labels[index]
            self.epoch_stats[at.batch] = self.step_fn(data[index], (at.step + 1) % t.n_critic == 0,
                                                      at.step // t.n_critic, labels)
            at.batch += 1
            at.step += 1
            if at.batch % 50 == 0:
                self._check_finite(checked, at.batch)
                checked = at.batch
                progress.update(at.step)
        self._check_finite(checked, at.batch)
        progress.update(at.step)
        at.epoch_seconds = time.perf_counter() - started
        at.elapsed += at.epoch_seconds

    def _after_epoch(self, records: list[dict[str, Any]], progress: TrainingProgress | None = None) -> None:
        """Rank 0 runs the epoch's hooks; every rank learns whether they ended the run."""
        if self.is_main:
            self.stopped_by = end_epoch(self.epoch_end, records, progress)
        self.stopped_by = distributed.from_main(self.stopped_by, self.place)

    def _request_stop(self, signum, frame) -> None:  # noqa: ARG002 - signal handler signature
        self._stop_requested = True

    def fit(self) -> dict[str, Any]:
        """Train to ``train.epochs``; returns the final metrics. A write that fails (disk
        full) ends training with one line naming the last good checkpoint; the run
        folder's lock is released however training ends."""
        try:
            return self._fit()
        except OutputError as error:
            raise output_failed(self.paths, error) from None
        except OSError as error:
            if error.errno not in FULL_ERRNOS:
                raise
            raise output_failed(self.paths, error) from None
        finally:
            self.close()

    def _fit(self) -> dict[str, Any]:
        records = read_records(self.paths.metrics) if self.is_main else []
        self.diagnostics.update(records)  # on resume: what was already reported stays quiet
        for warning in self.warnings if self.is_main else []:
            print(f"warning: {warning}", file=sys.stderr)
        on_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, self._request_stop) if on_main else None
        at = self.position
        progress = TrainingProgress(self.config.train.epochs, self.steps_per_epoch,
                                    self.config.train.progress and self.is_main)
        if self.tensorboard is not None and at.step == 0:
            self.tensorboard.log_text("config", "```toml\n" + self.config.to_toml() + "\n```", 0)
        try:
            with progress:
                if progress.enabled:
                    progress.log(f"[dim]{device_line(self.device)}[/dim]")
                progress.update(at.step)
                while at.epoch < self.config.train.epochs and not self.stopped_by:
                    self.run_epoch(progress)
                    at.epoch += 1
                    at.batch = 0
                    self._after_epoch(records, progress)
                    if records:
                        progress.epoch_done(at.epoch, records[-1])
        except KeyboardInterrupt:
            path = write_checkpoint(self.state, self.paths, epoch_file=False) if self.is_main \
                else self.paths.last_checkpoint
            raise TrainingInterrupted(
                f"interrupted at step {at.step} (epoch {at.epoch + 1}); checkpoint saved to {path}; "
                f"continue with: gankit train {self.paths.root} --resume"
            ) from None
        finally:
            if on_main:
                signal.signal(signal.SIGINT, previous)
            if self.tensorboard is not None:
                self.tensorboard.close()
        final = {**self.state.last_metrics, "epoch": at.epoch, "step": at.step, "train_seconds": round(at.elapsed, 2)}
        if self.stopped_by:
            final["stopped_by"] = self.stopped_by
        final["diagnostics"] = [d.as_dict() for d in self.diagnostics.active]
        if self.is_main:
            write_json(self.paths.final_metrics, final)
            if self.dataset.kind == "images":
                self.epoch_end.evaluate.write_feature_check(self.paths.evaluator_check)
            write_report_safely(self.paths.root)
        return final
