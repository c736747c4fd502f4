"""Why PacGAN stalls on grid25: a discriminator alone, learning to tell grid25 from a blurred copy.

A GAN's generator on grid25 first finds the coarse layout (a blob over the 5×5 square,
then mass near the 25 centres) and only a discriminator that resolves the sharp modes
(std 0.05) can pull it further. This script measures that one ability in isolation: the
toy-grid25 preset's discriminator (4×128 LeakyReLU MLP, Adam 5e-4, β = (0.5, 0.999)) is
trained alone on real grid25 samples against "blurred" fakes — the same 25 centres with
std ``--blur`` (0.3) — and its held-out accuracy (4,096 real + 4,096 fake samples, scored
pack by pack) is printed after 250 … 3,000 steps. No generator moves, so a row that stays
at 0.50 is a discriminator that cannot see the modes yet.

Rows: pack 1 (no packing), pack 2 and 4 with PyTorch's dense start of the first layer and
with ``model.pack_init=block`` (each first-layer unit reads one sample of the pack), and
pack 4 with four times the batch (as many packs per step as pack 1 has samples).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_packing.py            # ~4 min
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_packing.py --seeds 0 --steps 1000
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.nn import functional as F

from gankit.models.mlp import MLPDiscriminator

CENTRES = torch.tensor([(float(i), float(j)) for i in range(-4, 5, 2) for j in range(-4, 5, 2)])
STD = 0.05  # grid25's mode std
CHECKPOINTS = (250, 500, 1000, 2000, 3000)
# (pack, first-layer start, samples per batch)
VARIANTS = ((1, "dense", 256), (2, "dense", 256), (2, "block", 256), (4, "dense", 256), (4, "block", 256),
            (4, "dense", 1024), (4, "block", 1024))


def draw(n: int, blur: float, generator: torch.Generator) -> torch.Tensor:
    """n samples around uniformly chosen centres with std ``blur`` (STD gives grid25 itself)."""
    index = torch.randint(0, len(CENTRES), (n,), generator=generator)
    return CENTRES[index] + blur * torch.randn(n, 2, generator=generator)


def accuracy(d: MLPDiscriminator, blur: float, generator: torch.Generator, n: int = 4096) -> float:
    with torch.no_grad():
        scores = d(torch.cat([draw(n, STD, generator), draw(n, blur, generator)]))
    half = n // d.pack
    return 0.5 * ((scores[:half] > 0).float().mean() + (scores[half:] < 0).float().mean()).item()


def train_alone(pack: int, start: str, batch: int, blur: float, seed: int, steps: int) -> list[float]:
    """Held-out accuracy of one discriminator after each of CHECKPOINTS (up to ``steps``)."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    d = MLPDiscriminator(2, [128] * 4, pack=pack, pack_init=start)
    optimiser = torch.optim.Adam(d.parameters(), lr=5e-4, betas=(0.5, 0.999))
    ones, zeros = torch.ones(batch // pack), torch.zeros(batch // pack)
    found = []
    for step in range(1, steps + 1):
        scores = d(torch.cat([draw(batch, STD, generator), draw(batch, blur, generator)]))
        half = batch // pack
        loss = (F.binary_cross_entropy_with_logits(scores[:half], ones)
                + F.binary_cross_entropy_with_logits(scores[half:], zeros))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step in CHECKPOINTS:
            found.append(accuracy(d, blur, generator))
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds (default 0,1)")
    parser.add_argument("--steps", type=int, default=CHECKPOINTS[-1], help="training steps per run")
    parser.add_argument("--blur", type=float, default=0.3, help="std of the fakes around each centre")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    shown = [c for c in CHECKPOINTS if c <= args.steps]
    print(f"Discriminator alone: grid25 (std {STD}) vs the same centres with std {args.blur}; held-out "
          f"accuracy, mean over seeds {seeds} (min–max)\n")
    print("| pack | first layer | batch | " + " | ".join(f"step {c}" for c in shown) + " | s/run |")
    print("|---:|---|---:|" + "---:|" * (len(shown) + 1))
    for pack, start, batch in VARIANTS:
        started = time.perf_counter()
        runs = [train_alone(pack, start, batch, args.blur, seed, args.steps) for seed in seeds]
        seconds = (time.perf_counter() - started) / len(seeds)
        cells = []
        for column in zip(*runs):
            cells.append(f"{sum(column) / len(column):.3f} ({min(column):.2f}–{max(column):.2f})")
        print(f"| {pack} | {start} | {batch} | " + " | ".join(cells) + f" | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
