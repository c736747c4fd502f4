"""Trainer: reproducibility, exact resume after SIGKILL and Ctrl-C, damaged checkpoints, NaN stop."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import gankit
from gankit.errors import CheckpointError, TrainingDiverged
from gankit.files.checkpoint import load_checkpoint, load_latest


def _weights(run_dir: Path) -> dict:
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    return {"G": state["generator"], "D": state["discriminator"],
            "gopt": state["g_optimizer"]["state"], "dopt": state["d_optimizer"]["state"]}


def _assert_identical(a: dict, b: dict) -> None:
    for net in ("G", "D"):
        assert a[net].keys() == b[net].keys()
        for key in a[net]:
            assert torch.equal(a[net][key], b[net][key]), f"{net}.{key} differs"
    for opt in ("gopt", "dopt"):
        for index in a[opt]:
            for name, value in a[opt][index].items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(b[opt][index][name])), f"{opt} {name}"


def test_run_folder_and_reproducibility(tmp_path, tiny_overrides):
    overrides = tiny_overrides + ["eval.every=1", "train.sample_every=1"]
    first = gankit.train("toy-ring8", overrides=overrides, out=tmp_path / "a")
    second = gankit.train("toy-ring8", overrides=overrides, out=tmp_path / "b")
    for name in ("config.toml", "metrics.jsonl", "final_metrics.json", "checkpoints/last.pt",
                 "checkpoints/best.pt", "samples/epoch_0003.png", "plots/losses.png"):
        assert (first.path / name).exists(), name
    records = [json.loads(line) for line in (first.path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert {"g_loss", "d_loss_real", "d_loss_fake", "time", "step", "modes_captured"} <= records[0].keys()
    timing = {"time", "epoch_seconds", "samples_per_second"}
    strip = lambda rows: [{k: v for k, v in r.items() if k not in timing} for r in rows]  # noqa: E731
    assert strip(first.history) == strip(second.history)
    _assert_identical(_weights(first.path), _weights(second.path))
    assert torch.equal(first.sample(50, seed=3), second.sample(50, seed=3))
    other = gankit.train("toy-ring8", overrides=overrides + ["train.seed=1"], out=tmp_path / "c")
    assert strip(other.history) != strip(first.history)


def test_config_toml_reproduces_the_run(tmp_path, tiny_overrides):
    first = gankit.train("toy-ring8", overrides=tiny_overrides, out=tmp_path / "a")
    again = gankit.train(first.path / "config.toml", out=tmp_path / "b")
    _assert_identical(_weights(first.path), _weights(again.path))


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "gankit", *args]


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        assert process.poll() is None, process.stderr.read() if process.stderr else "process ended"
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.01)


@pytest.mark.parametrize("how", ["sigkill", "sigint"])
def test_killed_run_resumes_bit_identical(tmp_path, tiny_overrides, how):
    overrides = tiny_overrides + ["data.n_samples=4096", "train.epochs=25", "model.d_dropout=0.1",
                                  "train.ema_decay=0.9", "train.lr_decay=linear"]
    reference = gankit.train("toy-ring8", overrides=overrides, out=tmp_path / "reference")

    run_dir = tmp_path / "killed"
    process = subprocess.Popen(_cli("train", "toy-ring8", *overrides, "--out", str(run_dir)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(run_dir / "checkpoints" / "epoch_0002.pt", process)
    process.send_signal(signal.SIGKILL if how == "sigkill" else signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert not (run_dir / "final_metrics.json").exists(), "the run finished before it was stopped"
    if how == "sigint":
        assert process.returncode == 130, stderr
        assert "--resume" in stderr
    else:
        assert process.returncode == -signal.SIGKILL

    resumed = subprocess.run(_cli("train", str(run_dir), "--resume", "-q"), capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    _assert_identical(_weights(reference.path), _weights(run_dir))
    epochs = [json.loads(line)["epoch"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert epochs == list(range(1, 26))


def test_truncated_checkpoint_is_reported_and_previous_loads(tmp_path, tiny_overrides):
    run = gankit.train("toy-ring8", overrides=tiny_overrides + ["train.epochs=2"], out=tmp_path / "r")
    last = run.path / "checkpoints" / "last.pt"
    data = last.read_bytes()
    last.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(last)
    state, path, warnings = load_latest(run.path / "checkpoints")
    assert path.name == "epoch_0002.pt" and state["epoch"] == 2
    assert warnings and "last.pt" in warnings[0]
    resumed = gankit.train(run.path, resume=True, overrides=["train.epochs=3"])
    assert resumed.history[-1]["epoch"] == 3
    (run.path / "checkpoints" / "not_a_checkpoint.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not_a_checkpoint.pt"):
        load_checkpoint(run.path / "checkpoints" / "not_a_checkpoint.pt")


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, tiny_overrides):
    run = gankit.train("toy-ring8", overrides=tiny_overrides + ["train.epochs=2"], out=tmp_path / "r")
    before = (run.path / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(TrainingDiverged) as info:
        gankit.train(run.path, resume=True,
                     overrides=["train.epochs=4", "train.d_lr=1e30", "train.g_lr=1e30"])
    message = str(info.value)
    assert "step" in message and "objective bce" in message and "last.pt" in message
    assert (run.path / "checkpoints" / "last.pt").read_bytes() == before
    assert load_checkpoint(run.path / "checkpoints" / "last.pt")["epoch"] == 2


def test_curves_and_report_follow_each_evaluation(tmp_path, tiny_overrides):
    """An evaluation epoch that is not a sample epoch still redraws the curves and the page."""
    from gankit.config import load_config
    from gankit.training.trainer import Trainer

    config = load_config("toy-ring8", tiny_overrides + ["train.epochs=5", "train.sample_every=3", "eval.every=1"])
    trainer = Trainer(config, tmp_path / "run")
    trainer.run_epoch()
    trainer.position.epoch, trainer.position.batch = 1, 0
    trainer._after_epoch([])
    run = tmp_path / "run"
    assert not (run / "samples" / "epoch_0001.png").exists()
    assert (run / "plots" / "metrics.png").exists() and (run / "plots" / "losses.png").exists()
    assert "in progress at epoch 1 of 5" in (run / "report.html").read_text()
