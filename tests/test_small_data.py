"""Small-data training end to end: DiffAugment and ADA in the step, R1 and LeCam in D's loss,
exact resume with the adaptive p, and clear errors for settings that cannot work."""

import json
import shutil
import subprocess
import sys

import pytest
import torch

import gankit
from gankit.config import coerce_config
from gankit.errors import ConfigError
from gankit.files.checkpoint import load_checkpoint

TINY_IMAGES = ["data.limit=256", "model.base_width=8", "train.batch_size=64", "train.epochs=4", "eval.n=200",
               "eval.every=0", "eval.bootstrap=0", "train.progress=false", "train.sample_every=0",
               "train.checkpoint_every=1", "train.tensorboard=false"]
ADAPTIVE = ["augment.policy=color,translation,cutout", "augment.adaptive=true", "augment.speed_kimg=0.5",
            "augment.interval=2", "objective.r1_weight=0.2", "objective.r1_interval=3", "objective.lecam_weight=0.1"]


def _weights(run_dir):
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    return {f"{part}.{key}": value for part in ("generator", "discriminator") for key, value in state[part].items()}


def test_adaptive_p_is_logged_and_a_resumed_run_continues_exactly(tmp_path):
    reference = gankit.train("mnist-dcgan", overrides=TINY_IMAGES + ADAPTIVE, out=tmp_path / "reference")
    history = reference.history
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]
    assert all(0.0 <= r["augment_p"] <= 1.0 for r in history) and history[-1]["augment_p"] > 0
    assert all(-1.0 <= r["augment_r"] <= 1.0 for r in history)

    run = tmp_path / "killed"  # the same run as it stood when killed after epoch 2
    shutil.copytree(reference.path, run)
    checkpoints = run / "checkpoints"
    shutil.copy(checkpoints / "epoch_0002.pt", checkpoints / "last.pt")
    for later in ("epoch_0003.pt", "epoch_0004.pt"):
        (checkpoints / later).unlink()
    (run / "final_metrics.json").unlink()
    lines = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
    (run / "metrics.jsonl").write_text("".join(lines[:2]))
    assert load_checkpoint(checkpoints / "last.pt")["small_data"]["p"] == history[1]["augment_p"]

    resumed = gankit.train(run, resume=True)
    first, second = _weights(reference.path), _weights(run)
    assert all(torch.equal(first[key], second[key]) for key in first)
    timing = {"time", "epoch_seconds", "samples_per_second"}
    strip = lambda rows: [{k: v for k, v in r.items() if k not in timing} for r in rows]  # noqa: E731
    assert strip(resumed.history) == strip(history)


def test_augmentation_and_regularisers_change_training_and_turn_the_fast_path_off(tmp_path):
    plain = gankit.train("mnist-dcgan", overrides=TINY_IMAGES + ["train.epochs=1"], out=tmp_path / "plain")
    for extra in (["augment.policy=translation"], ["objective.r1_weight=1", "objective.r1_interval=1"],
                  ["objective.lecam_weight=1"]):
        other = gankit.train("mnist-dcgan", overrides=TINY_IMAGES + ["train.epochs=1"] + extra,
                             out=tmp_path / extra[0].split("=")[0])
        a, b = _weights(plain.path), _weights(other.path)
        assert any(not torch.equal(a[key], b[key]) for key in a if key.startswith("discriminator")), extra
    ring = gankit.train("toy-ring8", overrides=["data.n_samples=256", "train.batch_size=64", "train.epochs=1",
                                                "train.progress=false", "objective.lecam_weight=0.5",
                                                "model.pack=1", "eval.n=100", "train.tensorboard=false"],
                        out=tmp_path / "ring")
    assert ring.history[0]["d_loss_real"] == ring.history[0]["d_loss_real"]  # trained, finite
    from gankit.training.trainer import Trainer

    trainer = Trainer(coerce_config("toy-ring8", ["objective.r1_weight=1", "model.pack=1"]), tmp_path / "manual")
    try:
        assert trainer.step_fn.manual_chains() is None  # the hand-written MLP step has no R1 term
    finally:
        trainer.close()


@pytest.mark.parametrize("overrides, message", [
    (["data.name=ring8", "augment.policy=color"], "augmentations act on images"),
    (["augment.policy=colour"], "unknown operation 'colour'"),
    (["augment.adaptive=true"], "needs augment.policy"),
    (["augment.policy=color", "augment.adaptive=true", "objective.name=wgan-gp"], "no sign"),
    (["augment.p=1.5", "augment.policy=flip"], "augment.p: must be in [0, 1]"),
    (["objective.r1_weight=-1"], "objective.r1_weight: must be 0 (off) or positive"),
])
def test_settings_that_cannot_work_are_one_clear_error(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]")):
        coerce_config("mnist-dcgan", overrides)


def test_cli_reports_a_bad_augment_setting_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gankit", "train", "toy-ring8", "augment.policy=color",
                             "--out", str(tmp_path / "r")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: augment.policy: augmentations act on images, and data.name=ring8 is a point set; "
        "leave augment.policy empty"]


def test_config_keys_document_the_new_section():
    listed = subprocess.run([sys.executable, "-m", "gankit", "config", "--keys"], capture_output=True, text=True,
                            timeout=60).stdout
    for key in ("augment.policy", "augment.adaptive", "augment.target", "objective.r1_weight",
                "objective.lecam_weight"):
        assert key in listed, key
    assert json.loads(json.dumps(coerce_config("mnist-dcgan").to_dict()["augment"]))["policy"] == ""
