"""The memorisation rule against its definition, on points where the answer is known."""

import math

import pytest
import torch

from gankit.metrics.memorisation import copy_ratios, memorisation, nearest_other_distance


def brute_ratios(train, fake):
    d_tt = torch.cdist(train.double(), train.double(), compute_mode="donot_use_mm_for_euclid_dist")
    rho = d_tt.masked_fill(d_tt <= 0, math.inf).min(dim=1).values
    d_ft = torch.cdist(fake.double(), train.double(), compute_mode="donot_use_mm_for_euclid_dist")
    distance, nearest = d_ft.min(dim=1)
    return distance / rho[nearest], nearest


def test_ratios_match_the_definition_on_random_features():
    generator = torch.Generator().manual_seed(0)
    train, fake = torch.randn(300, 64, generator=generator), torch.randn(120, 64, generator=generator)
    ratios, nearest = copy_ratios(train, fake)
    expected, expected_nearest = brute_ratios(train, fake)
    assert torch.equal(nearest, expected_nearest)
    assert torch.allclose(ratios, expected, rtol=1e-9)


def test_exact_copies_count_and_independent_draws_do_not():
    generator = torch.Generator().manual_seed(1)
    train = torch.randn(400, 32, generator=generator)
    fresh = torch.randn(200, 32, generator=generator)
    assert memorisation(train, fresh, bootstrap=0)["memorisation"] == 0.0
    mixed = torch.cat([train[:50], fresh[:150]])
    result = memorisation(train, mixed, bootstrap=20, seed=3)
    assert result["memorisation"] == pytest.approx(0.25)
    assert 0 < result["memorisation_std"] < 0.1
    assert {pair[0] for pair in result["closest_pairs"]} <= set(range(50))
    assert all(pair[2] == 0.0 for pair in result["closest_pairs"])
    assert [pair[1] for pair in result["closest_pairs"]] == [pair[0] for pair in result["closest_pairs"]]


def test_a_duplicated_training_image_does_not_hide_its_copies():
    train = torch.tensor([[0.0, 0.0], [0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    assert nearest_other_distance(train)[0] == 10.0
    assert memorisation(train, torch.tensor([[0.1, 0.0]]), bootstrap=0)["memorisation"] == 1.0
    assert memorisation(train, torch.tensor([[4.0, 0.0]]), bootstrap=0)["memorisation"] == 0.0


def test_too_few_samples_is_an_error():
    with pytest.raises(ValueError, match="at least 2 training"):
        memorisation(torch.zeros(1, 3), torch.zeros(4, 3))
