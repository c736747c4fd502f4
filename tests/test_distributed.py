"""Multi-process training (torchrun, DDP on gloo): equal to one process with the same global
batch, rank 0 alone writes the run folder, checkpoints resume across process counts."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import gankit
from gankit.errors import ConfigError
from gankit.training import distributed, launch
from gankit.files.checkpoint import load_checkpoint

# An MLP without batch norm or dropout: per-sample losses, so the DDP-averaged gradient of
# two half batches is the gradient of the whole batch. EMA and linear LR decay included.
SMALL = [
    "data.name=ring8", "data.n_samples=512", "train.batch_size=64", "model.g_hidden=32,32",
    "model.d_hidden=32,32", "model.pack=2", "train.sample_every=0", "train.checkpoint_every=1",
    "train.keep_checkpoints=5", "eval.every=0", "train.progress=false", "train.tensorboard=false",
    "train.ema_decay=0.9", "train.lr_decay=linear", "train.device=cpu",
]
TOLERANCE = 1e-5


def _gankit_train(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "gankit", "train", *args, "-q"], capture_output=True, text=True,
                            timeout=240, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _assert_close(reference: Path, other: Path) -> None:
    a, b = load_checkpoint(reference), load_checkpoint(other)
    assert (a["epoch"], a["step"]) == (b["epoch"], b["step"])
    for net in ("generator", "discriminator", "generator_ema"):
        assert a[net].keys() == b[net].keys()
        assert not any(key.startswith(("module.", "_orig_mod.")) for key in b[net]), "wrapper prefix stored"
        for key in a[net]:
            difference = (a[net][key] - b[net][key]).abs().max().item()
            assert difference <= TOLERANCE, f"{net}.{key} differs by {difference}"


def _epochs(run_dir: Path) -> list[int]:
    return [json.loads(line)["epoch"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _rewind(run_dir: Path, copy: Path, epochs: int) -> Path:
    """A copy of ``run_dir`` whose newest checkpoint is the end of epoch ``epochs - 1``."""
    shutil.copytree(run_dir, copy)
    for name in ("last.pt", f"epoch_{epochs:04d}.pt"):
        (copy / "checkpoints" / name).unlink()
    return copy


def test_two_gloo_processes_equal_one_process_and_resume_in_one(tmp_path):
    reference = gankit.train("toy-ring8", overrides=SMALL + ["train.epochs=3"], out=tmp_path / "one").path
    ddp = tmp_path / "two"
    _gankit_train("toy-ring8", *SMALL, "train.epochs=3", "--out", str(ddp), "--nproc", "2")
    _assert_close(reference / "checkpoints" / "last.pt", ddp / "checkpoints" / "last.pt")
    assert _epochs(ddp) == [1, 2, 3], "one record per epoch: only rank 0 writes metrics.jsonl"
    one_records = [json.loads(line) for line in (reference / "metrics.jsonl").read_text().splitlines()]
    two_records = [json.loads(line) for line in (ddp / "metrics.jsonl").read_text().splitlines()]
    for one, two in zip(one_records, two_records):  # the logged statistics are the global batch's
        for key in ("d_loss_real", "d_loss_fake", "g_loss", "d_real_prob", "g_grad_norm"):
            assert two[key] == pytest.approx(one[key], rel=1e-4, abs=1e-6), key
    # A DDP checkpoint continues in one process as if the whole run had been one process.
    resumed = _rewind(ddp, tmp_path / "resumed", 3)
    gankit.train(resumed, resume=True)
    _assert_close(reference / "checkpoints" / "last.pt", resumed / "checkpoints" / "last.pt")
    assert _epochs(resumed) == [1, 2, 3]


def test_one_process_checkpoint_resumes_under_ddp_with_gradient_penalty_and_n_critic(tmp_path):
    overrides = SMALL + ["objective.name=wgan-gp", "train.n_critic=2", "train.epochs=2", "train.lr_decay=none"]
    reference = gankit.train("toy-ring8", overrides=overrides, out=tmp_path / "one").path
    resumed = _rewind(reference, tmp_path / "resumed", 2)
    _gankit_train(str(resumed), "--resume", "--nproc", "2")
    _assert_close(reference / "checkpoints" / "last.pt", resumed / "checkpoints" / "last.pt")
    assert _epochs(resumed) == [1, 2]


def test_rank_rows_split_the_global_batch_into_whole_packs():
    assert distributed.rank_rows(64, 2, distributed.SINGLE) == slice(0, 64)
    assert distributed.rank_rows(64, 2, distributed.Distributed(1, 2, 1)) == slice(32, 64)
    assert distributed.rank_rows(60, 1, distributed.Distributed(2, 3, 2)) == slice(40, 60)
    with pytest.raises(ConfigError, match="global batch"):
        distributed.rank_rows(64, 1, distributed.Distributed(0, 3, 0))
    with pytest.raises(ConfigError, match="model.pack=4"):
        distributed.rank_rows(24, 4, distributed.Distributed(0, 4, 0))  # 6 rows: not whole packs of 4


def test_place_comes_from_torchrun_environment(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.from_environment() == distributed.SINGLE and distributed.is_main_process()
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    place = distributed.from_environment()
    assert place == distributed.Distributed(3, 4, 1) and place.enabled and not place.is_main
    assert not distributed.is_main_process()


def test_launch_command_is_torchrun_of_gankit_train():
    command = launch.launch_command(["toy-ring8", "train.epochs=2", "--out", "runs/x"], 2)
    assert command[:3] == [sys.executable, "-c", "from gankit.training.launch import torchrun; torchrun()"]
    assert "--standalone" in command and "--nproc_per_node=2" in command
    assert command[-6:] == ["gankit", "train", "toy-ring8", "train.epochs=2", "--out", "runs/x"]
    with pytest.raises(ConfigError):
        launch.launch_command([], 0)


def test_sync_batch_norm_needs_cuda():
    with pytest.raises(ConfigError, match="CUDA"):
        distributed.wrap(torch.nn.BatchNorm1d(3), distributed.Distributed(0, 2, 0), torch.device("cpu"),
                         sync_batch_norm=True)
