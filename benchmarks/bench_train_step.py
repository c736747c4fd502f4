"""Time per training step: gankit's trainer vs a plain PyTorch GAN loop, measured side by side.

The plain loop is what the seeds wrote by hand: a DataLoader over a TensorDataset,
D with a sigmoid and nn.BCELoss, separate real and fake discriminator passes, and a
fresh generator pass for the generator step. Both loops train the same shapes with
the same optimiser. Rounds alternate (plain, gankit, plain, gankit, ...) and the
median per-step time of each is reported, so the ratio is measured under the same
machine load. The trainer's achieved GFLOP/s is compared with a float32 matmul
measured in the same run.

    .venv/bin/python benchmarks/bench_train_step.py            # all cases
    .venv/bin/python benchmarks/bench_train_step.py --rounds 3 --steps 50 --cases ring8
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gankit import hardware
from gankit.config import load_config
from gankit.training.trainer import Trainer

# name -> (preset, overrides, data dimension or None for the preset's own data)
CASES = {
    "ring8": ("toy-ring8", [], None),
    "mlp784-b64": ("toy-ring8", [
        "model.latent_dim=100", "model.g_hidden=256,512,1024", "model.d_hidden=1024,512,256",
        "model.g_output=tanh", "model.pack=1", "train.batch_size=64",
    ], 784),
    "mlp784-b256": ("toy-ring8", [
        "model.latent_dim=100", "model.g_hidden=256,512,1024", "model.d_hidden=1024,512,256",
        "model.g_output=tanh", "model.pack=1", "train.batch_size=256",
    ], 784),
}


def linear_shapes(module: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


def step_flops(g_shapes, d_shapes, batch: int, pack: int) -> float:
    """Multiply-add FLOPs (2 per MAC) of one gankit step: the matmuls, exactly, per layer.

    G forward; D forward on real+fake; D backward (weight grads every layer, input grads
    all but the first); G step: D forward on fake, D input grads (weights frozen), G
    backward (weight grads every layer, input grads all but the first).
    """
    def fwd(shapes, rows):
        return [2.0 * rows * i * o for i, o in shapes]

    g, d = fwd(g_shapes, batch), fwd(d_shapes, batch // pack)
    total = sum(g)                                   # G forward
    total += 2 * sum(d)                              # D forward, real and fake
    total += 2 * (sum(d) + sum(d[1:]))               # D backward on both halves
    total += sum(d) + sum(d)                         # G step: D forward + D input grads
    total += sum(g) + sum(g[1:])                     # G backward
    return total


class PlainD(nn.Module):
    def __init__(self, shapes):
        super().__init__()
        layers = []
        for index, (i, o) in enumerate(shapes):
            layers.append(nn.Linear(i, o))
            layers.append(nn.LeakyReLU(0.2) if index < len(shapes) - 1 else nn.Sigmoid())
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x.flatten(1))


class PlainG(nn.Module):
    def __init__(self, shapes, out_activation):
        super().__init__()
        layers = []
        for index, (i, o) in enumerate(shapes):
            layers.append(nn.Linear(i, o))
            if index < len(shapes) - 1:
                layers.append(nn.LeakyReLU(0.2))
        if out_activation == "tanh":
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)


def timed_plain_steps(G: nn.Module, D: nn.Module, data: torch.Tensor, g_opt, d_opt, *, batch: int,
                      latent: int, targets: tuple[int, ...], steps: int, warmup: int) -> float:
    """Seconds per step of the plain loop the seeds wrote: DataLoader batches, ``nn.BCELoss`` on
    a D that ends in a sigmoid, separate real and fake D passes, a fresh G pass for the G step.
    ``targets`` is the shape of D's output for a batch; ``warmup`` steps are not timed."""
    loss = nn.BCELoss()
    loader = DataLoader(TensorDataset(data), batch_size=batch, shuffle=True, drop_last=True)
    done, start = 0, None
    while done < steps + warmup:
        for (real,) in loader:
            if done == warmup:
                start = time.perf_counter()
            ones, zeros = torch.ones(targets), torch.zeros(targets)
            D.zero_grad()
            d_loss = loss(D(real), ones)
            fake = G(torch.randn(batch, latent))
            d_loss = d_loss + loss(D(fake.detach()), zeros)
            d_loss.backward()
            d_opt.step()
            G.zero_grad()
            g_loss = loss(D(G(torch.randn(batch, latent))), ones)
            g_loss.backward()
            g_opt.step()
            done += 1
            if done == steps + warmup:
                break
    return (time.perf_counter() - start) / steps


def plain_loop(data: torch.Tensor, config, g_shapes, d_shapes, steps: int) -> float:
    """Seconds per step of the hand-written loop (packing ignored: the seeds had none)."""
    G, D = PlainG(g_shapes, config.model.g_output), PlainD([(d_shapes[0][0] // config.model.pack, d_shapes[0][1])]
                                                          + d_shapes[1:])
    g_opt = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    batch = config.train.batch_size
    return timed_plain_steps(G, D, data, g_opt, d_opt, batch=batch, latent=config.model.latent_dim,
                             targets=(batch, 1), steps=steps, warmup=5)


def gankit_loop(trainer: Trainer, steps: int) -> float:
    """Seconds per step of gankit's trainer, over whole epochs of ``steps`` steps."""
    trainer.position.batch = 0
    trainer.run_epoch()            # warm-up epoch
    trainer.position.batch = 0
    start = time.perf_counter()
    trainer.run_epoch()
    return (time.perf_counter() - start) / trainer.steps_per_epoch


def matmul_gflops(size: int = 1024, repeats: int = 20) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2.0 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def run_case(name: str, rounds: int, steps: int, workdir: Path) -> dict:
    preset, overrides, dim = CASES[name]
    overrides = overrides + ["train.progress=false", "eval.every=0", "train.sample_every=0"]
    if dim is not None:
        points = workdir / f"{name}.npy"
        batch = int([o for o in overrides if o.startswith("train.batch_size=")][0].split("=")[1])
        np.save(points, np.random.default_rng(0).uniform(-1, 1, (batch * steps, dim)).astype(np.float32))
        overrides += ["data.name=points", f"data.path={points}"]
    else:
        config = load_config(preset, overrides)
        overrides += [f"data.n_samples={config.train.batch_size * steps}"]
    config = load_config(preset, overrides)
    trainer = Trainer(config, workdir / f"run-{name}")
    g_shapes = linear_shapes(trainer.models.generator)
    d_shapes = linear_shapes(trainer.models.discriminator)
    plain_data = trainer.dataset.tensor
    plain_times, gankit_times, peak = [], [], []
    for _ in range(rounds):
        plain_times.append(plain_loop(plain_data, config, g_shapes, d_shapes, steps))
        gankit_times.append(gankit_loop(trainer, steps))
        peak.append(matmul_gflops())
    plain, ours = statistics.median(plain_times), statistics.median(gankit_times)
    flops = step_flops(g_shapes, d_shapes, config.train.batch_size, config.model.pack)
    achieved = flops / ours / 1e9
    return {"case": name, "batch": config.train.batch_size, "plain_ms": plain * 1e3, "gankit_ms": ours * 1e3,
            "speedup": plain / ours, "gflops": achieved, "matmul_gflops": statistics.median(peak),
            "share": achieved / statistics.median(peak)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma list of {', '.join(CASES)}")
    parser.add_argument("--rounds", type=int, default=5, help="alternating measurement rounds (median)")
    parser.add_argument("--steps", type=int, default=100, help="steps per timed round")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"CPU: {hardware.describe_cpu()}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.rounds} rounds × {args.steps} steps")
    print("| case | batch | plain loop ms/step | gankit ms/step | speed-up | gankit GFLOP/s | matmul GFLOP/s | share of matmul |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases.split(","):
            r = run_case(name.strip(), args.rounds, args.steps, Path(tmp))
            print(f"| {r['case']} | {r['batch']} | {r['plain_ms']:.2f} | {r['gankit_ms']:.2f} | {r['speedup']:.2f}× "
                  f"| {r['gflops']:.1f} | {r['matmul_gflops']:.1f} | {r['share']:.0%} |", flush=True)


if __name__ == "__main__":
    main()
