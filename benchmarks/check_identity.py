"""Bit-identity check for refactors: train small fixed-seed runs and compare them with a
reference recorded before the change.

    python benchmarks/check_identity.py record /tmp/identity-ref   # before the change
    python benchmarks/check_identity.py compare /tmp/identity-ref  # after: exit 1 on any difference

Each case trains from scratch and keeps every tensor of its last checkpoint (G, D, EMA,
optimizer states, the random generator) and every metrics.jsonl record without its
wall-clock keys. Besides the runs it keeps the objectives' pure outputs (losses, score
derivatives, density ratios) on fixed scores, for every objective. ``compare`` asks
``torch.equal`` of every tensor and ``==`` of every other value.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch

import gankit
from gankit.objectives import OBJECTIVES, build_objective

TINY = [
    "data.name=ring8", "data.n_samples=512", "train.batch_size=64", "model.g_hidden=16,16",
    "model.d_hidden=16,16", "model.pack=1", "train.epochs=3", "train.sample_every=0",
    "train.checkpoint_every=1", "eval.every=0", "eval.n=200", "train.progress=false",
    "train.tensorboard=false",
]
MNIST = ["data.limit=256", "train.epochs=3", "model.base_width=8", "eval.every=0", "eval.n=200",
         "train.progress=false", "train.sample_every=0", "train.tensorboard=false", "eval.bootstrap=0"]
# every option of a convolutional discriminator's layers and head: pack, spectral norm, batch norm,
# dropout, the minibatch std feature and minibatch discrimination
D_OPTIONS = ["model.pack=2", "model.spectral_norm=true", "model.d_batch_norm=true", "model.d_dropout=0.2",
             "model.minibatch_std=true", "model.minibatch_kernels=4"]
OBJECTIVE_NAMES = tuple(OBJECTIVES)
SATURATING = ("bce", "boundary", "kl", "reverse_kl", "js", "pearson", "hellinger", "tv")

CASES: dict[str, tuple[str | None, list[str]]] = {
    "toy-ring8": (None, TINY),
    "toy-spiral": ("toy-spiral", ["train.epochs=3", "eval.every=0", "eval.n=500", "train.progress=false",
                                  "train.sample_every=0", "train.tensorboard=false"]),
    "mnist-dcgan": ("mnist-dcgan", MNIST),
    "mnist-diffaugment": ("mnist-dcgan", MNIST + ["augment.policy=color,translation,cutout", "augment.p=0.5"]),
    "mnist-flip-ada": ("mnist-dcgan", MNIST + ["augment.policy=flip,cutout", "augment.adaptive=true",
                                               "augment.interval=1", "augment.speed_kimg=0.5"]),
    "folder-radford": (None, ["data.name=folder", "data.path={folder}", "data.channels=3", "data.image_size=16",
                              "model.family=dcgan", "model.dcgan_style=radford", "model.base_width=4",
                              "model.latent_dim=8", "model.g_output=tanh", "model.conditional=true",
                              "train.batch_size=8", "augment.policy=translation,color", *MNIST[1:]]),
    "mnist-keras-cond": ("mnist-dcgan-keras", MNIST + ["model.conditional=true", "train.epochs=2"]),
    "mnist-tf-d-options": ("mnist-dcgan", MNIST + [*D_OPTIONS, "train.epochs=2"]),
    "folder-radford-d-options": (None, ["data.name=folder", "data.path={folder}", "data.channels=3",
                                        "data.image_size=16", "model.family=dcgan", "model.dcgan_style=radford",
                                        "model.base_width=4", "model.latent_dim=8", "model.g_output=tanh",
                                        "train.batch_size=8", *D_OPTIONS, *MNIST[1:]]),
    "colour-mnist-mlp": (None, ["data.name=colour-mnist", "model.family=mlp", "model.latent_dim=8",
                                "model.g_hidden=32", "model.d_hidden=32", "model.g_output=tanh", *MNIST[:1],
                                "train.epochs=2", *MNIST[3:]]),
    "stacked-mnist-mlp": (None, ["data.name=stacked-mnist", "data.n_samples=128", "model.g_hidden=16", "model.g_output=tanh",
                                 "model.d_hidden=16", "train.epochs=2", "train.batch_size=32", *MNIST[3:]]),
    "grid25-autograd": (None, TINY + ["data.name=grid25", "model.spectral_norm=true", "train.epochs=2"]),
}
for _name in OBJECTIVE_NAMES:  # the manual MLP step (closed-form derivatives) for every objective
    CASES[f"ring8-{_name}"] = (None, TINY + [f"objective.name={_name}", "train.epochs=2", "train.n_critic=2"])
    if _name in SATURATING:
        CASES[f"ring8-{_name}-sat-smooth"] = (None, TINY + [
            f"objective.name={_name}", "objective.generator_loss=saturating", "objective.label_smoothing=0.9",
            "train.epochs=1", "model.spectral_norm=true"])

WALL_CLOCK = {"time", "epoch_seconds", "samples_per_second", "train_seconds"}
NOT_COMPARED = ("/checkpoint/elapsed", "/checkpoint/config/data/path")  # wall clock; a temporary folder


def _objective_outputs() -> dict[str, torch.Tensor]:
    scores = torch.linspace(-6.0, 6.0, 97, dtype=torch.float64)
    real, fake = scores, scores.flip(0) * 0.7 + 0.1
    found: dict[str, torch.Tensor] = {}
    for name in OBJECTIVE_NAMES:
        for loss in ("nonsaturating", "saturating") if name in SATURATING else ("nonsaturating",):
            for smoothing in (1.0, 0.9):
                objective = build_objective(name, generator_loss=loss, label_smoothing=smoothing, gamma=0.7)
                key = f"{name}/{loss}/{smoothing}"
                found[f"{key}/d"] = torch.stack(objective.d_losses(real, fake))
                found[f"{key}/g"] = objective.g_loss(fake)
                found[f"{key}/dgrad"] = torch.cat(objective.d_score_gradients(real, fake))
                found[f"{key}/ggrad"] = objective.g_score_gradient(fake)
                if objective.has_density_ratio:
                    found[f"{key}/ratio"] = objective.log_density_ratio(torch.linspace(0.05, 0.95, 19,
                                                                                       dtype=torch.float64))
    return found


def _image_folder(root: Path) -> Path:
    """Two classes of 12 seeded 20×20 RGB pictures (resized to 16 by the loader)."""
    from PIL import Image

    generator = torch.Generator().manual_seed(7)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(12):
            pixels = torch.randint(0, 256, (20, 20, 3), generator=generator, dtype=torch.uint8)
            Image.fromarray(pixels.numpy()).save(root / label / f"{i}.png")
    return root


def _run_case(target: str | None, overrides: list[str], folder: Path) -> dict:
    if any("{folder}" in item for item in overrides):
        images = _image_folder(folder.parent / f"{folder.name}-images")
        overrides = [item.replace("{folder}", str(images)) for item in overrides]
    run = gankit.train(target, overrides=overrides, out=folder)
    checkpoint = torch.load(run.path / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)
    records = [{k: v for k, v in json.loads(line).items() if k not in WALL_CLOCK}
               for line in (run.path / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {"checkpoint": checkpoint, "records": records}


def _flatten(value, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}/{key}"))
        return out
    if isinstance(value, (list, tuple)):
        out = {}
        for i, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype
                and a.shape == b.shape and torch.equal(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def record(folder: Path, names: list[str]) -> dict:
    found = {"objectives": _objective_outputs()}
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            target, overrides = CASES[name]
            found[name] = _run_case(target, overrides, Path(scratch) / name)
            print(f"trained {name}", flush=True)
    return found


def main() -> int:
    mode, folder = sys.argv[1], Path(sys.argv[2])
    names = sys.argv[3:] or list(CASES)
    torch.set_num_threads(1)
    os.environ["GANKIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="identity-cache-")
    results = record(folder, names)
    if mode == "record":
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        torch.save(results, folder / "reference.pt")
        print(f"recorded {len(names)} runs and {len(results['objectives'])} objective outputs in {folder}")
        return 0
    reference = torch.load(folder / "reference.pt", weights_only=False)
    differences = []
    compared = 0
    for name in ["objectives", *names]:
        expected, got = _flatten(reference[name], name), _flatten(results[name], name)
        if expected.keys() != got.keys():
            differences.append(f"{name}: keys differ: {sorted(set(expected) ^ set(got))[:5]}")
            continue
        for key in expected:
            if key.endswith(NOT_COMPARED):
                continue
            compared += 1
            if not _same(expected[key], got[key]):
                differences.append(key)
    for line in differences[:40]:
        print("DIFFERENT", line)
    print(f"{compared} values compared over {len(names)} runs: "
          + ("all bit-identical" if not differences else f"{len(differences)} differ"))
    return 1 if differences else 0


if __name__ == "__main__":
    raise SystemExit(main())
