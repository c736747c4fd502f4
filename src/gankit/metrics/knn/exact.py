"""Tiers 2 and 3 of gankit's exact k-NN metrics, and the refinement that takes the
pairs tier 1 (`gankit.metrics.knn.sketch`) leaves open through them.

Each tier gives an interval that provably holds the exact squared distance D of the
float64 inputs, under IEEE arithmetic in any summation order with absolute slack for
subnormals, flushed or not:

- `pair_squared_bounds` (tier 2): chosen pairs from float64 coordinate differences.
  Each difference and square is one rounding and a sum of d non-negative terms errs
  by at most γ_d = du/(1−du) (u = 2⁻⁵³), so |F − D| ≤ γ_{d+2}·D plus subnormal slack;
  equal rows give F = 0.
- `ExactSquares` (tier 3): exact integers. Every float64 is an integer times a power
  of two, so with e₀ the lowest set bit over all coordinates, ‖x − y‖²/4^e₀ is an
  integer.

A decision is taken by the cheapest tier whose interval separates its two sides:
`settle` pins down each row's k-NN radius² as an interval (`Radii`, with the entries
still tied kept for tier 3), and `decide` whether a pair lies strictly inside a ball.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from gankit.metrics.knn.sketch import Sketch, squared_differences, subnormal_slack

U64 = 2.0**-53


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


def tier_refiners(sk_x: Sketch, sk_y: Sketch, x: Tensor, y: Tensor) -> list[Refiner]:
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


def settle(rows: Tensor, cols: Tensor, low: Tensor, high: Tensor, m: int, radii: Radii,
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


def decide(low: Tensor, high: Tensor, bound: Radii, ball: Tensor, pair: tuple[Tensor, Tensor],
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
