"""Benchmark the shipped toy presets over several seeds and print Markdown tables.

Each (preset, seed) pair is one training run with the preset's defaults plus
``train.seed=SEED`` (and any extra KEY=VALUE overrides), run in its own spawned
process with one torch/OpenMP thread; ``--jobs`` runs go in parallel (default 2,
one per core of a 2-core machine -- never run more jobs than cores).

For every preset the script prints one table: per seed the final metrics of the
run (modes captured / high-quality share for ring8 and grid25, curve coverage /
mean curve distance for line, parabola and spiral), the energy distance and the
wall-clock seconds of the run, then the median row and PASS/FAIL against the
targets below (medians over seeds; every run must also finish in under 180 s).

    toy-ring8    8/8 modes and high-quality share >= 0.95
    toy-grid25   25/25 modes and high-quality share >= 0.90
    toy-spiral   curve coverage >= 0.90 and mean curve distance <= 0.02
    toy-line, toy-parabola: no target (reported only)

The table for BENCHMARKS.md comes from (run from the repository root):

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python benchmarks/bench_presets.py

Other examples:

    .venv/bin/python benchmarks/bench_presets.py --presets toy-ring8,toy-grid25 --seeds 0,1
    .venv/bin/python benchmarks/bench_presets.py --presets toy-spiral train.epochs=100

Runs are written under --out (default: a temporary folder, deleted at the end
unless --keep is given).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

DEFAULT_PRESETS = ("toy-ring8", "toy-grid25", "toy-spiral", "toy-line", "toy-parabola")
MAX_WALL_SECONDS = 180.0

# preset -> list of (metric, comparison, threshold); medians over seeds must satisfy all.
TARGETS: dict[str, list[tuple[str, str, float]]] = {
    "toy-ring8": [("modes_captured", ">=", 8), ("high_quality", ">=", 0.95)],
    "toy-grid25": [("modes_captured", ">=", 25), ("high_quality", ">=", 0.90)],
    "toy-spiral": [("curve_coverage", ">=", 0.90), ("curve_distance", "<=", 0.02)],
}

MODE_COLUMNS = [("modes_captured", "modes", "{:.0f}"), ("high_quality", "HQ share", "{:.3f}")]
CURVE_COLUMNS = [("curve_coverage", "coverage", "{:.2f}"), ("curve_distance", "curve distance", "{:.4f}")]
COMMON_COLUMNS = [("energy_distance", "energy distance", "{:.4f}"), ("wall_seconds", "wall s", "{:.1f}")]


def _set_single_thread() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"


def run_one(preset: str, seed: int, overrides: list[str], out: str) -> dict:
    """Train ``preset`` with ``train.seed=seed`` in this process (one thread); return its final metrics."""
    _set_single_thread()
    import torch

    torch.set_num_threads(1)
    import gankit

    quiet = ["train.progress=false"]
    started = time.perf_counter()
    run = gankit.train(preset, overrides=[*overrides, f"train.seed={seed}", *quiet], out=out, force=True)
    wall = time.perf_counter() - started
    metrics = {k: v for k, v in run.metrics.items() if isinstance(v, (int, float))}
    metrics["wall_seconds"] = wall
    return {"preset": preset, "seed": seed, "metrics": metrics}


def _columns(rows: list[dict]) -> list[tuple[str, str, str]]:
    first = rows[0]["metrics"]
    kind = MODE_COLUMNS if "modes_captured" in first else CURVE_COLUMNS if "curve_coverage" in first else []
    return kind + COMMON_COLUMNS


def _check(value: float, op: str, threshold: float) -> bool:
    return value >= threshold if op == ">=" else value <= threshold


def preset_table(preset: str, rows: list[dict]) -> tuple[str, bool | None]:
    """Markdown table for one preset, and PASS (True) / FAIL (False) / no target (None)."""
    rows = sorted(rows, key=lambda r: r["seed"])
    columns = _columns(rows)
    lines = [f"### {preset}", "",
             "| seed | " + " | ".join(title for _, title, _ in columns) + " |",
             "|---:|" + "---:|" * len(columns)]
    for row in rows:
        cells = [fmt.format(row["metrics"].get(key, float("nan"))) for key, _, fmt in columns]
        lines.append(f"| {row['seed']} | " + " | ".join(cells) + " |")
    medians = {key: statistics.median(r["metrics"].get(key, float("nan")) for r in rows) for key, _, _ in columns}
    lines.append("| **median** | " + " | ".join(f"**{fmt.format(medians[key])}**" for key, _, fmt in columns) + " |")
    lines.append("")
    slowest = max(r["metrics"]["wall_seconds"] for r in rows)
    targets = TARGETS.get(preset)
    if targets is None:
        lines.append(f"No numeric target (slowest run {slowest:.1f} s).")
        return "\n".join(lines), None
    checks = [(f"median {key} {medians[key]:.4g} {op} {threshold:g}", _check(medians[key], op, threshold))
              for key, op, threshold in targets]
    checks.append((f"slowest run {slowest:.1f} s < {MAX_WALL_SECONDS:.0f} s", slowest < MAX_WALL_SECONDS))
    passed = all(ok for _, ok in checks)
    detail = "; ".join(f"{text} {'ok' if ok else 'MISSED'}" for text, ok in checks)
    lines.append(f"**{'PASS' if passed else 'FAIL'}** ({detail})")
    return "\n".join(lines), passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Train the toy presets over several seeds (one thread per run) and print "
                    "a Markdown table per preset with PASS/FAIL against the targets.",
        epilog="Example: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_presets.py "
               "--presets toy-ring8 --seeds 0,1 train.epochs=50",
    )
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="config overrides applied to every run (e.g. train.epochs=50)")
    parser.add_argument("--presets", default=",".join(DEFAULT_PRESETS),
                        help="comma-separated preset names (default: %(default)s)")
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated train.seed values (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel, one thread each (default: %(default)s)")
    parser.add_argument("--out", default=None, help="folder for the run folders (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the run folders of the temporary --out")
    args = parser.parse_args(argv)

    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seeds: expected comma-separated integers, got {args.seeds!r}")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    for item in args.overrides:
        if "=" not in item:
            parser.error(f"override {item!r} is not KEY=VALUE")

    _set_single_thread()
    from gankit.config import load_config

    for preset in presets:  # fail fast on a bad preset name or override
        load_config(preset, args.overrides)

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench_presets_"))
    jobs = [(preset, seed) for preset in presets for seed in seeds]
    results: dict[str, list[dict]] = {preset: [] for preset in presets}
    started = time.perf_counter()
    print(f"# {len(jobs)} runs, {args.jobs} in parallel, 1 thread each; run folders in {out}", file=sys.stderr)
    try:
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(run_one, preset, seed, args.overrides, str(out / f"{preset}_seed{seed}")):
                       (preset, seed) for preset, seed in jobs}
            for future in as_completed(futures):
                result = future.result()
                results[result["preset"]].append(result)
                m = result["metrics"]
                print(f"# done {result['preset']} seed {result['seed']} in {m['wall_seconds']:.1f} s",
                      file=sys.stderr, flush=True)
    finally:
        if args.out is None and not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    total = time.perf_counter() - started

    command = " ".join(["benchmarks/bench_presets.py", f"--presets {','.join(presets)}",
                        f"--seeds {','.join(map(str, seeds))}", f"--jobs {args.jobs}", *args.overrides])
    print(f"Command: `{command}`\n")
    verdicts = {}
    for preset in presets:
        table, verdict = preset_table(preset, results[preset])
        verdicts[preset] = verdict
        print(table + "\n")
    summary = ", ".join(f"{p} {'n/a' if v is None else 'PASS' if v else 'FAIL'}" for p, v in verdicts.items())
    print(f"Summary: {summary}. Total wall time {total:.0f} s for {len(jobs)} runs ({args.jobs} parallel).")
    return 0 if all(v is not False for v in verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
