"""MNIST epoch time: gankit's trainer vs the common tutorial loop, and export throughput.

The tutorial loop is the pattern of the seeds and most GAN tutorials: a per-item
``Dataset`` whose ``__getitem__`` normalises one uint8 image to [-1, 1], a
``DataLoader`` (shuffle, batch 64), D with a sigmoid and ``nn.BCELoss``, separate
real and fake discriminator passes, and a fresh generator pass for the generator
step. Both train the ``mnist-mlp`` preset's network on the bundled 5,000-image
sample with the same algorithm (the preset's extras — EMA of G, D dropout, label
smoothing — switched off, since the tutorial has none); a second gankit row runs the
preset exactly as shipped. Rounds alternate and medians are compared, so the ratios
are measured under the same load. Then 10,000 samples are exported to PNG files and
to ``.npz``.

    .venv/bin/python benchmarks/bench_images.py                # 3 rounds
    .venv/bin/python benchmarks/bench_images.py --rounds 1 --export 2000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

import gankit
from gankit import hardware
from gankit.config import load_config
from gankit.training.trainer import Trainer


class TutorialMNIST(Dataset):
    """One uint8 image per item, normalised on every access (the tutorial way)."""

    def __init__(self, pixels: torch.Tensor):
        self.pixels = pixels  # (N, 28, 28) uint8

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, index: int) -> torch.Tensor:
        image = self.pixels[index].float() / 255.0
        return ((image - 0.5) / 0.5).view(-1)


def tutorial_models(latent_dim: int) -> tuple[nn.Module, nn.Module]:
    generator = nn.Sequential(
        nn.Linear(latent_dim, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 784), nn.Tanh(),
    )
    discriminator = nn.Sequential(
        nn.Linear(784, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1), nn.Sigmoid(),
    )
    return generator, discriminator


def tutorial_epoch(pixels: torch.Tensor, batch_size: int, latent_dim: int, lr: float) -> float:
    """Seconds for one epoch of the tutorial loop."""
    generator, discriminator = tutorial_models(latent_dim)
    g_opt = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    criterion = nn.BCELoss()
    loader = DataLoader(TutorialMNIST(pixels), batch_size=batch_size, shuffle=True, drop_last=True)
    start = time.perf_counter()
    for real in loader:
        batch = real.shape[0]
        ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
        discriminator.zero_grad()
        d_loss = criterion(discriminator(real), ones)
        fake = generator(torch.randn(batch, latent_dim))
        d_loss = d_loss + criterion(discriminator(fake.detach()), zeros)
        d_loss.backward()
        d_opt.step()
        generator.zero_grad()
        g_loss = criterion(discriminator(generator(torch.randn(batch, latent_dim))), ones)
        g_loss.backward()
        g_opt.step()
    return time.perf_counter() - start


def gankit_epoch(trainer: Trainer) -> float:
    trainer.position.batch = 0
    start = time.perf_counter()
    trainer.run_epoch()
    return time.perf_counter() - start


def export_rate(run: gankit.Run, n: int, output: Path) -> float:
    start = time.perf_counter()
    run.save_samples(n, output, progress=False)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating epoch pairs (median)")
    parser.add_argument("--export", type=int, default=10000, help="samples to export")
    args = parser.parse_args()
    overrides = ["train.progress=false", "train.epochs=1", "train.sample_every=0", "eval.every=0"]
    same_algorithm = ["train.ema_decay=0", "model.d_dropout=0", "objective.label_smoothing=1"]
    config = load_config("mnist-mlp", overrides + same_algorithm)
    shipped = load_config("mnist-mlp", overrides)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config, Path(tmp) / "bench")
        shipped_trainer = Trainer(shipped, Path(tmp) / "bench-shipped")
        pixels = ((trainer.dataset.tensor[:, 0] + 1) * 127.5).round().to(torch.uint8)
        trainer.run_epoch()  # warm-up
        tutorial_times, gankit_times, shipped_times = [], [], []
        for _ in range(args.rounds):
            tutorial_times.append(tutorial_epoch(pixels, config.train.batch_size, config.model.latent_dim,
                                                 config.train.g_lr))
            gankit_times.append(gankit_epoch(trainer))
            shipped_times.append(gankit_epoch(shipped_trainer))
        tutorial, ours = statistics.median(tutorial_times), statistics.median(gankit_times)
        as_shipped = statistics.median(shipped_times)
        images = trainer.steps_per_epoch * config.train.batch_size
        print(f"CPU: {hardware.describe_cpu()}")
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, mnist-mlp, batch "
              f"{config.train.batch_size}, {len(pixels)} images, {args.rounds} rounds")
        print("| loop | epoch seconds (median) | images/s | time vs tutorial |")
        print("|---|---|---|---|")
        print(f"| tutorial (per-item Dataset + DataLoader) | {tutorial:.2f} | {images / tutorial:.0f} | 1.00× |")
        print(f"| gankit trainer, same algorithm | {ours:.2f} | {images / ours:.0f} | {ours / tutorial:.2f}× |")
        print(f"| gankit trainer, preset as shipped (+EMA, D dropout, smoothing) | {as_shipped:.2f} "
              f"| {images / as_shipped:.0f} | {as_shipped / tutorial:.2f}× |")

        run = gankit.train(config, overrides=["train.epochs=1", "data.limit=640"], out=Path(tmp) / "run")
        folder_rate = export_rate(run, args.export, Path(tmp) / "export")
        npz_rate = export_rate(run, args.export, Path(tmp) / "export.npz")
        print()
        print(f"| export of {args.export} samples | images/s |")
        print("|---|---|")
        print(f"| PNG folder (0.png ... {args.export - 1}.png) | {folder_rate:.0f} |")
        print(f"| .npz | {npz_rate:.0f} |")


if __name__ == "__main__":
    main()
