"""How gankit prints a float, in every table and page: one rule, so no ``-0`` anywhere."""

from __future__ import annotations


def float_text(value: float, digits: int | None = 4) -> str:
    """``value`` to ``digits`` significant digits (``None``: the shortest ``g`` form). A value
    that rounds to zero prints as ``0``, never ``-0``: a sign on nothing reads as a finding."""
    text = f"{value:g}" if digits is None else f"{value:.{digits}g}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text
