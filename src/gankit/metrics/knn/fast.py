"""The fast exact `prdc`: precision, recall, density and coverage as defined in
`gankit.metrics.knn` (k-th-NN balls, duplicates counted, strict `<`), fast,
memory-bounded and equal to exact arithmetic.

Exactness. Every decision compares exact squared distances of the float64 inputs
(d < r ⇔ d² < r²), and is taken by the cheapest tier whose proven interval around the
exact value separates the two sides: 1) a bfloat16 (or float32) GEMM sketch of whole
blocks (`gankit.metrics.knn.sketch`), 1.5) float32 and 2) float64 coordinate differences
for the few pairs tier 1 leaves open, 3) exact integers for exact or near ties
(`gankit.metrics.knn.exact`). Ties are therefore decided as exact arithmetic decides
them, and the results do not depend on the tier-1 format, block size or thread count.
The radii and comparison passes that apply the tiers, block by block, are in
`gankit.metrics.knn.passes`.

On continuous data tier 3 never runs; ties (duplicates, integer features, points
exactly on a radius) reach it, and small-integer or dyadic data take a float64
shortcut that is exact. The `prdc` package compares sklearn's float64 |x|²+|y|²−2x·y,
which is exact on such data and otherwise can differ only where rounding reorders
near-ties (on tie-heavy float data its answer can even change with its threading).

Speed. Three GEMM passes (real×real, fake×fake, real×fake) in bfloat16 on AMX (float32
where bfloat16 is not faster, as on AVX2-only CPUs); every
other operation touches a block's outputs once (a min/max over int16/int32 views of
the bits, which order non-negative values like the values and are ~4× faster to
reduce than bfloat16) or only the few candidates. Memory is bounded by blocks of
BLOCK_OUTPUTS outputs per thread. Threads: torch runs on one thread and the caller's
thread count runs whole blocks in parallel (`_run`), which on a shared machine is
far more robust than torch's many small parallel regions.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache, partial

import torch
from torch import Tensor

from gankit.errors import DataError
from gankit.hardware import bf16_is_fast
from gankit.metrics.distance import as_points
from gankit.metrics.knn.exact import ExactSquares
from gankit.metrics.knn.passes import SUBSET, Task, cross_tasks, radii_tasks
from gankit.metrics.knn.sketch import Sketch

BLOCK_OUTPUTS = 1 << 23  # GEMM outputs per block and thread (16 MiB in bfloat16)
MAX_ABS = 2.0**500  # larger features would overflow the float64 tiers


def _rows_per_block(n_columns: int) -> int:
    return max(1, BLOCK_OUTPUTS // max(1, n_columns))


def sketch_dtype(real: Tensor, center: Tensor, k: int) -> torch.dtype:
    """Tier-1 format: bfloat16 where this CPU multiplies it measurably faster than float32
    (AMX or AVX512-BF16 GEMMs are several times faster; on AVX2-only CPUs bfloat16 is
    emulated and slower: `gankit.hardware.bf16_is_fast`), unless its error — about 2⁻⁶ of
    the squared distance to the centre — would not be small against the k-NN radii², as
    with tight clusters far apart; then float32. Results do not depend on the choice."""
    if not bf16_is_fast("cpu"):
        return torch.float32
    n = real.shape[0]
    rows, cols = real[:: max(1, n // 64)], real[:: max(1, n // SUBSET)]
    guess = torch.cdist(rows, cols).square().kthvalue(min(k + 1, len(cols)), 1).values
    spread = (rows - center).square().sum(1)
    return torch.bfloat16 if spread.median() * 2.0**-6 < 0.02 * guess.median() else torch.float32


_threads = 1


def _run(tasks: list[Task]) -> list[object]:
    """Run block tasks on the caller's thread count, each task on one thread: a few
    Python threads (torch releases the GIL) instead of torch's parallel regions, of
    which a block has dozens — on a loaded machine each of those can wait a
    scheduler slice for its partner thread (measured: 2–8× slower in all)."""
    if _threads == 1 or len(tasks) == 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(min(_threads, len(tasks))) as pool:
        return list(pool.map(lambda task: task(), tasks))


@contextmanager
def _mode() -> Iterator[None]:
    """No autograd; float32 GEMMs at full precision (the bounds assume float32); torch
    on one thread, the caller's thread count going to `_run`."""
    global _threads
    precision, threads = torch.get_float32_matmul_precision(), torch.get_num_threads()
    torch.set_float32_matmul_precision("highest")
    _threads = threads
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            yield
    finally:
        torch.set_num_threads(threads)
        torch.set_float32_matmul_precision(precision)
        _threads = 1


def _frame(sets: list[Tensor]) -> tuple[Tensor, float]:
    """Common centre (the first set's mean) and a power-of-two scale bringing |x − c| to
    at most 1 (within a factor of 2; any power of two is correct, this one avoids
    overflow and keeps the absolute terms of the bounds negligible)."""
    largest = float(torch.stack([points.abs().amax() for points in sets]).amax())  # NaN stays
    if not largest < MAX_ABS:
        raise DataError("features must be finite and below 2**500 in magnitude")
    center = sets[0].mean(0)
    spread = largest + float(center.abs().max())
    exponent = min(500, max(-500, math.frexp(spread)[1])) if spread > 0 else 0
    return center, 2.0**-exponent


def _sketches(sets: list[Tensor], k: int) -> list[Sketch]:
    center, scale = _frame(sets)
    dtype = sketch_dtype(sets[0], center, k)
    return _run([partial(Sketch, points, center, scale, dtype) for points in sets])


def nearest_neighbour_radii(
    features: Tensor, k: int, chunk_size: int | None = None
) -> Tensor:
    """Distance of each row to its k-th nearest neighbour within `features` (self
    excluded, duplicates counted), float64."""
    points = as_points(features).double().cpu()
    with _mode():
        (sk,) = _sketches([points], k)
        radii, tasks = radii_tasks(points, sk, k, chunk_size or _rows_per_block(points.shape[0]), 0)
        _run(tasks)
        return radii.value.sqrt()


def _bootstrap_std(indicators: list[Tensor], draws: int, generator: torch.Generator) -> list[float]:
    """Std over `draws` resamples (with replacement, shared per set) of each indicator's mean."""
    n = indicators[0].shape[0]
    step = max(1, (1 << 22) // n)
    means: list[list[Tensor]] = [[] for _ in indicators]
    for start in range(0, draws, step):
        picks = torch.randint(n, (min(step, draws - start), n), generator=generator)
        for sink, values in zip(means, indicators):
            sink.append(values.double()[picks].mean(1))
    return [float(torch.cat(sink).std()) for sink in means]


def prdc(
    real_features: Tensor,
    fake_features: Tensor,
    k: int = 5,
    chunk_size: int | None = None,
    dtype: torch.dtype = torch.float64,
    bootstrap: int = 0,
    seed: int = 0,
) -> dict[str, float | int]:
    """Precision, recall, density and coverage of `fake_features` against
    `real_features` (both (N, D)), with k-nearest-neighbour balls; equal to exact
    arithmetic on the features cast to `dtype` (see the module docstring).

    Computed on the CPU, with blocks of rows spread over torch's thread count.
    `chunk_size` bounds memory: rows per block, so each thread holds at most
    chunk_size × max(N_real, N_fake) GEMM outputs (default: about 8M, 16 MiB in
    bfloat16). Returns a dict with `precision`, `recall`, `density`, `coverage`, `k`,
    `n_real`, `n_fake`; with
    `bootstrap` = B ≥ 2 also `precision_std`, `recall_std`, `density_std` and
    `coverage_std`: the standard deviation over B resamples (with replacement, seeded
    by `seed`) of the per-sample indicators, with the k-NN balls held fixed — the
    spread from which samples were scored, conditional on the balls (cheap, but not
    the full sampling spread, which would also redraw the balls).
    """
    real = as_points(real_features, dtype).double().cpu()
    fake = as_points(fake_features, dtype).double().cpu()
    if real.shape[1] != fake.shape[1]:
        raise DataError(
            f"real and fake features differ in dimension ({real.shape[1]} vs {fake.shape[1]})"
        )
    if k < 1:
        raise DataError(f"k must be at least 1, got {k}")
    if bootstrap == 1 or bootstrap < 0:
        raise DataError(f"bootstrap must be 0 (off) or at least 2 resamples, got {bootstrap}")
    for label, points in (("real", real), ("fake", fake)):
        if points.shape[0] < k + 1:
            raise DataError(
                f"{label} set has {points.shape[0]} samples; k={k} needs at least {k + 1}"
            )
    n_real, n_fake = real.shape[0], fake.shape[0]
    with _mode():
        sk_r, sk_f = _sketches([real, fake], k)
        exact = cache(lambda: ExactSquares(real, fake))
        rad_r, tasks_r = radii_tasks(real, sk_r, k, chunk_size or _rows_per_block(n_real), 0)
        rad_f, tasks_f = radii_tasks(fake, sk_f, k, chunk_size or _rows_per_block(n_fake), 1)
        _run(tasks_r + tasks_f)
        chunk = chunk_size or _rows_per_block(n_fake)
        balls = torch.zeros(n_fake, dtype=torch.int64)
        recalled, covered = torch.zeros(n_real, dtype=torch.bool), torch.zeros(n_real, dtype=torch.bool)
        for start, part, part_recalled, part_covered in _run(
                cross_tasks(real, fake, sk_r, sk_f, rad_r, rad_f, chunk, exact)):
            balls += part
            recalled[start : start + len(part_recalled)] = part_recalled
            covered[start : start + len(part_covered)] = part_covered
    scores: dict[str, float | int] = {
        "precision": int((balls > 0).sum()) / n_fake,
        "recall": int(recalled.sum()) / n_real,
        "density": (1.0 / k) * (int(balls.sum()) / n_fake),
        "coverage": int(covered.sum()) / n_real,
        "k": int(k),
        "n_real": int(n_real),
        "n_fake": int(n_fake),
    }
    if bootstrap:
        generator = torch.Generator().manual_seed(seed)
        fake_std = _bootstrap_std([balls > 0, balls / k], bootstrap, generator)
        real_std = _bootstrap_std([recalled, covered], bootstrap, generator)
        scores.update(precision_std=fake_std[0], density_std=fake_std[1],
                      recall_std=real_std[0], coverage_std=real_std[1])
    return scores
