"""Experiments over many runs: ``sweep`` trains a config grid, ``compare`` puts runs side by side."""

from gankit.experiments.compare import compare
from gankit.experiments.sweep import SweepRun, sweep

__all__ = ["SweepRun", "compare", "sweep"]
