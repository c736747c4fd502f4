"""The command line end to end: train, sample, eval, presets; and the Python API beside it."""

import json
import subprocess
import sys

import numpy as np
import pytest

import gankit


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_train_sample_eval_on_a_users_point_file(tmp_path, tiny_overrides):
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(-1, 0.1, (300, 3)), rng.normal(1, 0.1, (300, 3))])
    data = tmp_path / "points.csv"
    np.savetxt(data, points, delimiter=",", header="a,b,c", comments="")
    overrides = [o for o in tiny_overrides if not o.startswith("data.")]
    run_dir = tmp_path / "run"
    result = _cli("train", "toy-ring8", *overrides, "data.name=points", f"data.path={data}",
                  "--out", str(run_dir), "-q")
    assert result.returncode == 0, result.stderr
    assert "run folder" in result.stdout

    result = _cli("sample", str(run_dir), "-n", "123", "-o", str(tmp_path / "s.csv"))
    assert result.returncode == 0, result.stderr
    rows = (tmp_path / "s.csv").read_text().splitlines()
    assert rows[0] == "x0,x1,x2" and len(rows) == 124
    result = _cli("sample", str(run_dir), "-n", "77", "-o", str(tmp_path / "s.npy"), "--seed", "5")
    assert result.returncode == 0, result.stderr
    assert np.load(tmp_path / "s.npy").shape == (77, 3)

    result = _cli("eval", str(run_dir), "--json", str(tmp_path / "m.json"), "-n", "300")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert {"precision", "recall", "density", "coverage", "energy_distance"} <= metrics.keys()
    assert "modes_captured" not in metrics  # a user's file has no known modes


def test_eval_json_keys_for_modes_and_curves(tmp_path, tiny_overrides):
    run = gankit.train("toy-ring8", overrides=tiny_overrides, out=tmp_path / "ring")
    result = _cli("eval", str(run.path), "--json", str(tmp_path / "ring.json"))
    assert result.returncode == 0, result.stderr
    ring = json.loads((tmp_path / "ring.json").read_text())
    assert {"modes_captured", "high_quality", "precision", "recall", "density", "coverage"} <= ring.keys()
    assert ring == run.evaluate()

    overrides = [o for o in tiny_overrides if not o.startswith("data.")] + ["data.n_samples=512"]
    spiral = gankit.train("toy-spiral", overrides=overrides, out=tmp_path / "spiral")
    metrics = spiral.evaluate()
    assert {"curve_distance", "curve_coverage"} <= metrics.keys()


def test_presets_lists_names_and_descriptions():
    result = _cli("presets")
    assert result.returncode == 0
    for name in ("toy-line", "toy-parabola", "toy-spiral", "toy-ring8", "toy-grid25"):
        assert name in result.stdout


def test_errors_are_one_clear_line(tmp_path):
    result = _cli("sample", str(tmp_path), "-n", "5", "-o", str(tmp_path / "x.csv"))
    assert result.returncode == 1 and "not a run folder" in result.stderr
    result = _cli("train", "toy-ring8", "data.name=points", f"data.path={tmp_path / 'missing.csv'}",
                  "--out", str(tmp_path / "r"))
    assert result.returncode == 1 and "missing.csv" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_existing_run_folder_is_not_overwritten(tmp_path, tiny_overrides):
    gankit.train("toy-ring8", overrides=tiny_overrides + ["train.epochs=1"], out=tmp_path / "r")
    result = _cli("train", "toy-ring8", *tiny_overrides, "--out", str(tmp_path / "r"))
    assert result.returncode == 1 and "--resume" in result.stderr


@pytest.mark.parametrize("args, message", [(["sample", "--bogus", "x"], "No such option: --bogus"),
                                           (["sample"], "Missing argument")])
def test_usage_errors_print_usage_not_a_traceback(args, message):
    result = _cli(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
