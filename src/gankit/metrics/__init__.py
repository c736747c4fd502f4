"""Metrics on feature tensors and classifier outputs: pure functions, float64, seeded.

- `fid(real, fake)` — Fréchet distance of Gaussian fits (Heusel et al. 2017);
  `fid_with_spread` adds sample counts, a bootstrap std and small-sample warnings;
  `gaussian_stats` / `fid_from_stats` are the two layers beneath.
- `kid(real, fake)` — (mean, std) of the unbiased polynomial-kernel MMD² over
  random subsets (Bińkowski et al. 2018).
- `prdc(real, fake, k=5)` — precision, recall, density, coverage (Kynkäänniemi et
  al. 2019; Naeem et al. 2020).
- `inception_score(probs)` — (mean, std) over splits (Salimans et al. 2016).
- `class_modes(probs)` / `stacked_modes(channel_probs)` — classes or Stacked MNIST
  modes covered and KL of the mode histogram (VEEGAN, PacGAN).
- `boundary_scores(...)` — s1, s2, s3 and their product (the lung-cell boundary-loss study).
- `energy_distance(x, y)` — Székely & Rizzo's energy distance, any dimension.

The k-NN ball metrics live in the package `gankit.metrics.knn`: the definition and a
plain reference implementation first, the fast exact tiers beside them.
"""

from gankit.metrics.boundary import boundary_scores
from gankit.metrics.distance import energy_distance
from gankit.metrics.fid import fid, fid_from_stats, fid_with_spread, gaussian_stats
from gankit.metrics.inception_score import inception_score
from gankit.metrics.kid import kid
from gankit.metrics.modes import class_modes, stacked_modes
from gankit.metrics.knn import prdc

__all__ = [
    "boundary_scores",
    "class_modes",
    "energy_distance",
    "fid",
    "fid_from_stats",
    "fid_with_spread",
    "gaussian_stats",
    "inception_score",
    "kid",
    "prdc",
    "stacked_modes",
]
