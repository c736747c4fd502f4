"""Every training-speed benchmark of gankit in one run, printed as one table of ratios.

Each row compares two things (A and B) measured side by side: every round runs each row's
A and then its B, and the table reports medians over the rounds, so the ratios hold on a
loaded machine (absolute times do not transfer). The load average is printed before and
after. Rows:

- ring8 preset as shipped (pack 2, EMA, linear LR decay) vs the plain PyTorch loop of
  ``bench_train_step.py`` (DataLoader, sigmoid + BCELoss, separate real/fake D passes, a
  fresh G pass for the G step, default Adam): ms per step. Target ≥ 2×. Beside it: the
  same algorithm as a minimal hand-written autograd loop, and the trainer's hand-written
  gradients (training/manual_mlp.py) vs its autograd step.
- the MNIST-course MLP shapes (G 100-256-512-1024-784, D 784-1024-512-256-1; the mnist-mlp
  preset without its EMA, D dropout and label smoothing, i.e. the plain loop's algorithm),
  batch 64: ms per step vs the plain loop. Target ≥ 1.5×.
- the same shapes at batch 256: GFLOP/s of the training step vs float32 ``torch.mm`` on
  the step's own matmul shapes (the same list of products, replayed bare) and on 1024³.
  Target ≥ 70%.
- the mnist-dcgan preset (the CPU DCGAN) vs the plain loop on the same networks: images/s,
  with the preset's algorithm switched to the plain loop's (no EMA, no label smoothing)
  and as shipped.
- mnist-mlp epoch vs the tutorial loop of ``bench_images.py`` (per-item Dataset).
- what the options cost: the diagnostics' statistics columns (d_real_prob, d_fake_prob,
  g_grad_norm) on vs off; ``train.compile`` vs eager (compile seconds printed); bf16
  autocast vs float32 (MNIST-course MLP at batch 256, mnist-dcgan).
- ``--ddp``: ``gankit train --nproc 2`` (2 gloo processes, global batch unchanged) vs one
  process, samples/s over whole runs.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_suite.py --threads 1
    .venv/bin/python benchmarks/bench_suite.py --rounds 3 --only ring8,mlp-b64
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_images import tutorial_epoch  # noqa: E402
from bench_train_step import linear_shapes, matmul_gflops, plain_loop  # noqa: E402
from reference_loops import MatmulReplay, minimal_loop, plain_gan_loop, step_matmuls, step_work  # noqa: E402

from gankit import hardware  # noqa: E402
from gankit.config import load_config  # noqa: E402
from gankit.training.trainer import Trainer  # noqa: E402

QUIET = ["train.progress=false", "eval.every=0", "train.sample_every=0", "train.tensorboard=false",
         "train.checkpoint_every=0", "train.device=cpu"]
PLAIN_ALGORITHM = ["train.ema_decay=0", "model.d_dropout=0", "objective.label_smoothing=1"]


@dataclass
class Row:
    """One comparison: ``measure_a``/``measure_b`` return one round's value (seconds per unit,
    or a rate when ``higher_is_better``); ratio = how many times B beats A."""

    name: str
    a_label: str
    b_label: str
    unit: str
    measure_a: Callable[[], float]
    measure_b: Callable[[], float]
    target: float | None = None
    higher_is_better: bool = False
    note: str = ""
    a_values: list[float] = field(default_factory=list)
    b_values: list[float] = field(default_factory=list)

    def ratio(self) -> float:
        a, b = statistics.median(self.a_values), statistics.median(self.b_values)
        return b / a if self.higher_is_better else a / b


def epoch_time(trainer: Trainer) -> float:
    """Seconds per step of one whole epoch of ``trainer`` (the trainer's own loop)."""
    trainer.position.batch = 0
    start = time.perf_counter()
    trainer.run_epoch()
    return (time.perf_counter() - start) / trainer.steps_per_epoch


def points_file(workdir: Path, rows: int, dim: int) -> Path:
    path = workdir / f"points-{rows}x{dim}.npy"
    np.save(path, np.random.default_rng(0).uniform(-1, 1, (rows, dim)).astype(np.float32))
    return path


def trainer_for(preset: str, overrides: list[str], workdir: Path, name: str) -> Trainer:
    trainer = Trainer(load_config(preset, QUIET + overrides), workdir / name)
    epoch_time(trainer)  # warm-up
    return trainer


def ddp_rate(nproc: int, overrides: list[str], workdir: Path) -> float:
    """Samples/s of a whole ``gankit train --nproc N`` run (epochs after the first)."""
    out = workdir / f"ddp-{nproc}-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "gankit", "train", "mnist-mlp", *QUIET, *PLAIN_ALGORITHM, *overrides,
               "--out", str(out), "-q", "--nproc", str(nproc)]
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return statistics.median(r["samples_per_second"] for r in records[1:])


def build_rows(only: set[str] | None, workdir: Path, steps: int, ddp: bool) -> tuple[list[Row], dict]:
    rows: list[Row] = []
    extra: dict = {}

    def wanted(key: str) -> bool:
        return only is None or key in only

    if wanted("ring8"):
        ring8 = trainer_for("toy-ring8", [f"data.n_samples={256 * steps}"], workdir, "ring8")
        shapes = linear_shapes(ring8.models.generator), linear_shapes(ring8.models.discriminator)
        rows.append(Row("ring8 preset as shipped, batch 256", "plain loop", "gankit", "ms/step",
                        lambda: plain_loop(ring8.dataset.tensor, ring8.config, *shapes, steps),
                        lambda: epoch_time(ring8), target=2.0))
        rows.append(Row("ring8 preset: the trainer's algorithm as a minimal hand-written autograd loop", "plain loop",
                        "minimal loop", "ms/step",
                        lambda: plain_loop(ring8.dataset.tensor, ring8.config, *shapes, steps),
                        lambda: minimal_loop(ring8.dataset.tensor, ring8.config, steps),
                        note="no statistics, LR schedule or trainer: the ceiling of the algorithm through autograd"))
        rows.append(Row("ring8: hand-written gradients vs autograd in the trainer", "autograd step", "manual step",
                        "ms/step", lambda: _epoch_time_with(ring8, "use_manual", False), lambda: epoch_time(ring8),
                        note="training/manual_mlp.py vs the same trainer with step_fn.use_manual = False"))
        rows.append(Row("ring8: diagnostics columns off vs on", "on", "off", "ms/step",
                        lambda: epoch_time(ring8), lambda: _epoch_time_with(ring8, "record_diagnostics", False),
                        note="ratio > 1: what d_real_prob, d_fake_prob, g_grad_norm cost"))
    for batch in (64, 256):
        key = f"mlp-b{batch}"
        if not wanted(key):
            continue
        data = points_file(workdir, batch * (steps if batch == 64 else steps // 2), 784)
        trainer = trainer_for("mnist-mlp", PLAIN_ALGORITHM + [f"train.batch_size={batch}", "data.name=points",
                                                             f"data.path={data}"], workdir, key)
        g, d = linear_shapes(trainer.models.generator), linear_shapes(trainer.models.discriminator)
        if batch == 64:
            rows.append(Row("MNIST-course MLP shapes, batch 64", "plain loop", "gankit", "ms/step",
                            lambda t=trainer, g=g, d=d: plain_loop(t.dataset.tensor, t.config, g, d, steps // 2),
                            lambda t=trainer: epoch_time(t), target=1.5))
            shipped = trainer_for("mnist-mlp", [f"train.batch_size={batch}", "data.name=points", f"data.path={data}"],
                                  workdir, "mlp-shipped")
            rows.append(Row("MNIST-course shapes, batch 64, mnist-mlp preset as shipped (+EMA, D dropout, smoothing)",
                            "plain loop", "gankit", "ms/step",
                            lambda t=trainer, g=g, d=d: plain_loop(t.dataset.tensor, t.config, g, d, steps // 2),
                            lambda t=shipped: epoch_time(t)))
            continue
        replay = MatmulReplay(step_matmuls(g, d, batch, 1))
        extra["step_gflop"] = replay.flops / 1e9
        rows.append(Row("MNIST-course MLP shapes, batch 256: step vs its own matmuls", "bare torch.mm", "gankit step",
                        "ms/step", replay.seconds, lambda t=trainer: epoch_time(t), target=0.70,
                        note="ratio = share of the matmul floor reached (GFLOP/s below)"))
        rows.append(Row("float32 torch.mm 1024³ vs the batch-256 step", "mm 1024³", "gankit step", "GFLOP/s",
                        lambda: matmul_gflops(1024, 10), lambda t=trainer: replay.flops / epoch_time(t) / 1e9,
                        target=0.70, higher_is_better=True))
        if wanted("options"):
            bf16 = trainer_for("mnist-mlp", PLAIN_ALGORITHM + [f"train.batch_size={batch}", "data.name=points",
                                                              f"data.path={data}", "train.autocast=bf16"],
                               workdir, "bf16")
            rows.append(Row("MNIST-course MLP, batch 256: bf16 autocast vs float32", "float32", "bf16 autocast",
                            "ms/step", lambda t=trainer: epoch_time(t), lambda: epoch_time(bf16)))
    if wanted("dcgan"):
        dcgan_shipped = trainer_for("mnist-dcgan", ["data.limit=1920"], workdir, "dcgan-shipped")
        same = trainer_for("mnist-dcgan", ["data.limit=1920"] + PLAIN_ALGORITHM, workdir, "dcgan-same")
        batch = same.config.train.batch_size
        work = step_work(same.config, tuple(same.dataset.tensor.shape[1:]))
        extra["dcgan_step_gflop"], extra["dcgan_plain_loop_gflop"] = work[0] / 1e9, work[1] / 1e9
        extra["dcgan_work_ratio (plain loop / gankit FLOPs: the algorithm's ceiling)"] = work[1] / work[0]
        rows.append(Row("mnist-dcgan preset (CPU DCGAN), plain loop's algorithm", "plain loop", "gankit",
                        "images/s", lambda: batch / plain_gan_loop(same.dataset.tensor, same.config, 15),
                        lambda: batch / epoch_time(same), higher_is_better=True))
        rows.append(Row("mnist-dcgan preset as shipped (+EMA, smoothing)", "plain loop", "gankit",
                        "images/s", lambda: batch / plain_gan_loop(same.dataset.tensor, same.config, 15),
                        lambda: batch / epoch_time(dcgan_shipped), higher_is_better=True))
    if wanted("mnist-mlp"):
        mlp = trainer_for("mnist-mlp", PLAIN_ALGORITHM, workdir, "mnist-mlp")
        pixels = ((mlp.dataset.tensor[:, 0] + 1) * 127.5).round().to(torch.uint8)
        c = mlp.config
        rows.append(Row("mnist-mlp epoch vs the tutorial loop (bench_images)", "tutorial", "gankit", "s/epoch",
                        lambda: tutorial_epoch(pixels, c.train.batch_size, c.model.latent_dim, c.train.g_lr),
                        lambda: epoch_time(mlp) * mlp.steps_per_epoch))
    if wanted("options"):
        _compile_rows(rows, extra, workdir, steps)
        fp32 = trainer_for("mnist-dcgan", ["data.limit=1920"], workdir, "dcgan-fp32")
        bf16 = trainer_for("mnist-dcgan", ["data.limit=1920", "train.autocast=bf16"], workdir, "dcgan-bf16")
        rows.append(Row("mnist-dcgan: bf16 autocast vs float32", "float32", "bf16 autocast", "ms/step",
                        lambda: epoch_time(fp32), lambda: epoch_time(bf16)))
    if ddp:
        overrides = ["train.batch_size=256", "data.limit=4096", "train.epochs=4"]
        rows.append(Row("gankit train mnist-mlp (batch 256): 2 gloo processes vs 1", "--nproc 1", "--nproc 2",
                        "samples/s", lambda: ddp_rate(1, overrides, workdir), lambda: ddp_rate(2, overrides, workdir),
                        higher_is_better=True, note="whole runs incl. collectives; 2 cores shared"))
    return rows, extra


def _epoch_time_with(trainer: Trainer, switch: str, value: bool) -> float:
    """``epoch_time`` with the step's flag ``switch`` (``record_diagnostics``, ``use_manual``)
    set to ``value`` for the epoch, restored after."""
    saved = getattr(trainer.step_fn, switch)
    setattr(trainer.step_fn, switch, value)
    try:
        return epoch_time(trainer)
    finally:
        setattr(trainer.step_fn, switch, saved)


def _compile_rows(rows: list[Row], extra: dict, workdir: Path, steps: int) -> None:
    """torch.compile vs eager on ring8 and the DCGAN; compile seconds go to ``extra``."""
    for preset, overrides, key in (("toy-ring8", [f"data.n_samples={256 * steps}"], "ring8"),
                                   ("mnist-dcgan", ["data.limit=1920"], "dcgan")):
        eager = trainer_for(preset, overrides, workdir, f"eager-{key}")
        started = time.perf_counter()
        compiled = trainer_for(preset, overrides + ["train.compile=true"], workdir, f"compiled-{key}")
        extra[f"compile_seconds_{key}"] = time.perf_counter() - started - epoch_time(eager) * eager.steps_per_epoch
        rows.append(Row(f"{preset}: train.compile vs eager", "eager", "compiled", "ms/step",
                        lambda e=eager: epoch_time(e), lambda c=compiled: epoch_time(c)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (medians)")
    parser.add_argument("--steps", type=int, default=60, help="steps per timed round (small cases)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    parser.add_argument("--only", default="", help="comma list of ring8, mlp-b64, mlp-b256, dcgan, mnist-mlp, options")
    parser.add_argument("--ddp", action="store_true", help="also compare gankit train --nproc 2 with 1 process")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rows, extra = build_rows(set(args.only.split(",")) if args.only else None, Path(tmp), args.steps, args.ddp)
        for _ in range(args.rounds):
            for row in rows:
                row.a_values.append(row.measure_a())
                row.b_values.append(row.measure_b())
    print(f"CPU: {hardware.describe_cpu()}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.rounds} rounds, "
          f"{time.perf_counter() - started:.0f} s; load average before {load_before[0]:.2f}, "
          f"after {os.getloadavg()[0]:.2f}")
    print("| benchmark | A | B | unit | A (median) | B (median) | B vs A | target | met |")
    print("|---|---|---|---|---|---|---|---|---|")
    notes = []
    for row in rows:
        scale = 1e3 if row.unit == "ms/step" else 1.0
        a, b = statistics.median(row.a_values) * scale, statistics.median(row.b_values) * scale
        ratio = row.ratio()
        shown = f"{ratio:.0%}" if row.target is not None and row.target < 1 else f"{ratio:.2f}×"
        target = "" if row.target is None else (f"≥ {row.target:.0%}" if row.target < 1 else f"≥ {row.target:g}×")
        met = "" if row.target is None else ("yes" if ratio >= row.target else "**no**")
        if row.note:
            notes.append(f"[{len(notes) + 1}] {row.note}")
        mark = f" [{len(notes)}]" if row.note else ""
        print(f"| {row.name}{mark} | {row.a_label} | {row.b_label} | {row.unit} | {a:.4g} | {b:.4g} | {shown} "
              f"| {target} | {met} |")
    print("\n".join(notes))
    for key, value in extra.items():
        print(f"{key}: {value:.3g}")


if __name__ == "__main__":
    main()
