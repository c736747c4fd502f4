"""Every image metric from features and class probabilities, as one flat dict.

Layered as torch-fidelity does: an extractor turns images into (features, probs);
this module turns two such sets into numbers (FID with a bootstrap spread, KID,
precision/recall/density/coverage with spreads, Inception Score, class modes or
Stacked MNIST modes), each with the sample counts it was computed on. Warnings say
when n is too small for a number to be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor

from gankit.metrics.diversity import diversity
from gankit.metrics.fid import fid_with_spread
from gankit.metrics.inception_score import inception_score
from gankit.metrics.kid import kid
from gankit.metrics.modes import class_modes, stacked_modes
from gankit.metrics.knn import prdc

# Below this many samples precision/recall are noisy at k=5 (Kynkäänniemi et al. use 50k).
PRDC_MIN_SAMPLES = 1000


@dataclass(frozen=True)
class FeatureSet:
    """Features (N, D) and class probabilities: (N, C), or (N, 3, 10) per channel for Stacked MNIST."""

    features: Tensor
    probs: Tensor

    def __len__(self) -> int:
        return int(self.features.shape[0])


def score_features(
    real: FeatureSet,
    fake: FeatureSet,
    *,
    k: int = 5,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    bootstrap: int = 10,
    seed: int = 0,
) -> dict[str, Any]:
    """FID, KID, PRDC, IS and mode coverage of `fake` against `real`.

    Keys: ``fid``, ``fid_std``, ``kid``, ``kid_std``, ``precision``, ``recall``,
    ``density``, ``coverage`` (with ``_std`` when ``bootstrap`` > 0), ``k``,
    ``n_real``, ``n_fake``, ``kid_subset_size``, ``diversity`` (gankit.metrics.diversity); then ``inception_score`` (+ std),
    ``classes_covered``, ``num_classes``, ``class_kl`` for (N, C) probabilities (none for
    C = 0, a feature space without classes), or
    ``modes_covered``, ``n_modes``, ``modes_kl`` for per-channel (N, 3, 10) ones;
    and ``warnings``, a list of sentences (empty when every number has enough samples).
    """
    warnings: list[str] = []
    fid_result = fid_with_spread(real.features, fake.features, bootstrap=bootstrap, seed=seed)
    warnings += list(fid_result.get("warnings", []))
    scores: dict[str, Any] = {"fid": fid_result["fid"]}
    if bootstrap > 0:
        scores["fid_std"] = fid_result["fid_std"]
    subset_size = min(kid_subset_size, len(real), len(fake))
    scores["kid"], scores["kid_std"] = kid(real.features, fake.features, subsets=kid_subsets,
                                           subset_size=subset_size, seed=seed)
    scores["kid_subset_size"] = subset_size
    scores.update(prdc(real.features, fake.features, k=k, bootstrap=bootstrap, seed=seed))
    scores["diversity"] = diversity(real.features, fake.features)
    if min(len(real), len(fake)) < PRDC_MIN_SAMPLES:
        warnings.append(f"precision/recall/density/coverage on {min(len(real), len(fake))} samples "
                        f"(< {PRDC_MIN_SAMPLES}) are noisy; use eval.n of at least 5000")
    if fake.probs.ndim == 3:
        scores.update(_public(stacked_modes(fake.probs), ("modes_covered", "n_modes", "modes_kl")))
    elif fake.probs.shape[1] > 0:  # a self-supervised feature space has no classes: no IS, no class modes
        splits = 10 if len(fake) >= 1000 else 1
        scores["inception_score"], scores["inception_score_std"] = inception_score(fake.probs, splits=splits)
        scores.update(_public(class_modes(fake.probs, real.probs),
                              ("classes_covered", "num_classes", "class_kl")))
    scores["warnings"] = warnings
    return scores


def _public(values: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: values[key] for key in keys}
