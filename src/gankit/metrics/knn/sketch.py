"""Tier 1 of gankit's exact k-NN metrics: whole blocks of squared distances from one
low-precision GEMM, with a proven interval around every exact value (`Sketch`), and
tier 1.5, float32 coordinate differences for chosen pairs (`Sketch.fine`).

Each tier gives an interval that provably holds the exact squared distance D of the
float64 inputs (`gankit.metrics.knn.fast` combines the tiers into results equal to exact
arithmetic; tiers 2 and 3 are in `gankit.metrics.knn.exact`). The rounding model is IEEE
arithmetic in any summation order, with u = 2⁻²³ for float32 (so directed rounding is
covered too) and absolute slack for subnormals, flushed or not:

- `Sketch` (tier 1): whole blocks from one bfloat16 (or float32) GEMM; derivation in
  its docstring.
- `Sketch.fine` (tier 1.5): chosen pairs from float32 coordinate differences. Each
  difference and square is one rounding and a sum of d non-negative terms errs by at
  most γ_d = du/(1−du), so |F − D| ≤ γ_{d+2}·D plus subnormal slack; equal rows give
  F = 0.
"""

from __future__ import annotations

import torch
from torch import Tensor


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
        # K, padded for the GEMM kernels: to 32 for bfloat16 (AMX tiles); float32 GEMMs run best
        # near K itself (10k×10k, dim 64: K = 72 vs 96 took 0.8× the time on AVX2 code paths)
        align = 32 if dtype == torch.bfloat16 else 8
        self.width = -(-(dim + 6) // align) * align
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
