"""Where the training loop stands, and what its steps logged: the loop's position (saved in
every checkpoint, so a resumed run continues bit for bit) and the epoch's record for
``metrics.jsonl``, computed from the per-step statistics (columns named by
training/types.py's ``STAT_NAMES``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gankit.training.types import COLUMN, LOSS_COLUMNS, STAT_NAMES

# Statistics logged as the mean over every step of the epoch, in the record's order.
EVERY_STEP_MEANS = ("d_loss_real", "d_loss_fake", "g_loss", "d_real_score", "d_fake_score")


@dataclass
class LoopPosition:
    """The position of the loop: ``epoch`` epochs done, ``batch`` steps into the next one,
    ``step`` steps in all; ``elapsed`` seconds of stepping in all (hooks excluded), the last
    epoch's ``epoch_seconds``, and the current epoch's data order ``permutation``."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    elapsed: float = 0.0
    epoch_seconds: float = 0.0
    permutation: torch.Tensor | None = None


def epoch_record(stats: torch.Tensor, position: LoopPosition, batch_size: int, has_ratio: bool) -> dict:
    """The epoch's line of ``metrics.jsonl`` from its steps' statistics (one row per step).

    Losses and scores are means over every step, except ``g_loss`` and ``g_grad_norm``: means
    over the steps that took a G step (NaN when none did); ``d_real_prob``/``d_fake_prob``
    only for objectives with a density-ratio estimate.
    """
    stats = stats.double()
    g_rows = stats[:, COLUMN.g_step] > 0
    means = stats.mean(dim=0).tolist()
    steps = stats.shape[0]
    record = {"epoch": position.epoch, "step": position.step, "time": round(position.elapsed, 3),
              "epoch_seconds": round(position.epoch_seconds, 3),
              "samples_per_second": round(steps * batch_size / max(position.epoch_seconds, 1e-9), 1)}
    record.update({name: means[COLUMN[name]] for name in EVERY_STEP_MEANS})
    g_means = stats[g_rows].mean(dim=0).tolist() if bool(g_rows.any()) else [float("nan")] * len(STAT_NAMES)
    record["g_loss"] = g_means[COLUMN.g_loss]
    if has_ratio:
        record["d_real_prob"], record["d_fake_prob"] = means[COLUMN.d_real_prob], means[COLUMN.d_fake_prob]
    record["g_grad_norm"] = g_means[COLUMN.g_grad_norm]
    return record


def first_non_finite(rows: torch.Tensor) -> tuple[int, float] | None:
    """(row, value) of the first non-finite loss among the statistics ``rows``, or None."""
    losses = rows[:, LOSS_COLUMNS]
    if bool(torch.isfinite(losses).all()):
        return None
    bad = int((~torch.isfinite(losses)).any(dim=1).nonzero()[0, 0])
    return bad, losses[bad][~torch.isfinite(losses[bad])][0].item()
