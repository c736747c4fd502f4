"""Does augmentation help on small data? MNIST with 500 training images, with and without.

Each variant trains the ``mnist-dcgan`` preset on a seeded 500-image subset
(``data.limit=500``) for the same number of steps, over several seeds, each run in its own
spawned process with one torch thread (``--jobs`` at a time). The score is the evaluator FID
of the final EMA generator (the shipped MNIST evaluator's feature space), n generated
samples against the 500 training images; lower is better. Printed: a Markdown table per
variant (FID per seed, median, wall seconds) and the median FID of each variant relative to
the plain run.

    plain        the preset as is
    diffaugment  augment.policy=color,translation,cutout, p = 1 (Zhao et al. 2020)
    ada          the same policy with augment.adaptive=true (p from 0, target 0.6)
    lecam, diffaugment-lecam, ada-lecam   the same plus objective.lecam_weight=0.01

``--colour`` runs the same comparison on the colour set: the ``folder-rgb32`` preset (Radford
et al.'s layout, latent 256, 32×32 RGB) on Colour MNIST (``data.name=colour-mnist``, 500
images), scored in the feature space of an evaluator trained on Colour MNIST first (``gankit
evaluator train --data colour-mnist``, into the temporary folder; ``--evaluator PATH`` reuses
one). Every variant starts from augmentation off, so "plain" is the preset without its ADA.

``--set KEY=VALUE`` (repeatable) overrides the config of every variant, e.g.
``--set model.d_base_width=64`` (the source study's discriminator width) or a longer run.
Regime measured so far (BENCHMARKS.md): the preset's discriminator does not memorise the
500 images within 600 epochs (plain FID keeps falling), so augmentation mostly slows G.

Target (the small-data GAN issue): >= 30% lower FID than plain with augmentation.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_small_data.py --epochs 200 --jobs 1   # 3 seeds
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_small_data.py --colour --epochs 100
    .venv/bin/python benchmarks/bench_small_data.py --seeds 0 --epochs 50         # a quick look
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_small_data.py --cost      # what augmenting costs

``--cost`` times the mnist-dcgan training step with and without the DiffAugment policy,
alternating epochs of the two trainers in one process (medians of ``--rounds``), and prints
the augmented step's extra time as a share of the plain step (target <= 15%).
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

POLICY = "augment.policy=color,translation,cutout"
LECAM = "objective.lecam_weight=0.01"
OFF = ["augment.adaptive=false", "augment.policy="]  # every variant starts here (a preset may augment)
VARIANTS: dict[str, list[str]] = {
    "plain": [],
    "diffaugment": [POLICY],
    "ada": [POLICY, "augment.adaptive=true"],
    "lecam": [LECAM],
    "diffaugment-lecam": [POLICY, LECAM],
    "ada-lecam": [POLICY, "augment.adaptive=true", LECAM],
}


def _one(variant: str, seed: int, epochs: int, n: int, out: str, extra: list[str], preset: str) -> dict:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    import gankit

    overrides = ["data.limit=500", f"train.epochs={epochs}", f"train.seed={seed}", "eval.every=0", f"eval.n={n}",
                 "train.sample_every=0", "train.checkpoint_every=0", "train.progress=false", "train.tensorboard=false",
                 *OFF, *extra, *VARIANTS[variant]]
    started = time.perf_counter()
    run = gankit.train(preset, overrides=overrides, out=Path(out) / f"{variant}-{seed}")
    metrics = run.metrics
    return {"variant": variant, "seed": seed, "fid": metrics["fid"], "n_fake": metrics.get("n_fake"),
            "n_real": metrics.get("n_real"), "augment_p": run.history[-1].get("augment_p"),
            "seconds": time.perf_counter() - started}


def colour_evaluator(path: Path) -> str:
    """Train the Colour MNIST evaluator (the shipped recipe's settings) into ``path``."""
    import torch

    from gankit.classify.evaluator_train import MNIST_RECIPE, load_labelled_data, train_evaluator

    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    dataset = load_labelled_data("colour-mnist", [])  # what `gankit evaluator train --data colour-mnist` reads
    started = time.perf_counter()
    report = train_evaluator(dataset, path, **MNIST_RECIPE, progress=False)
    print(f"colour evaluator: held-out accuracy {report['holdout_accuracy']:.3f} "
          f"({time.perf_counter() - started:.0f} s)", flush=True)
    return str(path)


def step_cost(rounds: int) -> None:
    """Median seconds per step of the mnist-dcgan preset, plain vs augmented, side by side."""
    import torch

    torch.set_num_threads(1)
    from gankit.config import load_config
    from gankit.training.trainer import Trainer

    quiet = ["data.limit=640", "train.progress=false", "train.tensorboard=false", "eval.every=0"]
    with tempfile.TemporaryDirectory() as out:
        trainers = {name: Trainer(load_config("mnist-dcgan", quiet + extra), Path(out) / name)
                    for name, extra in (("plain", []), ("augmented", [POLICY]))}
        times: dict[str, list[float]] = {name: [] for name in trainers}
        for round_ in range(rounds + 1):
            for name, trainer in trainers.items():
                trainer.position.batch = 0
                started = time.perf_counter()
                trainer.run_epoch()
                if round_:  # the first round warms up
                    times[name].append((time.perf_counter() - started) / trainer.steps_per_epoch)
        for trainer in trainers.values():
            trainer.close()
    plain, augmented = (statistics.median(times[name]) for name in ("plain", "augmented"))
    print(f"mnist-dcgan step, batch 64, one thread: plain {plain * 1e3:.1f} ms, with {POLICY} "
          f"{augmented * 1e3:.1f} ms: +{augmented / plain - 1:.1%} ({'PASS' if augmented / plain <= 1.15 else 'FAIL'} "
          f"against <= 15%); medians of {rounds} rounds of {trainers['plain'].steps_per_epoch} steps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=300, help="epochs of 7 steps (500 images, batch 64)")
    parser.add_argument("--n", type=int, default=2000, help="generated samples scored")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--variants", default="plain,diffaugment,ada", help=f"any of {', '.join(VARIANTS)}")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for every variant (repeatable), e.g. model.base_width=64")
    parser.add_argument("--colour", action="store_true", help="the colour set: folder-rgb32 on Colour MNIST")
    parser.add_argument("--evaluator", default="", help="--colour: an evaluator file to reuse")
    parser.add_argument("--cost", action="store_true", help="time the step with and without augmentation instead")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.cost:
        step_cost(args.rounds)
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}")
    preset, extra, what = "mnist-dcgan", list(args.set), "MNIST, 500 training images, mnist-dcgan preset"
    with tempfile.TemporaryDirectory() as out, \
            ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        if args.colour:
            evaluator = args.evaluator or colour_evaluator(Path(out) / "colour-eval.pt")
            preset, extra = "folder-rgb32", ["data.name=colour-mnist", f"eval.evaluator={evaluator}", *extra]
            what = "Colour MNIST, 500 training images, folder-rgb32 preset (its ADA off in plain)"
        futures = [pool.submit(_one, v, s, args.epochs, args.n, out, extra, preset) for v in variants for s in seeds]
        results = []
        for future in as_completed(futures):  # each run as it ends, so a cut-off job still reports
            results.append(future.result())
            r = results[-1]
            print(f"done: {r['variant']} seed {r['seed']}: FID {r['fid']:.2f} ({r['seconds']:.0f} s)", flush=True)
        results.sort(key=lambda r: (variants.index(r["variant"]), r["seed"]))
    print(f"{what}, {args.epochs} epochs {' '.join(args.set)} "
          f"({args.epochs * (500 // 64)} steps), evaluator FID of the EMA generator, "
          f"n = {results[0]['n_fake']} generated vs {results[0]['n_real']} real; python {sys.version.split()[0]}\n")
    medians = {}
    for variant in variants:
        rows = [r for r in results if r["variant"] == variant]
        print(f"### {variant}\n\n| seed | FID | final p | wall s |\n|---|---|---|---|")
        for r in rows:
            p = "" if r["augment_p"] is None else f"{r['augment_p']:.2f}"
            print(f"| {r['seed']} | {r['fid']:.2f} | {p} | {r['seconds']:.0f} |")
        medians[variant] = statistics.median(r["fid"] for r in rows)
        print(f"| median | {medians[variant]:.2f} | | |\n")
    print(f"| variant | {' | '.join(f'seed {s}' for s in seeds)} | median | vs plain |\n"
          f"|---|{'---|' * len(seeds)}---|---|")
    for variant in variants:
        fids = {r["seed"]: r["fid"] for r in results if r["variant"] == variant}
        change = "" if variant == "plain" or "plain" not in medians else \
            f"{1 - medians[variant] / medians['plain']:+.0%} lower"
        print(f"| {variant} | {' | '.join(f'{fids[s]:.2f}' for s in seeds)} | {medians[variant]:.2f} | {change} |")
    print()
    if "plain" in medians:
        for variant, fid in medians.items():
            if variant != "plain":
                change = 1 - fid / medians["plain"]
                verdict = "PASS" if change >= 0.30 else "FAIL"
                print(f"{variant}: median FID {fid:.2f} vs plain {medians['plain']:.2f}: "
                      f"{change:+.0%} lower ({verdict} against >= 30%)")


if __name__ == "__main__":
    main()
