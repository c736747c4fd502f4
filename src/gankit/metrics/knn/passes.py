"""The two block passes of gankit's exact `prdc` (`gankit.metrics.knn.fast`): k-NN radii²
of each set, and the real × fake comparisons against those balls.

- Radii: in a block of rows, GEMM outputs (offset − d², offset ≈ the row's radius²
  guessed from a sample, so that outputs near the radius are small and round
  finely) are reduced to the maximum of each group of GROUP columns, the PAD+k+1
  best groups are taken and topk picks the PAD+k+1 nearest entries in them. A row is
  accepted when the lower bound on every entry left out (monotone in the output, so
  bounded via the largest output left out) exceeds the upper bound on the (k+1)-th
  kept one; otherwise topk is repeated wider. The kept entries that may be the
  (k+1)-th are refined tier by tier (`settle`), giving an interval [low, high] for
  the exact radius²; entries still tied are kept for tier 3.
- Comparisons: real × fake blocks output d² − (real radius²). A group whose minimum
  passes a per-row threshold (real balls) or per-group threshold (fake balls, the
  fakes ordered by threshold) is opened; the thresholds are the inverse of the
  lower bound at the radius interval's top, so every pair that may be inside is
  found, and each is decided through the tiers (`decide`).

Group minima and maxima are taken over int16/int32 views of the outputs' bits
(`_keys`), which order non-negative values like the values and are ~4× faster to
reduce than bfloat16. Each pass returns one task per block of rows, for the caller
to run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

from gankit.metrics.knn.exact import ExactSquares, Radii, decide, settle, tier_refiners
from gankit.metrics.knn.sketch import Sketch

PAD = 10  # neighbours kept beyond k+1 by the first topk of a radius row
GROUP = 8  # GEMM output columns per group (the first, cheap reduction: int16 min/max)
SUBSET = 128  # columns used to guess each row's radius (an offset; any value is correct)


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


def radii_tasks(points: Tensor, sk: Sketch, k: int, chunk: int, which: int
           ) -> tuple[Radii, list[Task]]:
    """k-NN radii² of `points` (float64) against their own set, filled in by one task
    per block of rows: group maxima of offset − d² → the PAD + k + 1 best groups →
    topk within them → tier-1 bounds, accepted where all that was left out is provably
    farther → `settle`."""
    n, m = points.shape[0], k + 1
    empty = [torch.empty(n, dtype=torch.float64) for _ in range(3)]
    radii = Radii(which, *empty, torch.empty(n, dtype=torch.int64))
    most, refiners = sk.terms.most(), tier_refiners(sk, sk, points, points)
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
            settle(rows[pending[ok]], at[cols[ok]], low[ok], high[ok], m, radii, refiners)
            if ok.all():
                return
            pending, width = pending[~ok], min(n, width * 4)
            vals, cols = out[pending].topk(width, 1)
            vals, bar = vals.neg_(), -vals[:, -1]

    return radii, [partial(block, start) for start in range(0, n, chunk)]


def _members(out: Tensor, rows: Tensor, group: Tensor, groups: int
             ) -> tuple[Tensor, Tensor, Tensor]:
    """All entries (row, position, output) of the given (row, group) pairs."""
    cols = group[:, None] + torch.arange(GROUP) * groups
    values = torch.take(out, (rows[:, None] * out.shape[1] + cols).reshape(-1))
    return rows.repeat_interleave(GROUP), cols.reshape(-1), values


def cross_tasks(real: Tensor, fake: Tensor, sk_r: Sketch, sk_f: Sketch, rad_r: Radii, rad_f: Radii,
           chunk: int, exact: Callable[[], ExactSquares]) -> list[Task]:
    """One task per block of reals, each returning, per fake, the number of real balls
    of the block holding it and, per real of the block, whether it is recalled and
    covered (start, balls, recalled, covered)."""
    n_r, n_f = real.shape[0], fake.shape[0]
    offsets = (rad_r.low + rad_r.high) * (0.5 * sk_r.scale**2)  # each real's radius², scaled
    offsets32 = offsets.float()
    most_f, most_r = sk_f.terms.most(), sk_r.row_terms(0, n_r, offsets).most()
    refiners = tier_refiners(sk_r, sk_f, real, fake)
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
            inside = decide(low, high, rad_r if ball_of_real else rad_f,
                             rows[i] if ball_of_real else j, (rows[i], j), refiners, exact)
            if ball_of_real:
                balls += torch.bincount(j[inside], minlength=n_f)
                covered[i[inside]] = True
            else:
                recalled[i[inside]] = True
        return start, balls, recalled, covered

    return [partial(block, start) for start in range(0, n_r, chunk)]
