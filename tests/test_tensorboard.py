"""TensorBoard logs: scalars and sample images land in RUN/tb, and a resumed run logs each step once."""

import json

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import gankit


def _events(run_dir):
    accumulator = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0, "images": 0})
    accumulator.Reload()
    return accumulator


def test_scalars_and_images_are_logged(tmp_path, tiny_overrides):
    run = gankit.train("toy-ring8", overrides=tiny_overrides + ["eval.every=1", "train.sample_every=1"],
                       out=tmp_path / "run")
    events = _events(run.path)
    tags = events.Tags()
    for tag in ("loss/generator", "loss/discriminator_real", "loss/discriminator_fake", "generator/grad_norm",
                "discriminator/p_real_on_real", "metrics/precision", "metrics/modes_captured"):
        assert tag in tags["scalars"], tag
    assert "samples" in tags["images"]
    records = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    logged = events.Scalars("loss/generator")
    assert [e.step for e in logged] == [r["step"] for r in records]
    assert all(abs(e.value - r["g_loss"]) <= 1e-6 * max(1.0, abs(r["g_loss"])) for e, r in zip(logged, records))
    assert len(events.Images("samples")) == 3


def test_resumed_run_logs_each_step_once(tmp_path, tiny_overrides):
    first = gankit.train("toy-ring8", overrides=tiny_overrides, out=tmp_path / "run")
    gankit.train(first.path, overrides=["train.epochs=5"], resume=True)
    steps = [e.step for e in _events(first.path).Scalars("loss/generator")]
    assert steps == sorted(set(steps)) and len(steps) == 5


def test_tensorboard_can_be_switched_off(tmp_path, tiny_overrides):
    run = gankit.train("toy-ring8", overrides=tiny_overrides + ["train.tensorboard=false"], out=tmp_path / "run")
    assert not (run.path / "tb").exists()
