"""Every shipped preset trains for one epoch on a tiny subset: shapes, finite losses, pictures written."""

import math

import numpy as np
import pytest
from PIL import Image

import gankit
from gankit.config import load_config, preset_names


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("cats_dogs")
    rng = np.random.default_rng(0)
    for label in ("cats", "dogs"):
        (root / label).mkdir()
        for index in range(40):
            pixels = rng.integers(0, 255, (48, 40, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{index}.png")
    (root / "dogs" / "broken.jpg").write_bytes(b"not an image")
    return root


@pytest.mark.parametrize("name", preset_names())
def test_preset_trains_one_epoch(name, tmp_path, image_folder):
    config = load_config(name, ["data.path=x"] if name.startswith("folder") else [])
    overrides = ["train.epochs=1", "train.sample_every=1", "train.checkpoint_every=1", "eval.every=1",
                 "eval.n=300", "train.progress=false", f"train.batch_size={8 * config.model.pack}"]
    if config.data.name in ("mnist", "folder"):
        overrides.append("data.limit=64")
    else:
        overrides.append("data.n_samples=400")
    if name.startswith("folder"):
        overrides.append(f"data.path={image_folder}")
    run = gankit.train(name, overrides=overrides, out=tmp_path / "run")
    record = run.history[-1]
    for key in ("g_loss", "d_loss_real", "d_loss_fake"):
        assert math.isfinite(record[key]), key
    assert (run.path / "samples" / "epoch_0001.png").exists()
    assert (run.path / "plots" / "losses.png").exists()
    samples = run.sample(16)
    assert samples.shape[1:] == run.dataset.tensor.shape[1:]
    assert bool(samples.isfinite().all())
    if name.startswith("folder"):
        assert samples.shape[1:] == (config.data.channels, config.data.image_size, config.data.image_size)
        skipped = (run.path / "skipped_files.txt").read_text()
        assert "broken.jpg" in skipped
    if config.data.name in ("ring8", "grid25"):
        assert "modes_captured" in run.metrics
    if config.data.name in ("line", "parabola", "spiral"):
        assert "curve_coverage" in run.metrics
