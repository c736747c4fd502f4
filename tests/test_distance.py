"""The three distance tiers under prdc: every interval holds the exact squared distance.

Exact references use Python fractions (float64 values are exact rationals), so these
tests check the bounds themselves, not agreement with another rounding.
"""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from gankit.metrics.knn import fast
from gankit.metrics.knn.exact import ExactSquares, pair_squared_bounds
from gankit.metrics.knn.sketch import Sketch

PLANS = [torch.bfloat16, torch.float32]


def exact_squares(x, y):
    """(len(x), len(y)) exact squared distances as Fractions."""
    xf = [[Fraction(v) for v in row] for row in x.tolist()]
    yf = [[Fraction(v) for v in row] for row in y.tolist()]
    return [[sum((a - b) ** 2 for a, b in zip(p, q)) for q in yf] for p in xf]


def awkward_sets(seed, dim):
    """Point sets that stress the bounds: large offsets, tiny and huge scales, integer
    grids with exact ties, duplicates and near-duplicates one ulp apart."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(24, dim))
    yield "normal", x, rng.normal(loc=0.3, size=(20, dim))
    yield "offset", x * 1e-3 + 1e6, rng.normal(size=(20, dim)) * 1e-3 + 1e6
    yield "tiny", x * 1e-200, rng.normal(size=(20, dim)) * 1e-200
    yield "huge", x * 1e120, rng.normal(size=(20, dim)) * 1e120
    grid = rng.integers(-3, 4, size=(24, dim)).astype(float)
    yield "integers", grid, np.concatenate([grid[:10], rng.integers(-3, 4, size=(10, dim))])
    near = np.nextafter(x[:12], np.inf)
    yield "near", x, np.concatenate([x[:8], near])
    mixed = x.copy()
    mixed[:, 0] *= 1e8
    yield "mixed scales", mixed, mixed[::-1].copy()


@pytest.mark.parametrize("dim", [1, 3, 40])
@pytest.mark.parametrize("plan", PLANS)
def test_sketch_bounds_hold_the_exact_value(dim, plan):
    for label, x, y in awkward_sets(dim, dim):
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        center, scale = fast._frame([xt, yt])
        sx, sy = (Sketch(p, center, scale, plan) for p in (xt, yt))
        exact = exact_squares(x, y)
        offsets = torch.tensor([float(min(row)) * scale**2 for row in exact], dtype=torch.float64)
        for shift in (torch.zeros_like(offsets), offsets):
            packed, terms = sx.rows(0, len(x), shift)
            out = packed @ sy.q.T
            low, high = sx.bounds(out, shift[:, None], terms.column(), sy.terms)
            for i, row in enumerate(exact):
                for j, value in enumerate(row):
                    assert Fraction(float(low[i, j])) <= value <= Fraction(float(high[i, j])), (
                        label, i, j)


@pytest.mark.parametrize("plan", PLANS)
def test_cutoff_keeps_every_entry_that_may_be_inside(plan):
    rng = np.random.default_rng(5)
    x, y = torch.from_numpy(rng.normal(size=(60, 16))), torch.from_numpy(rng.normal(size=(70, 16)))
    center, scale = fast._frame([x, y])
    sx, sy = (Sketch(p, center, scale, plan) for p in (x, y))
    offsets = torch.from_numpy(rng.uniform(10, 40, size=60)) * scale**2
    packed, terms = sx.rows(0, 60, offsets)
    out = packed @ sy.q.T
    low, _ = sx.bounds(out, offsets[:, None], terms.column(), sy.terms)
    for limit in (20.0, 30.0, 45.0):
        limits = torch.full((60,), limit, dtype=torch.float64)
        cut = sx.cutoff(limits, offsets * (1 - 2.0**-50), sx.eta(terms, sy.terms.most()),
                        terms.delta + sy.terms.most().delta, sx.u_out, sx.dtype)
        may_be_inside = low < limit
        assert may_be_inside.any() and (~may_be_inside).any()
        assert (out[may_be_inside] <= cut[:, None].expand_as(out)[may_be_inside]).all()


@pytest.mark.parametrize("plan", PLANS)
def test_float32_tier_bounds_hold_the_exact_value(plan):
    for label, x, y in awkward_sets(11, 9):
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        center, scale = fast._frame([xt, yt])
        sx, sy = (Sketch(p, center, scale, plan) for p in (xt, yt))
        rows = torch.arange(len(x)).repeat_interleave(len(y))
        cols = torch.arange(len(y)).repeat(len(x))
        _, low, high = sx.fine(sy, rows, cols)
        exact = exact_squares(x, y)
        for p, (i, j) in enumerate(zip(rows.tolist(), cols.tolist())):
            assert Fraction(float(low[p])) <= exact[i][j] <= Fraction(float(high[p])), label


def test_pair_bounds_and_exact_squares_agree_with_fractions():
    for label, x, y in awkward_sets(7, 5):
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        rows = torch.arange(len(x)).repeat_interleave(len(y))
        cols = torch.arange(len(y)).repeat(len(x))
        value, low, high = pair_squared_bounds(xt, yt, rows, cols)
        exact = exact_squares(x, y)
        squares = ExactSquares(xt, yt)
        unit = Fraction(2) ** (2 * squares.e0)
        for p, (i, j) in enumerate(zip(rows.tolist(), cols.tolist())):
            assert Fraction(float(low[p])) <= exact[i][j] <= Fraction(float(high[p])), label
            assert squares.squared((0, i), (1, j)) * unit == exact[i][j], label
        if label == "integers":  # integer coordinates: the float64 values are exact
            assert all(Fraction(float(v)) == exact[i][j]
                       for v, i, j in zip(value, rows.tolist(), cols.tolist()))


def test_equal_rows_give_zero_with_zero_width():
    x = torch.randn(5, 30, dtype=torch.float64)
    value, low, high = pair_squared_bounds(x, x.clone(), torch.arange(5), torch.arange(5))
    assert (value == 0).all() and (low == 0).all() and (high < 1e-290).all()
    assert ExactSquares(x).squared((0, 2), (0, 2)) == 0
    assert math.isfinite(float(ExactSquares(torch.zeros(2, 2, dtype=torch.float64)).e0))
