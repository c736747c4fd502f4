"""Saving matplotlib figures: the non-interactive Agg backend (no display needed, set
before pyplot is imported) and an atomic PNG write."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gankit.files.atomic import atomic_path  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(fig, path: Path, *, dpi: int = 110, tight: bool = True) -> Path:
    """Write ``fig`` as a PNG atomically (a reader never sees half a picture) and close it."""
    try:
        with atomic_path(path) as temporary:
            fig.savefig(temporary, format="png", dpi=dpi, **({"bbox_inches": "tight"} if tight else {}))
    finally:
        plt.close(fig)
    return Path(path)
