"""CPU facts and the bfloat16 speed check that picks formats (`gankit.hardware`)."""

from __future__ import annotations

import torch

from gankit import hardware

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse2 avx avx2 fma

processor\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse2 avx avx2 fma
"""


def test_cpuinfo_reads_the_first_processor(monkeypatch, tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text(CPUINFO)
    real_path = hardware.Path
    monkeypatch.setattr(hardware, "Path", lambda name: info if name == "/proc/cpuinfo" else real_path(name))
    hardware._cpuinfo.cache_clear()
    try:
        assert hardware.cpu_model() == "AMD EPYC 7B13"
        assert hardware.cpu_flags() == frozenset({"fpu", "sse2", "avx", "avx2", "fma"})
    finally:
        hardware._cpuinfo.cache_clear()


def test_vector_units_name_what_decides_gemm_speed():
    assert hardware.vector_units(frozenset({"avx2", "fma"})).startswith("AVX2")
    xeon = hardware.vector_units(frozenset({"avx2", "avx512f", "avx512_bf16", "amx_bf16"}))
    assert xeon.startswith("AVX2, AVX-512, AVX512-BF16, AMX-BF16")
    assert hardware.vector_units(frozenset()).startswith("no AVX2")


def test_bf16_speedup_is_zero_without_native_units(monkeypatch):
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    hardware.bf16_matmul_speedup.cache_clear()
    try:
        assert hardware.bf16_matmul_speedup("cpu") == 0.0
        assert not hardware.bf16_is_fast("cpu")
        assert "keep train.autocast=none" in hardware.bf16_advice("cpu")
    finally:
        hardware.bf16_matmul_speedup.cache_clear()


def test_bf16_speedup_is_measured_where_oneDNN_has_units():
    speedup = hardware.bf16_matmul_speedup("cpu")
    assert speedup >= 0.0
    if speedup > 0:  # timed: a finite ratio, and the advice follows it
        assert ("may be faster" in hardware.bf16_advice("cpu")) == (speedup >= hardware.FAST_BF16)


def test_describe_cpu_names_model_units_and_threads():
    line = hardware.describe_cpu()
    assert hardware.cpu_model() in line and "thread" in line
