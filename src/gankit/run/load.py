"""Opening a run folder: its networks from a checkpoint (``load_run``), its report, its export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gankit.config import config_from_dict
from gankit.errors import CheckpointError, ConfigError, GankitError
from gankit.files import checkpoint as ckpt
from gankit.files import owner
from gankit.files.lock import RunLock
from gankit.files.owner import claim_file
from gankit.files.reading import regular_file
from gankit.files.records import warn
from gankit.files.rundir import RunPaths
from gankit.models import build_models
from gankit.run.handle import Run
from gankit.training.state import mismatch_message


def report_run(path: str | Path) -> Path:
    """(Re)write ``RUN/report.html`` under the run's lock (refused while another process
    writes the run, whose trainer refreshes the page itself); damaged lines of
    ``metrics.jsonl`` are skipped with a warning. Only a run folder of gankit's is written
    (one of an older gankit is adopted: its run files recorded, nothing else)."""
    from gankit.report.html import write_report

    root = Path(path)
    if not RunPaths(root).config.exists():
        raise GankitError(f"'{root}' is not a run folder (no config.toml)")
    regular_file(RunPaths(root).config, "run file", GankitError)  # never a FIFO that would block
    owner.check_run(root)
    with RunLock(root, "gankit report"):
        owner.own_run(root)
        owner.clean_stale(root)
        return write_report(root, on_warning=warn)


def load_run(path: str | Path, checkpoint: str = "last") -> Run:
    """Open a run folder; ``checkpoint`` is ``last``, ``best``, or a path to a ``.pt`` file.

    The generator is the EMA copy when the run kept one (that is what it evaluated).
    """
    root = Path(path)
    if not RunPaths(root).config.is_file():
        raise GankitError(f"'{root}' is not a run folder (no config.toml)")
    directory = RunPaths(root).checkpoints
    if checkpoint == "last":
        state, file, skipped = ckpt.load_latest(directory)
        if skipped and file.name != "last.pt":  # last.pt, tried first, is damaged: say which file is used
            warn(f"skipped damaged checkpoint: {skipped[0]}; using {file.name}")
    else:
        file = Path(checkpoint) if checkpoint.endswith(".pt") else directory / f"{checkpoint}.pt"
        state = ckpt.load_checkpoint(file)
    config = config_from_dict(state["config"])
    dataset_shape = _sample_shape(state)
    class_names = [str(name) for name in state["class_names"]] if state.get("class_names") else None
    generator, discriminator = build_models(config.model, dataset_shape, len(class_names) if class_names else None)
    for network, part in ((generator, "generator_ema" if state.get("generator_ema") else "generator"),
                          (discriminator, "discriminator")):
        try:
            network.load_state_dict(state[part])
        except (RuntimeError, KeyError) as exc:
            raise CheckpointError(mismatch_message(None, config, part, file, exc)) from None
    generator.eval()
    discriminator.eval()
    return Run(root, config, generator, discriminator, file, dataset_shape, epoch=int(state.get("epoch", 0)),
               uses_ema=bool(state.get("generator_ema")), class_names=class_names)


def export_run(path: str | Path, output: str | Path, file_format: str, *, checkpoint: str = "last",
               uint8: bool = False, force: bool = False) -> Path:
    """Load the run folder ``path`` at ``checkpoint`` (``last``, ``best`` or a ``.pt`` path) and
    export its generator (:func:`gankit.export.export_generator`). A folder without a trained generator is a
    ConfigError (the CLI exits 2)."""
    from gankit.export import check_format, export_generator

    check_format(file_format)
    root = Path(path)
    claim_file(output, force=force)  # refused before the run is loaded, not after it
    if not RunPaths(root).config.is_file():
        raise ConfigError(f"'{root}' is not a run folder (no config.toml): there is no generator to export")
    chosen = Path(checkpoint) if checkpoint.endswith(".pt") else RunPaths(root).checkpoint(checkpoint)
    if checkpoint != "last" and not chosen.is_file():
        raise ConfigError(f"--checkpoint {checkpoint}: '{chosen}' does not exist; use last, best or a .pt file")
    try:
        run = load_run(root, checkpoint)
    except CheckpointError:
        if checkpoint == "last" and not any(RunPaths(root).checkpoints.glob("*.pt")):
            raise ConfigError(f"'{root}' has no trained generator to export (no checkpoint in "
                              f"{RunPaths(root).checkpoints}); train it first") from None
        raise
    return export_generator(run, output, file_format, uint8=uint8, force=force)


def _sample_shape(state: dict[str, Any]) -> tuple[int, ...]:
    shape = state.get("sample_shape")
    if shape is None:
        raise GankitError("checkpoint lacks the data's sample shape; it was written by an older gankit")
    return tuple(int(s) for s in shape)
