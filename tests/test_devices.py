"""Devices and speed options: train.device, bf16 autocast, torch.compile wrappers, the step's
fast paths (separate D passes where batch norm needs them, diagnostics columns)."""

import pytest
import torch

import gankit
from gankit.config import load_config
from gankit.errors import ConfigError
from gankit.files.checkpoint import load_checkpoint
from gankit.training.distributed import Distributed, resolve_device
from gankit.training.trainer import Trainer
from gankit.training.types import STAT_NAMES

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def test_auto_device_is_cpu_without_cuda_and_cuda_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="no CUDA device"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="auto, cpu, cuda"):
        resolve_device("tpu")


def test_auto_device_under_ddp_is_the_local_rank_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto", Distributed(3, 4, 1)) == torch.device("cuda", 1)
    assert resolve_device("cpu", Distributed(3, 4, 1)) == torch.device("cpu")
    with pytest.raises(ConfigError, match="one process per GPU"):
        resolve_device("cuda", Distributed(2, 4, 2))


def test_bf16_autocast_trains_with_float32_weights(tmp_path, tiny_overrides):
    run = gankit.train("toy-ring8", overrides=tiny_overrides + ["train.autocast=bf16", "train.device=cpu"],
                       out=tmp_path / "bf16")
    plain = gankit.train("toy-ring8", overrides=tiny_overrides + ["train.device=cpu"], out=tmp_path / "fp32")
    state = load_checkpoint(run.path / "checkpoints" / "last.pt")
    assert all(t.dtype == torch.float32 and torch.isfinite(t).all() for t in state["generator"].values())
    assert all(r["g_loss"] is not None for r in run.history)
    assert not torch.equal(state["generator"]["net.0.weight"],
                           load_checkpoint(plain.path / "checkpoints" / "last.pt")["generator"]["net.0.weight"])


def test_compile_wraps_training_passes_but_checkpoints_store_plain_modules(tmp_path, tiny_overrides):
    overrides = tiny_overrides + ["train.compile=true", "train.epochs=1", "train.device=cpu"]
    trainer = Trainer(load_config("toy-ring8", overrides), tmp_path / "run")
    models = trainer.models
    assert models.generator_train is not None and models.generator_train is not models.generator
    trainer.fit()  # compiles on the first step (seconds on a CPU)
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert set(state["generator"]) == set(models.generator.state_dict())
    assert not any(key.startswith("_orig_mod.") for key in state["discriminator"])
    assert all(torch.isfinite(t).all() for t in state["generator"].values())


def test_discriminator_with_batch_norm_sees_real_and_fake_in_separate_passes(tmp_path, tiny_overrides):
    images = ["data.name=mnist", "data.limit=64", "model.family=dcgan", "model.base_width=4", "model.latent_dim=8",
              "train.batch_size=32", "train.epochs=1"]
    separate = Trainer(load_config("toy-ring8", tiny_overrides + images + ["model.d_batch_norm=true"]), tmp_path / "a")
    joint = Trainer(load_config("toy-ring8", tiny_overrides + images), tmp_path / "b")
    assert not separate.step_fn.concat_real_fake and joint.step_fn.concat_real_fake
    separate.fit()


def test_diagnostics_columns_can_be_switched_off_for_benchmarks(tmp_path, tiny_overrides):
    trainer = Trainer(load_config("toy-ring8", tiny_overrides), tmp_path / "run")
    real = trainer.data[:64]
    row = trainer.step_fn(real, True)
    assert torch.isfinite(row).all() and row[STAT_NAMES.index("g_grad_norm")] > 0
    trainer.step_fn.record_diagnostics = False
    row = trainer.step_fn(real, True)
    for name in ("d_real_prob", "d_fake_prob", "g_grad_norm"):
        assert torch.isnan(row[STAT_NAMES.index(name)])
    assert torch.isfinite(row[:6]).all()


@needs_cuda
def test_cuda_run_with_bf16_autocast(tmp_path, tiny_overrides):
    run = gankit.train("toy-ring8", overrides=tiny_overrides + ["train.device=cuda", "train.autocast=bf16"],
                       out=tmp_path / "cuda")
    state = load_checkpoint(run.path / "checkpoints" / "last.pt")
    assert all(torch.isfinite(t).all() for t in state["generator"].values())
    resumed = gankit.train(run.path, resume=True, overrides=["train.epochs=4"])
    assert resumed.history[-1]["epoch"] == 4

