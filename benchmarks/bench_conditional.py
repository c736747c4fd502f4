"""Does ``--class 3`` give threes? The class-conditional MNIST preset, scored per class.

Trains the ``mnist-cdcgan`` preset (the mnist-dcgan CPU DCGAN with a class embedding in G and
a projection head in D) for ``--epochs`` on the bundled 5,000-digit MNIST sample, one run per
seed (each in its own spawned process with one torch thread, ``--jobs`` at a time), then
scores the final EMA generator in the shipped evaluator's feature space with ``--n``
generated digits (classes with the data's frequencies) against as many real ones:

- class accuracy: the share of class-conditioned samples the evaluator assigns to the class
  they were drawn for (target: >= 95%);
- intra-FID per class and its mean (Miyato & Koyama 2018), beside the plain FID;
- recall and coverage (in the same space), which fall to ~0 when G ignores z within a class,
  and the per-pixel standard deviation over z of 200 samples of one class, mean over classes
  ("z spread"; real digits of one class give about 0.31).

``--data`` adds overrides (e.g. ``objective.mode_seeking_weight=0`` for the preset without
its mode-seeking term).

Printed: a Markdown table per seed and the medians.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_conditional.py              # 3 seeds, 2 jobs
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_conditional.py --seeds 0 --epochs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path


def _one(seed: int, epochs: int, n: int, out: str, data: list[str]) -> dict:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    import gankit

    overrides = [f"train.epochs={epochs}", f"train.seed={seed}", "eval.every=0", f"eval.n={n}",
                 "train.sample_every=0", "train.progress=false", "train.tensorboard=false", *data]
    started = time.perf_counter()
    run = gankit.train("mnist-cdcgan", overrides=overrides, out=Path(out) / f"seed-{seed}")
    seconds = time.perf_counter() - started
    metrics = run.evaluate()
    spread = statistics.mean(run.sample(200, classes=c, seed=1).std(dim=0).mean().item()
                             for c in range(len(run.class_names)))
    return {"seed": seed, "seconds": seconds, "z_spread": spread, **{key: metrics.get(key) for key in
            ("fid", "intra_fid", "intra_fid_per_class", "class_accuracy", "precision", "recall", "coverage",
             "n_fake", "n_real")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=30, help="epochs of the 5,000-image sample (78 steps each)")
    parser.add_argument("--n", type=int, default=5000, help="generated samples scored")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--data", default="", help="extra overrides, e.g. 'data.limit=500' or 'objective.mode_seeking_weight=0'")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    data = args.data.split()
    with tempfile.TemporaryDirectory() as out, \
            ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_one, seed, args.epochs, args.n, out, data) for seed in seeds]
        results = []
        for future in as_completed(futures):  # each run as it ends, so a cut-off job still reports
            r = future.result()
            results.append(r)
            print(f"done: seed {r['seed']}: accuracy {r['class_accuracy']:.3f}, intra-FID {r['intra_fid']:.2f}, "
                  f"FID {r['fid']:.2f}, recall {r['recall']:.3f}, z spread {r['z_spread']:.3f} ({r['seconds']:.0f} s)",
                  flush=True)
    results.sort(key=lambda r: r["seed"])
    classes = len(results[0]["intra_fid_per_class"])
    print(f"\nmnist-cdcgan, {args.epochs} epochs {' '.join(data)}, EMA generator, shipped MNIST evaluator, "
          f"n = {results[0]['n_fake']} generated vs {results[0]['n_real']} real; python {sys.version.split()[0]}\n")
    print("| seed | class accuracy | intra-FID | FID | precision | recall | coverage | z spread | "
          + " | ".join(f"intra-FID {c}" for c in range(classes)) + " | train s |")
    print("|---" * (classes + 9) + "|")
    for r in results:
        print(f"| {r['seed']} | {r['class_accuracy']:.3f} | {r['intra_fid']:.2f} | {r['fid']:.2f} | "
              f"{r['precision']:.3f} | {r['recall']:.3f} | {r['coverage']:.3f} | {r['z_spread']:.3f} | "
              + " | ".join(f"{v:.1f}" for v in r["intra_fid_per_class"]) + f" | {r['seconds']:.0f} |")
    accuracy = statistics.median(r["class_accuracy"] for r in results)
    medians = " | ".join(f"{statistics.median(r[key] for r in results):.3f}" for key in ("precision", "recall", "coverage", "z_spread"))
    print(f"| median | {accuracy:.3f} | {statistics.median(r['intra_fid'] for r in results):.2f} | "
          f"{statistics.median(r['fid'] for r in results):.2f} | {medians} | "
          + " | ".join(f"{statistics.median(r['intra_fid_per_class'][c] for r in results):.1f}" for c in range(classes))
          + " | |\n")
    print(f"class accuracy {accuracy:.1%} ({'PASS' if accuracy >= 0.95 else 'FAIL'} against >= 95%)")


if __name__ == "__main__":
    main()
