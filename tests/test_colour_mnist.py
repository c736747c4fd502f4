"""Colour MNIST: MNIST digits painted in class colours at 32×32 RGB, built the same way every time."""

from __future__ import annotations

import colorsys
import struct

import numpy as np
import pytest
import torch

from gankit.config import load_config
from gankit.data import load_dataset
from gankit.data.colour_mnist import hsv_to_rgb, load_colour_mnist
from gankit.data.mnist import load_mnist


@pytest.fixture(scope="module")
def colour():
    return load_colour_mnist()


def test_shape_range_labels_and_names(colour):
    digits = load_mnist()
    assert colour.name == "colour-mnist" and colour.kind == "images"
    assert colour.tensor.shape == (5000, 3, 32, 32) and colour.tensor.dtype == torch.float32
    assert colour.tensor.min() >= -1 and colour.tensor.max() <= 1
    assert torch.equal(colour.labels, digits.labels)
    assert colour.class_names == [str(digit) for digit in range(10)]


def test_the_digit_is_padded_not_resampled(colour):
    """Where the MNIST digit is pure background, the colour image is its background colour, and
    the 2-pixel frame is background everywhere."""
    digits = load_mnist()
    image, digit = colour.tensor[0], digits.tensor[0, 0]
    corner = image[:, 0, 0]
    assert torch.allclose(image[:, :2, :], corner[:, None, None].expand(3, 2, 32), atol=1e-6)
    assert torch.allclose(image[:, 2:30, 2:30][:, digit == -1], corner[:, None], atol=1e-6)
    stroke = image[:, 2:30, 2:30][:, digit == 1]
    assert stroke.shape[1] > 0 and torch.allclose(stroke, stroke[:, :1], atol=1e-6)


def test_same_seed_same_images_other_seed_other_colours(colour):
    again = load_colour_mnist(seed=0)
    assert torch.equal(colour.tensor, again.tensor)
    other = load_colour_mnist(seed=1)
    assert not torch.equal(colour.tensor, other.tensor)
    assert torch.equal(colour.labels, other.labels)


def test_colours_differ_by_class(colour):
    """Every class's mean stroke and background colours are far from every other class's, and
    far from grey."""
    digits = load_mnist()
    share = torch.nn.functional.pad((digits.tensor + 1) / 2, (2,) * 4)
    strokes, backgrounds = [], []
    for label in range(10):
        members = colour.labels == label
        images, masks = colour.tensor[members], share[members]
        strokes.append((images * (masks > 0.99)).sum((0, 2, 3)) / (masks > 0.99).sum())
        backgrounds.append(images[:, :, 0, 0].mean(0))
    for means in (torch.stack(strokes), torch.stack(backgrounds)):
        distances = torch.cdist(means, means) + torch.eye(10) * 10
        assert distances.min() > 0.15
        assert (means.max(1).values - means.min(1).values).min() > 0.1  # not grey


def test_hsv_to_rgb_matches_colorsys():
    hue = torch.tensor([0.0, 36.0, 200.0, 359.0, 770.0, -30.0], dtype=torch.float64)
    saturation = torch.tensor([0.85, 0.5, 0.3, 1.0, 0.2, 0.6], dtype=torch.float64)
    value = torch.tensor([1.0, 0.3, 0.5, 0.7, 0.9, 0.4], dtype=torch.float64)
    expected = [colorsys.hsv_to_rgb((h % 360) / 360, s, v)
                for h, s, v in zip(hue.tolist(), saturation.tolist(), value.tolist())]
    assert torch.allclose(hsv_to_rgb(hue, saturation, value), torch.tensor(expected, dtype=torch.float64))


def _idx(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def test_idx_folder_split_and_config(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 12), ("t10k", 7)):
        (tmp_path / f"{prefix}-images-idx3-ubyte").write_bytes(_idx(rng.integers(0, 256, (count, 28, 28),
                                                                                  dtype=np.uint8)))
        (tmp_path / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx(np.arange(count, dtype=np.uint8) % 10))
    config = load_config(None, ["data.name=colour-mnist", f"data.path={tmp_path}", "data.split=test",
                                "data.seed=3", "augment.policy=color"])
    dataset = load_dataset(config.data)
    assert dataset.tensor.shape == (7, 3, 32, 32)
    assert dataset.labels.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert torch.equal(dataset.tensor, load_colour_mnist(str(tmp_path), split="test", seed=3).tensor)
