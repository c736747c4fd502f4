"""Precision, recall, density and coverage (Kynkäänniemi et al. 2019; Naeem et al.
2020) with the definitions of the `prdc` package: fast, memory-bounded and exact.

Each point gets a ball whose radius is the distance to its k-th nearest neighbour
in its own set (the (k+1)-th smallest entry of its distance row, the zero distance
to itself included, exactly as `prdc` does — so a duplicate counts as a neighbour).
With strict `<` throughout:

- precision = share of fakes inside at least one real ball;
- recall    = share of reals inside at least one fake ball;
- density   = (1/k) · mean over fakes of the number of real balls containing it;
- coverage  = share of reals whose nearest fake lies inside their own ball.

Exactness. Every decision compares exact squared distances of the float64 inputs
(d < r ⇔ d² < r²), and is taken by the cheapest tier whose proven interval around the
exact value separates the two sides (`gankit.metrics.distance`): 1) a bfloat16 (or
float32) GEMM sketch of whole blocks, 1.5) float32 and 2) float64 coordinate
differences for the few pairs tier 1 leaves open, 3) exact integers for exact or
near ties. Ties are therefore decided as exact arithmetic decides them, and the
results do not depend on the tier-1 format, block size or thread count.

- Radii: in a block of rows, GEMM outputs (offset − d², offset ≈ the row's radius²
  guessed from a sample, so that outputs near the radius are small and round
  finely) are reduced to the maximum of each group of GROUP columns, the PAD+k+1
  best groups are taken and topk picks the PAD+k+1 nearest entries in them. A row is
  accepted when the lower bound on every entry left out (monotone in the output, so
  bounded via the largest output left out) exceeds the upper bound on the (k+1)-th
  kept one; otherwise topk is repeated wider. The kept entries that may be the
  (k+1)-th are refined tier by tier (`_settle`), giving an interval [low, high] for
  the exact radius²; entries still tied are kept for tier 3.
- Comparisons: real × fake blocks output d² − (real radius²). A group whose minimum
  passes a per-row threshold (real balls) or per-group threshold (fake balls, the
  fakes ordered by threshold) is opened; the thresholds are the inverse of the
  lower bound at the radius interval's top, so every pair that may be inside is
  found, and each is decided through the tiers (`_decide`).

On continuous data tier 3 never runs; ties (duplicates, integer features, points
exactly on a radius) reach it, and small-integer or dyadic data take a float64
shortcut that is exact. `prdc` itself compares sklearn's float64 |x|²+|y|²−2x·y,
which is exact on such data and otherwise can differ only where rounding reorders
near-ties (on tie-heavy float data its answer can even change with its threading).

Speed. Three GEMM passes (real×real, fake×fake, real×fake) in bfloat16 on AMX; every
other operation touches a block's outputs once (a min/max over int16/int32 views of
the bits, which order non-negative values like the values and are ~4× faster to
reduce than bfloat16) or only the few candidates. Memory is bounded by blocks of
BLOCK_OUTPUTS outputs per thread. Threads: torch runs on one thread and the caller's
thread count runs whole blocks in parallel (`_run`), which on a shared machine is
far more robust than torch's many small parallel regions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, partial

import torch
from torch import Tensor

from gankit.errors import DataError
from gankit.metrics.distance import (
    ExactSquares,
    Sketch,
    as_points,
    pair_squared_bounds,
)

PAD = 10  # neighbours kept beyond k+1 by the first topk of a radius row
GROUP = 8  # GEMM output columns per group (the first, cheap reduction: int16 min/max)
SUBSET = 128  # columns used to guess each row's radius (an offset; any value is correct)
BLOCK_OUTPUTS = 1 << 23  # GEMM outputs per block and thread (16 MiB in bfloat16)
MAX_ABS = 2.0**500  # larger features would overflow the float64 tiers


def _rows_per_block(n_columns: int) -> int:
    return max(1, BLOCK_OUTPUTS // max(1, n_columns))


def sketch_dtype(real: Tensor, center: Tensor, k: int) -> torch.dtype:
    """Tier-1 format: bfloat16 where oneDNN supports it (AMX or AVX512-BF16 GEMMs are
    several times faster than float32), unless its error — about 2⁻⁶ of the squared
    distance to the centre — would not be small against the k-NN radii², as with
    tight clusters far apart; then float32. Results do not depend on the choice."""
    if not (torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()):
        return torch.float32
    n = real.shape[0]
    rows, cols = real[:: max(1, n // 64)], real[:: max(1, n // SUBSET)]
    guess = torch.cdist(rows, cols).square().kthvalue(min(k + 1, len(cols)), 1).values
    spread = (rows - center).square().sum(1)
    return torch.bfloat16 if spread.median() * 2.0**-6 < 0.02 * guess.median() else torch.float32


@dataclass
class Radii:
    """Exact k-NN radii² of one set as intervals [low, high] (float64, unscaled), the
    float64 value of the chosen neighbour, and what tier 3 needs to pin them down."""

    which: int
    low: Tensor
    high: Tensor
    value: Tensor
    index: Tensor
    ties: dict[int, tuple[list[int], int]] = field(default_factory=dict)
    known: dict[int, int] = field(default_factory=dict)

    def exact(self, row: int, exact: ExactSquares) -> int:
        """The exact radius² of `row` (integer units of ExactSquares)."""
        if row not in self.known:
            cols, rank = self.ties.get(row, ([int(self.index[row])], 1))
            values = sorted(exact.squared((self.which, row), (self.which, j)) for j in cols)
            self.known[row] = values[rank - 1]
        return self.known[row]


Refiner = Callable[[Tensor, Tensor], tuple[Tensor, Tensor, Tensor]]


def _refiners(sk_x: Sketch, sk_y: Sketch, x: Tensor, y: Tensor) -> list[Refiner]:
    """Tiers 1.5 (float32 differences) and 2 (float64 differences) for pairs of rows of
    x and y: each maps (rows, cols) to (value, lower, upper) squared distances."""
    return [lambda r, c: sk_x.fine(sk_y, r, c), lambda r, c: pair_squared_bounds(x, y, r, c)]


def _select(low: Tensor, high: Tensor, rank: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """For interval grids (rows × width, +inf where unused): [lo, hi] holding each row's
    rank-th smallest exact value, the count of entries surely below it, and the mask of
    entries that may be it."""
    lo = low.sort(1).values.gather(1, rank[:, None] - 1)
    hi = high.sort(1).values.gather(1, rank[:, None] - 1)
    return lo[:, 0], hi[:, 0], (high < lo).sum(1), (high >= lo) & (low <= hi)


def _settle(rows: Tensor, cols: Tensor, low: Tensor, high: Tensor, m: int, radii: Radii,
            refiners: list[Refiner]) -> None:
    """The m-th smallest exact squared distance per row, from tier-1 intervals of the kept
    entries (rows × width): the entries that may be it are refined tier by tier."""
    rank = torch.full((len(rows),), m)
    lo, hi, below, maybe = _select(low, high, rank)
    for refine in refiners:
        rank = rank - below
        r, c = maybe.nonzero(as_tuple=True)
        grids = [torch.full(maybe.shape, math.inf, dtype=torch.float64).index_put_((r, c), t)
                 for t in refine(rows[r], cols[r, c])]
        lo, hi, below, maybe = _select(grids[1], grids[2], rank)
    value = grids[0].sort(1).values.gather(1, rank[:, None] - 1)[:, 0]
    rank = rank - below  # its rank among the entries that may be it
    radii.low[rows], radii.high[rows], radii.value[rows] = lo, hi, value
    radii.index[rows] = cols.gather(1, maybe.to(torch.uint8).argmax(1, keepdim=True))[:, 0]
    for pos in (maybe.sum(1) > 1).nonzero()[:, 0].tolist():
        radii.ties[int(rows[pos])] = (cols[pos][maybe[pos]].tolist(), int(rank[pos]))


def _keys(values: Tensor) -> Tensor:
    """The bits of bfloat16 / float32 values as int16 / int32: ordered like the values
    among non-negative ones and negative for negative ones (and -0); they reduce ~4×
    faster than bfloat16."""
    return values.view(torch.int16 if values.dtype == torch.bfloat16 else torch.int32)


def _layout(n: int, ids: Tensor | None = None) -> tuple[Tensor, int]:
    """Column positions for GEMM outputs reduced per group: point ids[u] goes to group
    u // GROUP, so group c holds positions c, c + G, c + 2G, ... (G groups; reducing
    `out.view(rows, GROUP, G)` over dim 1 is then fast). Unused positions hold -1.
    Returns (point id per position, G)."""
    groups = -(-n // GROUP)
    ids = torch.arange(n) if ids is None else ids
    u = torch.arange(n)
    at = torch.full((groups * GROUP,), -1, dtype=torch.int64)
    at[u // GROUP + groups * (u % GROUP)] = ids
    return at, groups


Task = Callable[[], object]


def _radii(points: Tensor, sk: Sketch, k: int, chunk: int, which: int
           ) -> tuple[Radii, list[Task]]:
    """k-NN radii² of `points` (float64) against their own set, filled in by one task
    per block of rows: group maxima of offset − d² → the PAD + k + 1 best groups →
    topk within them → tier-1 bounds, accepted where all that was left out is provably
    farther → `_settle`."""
    n, m = points.shape[0], k + 1
    empty = [torch.empty(n, dtype=torch.float64) for _ in range(3)]
    radii = Radii(which, *empty, torch.empty(n, dtype=torch.int64))
    most, refiners = sk.terms.most(), _refiners(sk, sk, points, points)
    at, groups = _layout(n)
    q = -sk.columns(at)  # outputs offset − d²: the nearest are the largest
    spread = torch.arange(GROUP) * groups
    subset = torch.arange(0, n, max(1, n // SUBSET))
    sampled = sk.q[subset].T
    keep = min(n, m + PAD)

    def block(start: int) -> None:
        b = min(n, start + chunk) - start
        rows = torch.arange(start, start + b)
        first, _ = sk.rows(start, start + b, torch.zeros(b, dtype=torch.float64))
        guess = (first @ sampled).topk(min(m, len(subset)), 1, largest=False).values
        offsets = guess[:, -1].double().clamp_min_(0)  # ≈ radius²: small outputs round finely
        packed, terms = sk.rows(start, start + b, offsets)
        out = packed @ q.T
        top, group = _keys(out).view(b, GROUP, groups).amax(1).topk(min(groups, keep), 1)
        cols = (group[:, :, None] + spread).view(b, -1)
        vals, pos = out.gather(1, cols).neg_().topk(keep, 1, largest=False)  # d² − offset
        cols, bar = cols.gather(1, pos), vals[:, -1]  # entries left out are ≥ bar
        if keep < groups:  # a group left out holds no output above max(last key's value, 0)
            bar = torch.minimum(bar, -top[:, -1].contiguous().view(sk.dtype).clamp_min(0))
        pending, width = torch.arange(b), keep
        while True:
            row_terms, row_offsets = terms.take(pending).column(), offsets[pending, None]
            low, high = sk.bounds(vals, row_offsets, row_terms, sk.terms.take(at[cols]))
            ok = torch.ones(len(pending), dtype=torch.bool)
            if width < n:
                floor = sk.bounds(bar[:, None], row_offsets, row_terms, most)[0][:, 0]
                ok = floor > high.kthvalue(m, 1).values
            _settle(rows[pending[ok]], at[cols[ok]], low[ok], high[ok], m, radii, refiners)
            if ok.all():
                return
            pending, width = pending[~ok], min(n, width * 4)
            vals, cols = out[pending].topk(width, 1)
            vals, bar = vals.neg_(), -vals[:, -1]

    return radii, [partial(block, start) for start in range(0, n, chunk)]


def _decide(low: Tensor, high: Tensor, bound: Radii, ball: Tensor, pair: tuple[Tensor, Tensor],
            refiners: list[Refiner], exact: Callable[[], ExactSquares]) -> Tensor:
    """Whether each candidate pair (real i, fake j), with tier-1 interval [low, high], is
    strictly inside the ball of `bound` row `ball`, through tiers 1.5, 2 and 3."""
    r_low, r_high = bound.low[ball], bound.high[ball]
    inside = high < r_low
    unsure = ~inside & (low < r_high)
    for refine in refiners:
        idx = unsure.nonzero()[:, 0]
        if not idx.numel():
            return inside
        value, low, high = refine(pair[0][idx], pair[1][idx])
        inside[idx] = high < r_low[idx]
        unsure[idx] = (high >= r_low[idx]) & (low < r_high[idx])
    still, value = idx[unsure[idx]], value[unsure[idx]]
    if still.numel() and exact().float64_exact:  # tier 2's values are the exact ones
        inside[still] = value < bound.value[ball[still]]
    else:
        for pos in still.tolist():
            i, j, b = int(pair[0][pos]), int(pair[1][pos]), int(ball[pos])
            inside[pos] = exact().squared((0, i), (1, j)) < bound.exact(b, exact())
    return inside


def _members(out: Tensor, rows: Tensor, group: Tensor, groups: int
             ) -> tuple[Tensor, Tensor, Tensor]:
    """All entries (row, position, output) of the given (row, group) pairs."""
    cols = group[:, None] + torch.arange(GROUP) * groups
    values = torch.take(out, (rows[:, None] * out.shape[1] + cols).reshape(-1))
    return rows.repeat_interleave(GROUP), cols.reshape(-1), values


def _cross(real: Tensor, fake: Tensor, sk_r: Sketch, sk_f: Sketch, rad_r: Radii, rad_f: Radii,
           chunk: int, exact: Callable[[], ExactSquares]) -> list[Task]:
    """One task per block of reals, each returning, per fake, the number of real balls
    of the block holding it and, per real of the block, whether it is recalled and
    covered (start, balls, recalled, covered)."""
    n_r, n_f = real.shape[0], fake.shape[0]
    offsets = (rad_r.low + rad_r.high) * (0.5 * sk_r.scale**2)  # each real's radius², scaled
    offsets32 = offsets.float()
    most_f, most_r = sk_f.terms.most(), sk_r.row_terms(0, n_r, offsets).most()
    refiners = _refiners(sk_r, sk_f, real, fake)
    # fake balls: y = fl32(out + offset) errs from out + offset by kappa·(|y| + offset)
    kappa = 2.0**-23 + sk_r.u_out * (1 + 2.0**-23) + 2.0**-50
    cut_f = sk_r.cutoff(rad_f.high, -(kappa + 2.0**-44) * offsets.max(),
                        sk_r.eta(most_r, sk_f.terms), most_r.delta + sk_f.terms.delta,
                        kappa, torch.float32)
    at, groups = _layout(n_f, torch.argsort(cut_f))  # similar thresholds share a group
    cut_at = torch.where(at >= 0, cut_f[at.clamp_min(0)], -math.inf)
    cut_group = cut_at.view(GROUP, groups).amax(0)
    q = sk_f.columns(at)

    def block(start: int) -> tuple[int, Tensor, Tensor, Tensor]:
        b = min(n_r, start + chunk) - start
        rows = torch.arange(start, start + b)
        balls = torch.zeros(n_f, dtype=torch.int64)
        recalled, covered = torch.zeros(b, dtype=torch.bool), torch.zeros(b, dtype=torch.bool)
        packed, terms = sk_r.rows(start, start + b, offsets[rows])
        out = packed @ q.T  # d² − real radius²
        lowest = _keys(out).view(b, GROUP, groups).amin(1)
        # a group with a negative output has a negative key (a candidate for both tests);
        # otherwise its key is that of its smallest output
        least, negative = lowest.view(sk_r.dtype), lowest < 0
        cut_r = sk_r.cutoff(rad_r.high[rows], offsets[rows] * (1 - 2.0**-50),
                            sk_r.eta(terms, most_f), terms.delta + most_f.delta,
                            sk_r.u_out, sk_r.dtype).clamp_min(2.0**-120)[:, None]
        shift = offsets32[rows, None]
        for ball_of_real in (True, False):
            if ball_of_real:  # keys order non-negative values, and cut_r > 0
                i, pos, o = _members(out, *(lowest <= _keys(cut_r)).nonzero(as_tuple=True),
                                     groups)
                hit = o <= cut_r[i, 0]
            else:  # fl32 rounding is monotone: the group minimum gives the smallest sum
                hits = negative | (least + shift <= cut_group)
                i, pos, o = _members(out, *hits.nonzero(as_tuple=True), groups)
                hit = o + shift[i, 0] <= cut_at[pos]
            i, pos, o = i[hit], pos[hit], o[hit]
            j = at[pos]
            low, high = sk_r.bounds(o, offsets[rows[i]], terms.take(i), sk_f.terms.take(j))
            inside = _decide(low, high, rad_r if ball_of_real else rad_f,
                             rows[i] if ball_of_real else j, (rows[i], j), refiners, exact)
            if ball_of_real:
                balls += torch.bincount(j[inside], minlength=n_f)
                covered[i[inside]] = True
            else:
                recalled[i[inside]] = True
        return start, balls, recalled, covered

    return [partial(block, start) for start in range(0, n_r, chunk)]


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
        radii, tasks = _radii(points, sk, k, chunk_size or _rows_per_block(points.shape[0]), 0)
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
        rad_r, tasks_r = _radii(real, sk_r, k, chunk_size or _rows_per_block(n_real), 0)
        rad_f, tasks_f = _radii(fake, sk_f, k, chunk_size or _rows_per_block(n_fake), 1)
        _run(tasks_r + tasks_f)
        chunk = chunk_size or _rows_per_block(n_fake)
        balls = torch.zeros(n_fake, dtype=torch.int64)
        recalled, covered = torch.zeros(n_real, dtype=torch.bool), torch.zeros(n_real, dtype=torch.bool)
        for start, part, part_recalled, part_covered in _run(
                _cross(real, fake, sk_r, sk_f, rad_r, rad_f, chunk, exact)):
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
