"""Feature-space metrics at scale: gankit's exact prdc against the `prdc` package, and
gankit's FID and KID, on 10,000 real vs 10,000 fake features at 64 and 512 dimensions.

Features are two seeded Gaussians (real N(0, I), fake N(0.1, I)), float64. Every
measurement runs in a fresh subprocess, so its peak memory is honest: the increase
of the process's peak resident set size (`ru_maxrss`, which sees torch's and numpy's
allocations) over its own peak after imports and data creation. The subprocesses get
--threads as torch's thread count, as OMP/MKL/OpenBLAS thread counts and, when it is
below the number of cores, as the cores they may run on (`prdc` computes distances
with sklearn's n_jobs=8 threads, which would otherwise use every core). Per
dimension the order is gankit, prdc package, gankit, so gankit's best time and the
package's time are taken under the same load; the load average is printed with them.
The numbers of both prdc implementations are compared for exact equality. CPU
seconds (all threads of the process, `time.process_time`) are printed beside wall
seconds: on a shared machine they show how much of a wall time was waiting.

    .venv/bin/python benchmarks/bench_metrics.py                     # 2 threads
    .venv/bin/python benchmarks/bench_metrics.py --threads 1 --dims 64
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

KEYS = ("precision", "recall", "density", "coverage")


def features(n: int, dim: int):
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.normal(size=(n, dim)), rng.normal(loc=0.1, size=(n, dim))


def worker(method: str, n: int, dim: int, threads: int, repeats: int) -> dict:
    """Run one method `repeats` times in this (fresh) process; times, peak MiB, result."""
    import torch

    if threads < len(os.sched_getaffinity(0)):  # joblib threads in `prdc` would use every core
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])
    torch.set_num_threads(threads)
    real, fake = features(n, dim)
    real_t, fake_t = torch.from_numpy(real), torch.from_numpy(fake)
    if method == "package":
        from prdc import compute_prdc

        def call():
            out = compute_prdc(real, fake, nearest_k=5)
            return {key: float(out[key]) for key in KEYS}
    elif method == "gankit":
        from gankit.metrics.knn import prdc

        def call():
            return prdc(real_t, fake_t, k=5)
    elif method == "fid":
        from gankit.metrics.fid import fid

        def call():
            return {"fid": fid(real_t, fake_t)}
    else:
        from gankit.metrics.kid import kid

        def call():
            mean, std = kid(real_t, fake_t, subsets=100, subset_size=1000, seed=0)
            return {"kid": mean, "kid_std": std}
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times, cpu, result = [], [], {}
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = call()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"times": times, "cpu": cpu, "peak_mib": (peak - base) / 1024, "result": result}


def run(method: str, n: int, dim: int, threads: int, repeats: int) -> dict:
    env = dict(os.environ, **{name: str(threads) for name in (
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    command = [sys.executable, __file__, "--worker", method, "--n", str(n), "--dims", str(dim),
               "--threads", str(threads), "--repeats", str(repeats)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["load"] = os.getloadavg()[0]
    return report


def available(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="real and fake samples each")
    parser.add_argument("--dims", default="64,512", help="comma list of feature dimensions")
    parser.add_argument("--threads", type=int, default=2, help="threads per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="gankit repeats per round (best)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, int(args.dims), args.threads, args.repeats)))
        return
    import torch

    from gankit import hardware

    speedup = hardware.bf16_matmul_speedup("cpu")
    print(f"CPU: {hardware.describe_cpu()}; bfloat16 GEMM {speedup:.1f}x float32 (0 = emulated, not timed), "
          f"so the prdc sketch runs in {'bfloat16' if hardware.bf16_is_fast('cpu') else 'float32'}")
    extras = [name for name in ("fid", "kid") if available(f"gankit.metrics.{name}")]
    print(f"torch {torch.__version__}, {args.threads} threads, n = {args.n:,} real and fake, "
          f"k = 5; load average {os.getloadavg()[0]:.2f} at start")
    rows = []
    for dim in (int(d) for d in args.dims.split(",")):
        first = run("gankit", args.n, dim, args.threads, args.repeats)
        package = run("package", args.n, dim, args.threads, 1)
        second = run("gankit", args.n, dim, args.threads, args.repeats)
        best = min(range(2 * args.repeats), key=lambda r: (first["times"] + second["times"])[r])
        ours, ours_cpu = (first["times"] + second["times"])[best], (first["cpu"] + second["cpu"])[best]
        theirs, theirs_cpu = package["times"][0], package["cpu"][0]
        equal = all(first["result"][key] == package["result"][key] for key in KEYS)
        print(f"d={dim}: gankit {first['result']}, package {package['result']}, "
              f"identical: {equal}; loads {first['load']:.2f} {package['load']:.2f} "
              f"{second['load']:.2f}", flush=True)
        rows.append((dim, "prdc: `prdc` package (`compute_prdc`)", theirs, theirs_cpu,
                     package["peak_mib"], ""))
        rows.append((dim, "prdc: gankit", ours, ours_cpu, max(first["peak_mib"], second["peak_mib"]),
                     f"**{theirs / ours:.1f}×**, identical: {'yes' if equal else 'NO'}"))
        for name in extras:
            report = run(name, args.n, dim, args.threads, args.repeats)
            value = ", ".join(f"{key} {value:.4g}" for key, value in report["result"].items())
            label = "FID" if name == "fid" else "KID (100 subsets × 1,000)"
            best = min(range(args.repeats), key=lambda r: report["times"][r])
            rows.append((dim, f"{label}: gankit", report["times"][best], report["cpu"][best],
                         report["peak_mib"], value))
    print("\n| dim | what | wall s | CPU s | peak MiB | speed-up (wall) / value |")
    print("|---:|---|---:|---:|---:|---|")
    for dim, what, seconds, cpu, peak, note in rows:
        print(f"| {dim} | {what} | {seconds:.3f} | {cpu:.2f} | {peak:.0f} | {note} |")


if __name__ == "__main__":
    main()
