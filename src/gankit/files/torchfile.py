"""Loading ``torch.save`` files safely: plain tensors, numbers, strings and containers
only (``weights_only=True``), so a crafted file can never run code here."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from gankit.errors import GankitError
from gankit.files.reading import regular_file

# torch names the class or function the file asks for ("Unsupported global: GLOBAL os.system");
# a file that is merely damaged fails without naming one.
UNSAFE_MARK = "GLOBAL "


def load_plain(path: str | Path, what: str, error: type[GankitError], hint: str = "",
               map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``; a file that needs more than plain tensors
    raises ``error`` saying it was refused for safety, a damaged one that it cannot be
    read, anything but a regular file (a FIFO would block) that it is not a file. Neither
    message suggests loading unsafely."""
    suffix = f"; {hint}" if hint else ""
    regular_file(path, what, error)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if UNSAFE_MARK in str(exc):
            raise error(f"'{path}' is not a plain-tensor {what} (refused for safety: loading it would run "
                        f"code stored in the file){suffix}") from None
        raise error(f"{what} '{path}' cannot be read (corrupt: {_first_line(exc)}){suffix}") from None
    except Exception as exc:  # noqa: BLE001 - torch raises several types for damaged zip archives
        raise error(f"{what} '{path}' cannot be read (truncated or corrupt: {_first_line(exc)}){suffix}") from None


def _first_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() and "weights_only" not in line]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
