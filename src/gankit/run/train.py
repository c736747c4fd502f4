"""``gankit.train``: train a GAN from a config and return the loaded run."""

from __future__ import annotations

import time
from pathlib import Path

from gankit.config import Config, coerce_config, load_config
from gankit.errors import GankitError
from gankit.files.owner import resolve_output
from gankit.run.handle import Run
from gankit.run.load import load_run
from gankit.files.rundir import RunPaths


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
    ``train.epochs=200`` extend it). Under torchrun every process calls this; they train
    together (DDP), rank 0 names and writes the run folder, and all return the finished run.
    """
    from gankit.training import distributed
    from gankit.training.trainer import Trainer

    if resume:
        run_dir = Path(out or config)
        if not RunPaths(run_dir).config.is_file():
            raise GankitError(f"cannot resume: '{run_dir}' is not a run folder (no config.toml)")
        resolved = load_config(RunPaths(run_dir).config, overrides)
    else:
        resolved = coerce_config(config, overrides)
        run_dir = Path(out) if out else default_run_dir(config if isinstance(config, (str, Path)) else None)
    run_dir = resolve_output(run_dir)  # a symlinked --out is its target from here on
    place, _ = distributed.setup(resolved.train.device)  # joins the process group under torchrun
    run_dir = Path(distributed.from_main(str(run_dir), place))  # rank 0's timestamp; all have read the config
    trainer = Trainer(resolved, run_dir, resume=resume, force=force)
    trainer.fit()
    distributed.barrier(place)  # rank 0 has written the last checkpoint
    if place.is_main:
        run = load_run(run_dir)
    else:  # other ranks may run on machines that do not hold the run folder
        models = trainer.models
        run = Run(run_dir, resolved, models.generator.cpu().eval(), models.discriminator.cpu().eval(),
                  RunPaths(run_dir).last_checkpoint, tuple(trainer.dataset.sample_shape),
                  class_names=trainer.class_names)
    distributed.teardown(place)
    return run
