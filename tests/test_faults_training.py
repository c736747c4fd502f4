"""Rough edges of training found by trying to break it: each failure is one line that says
what to do (never a traceback), and a user's files are left as they were."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import gankit

SMALL = ["data.name=ring8", "data.n_samples=1024", "train.batch_size=64", "model.g_hidden=16,16",
         "model.d_hidden=16,16", "model.pack=1", "train.epochs=3", "train.sample_every=0",
         "train.checkpoint_every=1", "eval.every=0", "eval.n=200", "train.progress=false"]


def _cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished small run, read-only for the tests (copy it to change it)."""
    return gankit.train("toy-ring8", overrides=SMALL, out=tmp_path_factory.mktemp("runs") / "reference").path


# ---------------------------------------------------------------- --nproc

def test_nproc_failures_exit_non_zero_with_one_line(tmp_path):
    result = _cli("train", "toy-ring8", *SMALL, "model.nope=3", "--nproc", "2", "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert "unknown config key 'model.nope'" in _one_error_line(result)
    assert not (tmp_path / "run").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes\n")
    before = _snapshot(mine)
    result = _cli("train", "toy-ring8", *SMALL, "--nproc", "2", "--out", str(mine))
    assert result.returncode == 1
    assert "not a run folder made by gankit" in _one_error_line(result)
    assert _snapshot(mine) == before
