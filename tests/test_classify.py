"""The workbench end to end: the grid and its files, shared epoch budgets, fresh models per
fold, a best.pt as the GAN evaluator, and the command line on a folder with a bad file."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import gankit.classify.crossval as crossval
from gankit.classify import LabelledImages, cross_validate
from gankit.classify.models import build_model
from gankit.config import coerce_config
from gankit.errors import ConfigError, GankitError
from gankit.evaluation import load_extractor, score_image_sets


def toy_images(classes=3, per_class=30, side=8, seed=0):
    """Each class is a bright square in its own corner over noise: learnable in a few epochs."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(classes * per_class, 1, side, side, generator=generator) * 0.6 - 1
    labels = torch.arange(classes).repeat_interleave(per_class)
    corners = [(0, 0), (0, side // 2), (side // 2, 0), (side // 2, side // 2)]
    for index, label in enumerate(labels.tolist()):
        row, col = corners[label]
        images[index, :, row:row + side // 2, col:col + side // 2] += 1.2
    return LabelledImages(images.clamp(-1, 1), labels, [f"c{i}" for i in range(classes)], name="toy")


def test_grid_is_complete_in_every_table_and_folder(tmp_path):
    out = tmp_path / "grid"
    result = cross_validate(toy_images(), out, models=["perceptron", "cnn"], folds=2, epochs=[1, 2],
                            batch_sizes=[16, 32], progress=False)
    expected = {(m, e, b) for m in ("perceptron", "cnn") for e in (1, 2) for b in (16, 32)}
    assert {(c.model, c.epochs, c.batch_size) for c in result.cells} == expected
    assert all(len(c.folds) == 2 and 0 <= c.mean <= 1 for c in result.cells)
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert {(r["model"], int(r["epochs"]), int(r["batch_size"])) for r in rows} == expected
    assert len(list(csv.DictReader((out / "folds.csv").open()))) == 8 * 2
    markdown = (out / "results.md").read_text()
    assert "| epochs, batch | perceptron | cnn |" in markdown
    for epochs, batch in ((1, 16), (1, 32), (2, 16), (2, 32)):
        grid_row = next(line for line in markdown.splitlines() if line.startswith(f"| {epochs}E, {batch}B |"))
        assert grid_row.count("±") == 2 and "—" not in grid_row
    page = (out / "results.html").read_text()
    for cell in result.cells:
        assert f"| {cell.name} | {cell.mean:.4f} ± {cell.std:.4f} |" in markdown
        assert cell.name in page and f"{cell.mean:.4f} ± {cell.std:.4f}" in page
        assert (out / cell.name / "curves.png").stat().st_size > 10_000
        for k, fold in enumerate(cell.folds, 1):
            folder = out / cell.name / f"fold_{k}"
            assert (folder / "best.pt").exists() and (folder / "curves.png").exists()
            history = [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines()]
            assert len(history) == fold.epochs_run == cell.epochs
            assert max(r["val_accuracy"] for r in history) == fold.val_accuracy
    config = json.loads((out / "config.json").read_text())
    assert config["folds"] == [{"fold": k, "train": 45, "validation": 45} for k in (1, 2)]
    cnn = result.cell("cnn", 2, 16)
    assert cnn.mean > 0.6  # the corners are easy
    with pytest.raises(GankitError, match="already holds"):
        cross_validate(toy_images(), out, models=["perceptron"], folds=3, epochs=[1], batch_sizes=[16],
                       progress=False)


def test_a_short_budget_is_the_prefix_of_the_long_run(tmp_path):
    settings = dict(models=["perceptron"], folds=3, batch_sizes=[8], progress=False, checkpoints=False)
    both = cross_validate(toy_images(), tmp_path / "both", epochs=[2, 4], **settings)
    short = cross_validate(toy_images(), tmp_path / "short", epochs=[2], **settings)
    long = cross_validate(toy_images(), tmp_path / "long", epochs=[4], **settings)
    pairs = ((short.cells[0], both.cell("perceptron", 2, 8)), (long.cells[0], both.cell("perceptron", 4, 8)))
    for alone, shared in pairs:
        for a, b in zip(alone.folds, shared.folds):
            assert [r["val_loss"] for r in a.history] == [r["val_loss"] for r in b.history]
            assert a.val_accuracy == b.val_accuracy and a.best_epoch == b.best_epoch


def test_every_fold_starts_from_a_fresh_model(tmp_path, monkeypatch):
    starts = []
    real_fit = crossval.fit_fold

    def spy(model, *args, **kwargs):
        starts.append((id(model), torch.cat([p.detach().flatten() for p in model.parameters()]).clone()))
        return real_fit(model, *args, **kwargs)

    monkeypatch.setattr(crossval, "fit_fold", spy)
    cross_validate(toy_images(), tmp_path / "o", models=["perceptron"], folds=3, epochs=[2], batch_sizes=[8, 16],
                   progress=False, checkpoints=False)
    assert len(starts) == 6 and len({key for key, _ in starts}) == 6
    for k in range(3):  # fold k of both batch sizes starts from the same seeded initialisation ...
        assert torch.equal(starts[k][1], starts[3 + k][1])
    assert not torch.equal(starts[0][1], starts[1][1])  # ... and folds differ from each other
    torch.manual_seed(0 * 1000 + 1)
    assert torch.equal(starts[0][1], torch.cat([p.flatten() for p in build_model("perceptron", 1, 8, 3).parameters()]))


def test_a_best_checkpoint_is_a_gan_evaluator(tmp_path):
    labelled = toy_images(classes=2, per_class=20)
    cross_validate(labelled, tmp_path / "o", models=["cnn"], folds=2, epochs=[2], batch_sizes=[8], progress=False)
    best = tmp_path / "o" / "cnn_e2_b8" / "fold_1" / "best.pt"
    config = coerce_config({}, [f"eval.features={best}", "eval.n=40", "eval.bootstrap=0"])
    extractor = load_extractor(config.eval, "folder")
    assert extractor.class_names == ["c0", "c1"] and extractor.image_size == 8 and extractor.channels == 1
    features, probabilities = extractor.extract(torch.rand(5, 3, 16, 16) * 2 - 1)  # RGB 16 px is adapted
    assert features.shape == (5, 512) and probabilities.shape == (5, 2)  # one sigmoid logit -> 2 classes
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(5))
    via_evaluator = load_extractor(coerce_config({}, [f"eval.evaluator={best}"]).eval, "folder")
    assert torch.equal(via_evaluator.extract(labelled.images[:4])[0], extractor.extract(labelled.images[:4])[0])
    scores = score_image_sets(labelled.images[:20], labelled.images[20:], config.eval, data_name="folder")
    assert scores["features"].startswith("cnn on toy") and scores["fid"] >= 0
    with pytest.raises(ConfigError, match="closest: 'inception'"):
        coerce_config({}, ["eval.features=inceptoin"])


def _png(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((14, 14), value, dtype=np.uint8)
    pixels[::3] = 255 - value
    Image.fromarray(pixels).save(path)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "gankit", "classify", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def test_cli_on_a_folder_with_a_broken_file(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "pets"
    for index in range(6):
        _png(data / "cat" / f"{index}.png", 30 + index)
        _png(data / "dog" / f"{index}.png", 200 + index)
    (data / "cat" / "truncated.png").write_bytes(b"\x89PNG\r\n")
    out = tmp_path / "out"
    result = _cli(data, "--models", "perceptron", "--folds", "3", "--epochs", "2", "--batch-sizes", "4",
                  "--image-size", "12", "--quarantine", "--out", out, "-q")
    assert result.returncode == 0, result.stderr
    assert "2E, 4B" in result.stdout and "results:" in result.stdout
    assert "cat/truncated.png" in (out / "skipped_files.txt").read_text()
    assert (data / "Trash" / "cat" / "truncated.png").exists()
    assert "one sigmoid logit, binary cross-entropy" in (out / "results.md").read_text()

    (data / "bird").mkdir()
    for index in range(2):
        _png(data / "bird" / f"{index}.png", 120)
    result = _cli(data, "--models", "perceptron", "--folds", "3", "--epochs", "1", "--out", tmp_path / "o2", "-q")
    assert result.returncode == 1 and "class 'bird' has 2" in result.stderr
    result = _cli("mnist", "--models", "vgg", "--out", tmp_path / "o3")
    assert result.returncode == 2 and "unknown vgg" in result.stderr
