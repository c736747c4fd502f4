"""What the fault and CLI tests share: running the CLI as a user would, and reading folders back."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path


def cli(*args: object, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``gankit ARGS`` in a fresh Python, as a user runs it (a hang fails after ``timeout`` s)."""
    return subprocess.run([sys.executable, "-m", "gankit", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def main_in_process(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI entry point (``gankit.cli.main``) in this process: (exit code, stdout, stderr)."""
    from gankit import cli as gankit_cli

    monkeypatch.setattr(sys, "argv", ["gankit", *args])
    code = 0
    try:
        gankit_cli.main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single ``error:`` line of a failed command; a traceback or a second line fails the test."""
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("error:")]
    assert result.returncode != 0 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def file_snapshot(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root`` (links followed), by relative path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def killed_after_epoch(trained: Path, run: Path, epoch: int) -> None:
    """``run``: a copy of ``trained`` as a run killed right after ``epoch`` looks."""
    shutil.copytree(trained, run)
    checkpoints = run / "checkpoints"
    shutil.copy(checkpoints / f"epoch_{epoch:04d}.pt", checkpoints / "last.pt")
    for later in checkpoints.glob("epoch_*.pt"):
        if int(later.stem[6:]) > epoch:
            later.unlink()
    (checkpoints / "best.pt").unlink(missing_ok=True)
    (run / "final_metrics.json").unlink()
    lines = (run / "metrics.jsonl").read_bytes().splitlines(keepends=True)
    (run / "metrics.jsonl").write_bytes(b"".join(lines[:epoch]))


def fail_fsync_of(monkeypatch, fragment: str) -> list[str]:
    """Make ``os.fsync`` raise ENOSPC for files whose path contains ``fragment`` (as a disk
    that fills up reports it); returns the list of paths it failed, for assertions."""
    failed: list[str] = []
    real = os.fsync

    def fsync(descriptor: int) -> None:
        try:
            name = os.readlink(f"/proc/self/fd/{descriptor}")
        except OSError:
            name = ""
        if fragment in name:
            failed.append(name)
            raise OSError(errno.ENOSPC, "No space left on device", name)
        real(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    return failed
