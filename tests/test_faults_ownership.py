"""Nothing of a user's is lost, for every command that writes: the one ownership rule.

Each case of the hostile round is reproduced with the user's files first and checked
byte-identical afterwards. Then a property-style test seeds the output location of every
writing command with random user files (names drawn from the command's own output names,
nested folders, symlinks) and runs it with and without ``--force``: every user file must
survive, and gankit's output must be complete or absent, never half.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest
import torch

import gankit
from fault_tools import cli, one_error_line
from gankit.classify import LabelledImages, cross_validate
from gankit.classify.evaluator_train import train_evaluator
from gankit.data.base import Dataset
from gankit.errors import GankitError
from gankit.files import owner
from gankit.run import report_run

_cli = cli
_one_error_line = one_error_line


POINTS = ["data.name=ring8", "data.n_samples=256", "train.batch_size=64", "model.g_hidden=8,8", "model.d_hidden=8,8",
          "model.pack=1", "train.epochs=2", "train.sample_every=1", "train.checkpoint_every=1", "eval.every=0",
          "eval.n=100", "train.progress=false"]
IMAGES = ["data.name=mnist", "data.limit=64", "model.family=dcgan", "model.base_width=4", "model.latent_dim=8",
          "train.batch_size=32", "train.epochs=1", "train.sample_every=0", "train.checkpoint_every=1", "eval.n=64",
          "eval.every=0", "train.progress=false"]






def _snapshot(root: Path) -> dict[str, object]:
    """Every entry under ``root``: file bytes, link targets, folders (links are not followed)."""
    found: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[name] = ("link", os.readlink(path))
        elif path.is_dir():
            found[name] = "folder"
        elif path.is_file():
            found[name] = path.read_bytes()
    return found


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("ownership")
    return {"points": gankit.train("toy-ring8", overrides=POINTS, out=base / "points").path,
            "images": gankit.train("toy-ring8", overrides=IMAGES, out=base / "images").path}


# ---------------------------------------------------------------- the cases of the hostile round

def test_a_lock_that_is_a_symlink_is_never_written_through(runs, tmp_path):
    run = tmp_path / "run"
    gankit.train("toy-ring8", overrides=POINTS + ["train.epochs=1"], out=run)
    precious = tmp_path / "thesis.tex"
    precious.write_text("\\chapter{Results}\n")
    (run / owner.LOCK_NAME).unlink(missing_ok=True)
    (run / owner.LOCK_NAME).symlink_to(precious)
    for args in (["report", str(run)], ["train", str(run), "--resume", "train.epochs=2"],
                 ["train", "toy-ring8", *POINTS, "--out", str(run), "--force"]):
        line = _one_error_line(_cli(*args))
        assert "not a regular file" in line or f"({owner.LOCK_NAME})" in line, line
        assert precious.read_text() == "\\chapter{Results}\n"


def test_force_never_takes_a_folder_that_only_looks_like_a_run(tmp_path):
    lookalike = tmp_path / "resnet"
    (lookalike / "checkpoints").mkdir(parents=True)
    (lookalike / "samples").mkdir()
    (lookalike / "config.toml").write_text("[model]\nname = 'resnet'\n")
    (lookalike / "checkpoints" / "resnet_final.pth").write_bytes(b"weights")
    (lookalike / "samples" / "holiday.jpg").write_bytes(b"\xff\xd8 a photo")
    before = _snapshot(lookalike)
    for flags in ([], ["--force"]):
        line = _one_error_line(_cli("train", "toy-ring8", *POINTS, "--out", str(lookalike), *flags))
        assert "not a folder made by gankit" in line
        assert _snapshot(lookalike) == before


def test_a_copied_marker_vouches_for_nothing_and_user_files_in_a_run_stop_force(runs, tmp_path):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.py").write_text("print('hi')\n")
    shutil.copy(runs["points"] / owner.MARKER_NAME, project / owner.MARKER_NAME)
    before = _snapshot(project)
    line = _one_error_line(_cli("train", "toy-ring8", *POINTS, "--out", str(project), "--force"))
    assert "not written for this folder" in line and _snapshot(project) == before

    run = tmp_path / "run"
    gankit.train("toy-ring8", overrides=POINTS + ["train.epochs=1"], out=run)
    (run / "NOTES.md").write_text("lr 2e-4 looked best\n")
    (run / "samples" / "my_pick.png").write_bytes(b"png")
    before = _snapshot(run)
    line = _one_error_line(_cli("train", "toy-ring8", *POINTS, "--out", str(run), "--force"))
    assert "NOTES.md" in line and "samples/my_pick.png" in line and "move them" in line
    assert _snapshot(run) == before


def _digit_folder(root: Path, per_class: int = 12) -> None:
    from PIL import Image

    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for index in range(per_class):
            Image.new("L", (28, 28), 40 * index % 255 if label == "a" else 255 - index).save(
                root / label / f"{index}.png")


def test_runs_kept_inside_their_data_folder_never_become_data_nor_trash(tmp_path):
    data = tmp_path / "cells"
    _digit_folder(data)
    folder_run = ["data.name=folder", f"data.path={data}", "data.image_size=28", "data.quarantine=true",
                  "model.family=dcgan", "model.base_width=4", "model.latent_dim=8", "train.batch_size=8",
                  "train.epochs=1", "train.checkpoint_every=1", "eval.every=0", "train.progress=false"]
    first = gankit.train("toy-ring8", overrides=folder_run, out=data / "runs" / "first").path
    kept = _snapshot(first)
    second = gankit.train("toy-ring8", overrides=folder_run, out=data / "runs" / "second")
    assert second.dataset.class_names == ["a", "b"] and len(second.dataset.tensor) == 24
    skipped = (second.path / "skipped_files.txt").read_text()
    assert "runs/\t" in skipped and not (data / "Trash").exists()
    assert {name: value for name, value in _snapshot(first).items() if name in kept} == kept
    gankit.train(second.path, overrides=["train.epochs=2"], resume=True)
    assert (second.path / "checkpoints" / "last.pt").is_file() and not (data / "Trash").exists()


def test_sample_never_replaces_a_users_numbered_pngs(runs, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    for index in range(50):
        (mine / f"{index}.png").write_bytes(f"my image {index}".encode())
    before = _snapshot(mine)
    for flags in ([], ["--force"]):
        line = _one_error_line(_cli("sample", str(runs["images"]), "-n", "50", "-o", str(mine), *flags))
        assert "not a folder made by gankit" in line and _snapshot(mine) == before


def test_classify_compare_and_report_never_overwrite_a_users_files(runs, tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    for name in ("results.md", "results.html", "folds.csv", "config.json", "index.html", "report.html"):
        (folder / name).write_text(f"mine: {name}\n")
    (folder / "config.json").write_text('{"tool": "gankit classify"}\n')  # a look-alike is still theirs
    (folder / "config.toml").write_text("[train]\nepochs = 3\n")
    before = _snapshot(folder)
    images = LabelledImages(torch.rand(20, 1, 8, 8) * 2 - 1, torch.arange(2).repeat(10), ["x", "y"], name="toy")
    for force in (False, True):
        with pytest.raises(GankitError, match="not a folder made by gankit"):
            cross_validate(images, folder, models=["perceptron"], folds=2, epochs=[1], batch_sizes=[8],
                           progress=False, force=force)
        with pytest.raises(GankitError, match="not a folder made by gankit"):
            gankit.compare([runs["points"]], folder, log=None, force=force)
    with pytest.raises(GankitError):
        report_run(folder)
    assert _snapshot(folder) == before and not (folder / owner.LOCK_NAME).exists()


def test_force_through_a_symlinked_out_replaces_the_target_and_keeps_the_link(tmp_path):
    target = tmp_path / "real"
    gankit.train("toy-ring8", overrides=POINTS + ["train.epochs=1"], out=target)
    link = tmp_path / "link"
    link.symlink_to(target)
    run = gankit.train("toy-ring8", overrides=POINTS, out=link, force=True)
    assert link.is_symlink() and run.path == target and [r["epoch"] for r in run.history] == [1, 2]
    assert owner.bound_marker(target).kind == "run"


def test_stale_temporary_files_of_a_killed_writer_are_cleaned_from_its_own_run(tmp_path):
    run = gankit.train("toy-ring8", overrides=POINTS + ["train.epochs=1"], out=tmp_path / "run").path
    (run / "checkpoints" / ".last.pt.a1b2c3d4.tmp").write_bytes(b"half a checkpoint" * 1000)
    (run / ".report.html.zz99yy88.tmp").write_text("<html")
    report_run(run)
    assert not list(run.rglob("*.tmp"))


def test_a_run_of_an_older_gankit_is_adopted_by_resume_but_never_replaced(tmp_path):
    run = gankit.train("toy-ring8", overrides=POINTS + ["train.epochs=1"], out=tmp_path / "old").path
    (run / owner.MARKER_NAME).unlink()  # as an older gankit left it, plus a user's file
    (run / owner.LEGACY_MARKER).write_text('{"made_by": "gankit"}\n')
    (run / "NOTES.md").write_text("keep\n")
    with pytest.raises(GankitError, match="older gankit"):
        gankit.train("toy-ring8", overrides=POINTS, out=run, force=True)
    gankit.train(run, overrides=["train.epochs=2"], resume=True)
    marker = owner.bound_marker(run)
    assert "config.toml" in marker.entries and "checkpoints/last.pt" in marker.entries
    assert "NOTES.md" not in marker.entries
    with pytest.raises(GankitError, match="NOTES.md"):
        gankit.train("toy-ring8", overrides=POINTS, out=run, force=True)
    assert (run / "NOTES.md").read_text() == "keep\n"


# ---------------------------------------------------------------- the property: every writer, seeded folders

def _writers(runs: dict[str, Path]) -> dict[str, tuple[str, list[str], object]]:
    """name -> (what it writes: 'folder' or 'file', its own output names, write(out, force))."""
    images = LabelledImages(torch.rand(20, 1, 8, 8) * 2 - 1, torch.arange(2).repeat(10), ["x", "y"], name="toy")
    digits = Dataset("toy", torch.rand(20, 1, 28, 28) * 2 - 1, None, labels=torch.arange(2).repeat(10), kind="images",
                     class_names=["x", "y"])
    points, pictures = gankit.load_run(runs["points"]), gankit.load_run(runs["images"])
    return {
        "train": ("folder", ["config.toml", "metrics.jsonl", "checkpoints/last.pt", "samples/epoch_0001.png",
                             "plots/losses.png", "report.html", owner.MARKER_NAME],
                  lambda out, force: gankit.train("toy-ring8", overrides=POINTS + ["train.epochs=1"], out=out,
                                                  force=force)),
        "sample-folder": ("folder", ["0.png", "1.png", "7.png", owner.MARKER_NAME],
                          lambda out, force: pictures.save_samples(8, out, progress=False, force=force)),
        "sample-npz": ("file", ["x.npz", "x.npz.drs-discriminator.pt"],
                       lambda out, force: pictures.save_samples(8, out / "x.npz", progress=False, force=force)),
        "sample-csv": ("file", ["x.csv", "x.npy"],
                       lambda out, force: points.save_samples(20, out / "x.csv", force=force)),
        "interpolate": ("file", ["grid.png"], lambda out, force: points.interpolate(out / "grid.png", rows=2, steps=3,
                                                                                   force=force)),
        "export": ("file", ["g.safetensors", "g.safetensors.json", "g.safetensors.md"],
                   lambda out, force: points.export_generator(out / "g.safetensors", "safetensors", force=force)),
        "classify": ("folder", ["results.md", "results.html", "folds.csv", "config.json", "results.csv"],
                     lambda out, force: cross_validate(images, out, models=["perceptron"], folds=2, epochs=[1],
                                                       batch_sizes=[8], progress=False, checkpoints=False,
                                                       force=force)),
        "compare": ("folder", ["index.html", "metrics.png", "final_metrics.md", "metrics/fid.png"],
                    lambda out, force: gankit.compare([runs["points"]], out, log=None, force=force)),
        "evaluator": ("file", ["ev.pt", "evaluator-mnist.pt"],
                      lambda out, force: train_evaluator(digits, out / "ev.pt", epochs=1, batch_size=8, lr=1e-3,
                                                         seed=0, progress=False, force=force)),
    }


def _precious_file_elsewhere(tmp_path: Path) -> Path:
    """A user's file outside the output, for seeded symlinks to point at."""
    outside = tmp_path / "elsewhere" / "precious.txt"
    outside.parent.mkdir()
    outside.write_text("never touched\n")
    return outside


def _seed_user_files(folder: Path, names: list[str], rng: random.Random, outside: Path) -> None:
    """1-4 user entries: the command's own names, others, nested ones, symlinks to files and folders."""
    pool = names + ["NOTES.md", "data/keep.txt", "checkpoints/mine.pt", "samples/holiday.jpg", "deep/er/x.bin"]
    for name in rng.sample(pool, rng.randint(1, 4)):
        if name == owner.MARKER_NAME:
            continue
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            continue
        roll = rng.random()
        if roll < 0.2:
            path.symlink_to(outside)
        elif roll < 0.3:
            path.symlink_to(outside.parent)
        else:
            path.write_bytes(f"user's {name} {rng.random()}".encode())


@pytest.mark.parametrize("seed", range(3))
def test_every_writer_keeps_every_user_file_and_writes_whole_outputs(runs, tmp_path, seed):
    rng = random.Random(seed)
    outside = _precious_file_elsewhere(tmp_path)
    for name, (shape, names, write) in _writers(runs).items():
        for force in (False, True):
            for earlier in (False, True):  # user files alone, or beside an earlier output of gankit's
                case = tmp_path / f"{name}-{int(force)}-{int(earlier)}"
                out = case / "out"
                out.mkdir(parents=True)
                if earlier:
                    write(out if shape == "folder" else out, False)
                gankit_before = set(_snapshot(out))
                _seed_user_files(out, names, rng, outside)
                users = {key: value for key, value in _snapshot(out).items() if key not in gankit_before}
                try:
                    write(out, force)
                    wrote = True
                except GankitError:
                    wrote = False
                after = _snapshot(out)
                lost = {key for key, value in users.items() if after.get(key) != value}
                assert not lost, f"{name} (force={force}, earlier={earlier}) changed user files {sorted(lost)}"
                assert outside.read_text() == "never touched\n"
                if shape == "folder":
                    assert not wrote or not users, f"{name} wrote into a folder holding user files {sorted(users)}"
                else:
                    marker = owner.bound_marker(out)
                    listed = {entry for entry in (marker.entries if marker else ()) if (out / entry).is_file()}
                    assert not wrote or listed, name
                assert not [p for p in case.rglob("*") if owner.TEMP_NAME.match(p.name)], name


def test_a_refused_folder_output_leaves_no_marker_and_no_lock(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "a.txt").write_text("a\n")
    with pytest.raises(GankitError):
        gankit.train("toy-ring8", overrides=POINTS, out=folder)
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt"]


def test_the_manifest_lists_what_a_run_wrote_and_nothing_else(tmp_path):
    run = gankit.train("toy-ring8", overrides=POINTS, out=tmp_path / "run").path
    marker = json.loads((run / owner.MARKER_NAME).read_text())
    assert marker["kind"] == "run" and marker["inode"] == os.stat(run).st_ino
    on_disk = {p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()} - {owner.MARKER_NAME,
                                                                                          owner.LOCK_NAME}
    assert on_disk <= set(marker["entries"]), on_disk - set(marker["entries"])
    assert owner.foreign_entries(run, owner.bound_marker(run)) == []


def test_a_killed_exports_leftovers_beside_it_go_and_look_alikes_stay(runs, tmp_path):
    out = tmp_path / "pngs"
    half = tmp_path / ".pngs.abcd1234.tmp"  # a killed export: marked at once, never renamed in
    half.mkdir()
    owner.mark(half, "samples")
    (half / "0.png").write_bytes(b"half")
    replaced = tmp_path / ".pngs.efgh5678.replaced" / "pngs"  # killed between the move aside and the delete
    replaced.mkdir(parents=True)
    owner.mark(replaced, "samples")
    look_alike = tmp_path / ".pngs.zzzz9999.tmp"  # a user's folder that merely has such a name
    look_alike.mkdir()
    (look_alike / "keep.txt").write_text("mine\n")
    gankit.load_run(runs["images"]).save_samples(4, out, progress=False)
    assert not half.exists() and not replaced.parent.exists()
    assert (look_alike / "keep.txt").read_text() == "mine\n"
    assert sorted(p.name for p in out.glob("*.png")) == ["0.png", "1.png", "2.png", "3.png"]


def test_evaluator_export_and_json_files_of_a_user_are_refused_before_any_work(runs, tmp_path):
    mine = {name: f"mine {name}\n".encode() for name in ("ev.pt", "g.onnx.json", "m.json")}
    for name, payload in mine.items():
        (tmp_path / name).write_bytes(payload)
    for flags in ([], ["--force"]):
        results = [_cli("evaluator", "train", "mnist", "-o", str(tmp_path / "ev.pt"), "--epochs", "1", *flags),
                   _cli("export", str(runs["points"]), "-f", "onnx", "-o", str(tmp_path / "g.onnx"), *flags),
                   _cli("eval", str(runs["points"]), "--json", str(tmp_path / "m.json"), *flags)]
        for result in results:
            assert "gankit did not write it" in _one_error_line(result)
    assert {name: (tmp_path / name).read_bytes() for name in mine} == mine
    assert not (tmp_path / "g.onnx").exists()


def test_a_full_disk_while_taking_the_lock_names_the_lock_file(tmp_path, monkeypatch):
    import errno

    from gankit.files import lock as lock_module

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(lock_module.os, "pwrite", full)
    with pytest.raises(GankitError, match=f"disk full writing {tmp_path / owner.LOCK_NAME}"):
        lock_module.RunLock(tmp_path, "gankit report").acquire()


def test_a_folder_of_a_run_that_became_a_symlink_is_never_written_through(tmp_path):
    run = gankit.train("toy-ring8", overrides=POINTS + ["train.epochs=1"], out=tmp_path / "run").path
    elsewhere = tmp_path / "mine"
    elsewhere.mkdir()
    (elsewhere / "last.pt").write_bytes(b"my own weights")
    shutil.copy(run / "checkpoints" / "last.pt", tmp_path / "kept.pt")
    shutil.rmtree(run / "checkpoints")
    (run / "checkpoints").symlink_to(elsewhere)
    from gankit.files.atomic import write_bytes

    report_run(run)  # the report itself is written beside, not through, the link
    with pytest.raises(GankitError, match="checkpoints' is a symlink"):
        write_bytes(run / "checkpoints" / "last.pt", b"x")
    assert (elsewhere / "last.pt").read_bytes() == b"my own weights"


def test_a_run_folder_is_not_an_image_folder(runs):
    from gankit.data.folder import load_folder

    with pytest.raises(GankitError, match="a training run written by gankit, not images"):
        load_folder(runs["images"])


@pytest.mark.parametrize("seed", range(2))
def test_report_and_sweep_write_only_their_own_files_among_a_users(runs, tmp_path, seed):
    rng = random.Random(seed)
    outside = _precious_file_elsewhere(tmp_path)
    run = tmp_path / "run"
    shutil.copytree(runs["points"], run)
    owner.own_run(run)
    (run / "report.html").unlink()
    ours = set(_snapshot(run))
    _seed_user_files(run, ["report.html", "NOTES.md", "plots/mine.png", "samples/holiday.jpg"], rng, outside)
    users = {key: value for key, value in _snapshot(run).items() if key not in ours}
    try:
        report_run(run)
    except GankitError as refused:
        assert "report.html" in users and "report.html" in str(refused)
    assert {key: _snapshot(run).get(key) for key in users} == users
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    _seed_user_files(sweep, ["sweep.json", "objective-bce/config.toml"], rng, outside)
    before = _snapshot(sweep)
    with pytest.raises(GankitError, match="not a folder made by gankit"):
        gankit.sweep("toy-ring8", ["objective.name=bce,lsgan"], overrides=POINTS, out=sweep, log=None)
    assert _snapshot(sweep) == before and outside.read_text() == "never touched\n"
