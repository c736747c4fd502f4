"""``gankit train ... --nproc N``: run ``gankit train`` in N local processes under torchrun, and
say once what went wrong.

Without help a failure would be told N + 1 times: each process prints its own ``error:``
line (all of them the same for a bad override) and torchrun adds its own report with a
traceback. So the launcher hands every process a folder (``LAUNCH_ENV``); a process that
fails leaves its message there instead of printing it (:func:`hand_over`), torchrun runs
with its own log quiet and without the traceback, and the launcher returns the one message
that explains the failure (:func:`launch`): the first user error, else the first crash.

Imports no torch at module level: the command line calls :func:`hand_over` on every error.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gankit.errors import ConfigError

LAUNCH_ENV = "GANKIT_LAUNCH_REPORTS"


def launch_command(train_args: list[str], nproc: int) -> list[str]:
    """The torchrun command that runs ``gankit train TRAIN_ARGS`` in ``nproc`` local processes."""
    if nproc < 1:
        raise ConfigError(f"--nproc: must be at least 1, got {nproc}")
    return [sys.executable, "-c", "from gankit.training.launch import torchrun; torchrun()", "--standalone",
            f"--nproc_per_node={nproc}", "-m", "gankit", "train", *train_args]


def launch(train_args: list[str], nproc: int) -> tuple[int, str]:
    """Run ``gankit train TRAIN_ARGS`` under torchrun on this machine; returns its exit status
    and, when a process failed, the one message to print ('' when none was left).

    ``--standalone`` lets torchrun pick a free port for the rendezvous; OMP_NUM_THREADS,
    when unset, is left for torchrun to set (1 per process).
    """
    with tempfile.TemporaryDirectory(prefix="gankit-launch-") as folder:
        process = subprocess.Popen(launch_command(train_args, nproc), env={**os.environ, LAUNCH_ENV: folder})
        while True:
            try:
                code = process.wait()
                break
            except KeyboardInterrupt:  # Ctrl-C reached the processes too: they save and stop
                continue
        if code == 0:
            return 0, ""
        reports = [json.loads(path.read_text()) for path in sorted(Path(folder).glob("rank*.json"))]
    if not reports:
        return code, ""
    users = [report for report in reports if report["user"]]
    first = min(users or reports, key=lambda report: report["time"])
    return int(first["code"]) or code, str(first["text"])


def hand_over(text: str, code: int, *, user: bool = True) -> bool:
    """Under :func:`launch`: leave this process's failure ``text`` (and exit ``code``) for the
    launcher to print, and return True; elsewhere return False (the caller prints it)."""
    folder, rank = os.environ.get(LAUNCH_ENV), os.environ.get("RANK")
    if not folder or rank is None or not Path(folder).is_dir():
        return False
    report = {"time": time.time(), "code": code, "text": text, "user": user}
    try:
        Path(folder, f"rank{int(rank)}.json").write_text(json.dumps(report))
    except (OSError, ValueError):
        return False
    return True


def torchrun() -> None:
    """torchrun's own entry point (``python -m torch.distributed.run``) without its report of a
    failed process (the process has left its message); exits with that process's status."""
    os.environ.setdefault("LOGLEVEL", "CRITICAL")  # its log would repeat each failure (torchrun's own setting)
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main

    logging.getLogger("torch.distributed.elastic").setLevel(os.environ["LOGLEVEL"])
    try:
        main()
    except ChildFailedError as failed:
        code = failed.get_first_failure()[1].exitcode
        sys.exit(code if code > 0 else 1)
