"""gankit: train, sample, evaluate and compare GANs on a CPU or one GPU, offline.

Python API::

    import gankit
    run = gankit.train("toy-spiral", overrides=["train.epochs=50"], out="runs/spiral")
    points = run.sample(1000)
    run.metrics            # latest evaluated metrics
    run = gankit.load_run("runs/spiral")
    run.export_generator("spiral.safetensors", "safetensors")
    generator = gankit.load_generator("spiral.safetensors")   # no run folder needed
"""

from importlib import import_module

__all__ = ["Config", "GankitError", "Run", "compare", "load_config", "load_generator", "load_run", "sweep", "train"]
__version__ = "0.1.0"

_HOMES = {"Config": "gankit.config", "load_config": "gankit.config", "GankitError": "gankit.errors",
          "Run": "gankit.run", "load_run": "gankit.run", "train": "gankit.run",
          "load_generator": "gankit.export",
          "sweep": "gankit.experiments", "compare": "gankit.experiments"}


def __getattr__(name: str):
    """Import on first use, so `gankit --help` and config tools start fast."""
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'gankit' has no attribute '{name}'")
