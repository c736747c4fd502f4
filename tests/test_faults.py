"""Fault injection: gankit never loses or half-writes a user's files.

Each numbered case of the data-safety report is reproduced here: ``--force`` on folders
gankit did not make, a disk that fills while sampling or training, two writers on one
run, damaged run files, symlinked image folders, and the small rough edges seen in the
same tries. A full disk is a real small tmpfs where this machine lets the tests mount
one (root on Linux), and an injected ``OSError(ENOSPC)`` otherwise (the ``injected``
variants always run).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

import gankit
from fault_tools import cli, fail_fsync_of, killed_after_epoch as _killed_after_epoch, one_error_line, file_snapshot as _snapshot
from gankit.config import coerce_config
from gankit.data.folder import BROKEN_LINK, LINK_TO_FOLDER, load_folder
from gankit.errors import CheckpointError, ConfigError, OutputError, RunLocked
from gankit.files import owner
from gankit.files.lock import RunLock
from gankit.files.records import REJECTED_NAME
from gankit.numbers import float_text
from gankit.sampling.images import export_samples
from gankit.files.checkpoint import load_checkpoint

_cli = cli
_one_error_line = one_error_line


SMALL = ["data.name=ring8", "data.n_samples=1024", "train.batch_size=64", "model.g_hidden=16,16",
         "model.d_hidden=16,16", "model.pack=1", "train.epochs=6", "train.sample_every=0",
         "train.checkpoint_every=1", "eval.every=0", "eval.n=200", "train.progress=false",
         "train.lr_decay=linear", "train.ema_decay=0.9"]


# ---------------------------------------------------------------- helpers







def _leftovers(root: Path) -> list[str]:
    """Temporary files or folders a failed write left behind."""
    return [p.name for p in root.rglob("*") if ".tmp" in p.name or p.name.endswith((".old", ".replaced"))]


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    return {f"{part}.{key}": value for part in ("generator", "discriminator", "generator_ema")
            for key, value in state[part].items()}


def _assert_same_weights(a: Path, b: Path) -> None:
    first, second = _weights(a), _weights(b)
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


def _output_folder(mounted: Path | None, disk: str, tmp_path: Path) -> Path:
    """Where a variant writes: the small tmpfs, or a plain folder for the injected variant."""
    folder = mounted if disk == "tmpfs" else tmp_path / "out"
    if folder is None:
        pytest.skip("cannot mount a small tmpfs here; the injected variant covers this case")
    folder.mkdir(exist_ok=True)
    return folder


@contextmanager
def small_disk(path: Path, kilobytes: int):
    """A tmpfs of ``kilobytes`` mounted at ``path`` (None where mounting is not allowed)."""
    path.mkdir()
    mounted = hasattr(os, "geteuid") and os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", str(path)], capture_output=True).returncode == 0
    try:
        yield path if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _grow(path: Path, kilobytes: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={kilobytes}k", str(path)], check=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished small run, read-only for the tests (copy it to change it)."""
    return gankit.train("toy-ring8", overrides=SMALL, out=tmp_path_factory.mktemp("runs") / "reference").path


# ---------------------------------------------------------------- 1. --force and ownership

def test_force_never_deletes_a_folder_gankit_did_not_make(tmp_path):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "config.toml").write_text("[tool.mine]\nname = 'not gankit'\n")
    (project / "src" / "main.py").write_text("print('hello')\n")
    (project / "README.md").write_text("# my project\n")
    before = _snapshot(project)
    for flags in (["--force"], []):
        result = _cli("train", "toy-ring8", *SMALL, "--out", str(project), *flags)
        assert result.returncode == 1
        assert "not a folder made by gankit" in _one_error_line(result)
        assert _snapshot(project) == before


def _copy_run(trained: Path, run: Path) -> None:
    """A copy of a run, adopted as `gankit report` would adopt a run restored from an archive."""
    shutil.copytree(trained, run)
    owner.own_run(run)


def test_force_never_deletes_the_current_folder_or_one_above_it(trained, tmp_path):
    run = tmp_path / "run"
    _copy_run(trained, run)
    before = _snapshot(run)
    for cwd, out in ((run, "."), (run / "checkpoints", "..")):
        result = _cli("train", "toy-ring8", *SMALL, "--out", out, "--force", cwd=cwd)
        assert result.returncode == 1
        assert "current directory or a folder above it" in _one_error_line(result)
    assert _snapshot(run) == before


def test_force_replaces_gankit_runs_only(trained, tmp_path):
    marked, legacy, copied, mixed = (tmp_path / name for name in ("marked", "legacy", "copied", "mixed"))
    for folder in (marked, mixed):
        _copy_run(trained, folder)
    for folder in (legacy, copied):
        shutil.copytree(trained, folder)
    (legacy / owner.MARKER_NAME).unlink()  # a run written before markers were bound...
    (legacy / owner.LEGACY_MARKER).write_text('{"made_by": "gankit"}\n')  # ... carried this one
    (mixed / "notes.txt").write_text("my notes\n")  # a user also keeps files in this one
    overrides = SMALL + ["train.epochs=1"]
    run = gankit.train("toy-ring8", overrides=overrides, out=marked, force=True)
    assert [r["epoch"] for r in run.history] == [1]
    assert owner.bound_marker(marked).kind == "run" and not _leftovers(tmp_path)
    for folder, reason in ((legacy, "older gankit"), (copied, "not written for this folder"), (mixed, "notes.txt")):
        before = _snapshot(folder)
        with pytest.raises(gankit.GankitError, match=reason):
            gankit.train("toy-ring8", overrides=overrides, out=folder, force=True)
        assert _snapshot(folder) == before
    empty = tmp_path / "empty"
    empty.mkdir()
    assert gankit.train("toy-ring8", overrides=overrides, out=empty).path == empty


def test_force_waits_for_no_one(trained, tmp_path):
    """--force on a run another process is writing is refused, naming the holder."""
    run = tmp_path / "busy"
    _copy_run(trained, run)
    before = _snapshot(run)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from gankit.files.lock import RunLock; "
                               "lock = RunLock(sys.argv[1], 'gankit train').acquire(); print('held', flush=True); "
                               "time.sleep(60)", str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLocked, match=f"in use by gankit train \\(pid {holder.pid} on "):
            gankit.train("toy-ring8", overrides=SMALL, out=run, force=True)
    finally:
        holder.kill()
        holder.wait()
    after = _snapshot(run)
    after.pop(".gankit.lock"), before.pop(".gankit.lock")
    assert after == before


# ---------------------------------------------------------------- 2. sample outputs on a full disk

@pytest.mark.parametrize("disk", ["tmpfs", "injected"])
def test_sample_on_a_full_disk_keeps_the_old_file(trained, tmp_path, monkeypatch, disk):
    with small_disk(tmp_path / "disk", 64) as mounted:
        folder = _output_folder(mounted, disk, tmp_path)
        target = folder / "mydata.csv"
        gankit.load_run(trained).save_samples(3, target)  # an earlier export, which --force may replace
        earlier = target.read_bytes()
        if disk == "tmpfs":
            result = _cli("sample", str(trained), "-n", "200000", "-o", str(target), "--force")
            assert result.returncode == 1
            line = _one_error_line(result)
        else:
            failed = fail_fsync_of(monkeypatch, "mydata.csv")
            with pytest.raises(OutputError) as error:
                gankit.load_run(trained).save_samples(200000, target, force=True)
            line = f"error: {error.value}"
            assert failed
        assert line.startswith(f"error: disk full writing {target}") and "previous mydata.csv is unchanged" in line
        assert target.read_bytes() == earlier
        assert _leftovers(folder) == []


@pytest.mark.parametrize("disk", ["tmpfs", "injected"])
def test_image_exports_on_a_full_disk_leave_nothing_half_written(tmp_path, monkeypatch, disk):
    images = torch.rand(600, 3, 16, 16) * 2 - 1  # noise: incompressible PNGs, about 0.8 kB each

    def drawer():
        position = iter(range(0, 600, 50))
        return lambda count: images[next(position):][:count]

    with small_disk(tmp_path / "disk", 96) as mounted:
        folder = _output_folder(mounted, disk, tmp_path)
        old = folder / "old.npz"
        export_samples(lambda count: images[:count], 2, old, progress=False)  # an earlier export
        before = old.read_bytes()
        if disk == "injected":
            fail_fsync_of(monkeypatch, "old.npz")
        with pytest.raises(OutputError, match="old.npz; the previous old.npz is unchanged"):
            export_samples(drawer(), 600, old, batch_size=50, progress=False, force=True)
        assert old.read_bytes() == before
        if disk == "injected":
            import gankit.sampling.images as images_module

            real_save = images_module.save_image_folder

            def save_then_fill(batch, directory, start_index=0):
                if start_index >= 300:
                    raise OSError(errno.ENOSPC, "No space left on device", str(directory / f"{start_index}.png"))
                return real_save(batch, directory, start_index)

            monkeypatch.setattr(images_module, "save_image_folder", save_then_fill)
        with pytest.raises(OutputError, match="disk full writing .*pngs; nothing was written"):
            export_samples(drawer(), 600, folder / "pngs", batch_size=50, progress=False)
        assert not (folder / "pngs").exists()
        assert _leftovers(folder) == []


# ---------------------------------------------------------------- 3. two writers

def test_a_second_writer_is_refused_and_a_dead_ones_lock_is_taken_over(tmp_path):
    overrides = SMALL + ["data.n_samples=4096"]  # 64 steps an epoch: time to catch it mid-run
    reference = gankit.train("toy-ring8", overrides=overrides, out=tmp_path / "reference")
    run = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "gankit", "train", "toy-ring8", *overrides, "--out", str(run)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "checkpoints" / "epoch_0002.pt").exists():
        assert first.poll() is None and time.time() < deadline, first.stderr.read()
        time.sleep(0.005)
    first.send_signal(signal.SIGSTOP)  # alive and holding the run, mid-training
    try:
        assert first.poll() is None, "the first run finished before the second writer came"
        second = _cli("train", str(run), "--resume")
        assert second.returncode == 1
        assert f"is in use by gankit train (pid {first.pid} on " in _one_error_line(second)
    finally:
        first.kill()
        first.communicate()
    third = _cli("train", str(run), "--resume", "-q")
    assert third.returncode == 0, third.stderr
    assert f"took over the lock of {run} left by gankit train (pid {first.pid}" in third.stderr
    epochs = [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs == list(range(1, 7))
    _assert_same_weights(reference.path, run)


def test_lock_is_exclusive_within_one_process_and_released_after(tmp_path):
    with RunLock(tmp_path, "first"):
        with pytest.raises(RunLocked, match=f"in use by first \\(pid {os.getpid()} "):
            RunLock(tmp_path, "second").acquire()
    with RunLock(tmp_path, "again") as lock:
        assert lock.note == ""  # a clean hand-over is no take-over


# ---------------------------------------------------------------- 4. damaged or mismatched run folders

def test_damaged_metric_lines_are_skipped_kept_aside_and_resume_still_matches(trained, tmp_path):
    run = tmp_path / "run"
    _killed_after_epoch(trained, run, 4)
    first_line = (run / "metrics.jsonl").read_bytes().splitlines()[0]
    bad = [b'{"epoch": "abc", "step": 3}', b"[1, 2, 3]", b'{"epoch": 2, "step": \xff\xfe}', b'{"epoch": 3, "st',
           first_line]  # the last one: epoch 1 logged twice
    with open(run / "metrics.jsonl", "ab") as handle:
        handle.write(b"\n".join(bad) + b"\n")
    for command in (["report", str(run)], ["compare", str(run), "-o", str(tmp_path / "compared")]):
        result = _cli(*command)
        assert result.returncode == 0, result.stderr
        assert "skipped 4 line(s) that are not metric records" in result.stderr
    resumed = _cli("train", str(run), "--resume", "-q")
    assert resumed.returncode == 0, resumed.stderr
    assert f"moved them to {run / REJECTED_NAME}" in resumed.stderr
    assert (run / REJECTED_NAME).read_bytes() == b"".join(line + b"\n" for line in bad[:4] + [first_line])
    epochs = [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs == list(range(1, 7))
    _assert_same_weights(trained, run)
    again = _cli("report", str(run))
    assert again.returncode == 0 and "warning" not in again.stderr


def test_an_edited_config_shape_names_the_key(trained, tmp_path):
    run = tmp_path / "run"
    _killed_after_epoch(trained, run, 4)
    config = (run / "config.toml").read_text()
    (run / "config.toml").write_text(config.replace("g_hidden = [16, 16]", "g_hidden = [32, 32]"))
    result = _cli("train", str(run), "--resume")
    assert result.returncode == 1
    line = _one_error_line(result)
    assert "model.g_hidden is [32, 32] in config.toml but [16, 16] in the checkpoint" in line
    (run / "config.toml").write_bytes(config.encode().replace(b"ring8", b"ring\xff8"))
    result = _cli("train", str(run), "--resume")
    assert result.returncode == 2 and "is not UTF-8 text (byte 0xff" in _one_error_line(result)
    report = _cli("report", str(run))
    assert report.returncode == 0, report.stderr


# ---------------------------------------------------------------- 5. image folders with links

def test_folder_links_are_never_followed_and_always_reported(tmp_path):
    from PIL import Image

    pets = tmp_path / "pets"
    for label in ("cat", "dog"):
        (pets / label).mkdir(parents=True)
        for index in range(3):
            Image.new("L", (8, 8), color=40 * index).save(pets / label / f"{index}.png")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    Image.new("L", (8, 8)).save(outside / "x.png")
    (pets / "self").symlink_to(pets)  # a loop that would double the data and invent a class
    (pets / "cat" / "away").symlink_to(outside)  # out of the tree
    (pets / "dog" / "a.png").symlink_to(pets / "dog" / "b.png")  # a link loop
    (pets / "dog" / "b.png").symlink_to(pets / "dog" / "a.png")
    (pets / "dog" / "same.png").symlink_to(pets / "dog" / "0.png")  # a link to a file is used
    dataset = load_folder(pets, image_size=8, use_cache=False)
    assert dataset.class_names == ["cat", "dog"] and len(dataset.tensor) == 7
    skipped = dict(dataset.skipped)
    assert skipped == {"self": LINK_TO_FOLDER, "cat/away": LINK_TO_FOLDER, "dog/a.png": BROKEN_LINK,
                       "dog/b.png": BROKEN_LINK}


# ---------------------------------------------------------------- 6. full disk while training

@pytest.mark.parametrize("disk", ["tmpfs", "injected"])
def test_full_disk_while_training_stops_cleanly_and_resumes_exactly(trained, tmp_path, monkeypatch, disk):
    with small_disk(tmp_path / "disk", 160) as mounted:
        if disk == "tmpfs" and mounted is None:
            pytest.skip("cannot mount a small tmpfs here; the injected variant covers this case")
        run = (mounted if disk == "tmpfs" else tmp_path) / "run"
        if disk == "tmpfs":
            result = _cli("train", "toy-ring8", *SMALL, "--out", str(run))
            assert result.returncode == 1
            line = _one_error_line(result)
        else:
            fail_fsync_of(monkeypatch, "epoch_0003.pt")
            with pytest.raises(OutputError) as error:
                gankit.train("toy-ring8", overrides=SMALL, out=run)
            line = f"error: {error.value}"
            monkeypatch.undo()
        assert line.startswith(f"error: disk full writing {run}")
        assert "the last good checkpoint is " in line and f"gankit train {run} --resume" in line
        assert _leftovers(run) == []
        good = load_checkpoint(run / "checkpoints" / line.split("the last good checkpoint is ")[1].split()[0])
        assert good["epoch"] >= 1
        if disk == "tmpfs":
            _grow(mounted, 4096)  # the user frees some space
        resumed = _cli("train", str(run), "--resume", "-q")
        assert resumed.returncode == 0, resumed.stderr
        _assert_same_weights(trained, run)


# ---------------------------------------------------------------- small ones seen in the same tries

@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_non_finite_numbers_are_rejected(value):
    with pytest.raises(ConfigError, match=f"train.g_lr: expected a finite number, got '{value}'"):
        coerce_config("toy-ring8", [f"train.g_lr={value}"])


def test_an_unsafe_checkpoint_is_refused_without_suggesting_unsafe_loading(trained, tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("touch pwned",))

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    torch.save({"format": 1, "trap": Payload()}, run / "checkpoints" / "crafted.pt")
    with pytest.raises(CheckpointError) as error:
        gankit.load_run(run, str(run / "checkpoints" / "crafted.pt"))
    assert "is not a plain-tensor checkpoint (refused for safety" in str(error.value)
    assert "weights_only" not in str(error.value) and not (tmp_path / "pwned").exists()


def test_sample_counts_and_override_strings(trained, tmp_path):
    run = gankit.load_run(trained)
    for n in (0, -1):
        with pytest.raises(ConfigError, match="at least 1 sample"):
            run.sample(n)
    config = coerce_config("toy-ring8", "train.epochs=2 model.pack=1")  # one string, split like a shell
    assert config.train.epochs == 2 and config.model.pack == 1
    with pytest.raises(ConfigError, match="not a KEY=VALUE string"):
        coerce_config("toy-ring8", [3])


def test_a_shard_with_nothing_to_run_says_so(tmp_path):
    said: list[str] = []
    runs = gankit.sweep("toy-ring8", ["objective.name=bce,lsgan"], overrides=SMALL, out=tmp_path / "sweep",
                        shard="3/3", dry_run=True, log=said.append)
    assert runs == [] and said == ["--shard 3/3: the grid has 2 run(s), so this slice has nothing to run"]


def test_run_files_share_one_mode_and_tables_show_no_minus_zero(trained):
    modes = {name: (trained / name).stat().st_mode & 0o777 for name in ("config.toml", "report.html",
                                                                      "metrics.jsonl", "final_metrics.json")}
    assert len(set(modes.values())) == 1, modes
    from gankit.report.html_parts import fmt

    from gankit.experiments.tables import ResultTable, to_markdown

    assert [float_text(-0.0), float_text(-0.0, None), fmt(-0.0), fmt(-0.0, spread=True)] == ["0"] * 4
    assert [float_text(-1e-7, 2), float_text(-0.5)] == ["-1e-07", "-0.5"]  # real signs stay
    table = ResultTable(["objective.name"], ["energy_distance"],
                        [{"objective.name": "bce", "energy_distance": -0.0}], {})
    assert "-0" not in to_markdown(table)
