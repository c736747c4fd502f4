"""Mode coverage and quality of the presets against a plain-GAN baseline, over several seeds.

Every row below trains a preset and its baseline -- the same preset with its mode-coverage
levers switched off (the BASELINES table right below the imports) -- with the same step
budget: the baseline is given the preset's resolved ``train.epochs`` and ``train.batch_size``
(and ``data.n_samples``/``data.limit``) explicitly, so a retuned preset cannot silently
desynchronise them. Each (preset, seed, arm) is one training run in its own spawned
process with one torch/OpenMP thread; ``--jobs`` runs go in parallel (default 2, one per core
of a 2-core machine -- never run more jobs than cores). Targets, medians over seeds unless
said otherwise, checked on the preset arm only (the baseline is reported beside it):

    toy-grid25            5 seeds  25/25 modes, high-quality share >= 0.90, every run <= 120 s wall
    toy-ring8             5 seeds  8/8 modes, high-quality share >= 0.95
    toy-parabola          10 seeds curve coverage >= 0.90 on EVERY seed (the worst seed, not the median)
    toy-line              10 seeds curve coverage >= 0.90 on EVERY seed
    stacked-mnist-dcgan   3 seeds  >= 990/1,000 modes, modes KL <= 0.1, scored on 10,000 samples
                                   (eval.n=10000 is set for both arms), every run <= 900 s wall
    mnist-mlp-tuned       5 seeds  10/10 classes, class KL <= 0.05, and an evaluator FID >= 3x lower
                                   than the faithful ``mnist-mlp`` preset after the same training time

The mnist-mlp-tuned row (its baseline is the ``mnist-mlp`` preset itself, not a lever-off
copy) compares at equal time, not equal steps. W is the tuned run's training time: its
``train_seconds`` (final_metrics.json), which counts the seconds spent in training steps
only -- evaluation, sample pictures and checkpoints are excluded; it is the clock that
RUN/metrics.jsonl's ``time`` field shows per epoch. The baseline runs with ``eval.every=1``
(and the tuned run's ``eval.n``, since FID depends on the sample count); its FID, classes
and class KL are read from its last evaluated epoch whose ``time`` is <= W. If the baseline
ended before reaching W (it starts with its own ``train.epochs``), it is resumed with more
epochs, estimated from its own seconds per epoch, until its ``time`` passes W. Resuming
continues the run bit for bit and mnist-mlp has no schedule tied to ``train.epochs``
(``lr_decay = "none"``; the script warns if that changes), so the epoch picked is the epoch
a plain ``mnist-mlp`` run would have reached. Both arms of a seed are submitted side by side,
so with ``--jobs 2`` they usually step under the same machine load. The FID check uses the
median over seeds of the per-seed ratio baseline FID at W / tuned FID. If the
``mnist-mlp-tuned`` preset does not exist yet, that row is skipped with a note.

Printed: per preset a Markdown table (per seed the preset's metrics, the baseline's and the
wall seconds of both runs, then a median row and a range row, min-max), the PASS/FAIL line,
and at the end a summary table (preset median (range) vs baseline median (range), PASS/FAIL).
The exit status is 1 when a row fails.

The table for BENCHMARKS.md comes from (run from the repository root; hours of CPU):

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python benchmarks/bench_quality.py

Build it over several sessions into one folder, reusing the runs already finished there:

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python benchmarks/bench_quality.py --out bench-quality --reuse

Other examples:

    .venv/bin/python benchmarks/bench_quality.py --presets toy-ring8,toy-grid25 --seeds 3
    .venv/bin/python benchmarks/bench_quality.py --presets toy-line --seeds 0,4,7 train.epochs=20

``--seeds N`` runs seeds 0..N-1 for every row, ``--seeds 3,5`` exactly those (``--seeds 3,``
the single seed 3); without it every row runs its own count from the list above. Extra
KEY=VALUE overrides apply to both arms of every row (after the row's fixed ones, before the
baseline's levers and step budget). With ``--reuse`` a run folder under --out that has a
final_metrics.json and the config this invocation would train is not trained again (one
whose config differs is retrained, with a note). Runs are written under
``--out/PRESET/seedN/{preset,baseline}`` (default --out: a temporary folder, deleted at the
end unless --keep is given).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

# ------------------------------------------------------------------------------------------
# BASELINES: preset -> (baseline preset, overrides that switch its mode-coverage levers off).
# Edit this table when the presets change. The baseline arm also gets the preset's resolved
# train.epochs / train.batch_size (same step budget), except mnist-mlp-tuned, which is compared
# with the faithful mnist-mlp preset at equal training time (see the module docstring).
# Keys the config schema does not know (yet) are dropped with a printed note, so a lever that
# exists only on another branch (e.g. model.minibatch_kernels) does not break the run.
# ------------------------------------------------------------------------------------------
# The plain GAN: the preset's networks and step budget without its mode-coverage levers.
PLAIN = ["model.pack=1", "model.pack_init=dense", "model.minibatch_std=false", "model.minibatch_kernels=0",
         "objective.mode_seeking_weight=0", "objective.r1_weight=0", "train.ema_decay=0", "train.lr_decay=none"]
BASELINES: dict[str, tuple[str, list[str]]] = {
    "toy-grid25": ("toy-grid25", PLAIN),
    "toy-ring8": ("toy-ring8", PLAIN),
    # the exercise's own training: its LeakyReLU slope 0.01, no EMA, constant lr
    "toy-parabola": ("toy-parabola", [*PLAIN, "model.g_slope=0.01", "model.d_slope=0.01"]),
    "toy-line": ("toy-line", PLAIN),
    "stacked-mnist-dcgan": ("stacked-mnist-dcgan", PLAIN),
    "mnist-mlp-tuned": ("mnist-mlp", []),  # the faithful course preset as shipped
}

# Keys copied from the preset's resolved config into the baseline's overrides (same step budget).
BUDGET_KEYS = ("train.epochs", "train.batch_size", "data.n_samples", "data.limit")
QUIET = ["train.progress=false"]
RESULT_FILE = "bench_quality.json"  # wall seconds of a run, kept in its folder for --reuse
MAX_EXTENSIONS = 4  # resumes of an equal-time baseline that has not reached W yet
EXTENSION_MARGIN = 1.15  # epochs asked for beyond the estimate, so one resume usually passes W


@dataclass(frozen=True)
class Target:
    """``metric op threshold`` on the median over seeds, or on every seed (the worst one)."""

    metric: str
    op: str  # ">=" or "<="
    threshold: float
    every_seed: bool = False


@dataclass(frozen=True)
class Row:
    seeds: int
    columns: tuple[tuple[str, str, str], ...]  # (metric, title, format), shown for both arms
    targets: tuple[Target, ...]
    max_wall: float | None = None  # every run of the preset arm must finish within this (wall s)
    fixed: tuple[str, ...] = ()  # overrides of both arms (before the command line's)
    same_time: bool = False  # the baseline is compared at the preset's training time, not its step budget
    extra: tuple[tuple[str, str, str], ...] = ()  # preset-arm columns after both arms'
    summary: tuple[str, ...] = ()  # metrics of the summary table; () = the target metrics among the columns


MODES_2D = (("modes_captured", "modes", "{:g}"), ("high_quality", "HQ share", "{:.3f}"))
CURVE = (("curve_coverage", "coverage", "{:.2f}"), ("curve_distance", "curve dist", "{:.4f}"))
STACKED = (("modes_covered", "modes", "{:g}"), ("modes_kl", "modes KL", "{:.3f}"), ("fid", "FID", "{:.2f}"))
CLASSES = (("classes_covered", "classes", "{:g}"), ("class_kl", "class KL", "{:.3f}"), ("fid", "FID", "{:.2f}"),
           ("epoch", "epoch", "{:g}"), ("train_seconds", "train s", "{:.1f}"))

ROWS: dict[str, Row] = {
    "toy-grid25": Row(5, MODES_2D, (Target("modes_captured", ">=", 25), Target("high_quality", ">=", 0.90)),
                      max_wall=120.0),
    "toy-ring8": Row(5, MODES_2D, (Target("modes_captured", ">=", 8), Target("high_quality", ">=", 0.95))),
    "toy-parabola": Row(10, CURVE, (Target("curve_coverage", ">=", 0.90, every_seed=True),)),
    "toy-line": Row(10, CURVE, (Target("curve_coverage", ">=", 0.90, every_seed=True),)),
    "stacked-mnist-dcgan": Row(3, STACKED, (Target("modes_covered", ">=", 990), Target("modes_kl", "<=", 0.1),
                                            Target("n_fake", ">=", 10000, every_seed=True)),
                               max_wall=900.0, fixed=("eval.n=10000",), summary=("modes_covered", "modes_kl")),
    "mnist-mlp-tuned": Row(5, CLASSES, (Target("classes_covered", ">=", 10), Target("class_kl", "<=", 0.05),
                                        Target("fid_ratio", ">=", 3.0)),
                           same_time=True, extra=(("fid_ratio", "FID ratio", "{:.2f}"),),
                           summary=("classes_covered", "class_kl", "fid")),
}
WALL = ("wall_seconds", "wall s", "{:.1f}")


# ------------------------------------------------------------------------------ pure helpers

def seed_list(spec: str | None, default_count: int) -> list[int]:
    """``None`` -> 0..default_count-1; ``"N"`` -> 0..N-1; ``"3,5"`` (or ``"3,"``) -> those seeds."""
    if spec is None:
        return list(range(default_count))
    text = spec.strip()
    if "," not in text:
        count = int(text)
        if count < 1:
            raise ValueError(f"a seed count must be at least 1, got {count}")
        return list(range(count))
    return [int(s) for s in text.split(",") if s.strip()]


def _finite(values: list[Any]) -> list[float]:
    return [float(v) for v in values
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]


def median_range(values: list[Any]) -> tuple[float, float, float] | None:
    """(median, min, max) of the finite numbers among ``values``; None when there are none."""
    numbers = _finite(values)
    if not numbers:
        return None
    return statistics.median(numbers), min(numbers), max(numbers)


def format_value(value: Any, fmt: str) -> str:
    numbers = _finite([value])
    return fmt.format(numbers[0]) if numbers else "–"


def format_range(values: list[Any], fmt: str) -> str:
    """``"min–max"`` of the finite values (``"–"`` when none)."""
    stats = median_range(values)
    return "–" if stats is None else f"{fmt.format(stats[1])}–{fmt.format(stats[2])}"


def format_median_range(values: list[Any], fmt: str) -> str:
    """``"median (min–max)"``, e.g. ``"0.95 (0.90–0.97)"``; ``"–"`` when no value is finite."""
    stats = median_range(values)
    if stats is None:
        return "–"
    return f"{fmt.format(stats[0])} ({fmt.format(stats[1])}–{fmt.format(stats[2])})"


def _meets(value: float, op: str, threshold: float) -> bool:
    return value >= threshold if op == ">=" else value <= threshold


def check_targets(targets: tuple[Target, ...] | list[Target], runs: list[dict[str, Any] | None],
                  max_wall: float | None = None) -> tuple[bool, list[tuple[str, bool]]]:
    """PASS/FAIL of the preset arm's per-seed metrics ``runs`` (None: a seed whose run failed),
    with one (sentence, ok) per check. A median target needs every seed's value; an
    ``every_seed`` target is checked on the worst seed."""
    checks: list[tuple[str, bool]] = []
    for target in targets:
        values = [None if run is None else run.get(target.metric) for run in runs]
        numbers = _finite(values)
        missing = len(values) - len(numbers)
        if not values or missing:
            checks.append((f"{target.metric}: {missing} of {len(values)} seeds without a value", False))
            continue
        if target.every_seed:
            worst = min(numbers) if target.op == ">=" else max(numbers)
            ok = all(_meets(v, target.op, target.threshold) for v in numbers)
            checks.append((f"every seed {target.metric} {target.op} {target.threshold:g} (worst {worst:.4g})", ok))
        else:
            median = statistics.median(numbers)
            checks.append((f"median {target.metric} {median:.4g} {target.op} {target.threshold:g}",
                           _meets(median, target.op, target.threshold)))
    if max_wall is not None:
        walls = [None if run is None else run.get("wall_seconds") for run in runs]
        numbers = _finite(walls)
        if not walls or len(numbers) < len(walls):
            checks.append((f"wall time of every run <= {max_wall:.0f} s: some unknown", False))
        else:
            checks.append((f"slowest run {max(numbers):.1f} s <= {max_wall:.0f} s", max(numbers) <= max_wall))
    return all(ok for _, ok in checks), checks


def verdict_line(passed: bool, checks: list[tuple[str, bool]]) -> str:
    detail = "; ".join(f"{text} {'ok' if ok else 'MISSED'}" for text, ok in checks)
    return f"**{'PASS' if passed else 'FAIL'}** ({detail})"


def filter_overrides(overrides: list[str], known_keys: set[str] | frozenset[str]) -> tuple[list[str], list[str]]:
    """(kept, dropped): the KEY=VALUE overrides whose key the config schema knows, and the others."""
    kept, dropped = [], []
    for item in overrides:
        key = item.partition("=")[0].strip()
        (kept if key in known_keys else dropped).append(item)
    return kept, dropped


def budget_overrides(config: dict[str, Any], keys: tuple[str, ...] = BUDGET_KEYS) -> list[str]:
    """``section.key=value`` for ``keys`` from a resolved config's ``to_dict()``: the step budget
    the baseline must share with the preset."""
    items = []
    for key in keys:
        section, _, name = key.partition(".")
        items.append(f"{key}={config[section][name]}")
    return items


def select_at_time(records: list[dict[str, Any]], limit: float, metric: str = "fid") -> dict[str, Any] | None:
    """The last record of ``metrics.jsonl`` that has a finite ``metric`` and a ``time`` (training
    seconds so far) <= ``limit``; None when no evaluation came that early."""
    chosen = None
    for record in sorted(records, key=lambda r: r.get("step", 0)):
        if _finite([record.get(metric)]) and _finite([record.get("time")]) and record["time"] <= limit:
            chosen = record
    return chosen


def extension_epochs(epochs_done: int, seconds_done: float, target_seconds: float,
                     margin: float = EXTENSION_MARGIN) -> int:
    """Epochs a run that trained ``epochs_done`` epochs in ``seconds_done`` needs in all to pass
    ``target_seconds`` of training time (with ``margin``); at least one more epoch."""
    per_epoch = seconds_done / max(epochs_done, 1)
    wanted = math.ceil(target_seconds * margin / max(per_epoch, 1e-9))
    return max(epochs_done + 1, wanted)


def config_differences(expected: dict[str, Any], stored: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[str]:
    """``section.key`` names whose values differ between two ``Config.to_dict()`` mappings."""
    keys = []
    for section in sorted(set(expected) | set(stored)):
        a, b = expected.get(section), stored.get(section)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += [f"{section}.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif a != b:
            keys.append(section)
    return [k for k in keys if k not in ignore]


# ------------------------------------------------------------------------------ running

@dataclass
class Job:
    preset: str  # the row
    seed: int
    arm: str  # "preset" or "baseline"
    target: str  # the preset name trained
    overrides: list[str]
    out: str
    extension: int = 0  # resumes of an equal-time baseline (0: a fresh run)
    epochs: int = 0  # train.epochs of a resume

    @property
    def key(self) -> tuple[str, int, str]:
        return self.preset, self.seed, self.arm


def _set_single_thread() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"


def numeric(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def read_run(out: str | Path) -> dict[str, Any]:
    """The numeric final metrics of a finished run folder, with its wall seconds, the number of
    problems its diagnostics reported (``diagnosed``) and their kinds (``diagnoses``)."""
    folder = Path(out)
    final = json.loads((folder / "final_metrics.json").read_text(encoding="utf-8"))
    metrics: dict[str, Any] = numeric(final)
    kinds = sorted({d.get("kind", "?") for d in final.get("diagnostics") or [] if isinstance(d, dict)})
    metrics["diagnosed"] = float(len(kinds))
    metrics["diagnoses"] = ", ".join(kinds)
    extra = folder / RESULT_FILE
    wall = json.loads(extra.read_text(encoding="utf-8")).get("wall_seconds") if extra.is_file() else None
    metrics["wall_seconds"] = float(wall) if isinstance(wall, (int, float)) else float("nan")
    return metrics


def train_job(job: Job) -> dict[str, Any]:
    """Train (or resume) one run in this process with one thread; return its final metrics."""
    _set_single_thread()
    import torch

    torch.set_num_threads(1)
    import gankit

    folder = Path(job.out)
    previous = 0.0
    started = time.perf_counter()
    if job.extension:
        if (folder / RESULT_FILE).is_file():
            previous = float(json.loads((folder / RESULT_FILE).read_text(encoding="utf-8")).get("wall_seconds", 0.0))
        gankit.train(folder, overrides=[f"train.epochs={job.epochs}"], resume=True)
    else:
        gankit.train(job.target, overrides=job.overrides, out=folder, force=True)
    wall = previous + time.perf_counter() - started
    (folder / RESULT_FILE).write_text(json.dumps({"wall_seconds": wall}), encoding="utf-8")
    return {"key": job.key, "metrics": read_run(folder)}


def reusable(job: Job, ignore: tuple[str, ...]) -> tuple[bool, str]:
    """Whether the finished run in ``job.out`` was trained with the config ``job`` would train."""
    from gankit.config import load_config

    folder = Path(job.out)
    if not (folder / "final_metrics.json").is_file() or not (folder / "config.toml").is_file():
        return False, ""
    expected = load_config(job.target, job.overrides).to_dict()
    stored = load_config(folder / "config.toml").to_dict()
    differ = config_differences(expected, stored, ignore)
    if differ:
        return False, f"# not reusing {folder}: its config differs in {', '.join(differ)}"
    return True, ""


@dataclass
class Plan:
    """One row's resolved arms."""

    preset: str
    row: Row
    seeds: list[int]
    baseline: str
    preset_overrides: list[str]
    baseline_overrides: list[str]
    levers: list[str]  # the baseline's own overrides (levers off; eval settings of an equal-time baseline)
    budget: list[str]  # the preset's step budget given to the baseline
    identical: bool  # the baseline's config is the preset's: its runs are reused as the baseline
    notes: list[str]


def plan_row(preset: str, row: Row, seeds: list[int], extra: list[str], known: set[str]) -> Plan:
    from gankit.config import load_config

    notes: list[str] = []
    baseline, levers = BASELINES.get(preset, (preset, []))
    levers, dropped = filter_overrides(levers, known)
    if dropped:
        notes.append(f"baseline overrides not in the config schema (skipped): {', '.join(dropped)}")
    common = [*row.fixed, *extra]
    config = load_config(preset, common)  # fails fast on a bad override
    if row.same_time:
        levers, budget = [*levers, "eval.every=1", f"eval.n={config.eval.n}"], []
        baseline_overrides = [*common, *levers]
        base_config = load_config(baseline, baseline_overrides)
        if base_config.train.lr_decay != "none":
            notes.append(f"warning: {baseline} has lr_decay={base_config.train.lr_decay}: its schedule depends on "
                         "train.epochs, so an epoch of a longer run is not the preset's run at that time")
    else:
        budget = budget_overrides(config.to_dict())
        baseline_overrides = [*common, *levers, *budget]
        base_config = load_config(baseline, baseline_overrides)
    identical = baseline == preset and base_config.to_dict() == config.to_dict()
    if identical:
        notes.append("the baseline's config equals the preset's (no mode-coverage lever is on): "
                     "the baseline columns repeat the preset's runs")
    return Plan(preset, row, seeds, baseline, common, baseline_overrides, levers, budget, identical, notes)


def jobs_for(plan: Plan, seed: int, out: Path) -> list[Job]:
    folder = out / plan.preset / f"seed{seed}"
    seeded = [f"train.seed={seed}", *QUIET]
    jobs = [Job(plan.preset, seed, "preset", plan.preset, [*plan.preset_overrides, *seeded], str(folder / "preset"))]
    if not plan.identical:
        jobs.append(Job(plan.preset, seed, "baseline", plan.baseline, [*plan.baseline_overrides, *seeded],
                        str(folder / "baseline")))
    return jobs


def time_curve(out: str | Path) -> list[dict[str, Any]]:
    from gankit.files.records import read_records

    return read_records(Path(out) / "metrics.jsonl")


def extension_for(plan: Plan, seed: int, results: dict, out: Path, counts: dict) -> Job | None:
    """A resume of the equal-time baseline of ``seed`` when it has not trained as long as the preset."""
    preset_run, baseline_run = results.get((plan.preset, seed, "preset")), results.get((plan.preset, seed, "baseline"))
    if not plan.row.same_time or preset_run is None or baseline_run is None:
        return None
    limit = preset_run.get("train_seconds", float("nan"))
    done = baseline_run.get("train_seconds", float("nan"))
    if not _finite([limit, done]) or done >= limit or counts.get(seed, 0) >= MAX_EXTENSIONS:
        return None
    counts[seed] = counts.get(seed, 0) + 1
    epochs = extension_epochs(int(baseline_run.get("epoch", 0)), done, limit)
    folder = out / plan.preset / f"seed{seed}" / "baseline"
    return Job(plan.preset, seed, "baseline", plan.baseline, [], str(folder), extension=counts[seed], epochs=epochs)


def at_same_time(plan: Plan, seed: int, results: dict, out: Path) -> tuple[dict[str, float] | None, str]:
    """The baseline's metrics at its last evaluation within the preset's training time W, with
    a note when it never reached W."""
    preset_run, baseline_run = results.get((plan.preset, seed, "preset")), results.get((plan.preset, seed, "baseline"))
    if preset_run is None or baseline_run is None:
        return None, ""
    limit = preset_run.get("train_seconds", float("nan"))
    record = select_at_time(time_curve(out / plan.preset / f"seed{seed}" / "baseline"), limit)
    note = ""
    if baseline_run.get("train_seconds", 0.0) < limit:
        note = (f"seed {seed}: the baseline trained {baseline_run.get('train_seconds', 0.0):.1f} s, "
                f"less than W = {limit:.1f} s; its last evaluation is used")
    if record is None:
        return None, f"seed {seed}: no baseline evaluation within W = {limit:.1f} s"
    metrics = numeric(record)
    metrics["train_seconds"] = record["time"]
    metrics["wall_seconds"] = baseline_run.get("wall_seconds", float("nan"))
    return metrics, note


# ------------------------------------------------------------------------------ tables

def row_table(plan: Plan, preset_runs: list[dict | None], baseline_runs: list[dict | None],
              notes: list[str]) -> tuple[str, bool]:
    row = plan.row
    columns = list(row.columns)
    header = ([f"{title}" for _, title, _ in columns] + [f"baseline {title}" for _, title, _ in columns]
              + [title for _, title, _ in row.extra] + ["wall s", "baseline wall s"])
    heading = f"### {plan.preset} vs {plan.baseline} {' '.join(plan.levers) or '(as is)'}"
    if plan.budget:
        heading += f"; same budget: {' '.join(plan.budget)}"
    lines = [heading, "",
             "| seed | " + " | ".join(header) + " |", "|---:|" + "---:|" * len(header)]

    def cells(run: dict | None, cols) -> list[str]:
        return [format_value(None if run is None else run.get(key), fmt) for key, _, fmt in cols]

    for seed, p, b in zip(plan.seeds, preset_runs, baseline_runs):
        line = cells(p, columns) + cells(b, columns) + cells(p, row.extra) + cells(p, [WALL]) + cells(b, [WALL])
        lines.append(f"| {seed} | " + " | ".join(line) + " |")

    def summary(fn) -> list[str]:
        def arm(runs, cols):
            return [fn([None if r is None else r.get(key) for r in runs], fmt) for key, _, fmt in cols]
        return (arm(preset_runs, columns) + arm(baseline_runs, columns) + arm(preset_runs, row.extra)
                + arm(preset_runs, [WALL]) + arm(baseline_runs, [WALL]))

    def median_of(values, fmt):
        stats = median_range(values)
        return "–" if stats is None else fmt.format(stats[0])

    lines.append("| **median** | " + " | ".join(f"**{c}**" for c in summary(median_of)) + " |")
    lines.append("| range | " + " | ".join(summary(format_range)) + " |")
    lines.append("")
    lines.append(diagnostics_line(preset_runs, baseline_runs))
    lines.append("")
    lines += [f"Note: {note}" for note in plan.notes + notes]
    if plan.notes or notes:
        lines.append("")
    passed, checks = check_targets(row.targets, preset_runs, row.max_wall)
    lines.append(verdict_line(passed, checks))
    return "\n".join(lines), passed


def diagnostics_line(preset_runs: list[dict | None], baseline_runs: list[dict | None]) -> str:
    """How many runs of each arm the run diagnostics flagged, and with what: they should stay
    quiet on the preset's healthy runs and fire on a baseline that collapses."""
    def arm(runs: list[dict | None]) -> str:
        done = [r for r in runs if r is not None]
        flagged = [r for r in done if r.get("diagnosed")]
        kinds = sorted({k for r in flagged for k in str(r.get("diagnoses", "")).split(", ") if k})
        return f"{len(flagged)}/{len(done)} runs" + (f" ({', '.join(kinds)})" if kinds else "")
    return f"Diagnostics flagged: preset {arm(preset_runs)}; baseline {arm(baseline_runs)}."


def summary_table(entries: list[tuple[Plan, list, list, bool]]) -> str:
    lines = ["| preset | baseline | preset median (range) | baseline median (range) | result |",
             "|---|---|---|---|---|"]
    for plan, preset_runs, baseline_runs, passed in entries:
        shown = set(plan.row.summary or (t.metric for t in plan.row.targets))
        cols = [c for c in plan.row.columns if c[0] in shown] or list(plan.row.columns)

        def arm(runs):
            return "; ".join(f"{title} {format_median_range([None if r is None else r.get(key) for r in runs], fmt)}"
                             for key, title, fmt in cols)
        preset_text = arm(preset_runs)
        for key, title, fmt in plan.row.extra:
            preset_text += f"; {title} {format_median_range([None if r is None else r.get(key) for r in preset_runs], fmt)}"
        lines.append(f"| {plan.preset} | {plan.baseline} | {preset_text} | {arm(baseline_runs)} | "
                     f"**{'PASS' if passed else 'FAIL'}** |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Train each mode-coverage preset and its plain-GAN baseline over several seeds (one thread "
                    "per run) and print Markdown tables with medians, ranges and PASS/FAIL against the targets.",
        epilog="Example: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_quality.py "
               "--presets toy-ring8 --seeds 2 train.epochs=20",
    )
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="config overrides applied to both arms of every row (e.g. train.epochs=20)")
    parser.add_argument("--presets", default=",".join(ROWS),
                        help="comma-separated rows (default: %(default)s)")
    parser.add_argument("--seeds", default=None,
                        help="N (seeds 0..N-1 for every row) or a comma list of train.seed values "
                             "(default: each row's own count)")
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel, one thread each (default: %(default)s)")
    parser.add_argument("--out", default=None, help="folder for the run folders (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the run folders of the temporary --out")
    parser.add_argument("--reuse", action="store_true",
                        help="do not retrain runs already finished under --out with the same config")
    args = parser.parse_args(argv)

    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    unknown = [p for p in presets if p not in ROWS]
    if unknown:
        parser.error(f"no row for {', '.join(unknown)}; rows: {', '.join(ROWS)}")
    try:
        seeds_of = {p: seed_list(args.seeds, ROWS[p].seeds) for p in presets}
    except ValueError as exc:
        parser.error(f"--seeds: {exc}")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.reuse and args.out is None:
        parser.error("--reuse needs --out (the folder holding the finished runs)")
    for item in args.overrides:
        if "=" not in item:
            parser.error(f"override {item!r} is not KEY=VALUE")

    _set_single_thread()
    from gankit.config import preset_names, valid_keys

    available, known = set(preset_names()), set(valid_keys())
    plans: list[Plan] = []
    skipped: list[str] = []
    for preset in presets:
        baseline = BASELINES.get(preset, (preset, []))[0]
        missing = [name for name in (preset, baseline) if name not in available]
        if missing:
            skipped.append(f"{preset}: preset {', '.join(missing)} does not exist on this branch; row skipped")
            continue
        plans.append(plan_row(preset, ROWS[preset], seeds_of[preset], args.overrides, known))
    for note in skipped:
        print(f"# {note}", file=sys.stderr)
    for plan in plans:
        for note in plan.notes:
            print(f"# {plan.preset}: {note}", file=sys.stderr)

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench_quality_"))
    results: dict[tuple[str, int, str], dict[str, float]] = {}
    jobs: list[Job] = []
    for plan in plans:
        ignore = ("train.epochs",)
        for seed in plan.seeds:
            for job in jobs_for(plan, seed, out):
                if args.reuse:
                    ok, note = reusable(job, ignore if plan.row.same_time and job.arm == "baseline" else ())
                    if ok:
                        results[job.key] = read_run(job.out)
                        continue
                    if note:
                        print(note, file=sys.stderr)
                jobs.append(job)
    reused = len(results)
    by_name = {plan.preset: plan for plan in plans}
    extensions: dict[str, dict[int, int]] = {plan.preset: {} for plan in plans}
    for plan in plans:  # reused equal-time baselines that stop short of W
        for seed in plan.seeds:
            if (job := extension_for(plan, seed, results, out, extensions[plan.preset])) is not None:
                jobs.append(job)
    failed: list[str] = []
    trained = 0
    started = time.perf_counter()
    print(f"# {len(jobs)} runs to train ({len(results)} reused), {args.jobs} in parallel, 1 thread each; "
          f"run folders in {out}", file=sys.stderr, flush=True)
    try:
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
            pending = {pool.submit(train_job, job): job for job in jobs}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    job = pending.pop(future)
                    what = f"{job.preset} seed {job.seed} {job.arm}" + (f" (resumed to {job.epochs} epochs)"
                                                                         if job.extension else "")
                    try:
                        result = future.result()
                    except Exception as exc:  # report the row as failed, keep the other runs going
                        failed.append(f"{what}: {type(exc).__name__}: {exc}")
                        print(f"# FAILED {what}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                        continue
                    results[job.key] = result["metrics"]
                    trained += 1
                    m = result["metrics"]
                    print(f"# done {what}: {m.get('train_seconds', float('nan')):.1f} s training, "
                          f"{m['wall_seconds']:.1f} s wall", file=sys.stderr, flush=True)
                    plan = by_name[job.preset]
                    follow = extension_for(plan, job.seed, results, out, extensions[job.preset])
                    if follow is not None:
                        pending[pool.submit(train_job, follow)] = follow
        total = time.perf_counter() - started

        command = " ".join(["benchmarks/bench_quality.py", f"--presets {','.join(presets)}",
                            *([f"--seeds {args.seeds}"] if args.seeds else []), f"--jobs {args.jobs}",
                            *args.overrides])
        print(f"Command: `{command}`\n")
        for note in skipped:
            print(f"Skipped: {note}\n")
        entries = []
        for plan in plans:
            notes: list[str] = []
            preset_runs = [results.get((plan.preset, s, "preset")) for s in plan.seeds]
            if plan.identical:
                baseline_runs = list(preset_runs)
            elif plan.row.same_time:
                baseline_runs = []
                for seed, run in zip(plan.seeds, preset_runs):
                    metrics, note = at_same_time(plan, seed, results, out)
                    baseline_runs.append(metrics)
                    if note:
                        notes.append(note)
                    if run is not None:
                        fids = [run.get("fid"), None if metrics is None else metrics.get("fid")]
                        if len(_finite(fids)) == 2 and fids[0] > 0:
                            run["fid_ratio"] = fids[1] / fids[0]
                notes.append("W = the preset run's train_seconds (training steps only); the baseline columns are "
                             "its last evaluation with metrics.jsonl time <= W (its train s); FID ratio = "
                             "baseline FID at W / preset FID; baseline wall s is its whole run, every epoch's "
                             "evaluation included")
            else:
                baseline_runs = [results.get((plan.preset, s, "baseline")) for s in plan.seeds]
            table, passed = row_table(plan, preset_runs, baseline_runs, notes)
            entries.append((plan, preset_runs, baseline_runs, passed))
            print(table + "\n")
        if entries:
            print("## Summary\n")
            print(summary_table(entries) + "\n")
        for line in failed:
            print(f"Failed run: {line}")
        print(f"Total wall time {total:.0f} s: {trained} runs trained or resumed, {reused} reused, "
              f"{args.jobs} in parallel.")
    finally:
        if args.out is None and not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    return 0 if entries and all(passed for *_, passed in entries) else 1


if __name__ == "__main__":
    sys.exit(main())
