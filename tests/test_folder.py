"""Image folders: bad files skipped and listed (never deleted), conversions, quarantine, cache."""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import cache as cache_module
from gankit.data import folder as folder_module
from gankit.data.folder import OUTSIDE_CLASSES_REASON, TRASH_REASON, load_folder, write_skip_list
from gankit.errors import DataError

SIZE = 8
TOLERANCE = 4 / 127.5  # a few gray levels: JPEG and resampling round


def _gray(value: float) -> float:
    return value / 127.5 - 1.0


def _jpeg_bytes(image: Image.Image, path: Path) -> bytes:
    image.save(path, quality=95)
    return path.read_bytes()


def _build(root: Path) -> None:
    """Two classes with good images, every awkward mode, and three bad files."""
    cat, dog = root / "cat", root / "dog"
    cat.mkdir(parents=True)
    dog.mkdir()
    ramp = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (16, 1))
    Image.fromarray(ramp).save(cat / "good_gray.png")
    Image.new("RGB", (24, 24), (10, 200, 30)).save(cat / "good_rgb.jpg", quality=95)
    rgba = np.zeros((16, 16, 4), np.uint8)  # top half transparent black, bottom opaque green
    rgba[8:] = (0, 255, 0, 255)
    Image.fromarray(rgba, "RGBA").save(cat / "rgba.png")
    palette = Image.new("P", (16, 16), 0)  # index 0 blue and transparent, index 1 opaque red
    palette.putpalette([0, 0, 255, 255, 0, 0] + [0] * 762)
    palette.paste(1, (0, 8, 16, 16))
    palette.save(cat / "palette.png", transparency=0)
    Image.fromarray(np.full((12, 12), 65535, np.uint16)).save(cat / "deep16.png")
    Image.fromarray(np.full((12, 12), 128 * 257, np.uint16)).save(cat / "deep16_mid.png")
    Image.new("CMYK", (16, 16), (0, 0, 0, 128)).save(cat / "cmyk.jpg", quality=95)
    (cat / "empty.png").write_bytes(b"")
    (cat / "Thumbs.db").write_bytes(b"\x00junk")

    Image.new("L", (20, 20), 90).save(dog / "good.png")
    big = Image.new("RGB", (3000, 2000), (200, 200, 200))
    big.save(dog / "big.jpg", quality=90)
    full = _jpeg_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)),
                       dog / "truncated.jpg")
    (dog / "truncated.jpg").write_bytes(full[: len(full) // 2])
    (dog / "notes.jpg").write_text("these are my notes, not a picture\n")
    crop = np.zeros((20, 40), np.uint8)  # left and right quarters black, middle white
    crop[:, 10:30] = 255
    Image.fromarray(crop).save(dog / "crop.png")
    Image.new("L", (8, 8), 0).save(dog / ".hidden.png")


BAD = {"cat/empty.png": "empty file", "dog/notes.jpg": "not an image", "dog/truncated.jpg": "truncated"}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("template") / "pets"
    _build(root)
    return root


@pytest.fixture
def pets(template, tmp_path) -> Path:
    root = tmp_path / "pets"
    shutil.copytree(template, root)
    return root


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"


def listing(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes()
            for path in sorted(root.rglob("*")) if path.is_file()}


def rows(dataset, root: Path) -> dict[str, torch.Tensor]:
    """Images by relative path: they come in sorted path order, skipped files left out."""
    kept = sorted(name for name in listing(root)
                  if not name.startswith("Trash/") and "/." not in name and not name.endswith("Thumbs.db")
                  and name not in BAD)
    assert len(kept) == len(dataset)
    return dict(zip(kept, dataset.tensor))


def test_skip_list_is_exact_and_nothing_is_deleted(pets, cache_dir):
    before = listing(pets)
    dataset = load_folder(pets, image_size=SIZE, cache_dir=cache_dir)
    assert [name for name, _ in dataset.skipped] == sorted(BAD)
    for name, reason in dataset.skipped:
        assert reason.startswith(BAD[name]), (name, reason)
    assert dict(dataset.skipped)["cat/empty.png"] == "empty file"
    assert dict(dataset.skipped)["dog/truncated.jpg"] == "truncated"
    assert listing(pets) == before
    assert len(dataset) == 10 and dataset.kind == "images" and dataset.source == str(pets)


@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_range_and_labels(pets, cache_dir, channels):
    dataset = load_folder(pets, channels=channels, image_size=SIZE, cache_dir=cache_dir)
    assert dataset.tensor.shape == (10, channels, SIZE, SIZE) and dataset.tensor.dtype == torch.float32
    assert dataset.tensor.min() >= -1.0 and dataset.tensor.max() <= 1.0
    assert dataset.class_names == ["cat", "dog"]
    by_name = dict(zip(rows(dataset, pets), dataset.labels.tolist()))
    assert dataset.labels.dtype == torch.int64
    assert all(label == (0 if name.startswith("cat/") else 1) for name, label in by_name.items())


def test_conversions_grayscale(pets, cache_dir):
    images = rows(load_folder(pets, channels=1, image_size=SIZE, cache_dir=cache_dir), pets)
    assert torch.all(images["cat/deep16.png"] == 1.0)  # 65535 -> 255 -> +1
    assert torch.allclose(images["cat/deep16_mid.png"], torch.tensor(_gray(128)), atol=1e-6)  # not clipped
    assert torch.allclose(images["cat/cmyk.jpg"], torch.tensor(_gray(127)), atol=TOLERANCE)
    assert torch.allclose(images["dog/big.jpg"], torch.tensor(_gray(200)), atol=TOLERANCE)
    assert torch.all(images["dog/crop.png"] == 1.0)  # the black quarters are cropped away
    assert torch.allclose(images["dog/good.png"], torch.tensor(_gray(90)), atol=1e-6)
    red_luma = round(0.299 * 255)  # transparent top -> white; opaque red bottom -> its luma
    assert torch.allclose(images["cat/palette.png"][0, :2], torch.tensor(1.0), atol=TOLERANCE)
    assert torch.allclose(images["cat/palette.png"][0, -2:], torch.tensor(_gray(red_luma)), atol=TOLERANCE)


def test_conversions_rgb(pets, cache_dir):
    images = rows(load_folder(pets, channels=3, image_size=SIZE, cache_dir=cache_dir), pets)
    white, red, green = torch.ones(3), torch.tensor([1.0, -1.0, -1.0]), torch.tensor([-1.0, 1.0, -1.0])
    for name, bottom in (("cat/palette.png", red), ("cat/rgba.png", green)):
        pixels = images[name]
        assert torch.allclose(pixels[:, :2].reshape(3, -1).T, white, atol=TOLERANCE), name
        assert torch.allclose(pixels[:, -2:].reshape(3, -1).T, bottom, atol=TOLERANCE), name
    assert torch.allclose(images["cat/cmyk.jpg"], torch.tensor(_gray(127)), atol=TOLERANCE)
    assert torch.all(images["cat/deep16.png"] == 1.0)
    good_rgb = images["cat/good_rgb.jpg"].mean(dim=(1, 2))
    assert torch.allclose(good_rgb, torch.tensor([_gray(10), _gray(200), _gray(30)]), atol=TOLERANCE)


def test_quarantine_moves_exactly_the_bad_files(pets, cache_dir):
    before = listing(pets)
    (pets / "Trash" / "dog").mkdir(parents=True)
    (pets / "Trash" / "dog" / "truncated.jpg").write_bytes(b"an earlier one")  # must not be overwritten
    dataset = load_folder(pets, image_size=SIZE, cache_dir=cache_dir, quarantine=True)
    after = listing(pets)
    moved = {"cat/empty.png": "Trash/cat/empty.png", "dog/notes.jpg": "Trash/dog/notes.jpg",
             "dog/truncated.jpg": "Trash/dog/truncated-1.jpg"}
    expected = {name: content for name, content in before.items() if name not in moved}
    expected.update({target: before[source] for source, target in moved.items()})
    expected["Trash/dog/truncated.jpg"] = b"an earlier one"
    assert after == expected
    trash = ("Trash/", TRASH_REASON)  # listed, never read as data
    assert dataset.skipped[0] == trash and [name for name, _ in dataset.skipped[1:]] == sorted(BAD)
    assert all(reason.endswith(f"moved to {moved[name]}") for name, reason in dataset.skipped[1:])
    again = load_folder(pets, image_size=SIZE, cache_dir=cache_dir, use_cache=False)
    assert again.skipped == [trash] and torch.equal(again.tensor, dataset.tensor)


def test_second_load_uses_cache_and_changes_invalidate_it(pets, cache_dir, monkeypatch):
    first = load_folder(pets, channels=3, image_size=SIZE, cache_dir=cache_dir)
    real_decode, calls = folder_module.decode_image, []

    def counting_decode(*args, **kwargs):
        calls.append(args[0])
        return real_decode(*args, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError("decoded although the cache is valid")

    monkeypatch.setattr(folder_module, "decode_image", refuse)
    second = load_folder(pets, channels=3, image_size=SIZE, cache_dir=cache_dir)
    assert torch.equal(second.tensor, first.tensor) and torch.equal(second.labels, first.labels)
    assert second.skipped == first.skipped

    monkeypatch.setattr(folder_module, "decode_image", counting_decode)
    load_folder(pets, channels=1, image_size=SIZE, cache_dir=cache_dir)  # other settings: other entry
    assert len(calls) == 13
    calls.clear()
    stat = (pets / "dog" / "good.png").stat()
    os.utime(pets / "dog" / "good.png", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    load_folder(pets, channels=3, image_size=SIZE, cache_dir=cache_dir)
    assert len(calls) == 13
    calls.clear()
    Image.new("L", (8, 8), 0).save(pets / "dog" / "added.png")
    assert len(load_folder(pets, channels=3, image_size=SIZE, cache_dir=cache_dir)) == 11
    assert len(calls) == 14


def test_quarantine_from_a_cached_decode_and_no_decode_afterwards(pets, cache_dir, monkeypatch):
    load_folder(pets, image_size=SIZE, cache_dir=cache_dir)
    monkeypatch.setattr(folder_module, "decode_image", lambda *a, **k: pytest.fail("decoded again"))
    quarantined = load_folder(pets, image_size=SIZE, cache_dir=cache_dir, quarantine=True)
    assert sorted((pets / "Trash").rglob("*.*")) == [pets / "Trash" / name for name in sorted(BAD)]
    cleaned = load_folder(pets, image_size=SIZE, cache_dir=cache_dir)
    assert cleaned.skipped == [("Trash/", TRASH_REASON)] and torch.equal(cleaned.tensor, quarantined.tensor)


def test_corrupt_cache_is_rebuilt(pets, cache_dir):
    first = load_folder(pets, image_size=SIZE, cache_dir=cache_dir)
    entries = list(cache_dir.glob("*.pt"))
    assert len(entries) == 1
    entries[0].write_bytes(entries[0].read_bytes()[:100])
    second = load_folder(pets, image_size=SIZE, cache_dir=cache_dir)
    assert torch.equal(second.tensor, first.tensor) and second.skipped == first.skipped
    assert cache_module.load_cached(cache_dir, entries[0].stem) is not None  # rewritten


def test_default_cache_dir_honours_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("GANKIT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_module.default_cache_dir() == tmp_path / "xdg" / "gankit" / "folders"
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_module.default_cache_dir() == tmp_path / "mine" / "folders"


def test_write_skip_list(pets, cache_dir, tmp_path):
    dataset = load_folder(pets, image_size=SIZE, cache_dir=cache_dir)
    assert write_skip_list(dataset, tmp_path / "run") == 3
    lines = (tmp_path / "run" / "skipped_files.txt").read_text().splitlines()
    assert all(line.startswith("#") for line in lines[:2])
    assert [line.split("\t")[0] for line in lines[2:]] == sorted(BAD)
    assert lines[2] == "cat/empty.png\tempty file"


def test_files_next_to_class_folders_are_listed_not_used_nor_moved(pets, cache_dir):
    (pets / "README.txt").write_text("about this data")
    dataset = load_folder(pets, image_size=SIZE, cache_dir=cache_dir, quarantine=True)
    assert ("README.txt", OUTSIDE_CLASSES_REASON) in dataset.skipped
    assert (pets / "README.txt").exists() and len(dataset.skipped) == 4


def test_flat_folder_has_no_labels(tmp_path, cache_dir):
    flat = tmp_path / "flat"
    flat.mkdir()
    for value in (0, 128, 255):
        Image.new("L", (10, 10), value).save(flat / f"{value}.png")
    (flat / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (flat / "bomb.png").write_bytes(_png_header_only(20000, 20000))  # 400 Mpixel: refused unread
    (flat / "Trash").mkdir()  # quarantine's folder is not a class
    dataset = load_folder(flat, image_size=4, cache_dir=cache_dir, quarantine=True)
    assert dataset.labels is None and dataset.class_names is None
    assert [round(value) for value in dataset.tensor.mean(dim=(1, 2, 3)).tolist()] == [-1, 0, 1]
    assert [name for name, _ in dataset.skipped] == ["Trash/", "bomb.png", "broken.png"]
    assert dataset.skipped[1][1].startswith("too large")
    assert (flat / "Trash" / "broken.png").exists() and not (flat / "broken.png").exists()


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 10))
            + chunk(b"IEND", b""))


def test_bad_folders_raise_data_errors(tmp_path, cache_dir):
    with pytest.raises(DataError, match="not found"):
        load_folder(tmp_path / "absent", cache_dir=cache_dir)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files found"):
        load_folder(tmp_path / "empty", cache_dir=cache_dir)
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.jpg").write_text("not a picture")
    with pytest.raises(DataError, match="none of the 1 files could be decoded"):
        load_folder(tmp_path / "text", cache_dir=cache_dir, quarantine=True)
    assert (tmp_path / "text" / "a.jpg").exists()
    with pytest.raises(DataError, match="use 1 .grayscale. or 3 .RGB."):
        load_folder(tmp_path / "text", channels=2, cache_dir=cache_dir)


@pytest.mark.parametrize("quarantine", [False, True])
def test_training_on_the_awkward_folder(pets, tmp_path, monkeypatch, quarantine):
    """The whole path: train a preset on the folder; the run lists exactly the bad files."""
    import gankit

    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))
    before = listing(pets)
    run = gankit.train("folder-dcgan32", out=tmp_path / "run", overrides=[
        f"data.path={pets}", f"data.quarantine={str(quarantine).lower()}", "train.epochs=1",
        "train.batch_size=8", "model.base_width=8", "train.progress=false"])
    listed = [line.split("\t")[0] for line in (run.path / "skipped_files.txt").read_text().splitlines()
              if line and not line.startswith("#")]
    assert listed == sorted(BAD)
    assert (run.path / "samples" / "epoch_0001.png").exists()
    after = listing(pets)
    if quarantine:
        assert sorted(name for name in after if name.startswith("Trash/")) == sorted(f"Trash/{n}" for n in BAD)
        assert {n: b for n, b in after.items() if not n.startswith("Trash/")} == \
            {n: b for n, b in before.items() if n not in BAD}
    else:
        assert after == before
