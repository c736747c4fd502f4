"""A user's own point set from a `.csv` or `.npy` file.

CSV: one point per line, any number of numeric columns. A first row whose cells
are not all numbers is a header. The delimiter is the one of `,` `;` or tab that
occurs most often in the first non-blank line (comma when none does). Blank lines
are skipped. NPY: a numeric 2-D array (N, D), or a 1-D array read as one column.

Every problem is reported as a `DataError` naming the file and the place (line and
column for CSV, array index for NPY), so the user can fix the file.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from gankit.data.base import Dataset
from gankit.errors import DataError
from gankit.files.arrays import npy_header
from gankit.files.budget import check_memory
from gankit.files.reading import read_bytes, regular_file

SUPPORTED_SUFFIXES = (".csv", ".npy")
CSV_DELIMITERS = (",", ";", "\t")
NPY_MAGIC = b"\x93NUMPY"


def load_points(path: str | Path, name: str = "points") -> Dataset:
    """Load an (N, D) point set from `path` (.csv or .npy) as a float32 `Dataset`."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found; check the path")
    regular_file(path, "points file")  # a FIFO would block the read
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataError(
            f"{path}: unsupported extension {path.suffix or '(none)'!r}; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    array = _read_csv(path) if suffix == ".csv" else _read_npy(path)
    return Dataset(name=name, tensor=torch.from_numpy(array.astype(np.float32)), geometry=None)


def _read_csv(path: Path) -> np.ndarray:
    check_memory(2 * path.stat().st_size, f"reading {path} (its bytes and their text)",
                  "give a smaller points file", DataError)
    try:
        text = read_bytes(path, "points file").decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not a UTF-8 text file ({error.reason}); is it really CSV?") from None
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise DataError(f"{path}: the file is empty; it needs one point per line")
    delimiter = _detect_delimiter(lines[0][1])
    rows = [(number, [cell.strip() for cell in line.split(delimiter)]) for number, line in lines]

    header_line = None
    if not all(_is_number(cell) for cell in rows[0][1]):
        header_line = rows[0][0]
        expected = len(rows[0][1])
        rows = rows[1:]
        if not rows:
            raise DataError(f"{path}: only a header row (line {header_line}), no data rows")
    else:
        expected = len(rows[0][1])

    values = np.empty((len(rows), expected), dtype=np.float64)
    for index, (number, cells) in enumerate(rows):
        if len(cells) != expected:
            origin = f"the header on line {header_line}" if header_line else f"line {rows[0][0]}"
            raise DataError(
                f"{path}: line {number} has {len(cells)} columns, expected {expected} "
                f"(as in {origin}); every row needs the same number of values"
            )
        for column, cell in enumerate(cells, start=1):
            if not _is_number(cell):
                shown = repr(cell) if cell else "an empty cell"
                raise DataError(
                    f"{path}: line {number}, column {column}: {shown} is not a number"
                )
            value = float(cell)
            if not math.isfinite(value):
                raise DataError(
                    f"{path}: line {number}, column {column}: {cell!r} is NaN or infinite; "
                    "remove or fix that value"
                )
            values[index, column - 1] = value
    return values


def _detect_delimiter(first_line: str) -> str:
    counts = {delimiter: first_line.count(delimiter) for delimiter in CSV_DELIMITERS}
    best = max(CSV_DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] > 0 else ","


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _read_npy(path: Path) -> np.ndarray:
    with path.open("rb") as handle:
        if handle.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise DataError(f"{path}: cannot read as .npy (no NumPy header); save it with numpy.save")
    header = npy_header(path)  # shape and dtype, checked against the file's size before loading
    # held at once: the array as stored, its float64 copy, the float32 dataset tensor
    check_memory(header.nbytes + header.count * (8 + 4), f"loading {path} ({header.count} values)",
                 "give a smaller points file", DataError)
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise DataError(
                f"{path}: holds an object-dtype array; save a numeric array (e.g. float32)"
            ) from None
        raise DataError(f"{path}: cannot read as .npy ({error})") from None
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot read as .npy ({error})") from None
    if not isinstance(array, np.ndarray):
        raise DataError(f"{path}: holds {type(array).__name__}, not a single array")
    if array.dtype.kind not in "biuf":
        raise DataError(
            f"{path}: array dtype {array.dtype} is not numeric; save a float or int array"
        )
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise DataError(
            f"{path}: array has {array.ndim} dimensions (shape {array.shape}); "
            "expected a 2-D array (N points, D columns) or 1-D"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise DataError(f"{path}: the array is empty (shape {array.shape})")
    array = array.astype(np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{path}: value at index [{row}, {column}] (row {row + 1}, column {column + 1}) "
            f"is {array[row, column]}; NaN or infinite values are not allowed"
        )
    return array
