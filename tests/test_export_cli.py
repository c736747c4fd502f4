"""`gankit export` on the command line: it writes the file and its card; requests that cannot
work (unknown format, no generator, --uint8 for points) end with one error line and exit 2."""

import subprocess
import sys

import numpy as np
import pytest

import gankit

from conftest import TINY
from fault_tools import main_in_process

ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    return gankit.train("toy-ring8", overrides=TINY, out=tmp_path_factory.mktemp("ring") / "run")


def test_export_writes_an_onnx_file_that_samples_and_its_card(ring_run, tmp_path):
    output = tmp_path / "out" / "ring.onnx"
    result = subprocess.run([sys.executable, "-m", "gankit", "export", str(ring_run.path), "--format", "onnx",
                             "-o", str(output)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "ring.onnx" in result.stdout and "ring.onnx.json" in result.stdout
    assert (tmp_path / "out" / "ring.onnx.json").is_file() and (tmp_path / "out" / "ring.onnx.md").is_file()
    z = np.random.default_rng(0).standard_normal((37, ring_run.config.model.latent_dim)).astype(np.float32)
    points = ort.InferenceSession(str(output), providers=["CPUExecutionProvider"]).run(None, {"z": z})[0]
    assert points.shape == (37, 2)
    assert not list((tmp_path / "out").glob(".*tmp*"))  # no temporary files left behind


@pytest.mark.parametrize("arguments, message", [
    (["--format", "tflite"], "unknown export format 'tflite'"),
    (["--format", "onnx", "--uint8"], "--uint8 maps images to pixels"),
    (["--format", "safetensors", "--checkpoint", "epoch_0042"], "does not exist"),
])
def test_bad_requests_give_one_line_and_exit_2(ring_run, tmp_path, monkeypatch, capsys, arguments, message):
    code, _, err = main_in_process(monkeypatch, capsys, "export", str(ring_run.path), "-o", str(tmp_path / "g.out"),
                         *arguments)
    assert code == 2
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "g.out").exists()


def test_a_run_without_a_generator_is_exit_2(ring_run, tmp_path, monkeypatch, capsys):
    untrained = tmp_path / "untrained"
    (untrained / "checkpoints").mkdir(parents=True)
    (untrained / "config.toml").write_text((ring_run.path / "config.toml").read_text())
    for folder, message in ((untrained, "no trained generator"), (tmp_path / "nothing", "not a run folder")):
        code, _, err = main_in_process(monkeypatch, capsys, "export", str(folder), "--format", "onnx", "-o",
                             str(tmp_path / "g.onnx"))
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
