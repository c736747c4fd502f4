"""The self-supervised evaluator: objectives against their definitions, colour-keeping views,
determinism, the evaluator file, too little data, and the command line end to end."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from gankit.classify.evaluator import load_evaluator
from gankit.classify.selfsup import (
    Augmentation,
    covariance_term,
    nt_xent,
    objective_loss,
    random_view,
    variance_term,
    vicreg,
)
from gankit.classify.selfsup_train import MIN_IMAGES, default_epochs, fit_self_supervised, train_self_supervised
from gankit.cli_evaluator import evaluator_app
from gankit.data.base import Dataset
from gankit.errors import ConfigError, DataError, GankitError

SIDE = 8  # tiny images keep every training here to a second or two


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny batches: one thread avoids the thread-sync overhead that dominates them on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _images(count: int = MIN_IMAGES, channels: int = 3, seed: int = 0) -> Dataset:
    """`count` random blob images with 2 classes (bright top or bottom half)."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(count, channels, SIDE, SIDE, generator=generator) * 0.4 - 0.8
    labels = torch.arange(count) % 2
    images[labels == 0, :, :SIDE // 2] += 1.2  # top or bottom: a mirror keeps the class
    images[labels == 1, :, SIDE // 2:] += 1.2
    return Dataset("blobs", images.clamp(-1, 1), None, labels, "images", class_names=["top", "bottom"])


def _tiny(**changes):
    return {"epochs": 1, "batch_size": 250, "progress": False, **changes}


# ---------------------------------------------------------------- the objectives' definitions

def test_nt_xent_matches_an_explicit_loop():
    generator = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 4, generator=generator, dtype=torch.float64), torch.randn(5, 4, generator=generator,
                                                                                    dtype=torch.float64)
    temperature = 0.3
    views = torch.cat([z1, z2])
    total = 0.0
    for i in range(10):
        partner = (i + 5) % 10
        cosine = [float(views[i] @ views[j] / (views[i].norm() * views[j].norm())) for j in range(10)]
        denominator = sum(math.exp(cosine[j] / temperature) for j in range(10) if j != i)
        total += -math.log(math.exp(cosine[partner] / temperature) / denominator)
    assert float(nt_xent(z1, z2, temperature)) == pytest.approx(total / 10, rel=1e-10)


def test_nt_xent_is_small_when_each_view_is_closest_to_its_partner():
    z = torch.eye(6, dtype=torch.float64)
    aligned, shuffled = float(nt_xent(z, z, 0.1)), float(nt_xent(z, z.roll(1, dims=0), 0.1))
    assert aligned < 1e-3 < 1.0 < shuffled


def test_vicreg_terms_match_their_definitions():
    generator = torch.Generator().manual_seed(1)
    z = torch.randn(7, 3, generator=generator, dtype=torch.float64) * torch.tensor([0.5, 1.0, 2.0],
                                                                                   dtype=torch.float64)
    n, d = z.shape
    mean = [sum(float(z[i, j]) for i in range(n)) / n for j in range(d)]
    cov = [[sum((float(z[i, a]) - mean[a]) * (float(z[i, b]) - mean[b]) for i in range(n)) / (n - 1)
            for b in range(d)] for a in range(d)]
    variance = sum(max(0.0, 1.0 - math.sqrt(cov[j][j] + 1e-4)) for j in range(d)) / d
    covariance = sum(cov[a][b] ** 2 for a in range(d) for b in range(d) if a != b) / d
    assert float(variance_term(z)) == pytest.approx(variance, rel=1e-10)
    assert float(covariance_term(z)) == pytest.approx(covariance, rel=1e-10)
    other = z + 0.1
    expected = (25 * float(((z - other) ** 2).mean()) + 25 * (variance + float(variance_term(other))) / 2
                + covariance + float(covariance_term(other)))
    assert float(vicreg(z, other)) == pytest.approx(expected, rel=1e-10)


def test_vicreg_variance_hinge_is_zero_for_spread_out_dimensions_and_an_unknown_objective_is_refused():
    spread = torch.randn(500, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 3
    assert float(variance_term(spread)) == 0.0
    assert float(variance_term(torch.zeros(10, 4))) == pytest.approx(1 - math.sqrt(1e-4))
    with pytest.raises(ConfigError, match="byol.*vicreg, simclr"):
        objective_loss("byol", spread, spread)


# ---------------------------------------------------------------- the views

def test_a_flat_colour_stays_that_colour():
    colours = torch.tensor([[0.9, -0.4, 0.1], [-1.0, 1.0, -1.0], [0.25, 0.25, -0.75]])
    images = colours[:, :, None, None].expand(3, 3, 16, 16).repeat(20, 1, 1, 1)
    for augmentation in (Augmentation(), Augmentation(min_scale=1, max_ratio=1, max_shift=0.25)):
        view = random_view(images, augmentation, torch.Generator().manual_seed(0))
        assert view.shape == images.shape
        assert torch.allclose(view, images, atol=1e-6)


def test_shifts_move_whole_pixels_without_resampling():
    images = torch.rand(30, 3, 12, 12, generator=torch.Generator().manual_seed(4))
    view = random_view(images, Augmentation(min_scale=1, max_ratio=1, max_shift=0.25, flip=False),
                       torch.Generator().manual_seed(0))
    for original, moved in zip(images, view):
        padded = torch.nn.functional.pad(original[None], (3,) * 4, mode="replicate")[0]
        windows = [padded[:, dy:dy + 12, dx:dx + 12] for dy in range(7) for dx in range(7)]
        assert any(torch.equal(moved, window) for window in windows)  # exactly one of the 49 shifts
    assert not torch.equal(view, images)


def test_full_crops_are_the_image_or_its_mirror_and_views_vary():
    images = torch.rand(40, 3, 12, 12, generator=torch.Generator().manual_seed(3))
    whole = Augmentation(min_scale=1.0, max_scale=1.0, max_ratio=1.0, max_shift=0.0)
    view = random_view(images, whole, torch.Generator().manual_seed(0))
    same = (view - images).abs().amax(dim=(1, 2, 3)) < 1e-5
    mirrored = (view - images.flip(-1)).abs().amax(dim=(1, 2, 3)) < 1e-5
    assert bool((same | mirrored).all()) and same.any() and mirrored.any()
    first = random_view(images, Augmentation(), torch.Generator().manual_seed(5))
    assert torch.equal(first, random_view(images, Augmentation(), torch.Generator().manual_seed(5)))
    assert not torch.allclose(first, random_view(images, Augmentation(), torch.Generator().manual_seed(6)))
    with pytest.raises(ConfigError, match="min_scale"):
        Augmentation(min_scale=0.0)


# ---------------------------------------------------------------- training

def test_same_data_and_seed_give_byte_identical_weights_and_leave_the_callers_rng_alone():
    data = _images()
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first, names, report = fit_self_supervised(data, **_tiny())
    assert torch.equal(torch.get_rng_state(), before)
    second, _, _ = fit_self_supervised(data, **_tiny())

    def serialised(network):
        buffer = io.BytesIO()
        torch.save(network.state_dict(), buffer)
        return buffer.getvalue()

    assert serialised(first) == serialised(second)
    third, _, _ = fit_self_supervised(data, **_tiny(seed=1))
    assert serialised(third) != serialised(first)
    assert names == [] and first.num_classes == 0 and not first.training
    assert report["self_supervised"] is True and report["objective"] == "simclr" and report["n_train"] == MIN_IMAGES
    assert report["augmentation"] == Augmentation().settings() and report["epochs"] == 1


def test_too_few_images_or_no_images_are_refused_with_the_numbers():
    data = _images(MIN_IMAGES - 1)
    with pytest.raises(ConfigError, match=f"has {MIN_IMAGES - 1} images.*at least {MIN_IMAGES}"):
        fit_self_supervised(data, **_tiny())
    points = Dataset("ring8", torch.zeros(MIN_IMAGES, 2), None)
    with pytest.raises(DataError, match="images"):
        fit_self_supervised(points, **_tiny())
    unlabelled = Dataset("folder", _images().tensor, None, None, "images")
    with pytest.raises(DataError, match="no labels"):
        fit_self_supervised(unlabelled, **_tiny(use_labels=True))
    with pytest.raises(ConfigError, match="objective"):
        fit_self_supervised(_images(), **_tiny(objective="byol"))
    assert default_epochs(2000) == 7 and default_epochs(10**6) == 1 and default_epochs(MIN_IMAGES) == 28


def test_the_file_loads_as_an_evaluator_without_classes(tmp_path):
    out = tmp_path / "ev.pt"
    report = train_self_supervised(_images(), out, **_tiny(objective="vicreg"))
    evaluator = load_evaluator(out)
    features, probabilities = evaluator.extract(torch.zeros(5, 3, SIDE, SIDE))
    assert features.shape == (5, 128) and probabilities.shape == (5, 0)
    assert evaluator.report["objective"] == "vicreg" == report["objective"] and evaluator.class_names == []
    for key in ("seed", "epochs", "seconds", "n_train", "torch_version", "threads", "data", "augmentation"):
        assert key in evaluator.report
    with pytest.raises(GankitError, match="pass --force"):
        train_self_supervised(_images(), out, **_tiny())
    train_self_supervised(_images(), out, force=True, **_tiny())
    assert load_evaluator(out).report["objective"] == "simclr"  # the default
    mine = tmp_path / "mine.pt"
    mine.write_bytes(b"a file of the user's")
    with pytest.raises(GankitError, match="did not write it"):
        train_self_supervised(_images(), mine, force=True, **_tiny())
    assert mine.read_bytes() == b"a file of the user's"


def test_with_labels_one_network_gets_a_class_head(tmp_path):
    out = tmp_path / "joint.pt"
    report = train_self_supervised(_images(), out, **_tiny(use_labels=True, epochs=3, batch_size=50))
    evaluator = load_evaluator(out)
    assert evaluator.class_names == ["top", "bottom"] and report["with_labels"] is True
    assert report["n_holdout"] == 100 and report["n_train"] == 400
    assert report["holdout_accuracy"] > 0.9  # the halves are easy to tell apart
    assert evaluator.extract(torch.zeros(4, 3, SIDE, SIDE))[1].shape == (4, 2)


# ---------------------------------------------------------------- the command line

def _folder(root, count: int = MIN_IMAGES):
    generator = np.random.default_rng(0)
    root.mkdir()
    for index in range(count):
        Image.fromarray(generator.integers(0, 255, (SIDE, SIDE, 3), dtype=np.uint8)).save(root / f"{index}.png")
    return root


def test_the_command_line_trains_an_unlabelled_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))
    folder = _folder(tmp_path / "flat")
    out = tmp_path / "ssl.pt"
    args = ["train", "--self-supervised", "--data", "folder", f"data.path={folder}", "data.channels=3",
            f"data.image_size={SIDE}", "-o", str(out), "--epochs", "1", "--batch-size", "250", "-q"]
    result = CliRunner().invoke(evaluator_app, args)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and f"on {MIN_IMAGES} images" in lines[0] and str(out) in result.output.replace("\n", "")
    evaluator = load_evaluator(out)
    assert evaluator.num_classes == 0 and evaluator.channels == 3 and evaluator.report["name"] == "flat"
    again = CliRunner().invoke(evaluator_app, args)
    assert again.exit_code != 0 and "--force" in str(again.exception)
    assert CliRunner().invoke(evaluator_app, args + ["--force"]).exit_code == 0


def test_the_command_line_refuses_self_supervised_options_out_of_place(tmp_path):
    for args in (["train", "mnist", "--with-labels"], ["train", "mnist", "--self-supervised"],
                 ["train", "mnist", "--objective", "simclr"]):
        result = CliRunner().invoke(evaluator_app, args)
        assert isinstance(result.exception, ConfigError) and "--self-supervised" in str(result.exception)
    few = _folder(tmp_path / "few", 20)
    result = CliRunner().invoke(evaluator_app, [
        "train", "--self-supervised", "--data", "folder", f"data.path={few}", f"data.image_size={SIDE}",
        "-o", str(tmp_path / "x.pt"), "-q"])
    assert isinstance(result.exception, ConfigError) and "has 20 images" in str(result.exception)


def test_the_command_line_with_labels_writes_one_network_with_a_class_head(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))
    data = _images()
    root = tmp_path / "classes"
    pixels = ((data.tensor + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for index, (image, label) in enumerate(zip(pixels, data.labels.tolist())):
        folder = root / data.class_names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{index}.png")
    out = tmp_path / "joint.pt"
    result = CliRunner().invoke(evaluator_app, [
        "train", "--self-supervised", "--with-labels", "--data", "folder", f"data.path={root}", "data.channels=3",
        f"data.image_size={SIDE}", "-o", str(out), "--epochs", "3", "--batch-size", "50", "-q"])
    assert result.exit_code == 0, result.output
    assert "held-out accuracy" in result.output and "on 400 images" in result.output
    evaluator = load_evaluator(out)
    assert sorted(evaluator.class_names) == ["bottom", "top"] and evaluator.report["with_labels"] is True
