"""NumPy files a user gives (``.npy`` points, ``.npz`` images), judged by their headers
before any data is read.

A ``.npy`` header states the shape and dtype of what follows, so gankit checks them first:
objects (which would need unpickling, never done) and text are refused, and a header
that claims more data than the file holds is a corrupt file, said in one line, instead
of numpy allocating what the header claims. What a caller will hold is then checked
against the free memory (files/budget.py) before the array is loaded.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from gankit.errors import DataError
from gankit.files.reading import regular_file

NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats
_KIND_NAMES = {"O": "an object-dtype array (loading it would unpickle it, which gankit never does)",
               "U": "text", "S": "bytes", "c": "complex numbers", "V": "records", "M": "dates", "m": "time spans"}


@dataclass(frozen=True)
class ArrayHeader:
    """What a ``.npy`` header says: the array's shape and dtype, and the bytes of data that follow."""

    shape: tuple[int, ...]
    dtype: np.dtype
    available: int  # bytes of data in the file after the header

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.count * self.dtype.itemsize


def read_header(stream: IO[bytes], source: str, available: int) -> ArrayHeader:
    """Parse the ``.npy`` header at the start of ``stream``, ``available`` bytes long in all;
    DataError (naming ``source``) for no header, a non-numeric dtype, or less data than the
    shape needs."""
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"format version {version[0]}.{version[1]}; save it with numpy.save")
    except (ValueError, EOFError, OSError, SyntaxError) as exc:
        raise DataError(f"{source}: cannot read as .npy ({_first_line(exc)}); save it with numpy.save") from None
    if dtype.kind not in NUMERIC_KINDS:
        held = _KIND_NAMES.get(dtype.kind, "other values")
        raise DataError(f"{source}: holds {held}; dtype {dtype} is not numeric: save a numeric array "
                        "(e.g. float32 or uint8)")
    header = ArrayHeader(tuple(int(d) for d in shape), dtype, available - stream.tell())
    if header.nbytes > header.available:
        raise DataError(f"{source}: cannot read as .npy: its header describes a {_shape_text(header.shape)} "
                        f"{dtype} array ({header.nbytes} bytes) but only {header.available} bytes follow "
                        "(a corrupt or truncated file); save it again with numpy.save")
    return header


def npy_header(path: str | Path) -> ArrayHeader:
    """The header of the ``.npy`` file ``path`` (a regular file), checked as :func:`read_header` does."""
    path = regular_file(path, "array file")
    with open(path, "rb") as stream:
        return read_header(stream, str(path), path.stat().st_size)


def npz_header(archive: zipfile.ZipFile, key: str, source: str) -> ArrayHeader:
    """The header of array ``key`` of an opened ``.npz`` archive (its member ``key.npy``)."""
    names = archive.namelist()
    info = archive.getinfo(f"{key}.npy" if f"{key}.npy" in names else key)
    with archive.open(info) as stream:
        return read_header(stream, f"{source} (array '{key}')", info.file_size)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape) or "scalar"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
