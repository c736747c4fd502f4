"""Euclidean distances between point sets, in memory-bounded chunks, the energy distance
between two samples, and the distance tiers under gankit's exact k-NN metrics.

Energy distance (Székely & Rizzo): D(X, Y) = sqrt(2·E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖),
estimated with the V-statistic (all pairs, self-pairs included). In one dimension
this equals `scipy.stats.energy_distance` exactly: scipy defines it as
sqrt(2)·(∫(F−G)²)^½, and 2∫(F−G)² = 2E|X−Y| − E|X−X'| − E|Y−Y'|.

Tiers (`gankit.metrics.prdc` combines them into results equal to exact arithmetic).
Each gives an interval that provably holds the exact squared distance D of the
float64 inputs; the rounding model is IEEE arithmetic in any summation order, with
u = 2⁻²³ for float32 (so directed rounding is covered too) and absolute slack for
subnormals, flushed or not:

- `Sketch` (tier 1): whole blocks from one bfloat16 (or float32) GEMM; derivation in
  its docstring.
- `Sketch.fine` (tier 1.5) and `pair_squared_bounds` (tier 2): chosen pairs from
  coordinate differences in float32 / float64. Each difference and square is one
  rounding and a sum of d non-negative terms errs by at most γ_d = du/(1−du), so
  |F − D| ≤ γ_{d+2}·D plus subnormal slack; equal rows give F = 0.
- `ExactSquares` (tier 3): exact integers. Every float64 is an integer times a power
  of two, so with e₀ the lowest set bit over all coordinates, ‖x − y‖²/4^e₀ is an
  integer.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

# A block of distances holds at most this many entries (32 MiB in float64).
BLOCK_ELEMENTS = 1 << 22
# Up to this many dimensions, distances are taken from coordinate differences
# (exact zero for equal points); above it, from the |x|² + |y|² − 2x·y expansion.
DIRECT_MAX_DIM = 32
# Above it, squared distances under this share of |x|² + |y|² are recomputed exactly.
NEAR_RELATIVE = 1e-4
U64 = 2.0**-53


def as_points(values: Tensor, dtype: torch.dtype = torch.float64) -> Tensor:
    """`values` (a tensor or array-like of shape (N, D)) as a `dtype` tensor."""
    points = torch.as_tensor(values)
    if points.ndim != 2:
        raise ValueError(f"expected an (N, D) array of points, got shape {tuple(points.shape)}")
    return points.to(dtype)


def default_chunk_size(n_columns: int) -> int:
    """Rows per block so that one block of distances holds at most BLOCK_ELEMENTS."""
    return max(1, BLOCK_ELEMENTS // max(1, n_columns))


def pairwise_distances(x: Tensor, y: Tensor) -> Tensor:
    """Euclidean distances (len(x), len(y)) between rows of x and rows of y.

    In high dimension the fast expansion |x|² + |y|² − 2x·y loses precision for
    near-equal rows (a self-distance comes out as ~1e-7, not 0); entries whose
    squared distance is below NEAR_RELATIVE of the squared norms are recomputed
    from coordinate differences, so equal rows give exactly 0.
    """
    if x.shape[1] <= DIRECT_MAX_DIM:
        return torch.cdist(x, y, compute_mode="donot_use_mm_for_euclid_dist")
    shift = y.mean(dim=0, keepdim=True)
    x, y = x - shift, y - shift
    norms = (x * x).sum(1, keepdim=True) + (y * y).sum(1)[None, :]
    squared = (norms - 2.0 * (x @ y.T)).clamp_min_(0.0)
    rows, cols = torch.nonzero(squared < NEAR_RELATIVE * norms, as_tuple=True)
    step = max(1, BLOCK_ELEMENTS // x.shape[1])
    for start in range(0, rows.numel(), step):
        r, c = rows[start : start + step], cols[start : start + step]
        squared[r, c] = ((x[r] - y[c]) ** 2).sum(1)
    return squared.sqrt_()


def distance_blocks(
    x: Tensor, y: Tensor, chunk_size: int | None = None
) -> Iterator[tuple[int, Tensor]]:
    """Yield (start, distances of x[start:start+chunk] to all of y), block by block."""
    chunk = chunk_size or default_chunk_size(y.shape[0])
    if chunk < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    for start in range(0, x.shape[0], chunk):
        yield start, pairwise_distances(x[start : start + chunk], y)


def mean_distance(x: Tensor, y: Tensor, chunk_size: int | None = None) -> float:
    """E‖X − Y‖ over all pairs of rows, in float64."""
    total = sum(float(block.sum()) for _, block in distance_blocks(x, y, chunk_size))
    return total / (x.shape[0] * y.shape[0])


def energy_distance(x: Tensor, y: Tensor, chunk_size: int | None = None) -> float:
    """Energy distance sqrt(2E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖) between samples x (N, D) and
    y (M, D) of any dimension; equals `scipy.stats.energy_distance` in 1-D.

    A 1-D input is read as N scalar samples. Zero for identical samples; never negative.
    """
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    x = as_points(x[:, None] if x.ndim == 1 else x)
    y = as_points(y[:, None] if y.ndim == 1 else y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"dimensions differ: x has {x.shape[1]}, y has {y.shape[1]}")
    if x.shape[0] == 0 or y.shape[0] == 0:
        raise ValueError("energy distance needs at least one sample in each set")
    squared = (
        2.0 * mean_distance(x, y, chunk_size)
        - mean_distance(x, x, chunk_size)
        - mean_distance(y, y, chunk_size)
    )
    return max(squared, 0.0) ** 0.5


def subnormal_slack() -> float:
    """Absolute error allowed per float64 operation near underflow: half the smallest
    subnormal, or the smallest normal where torch flushes subnormals to zero
    (`torch.set_flush_denormal(True)`), which is checked on each call."""
    flushed = float(torch.tensor(2.0**-1060, dtype=torch.float64) * 2.0**-10) == 0.0
    return 2.0**-1021 if flushed else 2.0**-1073


def squared_differences(x: Tensor, y: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """‖x[rows] − y[cols]‖² in x's dtype: differences, squares and a sum per pair, in
    small reused buffers (fresh large temporaries cost more in page faults than the
    arithmetic)."""
    step = max(1, (1 << 17) // max(1, x.shape[1]))
    value = torch.empty(rows.numel(), dtype=x.dtype)
    a, b = (torch.empty(min(step, rows.numel()), x.shape[1], dtype=x.dtype) for _ in range(2))
    for start in range(0, rows.numel(), step):
        k = min(step, rows.numel() - start)
        torch.index_select(x, 0, rows[start : start + k], out=a[:k])
        torch.index_select(y, 0, cols[start : start + k], out=b[:k])
        torch.sum(a[:k].sub_(b[:k]).square_(), 1, out=value[start : start + k])
    return value


def pair_squared_bounds(
    x: Tensor, y: Tensor, rows: Tensor, cols: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Float64 ‖x[rows] − y[cols]‖² from coordinate differences, with (lower, upper)
    bounds on the exact value (see the module docstring). x, y: float64 (N, D)."""
    dim = x.shape[1]
    value = squared_differences(x, y, rows, cols)
    gamma = (dim + 3) * U64 / (1 - (dim + 3) * U64)
    spread = value * (4 * gamma) + (2 * dim + 4) * subnormal_slack()
    return value, (value - spread).clamp_min_(0.0), value + spread


class ExactSquares:
    """Exact squared distances between rows of float64 point sets, as Python integers in
    units of 4**e0, where every coordinate of every set is an integer multiple of 2**e0.

    Meant for the rare pairs whose float64 comparison is within rounding of a tie;
    rows are converted on first use and cached. `float64_exact` says that float64
    coordinate differences already give these values exactly (small integer or
    dyadic features), so tier 2's values can decide ties directly.
    """

    def __init__(self, *sets: Tensor) -> None:
        self.sets = sets
        self.rows: dict[tuple[int, int], list[int]] = {}
        lowest = [self._lowest_bits(points) for points in sets]
        lowest = [bits for bits in lowest if bits is not None]
        self.e0 = min(lowest) if lowest else 0
        top = max(int(torch.frexp(points)[1].max()) for points in sets)
        # Coordinates are integers below 2**(top − e0) in units of 2**e0; if every
        # difference, square and sum stays below 2**53, float64 arithmetic is exact.
        dim = sets[0].shape[1]
        self.float64_exact = self.e0 >= -480 and dim * 4.0 ** (top - self.e0 + 1) <= 2.0**53

    @staticmethod
    def _split(values: Tensor) -> tuple[Tensor, Tensor]:
        """values = mantissa · 2**exponent with integer mantissas (|m| < 2**53)."""
        fraction, exponent = torch.frexp(values)
        return (fraction * 2.0**53).to(torch.int64), exponent.to(torch.int64) - 53

    @classmethod
    def _lowest_bits(cls, points: Tensor) -> int | None:
        values = points[points != 0]
        if values.numel() == 0:
            return None
        mantissa, exponent = cls._split(values)
        mantissa = mantissa.abs()
        trailing = torch.log2((mantissa & -mantissa).double()).to(torch.int64)
        return int((exponent + trailing).min())

    def row(self, which: int, index: int) -> list[int]:
        """Coordinates of row `index` of set `which` as integers (units of 2**e0)."""
        key = (which, index)
        if key not in self.rows:
            mantissa, exponent = self._split(self.sets[which][index])
            self.rows[key] = [
                m << (e - self.e0) if e >= self.e0 else m >> (self.e0 - e)
                for m, e in zip(mantissa.tolist(), exponent.tolist())
            ]
        return self.rows[key]

    def squared(self, a: tuple[int, int], b: tuple[int, int]) -> int:
        """Exact ‖set[a0][a1] − set[b0][b1]‖² in units of 4**e0."""
        return sum((p - q) * (p - q) for p, q in zip(self.row(*a), self.row(*b)))


class Terms:
    """Per-point magnitudes in the error bound of a sketched squared distance: float64
    columns of one (..., 6) tensor, so that selecting points is one index operation."""

    NAMES = ("h", "r", "y", "mag", "rho", "delta")
    # h: bound on ‖hi‖; r: ‖y − hi‖ plus room for flushed subnormals; y: ‖y‖; mag:
    # bound on the norm term the GEMM carries (α for rows, n for columns); rho: bound
    # on that term's error; delta: bound on ‖y − s·(x − c)‖.

    def __init__(self, values: Tensor) -> None:
        self.values = values

    def __getattr__(self, name: str) -> Tensor:
        if name in Terms.NAMES:
            return self.values[..., Terms.NAMES.index(name)]
        raise AttributeError(name)

    def take(self, index: Tensor | slice) -> Terms:
        return Terms(self.values[index])

    def column(self) -> Terms:
        """The same points as a column (N, 1), to broadcast against (N, M) outputs."""
        return Terms(self.values[:, None])

    def most(self) -> Terms:
        """A pseudo-point whose every magnitude dominates all points' (bounds are monotone)."""
        return Terms(self.values.amax(0, keepdim=True))


def _split3(values: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor]:
    """values ≈ p1 + p2 + p3 in `dtype` (each subtraction exact by Sterbenz's lemma);
    the parts (N, 3), a bound on |p1 + p2 + p3| and one on the residual."""
    parts, rest = [], values
    for _ in range(3):
        parts.append(rest.to(dtype))
        rest = rest - parts[-1].double()
    flush = 3 * 2.0**-126  # parts below the normal range may be read as zero (DAZ)
    return torch.stack(parts, 1), values.abs() * (1 + 2.0**-40) + rest.abs(), rest.abs() + flush


class Sketch:
    """A point set in low precision for whole blocks of squared distances by one GEMM,
    with a proven interval around every exact value.

    Points are centred and scaled by a power of two, y = fl(s·(x − c)), |y| ≲ 1, and
    rounded to hi (bfloat16 or float32; the residual r = y − hi is exact). Rows
    P = [hi, α₁₋₃, 1, 1, 1] times columns Q = [−2hi, 1, 1, 1, n₁₋₃], with n = ‖y‖²
    and α = n_row − offset split into three `dtype` parts, sum exactly to
    ‖yᵢ − yⱼ‖² − offsetᵢ except for (i) the residuals: |yᵢ·yⱼ − hiᵢ·hiⱼ| ≤
    rᵢ‖yⱼ‖ + ‖hiᵢ‖rⱼ (Cauchy–Schwarz), counted twice, and (ii) the split residuals and
    float64 errors of α and n (rho). The GEMM's float32 accumulation errs by at most
    γ_K·Σ|terms| in any order and blocking, plus μ for flushed subnormals (`eta`), and
    its output rounds once more (relative u_out; 2⁻⁷ in bfloat16). Centring moved each
    point by at most δ, so √D lies within δᵢ + δⱼ of √‖yᵢ − yⱼ‖². `bounds` evaluates
    this chain in float64, each step widened by a relative 2⁻⁵⁰ or more (covering its
    own rounding); the lower bound is non-decreasing in the output, so one bound on
    the largest output left out bounds them all.
    """

    def __init__(self, points: Tensor, center: Tensor, scale: float, dtype: torch.dtype) -> None:
        n, dim = points.shape
        self.dtype, self.scale, self.slack = dtype, scale, subnormal_slack()
        self.dim_error = (dim + 4) * 2.0**-52  # relative error of float64 sums over a row
        up = 1 + self.dim_error
        self.n, r = torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
        self.y32 = torch.empty(n, dim)  # each coordinate within 2⁻²³ of y's (any rounding)
        hi = self.y32 if dtype == torch.float32 else torch.empty(n, dim, dtype=dtype)
        for start in range(0, n, 1024):  # row chunks that stay in cache
            rows = slice(start, start + 1024)
            y = torch.sub(points[rows], center).mul_(scale)
            self.n[rows] = torch.linalg.vecdot(y, y)
            self.y32[rows] = y
            if dtype != torch.float32:
                hi[rows] = y
            r[rows] = torch.linalg.vector_norm(y.sub_(hi[rows]), dim=1)  # exact difference
        y_norm, r = self.n.sqrt() * up, r * up
        self.e32 = y_norm * 2.0**-23 + dim**0.5 * 2.0**-125  # ‖y − y32‖, subnormals included
        n_parts, n_mag, n_rho = _split3(self.n, dtype)
        self.terms = Terms(torch.stack([
            (y_norm + r) * up, r + dim**0.5 * 2.0**-125, y_norm, n_mag,
            n_rho + self.n * self.dim_error,
            y_norm * 2.0**-52 + 2 * dim**0.5 * (scale + 1) * self.slack], 1))
        self.width = -(-(dim + 6) // 32) * 32  # K, padded for the GEMM kernels
        ones = torch.ones(n, 3, dtype=dtype)
        self.q = self._pack([-2 * hi, ones, n_parts])
        self.p = self._pack([hi, ones, ones])  # α columns set by `rows`
        self.alpha_column, self.n_column = dim, dim + 3
        k = self.width + 2
        self.gamma = k * 2.0**-23 / (1 - k * 2.0**-23)
        self.mu = (self.width + 8) * 2.0**-124
        self.u_out = (2.0**-7 if dtype == torch.bfloat16 else 2.0**-23) + 2.0**-50

    def _pack(self, blocks: list[Tensor]) -> Tensor:
        packed = torch.zeros(len(blocks[0]), self.width, dtype=self.dtype)
        torch.cat(blocks, 1, out=packed[:, : sum(b.shape[1] for b in blocks)])
        return packed

    def columns(self, at: Tensor) -> Tensor:
        """GEMM columns: point at[p] in position p, or where at[p] < 0 a point at
        'infinity' (output 2**60: never selected, never inside a ball)."""
        q = self.q[at.clamp_min(0)]
        q[at < 0] = 0
        q[at < 0, self.n_column] = 2.0**60
        return q

    def rows(self, start: int, stop: int, offsets: Tensor, pack: bool = True
             ) -> tuple[Tensor, Terms]:
        """GEMM rows for points start:stop with float64 scaled `offsets` (≥ 0) subtracted
        (a view of one packed matrix, valid until the next call), and their Terms (mag,
        rho describe α = n − offset)."""
        alpha = self.n[start:stop] - offsets
        a_parts, a_mag, a_rho = _split3(alpha, self.dtype)
        values = self.terms.values[start:stop].clone()
        values[:, 3] = a_mag
        values[:, 4] = a_rho + self.n[start:stop] * self.dim_error + alpha.abs() * 2.0**-52
        if pack:
            self.p[start:stop, self.alpha_column : self.alpha_column + 3] = a_parts
        return self.p[start:stop], Terms(values)

    def row_terms(self, start: int, stop: int, offsets: Tensor) -> Terms:
        """Terms of points start:stop as GEMM rows with `offsets` (see `rows`)."""
        return self.rows(start, stop, offsets, pack=False)[1]

    def eta(self, row: Terms, col: Terms) -> Tensor:
        """Bound on |GEMM sum − (‖yᵢ − yⱼ‖² − offsetᵢ)| before the output rounding."""
        total = (self.gamma * (2 * row.h * col.h + row.mag + col.mag) + row.rho + col.rho
                 + 2 * (row.r * col.y + row.h * col.r) + self.mu)
        return total * (1 + 2.0**-40)

    def _unscaled(self, root_low: Tensor, root_high: Tensor) -> tuple[Tensor, Tensor]:
        unscale = self.scale**-2
        low = root_low.clamp_min(0).square() * (1 - 2.0**-50) - self.slack
        low = low * ((1 - 2.0**-50) * unscale) - self.slack
        return low.clamp_min_(0), root_high.square() * ((1 + 2.0**-50) * unscale) + self.slack

    def bounds(self, out: Tensor, offsets: Tensor, row: Terms, col: Terms
               ) -> tuple[Tensor, Tensor]:
        """(lower, upper) bounds on the exact squared distances (unscaled, float64) for
        GEMM outputs `out`; the arguments broadcast together."""
        o = out.double()
        eta, delta = self.eta(row, col), (row.delta + col.delta) * (1 + 2.0**-49)
        spread = o.abs() * self.u_out
        low = o - spread + offsets * (1 - 2.0**-50) - eta
        high = o + spread + offsets * (1 + 2.0**-50) + eta
        return self._unscaled(low.clamp_min(0).sqrt() * (1 - 2.0**-50) - delta,
                              high.clamp_min(0).sqrt() * (1 + 2.0**-50) + delta)

    def fine(self, other: Sketch, rows: Tensor, cols: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Tier 1.5: ‖y32ᵢ − y32ⱼ‖² (rows of self, columns of `other`) from float32
        coordinate differences, as (value, lower, upper) unscaled; y32 is within e32 of
        y, and y within δ of s·(x − c)."""
        dim = self.y32.shape[1]
        f = squared_differences(self.y32, other.y32, rows, cols).double()
        gamma = (dim + 3) * 2.0**-23 / (1 - (dim + 3) * 2.0**-23)
        slack = dim * 2.0**-120
        moved = (self.e32[rows] + other.e32[cols] + self.terms.delta[rows]
                 + other.terms.delta[cols]) * (1 + 2.0**-49)
        low, high = self._unscaled(
            ((f - slack) / (1 + gamma)).clamp_min(0).sqrt() * (1 - 2.0**-50) - moved,
            ((f + slack) / (1 - gamma)).sqrt() * (1 + 2.0**-50) + moved)
        return f * self.scale**-2, low, high

    def cutoff(self, limit: Tensor, offsets: Tensor, eta: Tensor, delta: Tensor,
               kappa: float, dtype: torch.dtype) -> Tensor:
        """Thresholds v (in `dtype`) such that an output o > v means an exact squared
        distance ≥ `limit` (unscaled), given the offset the lower bound adds (already
        conservative), eta, delta and the output's relative error kappa: the inverse
        of `bounds`' scaled lower bound, each step widened."""
        limit = limit * (self.scale**2 * (1 + 2.0**-50)) + 5 * self.slack  # scaled, ≥ limit·s²
        wanted = (limit.sqrt() * (1 + 2.0**-45) + delta * (1 + 2.0**-45)).square() * (1 + 2.0**-44)
        theta = wanted - offsets + eta * (1 + 2.0**-40) + self.mu
        theta = theta + (wanted + offsets.abs() + eta) * 2.0**-45
        value = torch.where(theta >= 0, theta / (1 - kappa), theta / (1 + kappa))
        value = value + value.abs() * 2.0**-45 + 2.0**-120
        relative = 2.0**-7 if dtype == torch.bfloat16 else 2.0**-22
        return (value + value.abs() * relative + 2.0**-120).to(dtype)  # rounds to ≥ value
