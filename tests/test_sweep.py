"""gankit.sweep: folder names per grid point, skip / resume / restart on a re-run, exact
shards, a grid checked before the first run, a failing run that does not stop the sweep."""

import json
import subprocess
import sys

import pytest

import gankit
from gankit.files import owner
from gankit.files.atomic import write_text
from gankit.config import load_config
from gankit.errors import ConfigError, GankitError
from gankit.experiments.grid import expand, normalise_grid, parse_shard, shard_points
from gankit.files.records import read_records


@pytest.fixture
def fixed(tiny_overrides):
    """The tiny ring8 run with 2 epochs, evaluated every epoch, a checkpoint each epoch."""
    return [o for o in tiny_overrides if not o.startswith(("train.epochs", "eval.every"))] + \
        ["train.epochs=2", "eval.every=1"]


def _mtimes(out, names):
    return {name: (out / name / "final_metrics.json").stat().st_mtime_ns for name in names}


def test_sweep_trains_skips_resumes_and_restarts(tmp_path, fixed):
    out = tmp_path / "sweep"
    grid = {"objective.name": ["bce", "lsgan"], "train.seed": [0, 1]}
    names = ["objective-bce_seed-0", "objective-bce_seed-1", "objective-lsgan_seed-0", "objective-lsgan_seed-1"]
    # An interrupted run (1 of 2 epochs done, checkpoint kept) and one that never saved a checkpoint.
    owner.new_location(out, "sweep")  # as the first call of this sweep made it
    interrupted = out / names[0]
    gankit.train("toy-ring8", overrides=[*fixed, "objective.name=bce", "train.seed=0", "train.epochs=1"],
                 out=interrupted)
    first_epoch = read_records(interrupted / "metrics.jsonl")
    no_checkpoint = out / names[1]
    owner.create(no_checkpoint, "run", {"checkpoints/"})  # killed right after it wrote its config
    write_text(no_checkpoint / "config.toml",
               load_config("toy-ring8", [*fixed, "objective.name=bce", "train.seed=1"]).to_toml())

    runs = gankit.sweep("toy-ring8", grid, overrides=fixed, out=out, progress=False, log=None)
    assert [r.name for r in runs] == names
    assert [r.status for r in runs] == ["resumed", "restarted", "trained", "trained"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*names, "sweep.json", owner.MARKER_NAME])
    assert all(r.final["epoch"] == 2 for r in runs)
    resumed = read_records(interrupted / "metrics.jsonl")
    assert [r["epoch"] for r in resumed] == [1, 2] and resumed[0] == first_epoch[0]  # epoch 1 not retrained
    assert [r["epoch"] for r in read_records(no_checkpoint / "metrics.jsonl")] == [1, 2]
    manifest = json.loads((out / "sweep.json").read_text())
    assert manifest["grid"] == {"objective.name": ["bce", "lsgan"], "train.seed": ["0", "1"]}
    assert [r["name"] for r in manifest["runs"]] == names and "train.progress=false" not in manifest["overrides"]

    before = _mtimes(out, names)
    again = gankit.sweep("toy-ring8", grid, overrides=fixed, out=out, progress=False, log=None)
    assert [r.status for r in again] == ["skipped"] * 4
    assert _mtimes(out, names) == before

    # Killed after its last checkpoint, before final_metrics.json: resumed, nothing retrained.
    (out / names[2] / "final_metrics.json").unlink()
    third = gankit.sweep("toy-ring8", grid, overrides=fixed, out=out, progress=False, log=None)
    assert [r.status for r in third] == ["skipped", "skipped", "resumed", "skipped"]
    assert [r["epoch"] for r in read_records(out / names[2] / "metrics.jsonl")] == [1, 2]

    with pytest.raises(GankitError, match="different sweep.*grid"):
        gankit.sweep("toy-ring8", {**grid, "objective.name": ["bce", "hinge"]}, overrides=fixed, out=out,
                     dry_run=True, log=None)
    plan = gankit.sweep("toy-ring8", grid, overrides=fixed, out=out, shard="2/2", dry_run=True, log=None)
    assert [(r.name, r.status) for r in plan] == [(names[1], "finished"), (names[3], "finished")]


def test_grid_is_checked_before_the_first_run(tmp_path, fixed):
    out = tmp_path / "sweep"
    with pytest.raises(ConfigError, match="lsgam.*closest 'lsgan'"):
        gankit.sweep("toy-ring8", ["objective.name=bce,lsgam"], overrides=fixed, out=out, log=None)
    with pytest.raises(ConfigError, match="unknown config key 'objective.nme'"):
        gankit.sweep("toy-ring8", ["train.seed=1,2", "objective.nme=bce"], overrides=fixed, out=out, log=None)
    with pytest.raises(ConfigError, match="train.epochs: given both"):
        gankit.sweep("toy-ring8", ["train.epochs=1,2"], overrides=fixed, out=out, log=None)
    with pytest.raises(ConfigError, match="at least one --grid"):
        gankit.sweep("toy-ring8", {}, overrides=fixed, out=out, log=None)
    assert not out.exists()


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 20])
def test_shards_partition_the_grid(count):
    points = expand(normalise_grid(["objective.name=bce,lsgan,hinge", "train.epochs=1,2", "train.seed=0,1,2"]))
    assert len(points) == 18 and len({p.name for p in points}) == 18
    slices = [shard_points(points, parse_shard(f"{i}/{count}")) for i in range(1, count + 1)]
    union = [p.name for part in slices for p in part]
    assert sorted(union) == sorted(p.name for p in points) and len(union) == len(set(union))
    sizes = [len(part) for part in slices]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("bad", ["0/3", "4/3", "1/0", "a/b", "2"])
def test_bad_shard_is_refused(bad):
    with pytest.raises(ConfigError, match="--shard"):
        parse_shard(bad)


def test_folder_names():
    names = lambda grid: [p.name for p in expand(normalise_grid(grid))]
    assert names({"objective.name": ["bce", "js"], "train.epochs": [5]}) == ["objective-bce", "objective-js"]
    assert names(["data.name=ring8,grid25", "objective.name=bce"]) == ["data-ring8", "data-grid25"]
    assert names(["data.name=ring8,grid25", "objective.name=bce,js"]) == [
        "data-ring8_objective-bce", "data-ring8_objective-js", "data-grid25_objective-bce", "data-grid25_objective-js"]
    assert names(["data.seed=1,2", "train.seed=3,4"])[0] == "data.seed-1_train.seed-3"  # collision: full keys
    assert names(["model.g_hidden=16,16|32,32"]) == ["g_hidden-16-16", "g_hidden-32-32"]
    assert names(["data.path=/data/a b.csv,x:y"]) == ["path-data-a-b.csv", "path-x-y"]
    assert names(["description=a/b,a:b"]) == ["description-a-b", "description-a-b_2"]
    with pytest.raises(ConfigError, match="twice"):
        normalise_grid(["train.epochs=1,1"])


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, text=True, timeout=300,
                          check=False)


def test_cli_failing_run_is_reported_and_the_sweep_goes_on(tmp_path, fixed):
    out, missing = tmp_path / "sweep", tmp_path / "missing.csv"
    overrides = [o for o in fixed if not o.startswith("data.name")]
    result = _cli("sweep", "toy-ring8", *overrides, f"data.path={missing}", "--grid", "data.name=points,ring8",
                  "--out", str(out), "-q")
    assert result.returncode == 1, result.stderr
    assert "1 of 2 runs failed: data-points" in result.stderr and "missing.csv: file not found" in result.stderr
    assert "failed" in result.stdout and "trained" in result.stdout  # the summary table
    assert json.loads((out / "data-ring8" / "final_metrics.json").read_text())["epoch"] == 2

    from typer.testing import CliRunner

    from gankit.cli import app

    result = CliRunner().invoke(app, ["compare", str(out), "-o", str(tmp_path / "cmp")])  # in-process: faster
    assert result.exit_code == 0, result.output
    assert "| data-ring8 |" in result.output  # the Markdown table, one row: the run that trained
    assert {"index.html", "metrics.png", "losses.png", "samples.png", "final_metrics.csv"} <= \
        {p.name for p in (tmp_path / "cmp").iterdir()}
