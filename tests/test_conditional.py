"""Class-conditional GANs: the projection discriminator's formula, labels through training,
sampling by class, DRS, interpolation, export and the per-class metrics."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit.config import ModelConfig, coerce_config
from gankit.errors import ConfigError
from gankit.metrics.conditional import class_accuracy, conditional_scores, intra_fid
from gankit.metrics.fid import fid
from gankit.models import build_models
from gankit.models.conditional import ConditionalGenerator, ProjectionDiscriminator
from gankit.sampling.drs_run import drs_sample_classes
from gankit.sampling.labels import labels_for

# Conditional ring8: its 8 modes are the classes; tiny MLPs, 8 steps per epoch.
RING = ["data.name=ring8", "data.n_samples=512", "train.batch_size=64", "model.g_hidden=16,16",
        "model.d_hidden=16,16", "model.latent_dim=4", "model.class_dim=4", "model.conditional=true", "model.pack=1",
        "train.epochs=2", "train.sample_every=0", "train.checkpoint_every=1", "eval.every=0", "eval.n=200",
        "train.progress=false", "train.tensorboard=false", "train.lr_decay=none"]


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("family,shape", [("mlp", (2,)), ("dcgan", (1, 28, 28))])
def test_projection_discriminator_is_unconditional_score_plus_inner_product(family, shape):
    config = ModelConfig(family=family, conditional=True, latent_dim=8, class_dim=3, base_width=4,
                         g_output="tanh", d_hidden=[8, 8], g_hidden=[8, 8])
    torch.manual_seed(0)
    generator, discriminator = build_models(config, shape, n_classes=5)
    assert isinstance(generator, ConditionalGenerator) and isinstance(discriminator, ProjectionDiscriminator)
    x, labels = torch.randn(6, *shape), torch.tensor([0, 1, 2, 3, 4, 4])
    with torch.no_grad():
        phi = discriminator.base.features(x)
        expected = discriminator.base.net[-1](phi).squeeze(1) + (discriminator.embedding.weight[labels] * phi).sum(1)
        assert torch.allclose(discriminator(x, labels), expected, atol=1e-6)
        discriminator.embedding.weight.zero_()  # no class term: the base discriminator's own score
        assert torch.allclose(discriminator(x, labels), discriminator.base(x), atol=1e-6)
        z = torch.randn(6, 8)
        a, b = generator(z, torch.zeros(6, dtype=torch.int64)), generator(z, torch.ones(6, dtype=torch.int64))
    assert a.shape == (6, *shape) and not torch.allclose(a, b)  # the class changes the sample
    with pytest.raises(ValueError, match="one class label per sample"):
        generator(z, torch.zeros(5, dtype=torch.int64))


def test_conditional_refuses_packing_and_unlabelled_data(tmp_path):
    with pytest.raises(ConfigError, match="model.pack"):
        coerce_config("toy-ring8", ["model.conditional=true", "model.pack=2", "train.batch_size=64"])
    with pytest.raises(ConfigError, match="needs data with classes"):
        gankit.train("toy-spiral", overrides=["model.conditional=true", "train.epochs=1", "train.progress=false"],
                     out=tmp_path / "spiral")


def test_labels_for_names_indices_and_cycles():
    names = ["cat", "dog", "fox"]
    assert labels_for("dog", 3, names).tolist() == [1, 1, 1]
    assert labels_for(2, 2, names).tolist() == [2, 2]
    assert labels_for(["fox", "0"], 5, names).tolist() == [2, 0, 2, 0, 2]
    with pytest.raises(ConfigError, match="unknown class 'cow'.*cat, dog, fox"):
        labels_for("cow", 3, names)
    with pytest.raises(ConfigError, match="not class-conditional"):
        labels_for(1, 3, None)


def test_conditional_run_trains_samples_by_class_and_resumes_exactly(tmp_path):
    whole = gankit.train("toy-ring8", overrides=RING, out=tmp_path / "whole")
    assert whole.class_names == [str(i) for i in range(8)]
    state = torch.load(tmp_path / "whole" / "checkpoints" / "last.pt", weights_only=True)
    assert state["class_names"] == whole.class_names
    weights = whole.generator.class_weights
    assert torch.isclose(weights.sum(), torch.tensor(1.0)) and (weights > 0.09).all()  # the modes' frequencies
    # resume from epoch 1 gives the same networks as the uninterrupted run
    half = gankit.train("toy-ring8", overrides=[*RING, "train.epochs=1"], out=tmp_path / "half")
    resumed = gankit.train(tmp_path / "half", overrides=["train.epochs=2"], resume=True)
    for a, b in zip(whole.generator.state_dict().values(), resumed.generator.state_dict().values()):
        assert torch.equal(a, b)
    assert half.class_names == resumed.class_names
    # classes by index or name, cycling a list; reproducible per seed
    x = whole.sample(6, classes=[1, "5"], seed=3)
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = whole.generator(z, torch.tensor([1, 5, 1, 5, 1, 5]))
    assert torch.allclose(x, expected)
    with pytest.raises(ConfigError, match="unknown class"):
        whole.sample(4, classes="cat")


def test_per_class_metrics_against_their_definitions():
    gen = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 6, generator=gen) * 4
    real_labels = torch.arange(600) % 3
    real = centres[real_labels] + torch.randn(600, 6, generator=gen)
    fake_labels = torch.arange(450) % 3
    fake = centres[fake_labels] + torch.randn(450, 6, generator=gen)
    per_class = intra_fid(real, real_labels, fake, fake_labels, 3)
    for label in range(3):
        assert per_class[label] == pytest.approx(fid(real[real_labels == label], fake[fake_labels == label]))
    # the right images under the wrong labels: plain FID does not see it, intra-FID does
    swapped = intra_fid(real, real_labels, fake, (fake_labels + 1) % 3, 3)
    assert min(swapped) > 10 * max(per_class)
    probs = torch.nn.functional.one_hot(torch.tensor([0, 1, 1, 2]), 3).float()
    assert class_accuracy(probs, torch.tensor([0, 1, 2, 2]), ["a", "b", "c"], ["a", "b", "c"]) == 0.75
    # classes matched by name, not position
    assert class_accuracy(probs, torch.tensor([0, 1, 2, 2]), ["b", "a", "c"], ["a", "b", "c"]) == 0.25
    assert class_accuracy(probs, torch.tensor([0]), ["x", "y", "z"], ["a", "b", "c"]) is None
    scores = conditional_scores(real, real_labels, fake, torch.zeros(450, 3), fake_labels, ["a", "b", "c"],
                                ["a", "b", "c"])
    assert scores["intra_fid"] == pytest.approx(sum(per_class) / 3) and scores["intra_fid_classes"] == ["a", "b", "c"]


def test_drs_per_class_keeps_each_samples_class():
    discriminator = ProjectionDiscriminator(gankit.models.mlp.MLPDiscriminator((1, 2, 2), [4]), 3)
    config = coerce_config("toy-ring8", ["model.pack=1", "sample.drs_burn_in=64", "sample.batch_size=32",
                                         "sample.drs_finetune_steps=3", "train.batch_size=16"])

    def draw(labels):  # a sample "is" its class: every pixel holds the label
        return labels.float().view(-1, 1, 1, 1).expand(-1, 1, 2, 2) + 0.01 * torch.randn(len(labels), 1, 2, 2)

    real_labels = torch.arange(48) % 3
    real = draw(real_labels)
    wanted = torch.tensor([2, 0, 1, 1, 2, 0, 0])
    samples, report, tuned = drs_sample_classes(draw, discriminator, config, wanted, real=real,
                                                real_labels=real_labels, seed=0)
    assert samples.shape == (7, 1, 2, 2)
    assert torch.equal(samples.mean(dim=(1, 2, 3)).round().long(), wanted)
    assert 0 < report["drs_acceptance_rate"] <= 1 and tuned is not None


def test_conditional_images_cli_class_grid_export(tmp_path):
    folder = tmp_path / "shapes"
    for name, value in (("dark", 40), ("light", 220)):
        (folder / name).mkdir(parents=True)
        for index in range(32):
            Image.new("L", (8, 8), value + index % 5).save(folder / name / f"{index}.png")
    (tmp_path / "flat").mkdir()
    for index in range(4):
        Image.new("L", (8, 8), 100).save(tmp_path / "flat" / f"{index}.png")
    common = ["folder-dcgan32", "data.image_size=8", "model.family=mlp", "model.g_hidden=16",
              "model.d_hidden=16", "model.latent_dim=4", "model.g_output=tanh", "train.batch_size=16",
              "train.epochs=1", "eval.every=0", "train.progress=false", "train.tensorboard=false",
              "train.sample_every=1"]
    run_dir = tmp_path / "run"
    done = _cli("train", "--out", str(run_dir), *common, f"data.path={folder}", "model.conditional=true")
    assert done.returncode == 0, done.stderr
    grid = Image.open(run_dir / "samples" / "epoch_0001.png")
    assert grid.width > grid.height  # the class names' band left of the two rows
    done = _cli("sample", str(run_dir), "--class", "light", "-n", "5", "-o", str(tmp_path / "light.npz"))
    assert done.returncode == 0, done.stderr
    assert np.load(tmp_path / "light.npz")["images"].shape[0] == 5
    bad = _cli("sample", str(run_dir), "--class", "cat", "-n", "5", "-o", str(tmp_path / "cat.npz"))
    assert bad.returncode == 2 and "dark, light" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    flat = _cli("train", "--out", str(tmp_path / "flat-run"), *common, f"data.path={tmp_path / 'flat'}",
                "train.batch_size=4", "model.conditional=true")
    assert flat.returncode == 2 and "needs data with classes" in flat.stderr
    assert len(flat.stderr.strip().splitlines()) == 1
    plain = _cli("train", "--out", str(tmp_path / "plain"), *common, f"data.path={tmp_path / 'flat'}",
                 "train.batch_size=4")
    assert plain.returncode == 0, plain.stderr  # a flat folder still trains unconditionally
    no_class = _cli("sample", str(tmp_path / "plain"), "--class", "3", "-n", "2", "-o", str(tmp_path / "p.npz"))
    assert no_class.returncode == 2 and "not class-conditional" in no_class.stderr
    # export: labels are the second input, identical to the run's generator
    onnx = pytest.importorskip("onnxruntime")
    assert _cli("export", str(run_dir), "-o", str(tmp_path / "g.onnx"), "--format", "onnx").returncode == 0
    session = onnx.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    z, labels = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32), np.array([1, 0, 1])
    out = session.run(None, {"z": z, "labels": labels.astype(np.int64)})[0]
    run = gankit.load_run(run_dir)
    with torch.no_grad():
        expected = run.generator(torch.from_numpy(z), torch.from_numpy(labels)).numpy()
    assert np.abs(out - expected).max() < 1e-5
    assert run.interpolate(tmp_path / "walk.png", rows=2, steps=3, classes="dark").is_file()


def test_mode_seeking_pairs_latents_of_one_class_and_changes_g(tmp_path):
    from gankit.training.trainer import Trainer

    trainer = Trainer(coerce_config("toy-ring8", [*RING, "objective.mode_seeking_weight=1"]), tmp_path / "spy")
    try:
        seen = []
        generator = trainer.models.generator
        hook = generator.register_forward_pre_hook(lambda module, args: seen.append(args[1].clone()))
        labels = torch.arange(8).repeat(8)
        trainer.step_fn(trainer.dataset.tensor[:64], True, 0, labels)
        hook.remove()
        assert torch.equal(seen[0], torch.cat([labels[:32], labels[:32]]))
    finally:
        trainer.close()
    plain = gankit.train("toy-ring8", overrides=RING + ["train.epochs=1"], out=tmp_path / "plain")
    seeking = gankit.train("toy-ring8", overrides=RING + ["train.epochs=1", "objective.mode_seeking_weight=1"],
                           out=tmp_path / "seeking")
    a, b = plain.generator.state_dict(), seeking.generator.state_dict()
    assert any(not torch.equal(a[key], b[key]) for key in a)
    assert all(torch.isfinite(value).all() for value in b.values())
