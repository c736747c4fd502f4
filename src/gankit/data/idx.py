"""Reader for the IDX format of the MNIST files (LeCun et al.), gzipped or raw.

An IDX file is a 4-byte magic number ``0x00 0x00 <dtype code> <ndim>``, then
``ndim`` big-endian uint32 dimension sizes, then the values in C order, big-endian.
Every file is checked completely — magic, dtype code, header length and the exact
payload length — because a half-downloaded or mislabelled MNIST file otherwise
turns into silently wrong training data or an obscure reshape traceback. Problems
are raised as `DataError` naming the file and what is wrong.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from gankit.errors import DataError
from gankit.files.reading import read_bytes

GZIP_MAGIC = b"\x1f\x8b"

# IDX dtype code -> (numpy dtype, big-endian, as it is stored; name used in messages)
IDX_DTYPES: dict[int, tuple[str, str]] = {
    0x08: (">u1", "unsigned byte"),
    0x09: (">i1", "signed byte"),
    0x0B: (">i2", "short"),
    0x0C: (">i4", "int"),
    0x0D: (">f4", "float"),
    0x0E: (">f8", "double"),
}


def read_idx(path: str | Path, *, ndim: int | None = None) -> np.ndarray:
    """The array stored in the IDX file at `path` (native byte order).

    Gzip compression is recognised by its magic bytes, whatever the file name.
    With `ndim`, an array of another rank is rejected (images are 3-D, labels 1-D),
    which catches an images file and a labels file swapped by name.
    """
    path = Path(path)
    content = _read_bytes(path)
    if len(content) < 4:
        raise DataError(
            f"{path}: only {len(content)} bytes, too short for an IDX header; "
            "the file is empty or truncated — download it again"
        )
    if content[0] != 0 or content[1] != 0:
        raise DataError(
            f"{path}: bad magic number 0x{content[:4].hex()} (an IDX file starts with "
            "0x0000, then a type code and the number of dimensions); is this an IDX file?"
        )
    code, rank = content[2], content[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{known_code:02X}" for known_code in IDX_DTYPES)
        raise DataError(
            f"{path}: unknown IDX data type code 0x{code:02X} (known: {known}); "
            "the file is corrupt or not an IDX file"
        )
    if rank == 0:
        raise DataError(f"{path}: the IDX header declares 0 dimensions; the file is corrupt")
    if ndim is not None and rank != ndim:
        raise DataError(
            f"{path}: holds a {rank}-D array, expected {ndim}-D "
            f"({'images are N×rows×cols' if ndim == 3 else 'labels are one value per image'}); "
            "are the images and labels files swapped?"
        )
    header_length = 4 + 4 * rank
    if len(content) < header_length:
        raise DataError(
            f"{path}: the header needs {header_length} bytes for {rank} dimensions, "
            f"the file has {len(content)}; it is truncated"
        )
    shape = tuple(int(size) for size in np.frombuffer(content, dtype=">u4", count=rank, offset=4))
    dtype_code, dtype_name = IDX_DTYPES[code]
    itemsize = np.dtype(dtype_code).itemsize
    expected = math.prod(shape) * itemsize
    found = len(content) - header_length
    shape_text = "×".join(str(size) for size in shape)
    if found < expected:
        raise DataError(
            f"{path}: expected {expected} bytes of {dtype_name} values for {shape_text}, "
            f"found {found} — truncated? Download the file again"
        )
    if found > expected:
        raise DataError(
            f"{path}: expected {expected} bytes of {dtype_name} values for {shape_text}, "
            f"found {found} ({found - expected} extra) — wrong header or a corrupt file"
        )
    values = np.frombuffer(content, dtype=dtype_code, offset=header_length).reshape(shape)
    return values.astype(values.dtype.newbyteorder("="))


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when they are gzip."""
    if not path.exists():
        raise DataError(f"{path}: not found; check the path")
    content = read_bytes(path, "IDX file")
    if not content.startswith(GZIP_MAGIC):
        return content
    try:
        return gzip.decompress(content)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(
            f"{path}: the gzip data is corrupt or truncated ({error}); download the file again"
        ) from None
