import numpy as np
import pytest
import torch
from PIL import Image

from gankit.errors import GankitError
from gankit.pictures.grid import image_grid, save_grid, to_uint8


def test_to_uint8_maps_minus_one_to_one_affinely():
    x = torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0]).reshape(5, 1, 1, 1)
    assert to_uint8(x).ravel().tolist() == [0, 64, 128, 191, 255]


def test_negative_values_are_not_black():
    # the course template clamped to [0, 1] before scaling: -0.5 became 0
    assert to_uint8(torch.full((1, 1, 2, 2), -0.5)).max() == 64


def test_to_uint8_clamps_after_map_and_handles_nan():
    x = torch.tensor([-3.0, 2.0, float("nan")]).reshape(3, 1, 1, 1)
    assert to_uint8(x).ravel().tolist() == [0, 255, 0]


def test_to_uint8_shapes():
    assert to_uint8(torch.zeros(4, 1, 28, 28)).shape == (4, 28, 28)
    rgb = torch.zeros(4, 3, 8, 6)
    rgb[:, 0] = 1.0
    out = to_uint8(rgb)
    assert out.shape == (4, 8, 6, 3) and out.dtype == np.uint8
    assert (out[..., 0] == 255).all() and (out[..., 1] == 128).all()
    with pytest.raises(GankitError):
        to_uint8(torch.zeros(2, 2, 4, 4))


def test_grid_places_image_k_at_row_k_div_10_col_k_mod_10():
    n, size, pad = 100, 5, 2
    values = torch.linspace(-1, 1, n)
    images = values.reshape(n, 1, 1, 1).expand(n, 1, size, size)
    grid = image_grid(images, nrow=10, padding=pad, pad_value=7)
    assert grid.shape == (10 * (size + pad) + pad,) * 2
    expected = to_uint8(values.reshape(n, 1, 1, 1)).ravel()
    for k in range(n):
        top, left = pad + (k // 10) * (size + pad), pad + (k % 10) * (size + pad)
        assert (grid[top:top + size, left:left + size] == expected[k]).all()
    assert (grid[:pad] == 7).all() and (grid[:, :pad] == 7).all()
    assert (grid[pad + size:2 * pad + size] == 7).all()  # separator between rows 0 and 1


def test_grid_partial_last_row_and_rgb():
    grid = image_grid(torch.ones(13, 3, 4, 4), nrow=5, padding=1)
    assert grid.shape == (3 * 5 + 1, 5 * 5 + 1, 3)
    assert (grid[11:15, 16:20] == 128).all()  # empty cell (row 2, col 3) keeps the separator grey
    assert (grid[11:15, 6:10] == 255).all()   # image 11


def test_save_grid_upscales_to_readable_width(tmp_path):
    path = save_grid(torch.rand(100, 1, 28, 28) * 2 - 1, tmp_path / "samples" / "epoch_0005.png")
    assert path == tmp_path / "samples" / "epoch_0005.png"
    with Image.open(path) as im:
        assert im.mode == "L" and im.width >= 600 and im.width == 2 * (10 * 30 + 2)
        assert im.size[0] == im.size[1]
    assert not list(path.parent.glob(".*tmp*"))


def test_save_grid_nearest_upscale_is_exact(tmp_path):
    images = torch.rand(4, 1, 3, 3) * 2 - 1
    path = save_grid(images, tmp_path / "g.png", nrow=2, upscale=3)
    with Image.open(path) as im:
        pixels = np.asarray(im)
    grid = image_grid(images, nrow=2)
    assert np.array_equal(pixels, grid.repeat(3, axis=0).repeat(3, axis=1))


def test_save_grid_title_adds_band(tmp_path):
    path = save_grid(torch.zeros(4, 3, 28, 28), tmp_path / "t.png", nrow=2, upscale=1, title="epoch 5")
    with Image.open(path) as im:
        assert im.mode == "RGB" and im.width == 2 * 30 + 2 and im.height > im.width
