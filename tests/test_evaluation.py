"""Image evaluation end to end: the shipped evaluator's feature space on real data,
Stacked MNIST, the trainer's best.pt / stop_at, boundary scores and `gankit eval`."""

import json

import pytest
import torch
from typer.testing import CliRunner

import gankit
from gankit.cli import app
from gankit.config import load_config
from gankit.data import load_dataset
from gankit.data.mnist import load_mnist
from gankit.evaluation import Scorer, extract, load_extractor, score_image_sets
from gankit.metrics import fid, stacked_modes
from gankit.metrics.modes import class_modes
from gankit.sampling.images import save_npz

MNIST_TINY = ["data.name=mnist", "data.limit=256", "model.family=dcgan", "model.base_width=8",
              "model.latent_dim=16", "model.g_output=tanh", "train.batch_size=64", "train.epochs=2",
              "train.sample_every=0", "train.checkpoint_every=1", "eval.every=1", "eval.n=300",
              "eval.kid_subsets=5", "eval.bootstrap=3", "train.progress=false"]


@pytest.fixture(scope="module")
def mnist_features():
    digits = load_mnist()
    order = torch.randperm(len(digits), generator=torch.Generator().manual_seed(0))
    evaluator = load_extractor(load_config("mnist-dcgan").eval, "mnist")
    half_a = extract(evaluator, digits.tensor[order[:2500]])
    half_b = extract(evaluator, digits.tensor[order[2500:]])
    noise = torch.randn(2500, 1, 28, 28, generator=torch.Generator().manual_seed(1)).clamp_(-1, 1)
    return half_a, half_b, extract(evaluator, noise)


def test_fid_separates_real_halves_from_noise(mnist_features):
    half_a, half_b, noise = mnist_features
    real_vs_real = fid(half_a.features, half_b.features)
    real_vs_noise = fid(half_a.features, noise.features)
    assert real_vs_real * 50 < real_vs_noise, (real_vs_real, real_vs_noise)


def test_real_digits_cover_every_class(mnist_features):
    half_a, half_b, noise = mnist_features
    modes = class_modes(half_a.probs, half_b.probs)
    assert modes["classes_covered"] == 10 and modes["class_kl"] < 0.01
    assert class_modes(noise.probs, half_b.probs)["class_kl"] > modes["class_kl"]


def test_real_stacked_mnist_covers_the_modes():
    data = load_dataset(load_config("stacked-mnist-dcgan", ["data.n_samples=10000"]).data)
    assert data.tensor.shape == (10000, 3, 28, 28) and int(data.labels.max()) < 1000
    evaluator = load_extractor(load_config("stacked-mnist-dcgan").eval, "stacked-mnist")
    probs = extract(evaluator, data.tensor, per_channel=True).probs
    assert probs.shape == (10000, 3, 10)
    assert stacked_modes(probs)["modes_covered"] >= 990


def test_trainer_evaluates_images_keeps_best_and_plots(tmp_path):
    run = gankit.train(None, overrides=MNIST_TINY, out=tmp_path / "run")
    records = [r for r in run.history if "fid" in r]
    assert [r["epoch"] for r in records] == [1, 2]
    for key in ("fid", "fid_std", "kid", "kid_std", "precision", "recall", "density", "coverage",
                "precision_std", "inception_score", "classes_covered", "class_kl", "n_fake", "n_real", "k"):
        assert key in records[-1], key
    assert records[-1]["n_fake"] == 300 and records[-1]["n_real"] == 256
    assert any("warn" in key for key in records[-1])  # 256 real digits is too few: said, not hidden
    best = torch.load(run.path / "checkpoints" / "best.pt", weights_only=True)
    assert best["metrics"]["fid"] == min(r["fid"] for r in records)
    again = run.evaluate(n=300)
    assert again["fid"] == pytest.approx(records[-1]["fid"], rel=1e-6)  # same seed, same samples


def test_stop_at_ends_training_after_the_first_passing_evaluation(tmp_path, tiny_overrides):
    overrides = tiny_overrides + ["train.epochs=5", "eval.every=1", "train.stop_at=modes_captured>=0"]
    run = gankit.train(None, overrides=overrides, out=tmp_path / "run")
    assert run.history[-1]["epoch"] == 1
    final = json.loads((run.path / "final_metrics.json").read_text())
    assert final["stopped_by"] == "modes_captured>=0 reached at epoch 1"
    assert torch.load(run.path / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 1


@pytest.mark.parametrize("objective, scored", [("boundary", True), ("bce", True), ("lsgan", False)])
def test_logit_objectives_report_seed_000_scores(tmp_path, objective, scored):
    overrides = MNIST_TINY + [f"objective.name={objective}", "train.epochs=1", "model.pack=2"]
    run = gankit.train(None, overrides=overrides, out=tmp_path / "run")
    metrics = run.metrics
    assert ("score" in metrics) == scored  # lsgan's D output is not a logit: no probabilities to score
    if scored:
        for key in ("s1", "s2", "s3", "score"):
            assert 0 <= metrics[key] <= 1, key
        assert metrics["score"] == pytest.approx(metrics["s1"] * metrics["s2"] * metrics["s3"])


def test_scorer_without_feature_space_explains(tmp_path):
    dataset = load_mnist()
    dataset.name = "folder"
    config = load_config(None, ["data.name=folder", "data.path=x", "eval.features=none"])
    scorer = Scorer(dataset, config)
    assert "eval.features=none" in scorer.note
    assert scorer.score(None, fake=dataset.tensor[:10]) == {}
    dataset.tensor = dataset.tensor[:40]
    scorer = Scorer(dataset, load_config(None, ["data.name=folder", "data.path=x", "eval.n=30"]))
    assert "too few" in scorer.note and "gankit evaluator train" in scorer.note


def test_score_image_sets_matches_features_pipeline():
    digits = load_mnist().tensor  # sorted by class: shuffle before splitting
    digits = digits[torch.randperm(len(digits), generator=torch.Generator().manual_seed(0))]
    config = load_config(None, ["eval.kid_subsets=5", "eval.bootstrap=0"]).eval
    scores = score_image_sets(digits[:1500], digits[1500:3000], config)
    assert scores["features"] and scores["n_real"] == 1500 and "fid_std" not in scores
    assert scores["classes_covered"] == 10 and scores["fid"] < 5


def test_cli_eval_real_vs_fake(tmp_path):
    fake = save_npz(load_mnist().tensor[::4][:1200], tmp_path / "fake.npz")
    out_json = tmp_path / "m.json"
    result = CliRunner().invoke(app, ["eval", "--real", "mnist", "--fake", str(fake), "--json", str(out_json)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(out_json.read_text())
    for key in ("fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "inception_score",
                "classes_covered", "class_kl"):
        assert key in metrics, key
    assert metrics["n_fake"] == 1200 and metrics["classes_covered"] == 10


def test_cli_eval_run_folder(tmp_path):
    gankit.train(None, overrides=MNIST_TINY + ["train.epochs=1"], out=tmp_path / "run")
    out_json = tmp_path / "m.json"
    result = CliRunner().invoke(app, ["eval", str(tmp_path / "run"), "--n", "400", "--json", str(out_json)])
    assert result.exit_code == 0, result.output
    assert json.loads(out_json.read_text())["n_fake"] == 400
    assert "fid" in result.output and "±" in result.output
