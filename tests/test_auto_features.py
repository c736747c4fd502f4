"""The automatic feature space of an image folder: a self-supervised evaluator trained once per
content and cached; eval.features=none; evaluators that do not fit the data; a damaged cache."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit.classify import evaluator_cache
from gankit.classify import selfsup_train
from gankit.config import load_config
from gankit.data.base import Dataset
from gankit.errors import ConfigError
from gankit.evaluation import Scorer
from gankit.models.classifiers import EvaluatorCNN


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def fits(monkeypatch):
    """Replace the training by a quick seeded network; count the trainings."""
    calls = []

    def fit(dataset, *, seed=0, use_labels=False, progress=True, **_):
        calls.append(len(dataset))
        torch.manual_seed(seed)
        classes = list(dataset.label_names) if use_labels else []
        network = EvaluatorCNN(dataset.tensor.shape[1], dataset.tensor.shape[-1], len(classes), 16).eval()
        return network, classes, {"self_supervised": True, "seconds": 0.0}

    monkeypatch.setattr(selfsup_train, "fit_self_supervised", fit)
    return calls


def _images(n, seed=0, channels=3, side=8):
    return torch.rand(n, channels, side, side, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _dataset(n=None, seed=0, labels=None):
    n = n or selfsup_train.MIN_IMAGES
    return Dataset("folder", _images(n, seed), None, kind="images", labels=labels, source="/data/cells")


def test_trained_once_then_cached_and_a_changed_image_retrains(fits):
    dataset = _dataset()
    lines = []
    first = evaluator_cache.auto_evaluator(dataset, say=lines.append)
    assert first.trained and first.path.is_file() and fits == [len(dataset)]
    assert len(lines) == 2 and "trained in" in lines[-1] and "cells" in lines[-1]
    again = evaluator_cache.auto_evaluator(_dataset(), say=lines.append)
    assert not again.trained and again.path == first.path and fits == [len(dataset)]
    assert again.evaluator.name == "self-supervised:cells" and again.evaluator.num_classes == 0
    changed = _dataset()
    changed.tensor[7, 0, 0, 0] = -changed.tensor[7, 0, 0, 0]
    assert evaluator_cache.auto_evaluator(changed, say=lines.append).trained and len(fits) == 2
    fewer = Dataset("folder", dataset.tensor[1:], None, kind="images", source="/data/cells")
    assert evaluator_cache.cache_entry(fewer) != first.path


def test_a_damaged_cache_entry_is_rebuilt_with_a_warning(fits):
    dataset = _dataset()
    path = evaluator_cache.auto_evaluator(dataset, say=lambda _: None).path
    path.write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="damaged"):
        rebuilt = evaluator_cache.auto_evaluator(dataset, say=lambda _: None)
    assert rebuilt.trained and len(fits) == 2
    assert evaluator_cache.auto_evaluator(dataset, say=lambda _: None).trained is False


def test_labelled_folders_get_a_class_head(fits):
    labels = torch.arange(selfsup_train.MIN_IMAGES) % 2
    dataset = _dataset(labels=labels)
    dataset.class_names = ["a", "b"]
    found = evaluator_cache.auto_evaluator(dataset, say=lambda _: None)
    assert found.evaluator.class_names == ["a", "b"] and found.evaluator.num_classes == 2
    one_class = _dataset(labels=torch.zeros(selfsup_train.MIN_IMAGES, dtype=torch.int64))
    one_class.class_names = ["only"]
    assert evaluator_cache.auto_evaluator(one_class, say=lambda _: None).evaluator.num_classes == 0


def test_scorer_uses_the_automatic_space_and_none_turns_it_off(fits):
    dataset = _dataset()
    config = load_config(None, ["data.name=folder", "data.path=x", "eval.n=64", "eval.bootstrap=0",
                                "eval.kid_subset_size=32", "eval.kid_subsets=3"])
    scorer = Scorer(dataset, config)
    scores = scorer.score(None, fake=_images(64, seed=5))
    assert scores["features"] == "self-supervised:cells"
    assert {"fid", "kid", "precision", "recall", "density", "coverage"} <= set(scores)
    assert "inception_score" not in scores and "classes_covered" not in scores
    off = Scorer(dataset, load_config(None, ["data.name=folder", "data.path=x", "eval.features=none"]))
    assert "eval.features=none" in off.note and off.score(None, fake=_images(8)) == {}
    assert len(fits) == 1


def test_too_few_images_for_a_feature_space_is_a_note_not_an_error(fits):
    dataset = _dataset(n=selfsup_train.MIN_IMAGES - 1)
    scorer = Scorer(dataset, load_config(None, ["data.name=folder", "data.path=x", "eval.n=50"]))
    assert f"at least {selfsup_train.MIN_IMAGES}" in scorer.note and fits == []


def test_an_evaluator_for_other_images_is_refused_naming_both(tmp_path, fits):
    from gankit.classify.classifier_file import classifier_payload
    from gankit.files.checkpoint import save_checkpoint

    path = tmp_path / "ev28.pt"
    save_checkpoint(classifier_payload(EvaluatorCNN(1, 28, 2, 16), ["a", "b"], {"name": "ev28"}), path)
    config = load_config(None, ["data.name=folder", "data.path=x", f"eval.evaluator={path}"])
    with pytest.raises(ConfigError, match=r"1-channel 28×28 .* 3-channel 8×8"):
        Scorer(_dataset(), config)


def _flat_folder(root, n, side=16):
    rng = np.random.default_rng(0)
    root.mkdir()
    for index in range(n):
        pixels = np.full((side, side, 3), 230, dtype=np.uint8)
        y, x = rng.integers(0, side // 2, size=2)
        pixels[y:y + side // 2, x:x + side // 2] = rng.integers(60, 200, size=3)
        Image.fromarray(pixels).save(root / f"cell_{index:04d}.png")
    return root


@pytest.mark.slow
def test_a_flat_folder_run_ends_with_fid_precision_recall_and_coverage(tmp_path):
    folder = _flat_folder(tmp_path / "cells", 600)  # enough for the end-of-run feature-space check too
    run_dir = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "gankit", "train", "folder-rgb32", "--out", str(run_dir), f"data.path={folder}",
         "data.image_size=16", "model.base_width=8", "model.latent_dim=8", "train.batch_size=32", "train.epochs=1",
         "eval.n=128", "eval.bootstrap=0", "train.progress=false", "train.tensorboard=false"],
        capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "self-supervised evaluator for cells trained in" in done.stderr
    final = json.loads((run_dir / "final_metrics.json").read_text())
    for key in ("fid", "precision", "recall", "coverage"):
        assert isinstance(final[key], float), key
    assert final["features"] == "self-supervised:cells"
    report = (run_dir / "report.html").read_text()
    assert "self-supervised:cells" in report and "coverage" in report
    check = json.loads((run_dir / "evaluator_check.json").read_text())
    assert check["extractor"] == "self-supervised:cells" and check["rows"]
    assert "Feature-space check" in report


def test_a_changed_added_or_removed_file_changes_the_cache_entry(tmp_path):
    from gankit.data.folder import load_folder

    folder = _flat_folder(tmp_path / "cells", 12, side=8)

    def entry():
        return evaluator_cache.cache_entry(load_folder(folder, channels=3, image_size=8, use_cache=False))

    first = entry()
    assert entry() == first  # the same content, the same entry
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(folder / "cell_0003.png")
    changed = entry()
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(folder / "cell_extra.png")
    added = entry()
    (folder / "cell_extra.png").unlink()
    (folder / "cell_0000.png").unlink()
    removed = entry()
    assert len({first, changed, added, removed}) == 4
