"""The hand-written TensorBoard event files, read back by TensorBoard's own reader (the oracle)."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from gankit.files import tfevents

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def _read(folder):
    accumulator = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0,
                                                                                  "tensors": 0})
    accumulator.Reload()
    return accumulator


def test_crc32c_check_value_and_record_framing():
    assert tfevents.crc32c(b"123456789") == 0xE3069283  # the CRC-32C catalogue's check value
    assert tfevents.crc32c(b"") == 0
    framed = tfevents.record(b"abc")
    assert struct.unpack("<Q", framed[:8])[0] == 3 and framed[12:15] == b"abc" and len(framed) == 19
    assert struct.unpack("<I", framed[15:])[0] == tfevents.masked_crc(b"abc")


def test_scalars_images_and_text_read_back(tmp_path):
    writer = tfevents.EventFileWriter(tmp_path)
    for step in (1, 2, 3):
        writer.add(step, tfevents.scalar_value("loss/g", 0.5 * step), tfevents.scalar_value("big", 1e30),
                   tfevents.scalar_value("negative", -2.25))
    picture = io.BytesIO()
    Image.new("RGB", (7, 5), (200, 10, 10)).save(picture, format="PNG")
    writer.add(3, tfevents.image_value("samples", picture.getvalue(), 5, 7))
    writer.add(0, tfevents.text_value("config", "epochs = 3\nname = \"ü\""))
    writer.close()
    events = _read(tmp_path)
    assert [(e.step, e.value) for e in events.Scalars("loss/g")] == [(1, 0.5), (2, 1.0), (3, 1.5)]
    assert events.Scalars("negative")[0].value == -2.25
    assert events.Scalars("big")[0].value == pytest.approx(1e30, rel=1e-7)
    image = events.Images("samples")[0]
    assert (image.step, image.width, image.height) == (3, 7, 5)
    assert Image.open(io.BytesIO(image.encoded_image_string)).getpixel((0, 0)) == (200, 10, 10)
    text = events.Tensors("config/text_summary")[0]
    assert text.tensor_proto.string_val[0].decode() == "epochs = 3\nname = \"ü\""


def test_purge_step_drops_the_replayed_steps_of_an_earlier_file(tmp_path):
    first = tfevents.EventFileWriter(tmp_path)
    for step in range(1, 6):
        first.add(step, tfevents.scalar_value("loss", float(step)))
    first.close()
    resumed = tfevents.EventFileWriter(tmp_path, purge_step=4)  # continues from the checkpoint at step 3
    for step in (4, 5):
        resumed.add(step, tfevents.scalar_value("loss", 10.0 * step))
    resumed.close()
    assert [(e.step, e.value) for e in _read(tmp_path).Scalars("loss")] == [(1, 1.0), (2, 2.0), (3, 3.0),
                                                                           (4, 40.0), (5, 50.0)]


def test_no_event_no_file(tmp_path):
    writer = tfevents.EventFileWriter(tmp_path / "tb")
    writer.flush()
    writer.close()
    assert not (tmp_path / "tb").exists()
