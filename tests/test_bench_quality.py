"""benchmarks/bench_quality.py's pure functions: formatting, target checks, baseline override
filtering and the equal-training-time selection. Nothing here trains."""

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_quality.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_quality", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_quality"] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("bench_quality", None)


def test_median_and_range_formatting(bench):
    assert bench.format_median_range([0.97, 0.90, 0.95], "{:.2f}") == "0.95 (0.90–0.97)"
    assert bench.format_median_range([25, 24, 25, 25, 23], "{:g}") == "25 (23–25)"
    assert bench.format_range([3.0, None, float("nan"), 1.0], "{:.1f}") == "1.0–3.0"  # missing values skipped
    assert bench.format_median_range([None, float("nan")], "{:.2f}") == "–"
    assert bench.median_range([1, 2, 3, 10]) == (2.5, 1, 10)
    assert bench.format_value(None, "{:.2f}") == "–"


def test_median_targets_pass_and_fail(bench):
    targets = (bench.Target("modes_captured", ">=", 8), bench.Target("high_quality", ">=", 0.95))
    good = [{"modes_captured": 8, "high_quality": q, "wall_seconds": 50.0} for q in (0.96, 0.97, 0.90)]
    passed, checks = bench.check_targets(targets, good, max_wall=120)
    assert passed and all(ok for _, ok in checks)  # the median 0.96 passes though one seed is 0.90
    bad = [{"modes_captured": m, "high_quality": 0.99, "wall_seconds": 50.0} for m in (7, 7, 8)]
    passed, checks = bench.check_targets(targets, bad)
    assert not passed
    assert [ok for _, ok in checks] == [False, True]
    assert "MISSED" in bench.verdict_line(passed, checks) and bench.verdict_line(passed, checks).startswith("**FAIL**")


def test_wall_limit_and_failed_seed_fail(bench):
    targets = (bench.Target("modes_kl", "<=", 0.1),)
    slow = [{"modes_kl": 0.05, "wall_seconds": w} for w in (100.0, 950.0)]
    assert not bench.check_targets(targets, slow, max_wall=900)[0]
    assert bench.check_targets(targets, slow[:1], max_wall=900)[0]
    assert not bench.check_targets(targets, [slow[0], None])[0]  # a run that failed is no pass


def test_every_seed_rule_for_curves(bench):
    every = (bench.Target("curve_coverage", ">=", 0.90, every_seed=True),)
    median_only = (bench.Target("curve_coverage", ">=", 0.90),)
    runs = [{"curve_coverage": c} for c in (1.0, 0.95, 0.99, 0.65, 1.0)]
    assert bench.check_targets(median_only, runs)[0]  # the median is 0.99
    passed, checks = bench.check_targets(every, runs)
    assert not passed and "worst 0.65" in checks[0][0]
    assert bench.check_targets(every, [{"curve_coverage": c} for c in (0.90, 0.93, 1.0)])[0]
    rows = bench.ROWS
    assert all(t.every_seed for name in ("toy-parabola", "toy-line") for t in rows[name].targets)


def test_baseline_override_filtering(bench):
    known = {"model.pack", "objective.mode_seeking_weight", "train.epochs"}
    kept, dropped = bench.filter_overrides(
        ["model.pack=1", "model.minibatch_kernels=0", "objective.mode_seeking_weight=0"], known)
    assert kept == ["model.pack=1", "objective.mode_seeking_weight=0"]
    assert dropped == ["model.minibatch_kernels=0"]


def test_baseline_table_is_valid_against_the_schema(bench):
    from gankit.config import valid_keys

    known = set(valid_keys())
    assert set(bench.BASELINES) == set(bench.ROWS)
    for preset, (baseline, levers) in bench.BASELINES.items():
        kept, dropped = bench.filter_overrides(levers, known)
        assert all(item.partition("=")[0] in known for item in kept)
        assert set(dropped) <= {"model.minibatch_kernels=0"}, preset  # only the key still on another branch


def test_budget_overrides_copy_the_step_budget(bench):
    from gankit.config import load_config

    config = load_config("toy-ring8", ["train.epochs=7"]).to_dict()
    budget = bench.budget_overrides(config)
    assert "train.epochs=7" in budget and "train.batch_size=256" in budget


def test_same_wall_time_selection(bench):
    records = [  # metrics.jsonl of a baseline with eval.every=1 (time: training seconds so far)
        {"epoch": 1, "step": 78, "time": 10.0, "fid": 90.0, "classes_covered": 9},
        {"epoch": 2, "step": 156, "time": 20.5, "fid": 60.0, "classes_covered": 10},
        {"epoch": 3, "step": 234, "time": 30.2, "g_loss": 1.0},  # no evaluation logged this epoch
        {"epoch": 4, "step": 312, "time": 40.9, "fid": 41.0},
        {"epoch": 5, "step": 390, "time": 51.0, "fid": 35.0},
    ]
    assert bench.select_at_time(records, 45.0)["epoch"] == 4
    assert bench.select_at_time(records, 40.9)["epoch"] == 4  # <= W
    assert bench.select_at_time(records, 40.8)["epoch"] == 2  # epoch 3 has no FID
    assert bench.select_at_time(list(reversed(records)), 25.0)["fid"] == 60.0  # order by step, not file order
    assert bench.select_at_time(records, 9.9) is None
    records.append({"epoch": 6, "step": 468, "time": 60.0, "fid": float("nan")})
    assert bench.select_at_time(records, 100.0)["epoch"] == 5


def test_extension_epochs_pass_the_target_time(bench):
    epochs = bench.extension_epochs(10, 20.0, 50.0)  # 2 s per epoch, 50 s wanted
    assert epochs * 2.0 >= 50.0 and epochs > 10
    assert bench.extension_epochs(10, 20.0, 20.5, margin=1.0) == 11


def test_seed_list(bench):
    assert bench.seed_list(None, 5) == [0, 1, 2, 3, 4]
    assert bench.seed_list("2", 10) == [0, 1]
    assert bench.seed_list("3,5", 10) == [3, 5]
    assert bench.seed_list("3,", 10) == [3]
    with pytest.raises(ValueError):
        bench.seed_list("0", 5)


def test_config_differences(bench):
    a = {"train": {"epochs": 3, "seed": 0}, "model": {"pack": 2}, "description": "x"}
    b = {"train": {"epochs": 9, "seed": 0}, "model": {"pack": 1}, "description": "x"}
    assert bench.config_differences(a, b) == ["model.pack", "train.epochs"]
    assert bench.config_differences(a, b, ignore=("train.epochs",)) == ["model.pack"]


def test_diagnostics_line_counts_flagged_runs_per_arm(bench):
    preset = [{"diagnosed": 0.0, "diagnoses": ""}, {"diagnosed": 0.0, "diagnoses": ""}, None]
    baseline = [{"diagnosed": 1.0, "diagnoses": "mode_collapse"},
                {"diagnosed": 2.0, "diagnoses": "d_saturation, mode_collapse"}, {"diagnosed": 0.0, "diagnoses": ""}]
    line = bench.diagnostics_line(preset, baseline)
    assert line == ("Diagnostics flagged: preset 0/2 runs; "
                    "baseline 2/3 runs (d_saturation, mode_collapse).")


def test_read_run_reports_the_diagnoses(bench, tmp_path):
    (tmp_path / "final_metrics.json").write_text(json.dumps(
        {"fid": 3.5, "diagnostics": [{"kind": "mode_collapse", "since_epoch": 4, "message": "m"}]}))
    run = bench.read_run(tmp_path)
    assert run["fid"] == 3.5 and run["diagnosed"] == 1.0 and run["diagnoses"] == "mode_collapse"
    assert math.isnan(run["wall_seconds"])
