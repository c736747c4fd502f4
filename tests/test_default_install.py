"""The default install (``pip install gankit``, no extras) is enough for gankit's commands.

SciPy, scikit-learn, pandas, mlxtend and TensorBoard are dev extras (test oracles, and a
viewer for RUN/tb/). A test environment has them all, so a stray import would never fail
here; each command below therefore runs in a Python that does not see them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import gankit

# Top-level names in site-packages (modules, .libs folders, dist-info) that only the extras
# bring: the extras themselves and what only they pull in.
EXTRAS_ONLY = frozenset({
    "scipy", "sklearn", "scikit_learn", "pandas", "mlxtend", "tensorboard", "tensorboard_data_server",
    "prdc", "ot", "pot", "onnx", "onnxruntime", "playwright", "joblib", "threadpoolctl", "grpc", "grpcio",
    "protobuf", "google", "absl", "absl_py", "markdown", "werkzeug", "pytest", "_pytest", "pyee", "greenlet",
})


@pytest.fixture(scope="module")
def default_install(tmp_path_factory) -> dict[str, str]:
    """The environment of a Python that sees this site-packages minus EXTRAS_ONLY (a folder of
    links to the rest), and gankit's source; ``-S`` keeps the real site-packages away."""
    view = tmp_path_factory.mktemp("site")
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        if re.split(r"[-.]", entry.name)[0].lower() not in EXTRAS_ONLY and not entry.name.endswith(".pth"):
            (view / entry.name).symlink_to(entry)
    source = Path(gankit.__file__).resolve().parents[1]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(source), str(view)])}


def _python(code: str, env: dict[str, str], *args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-S", "-c", code, *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)


def _gankit(*args: str, env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    code = "import sys; from gankit.cli import main; sys.argv = ['gankit', *sys.argv[1:]]; main()"
    return _python(code, env, *args, cwd=cwd)


def test_the_view_hides_the_extras(default_install, tmp_path):
    done = _python("import torch, numpy, PIL, matplotlib, typer, rich, safetensors, gankit; import scipy",
                   default_install, cwd=tmp_path)
    assert done.returncode != 0 and "No module named 'scipy'" in done.stderr, done.stderr[-2000:]


@pytest.mark.slow
def test_train_eval_sample_export_without_the_extras(default_install, tmp_path):
    """An MNIST DCGAN epoch with evaluation, TensorBoard events and the report; eval, sample,
    safetensors export and a toy run: all without any extra installed."""
    run = tmp_path / "digits"
    done = _gankit("train", "mnist-dcgan", "data.limit=256", "train.epochs=1", "eval.n=200", "eval.every=1",
                   "train.sample_every=1", "--out", str(run), "--quiet", env=default_install, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (run / "report.html").is_file() and (run / "final_metrics.json").is_file()
    assert any((run / "tb").glob("events.out.tfevents.*"))
    for args in (("eval", str(run), "-n", "200"), ("sample", str(run), "-n", "8", "-o", str(tmp_path / "s.npz")),
                 ("export", str(run), "--format", "safetensors", "-o", str(tmp_path / "g")),
                 ("train", "toy-ring8", "train.epochs=1", "data.n_samples=512", "--out", str(tmp_path / "ring"),
                  "--quiet")):
        done = _gankit(*args, env=default_install, cwd=tmp_path)
        assert done.returncode == 0, (args, done.stderr[-3000:])
