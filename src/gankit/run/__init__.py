"""A trained run folder as a Python object (``Run``: sample, evaluate, DRS, export), how one is
opened (``load_run``) and made (``train``)."""

from gankit.run.handle import TRAINING_LOG_KEYS, Run
from gankit.run.load import export_run, load_run, report_run
from gankit.run.train import default_run_dir, train

__all__ = ["Run", "TRAINING_LOG_KEYS", "default_run_dir", "export_run", "load_run", "report_run", "train"]
