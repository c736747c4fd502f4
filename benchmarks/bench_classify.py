"""The classifier workbench on the bundled MNIST sample: the commands behind BENCHMARKS.md.

Each experiment is one ``gankit classify`` command, run as a subprocess and timed
(wall clock); its results.md is printed after it. Run with one thread, as recorded:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_classify.py            # all experiments
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_classify.py mnist10    # one of them
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_classify.py --quick    # 1 epoch, 200 per class: a smoke test
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

EXPERIMENTS: dict[str, list[str]] = {
    # 10 classes: targets CNN >= 97%, perceptron >= 90% mean 5-fold validation accuracy
    "mnist10": ["mnist", "--models", "perceptron,cnn", "--folds", "5", "--epochs", "20", "--batch-sizes", "64"],
    # the cats-vs-dogs study's binary task on digits: 3 vs 8, its full grid (30,60 epochs x 32,64 batch)
    "mnist3v8": ["mnist", "--classes", "3,8", "--models", "perceptron,cnn", "--folds", "5",
                 "--epochs", "30,60", "--batch-sizes", "32,64"],
    # ResNet-18 without weights (none can be downloaded here): trained from scratch
    "resnet18-3v8": ["mnist", "--classes", "3,8", "--models", "resnet18", "--folds", "5", "--epochs", "10",
                     "--batch-sizes", "64"],
}


def run(name: str, args: list[str], out_root: Path, quick: bool) -> float:
    """Run one experiment; return its wall time in seconds."""
    if quick:
        args = _quick(args)
    out = out_root / name
    command = [sys.executable, "-m", "gankit", "classify", *args, "--out", str(out), "--force", "-q"]
    print(f"$ OMP_NUM_THREADS=1 gankit classify {shlex.join(args)} --out {out}", flush=True)
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        print(completed.stderr, file=sys.stderr)
        raise SystemExit(f"{name} failed with exit code {completed.returncode}")
    print((out / "results.md").read_text())
    print(f"{name}: {seconds:.0f} s wall\n", flush=True)
    return seconds


def _quick(args: list[str]) -> list[str]:
    args = list(args)
    for option, value in (("--epochs", "1"), ("--batch-sizes", "64")):
        args[args.index(option) + 1] = value
    return args + ["--per-class", "200"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"experiments (default: all): {', '.join(EXPERIMENTS)}")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-classify"))
    parser.add_argument("--quick", action="store_true", help="1 epoch on 200 images per class")
    options = parser.parse_args()
    unknown = [name for name in options.names if name not in EXPERIMENTS]
    if unknown:
        parser.error(f"unknown experiment {', '.join(unknown)}; choose from {', '.join(EXPERIMENTS)}")
    total = sum(run(name, EXPERIMENTS[name], options.out, options.quick) for name in options.names or EXPERIMENTS)
    print(f"total: {total:.0f} s wall")


if __name__ == "__main__":
    main()
