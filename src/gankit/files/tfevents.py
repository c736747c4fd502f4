"""TensorBoard event files written directly: scalars, PNG images and text, no TensorFlow,
no ``tensorboard`` or protobuf package (they are needed only to *view* the logs).

An event file is a sequence of records, each ``uint64 length``, ``uint32 masked
CRC32C(length)``, the payload, ``uint32 masked CRC32C(payload)`` (little-endian; masking:
``((crc >> 15) | (crc << 17)) + 0xa282ead8`` mod 2³²). Each payload is one ``Event``
protocol-buffer message, encoded here by hand with the few fields TensorBoard reads:

    Event        wall_time=1 (double), step=2 (int64), file_version=3 (string),
                 summary=5 (Summary), session_log=7 (SessionLog)
    Summary      value=1 (repeated Value)
    Value        tag=1 (string), simple_value=2 (float), image=4 (Image),
                 tensor=8 (TensorProto), metadata=9 (SummaryMetadata)
    Image        height=1, width=2, colorspace=3 (int32), encoded_image_string=4 (bytes)
    SessionLog   status=1 (enum; START = 1)

as ``torch.utils.tensorboard`` writes them (scalars as ``simple_value``; text as a string
tensor under ``TAG/text_summary`` with the ``text`` plugin's metadata). A ``SessionLog``
START at step s makes TensorBoard drop the events of steps >= s written before it: a resumed
run purges the epochs it replays. `tests/test_tensorboard.py` reads the files back with
TensorBoard's own ``EventAccumulator``.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Sequence
from pathlib import Path

from gankit.files import owner
from gankit.files.oserrors import file_mode

_CRC_TABLE = []
for _byte in range(256):
    _crc = _byte
    for _ in range(8):
        _crc = (_crc >> 1) ^ 0x82F63B78 if _crc & 1 else _crc >> 1  # CRC-32C (Castagnoli), reflected
    _CRC_TABLE.append(_crc)


def crc32c(data: bytes) -> int:
    """CRC-32C of `data` (check value: crc32c(b"123456789") == 0xE3069283)."""
    crc, table = 0xFFFFFFFF, _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(payload: bytes) -> bytes:
    """One TFRecord: length, its masked CRC, the payload, its masked CRC."""
    length = struct.pack("<Q", len(payload))
    return length + struct.pack("<I", masked_crc(length)) + payload + struct.pack("<I", masked_crc(payload))


# ------------------------------------------------------------------ protocol-buffer wire format
def _varint(value: int) -> bytes:
    if value < 0:
        value &= (1 << 64) - 1  # int64 two's complement, as protobuf encodes negative varints
    out = bytearray()
    while True:
        bits, value = value & 0x7F, value >> 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _int(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(int(value))


def _bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _key(field, 2) + _varint(len(data)) + data


def _double(field: int, value: float) -> bytes:
    return _key(field, 1) + struct.pack("<d", value)


def _float(field: int, value: float) -> bytes:
    return _key(field, 5) + struct.pack("<f", value)


def event(step: int, *, summary_values: Sequence[bytes] = (), file_version: str = "",
          session_start: bool = False, wall_time: float | None = None) -> bytes:
    """An encoded ``Event``: `summary_values` are encoded ``Summary.Value`` messages."""
    out = _double(1, time.time() if wall_time is None else wall_time) + _int(2, step)
    if file_version:
        out += _bytes(3, file_version)
    if summary_values:
        out += _bytes(5, b"".join(_bytes(1, value) for value in summary_values))
    if session_start:
        out += _bytes(7, _int(1, 1))  # SessionLog{status: START}
    return out


def scalar_value(tag: str, value: float) -> bytes:
    return _bytes(1, tag) + _float(2, value)


def image_value(tag: str, png: bytes, height: int, width: int, channels: int = 3) -> bytes:
    image = _int(1, height) + _int(2, width) + _int(3, channels) + _bytes(4, png)
    return _bytes(1, tag) + _bytes(4, image)


def text_value(tag: str, text: str) -> bytes:
    shape = _bytes(2, _int(1, 1))  # TensorShapeProto{dim: [{size: 1}]}
    tensor = _int(1, 7) + _bytes(2, shape) + _bytes(8, text.encode())  # dtype DT_STRING = 7
    metadata = _bytes(1, _bytes(1, "text"))  # SummaryMetadata{plugin_data{plugin_name: "text"}}
    return _bytes(1, f"{tag}/text_summary") + _bytes(8, tensor) + _bytes(9, metadata)


class EventFileWriter:
    """Appends events to one new file in `log_dir` (created on the first write), flushed on
    `flush`/`close`. With `purge_step`, the file starts with a SessionLog START at that step."""

    def __init__(self, log_dir: str | Path, purge_step: int | None = None):
        self.log_dir = Path(log_dir)
        self.purge_step = purge_step
        self._file = None

    def _open(self):
        if self._file is None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            name = f"events.out.tfevents.{time.time():.6f}.{socket.gethostname()}.{os.getpid()}.0"
            path = self.log_dir / name  # a new file (never through a link), recorded as the run's
            self._file = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | owner.O_NOFOLLOW,
                                           file_mode()), "ab")
            owner.record(path)
            self._file.write(record(event(0, file_version="brain.Event:2")))
            if self.purge_step is not None:
                self._file.write(record(event(self.purge_step, session_start=True)))
        return self._file

    def add(self, step: int, *values: bytes) -> None:
        self._open().write(record(event(step, summary_values=values)))

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
