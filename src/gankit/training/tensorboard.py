"""TensorBoard logs in ``RUN/tb/``: every epoch's losses and metrics as scalars, the sample
figures as images, so ``tensorboard --logdir runs`` shows a sweep's runs side by side.

Scalars are logged against the global step; a resumed run purges events written after
its checkpoint, so replayed epochs appear once, as in ``metrics.jsonl``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gankit.catalogue import SAMPLE_COUNT_KEYS, TRAINING_KEYS

# record key -> TensorBoard tag; metrics go under metrics/<name>.
TRAINING_TAGS = {
    "g_loss": "loss/generator", "d_loss_real": "loss/discriminator_real", "d_loss_fake": "loss/discriminator_fake",
    "d_real_prob": "discriminator/p_real_on_real", "d_fake_prob": "discriminator/p_real_on_generated",
    "g_grad_norm": "generator/grad_norm", "samples_per_second": "speed/samples_per_second",
}
# Training keys without a tag, sample counts and evaluation settings: not logged as metrics.
NOT_METRICS = frozenset({*(key for key in TRAINING_KEYS if key not in TRAINING_TAGS), *SAMPLE_COUNT_KEYS,
                         "n", "min_share"})


class TensorBoardLog:
    """Writes one run's events; opened lazily so a run that never logs leaves no file."""

    def __init__(self, log_dir: Path, purge_step: int | None = None):
        self.log_dir = Path(log_dir)
        self.purge_step = purge_step
        self._writer = None

    @property
    def writer(self):
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter  # ~1 s import; only when logging

            self._writer = SummaryWriter(str(self.log_dir), purge_step=self.purge_step)
        return self._writer

    def log_record(self, record: dict[str, Any]) -> None:
        """Every finite number of an epoch record: training statistics and metrics."""
        step = int(record["step"])
        for index, value in enumerate(record.get("intra_fid_per_class") or []):  # a conditional run's classes
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(f"intra_fid_per_class/{index}", value, step)
        for key, value in record.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            if key in TRAINING_TAGS:
                self.writer.add_scalar(TRAINING_TAGS[key], value, step)
            elif key not in NOT_METRICS:
                self.writer.add_scalar(f"metrics/{key}", value, step)
        self.writer.add_scalar("epoch", record["epoch"], step)

    def log_image(self, tag: str, png: Path, step: int) -> None:
        """A PNG written by the run (sample grid or scatter plot), as RGB."""
        with Image.open(png) as image:
            pixels = np.asarray(image.convert("RGB"))
        self.writer.add_image(tag, pixels, step, dataformats="HWC")

    def log_text(self, tag: str, text: str, step: int) -> None:
        self.writer.add_text(tag, text, step)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
