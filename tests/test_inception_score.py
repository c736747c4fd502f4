"""Inception Score against closed forms and a NumPy/SciPy implementation."""

import numpy as np
import pytest
import scipy.stats
import torch

from gankit.errors import DataError
from gankit.metrics.inception_score import inception_score


def numpy_inception_score(probs: np.ndarray, splits: int) -> tuple[float, float]:
    """The OpenAI-style computation with chunk boundaries floor(i·N/splits)."""
    n = len(probs)
    scores = []
    for index in range(splits):
        part = probs[index * n // splits : (index + 1) * n // splits]
        marginal = part.mean(axis=0)
        scores.append(np.exp(np.mean([scipy.stats.entropy(row, marginal) for row in part])))
    return float(np.mean(scores)), float(np.std(scores))


@pytest.mark.parametrize("classes", [2, 10])
def test_confident_predictions_spread_evenly_give_the_number_of_classes(classes):
    probs = torch.eye(classes).repeat(10, 1)  # every split holds each class once
    mean, std = inception_score(probs, splits=10)
    assert mean == pytest.approx(classes, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_identical_predictions_give_one():
    probs = np.tile([0.7, 0.2, 0.1, 0.0], (50, 1))
    assert inception_score(probs, splits=5) == pytest.approx((1.0, 0.0), abs=1e-12)


@pytest.mark.parametrize("n, splits", [(200, 10), (203, 7), (30, 1)])
def test_matches_numpy_with_zeros_in_probs(n, splits):
    rng = np.random.default_rng(n)
    probs = rng.dirichlet(np.full(6, 0.3), size=n)
    probs[rng.random(probs.shape) < 0.2] = 0.0  # exact zeros: 0·log 0 = 0
    probs[probs.sum(axis=1) == 0, 0] = 1.0
    probs /= probs.sum(axis=1, keepdims=True)
    mean, std = inception_score(torch.from_numpy(probs).float(), splits=splits)
    expected_mean, expected_std = numpy_inception_score(probs.astype(np.float32).astype(np.float64), splits)
    assert mean == pytest.approx(expected_mean, rel=1e-6)  # float32 rows sum to 1 only to ~1e-7
    assert std == pytest.approx(expected_std, rel=1e-4, abs=1e-9)
    assert inception_score(probs, splits=splits) == pytest.approx(numpy_inception_score(probs, splits), rel=1e-12)
    assert 1.0 < mean < 6.0


def test_logits_and_bad_splits_raise_data_error():
    with pytest.raises(DataError, match="softmax"):
        inception_score(np.random.default_rng(0).normal(size=(20, 4)))
    with pytest.raises(DataError, match="splits"):
        inception_score(np.eye(4), splits=5)
    with pytest.raises(DataError, match="shape"):
        inception_score(np.ones(4) / 4)
