"""DRS, truncation and interpolation on trained runs: Python API and CLI."""

import hashlib
import json

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import gankit
from gankit.cli import app
from gankit.errors import ConfigError

DRS_FAST = {"drs_burn_in": 500}


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    from tests.conftest import TINY

    return gankit.train(None, overrides=TINY, out=tmp_path_factory.mktemp("runs") / "ring")


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    from tests.test_evaluation import MNIST_TINY

    return gankit.train(None, overrides=MNIST_TINY + ["train.epochs=1", "eval.every=0"],
                        out=tmp_path_factory.mktemp("runs") / "mnist")


def test_drs_sample_keeps_n_and_reports_acceptance(ring_run):
    plain = ring_run.sample(300, seed=3)
    accepted = ring_run.sample(300, seed=3, drs=True, **DRS_FAST)
    assert accepted.shape == plain.shape and not torch.equal(accepted, plain)
    report = ring_run.drs_report
    assert 0 < report["drs_acceptance_rate"] <= 1 and report["drs_proposed"] >= 300
    assert "logit" in report["drs_ratio_estimate"] and "95th percentile" in report["drs_gamma"]
    assert torch.equal(accepted, ring_run.sample(300, seed=3, drs=True, **DRS_FAST))  # seeded


def test_drs_with_finetuning_never_touches_the_checkpoint(ring_run, tmp_path):
    last = ring_run.path / "checkpoints" / "last.pt"
    before = hashlib.sha256(last.read_bytes()).hexdigest()
    d_before = [p.clone() for p in ring_run.discriminator.parameters()]
    out = ring_run.save_samples(200, tmp_path / "drs.csv", drs=True, drs_finetune_steps=5, **DRS_FAST)
    assert out.exists() and (tmp_path / "drs.csv.drs-discriminator.pt").exists()
    assert hashlib.sha256(last.read_bytes()).hexdigest() == before
    assert all(torch.equal(a, b) for a, b in zip(d_before, ring_run.discriminator.parameters()))
    tuned = torch.load(tmp_path / "drs.csv.drs-discriminator.pt", weights_only=True)
    assert any(not torch.equal(tuned[k], v) for k, v in ring_run.discriminator.state_dict().items())


def test_drs_refuses_objectives_without_a_density_ratio(tmp_path):
    from tests.conftest import TINY

    run = gankit.train(None, overrides=TINY + ["objective.name=hinge", "train.epochs=1"], out=tmp_path / "hinge")
    with pytest.raises(ConfigError, match="refused for objective 'hinge'"):
        run.sample(10, drs=True)


def test_truncation_shrinks_the_latents_effect(ring_run):
    plain, truncated = ring_run.sample(500, seed=1), ring_run.sample(500, seed=1, truncation=0.5)
    assert truncated.shape == plain.shape and not torch.equal(plain, truncated)
    with pytest.raises(gankit.errors.GankitError, match="drs=True"):
        ring_run.sample(5, drs_burn_in=10)


def test_cli_sample_drs_and_interpolate_points(ring_run, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["sample", str(ring_run.path), "-n", "100", "-o", str(tmp_path / "x.csv"), "--drs",
                                 "--drs-gamma-percentile", "80"])
    assert result.exit_code == 0, result.output
    assert "accepted" in result.output and "80th percentile" in result.output
    result = runner.invoke(app, ["interpolate", str(ring_run.path), "-o", str(tmp_path / "path.png")])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "path.png").size[0] > 100


def test_cli_eval_drs_beside_plain_and_image_interpolation(mnist_run, tmp_path):
    runner = CliRunner()
    out_json = tmp_path / "m.json"
    result = runner.invoke(app, ["eval", str(mnist_run.path), "--drs", "--n", "300", "--json", str(out_json)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(out_json.read_text())
    assert {"fid", "drs_fid", "drs_precision", "drs_acceptance_rate"} <= set(metrics)
    assert "DRS" in result.output and "plain" in result.output
    result = runner.invoke(app, ["interpolate", str(mnist_run.path), "-o", str(tmp_path / "grid.png"),
                                 "--rows", "3", "--steps", "5", "--method", "linear"])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "grid.png").size[0] > 50
