"""Class and Stacked MNIST mode counts on hand-built histograms, KL in closed form."""

import math

import numpy as np
import pytest
import scipy.stats
import torch

from gankit.errors import DataError
from gankit.metrics.modes import (
    REFERENCE_EPSILON,
    class_modes,
    mode_histogram_kl,
    stacked_modes,
)


def predictions(counts: list[int], confidence: float = 0.7) -> torch.Tensor:
    """Soft probabilities whose argmax histogram is `counts`."""
    classes = len(counts)
    labels = torch.repeat_interleave(torch.arange(classes), torch.tensor(counts))
    probs = torch.full((len(labels), classes), (1 - confidence) / (classes - 1))
    probs[torch.arange(len(labels)), labels] = confidence
    return probs[torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))]


def test_class_modes_against_uniform():
    result = class_modes(predictions([6, 3, 1, 0]))
    q = np.array([0.6, 0.3, 0.1])
    assert result["class_histogram"] == [6, 3, 1, 0]
    assert (result["num_classes"], result["n"]) == (4, 10)
    assert result["classes_covered"] == 3  # threshold 0.1 × 1/4 = 2.5% of samples
    assert result["class_kl"] == pytest.approx(float((q * np.log(q * 4)).sum()), rel=1e-12)
    assert result["class_entropy"] == pytest.approx(float(-(q * np.log(q)).sum()), rel=1e-12)
    assert class_modes(predictions([6, 3, 1, 0]), min_share=0.5)["classes_covered"] == 2  # needs ≥ 12.5%


def test_covered_threshold_is_a_share_of_the_uniform_share():
    result = class_modes(predictions([989, 10, 1]))  # threshold 0.1/3 of 1000 samples = 33.3
    assert result["classes_covered"] == 1
    assert class_modes(predictions([950, 34, 16]))["classes_covered"] == 2
    assert class_modes(predictions([5, 1, 0]), min_share=0.0)["classes_covered"] == 2  # one sample suffices


def test_class_kl_against_real_histogram_and_epsilon_where_reference_is_zero():
    real = predictions([4, 4, 1, 1])
    result = class_modes(predictions([6, 3, 1, 0]), real_probs=real)
    q, r = np.array([0.6, 0.3, 0.1]), np.array([0.4, 0.4, 0.1])
    assert result["class_kl"] == pytest.approx(float((q * np.log(q / r)).sum()), rel=1e-12)
    unseen = class_modes(predictions([1, 1]), real_probs=predictions([2, 0]))
    expected = 0.5 * math.log(0.5 / 1.0) + 0.5 * math.log(0.5 / REFERENCE_EPSILON)
    assert unseen["class_kl"] == pytest.approx(expected, rel=1e-12)


def test_mode_histogram_kl_matches_scipy():
    rng = np.random.default_rng(0)
    counts, reference = rng.integers(0, 20, size=30), rng.integers(1, 20, size=30)
    assert mode_histogram_kl(counts, reference) == pytest.approx(scipy.stats.entropy(counts, reference), rel=1e-12)
    assert mode_histogram_kl(counts) == pytest.approx(scipy.stats.entropy(counts, np.ones(30)), rel=1e-12)
    assert mode_histogram_kl(np.ones(30)) == pytest.approx(0.0, abs=1e-15)


def channel_probs(triples: list[tuple[int, int, int]]) -> torch.Tensor:
    """(N, 3, 10) soft digit probabilities whose argmaxes are `triples`."""
    digits = torch.tensor(triples)
    return torch.nn.functional.one_hot(digits, 10).double() * 0.5 + 0.05


def test_stacked_modes_counts_digit_triples():
    result = stacked_modes(channel_probs([(1, 2, 3), (1, 2, 3), (9, 9, 9), (0, 0, 0)]))
    assert (result["modes_covered"], result["n_modes"], result["n"]) == (3, 1000, 4)
    expected = 0.5 * math.log(1000 * 0.5) + 2 * 0.25 * math.log(1000 * 0.25)
    assert result["modes_kl"] == pytest.approx(expected, rel=1e-12)
    assert stacked_modes(channel_probs([(3, 2, 1), (1, 2, 3)]))["modes_covered"] == 2  # order matters


def test_every_mode_once_is_full_coverage_with_zero_kl():
    triples = [(mode // 100, mode // 10 % 10, mode % 10) for mode in range(1000)]
    result = stacked_modes(channel_probs(triples))
    assert result["modes_covered"] == 1000
    assert result["modes_kl"] == pytest.approx(0.0, abs=1e-12)


def test_bad_shapes_raise_data_error():
    with pytest.raises(DataError, match=r"\(N, 3, 10\)"):
        stacked_modes(torch.ones(5, 10))
    with pytest.raises(DataError, match="classes"):
        class_modes(torch.ones(5, 4), real_probs=torch.ones(5, 3))
    with pytest.raises(DataError, match="shape"):
        class_modes(torch.ones(5))
