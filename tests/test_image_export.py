import numpy as np
import pytest
import torch
from PIL import Image

from gankit.errors import GankitError
from gankit.pictures.grid import to_uint8
from gankit.files import owner
from gankit.sampling.images import export_samples, save_image_folder, save_npz


def _drawer(samples):
    position = 0

    def draw(k):
        nonlocal position
        batch = samples[position:position + k]
        position += k
        return batch
    return draw


def test_image_folder_writes_numbered_L_pngs(tmp_path):
    samples = torch.rand(12, 1, 28, 28) * 2 - 1
    assert save_image_folder(samples, tmp_path / "out") == 12
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == sorted(f"{i}.png" for i in range(12))
    expected = to_uint8(samples)
    for i in range(12):
        with Image.open(tmp_path / "out" / f"{i}.png") as im:
            assert im.mode == "L" and im.size == (28, 28)
            assert np.array_equal(np.asarray(im), expected[i])


def test_image_folder_rgb_and_start_index(tmp_path):
    samples = torch.rand(2, 3, 8, 10) * 2 - 1
    save_image_folder(samples, tmp_path, start_index=5)
    with Image.open(tmp_path / "6.png") as im:
        assert im.mode == "RGB" and im.size == (10, 8)
        assert np.array_equal(np.asarray(im), to_uint8(samples)[1])


def test_npz_round_trip(tmp_path):
    samples = torch.rand(7, 1, 28, 28) * 2 - 1
    path = save_npz(samples, tmp_path / "s.npz")
    with np.load(path) as data:
        assert list(data.keys()) == ["images"]
        assert data["images"].dtype == np.uint8 and data["images"].shape == (7, 28, 28)
        assert np.array_equal(data["images"], to_uint8(samples))
    with pytest.raises(GankitError, match=".npz"):
        save_npz(samples, tmp_path / "s.npy")


def test_export_folder_batched_exact_names(tmp_path):
    samples = torch.rand(25, 1, 28, 28) * 2 - 1
    calls = []

    def draw(k):
        calls.append(k)
        return _draw(k)
    _draw = _drawer(samples)
    out = export_samples(draw, 25, tmp_path / "samples", batch_size=10, progress=False)
    assert calls == [10, 10, 5]
    assert sorted(p.name for p in out.iterdir() if p.suffix != ".png") == [owner.MARKER_NAME]
    assert sorted(int(p.stem) for p in out.glob("*.png")) == list(range(25))
    assert owner.bound_marker(out).entries == {f"{i}.png" for i in range(25)}
    with Image.open(out / "24.png") as im:
        assert im.mode == "L" and im.size == (28, 28)
        assert np.array_equal(np.asarray(im), to_uint8(samples)[24])


def test_export_npz_batched(tmp_path):
    samples = torch.rand(23, 3, 8, 8) * 2 - 1
    out = export_samples(_drawer(samples), 23, tmp_path / "x.npz", batch_size=5, progress=True)
    with np.load(out) as data:
        assert np.array_equal(data["images"], to_uint8(samples))
    assert sorted(p.name for p in tmp_path.iterdir()) == [owner.MARKER_NAME, "x.npz"]  # which files gankit wrote
    assert owner.bound_marker(tmp_path).entries == {"x.npz"}


def test_export_existing_dir_with_dot_and_stale_files(tmp_path):
    folder = tmp_path / "run.v2"
    folder.mkdir()
    export_samples(_drawer(torch.zeros(3, 1, 4, 4)), 3, folder, progress=False)  # existing dir wins over suffix
    assert (folder / "2.png").exists()
    with pytest.raises(GankitError, match="already holds a sample export.*--force"):
        export_samples(_drawer(torch.zeros(2, 1, 4, 4)), 2, folder, progress=False)
    export_samples(_drawer(torch.ones(2, 1, 4, 4)), 2, folder, progress=False, force=True)  # no stale 2.png
    assert sorted(p.name for p in folder.iterdir()) == [owner.MARKER_NAME, "0.png", "1.png"]
    with pytest.raises(GankitError, match="folder"):
        export_samples(_drawer(torch.zeros(2, 1, 4, 4)), 2, tmp_path / "x.csv", progress=False)
    with pytest.raises(GankitError, match="shape"):
        export_samples(lambda k: torch.zeros(k, 16), 2, tmp_path / "y.npz", progress=False)
