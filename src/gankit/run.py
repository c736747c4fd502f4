"""The Python API: ``gankit.train(config)`` and ``gankit.load_run(path)``."""

from __future__ import annotations

import time
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit.config import Config, coerce_config, config_from_dict, load_config
from gankit.data import Dataset, load_dataset
from gankit.errors import GankitError
from gankit.evaluation import evaluate_generator
from gankit.models import build_models
from gankit.sampling.export import save_points
from gankit.sampling.generate import generate
from gankit.sampling.images import export_samples
from gankit.training import checkpoint as ckpt
from gankit.training.rundir import RunPaths, read_records


# Keys of a metrics.jsonl record that describe training, not the evaluation.
TRAINING_LOG_KEYS = frozenset({"step", "time", "epoch_seconds", "samples_per_second", "d_loss_real",
                               "d_loss_fake", "g_loss", "d_real_score", "d_fake_score"})


class Run:
    """A finished or in-progress run folder with its networks loaded (CPU, eval mode)."""

    def __init__(self, path: Path, config: Config, generator: nn.Module, discriminator: nn.Module,
                 checkpoint: Path, sample_shape: tuple[int, ...]):
        self.path = Path(path)
        self.sample_shape = sample_shape
        self.config = config
        self.generator = generator
        self.discriminator = discriminator
        self.checkpoint = checkpoint

    def __repr__(self) -> str:
        return f"Run('{self.path}', data={self.config.data.name}, objective={self.config.objective.name})"

    @property
    def history(self) -> list[dict[str, Any]]:
        """Every record of ``metrics.jsonl``: losses per epoch, metrics where evaluated."""
        return read_records(RunPaths(self.path).metrics)

    @property
    def metrics(self) -> dict[str, Any]:
        """The latest evaluated metrics (the final ones once training has finished)."""
        evaluated = [r for r in self.history if "precision" in r]
        if not evaluated:
            return {}
        return {k: v for k, v in evaluated[-1].items() if k not in TRAINING_LOG_KEYS}

    @cached_property
    def dataset(self) -> Dataset:
        return load_dataset(self.config.data)

    def _draw(self, count: int, latent_generator: torch.Generator, batch_size: int | None = None,
              progress=None) -> torch.Tensor:
        return generate(
            self.generator, count, latent_dim=self.config.model.latent_dim,
            distribution=self.config.model.latent_distribution, generator=latent_generator,
            batch_size=batch_size or self.config.sample.batch_size, on_batch=progress,
        )

    def sample(self, n: int, *, seed: int | None = None, batch_size: int | None = None,
               progress=None) -> torch.Tensor:
        """``n`` generated samples as a CPU tensor, reproducible for a given ``seed``."""
        seed = self.config.sample.seed if seed is None else seed
        return self._draw(n, torch.Generator().manual_seed(seed), batch_size, progress)

    def export(self, n: int, output: str | Path, *, seed: int | None = None, progress: bool = True) -> Path:
        """Write ``n`` samples: points to ``.csv``/``.npy``; images to a folder of
        ``0.png … {n-1}.png`` (the course platform's layout) or a ``.npz`` file."""
        if len(self.sample_shape) != 3:
            return save_points(self.sample(n, seed=seed), Path(output))
        latent_generator = torch.Generator().manual_seed(self.config.sample.seed if seed is None else seed)
        return export_samples(lambda count: self._draw(count, latent_generator, count), n, Path(output),
                              batch_size=self.config.sample.batch_size, progress=progress)

    def evaluate(self, n_samples: int | None = None, seed: int | None = None) -> dict[str, Any]:
        """Score the generator now with the run's eval settings (optionally overridden)."""
        eval_config = self.config.eval
        if n_samples is not None or seed is not None:
            from dataclasses import replace
            eval_config = replace(eval_config, n_samples=n_samples or eval_config.n_samples,
                                  seed=eval_config.seed if seed is None else seed)
        return evaluate_generator(self.generator, self.dataset, self.config.model, eval_config)


def load_run(path: str | Path, checkpoint: str = "last") -> Run:
    """Open a run folder; ``checkpoint`` is ``last``, ``best``, or a path to a ``.pt`` file.

    The generator is the EMA copy when the run kept one (that is what it evaluated).
    """
    root = Path(path)
    if not (root / "config.toml").is_file():
        raise GankitError(f"'{root}' is not a run folder (no config.toml)")
    directory = RunPaths(root).checkpoints
    if checkpoint == "last":
        state, file, _ = ckpt.load_latest(directory)
    else:
        file = Path(checkpoint) if checkpoint.endswith(".pt") else directory / f"{checkpoint}.pt"
        state = ckpt.load_checkpoint(file)
    config = config_from_dict(state["config"])
    dataset_shape = _sample_shape(state)
    generator, discriminator = build_models(config.model, dataset_shape)
    generator.load_state_dict(state["generator_ema"] or state["generator"])
    discriminator.load_state_dict(state["discriminator"])
    generator.eval()
    discriminator.eval()
    return Run(root, config, generator, discriminator, file, dataset_shape)


def _sample_shape(state: dict[str, Any]) -> tuple[int, ...]:
    shape = state.get("sample_shape")
    if shape is None:
        raise GankitError("checkpoint lacks the data's sample shape; it was written by an older gankit")
    return tuple(int(s) for s in shape)


def default_run_dir(target: str | Path | None) -> Path:
    """``runs/<name>-<YYYYmmdd-HHMMSS>``, the name from the preset or the TOML file."""
    name = "run"
    if target is not None:
        path = Path(str(target))
        name = path.parent.name if path.name == "config.toml" else path.stem or "run"
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def train(config: Config | dict | str | Path | None = None, *, overrides: list[str] | None = None,
          out: str | Path | None = None, resume: bool = False, force: bool = False) -> Run:
    """Train a GAN and return the loaded :class:`Run`.

    ``config`` is a :class:`Config`, a nested dict, a preset name or a TOML path; with
    ``resume=True`` it is the run folder to continue (overrides such as
    ``train.epochs=200`` extend it).
    """
    from gankit.training.trainer import Trainer

    if resume:
        run_dir = Path(out or config)
        if not (run_dir / "config.toml").is_file():
            raise GankitError(f"cannot resume: '{run_dir}' is not a run folder (no config.toml)")
        resolved = load_config(run_dir / "config.toml", overrides)
    else:
        resolved = coerce_config(config, overrides)
        run_dir = Path(out) if out else default_run_dir(config if isinstance(config, (str, Path)) else None)
    trainer = Trainer(resolved, run_dir, resume=resume, force=force)
    trainer.fit()
    return load_run(run_dir)
