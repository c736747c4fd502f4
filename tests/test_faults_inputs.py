"""Hostile inputs: each is refused at once with one ``error:`` line, and the user's files stay
byte for byte as they were.

Edited model cards, a run that is training while ``eval --drs`` is asked for, sizes that
cannot fit in memory or on disk, headers that claim more than their file holds, a class
named ``a,b``, arrays of text or pickled objects, and FIFOs where files belong (a read of
one would wait forever: every command here runs under a timeout, so a hang fails).
"""

from __future__ import annotations

from functools import partial

import copy
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gankit
from fault_tools import cli, one_error_line, file_snapshot as _snapshot
from gankit.files import owner
from gankit.data.points import load_points
from gankit.errors import DataError, GankitError, RunLocked
from gankit.export import card_paths
from gankit.files.lock import RunLock

_cli = partial(cli, timeout=60)  # a read that waits forever fails the test instead
_one_error_line = one_error_line


SMALL = ["data.name=ring8", "data.n_samples=1024", "train.batch_size=64", "model.g_hidden=16,16",
         "model.d_hidden=16,16", "model.pack=1", "train.epochs=2", "train.sample_every=0",
         "train.checkpoint_every=1", "eval.every=0", "eval.n=200", "train.progress=false"]
DCGAN = ["data.name=mnist", "data.limit=64", "model.family=dcgan", "model.base_width=4", "model.latent_dim=8",
         "model.g_output=tanh", "train.batch_size=32", "train.epochs=1", "train.sample_every=0", "eval.every=0",
         "train.progress=false"]
HUGE = "100000000000"  # 10^11 samples: terabytes however they are stored


# ---------------------------------------------------------------- helpers







@pytest.fixture(scope="module")
def ring(tmp_path_factory) -> Path:
    """A small finished ring8 run (read-only for the tests)."""
    return gankit.train("toy-ring8", overrides=SMALL, out=tmp_path_factory.mktemp("ring") / "run").path


@pytest.fixture(scope="module")
def classes(tmp_path_factory) -> Path:
    """A conditional run on 8 × 8 grey images of three classes: ``a``, ``a,b`` and ``c``."""
    root = tmp_path_factory.mktemp("classes")
    for name, value in (("a", 40), ("a,b", 130), ("c", 220)):
        (root / "images" / name).mkdir(parents=True)
        for index in range(16):
            Image.new("L", (8, 8), value + index % 5).save(root / "images" / name / f"{index}.png")
    overrides = ["data.image_size=8", f"data.path={root / 'images'}", "model.family=mlp", "model.g_hidden=16",
                 "model.d_hidden=16", "model.latent_dim=4", "model.g_output=tanh", "model.conditional=true",
                 "train.batch_size=16", "train.epochs=1", "eval.every=0", "train.progress=false",
                 "train.tensorboard=false", "train.sample_every=0"]
    return gankit.train("folder-dcgan32", overrides=overrides, out=root / "run").path


@pytest.fixture(scope="module")
def dcgan(tmp_path_factory) -> Path:
    """A tiny unconditional DCGAN on 64 MNIST digits."""
    return gankit.train("toy-ring8", overrides=DCGAN, out=tmp_path_factory.mktemp("dcgan") / "run").path


@pytest.fixture(scope="module")
def images_npz(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("real") / "real.npz"
    np.savez(path, images=np.random.default_rng(0).integers(0, 256, (20, 28, 28), dtype=np.uint8))
    return path


# ---------------------------------------------------------------- an edited model card

def _card_export(run: Path, folder: Path) -> tuple[Path, dict]:
    """A safetensors export whose architecture is only in its card (as when the header lost it)."""
    from safetensors.torch import load_file, save_file

    exported = gankit.load_run(run).export_generator(folder / "full.safetensors", "safetensors")
    bare = folder / "g.safetensors"
    save_file(load_file(str(exported)), str(bare))
    card = json.loads(card_paths(exported)[0].read_text())
    return bare, card


CARD_EDITS = {
    "huge base_width": (lambda a: a["model"].update(base_width=200000), "do not fit the architecture"),
    "text for a number": (lambda a: a["model"].update(latent_dim="abc"), "model.latent_dim: expected int"),
    "unknown family": (lambda a: a["model"].update(family="gan"), "model.family: 'gan' is not one of"),
    "unknown style": (lambda a: a["model"].update(dcgan_style="nope"), "model.dcgan_style"),
    "unknown key": (lambda a: a.update(colour="blue"), "unknown key 'colour'"),
    "model not a table": (lambda a: a.update(model=[1, 2]), "'model' is list"),
    "bad sample shape": (lambda a: a.update(sample_shape=[1, "x", 28]), "'sample_shape'"),
    "negative widths": (lambda a: a["model"].update(family="mlp", g_hidden=[-5]), "at least 1"),
    "classes of an unconditional G": (lambda a: a.update(class_names=["x"]), "'class_names'"),
    "not a record": (lambda a: a.clear(), "not a gankit generator architecture record"),
}


@pytest.mark.parametrize("edit", CARD_EDITS)
def test_an_edited_model_card_is_one_line_and_builds_no_network(dcgan, tmp_path, monkeypatch, edit):
    bare, card = _card_export(dcgan, tmp_path)
    change, expected = CARD_EDITS[edit]
    change(card["architecture"])
    card_paths(bare)[0].write_text(json.dumps(card))
    before = _snapshot(tmp_path)
    built = []
    import gankit.export as export

    real_build = export.build_from_architecture
    monkeypatch.setattr(export, "build_from_architecture", lambda record: built.append(1) or real_build(record))
    with pytest.raises(GankitError) as caught:
        gankit.load_generator(bare)
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert built == []  # refused from the header's shapes, before any network was made
    assert _snapshot(tmp_path) == before


def test_the_header_record_and_the_tensors_are_checked_too(dcgan, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    exported = gankit.load_run(dcgan).export_generator(tmp_path / "g.safetensors", "safetensors")
    with safe_open(str(exported), framework="pt") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(exported))
    record = json.loads(metadata["gankit_architecture"])
    wide = copy.deepcopy(record)
    wide["model"]["base_width"] = 200000
    save_file(tensors, str(tmp_path / "wide.safetensors"), metadata={"gankit_architecture": json.dumps(wide)})
    fewer = dict(tensors)
    dropped = sorted(fewer)[0]
    del fewer[dropped]
    save_file(fewer, str(tmp_path / "fewer.safetensors"), metadata=metadata)
    save_file(tensors, str(tmp_path / "broken.safetensors"), metadata={"gankit_architecture": "{"})
    before = _snapshot(tmp_path)
    for name, expected in (("wide", "in the file but"), ("fewer", f"'{dropped}' is missing from the file"),
                           ("broken", "is not JSON")):
        with pytest.raises(GankitError, match=expected) as caught:
            gankit.load_generator(tmp_path / f"{name}.safetensors")
        assert "\n" not in str(caught.value)
    assert gankit.load_generator(exported).latent_dim == 8  # the untouched export still loads
    assert _snapshot(tmp_path) == before


# ---------------------------------------------------------------- eval --drs on a run in use

def test_eval_drs_on_a_run_in_use_is_refused_before_any_work(ring, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(ring, run)
    owner.own_run(run)  # the copy adopted, as gankit's own run folder
    with RunLock(run, "gankit train"):
        before = _snapshot(run)
        result = _cli("eval", run, "--drs", "-n", "200")
        assert "is in use by gankit train" in _one_error_line(result)
        import gankit.run.handle as handle

        class NoScoring:
            def __init__(self, *args, **kwargs):
                raise AssertionError("scored before the lock was taken")

        loaded = gankit.load_run(run)
        monkeypatch.setattr(handle, "Scorer", NoScoring)
        with pytest.raises(RunLocked):
            loaded.evaluate(n=200, drs=True)
        assert _snapshot(run) == before


# ---------------------------------------------------------------- sizes that cannot fit

@pytest.mark.parametrize("run_name,output", [("ring", "x.csv"), ("ring", "x.npy"), ("classes", "x.npz"),
                                             ("classes", "pngs"), ("dcgan", "x.npz"), ("dcgan", "pngs")])
def test_a_huge_sample_count_is_refused_naming_n(request, tmp_path, run_name, output):
    run = request.getfixturevalue(run_name)
    before = _snapshot(run)
    result = _cli("sample", run, "-n", HUGE, "-o", tmp_path / output)
    line = _one_error_line(result)
    assert "(-n)" in line and ("memory" in line or "disk" in line or "files" in line), line
    assert not (tmp_path / output).exists() and list(tmp_path.iterdir()) == []
    assert _snapshot(run) == before


def test_huge_interpolations_and_evaluations_are_refused(ring, classes, tmp_path):
    for run, args, expected in ((classes, ["--rows", "100000"], "lower --rows or --steps"),
                                (classes, ["--steps", "100000000"], "lower --rows or --steps"),
                                (ring, ["--rows", "100000"], "lower --rows")):
        assert expected in _one_error_line(_cli("interpolate", run, *args, "-o", tmp_path / "walk.png"))
    assert "lower -n" in _one_error_line(_cli("eval", ring, "-n", HUGE))
    assert list(tmp_path.iterdir()) == []
    done = _cli("interpolate", classes, "--rows", "3", "--steps", "4", "-o", tmp_path / "walk.png")
    assert done.returncode == 0 and (tmp_path / "walk.png").is_file(), done.stderr


# ---------------------------------------------------------------- headers that claim more than there is

def _npy_claiming(path: Path, shape: tuple[int, ...], dtype: str, data_bytes: int) -> None:
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": dtype, "fortran_order": False, "shape": shape})
        handle.write(b"\0" * data_bytes)


def test_a_header_claiming_more_than_its_file_is_a_corrupt_file(images_npz, tmp_path):
    points = tmp_path / "points.npy"
    _npy_claiming(points, (2 * 10**11, 2), "<f4", 64)
    header = tmp_path / "header.npy"
    _npy_claiming(header, (2 * 10**11, 28, 28), "|u1", 100)
    with zipfile.ZipFile(tmp_path / "fake.npz", "w") as archive:
        archive.write(header, "images.npy")
    header.unlink()
    before = _snapshot(tmp_path)
    line = _one_error_line(_cli("train", "toy-ring8", "data.name=points", f"data.path={points}",
                                "--out", tmp_path / "run"))
    assert "200000000000×2 float32" in line and "corrupt or truncated" in line
    line = _one_error_line(_cli("eval", "--real", images_npz, "--fake", tmp_path / "fake.npz"))
    assert "fake.npz (array 'images')" in line and "corrupt or truncated" in line
    assert _snapshot(tmp_path) == before and not (tmp_path / "run").exists()


def test_an_honest_header_larger_than_memory_is_refused_before_loading(tmp_path):
    points = tmp_path / "points.npy"
    _npy_claiming(points, (2 * 10**11, 2), "<f4", 0)
    try:
        with open(points, "r+b") as handle:  # a sparse file as long as its header says
            handle.truncate(points.stat().st_size + 2 * 10**11 * 2 * 4)
    except OSError:
        pytest.skip("this file system cannot hold a sparse 1.6 TB file")
    with pytest.raises(DataError, match="of memory, more than") as caught:
        load_points(points)
    assert "give a smaller points file" in str(caught.value)


# ---------------------------------------------------------------- a class named a,b

def test_a_class_name_with_a_comma_is_chosen_whole(classes, tmp_path):
    before = _snapshot(classes)

    def sampled(*flags: str) -> np.ndarray:
        target = tmp_path / f"{len(list(tmp_path.iterdir()))}.npz"
        result = _cli("sample", classes, *flags, "-n", "6", "--seed", "3", "-o", target)
        assert result.returncode == 0, result.stderr
        return np.load(target)["images"]

    np.testing.assert_array_equal(sampled("--class", "a,b"), sampled("--class", "1"))
    np.testing.assert_array_equal(sampled("--class", "a", "--class", "c"), sampled("--class", "0,2"))
    assert not np.array_equal(sampled("--class", "a,b"), sampled("--class", "0"))
    unknown = _one_error_line(_cli("sample", classes, "--class", "x,y", "-n", "2", "-o", tmp_path / "no.npz"))
    assert "unknown class 'x'" in unknown and "a, a,b, c" in unknown
    done = _cli("interpolate", classes, "--class", "a,b", "--rows", "2", "-o", tmp_path / "walk.png")
    assert done.returncode == 0, done.stderr
    run = gankit.load_run(classes)
    assert run.labels("a,b", 2).tolist() == [1, 1] and run.labels(["c", "0,1"], 3).tolist() == [2, 0, 1]
    assert _snapshot(classes) == before


# ---------------------------------------------------------------- arrays of text or objects

class _Marker:
    """Unpickling this creates a file: proof that an object array was unpickled."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def test_arrays_of_text_or_objects_are_refused_and_never_unpickled(images_npz, tmp_path):
    marker = tmp_path / "unpickled"
    np.savez(tmp_path / "text.npz", images=np.full((3, 8, 8), "a"))
    np.savez(tmp_path / "complex.npz", images=np.zeros((3, 8, 8), np.complex64))
    np.savez(tmp_path / "objects.npz", images=np.array([_Marker(marker), None], dtype=object))
    np.save(tmp_path / "objects.npy", np.array([[_Marker(marker)]], dtype=object), allow_pickle=True)
    before = _snapshot(tmp_path)
    for name, expected in (("text", "holds text"), ("complex", "complex numbers"), ("objects", "object-dtype")):
        line = _one_error_line(_cli("eval", "--real", images_npz, "--fake", tmp_path / f"{name}.npz"))
        assert expected in line and "not numeric" in line
    line = _one_error_line(_cli("train", "toy-ring8", "data.name=points", f"data.path={tmp_path / 'objects.npy'}",
                                "--out", tmp_path / "run"))
    assert "object-dtype" in line
    assert not marker.exists() and _snapshot(tmp_path) == before


# ---------------------------------------------------------------- FIFOs where files belong

pytestmark_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")


@pytestmark_fifo
def test_fifos_are_refused_instead_of_read(ring, images_npz, tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    for name in ("config.toml", "points.npy", "points.csv", "g.safetensors", "last.pt"):
        os.mkfifo(tmp_path / name)
    commands = [
        ("eval", "--real", images_npz, "--fake", fifo),
        ("eval", "--real", fifo, "--fake", images_npz),
        ("train", tmp_path / "config.toml", "--out", tmp_path / "run"),
        ("train", "toy-ring8", "data.name=points", f"data.path={tmp_path / 'points.npy'}", "--out", tmp_path / "r"),
        ("train", "toy-ring8", "data.name=points", f"data.path={tmp_path / 'points.csv'}", "--out", tmp_path / "r"),
        ("sample", ring, "--checkpoint", tmp_path / "last.pt", "-n", "5", "-o", tmp_path / "x.csv"),
    ]
    for command in commands:
        line = _one_error_line(_cli(*command))
        assert "is a FIFO (named pipe), not a file gankit can read" in line, (command, line)
    with pytest.raises(GankitError, match="FIFO"):
        gankit.load_generator(tmp_path / "g.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["pipe.npz", "config.toml", "points.npy", "points.csv", "g.safetensors", "last.pt"])


@pytestmark_fifo
@pytest.mark.parametrize("name", ["metrics.jsonl", "final_metrics.json", "config.toml"])
def test_a_fifo_in_a_run_folder_is_refused_by_report(ring, tmp_path, name):
    run = tmp_path / "run"
    shutil.copytree(ring, run)
    owner.own_run(run)  # the copy adopted, as gankit's own run folder
    (run / name).unlink()
    os.mkfifo(run / name)
    before = _snapshot(run)
    line = _one_error_line(_cli("report", run))
    assert "FIFO" in line and name in line
    assert _snapshot(run) == before
