"""What this machine computes fast: the CPU's model and vector units, and whether bfloat16
matrix products beat float32 here.

bfloat16 pays only where the hardware multiplies it natively: Intel AMX (``amx_bf16``),
AVX-512 BF16 (``avx512_bf16``) or a GPU. On an AVX2-only CPU (most laptops and many cloud
VMs) PyTorch and oneDNN emulate it, and a bfloat16 GEMM is several times *slower* than
float32 (0.97 s vs 0.065 s for a 512³ product measured on an AVX2 EPYC). So every place
that picks bfloat16 for speed asks `bf16_matmul_speedup`, which times one small product in
both formats (once per process and device; tens of milliseconds at most) — it also
honours ``ONEDNN_MAX_CPU_ISA=AVX2`` / ``ATEN_CPU_CAPABILITY=avx2``, the environment that
makes an AVX-512 machine run PyTorch's AVX2 code paths.
"""

from __future__ import annotations

import os
import platform
import time
from functools import cache
from pathlib import Path

import torch

import gankit.fastpaths as fastpaths

FAST_BF16 = 1.3  # bfloat16 counts as fast when its product is at least this much quicker
_FLAG_NAMES = (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_bf16", "AVX512-BF16"), ("amx_bf16", "AMX-BF16"))


@cache
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo ({} where there is none)."""
    fields: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return fields
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_model() -> str:
    """The CPU's marketing name, e.g. ``AMD EPYC 7B13``."""
    name = _cpuinfo().get("model name") or platform.processor() or platform.machine() or "unknown CPU"
    return " ".join(name.replace("(R)", "").replace("(TM)", "").split())


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux names them (empty where /proc/cpuinfo is missing)."""
    return frozenset(_cpuinfo().get("flags", "").split())


def vector_units(flags: frozenset[str] | None = None) -> str:
    """The units that decide GEMM speed, e.g. ``AVX2, AVX-512, AMX-BF16``, and the code path
    PyTorch actually uses (``torch avx2`` when ATEN_CPU_CAPABILITY caps it below the CPU)."""
    flags = cpu_flags() if flags is None else flags
    names = [name for flag, name in _FLAG_NAMES if flag in flags] or ["no AVX2"]
    capability = torch.backends.cpu.get_cpu_capability().lower()
    if (capability == "avx2" and "avx512f" in flags) or capability in ("default", "no_avx"):
        names.append(f"torch {capability}")
    return ", ".join(names)


def describe_cpu() -> str:
    """One line for benchmark headers and `gankit train`: model, units, threads."""
    threads = torch.get_num_threads()
    return f"{cpu_model()} ({vector_units()}; {threads} thread{'s' if threads > 1 else ''})"


def _best_time(a: torch.Tensor, b: torch.Tensor, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        torch.mm(a, b)
        if a.is_cuda:
            torch.cuda.synchronize(a.device)
        best = min(best, time.perf_counter() - start)
    return best


@cache
def bf16_matmul_speedup(device: str = "cpu") -> float:
    """float32 time / bfloat16 time of one (256×512)·(512×256) product on `device`, best of
    a few rounds (> 1: bfloat16 is faster). On a CPU without native bfloat16 GEMMs (oneDNN
    reports none) it is not timed: the emulated path is known to be slower, and returns 0.
    That question is private (fastpaths "onednn_bf16_query"): with ``GANKIT_PRIVATE_TORCH=0``
    the product is timed on every CPU with oneDNN, and the measurement alone decides."""
    dev = torch.device(device)
    if dev.type == "cpu" and not (torch.backends.mkldnn.is_available()
                                  and (not fastpaths.enabled("onednn_bf16_query")
                                       or torch.ops.mkldnn._is_mkldnn_bf16_supported())):
        return 0.0
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(256, 512, generator=generator).to(dev)
    b = torch.randn(512, 256, generator=generator).to(dev)
    a16, b16 = a.bfloat16(), b.bfloat16()
    _best_time(a, b, 1)  # warm-up: the first calls pick kernels
    _best_time(a16, b16, 1)
    return _best_time(a, b, 5) / max(_best_time(a16, b16, 5), 1e-9)


def bf16_is_fast(device: str = "cpu") -> bool:
    """Whether bfloat16 GEMMs are measurably faster than float32 on `device`."""
    return bf16_matmul_speedup(device) >= FAST_BF16


def bf16_advice(device: str = "cpu") -> str:
    """What `gankit train` says about ``train.autocast=bf16`` on this device."""
    if torch.device(device).type == "cuda":
        return "train.autocast=bf16 may be faster on this GPU"
    speedup = bf16_matmul_speedup(device)
    if speedup >= FAST_BF16:
        return f"bf16 native here ({speedup:.1f}x float32 GEMM): train.autocast=bf16 may be faster"
    return "bf16 emulated here (slower than float32): keep train.autocast=none"


def device_line(device: torch.device | str) -> str:
    """The first line `gankit train` prints: where it trains, and the bfloat16 advice."""
    device = torch.device(device)
    where = (f"cuda: {torch.cuda.get_device_name(device)}" if device.type == "cuda"
             else f"cpu: {describe_cpu()}")
    return f"{where} · {bf16_advice(device.type)}"


def memory_bytes(device: torch.device | str = "cpu") -> int | None:
    """The memory networks on ``device`` can use: this machine's physical RAM, or a GPU's own
    memory (None where the system does not say)."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):  # no sysconf (Windows) or no such name
        return None
