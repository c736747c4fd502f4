"""The Python API: ``gankit.train(config)`` and ``gankit.load_run(path)``."""

from __future__ import annotations

import io
import json
from contextlib import nullcontext
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit.catalogue import TRAINING_KEYS
from gankit.config import Config, coerce_config
from gankit.data import Dataset, load_dataset
from gankit.errors import ConfigError, GankitError
from gankit.evaluation import Scorer
from gankit.files.atomic import write_bytes
from gankit.files import owner
from gankit.files.budget import check_memory
from gankit.files.lock import RunLock
from gankit.files.owner import check_new, claim_file
from gankit.files.reading import optional_file
from gankit.files.records import read_records
from gankit.files.rundir import RunPaths
from gankit.sampling.export import FEWER, check_export, check_points_path, sample_bytes, save_points
from gankit.sampling.generate import generate
from gankit.sampling.images import export_samples
from gankit.sampling.labels import ClassSpec, draw_labels, labels_for


# Keys of a metrics.jsonl record that describe training, not the evaluation (``Run.metrics``
# keeps the epoch, which says when the metrics were measured).
TRAINING_LOG_KEYS = frozenset(TRAINING_KEYS) - {"epoch"} | {"diagnostics"}


class Run:
    """A finished or in-progress run folder with its networks loaded (CPU, eval mode)."""

    def __init__(self, path: Path, config: Config, generator: nn.Module, discriminator: nn.Module,
                 checkpoint: Path, sample_shape: tuple[int, ...], *, epoch: int | None = None,
                 uses_ema: bool = False, class_names: list[str] | None = None):
        self.path = Path(path)
        self.epoch = epoch  # the epoch the loaded checkpoint reached (None when not read from a file)
        self.uses_ema = uses_ema  # whether ``generator`` is the EMA copy
        self.class_names = class_names  # a conditional run's classes (label i is class_names[i]), else None
        self.sample_shape = sample_shape
        self.config = config
        self.generator = generator
        self.discriminator = discriminator
        self.checkpoint = checkpoint
        self.drs_report: dict[str, Any] = {}
        self.drs_discriminator: nn.Module | None = None

    def __repr__(self) -> str:
        return f"Run('{self.path}', data={self.config.data.name}, objective={self.config.objective.name})"

    @property
    def history(self) -> list[dict[str, Any]]:
        """Every record of ``metrics.jsonl``: losses per epoch, metrics where evaluated."""
        return read_records(RunPaths(self.path).metrics)

    @property
    def diagnostics(self) -> list[dict[str, Any]]:
        """Problems active at the end of training (mode collapse, D saturation, vanishing G
        gradients, oscillation), each with ``kind``, ``since_epoch`` and ``message``."""
        final = RunPaths(self.path).final_metrics
        if optional_file(final, "run file", GankitError) is not None:
            return list(json.loads(final.read_text(encoding="utf-8")).get("diagnostics") or [])
        history = self.history
        return list(history[-1].get("diagnostics") or []) if history else []

    @property
    def metrics(self) -> dict[str, Any]:
        """The latest evaluated metrics (the final ones once training has finished)."""
        evaluated = [r for r in self.history if "n_fake" in r or "s1" in r]
        if not evaluated:
            return {}
        return {k: v for k, v in evaluated[-1].items() if k not in TRAINING_LOG_KEYS}

    @cached_property
    def dataset(self) -> Dataset:
        return load_dataset(self.config.data)

    @property
    def conditional(self) -> bool:
        """Whether the generator takes class labels (``model.conditional``)."""
        return self.class_names is not None

    def labels(self, classes: ClassSpec, n: int) -> torch.Tensor:
        """The labels of ``n`` samples for ``classes``: one class (index or name) for all, or a
        list the samples cycle through; an unknown class is a ConfigError listing the valid ones."""
        return labels_for(classes, n, self.class_names)

    def _draw(self, count: int, latent_generator: torch.Generator, batch_size: int | None = None,
              progress=None, truncation: float | None = None, labels: torch.Tensor | None = None) -> torch.Tensor:
        τ = self.config.sample.truncation if truncation is None else truncation
        return generate(
            self.generator, count, latent_dim=self.config.model.latent_dim,
            distribution=self.config.model.latent_distribution, generator=latent_generator,
            batch_size=batch_size or self.config.sample.batch_size, on_batch=progress,
            truncation=τ if τ > 0 else None, labels=labels,
        )

    def sample(self, n: int, *, seed: int | None = None, batch_size: int | None = None, progress=None,
                     truncation: float | None = None, classes: ClassSpec | None = None, drs: bool = False,
               **drs_settings: Any) -> torch.Tensor:
        """``n`` generated samples as a CPU tensor, reproducible for a given ``seed``.

        ``classes`` (conditional runs): one class, by index or name, for every sample, or a list
        of classes the samples cycle through (``classes=range(10)``: sample i has class i % 10);
        None draws classes with the training data's frequencies.
        ``truncation`` τ > 0 draws truncated latents (default ``sample.truncation``). ``drs=True``
        keeps only samples accepted by Discriminator Rejection Sampling, with the run's
        ``sample.drs_*`` settings (override any as keywords, e.g. ``drs_gamma_percentile=80``);
        its statistics are then in :attr:`drs_report` and a fine-tuned D in :attr:`drs_discriminator`.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"n: ask for at least 1 sample, got {n!r}")
        check_memory(sample_bytes(n, self.sample_shape), f"drawing {n} samples", FEWER)
        seed = self.config.sample.seed if seed is None else seed
        labels = None if classes is None else self.labels(classes, n)
        if drs:
            return self._drs(n, seed, truncation, progress, drs_settings, labels)
        if drs_settings:
            raise GankitError(f"{', '.join(drs_settings)}: DRS settings need drs=True")
        return self._draw(n, torch.Generator().manual_seed(seed), batch_size, progress, truncation, labels)

    def _drs(self, n: int, seed: int, truncation: float | None, progress, settings: dict[str, Any],
             labels: torch.Tensor | None = None) -> torch.Tensor:
        from gankit.sampling.drs_run import drs_sample, drs_sample_classes

        config = coerce_config(self.config, [f"sample.{key}={value}" for key, value in settings.items()])
        latent_generator = torch.Generator().manual_seed(seed)
        if self.conditional:  # DRS per class, with D at that class (sampling/drs_run.py)
            if labels is None:
                labels = draw_labels(self.generator, n, latent_generator)
            samples, self.drs_report, self.drs_discriminator = drs_sample_classes(
                lambda wanted: self._draw(len(wanted), latent_generator, len(wanted), truncation=truncation,
                                          labels=wanted),
                self.discriminator, config, labels, real=self.dataset.tensor, real_labels=self.dataset.labels,
                seed=seed, progress=bool(progress))
            return samples

        def draw(count: int) -> torch.Tensor:
            return self._draw(count, latent_generator, count, truncation=truncation)

        samples, self.drs_report, self.drs_discriminator = drs_sample(
            draw, self.discriminator, config, n, real=self.dataset.tensor, seed=seed, progress=bool(progress))
        return samples

    def save_samples(self, n: int, output: str | Path, *, seed: int | None = None, progress: bool = True,
                     truncation: float | None = None, classes: ClassSpec | None = None, drs: bool = False,
                     force: bool = False, **drs_settings: Any) -> Path:
        """Write ``n`` samples: points to ``.csv``/``.npy``; images to a folder of
        ``0.png … {n-1}.png`` (the course platform's layout) or a ``.npz`` file; ``classes`` as
        in :meth:`sample`. With
        ``drs=True`` the accepted samples are written, and a fine-tuned discriminator (if
        any) is saved beside them as ``<output>.drs-discriminator.pt``. Outputs must be new (an
        empty folder will do), or (with ``force``) earlier outputs of gankit's holding nothing else."""
        output = Path(output)
        check_export(n, self.sample_shape, output, drawn_first=drs, labelled=self.conditional)
        if len(self.sample_shape) != 3:  # refused before any sampling, not after it
            check_points_path(output)
            output = claim_file(output, force=force)
        elif output.is_dir() or output.suffix == "":
            output = check_new(output, "samples", force=force, option="-o")
        else:
            output = claim_file(output, force=force)
        if drs or len(self.sample_shape) != 3:
            samples = self.sample(n, seed=seed, truncation=truncation, classes=classes, drs=drs,
                                  progress=progress if drs else None, **drs_settings)
            if drs and self.drs_discriminator is not None:
                buffer = io.BytesIO()
                torch.save(self.drs_discriminator.state_dict(), buffer)
                sidecar = claim_file(output.with_name(output.name + ".drs-discriminator.pt"), force=force)
                write_bytes(sidecar, buffer.getbuffer())
            if len(self.sample_shape) != 3:
                return save_points(samples, output, force=force)
            batches = iter(samples.split(self.config.sample.batch_size))
            return export_samples(lambda count: next(batches), n, output,
                                  batch_size=self.config.sample.batch_size, progress=False, force=force)
        latent_generator = torch.Generator().manual_seed(self.config.sample.seed if seed is None else seed)
        labels = draw_labels(self.generator, n, latent_generator) if classes is None else self.labels(classes, n)
        done = 0

        def draw(count: int) -> torch.Tensor:
            nonlocal done
            batch = None if labels is None else labels[done:done + count]
            done += count
            return self._draw(count, latent_generator, count, truncation=truncation, labels=batch)

        return export_samples(draw, n, output, batch_size=self.config.sample.batch_size, progress=progress,
                              force=force)

    def export_generator(self, output: str | Path, format: str = "onnx", *, uint8: bool = False,
                         force: bool = False) -> Path:
        """Write the generator (the EMA copy when the run kept one) as ``onnx``, ``torchscript``
        or ``safetensors`` to ``output``, with a model card ``output.json`` / ``output.md``
        beside it, for use without gankit. It maps latents (B, latent_dim) to images in [-1, 1]
        or points; ``uint8=True`` bakes in the [0, 255] pixel mapping (images only). The
        checkpoint is the one this run was loaded from (``load_run(path, "best")``). The files
        must be new, or (with ``force``) files gankit wrote."""
        from gankit.export import export_generator

        return export_generator(self, output, format, uint8=uint8, force=force)

    def interpolate(self, output: str | Path, *, rows: int = 8, steps: int = 10, method: str = "slerp",
                    seed: int = 0, classes: ClassSpec | None = None, force: bool = False) -> Path:
        """Write a PNG of ``rows`` interpolations of ``steps`` samples between random latents:
        an image grid (one interpolation per row) or, for 2D points, paths over the data. A
        conditional run's rows cycle through ``classes`` (default: all classes in turn). ``output``
        must be a new file, or (with ``force``) one gankit wrote."""
        from gankit.sampling.interpolate import check_interpolation_size, interpolate, save_interpolation

        check_interpolation_size(rows, steps, self.sample_shape, self.config.model.latent_dim)
        output = claim_file(output, force=force)
        τ = self.config.sample.truncation
        samples = interpolate(self.generator, self.config.model.latent_dim, rows=rows, steps=steps, method=method,
                              distribution=self.config.model.latent_distribution, seed=seed,
                              truncation=τ if τ > 0 else None,
                              labels=None if classes is None else self.labels(classes, rows))
        background = None if len(self.sample_shape) == 3 else self.dataset.tensor[:2000]
        return save_interpolation(samples, output, title=f"{self.path.name} · {method} interpolation",
                                  background=background)

    def evaluate(self, n: int | None = None, seed: int | None = None, *, drs: bool = False,
                 **eval_overrides: Any) -> dict[str, Any]:
        """Score the generator now with the run's ``eval`` settings; ``n``, ``seed`` and any
        other ``eval`` field (e.g. ``evaluator="my.pt"``, ``k=3``) override them for this call.
        Image metrics carry a ``warnings`` list (empty when every number had enough samples).
        ``drs=True`` also scores as many DRS-accepted samples: their metrics come with a
        ``drs_`` prefix beside the plain ones, with the acceptance statistics; they are written to
        the run folder, so its lock is taken first (a run still training refuses at once)."""
        settings = {key: value for key, value in {"n": n, "seed": seed, **eval_overrides}.items() if value is not None}
        config = coerce_config(self.config, [f"eval.{key}={value}" for key, value in settings.items()])
        check_memory(sample_bytes(config.eval.n, self.sample_shape) * (2 if drs else 1),
                     f"scoring {config.eval.n} generated samples", "lower -n (eval.n)")
        if drs:  # DRS results go into the run folder: gankit's own (an older run is adopted under the lock)
            owner.check_run(self.path)
        with RunLock(self.path, "gankit eval --drs") if drs else nullcontext():
            if drs:
                owner.own_run(self.path)
            scorer = Scorer(self.dataset, config)
            if scorer.note:
                raise GankitError(scorer.note)
            metrics = scorer.score(self.generator, self.discriminator)
            if drs:
                accepted = self.sample(config.eval.n, seed=config.eval.seed, drs=True, progress=True)
                drs_metrics = scorer.score(self.generator, self.drs_discriminator or self.discriminator,
                                           fake=accepted)
                self._save_drs_eval(dict(metrics), drs_metrics, config)
                metrics.update({f"drs_{key}": value for key, value in drs_metrics.items() if key != "warnings"})
                metrics.update(self.drs_report)
        return metrics

    def _save_drs_eval(self, plain: dict[str, Any], drs: dict[str, Any], config: Config) -> None:
        """``drs_eval.json`` (plain vs DRS metrics, n, seed, settings) and a refreshed report.html;
        the caller holds the run's lock."""
        from dataclasses import asdict

        from gankit.report.html import write_report
        from gankit.report.html_data import write_drs_eval

        settings = {key: value for key, value in asdict(self.config.sample).items() if key.startswith("drs_")}
        acceptance = {key: value for key, value in self.drs_report.items() if settings.get(key) != value}
        write_drs_eval(self.path, plain, drs, n=config.eval.n, seed=config.eval.seed, settings=settings,
                       acceptance=acceptance)
        write_report(self.path)

    def report(self) -> Path:
        """(Re)write ``report.html`` in the run folder from its files; returns its path."""
        from gankit.run.load import report_run

        return report_run(self.path)
