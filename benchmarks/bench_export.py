"""Throughput of an exported generator vs gankit's own sampling, side by side on the CPU.

For each generator (the ``mnist-mlp`` course template, the ``mnist-dcgan`` CPU preset and
the ``toy-ring8`` point MLP, at their preset widths, untrained: speed does not depend on the
weights) and each batch size, one round draws ``--n`` samples in three ways, one after the
other; rounds alternate and the table shows medians:

- gankit: ``gankit.sampling.generate.generate`` (what ``Run.sample`` / ``gankit sample`` run:
  latents from a seeded ``torch.Generator``, the generator in eval mode under no_grad);
- ONNX: the ``gankit export --format onnx`` file in an onnxruntime CPU session, latents
  drawn with numpy;
- TorchScript: the ``--format torchscript`` file through ``torch.jit.load``.

torch and onnxruntime get the same number of threads (``--threads``; onnxruntime intra-op,
one inter-op). Ratios > 1 mean the exported file is faster. Run it as:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_export.py --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from gankit import hardware
from gankit.config import load_config
from gankit.export import ExportedGenerator
from gankit.export.formats import onnx_bytes, torchscript_bytes
from gankit.export.module import architecture_of
from gankit.models import build_generator
from gankit.sampling.generate import generate

CASES = {  # preset -> (sample shape, samples per round)
    "mnist-mlp": ((1, 28, 28), 4096),
    "mnist-dcgan": ((1, 28, 28), 1024),
    "toy-ring8": ((2,), 65536),
}



def timed(draw: Callable[[], None]) -> float:
    start = time.perf_counter()
    draw()
    return time.perf_counter() - start


def bench_case(preset: str, shape: tuple[int, ...], n: int, batch: int, rounds: int, threads: int,
               folder: Path) -> dict[str, float]:
    config = load_config(preset)
    generator = build_generator(config.model, shape).eval()
    module = ExportedGenerator(generator, architecture_of(config.model, shape))
    onnx_file, script_file = folder / f"{preset}.onnx", folder / f"{preset}.pt"
    onnx_file.write_bytes(onnx_bytes(module))
    script_file.write_bytes(torchscript_bytes(module))
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.load(str(script_file)).eval()
    dim = config.model.latent_dim
    rng = np.random.default_rng(0)

    def gankit_sampling() -> None:
        generate(generator, n, latent_dim=dim, distribution=config.model.latent_distribution,
                 generator=torch.Generator().manual_seed(0), batch_size=batch)

    def onnx_sampling() -> None:
        for start in range(0, n, batch):
            z = rng.standard_normal((min(batch, n - start), dim), dtype=np.float32)
            session.run(None, {"z": z})

    @torch.no_grad()
    def torchscript_sampling() -> None:
        latents = torch.Generator().manual_seed(0)
        for start in range(0, n, batch):
            scripted(torch.randn(min(batch, n - start), dim, generator=latents))

    ways = {"gankit": gankit_sampling, "onnx": onnx_sampling, "torchscript": torchscript_sampling}
    for draw in ways.values():  # warm-up: allocations, onnxruntime's first-run planning
        draw()
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, draw in ways.items():
            seconds[name].append(timed(draw))
    return {name: n / statistics.median(times) for name, times in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch and onnxruntime threads")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", default="1024,64", help="batch sizes (gankit's sample.batch_size is 1024)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"any of {', '.join(CASES)}")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"CPU: {hardware.describe_cpu()} · torch {torch.__version__} · onnxruntime {ort.__version__} · "
          f"{args.threads} thread(s) · {args.rounds} rounds, medians")
    print("| generator | batch | gankit samples/s | ONNX samples/s | ONNX / gankit | TorchScript samples/s "
          "| TorchScript / gankit |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for preset in args.cases.split(","):
            shape, n = CASES[preset]
            for batch in (int(b) for b in args.batches.split(",")):
                rate = bench_case(preset, shape, n, batch, args.rounds, args.threads, Path(folder))
                print(f"| {preset} | {batch} | {rate['gankit']:.0f} | {rate['onnx']:.0f} | "
                      f"{rate['onnx'] / rate['gankit']:.2f}× | {rate['torchscript']:.0f} | "
                      f"{rate['torchscript'] / rate['gankit']:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
