"""The evaluator network: the shipped MNIST file, feature extraction, training, bad files, folders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from gankit.cli_evaluator import evaluator_app
from gankit.data.base import Dataset
from gankit.data.mnist import load_mnist
from gankit.errors import DataError
from gankit.classify.evaluator_train import (
    MNIST_RECIPE,
    accuracy,
    stratified_split,
    train_evaluator,
)
from gankit.classify.classifier_file import (
    CLASSIFIER_FORMAT,
    EVALUATOR_FORMAT,
    classifier_payload,
    read_classifier_file,
)
from gankit.classify.models import build_model
from gankit.classify.evaluator import load_evaluator, shipped_evaluator_path


@pytest.fixture(scope="module")
def mnist() -> Dataset:
    return load_mnist()


@pytest.fixture(scope="module")
def shipped():
    return load_evaluator()


def test_shipped_file_is_small_safe_and_matches_its_recipe(mnist, shipped):
    path = shipped_evaluator_path()
    assert path.is_file() and path.stat().st_size <= 2 * 1024 * 1024
    payload = torch.load(path, map_location="cpu", weights_only=True)
    assert payload["format"] == EVALUATOR_FORMAT and payload["version"] == 1
    report = payload["report"]
    assert report["seed"] == MNIST_RECIPE["seed"] and report["epochs"] == MNIST_RECIPE["epochs"]
    train_index, holdout_index = stratified_split(mnist.labels, report["holdout_share"], report["seed"])
    assert len(holdout_index) == report["n_holdout"] == 1000 and len(train_index) == report["n_train"] == 4000
    assert torch.bincount(mnist.labels[holdout_index]).tolist() == [100] * 10  # stratified
    recomputed = accuracy(shipped, mnist.tensor[holdout_index], mnist.labels[holdout_index])
    assert recomputed >= 0.97
    assert abs(recomputed - report["holdout_accuracy"]) < 1e-9
    assert shipped.class_names == [str(digit) for digit in range(10)]
    assert (shipped.channels, shipped.image_size, shipped.num_classes, shipped.feature_dim) == (1, 28, 10, 128)


def test_split_is_fixed_and_disjoint(mnist):
    first = stratified_split(mnist.labels, 0.2, 0)
    again = stratified_split(mnist.labels, 0.2, 0)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not set(first[0].tolist()) & set(first[1].tolist())
    assert len(first[0]) + len(first[1]) == len(mnist)


def test_extract_shapes_probabilities_and_conversions(mnist, shipped):
    images, labels = mnist.tensor[::135], mnist.labels[::135]  # 38 images, 3-4 of each digit (the file is sorted)
    features, probabilities = shipped.extract(images, batch_size=16)
    assert features.shape == (38, 128) and probabilities.shape == (38, 10)
    assert features.dtype == probabilities.dtype == torch.float32
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(38), atol=1e-5)
    assert (probabilities.argmax(dim=1) == labels).float().mean() > 0.9
    rgb_features, _ = shipped.extract(images.repeat(1, 3, 1, 1))
    assert torch.allclose(rgb_features, features, atol=1e-5)  # gray repeated to RGB and back is the same image
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2), value=-1.0)  # 32×32, like the cats-vs-dogs study's data
    big_features, big_probabilities = shipped.extract(padded)
    assert big_features.shape == (38, 128) and big_probabilities.shape == (38, 10)
    assert (big_probabilities.argmax(dim=1) == labels).float().mean() > 0.8
    assert shipped.extract(torch.rand(3, 3, 64, 48) * 2 - 1)[0].shape == (3, 128)
    assert shipped.extract(images[:0])[0].shape == (0, 128)
    with pytest.raises(DataError, match="channels"):
        shipped.extract(torch.zeros(2, 2, 28, 28))


def test_training_is_deterministic_and_leaves_global_rng_alone(mnist, tmp_path):
    keep = torch.randperm(len(mnist), generator=torch.Generator().manual_seed(0))[:300]  # the file is sorted by digit
    subset = Dataset("mnist", mnist.tensor[keep], None, mnist.labels[keep], "images", mnist.class_names)
    rng_before = torch.get_rng_state()
    reports = [
        train_evaluator(subset, tmp_path / f"run{index}.pt", epochs=1, batch_size=32, lr=1e-3, seed=3,
                        feature_dim=16, progress=False)
        for index in range(2)
    ]
    assert torch.equal(torch.get_rng_state(), rng_before)
    first, second = (torch.load(tmp_path / f"run{index}.pt", weights_only=True) for index in range(2))
    assert first["state_dict"].keys() == second["state_dict"].keys()
    assert all(torch.equal(first["state_dict"][key], second["state_dict"][key]) for key in first["state_dict"])
    for key in ("holdout_accuracy", "train_accuracy", "n_train", "n_holdout", "epochs", "seconds"):
        assert key in reports[0]
    assert reports[0]["n_train"] + reports[0]["n_holdout"] == 300 and 50 <= reports[0]["n_holdout"] <= 70
    loaded = load_evaluator(tmp_path / "run0.pt")
    assert loaded.feature_dim == 16 and loaded.report["holdout_accuracy"] == reports[0]["holdout_accuracy"]


def test_bad_files_raise_data_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_evaluator(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(DataError, match="cannot be read"):
        load_evaluator(garbage)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(shipped_evaluator_path().read_bytes()[:5000])
    with pytest.raises(DataError, match="cannot be read"):
        load_evaluator(truncated)
    foreign = tmp_path / "checkpoint.pt"
    torch.save({"format": 1, "generator": {}}, foreign)
    with pytest.raises(DataError, match="not a gankit evaluator"):
        load_evaluator(foreign)
    mismatched = tmp_path / "mismatched.pt"
    payload = torch.load(shipped_evaluator_path(), weights_only=True)
    payload["config"]["feature_dim"] = 64
    torch.save(payload, mismatched)
    with pytest.raises(DataError, match="do not fit"):
        load_evaluator(mismatched)


def test_one_file_format_and_loader_serve_evaluators_and_workbench_checkpoints(tmp_path):
    shipped_payload = torch.load(shipped_evaluator_path(), weights_only=True)
    assert list(shipped_payload) == ["format", "version", "state_dict", "config", "report"]
    loaded = read_classifier_file(shipped_evaluator_path())  # the shipped file still loads, as an EvaluatorCNN
    rewritten = classifier_payload(loaded.network, loaded.class_names, loaded.report)
    assert list(rewritten) == list(shipped_payload) and rewritten["config"] == shipped_payload["config"]
    assert all(torch.equal(rewritten["state_dict"][key], value) for key, value in shipped_payload["state_dict"].items())
    torch.manual_seed(0)
    cnn = build_model("cnn", 1, 16, 3)
    payload = classifier_payload(cnn, ["a", "b", "c"], {"val_accuracy": 0.5}, model_name="cnn")
    assert payload["format"] == CLASSIFIER_FORMAT and list(payload)[:3] == ["format", "version", "model"]
    torch.save(payload, tmp_path / "best.pt")
    workbench = load_evaluator(tmp_path / "best.pt")
    assert workbench.name == "cnn:best" and workbench.class_names == ["a", "b", "c"]
    assert type(workbench.network) is type(cnn) and not workbench.network.training
    payload["model"] = "vgg"
    torch.save(payload, tmp_path / "foreign.pt")
    with pytest.raises(DataError, match="lacks its model name"):
        load_evaluator(tmp_path / "foreign.pt")


def test_unlabelled_data_is_refused_with_a_hint(mnist, tmp_path):
    unlabelled = Dataset("folder", mnist.tensor[:50], None, None, "images")
    with pytest.raises(DataError, match="no labels.*subfolder per class"):
        train_evaluator(unlabelled, tmp_path / "x.pt", epochs=1, batch_size=16, lr=1e-3, seed=0, progress=False)
    points = Dataset("ring8", torch.zeros(50, 2), None, torch.zeros(50, dtype=torch.int64))
    with pytest.raises(DataError, match="images"):
        train_evaluator(points, tmp_path / "x.pt", epochs=1, batch_size=16, lr=1e-3, seed=0, progress=False)
    assert not (tmp_path / "x.pt").exists()


def test_labelled_folder_trains_through_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))
    generator = np.random.default_rng(0)
    for class_name, bright_half in (("left", slice(0, 8)), ("right", slice(8, 16))):
        (tmp_path / "data" / class_name).mkdir(parents=True)
        for index in range(12):
            pixels = generator.integers(0, 40, (16, 16, 3), dtype=np.uint8)
            pixels[:, bright_half] = 220
            Image.fromarray(pixels).save(tmp_path / "data" / class_name / f"{index}.png")
    out = tmp_path / "folder-evaluator.pt"
    result = CliRunner().invoke(evaluator_app, [
        "train", "--data", "folder", f"data.path={tmp_path / 'data'}", "data.image_size=16", "data.channels=3",
        "--epochs", "2", "--batch-size", "8", "-o", str(out), "-q",
    ])
    assert result.exit_code == 0, result.output
    assert "held-out accuracy" in result.output and str(out) in result.output
    evaluator = load_evaluator(out)
    assert evaluator.class_names == ["left", "right"] and evaluator.channels == 3 and evaluator.image_size == 16
    assert evaluator.report["n_holdout"] == 4 and evaluator.name == "data"
    assert evaluator.extract(torch.zeros(2, 1, 28, 28))[1].shape == (2, 2)


def test_cli_refuses_ambiguous_requests(tmp_path):
    runner = CliRunner()
    for args in (["train", "mnist", "--ship", "--epochs", "1"], ["train", "cifar"],
                 ["train", "--data", "mnist", "train.epochs=3", "-o", str(tmp_path / "x.pt")]):
        result = runner.invoke(evaluator_app, args)
        assert result.exit_code != 0 and "ConfigError" in type(result.exception).__name__
