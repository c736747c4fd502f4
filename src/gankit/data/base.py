"""The in-memory dataset every loader returns, and the true geometry of toy data.

A loader (toy 2D, a user's points file, later images) hands the trainer and the
metrics one `Dataset`: the training tensor plus, where it is known, the shape the
data was drawn from, so that metrics can score samples against the truth rather
than only against another finite sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import Tensor


@dataclass(frozen=True, eq=False)
class ModeGeometry:
    """A mixture of isotropic Gaussians with equal weights (ring8, grid25).

    `centers` is (K, 2) float64; every mode has the same standard deviation `std`.
    """

    centers: Tensor
    std: float


@dataclass(frozen=True, eq=False)
class CurveGeometry:
    """A distribution on a curve (line, parabola, spiral), in the data's scale.

    `curve` maps a parameter t of shape (M,) float64 to points (M, 2) on the
    curve; `param_cdf` maps t to the probability mass of the data distribution
    below t (so equal-mass bins of t are `floor(bins * param_cdf(t))`);
    `param_range` is the range of t that the data covers.
    """

    curve: Callable[[Tensor], Tensor]
    param_cdf: Callable[[Tensor], Tensor]
    param_range: tuple[float, float]


@dataclass(eq=False)
class Dataset:
    """Training data held in memory.

    `tensor` is (N, D...) float32 on the CPU; `geometry` is the true shape of the
    distribution when it is known (toy data), else None; `kind` is "points" for
    vectors and "images" for image data.
    """

    name: str
    tensor: Tensor
    geometry: ModeGeometry | CurveGeometry | None
    labels: Tensor | None = None
    kind: str = "points"

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample, e.g. (2,) for 2D points."""
        return tuple(self.tensor.shape[1:])

    def __len__(self) -> int:
        return int(self.tensor.shape[0])
