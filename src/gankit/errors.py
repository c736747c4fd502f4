"""The one family of errors a user can cause. Messages say what to do."""


class GankitError(Exception):
    """Base class for every error caused by user input (config, files, runs)."""


class ConfigError(GankitError):
    """A bad config key or value; the CLI exits with code 2."""


class DataError(GankitError):
    """A data file or folder that cannot be used as given."""


class CheckpointError(GankitError):
    """A checkpoint that is missing, truncated or not a gankit checkpoint."""


class TrainingDiverged(GankitError):
    """A loss became NaN or Inf; the last good checkpoint is kept."""


class OutputError(GankitError):
    """A file could not be written (disk full, I/O error); what was saved before is intact."""


class RunLocked(GankitError):
    """Another live process is writing the same run folder."""


class TrainingInterrupted(GankitError):
    """Ctrl-C: a checkpoint was saved at the current step; ``--resume`` continues."""
