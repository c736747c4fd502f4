"""A colour folder with classes, end to end: its own evaluator, a conditional RGB run of the
colour preset with adaptive augmentation, per-class RGB grids, samples of one class, intra-FID
and class accuracy in that evaluator's space, the report and an ONNX export."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import gankit

COLOURS = {"red": (200, 30, 30), "teal": (20, 160, 150)}


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def colour_folder(tmp_path_factory):
    """Two classes of 8×8 RGB pictures: a coloured blob at a random place on a dark ground."""
    root = tmp_path_factory.mktemp("blobs")
    rng = np.random.default_rng(0)
    for name, colour in COLOURS.items():
        (root / name).mkdir()
        for index in range(48):
            pixels = np.full((8, 8, 3), 20, dtype=np.uint8)
            y, x = rng.integers(0, 5, size=2)
            pixels[y:y + 4, x:x + 4] = colour
            Image.fromarray(pixels).save(root / name / f"{index}.png")
    return root


def test_colour_folder_conditional_run_end_to_end(colour_folder, tmp_path):
    evaluator = tmp_path / "blobs-eval.pt"
    done = _cli("evaluator", "train", "--data", "folder", f"data.path={colour_folder}", "data.channels=3",
                "data.image_size=8", "-o", str(evaluator), "--epochs", "3", "-q")
    assert done.returncode == 0, done.stderr
    run_dir = tmp_path / "run"
    done = _cli("train", "folder-rgb32", "--out", str(run_dir), f"data.path={colour_folder}", "data.image_size=8",
                "model.base_width=8", "model.latent_dim=8", "model.conditional=true", "model.class_dim=4",
                "train.batch_size=16", "train.epochs=2", "train.sample_every=1", "eval.every=2", "eval.n=96",
                "eval.bootstrap=0", f"eval.evaluator={evaluator}", "train.progress=false", "train.tensorboard=false")
    assert done.returncode == 0, done.stderr
    run = gankit.load_run(run_dir)
    assert run.class_names == ["red", "teal"] and run.sample_shape == (3, 8, 8)
    last = run.history[-1]
    assert 0.0 <= last["class_accuracy"] <= 1.0 and len(last["intra_fid_per_class"]) == 2
    assert 0.0 <= last["augment_p"] <= 1.0  # the preset's adaptive augmentation ran
    grid = Image.open(run_dir / "samples" / "epoch_0002.png")
    assert grid.mode == "RGB" and grid.width > grid.height  # one row per class, names on the left
    done = _cli("sample", str(run_dir), "--class", "teal", "-n", "6", "-o", str(tmp_path / "teal"))
    assert done.returncode == 0, done.stderr
    picture = Image.open(tmp_path / "teal" / "0.png")
    assert picture.mode == "RGB" and picture.size == (8, 8)
    done = _cli("report", str(run_dir))
    assert done.returncode == 0, done.stderr
    html = (run_dir / "report.html").read_text()
    assert "<th>teal</th>" in html and "intra-FID ↓" in html  # the per-class table, by name
    onnx = pytest.importorskip("onnxruntime")
    assert _cli("export", str(run_dir), "-o", str(tmp_path / "g.onnx"), "--format", "onnx").returncode == 0
    session = onnx.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    z = np.random.default_rng(1).standard_normal((2, 8)).astype(np.float32)
    out = session.run(None, {"z": z, "labels": np.array([0, 1], dtype=np.int64)})[0]
    assert out.shape == (2, 3, 8, 8) and np.isfinite(out).all()
