"""TensorBoard logs in ``RUN/tb/``: every epoch's losses and metrics as scalars, the sample
figures as images, so ``tensorboard --logdir runs`` shows a sweep's runs side by side.

Scalars are logged against the global step; a resumed run purges events written after
its checkpoint, so replayed epochs appear once, as in ``metrics.jsonl``. The event files are
written by `gankit.files.tfevents` (no ``tensorboard`` package needed to write them; it is
needed only to view them: ``pip install tensorboard``).
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from PIL import Image

from gankit.catalogue import PER_CLASS_KEYS, SAMPLE_COUNT_KEYS, TRAINING_KEYS
from gankit.files.tfevents import EventFileWriter, image_value, scalar_value, text_value

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
    """Writes one run's events; the file opens on the first event, so a run that never logs
    leaves none."""

    def __init__(self, log_dir: Path, purge_step: int | None = None):
        self.log_dir = Path(log_dir)
        self.purge_step = purge_step
        self.writer = EventFileWriter(self.log_dir, purge_step=purge_step)  # opens its file on the first event

    def log_record(self, record: dict[str, Any]) -> None:
        """Every finite number of an epoch record: training statistics and metrics."""
        values = []
        for key in PER_CLASS_KEYS:  # a conditional run's classes
            for index, value in enumerate(record.get(key) or []):
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    values.append(scalar_value(f"{key}/{index}", value))
        for key, value in record.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            if key in TRAINING_TAGS:
                values.append(scalar_value(TRAINING_TAGS[key], value))
            elif key not in NOT_METRICS:
                values.append(scalar_value(f"metrics/{key}", value))
        values.append(scalar_value("epoch", record["epoch"]))
        self.writer.add(int(record["step"]), *values)

    def log_image(self, tag: str, png: Path, step: int) -> None:
        """A PNG written by the run (sample grid or scatter plot), its bytes as they are."""
        data = Path(png).read_bytes()
        with Image.open(io.BytesIO(data)) as image:  # the size from the bytes already read
            width, height, channels = image.width, image.height, len(image.getbands())
        self.writer.add(step, image_value(tag, data, height, width, channels))

    def log_text(self, tag: str, text: str, step: int) -> None:
        self.writer.add(step, text_value(tag, text))

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
