"""What Discriminator Rejection Sampling buys: plain vs. DRS samples of the same trained runs.

(a) ``toy-grid25`` stopped early (``train.epochs`` = ``--grid-epochs``, half the preset's 200,
so the generator is visibly under-trained), one run per seed: high-quality share and modes
captured (``gankit.metrics.toy2d.mode_metrics``) of ``--n`` plain samples vs. ``--n`` DRS
samples with the run's D and with D fine-tuned (the paper's first step; ``--finetune``
lists STEPS@LR variants), plus acceptance rate and accepted samples per second. Target:
median over seeds of the per-seed high-quality gain ≥ 15 points, no modes lost.

(b) ``mnist-dcgan`` (trained once here, or ``--mnist-run DIR``): evaluator FID, precision,
recall, density, coverage of ``--mnist-n`` plain vs. DRS samples through
``Scorer(run.dataset, run.config)``, mean ± std over ``--mnist-seeds`` sample sets.

γ modes (``--gamma``, ``--mnist-gamma``): a number is the per-batch percentile of F (the
reference implementations' choice, default 95); ``exact`` is the fixed γ = 0, under which
σ(F) = exp(D̃ − M), i.e. plain rejection sampling with the estimated ratio.

Proposals of a DRS sample set and plain samples use the same latent stream (seed), so the
two are paired; fine-tuning draws from its own stream. Runs train one at a time in this
process with ``--threads`` torch threads (default 1):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_drs.py --out runs/bench-drs
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_drs.py --seeds 0 --skip-mnist
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

import gankit
from gankit.config import coerce_config
from gankit.evaluation import Scorer
from gankit.metrics.toy2d import mode_metrics
from gankit.objectives import Objective, build_objective
from gankit.sampling.drs import (
    DRSResult,
    LowAcceptance,
    drs_log_ratio,
    finetune_discriminator,
    rejection_sample,
)
from gankit.sampling.generate import generate

Variant = tuple[int, float]  # (fine-tuning steps, Adam lr); (0, 0) = the run's D as trained


def objective_of(config) -> Objective:
    o = config.objective
    return build_objective(o.name, generator_loss=o.generator_loss, label_smoothing=o.label_smoothing,
                           gamma=o.gamma, gp_weight=o.gp_weight)


def latent_draw(run, seed: int) -> Callable[[int], torch.Tensor]:
    """draw(k): the next k samples of the run's generator from the latent stream ``seed``."""
    latents = torch.Generator().manual_seed(seed)
    m = run.config.model
    return lambda k: generate(run.generator, k, latent_dim=m.latent_dim, distribution=m.latent_distribution,
                              generator=latents, batch_size=1000)


def tuned_discriminator(run, variant: Variant, seed: int) -> tuple[nn.Module, float]:
    """The run's D, or a fine-tuned copy (fakes from latent stream seed + 10⁶); and the seconds it took."""
    steps, lr = variant
    if not steps:
        return run.discriminator, 0.0
    started = time.perf_counter()
    t = run.config.train
    tuned = finetune_discriminator(run.discriminator, objective_of(run.config), latent_draw(run, seed + 10**6),
                                   run.dataset.tensor, steps=steps, batch_size=t.batch_size, lr=lr or t.d_lr,
                                   betas=tuple(t.d_betas), generator=torch.Generator().manual_seed(seed))
    return tuned, time.perf_counter() - started


def drs_sample(run, discriminator: nn.Module, n: int, seed: int, gamma: float | None, args) -> DRSResult:
    log_ratio, _ = drs_log_ratio(discriminator, objective_of(run.config), pack=run.config.model.pack)
    return rejection_sample(latent_draw(run, seed), log_ratio, n, burn_in=args.burn_in, gamma_percentile=gamma,
                            gamma=0.0, min_acceptance=args.min_acceptance,
                            generator=torch.Generator().manual_seed(seed + 1))


def variant_name(variant: Variant, gamma: float | None) -> str:
    steps, lr = variant
    d = "run's D" if steps == 0 else f"D fine-tuned {steps} steps, lr {lr:g}"
    return f"DRS, {d}, γ " + ("= 0 (exact)" if gamma is None else f"p{gamma:g}")


def train_or_reuse(preset: str, overrides: list[str], folder: Path, args):
    """Train ``preset`` into ``folder`` (one run at a time), or load it with --reuse when it is there."""
    if args.reuse and (folder / "config.toml").is_file():
        return gankit.load_run(folder)
    started = time.perf_counter()
    run = gankit.train(preset, overrides=overrides, out=folder, force=True)
    print(f"{folder.name} trained in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return run


def grid_case(seed: int, args, out: Path) -> list[dict]:
    """One early-stopped toy-grid25 run: a row for plain samples and one per DRS variant and γ mode."""
    overrides = [f"train.epochs={args.grid_epochs}", f"train.seed={seed}", "train.progress=false",
                 "eval.every=0", "train.sample_every=0"]
    run = train_or_reuse("toy-grid25", overrides, out / f"grid25-seed{seed}", args)
    geometry, stream = run.dataset.geometry, 1000 + seed
    plain = mode_metrics(latent_draw(run, stream)(args.n), geometry)
    rows = [{"seed": seed, "variant": "plain", "hq": plain["high_quality"], "modes": plain["modes_captured"]}]
    for variant in args.finetune:
        discriminator, tuning = tuned_discriminator(run, variant, seed)
        for gamma in args.gamma:
            result = drs_sample(run, discriminator, args.n, stream, gamma, args)
            scores = mode_metrics(result.samples, geometry)
            rows.append({"seed": seed, "variant": variant_name(variant, gamma), "hq": scores["high_quality"],
                         "modes": scores["modes_captured"], "accept": result.acceptance_rate,
                         "per_s": result.accepted_per_second, "tune_s": tuning})
            print(f"  {rows[-1]}", file=sys.stderr)
    return rows


def grid_table(rows: list[dict]) -> str:
    lines = ["| seed | samples | HQ share | modes | acceptance | accepted/s | fine-tune s |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        extra = f"{r['accept']:.3f} | {r['per_s']:.0f} | {r['tune_s']:.1f}" if "accept" in r else "1 | — | —"
        lines.append(f"| {r['seed']} | {r['variant']} | {r['hq']:.3f} | {r['modes']} | {extra} |")
    seeds = len({r["seed"] for r in rows})
    header = (f"| samples (median of {seeds} seeds) | HQ share | HQ gain, points | modes | modes gained | "
              "acceptance | accepted/s | target: gain ≥ 15, no mode lost |")
    lines += ["", header, "|---|---:|---:|---:|---:|---:|---:|---|"]
    plain = {r["seed"]: r for r in rows if r["variant"] == "plain"}
    for variant in dict.fromkeys(r["variant"] for r in rows):
        group = [r for r in rows if r["variant"] == variant]
        hq, modes = statistics.median(r["hq"] for r in group), statistics.median(r["modes"] for r in group)
        if variant == "plain":
            lines.append(f"| plain | {hq:.3f} | — | {modes:g} | — | 1 | — | — |")
            continue
        gain = statistics.median(100 * (r["hq"] - plain[r["seed"]]["hq"]) for r in group)
        gained = statistics.median(r["modes"] - plain[r["seed"]]["modes"] for r in group)
        verdict = "PASS" if gain >= 15 and gained >= 0 else "MISSED"
        lines.append(f"| {variant} | {hq:.3f} | {gain:+.1f} | {modes:g} | {gained:+g} | "
                     f"{statistics.median(r['accept'] for r in group):.3f} | "
                     f"{statistics.median(r['per_s'] for r in group):.0f} | **{verdict}** |")
    return "\n".join(lines)


MNIST_METRICS = (("fid", "{:.2f}"), ("precision", "{:.3f}"), ("recall", "{:.3f}"), ("density", "{:.3f}"),
                 ("coverage", "{:.3f}"))


def mnist_case(args, out: Path) -> str:
    """Plain vs. DRS variants of one mnist-dcgan run, each scored on --mnist-seeds sample sets."""
    if args.mnist_run:
        run = gankit.load_run(args.mnist_run)
    else:
        run = train_or_reuse("mnist-dcgan", ["train.progress=false", "train.seed=0"], out / "mnist-dcgan", args)
    scorer = Scorer(run.dataset, coerce_config(run.config, [f"eval.n={args.mnist_n}"]))
    seeds = range(1000, 1000 + args.mnist_seeds)
    stopped: dict[str, list[str]] = {}
    results: dict[str, list[tuple[dict, DRSResult | None, float]]] = {
        "plain": [(scorer.score(None, fake=latent_draw(run, seed)(args.mnist_n)), None, 0.0) for seed in seeds]}
    for variant in args.mnist_finetune:
        for seed in seeds:
            discriminator, tuning = tuned_discriminator(run, variant, seed)
            for gamma in args.mnist_gamma:
                try:
                    result = drs_sample(run, discriminator, args.mnist_n, seed, gamma, args)
                except LowAcceptance as error:  # reported in the table instead of a score
                    stopped.setdefault(variant_name(variant, gamma), []).append(str(error).split(":")[0])
                    continue
                entry = (scorer.score(None, fake=result.samples), result, tuning)
                results.setdefault(variant_name(variant, gamma), []).append(entry)
                print(f"  {variant_name(variant, gamma)} seed {seed}: fid {entry[0]['fid']:.2f} "
                      f"precision {entry[0]['precision']:.3f}", file=sys.stderr)
    lines = [(f"| samples ({args.mnist_seeds} sample sets) | FID | precision | recall | density | coverage | "
             "acceptance | accepted/s | fine-tune s |"), "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, entries in results.items():
        cells = []
        for key, fmt in MNIST_METRICS:
            values = [scores[key] for scores, _, _ in entries]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{fmt.format(statistics.mean(values))} ± {fmt.format(spread)}")
        drs = [(r, t) for _, r, t in entries if r is not None]
        cells.append(f"{statistics.mean(r.acceptance_rate for r, _ in drs):.3f} | "
                     f"{statistics.mean(r.accepted_per_second for r, _ in drs):.0f} | "
                     f"{statistics.mean(t for _, t in drs):.0f}" if drs else "1 | — | —")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for label, messages in stopped.items():
        lines.append(f"| {label} | stopped (LowAcceptance) in {len(messages)} of {args.mnist_seeds} sets: "
                     f"{'; '.join(messages)} |||||||| ")
    first = results["plain"][0][0]
    lines.append(f"\nmean ± std over latent seeds {seeds.start}–{seeds.stop - 1}; n = {args.mnist_n} generated vs "
                 f"{first.get('n_real')} real, k = {first.get('k')}, features: {first.get('features')}")
    return "\n".join(lines)


def parse_variants(text: str) -> list[Variant]:
    """"0,2000@1e-4" -> [(0, 0.0), (2000, 1e-4)]: fine-tuning steps @ Adam lr (default the run's D lr)."""
    return [(int(steps), float(lr or 0.0)) for steps, _, lr in (item.partition("@") for item in text.split(","))]


def parse_gammas(text: str) -> list[float | None]:
    """"95,exact" -> [95.0, None]."""
    return [None if item == "exact" else float(item) for item in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--grid-epochs", type=int, default=100, help="the preset trains 200")
    parser.add_argument("--n", type=int, default=2500)
    parser.add_argument("--burn-in", type=int, default=10000)
    parser.add_argument("--min-acceptance", type=float, default=0.01, help="below it DRS stops (LowAcceptance)")
    parser.add_argument("--gamma", default="95", help="γ modes for grid25: percentiles and/or 'exact'")
    parser.add_argument("--finetune", default="0,2000@1e-4,10000@1e-3",
                        help="DRS variants for grid25: D fine-tuning STEPS@LR, 0 = the run's D as trained")
    parser.add_argument("--mnist-run", default=None)
    parser.add_argument("--mnist-n", type=int, default=5000)
    parser.add_argument("--mnist-finetune", default="0,500@1e-4,3000@2e-4", help="as --finetune, for MNIST")
    parser.add_argument("--mnist-gamma", default="95,exact", help="as --gamma, for MNIST")
    parser.add_argument("--mnist-seeds", type=int, default=3, help="sample sets (latent seeds) per MNIST variant")
    parser.add_argument("--skip-grid", action="store_true")
    parser.add_argument("--skip-mnist", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--reuse", action="store_true", help="load runs already in --out instead of training")
    args = parser.parse_args(argv)
    args.finetune, args.mnist_finetune = parse_variants(args.finetune), parse_variants(args.mnist_finetune)
    args.gamma, args.mnist_gamma = parse_gammas(args.gamma), parse_gammas(args.mnist_gamma)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(args.out or scratch)
        if not args.skip_grid:
            rows = [row for seed in args.seeds.split(",") for row in grid_case(int(seed), args, out)]
            print(f"### toy-grid25, train.epochs={args.grid_epochs}, n={args.n}, burn-in {args.burn_in}, "
                  f"min acceptance {args.min_acceptance:g}\n")
            print(grid_table(rows) + "\n", flush=True)
        if not args.skip_mnist:
            print(f"### mnist-dcgan, n={args.mnist_n}, burn-in {args.burn_in}\n")
            print(mnist_case(args, out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
