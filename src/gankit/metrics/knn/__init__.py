"""Precision, recall, density and coverage (Kynkäänniemi et al. 2019; Naeem et al.
2020): k-nearest-neighbour balls around each sample, with the definitions of the
`prdc` package.

Each point gets a ball whose radius is the distance to its k-th nearest neighbour
in its own set (the (k+1)-th smallest entry of its distance row, the zero distance
to itself included, exactly as `prdc` does — so a duplicate counts as a neighbour).
With strict `<` throughout:

- precision = share of fakes inside at least one real ball;
- recall    = share of reals inside at least one fake ball;
- density   = (1/k) · mean over fakes of the number of real balls containing it;
- coverage  = share of reals whose nearest fake lies inside their own ball.

`reference_prdc` below is that definition as code: every distance of every pair in
memory, plain float64. `prdc` (`gankit.metrics.knn.fast`) gives the same numbers,
fast, in bounded memory and exact where rounding would decide near-ties, through the
distance tiers of `sketch` and `exact` applied block by block in `passes`;
`reference_prdc` is its test oracle beside the `prdc` package.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.metrics.knn.fast import nearest_neighbour_radii, prdc

__all__ = ["nearest_neighbour_radii", "prdc", "reference_prdc"]


def reference_prdc(real_features: Tensor, fake_features: Tensor, k: int = 5) -> dict[str, float | int]:
    """Precision, recall, density and coverage of `fake_features` against
    `real_features` ((N, D) each), straight from the definition above. Squared
    distances are compared (d < r ⇔ d² < r²), from float64 coordinate differences:
    exact on small-integer or dyadic features. Memory grows with N_real × N_fake."""
    real = torch.as_tensor(real_features, dtype=torch.float64)
    fake = torch.as_tensor(fake_features, dtype=torch.float64)
    real_radii = _squared_distances(real, real).kthvalue(k + 1, dim=1).values  # self (0) is the 1st
    fake_radii = _squared_distances(fake, fake).kthvalue(k + 1, dim=1).values
    real_to_fake = _squared_distances(real, fake)  # (N_real, N_fake)
    fake_in_real_ball = real_to_fake < real_radii[:, None]
    real_in_fake_ball = real_to_fake < fake_radii[None, :]
    n_real, n_fake = len(real), len(fake)
    return {
        "precision": int(fake_in_real_ball.any(dim=0).sum()) / n_fake,
        "recall": int(real_in_fake_ball.any(dim=1).sum()) / n_real,
        "density": (1.0 / k) * (int(fake_in_real_ball.sum()) / n_fake),
        "coverage": int((real_to_fake.min(dim=1).values < real_radii).sum()) / n_real,
        "k": int(k),
        "n_real": n_real,
        "n_fake": n_fake,
    }


def _squared_distances(rows: Tensor, columns: Tensor) -> Tensor:
    """‖rows[i] − columns[j]‖² for every pair, (len(rows), len(columns))."""
    return torch.stack([(row - columns).square().sum(dim=1) for row in rows])
