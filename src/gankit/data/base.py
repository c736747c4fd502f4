"""The in-memory dataset every loader returns, and the true geometry of toy data.

A loader (toy 2D, a user's points file, later images) hands the trainer and the
metrics one `Dataset`: the training tensor plus, where it is known, the shape the
data was drawn from, so that metrics can score samples against the truth rather
than only against another finite sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    vectors and "images" for image data. `labels` (int64, (N,)) and
    `class_names` (label i is `class_names[i]`) are set when the data has classes;
    `skipped` holds (path relative to `source`, reason) for every file an image
    folder could not use, so the run folder can list them; `source` is the file
    or folder the data came from, when there is one; `notes` are one-line warnings
    about the data as loaded (e.g. a class folder left out because it held no images).
    """

    name: str
    tensor: Tensor
    geometry: ModeGeometry | CurveGeometry | None
    labels: Tensor | None = None
    kind: str = "points"
    class_names: list[str] | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    source: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample, e.g. (2,) for 2D points."""
        return tuple(self.tensor.shape[1:])

    def __len__(self) -> int:
        return int(self.tensor.shape[0])

    @property
    def n_classes(self) -> int | None:
        """How many classes the labels index (None for data without labels)."""
        if self.labels is None:
            return None
        return len(self.class_names) if self.class_names else int(self.labels.max()) + 1

    @property
    def label_names(self) -> list[str] | None:
        """The name of every class (its index as text where the data names none); None without labels."""
        count = self.n_classes
        return None if count is None else list(self.class_names or [str(i) for i in range(count)])
