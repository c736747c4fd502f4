"""The IDX reader: round trips (raw and gzip) and a clear DataError for every kind of bad file."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from gankit.data.idx import read_idx
from gankit.errors import DataError

CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
         np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}


def idx_bytes(array: np.ndarray, *, code: int | None = None, rank: int | None = None) -> bytes:
    """An IDX file for `array`, optionally with a forged type code or rank."""
    code = CODES[array.dtype] if code is None else code
    rank = array.ndim if rank is None else rank
    header = bytes([0, 0, code, rank]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip_every_dtype(tmp_path, dtype):
    array = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype)
    if dtype is np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "values-idx3-ubyte"
    path.write_bytes(idx_bytes(array))
    loaded = read_idx(path)
    assert loaded.dtype == np.dtype(dtype) and loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, array)


def test_gzip_is_recognised_by_content_not_name(tmp_path):
    array = np.arange(60, dtype=np.uint8).reshape(5, 3, 4)
    named_gz, unnamed = tmp_path / "images-idx3-ubyte.gz", tmp_path / "images-idx3-ubyte"
    named_gz.write_bytes(gzip.compress(idx_bytes(array)))
    unnamed.write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(named_gz), array)
    np.testing.assert_array_equal(read_idx(unnamed), array)


def test_labels_file_1d(tmp_path):
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(idx_bytes(labels))
    np.testing.assert_array_equal(read_idx(path, ndim=1), labels)


def _expect_error(tmp_path, content: bytes, *fragments: str, ndim: int | None = None) -> str:
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        read_idx(path, ndim=ndim)
    message = str(caught.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_bad_magic(tmp_path):
    _expect_error(tmp_path, b"\x89PNG" + bytes(100), "bad magic number", "0x89504e47")


def test_unknown_dtype_code(tmp_path):
    array = np.zeros((2, 2, 2), np.uint8)
    _expect_error(tmp_path, idx_bytes(array, code=0x07), "unknown IDX data type code 0x07")


def test_truncated_payload_names_expected_and_found(tmp_path):
    array = np.zeros((10, 28, 28), np.uint8)
    content = idx_bytes(array)[: 16 + 1234]
    _expect_error(tmp_path, content, "expected 7840 bytes", "10×28×28", "found 1234", "truncated")


def test_truncated_gzip(tmp_path):
    compressed = gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8).reshape(10, 10, 10)))
    _expect_error(tmp_path, compressed[: len(compressed) // 2], "gzip", "truncated")


def test_extra_bytes(tmp_path):
    content = idx_bytes(np.zeros((2, 3, 3), np.uint8)) + b"\x00\x01\x02"
    _expect_error(tmp_path, content, "expected 18 bytes", "found 21", "3 extra")


def test_rank_mismatch_suggests_swapped_files(tmp_path):
    labels = np.zeros(7, np.uint8)
    _expect_error(tmp_path, idx_bytes(labels), "1-D array, expected 3-D", "swapped", ndim=3)


def test_header_shorter_than_declared_rank(tmp_path):
    _expect_error(tmp_path, bytes([0, 0, 8, 3]) + b"\x00\x00", "header needs 16 bytes", "truncated")


def test_empty_file(tmp_path):
    _expect_error(tmp_path, b"", "only 0 bytes")


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "nope-idx3-ubyte")
