"""Diagnostics: each detector on scripted records (fires when it should, with the epoch it
began, and stays quiet otherwise), and end to end on a forced collapse and a healthy run."""

import json
import math

import pytest
import torch
from torch import nn

from gankit.config import load_config
from gankit.training.diagnostics import (
    COLLAPSE_PATIENCE, SATURATION_EPOCHS, VANISHING_EPOCHS, d_saturation, diagnose, mode_collapse, oscillation,
    vanishing_gradients,
)
from gankit.training.trainer import Trainer


def _records(**series):
    """One record per epoch from equal-length lists; None leaves a key out of that epoch."""
    length = len(next(iter(series.values())))
    records = []
    for index in range(length):
        record = {"epoch": index + 1, "step": 10 * (index + 1)}
        record.update({key: values[index] for key, values in series.items() if values[index] is not None})
        records.append(record)
    return records


def _classes(covered, entropy=None):
    entropy = entropy or [math.log(10)] * len(covered)
    return _records(classes_covered=covered, num_classes=[10] * len(covered), class_entropy=entropy)


# ------------------------------------------------------------------ mode collapse
def test_collapse_fires_after_patience_with_the_epoch_it_began():
    assert COLLAPSE_PATIENCE == 2
    assert mode_collapse(_classes([10, 10, 4])) is None  # one bad evaluation is not yet a collapse
    found = mode_collapse(_classes([10, 10, 4, 3]))
    assert found is not None and found.kind == "mode_collapse" and found.since_epoch == 3
    assert "fell from 10 to 3" in found.message


def test_collapse_clears_when_the_generator_recovers():
    assert mode_collapse(_classes([10, 4, 4, 10])) is None
    assert mode_collapse(_classes([10, 8, 8])) is None  # 8 of 10: neither half lost nor below 80%


def test_covering_under_80_percent_is_a_collapse_after_warm_up():
    found = mode_collapse(_classes([10, 6, 6]))
    assert found is not None and found.since_epoch == 2 and "cover 6 of 10 classes" in found.message
    assert mode_collapse(_classes([10, 6, 6]), warmup_epochs=3) is None  # still warming up
    stacked = _records(modes_covered=[300, 700, 700], n_modes=[1000] * 3, modes_kl=[2.0, 0.9, 0.9])
    assert "cover 700 of 1000 modes" in mode_collapse(stacked).message
    assert mode_collapse(_records(modes_covered=[300, 800, 990], n_modes=[1000] * 3, modes_kl=[2.0, 0.9, 0.1])) is None
    # a 2D mode counts only once it is sharp: few captured modes early on is not a collapse
    grid = _records(modes_captured=[0, 5, 12], n_modes=[25] * 3, mode_entropy=[2.9, 2.9, 3.0])
    assert mode_collapse(grid) is None


def test_a_finished_run_with_one_evaluation_is_judged_on_it():
    only_final = _classes([None, None, 6])  # e.g. eval.every = 0: the final evaluation only
    assert mode_collapse(only_final) is None  # still training: patience not met
    assert mode_collapse(only_final, epochs=3).since_epoch == 3
    assert mode_collapse(_classes([None, None, 10]), epochs=3) is None
    assert mode_collapse(_classes([10, 10, 6]), epochs=3) is None  # two evaluations: patience still applies


def test_entropy_drop_and_low_entropy_after_warm_up():
    log10 = math.log(10)
    dropping = _classes([10] * 4, [log10, log10, 0.7 * log10, 0.7 * log10])
    assert mode_collapse(dropping).since_epoch == 3
    low = _classes([10] * 4, [0.4 * log10] * 4)
    assert mode_collapse(low, warmup_epochs=0).since_epoch == 1
    assert mode_collapse(low, warmup_epochs=2).since_epoch == 3
    assert mode_collapse(low, warmup_epochs=3) is None


def test_stacked_modes_use_kl_to_uniform():
    k = 1000
    healthy = _records(modes_covered=[900, 950, 960], n_modes=[k] * 3, modes_kl=[0.5, 0.4, 0.3])
    assert mode_collapse(healthy) is None
    collapsed = _records(modes_covered=[900, 400, 300], n_modes=[k] * 3, modes_kl=[0.5, 3.0, 3.5])
    assert mode_collapse(collapsed).since_epoch == 2


def test_without_mode_counts_recall_falls():
    assert mode_collapse(_records(recall=[0.6, 0.7, 0.3, 0.2])).since_epoch == 3
    assert mode_collapse(_records(recall=[0.6, 0.7, 0.5, 0.5])) is None


def test_records_without_evaluation_are_ignored():
    records = _classes([10, None, 4, None, 4])
    assert mode_collapse(records).since_epoch == 3


# ------------------------------------------------------------------ saturation, gradients
def test_saturation_needs_many_epochs():
    n = SATURATION_EPOCHS
    saturated = _records(d_real_prob=[0.7] + [0.99] * n, d_fake_prob=[0.3] + [0.01] * n)
    assert d_saturation(saturated[:-1]) is None
    assert d_saturation(saturated).since_epoch == 2
    one_sided = _records(d_real_prob=[0.99] * (n + 1), d_fake_prob=[0.2] * (n + 1))
    assert d_saturation(one_sided) is None
    assert d_saturation(_records(g_loss=[1.0] * (n + 1))) is None  # hinge/wgan-gp: no probabilities


def test_vanishing_gradients_relative_to_peak():
    n = VANISHING_EPOCHS
    norms = [1.0, 2.0] + [1e-4] * n
    assert vanishing_gradients(_records(g_grad_norm=norms[:-1])) is None
    found = vanishing_gradients(_records(g_grad_norm=norms))
    assert found.since_epoch == 3 and "below 0.001" in found.message
    assert vanishing_gradients(_records(g_grad_norm=[1.0, 2.0] + [0.01] * n)) is None


# ------------------------------------------------------------------ oscillation
def _zigzag(epochs, fid):
    losses = [1.0 + (0.5 if e % 2 else -0.5) for e in range(epochs)]
    return _records(g_loss=losses, fid=fid)


def test_oscillation_without_progress():
    epochs = 16
    stuck = [None] * epochs
    stuck[1], stuck[3], stuck[9], stuck[15] = 30.0, 20.0, 25.0, 24.0
    found = oscillation(_zigzag(epochs, stuck), eval_every=1)
    assert found is not None and found.since_epoch == 7
    improving = list(stuck)
    improving[15] = 10.0
    assert oscillation(_zigzag(epochs, improving), eval_every=1) is None
    smooth = _records(g_loss=[1.0 + 0.01 * e for e in range(epochs)], fid=stuck)
    assert oscillation(smooth, eval_every=1) is None


def test_diagnose_sorts_by_start():
    n = 6
    records = _records(classes_covered=[10, 10, 3, 3, 3, 3], num_classes=[10] * n,
                       class_entropy=[math.log(10)] * n, d_real_prob=[0.99] * n, d_fake_prob=[0.01] * n)
    assert [d.kind for d in diagnose(records)] == ["d_saturation", "mode_collapse"]


# ------------------------------------------------------------------ end to end
class OneMode(nn.Module):
    """A generator forced to collapse: every latent lands within 0.01·z of one ring8 mode."""

    def __init__(self, centre):
        super().__init__()
        self.centre = nn.Parameter(torch.as_tensor(centre, dtype=torch.float32))

    def forward(self, z):
        return self.centre + 0.01 * z


def _trainer(tmp_path, overrides):
    config = load_config("toy-ring8", overrides)
    return Trainer(config, tmp_path / "run")


def test_forced_collapse_is_detected_and_stops_the_run(tmp_path, tiny_overrides, capsys):
    overrides = tiny_overrides + ["train.epochs=6", "eval.every=1", "train.ema_decay=0",
                                  "train.stop_on_collapse=true", "train.tensorboard=false"]
    trainer = _trainer(tmp_path, overrides)
    trainer.models.generator = OneMode(trainer.dataset.geometry.centers[0])
    final = trainer.fit()
    run = tmp_path / "run"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert records[0]["mode_entropy"] == 0.0 and records[0]["modes_captured"] == 1
    assert final["epoch"] == 3, "train.stop_on_collapse should have ended the 6-epoch run at its 3rd epoch"
    assert "mode collapse since epoch 2" in final["stopped_by"]
    assert [d["kind"] for d in final["diagnostics"]] == ["mode_collapse"]
    assert records[-1]["diagnostics"][0]["since_epoch"] == 2
    assert (run / "checkpoints" / "best.pt").exists() and (run / "checkpoints" / "last.pt").exists()
    assert "warning: mode collapse since epoch 2" in capsys.readouterr().err


@pytest.mark.slow
def test_healthy_ring8_run_stays_quiet(tmp_path, capsys):
    overrides = ["eval.every=1", "eval.n=1000", "train.epochs=12", "train.sample_every=0", "train.tensorboard=false",
                 "train.progress=false", "train.checkpoint_every=0"]
    final = _trainer(tmp_path, overrides).fit()
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["mode_entropy"] > 0.95 * math.log(8), "the run should spread over the 8 modes"
    assert all("diagnostics" not in r for r in records)
    assert final["diagnostics"] == []
    assert "warning" not in capsys.readouterr().err
