"""Rough edges of training found by trying to break it: each failure is one line that says
what to do (never a traceback), and a user's files are left as they were."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import gankit
from fault_tools import cli, fail_fsync_of, killed_after_epoch as _killed_after_epoch, one_error_line, file_snapshot as _snapshot
from gankit.config import coerce_config
from gankit.data.folder import load_folder
from gankit.errors import ConfigError, DataError, OutputError
from gankit.files.checkpoint import load_checkpoint
from gankit.files.records import REJECTED_NAME
from gankit.models.size import check_fits, parameter_counts, training_bytes
from gankit.training.trainer import Trainer

_cli = cli
_one_error_line = one_error_line


SMALL = ["data.name=ring8", "data.n_samples=1024", "train.batch_size=64", "model.g_hidden=16,16",
         "model.d_hidden=16,16", "model.pack=1", "train.epochs=3", "train.sample_every=0",
         "train.checkpoint_every=1", "eval.every=0", "eval.n=200", "train.progress=false"]








@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished small run, read-only for the tests (copy it to change it)."""
    return gankit.train("toy-ring8", overrides=SMALL, out=tmp_path_factory.mktemp("runs") / "reference").path


# ---------------------------------------------------------------- --nproc

def test_nproc_failures_exit_non_zero_with_one_line(tmp_path):
    result = _cli("train", "toy-ring8", *SMALL, "model.nope=3", "--nproc", "2", "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert "unknown config key 'model.nope'" in _one_error_line(result)
    assert not (tmp_path / "run").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes\n")
    before = _snapshot(mine)
    result = _cli("train", "toy-ring8", *SMALL, "--nproc", "2", "--out", str(mine))
    assert result.returncode == 1
    assert "not a folder made by gankit" in _one_error_line(result)
    assert _snapshot(mine) == before


# ---------------------------------------------------------------- damaged run files

def _epochs(run: Path) -> list[int]:
    return [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_an_incomplete_metric_record_is_set_aside_on_resume(trained, tmp_path):
    run = tmp_path / "run"
    _killed_after_epoch(trained, run, 2)
    incomplete = b'{"epoch": 1, "step": 7, "g_loss": 1.0}'
    with open(run / "metrics.jsonl", "ab") as handle:
        handle.write(incomplete + b"\n")
    report = _cli("report", str(run))
    assert report.returncode == 0, report.stderr
    assert "skipped 1 line(s) that are not metric records (line 3: no 'd_loss_real'" in report.stderr
    resumed = _cli("train", str(run), "--resume", "-q")
    assert resumed.returncode == 0 and "Traceback" not in resumed.stderr, resumed.stderr
    assert f"moved them to {run / REJECTED_NAME}" in resumed.stderr
    assert (run / REJECTED_NAME).read_bytes() == incomplete + b"\n"
    assert _epochs(run) == [1, 2, 3]


def test_an_incomplete_checkpoint_falls_back_to_the_previous_epoch(trained, tmp_path):
    run = tmp_path / "run"
    _killed_after_epoch(trained, run, 2)
    torch.save({"format": 1}, run / "checkpoints" / "last.pt")
    sampled = _cli("sample", str(run), "-n", "10", "-o", str(tmp_path / "points.csv"))
    assert sampled.returncode == 0, sampled.stderr
    assert "not a complete gankit checkpoint (no 'config'); using epoch_0002.pt" in sampled.stderr
    resumed = _cli("train", str(run), "--resume", "-q")
    assert resumed.returncode == 0 and "Traceback" not in resumed.stderr, resumed.stderr
    assert "skipped damaged checkpoint: " in resumed.stderr and "last.pt' is not a complete" in resumed.stderr
    assert _epochs(run) == [1, 2, 3] and load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 3


@pytest.mark.parametrize("payload", [{"format": 1}, {"format": 1, "config": {}, "epoch": "two"}, [1, 2]])
def test_a_run_without_a_good_checkpoint_fails_in_one_line(trained, tmp_path, payload):
    run = tmp_path / "run"
    _killed_after_epoch(trained, run, 2)
    for path in (run / "checkpoints").glob("*.pt"):
        torch.save(payload, path)
    before = _snapshot(run)
    for command in (["train", str(run), "--resume"], ["sample", str(run), "-o", str(tmp_path / "x.csv")],
                    ["sample", str(run), "--checkpoint", "epoch_0001", "-o", str(tmp_path / "x.csv")]):
        result = _cli(*command)
        assert result.returncode == 1
        line = _one_error_line(result)
        assert "not a complete gankit checkpoint" in line or "is not a gankit checkpoint" in line
    after = _snapshot(run)
    for own in (".gankit.lock", ".gankit"):  # the lock file is left, empty; the copy is adopted as gankit's
        after.pop(own, None), before.pop(own, None)
    assert after == before and not (tmp_path / "x.csv").exists()


# ---------------------------------------------------------------- a full disk

def test_a_disk_full_before_the_first_checkpoint_says_to_start_again(tmp_path, monkeypatch):
    run = tmp_path / "run"
    fail_fsync_of(monkeypatch, f"{run.name}/checkpoints/")
    with pytest.raises(OutputError) as error:
        gankit.train("toy-ring8", overrides=SMALL, out=run)
    monkeypatch.undo()
    line = str(error.value)
    assert "no checkpoint had been saved yet, so there is nothing to resume" in line and "--resume" not in line
    command = line.split("start again with: gankit ")[1].split()
    assert command == ["train", str(run / "config.toml"), "--out", str(run), "--force"]
    resumed = _cli("train", str(run), "--resume")
    assert resumed.returncode == 1
    assert f"nothing to resume in {run}: no checkpoint was saved; start again with: gankit train" in \
        _one_error_line(resumed)
    again = _cli(*command, "-q")
    assert again.returncode == 0, again.stderr
    assert _epochs(run) == [1, 2, 3] and load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 3


# ---------------------------------------------------------------- configs refused up front

@pytest.mark.parametrize("target, overrides, key", [
    ("toy-ring8", [*SMALL, "model.g_batch_norm=true"], "model.g_batch_norm"),
    ("mnist-dcgan", [], "model.g_batch_norm"),
    ("toy-ring8", [*SMALL, "objective.mode_seeking_weight=1"], "objective.mode_seeking_weight"),
])
def test_a_batch_of_one_with_batch_norm_is_refused(tmp_path, target, overrides, key):
    result = _cli("train", target, *overrides, "train.batch_size=1", "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    line = _one_error_line(result)
    assert f"train.batch_size: 1 sample per batch does not work with {key}" in line
    assert "use train.batch_size=2 or more" in line and not (tmp_path / "run").exists()


def test_a_batch_of_one_without_batch_norm_trains(tmp_path):
    run = gankit.train("toy-ring8", overrides=SMALL + ["train.batch_size=1", "data.n_samples=64", "train.epochs=1"],
                       out=tmp_path / "run")
    assert [record["step"] for record in run.history] == [64]


@pytest.mark.parametrize("text", ["x = " + "[" * 10_000 + "]" * 10_000,
                                  "[model]\ng_hidden = " + "{a = " * 5_000 + "1" + "}" * 5_000])
def test_a_deeply_nested_toml_file_is_one_config_error(tmp_path, text):
    path = tmp_path / "deep.toml"
    path.write_text(text + "\n")
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="nested too deeply"):
        coerce_config(path)
    result = _cli("train", str(path), "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and "nested too deeply" in _one_error_line(result)
    assert path.read_bytes() == before and not (tmp_path / "run").exists()


@pytest.mark.parametrize("target, overrides, key", [
    ("toy-ring8", [*SMALL, "model.latent_dim=1000000000"], "model.latent_dim"),
    ("toy-ring8", [*SMALL, "model.g_hidden=200000,200000"], "model.g_hidden"),
    ("toy-ring8", [*SMALL, "model.d_hidden=16,200000,200000"], "model.d_hidden"),
    ("mnist-dcgan", ["model.base_width=200000"], "model.base_width"),
])
def test_networks_larger_than_memory_are_refused_before_they_are_built(tmp_path, target, overrides, key):
    result = _cli("train", target, *overrides, "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    line = _one_error_line(result)
    assert line.startswith(f"error: {key}: training these networks needs about ") and line.endswith("; lower it")
    assert "more than this machine's memory" in line and not (tmp_path / "run").exists()


def test_the_memory_estimate_counts_every_copy_of_the_parameters():
    config = coerce_config("toy-ring8", SMALL)
    g, d = parameter_counts(config.model, (2,))
    assert (g, d) == (2 * 16 + 16 + 16 * 16 + 16 + 16 * 2 + 2, 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1)
    assert training_bytes(config.model, (2,), ema=True) == 4 * (5 * g + 4 * d)
    check_fits(config.model, (2,), None, memory=10**6, latent_rows=100)
    with pytest.raises(ConfigError, match="the model's widths: .* more than this machine's memory"):
        check_fits(config.model, (2,), None, memory=1000)


@pytest.mark.parametrize("overrides, message", [
    (["eval.k=500"], "eval.k: 500 nearest neighbours need more than 500 samples, but eval.n is 200"),
    (["eval.k=150", "data.n_samples=100", "train.batch_size=50"],
     "eval.k: 150 nearest neighbours need more than 150 real samples, but the data has 100"),
])
def test_eval_k_is_checked_before_training(tmp_path, overrides, message):
    result = _cli("train", "toy-ring8", *SMALL, *overrides, "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and message in _one_error_line(result)
    assert not (tmp_path / "run").exists()


def test_eval_feature_files_are_loaded_before_training(tmp_path, monkeypatch):
    garbage = tmp_path / "best.pt"
    garbage.write_bytes(b"not a classifier")
    for setting, message in ((f"eval.features={tmp_path / 'missing' / 'best.pt'}", "not found"),
                             (f"eval.features={garbage}", "cannot be read"),
                             (f"eval.evaluator={tmp_path / 'evaluator.pt'}", "not found")):
        started = []
        monkeypatch.setattr(Trainer, "run_epoch", lambda self, progress=None: started.append(self.position.epoch))
        with pytest.raises(DataError, match=message):
            gankit.train("mnist-dcgan", overrides=["data.limit=64", "train.batch_size=32", setting],
                         out=tmp_path / "run")
        assert started == [] and not (tmp_path / "run").exists()


# ---------------------------------------------------------------- image folders

def test_an_empty_class_folder_is_left_out_with_a_warning(tmp_path):
    from PIL import Image

    shapes = tmp_path / "shapes"
    for name, value in (("dark", 40), ("light", 220)):
        (shapes / name).mkdir(parents=True)
        for index in range(16):
            Image.new("L", (8, 8), value + index % 5).save(shapes / name / f"{index}.png")
    (shapes / "empty").mkdir()
    (shapes / "broken").mkdir()
    (shapes / "broken" / "0.png").write_bytes(b"not an image")
    before = _snapshot(shapes)
    dataset = load_folder(shapes, image_size=8, use_cache=False)
    assert dataset.class_names == ["dark", "light"] and dataset.labels.tolist() == [0] * 16 + [1] * 16
    assert dataset.notes == [f"{shapes}: class folder(s) broken/, empty/ hold no usable images and are left out; "
                             "the data has 2 class(es): dark, light"]
    common = ["folder-dcgan32", f"data.path={shapes}", "data.image_size=8", "model.family=mlp", "model.g_hidden=16",
              "model.d_hidden=16", "model.latent_dim=4", "model.g_output=tanh", "train.batch_size=16",
              "train.epochs=1", "eval.every=0", "train.progress=false", "train.tensorboard=false",
              "train.sample_every=0", "model.conditional=true"]
    result = _cli("train", *common, "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert f"warning: {dataset.notes[0]}" in result.stderr.splitlines()
    assert gankit.load_run(tmp_path / "run").class_names == ["dark", "light"]
    assert _snapshot(shapes) == before


@pytest.mark.parametrize("preset, shape, n_classes", [
    ("toy-ring8", (2,), None), ("mnist-dcgan", (1, 28, 28), None), ("mnist-dcgan-keras", (1, 28, 28), None),
    ("mnist-cdcgan", (1, 28, 28), 10), ("folder-rgb64", (3, 64, 64), None), ("stacked-mnist-dcgan", (3, 28, 28), None),
])
def test_networks_built_without_storage_count_as_the_real_ones(preset, shape, n_classes):
    from gankit.models import build_models

    config = coerce_config(preset, ["model.spectral_norm=true", "model.minibatch_kernels=3", "data.path=x"])
    real = [sum(t.numel() for t in (*net.parameters(), *net.buffers()))
            for net in build_models(config.model, shape, n_classes)]
    assert list(parameter_counts(config.model, shape, n_classes)) == real
