"""The lung-cell boundary-loss study's s1, s2, s3 on hand-computed cases and against a NumPy brute force."""

import numpy as np
import pytest
import torch

from gankit.errors import DataError
from gankit.metrics.boundary import boundary_scores, nearest_cosine


def brute_force_s3(fake: np.ndarray, real: np.ndarray) -> float:
    """Mean over fakes of the highest cosine to any real image, pair by pair."""
    fake, real = fake.reshape(len(fake), -1), real.reshape(len(real), -1)
    best = []
    for f in fake:
        cosines = []
        for r in real:
            norms = np.linalg.norm(f) * np.linalg.norm(r)
            cosines.append(float(f @ r) / norms if norms > 0 else 0.0)
        best.append(max(cosines))
    return float(np.mean(best))


def test_hand_computed_scores():
    real = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])  # (N, 1, 2) images
    fake = torch.tensor([[[1.0, 1.0]], [[0.0, 2.0]]])
    result = boundary_scores([1.0, 0.5], [0.5, 0.1], real, fake)
    assert result["s1"] == pytest.approx(0.75)
    assert result["s2"] == pytest.approx((1.0 + 4 * 0.1 * 0.9) / 2)  # 0.68
    assert result["s3"] == pytest.approx((2**-0.5 + 1.0) / 2)
    assert result["score"] == pytest.approx(result["s1"] * result["s2"] * result["s3"], rel=1e-15)
    assert (result["n_real"], result["n_fake"]) == (2, 2)


def test_discriminator_at_one_half_gives_s2_of_one():
    images = torch.rand(4, 1, 3, 3, generator=torch.Generator().manual_seed(0))
    result = boundary_scores(torch.full((4, 1), 0.5), torch.full((4, 1), 0.5), images, images)
    assert result["s2"] == 1.0 and result["s1"] == 0.5
    assert boundary_scores(torch.ones(4), torch.zeros(4), images, images)["s2"] == 0.0


def test_scaled_copies_give_s3_of_one_and_disjoint_supports_give_zero():
    generator = torch.Generator().manual_seed(1)
    real = torch.rand(20, 3, 4, 4, generator=generator)
    scaled = 0.3 * real[torch.randperm(20, generator=generator)[:7]]
    assert nearest_cosine(scaled, real).tolist() == pytest.approx([1.0] * 7, abs=1e-12)
    left = torch.zeros(5, 8)
    left[:, :4] = torch.rand(5, 4, generator=generator) + 0.1
    right = torch.zeros(6, 8)
    right[:, 4:] = torch.rand(6, 4, generator=generator) + 0.1
    assert nearest_cosine(left, right).tolist() == [0.0] * 5


def test_matches_brute_force_with_zero_images_and_small_chunks():
    rng = np.random.default_rng(2)
    real, fake = rng.random((13, 1, 5, 5)), rng.random((11, 1, 5, 5)) ** 3
    real[4], fake[2] = 0.0, 0.0  # a blank image has cosine 0 with everything
    expected = brute_force_s3(fake, real)
    for chunk_size in (None, 1, 3, 100):
        s3 = boundary_scores(np.full(13, 0.9), np.full(11, 0.4), real, fake, chunk_size=chunk_size)["s3"]
        assert s3 == pytest.approx(expected, rel=1e-12)
    assert not np.isnan(expected) and 0.0 < expected < 1.0


def test_scale_of_intensities_does_not_matter_but_sign_is_refused():
    rng = np.random.default_rng(3)
    real, fake = rng.random((6, 9)), rng.random((5, 9))
    unit = boundary_scores(np.ones(6), np.ones(5), real, fake)["s3"]
    assert boundary_scores(np.ones(6), np.ones(5), 255 * real, 255 * fake)["s3"] == pytest.approx(unit, rel=1e-12)
    with pytest.raises(DataError, match=r"\(x \+ 1\) / 2"):
        boundary_scores(np.ones(6), np.ones(5), 2 * real - 1, fake)


def test_unusable_inputs_raise_data_error():
    images = np.ones((3, 4))
    with pytest.raises(DataError, match="sigmoid"):
        boundary_scores([2.0, 0.5, 0.5], [0.5] * 3, images, images)
    with pytest.raises(DataError, match="same samples"):
        boundary_scores([0.5] * 2, [0.5] * 3, images, images)
    with pytest.raises(DataError, match="size"):
        boundary_scores([0.5] * 3, [0.5] * 3, images, np.ones((3, 5)))
    with pytest.raises(DataError, match="chunk_size"):
        boundary_scores([0.5] * 3, [0.5] * 3, images, images, chunk_size=0)
