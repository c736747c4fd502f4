"""DiffAugment operations, ADA's controller, and the R1 / LeCam / mode-seeking regularisers against
closed forms and autograd."""

import pytest
import torch
from torch import nn

from gankit.errors import ConfigError
from gankit.objectives.regularisers import MODE_SEEKING_EPS, LeCam, mode_seeking, paired_labels, r1_penalty
from gankit.training.augment import AdaptiveStrength, DiffAugment, color, cutout, parse_policy, translation


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(batch: int = 6, channels: int = 3, size: int = 16) -> torch.Tensor:
    return torch.rand(batch, channels, size, size, generator=seeded(42)) * 2 - 1


def test_policy_names_are_checked():
    assert parse_policy("color, translation,cutout") == ("color", "translation", "cutout")
    assert parse_policy("") == ()
    with pytest.raises(ConfigError, match="unknown operation 'colour'"):
        parse_policy("colour,flip")


def test_color_is_the_papers_formula():
    x = images().double()
    draws = torch.rand(3, 6, generator=seeded(1), dtype=torch.float64)
    b, s, c = (d.view(-1, 1, 1, 1) for d in draws)
    expected = x + (b - 0.5)
    expected = (expected - expected.mean(1, keepdim=True)) * (2 * s) + expected.mean(1, keepdim=True)
    expected = (expected - expected.mean((1, 2, 3), keepdim=True)) * (c + 0.5) + expected.mean((1, 2, 3), keepdim=True)
    assert torch.allclose(color(x, draws), expected)


def test_translation_shifts_with_zero_fill():
    x = images(2, 1, 8)
    shifted = translation(x, torch.tensor([1, -1]), torch.tensor([0, 1]))
    assert torch.equal(shifted[0, :, 1:, :], x[0, :, :-1, :]) and torch.equal(shifted[0, :, 0], torch.zeros(1, 8))
    assert torch.equal(shifted[1, :, :-1, 1:], x[1, :, 1:, :-1])
    assert torch.equal(shifted[1, :, -1], torch.zeros(1, 8)) and torch.equal(shifted[1, :, :, 0], torch.zeros(1, 8))


def test_cutout_zeroes_a_half_size_square_clipped_at_the_edge():
    x = torch.ones(2, 3, 16, 16)
    cut = cutout(x, torch.tensor([8, 0]), torch.tensor([8, 15]))
    assert int((cut[0, 0] == 0).sum()) == 8 * 8 and torch.all(cut[0, :, 4:12, 4:12] == 0)
    assert int((cut[1, 0] == 0).sum()) == 4 * 5  # rows 0..3, columns 11..15


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "flip", "color,translation,cutout,flip"])
def test_each_operation_is_differentiable_and_seeded(policy):
    augment = DiffAugment(policy, p=1.0)
    x = images().double().requires_grad_(True)
    torch.autograd.gradcheck(lambda t: augment(t, seeded(3)), (x,))
    assert torch.equal(augment(x, seeded(3)), augment(x, seeded(3)))
    if policy != "flip":
        assert not torch.equal(augment(x, seeded(3)), augment(x, seeded(4)))


def test_probability_chooses_images_and_rows_match_the_global_draw():
    x = images(64)
    assert torch.equal(DiffAugment("color", p=0.0)(x, seeded()), x)
    changed = (DiffAugment("flip", p=0.5)(x, seeded()) != x).flatten(1).any(dim=1).float().mean()
    assert 0.3 < changed < 0.7
    augment = DiffAugment("color,translation,cutout", p=0.7)
    whole = augment(x, seeded(5))
    assert torch.equal(augment(x[16:32], seeded(5), count=64, rows=slice(16, 32)), whole[16:32])


def test_adaptive_strength_follows_the_sign_toward_its_target():
    ada = AdaptiveStrength(target=0.6, interval=2, speed_kimg=1.0)
    for step in range(1, 5):  # D sure of every real image: r_t = 1 > 0.6, p rises by 100/1000 per step
        ada.observe(torch.ones(50))
        ada.step(step)
    assert ada.p == pytest.approx(0.2) and ada.last_r == 1.0
    ada.observe(-torch.ones(50))
    ada.observe(torch.ones(10))
    ada.step(6)
    assert ada.p == pytest.approx(0.2 - 60 / 1000) and ada.last_r == pytest.approx(-40 / 60)
    copy = AdaptiveStrength(target=0.6, interval=2, speed_kimg=1.0)
    ada.observe(torch.ones(7))
    copy.load_state_dict(ada.state_dict())
    assert (copy.p, float(copy.seen), float(copy.sign_sum)) == (ada.p, 7.0, 7.0)
    for _ in range(40):
        ada.observe(torch.ones(100))
        ada.step(2)
    assert ada.p == 1.0  # clipped


def test_r1_matches_closed_forms_and_trains_d():
    x = torch.randn(5, 3, 4, 4, dtype=torch.float64)
    linear = nn.Linear(48, 1, dtype=torch.float64)
    critic = lambda t: linear(t.flatten(1))  # noqa: E731 - ∇_x D = w for every x
    penalty = r1_penalty(critic, x)
    assert torch.allclose(penalty, linear.weight.pow(2).sum())
    penalty.backward()
    assert torch.allclose(linear.weight.grad, 2 * linear.weight)  # d‖w‖²/dw
    square = lambda t: t.pow(2).flatten(1).sum(1)  # noqa: E731 - ∇_x D = 2x
    assert torch.allclose(r1_penalty(square, x), 4 * x.pow(2).flatten(1).sum(1).mean())


def test_lecam_moves_its_averages_then_penalises_the_gap():
    lecam = LeCam(decay=0.9)
    real, fake = torch.tensor([2.0, 4.0]), torch.tensor([-1.0, -3.0])
    value = lecam(real, fake)
    alpha_real, alpha_fake = 0.1 * 3.0, 0.1 * -2.0
    assert float(lecam.real_mean) == pytest.approx(alpha_real) and float(lecam.fake_mean) == pytest.approx(alpha_fake)
    expected = ((real - alpha_fake) ** 2).mean() + ((fake - alpha_real) ** 2).mean()
    assert float(value) == pytest.approx(float(expected))
    other = LeCam(decay=0.9)
    other.load_state_dict(lecam.state_dict())
    assert float(other(real, fake)) == pytest.approx(float(lecam(real, fake)))


def test_mode_seeking_is_the_papers_ratio_with_halves_paired():
    fake = torch.tensor([[0.0, 0.0], [1.0, 1.0], [3.0, -1.0], [1.0, 2.0], [9.0, 9.0]], dtype=torch.float64)
    z = torch.tensor([[1.0], [0.0], [-1.0], [2.0], [7.0]], dtype=torch.float64)  # row 4 (odd) is left out
    image_gap = (abs(0 - 3) + abs(0 + 1) + abs(1 - 1) + abs(1 - 2)) / 4  # rows (0, 2) and (1, 3)
    latent_gap = (abs(1 + 1) + abs(0 - 2)) / 2
    assert float(mode_seeking(fake, z)) == pytest.approx(1 / (image_gap / latent_gap + MODE_SEEKING_EPS))
    # Minimising it pushes each pair's images apart: the gradient step grows the image gap.
    spread = fake.clone().requires_grad_(True)
    mode_seeking(spread, z).backward()
    moved = spread.detach() - 0.1 * spread.grad
    assert float(mode_seeking(moved, z)) < float(mode_seeking(fake, z))
    assert torch.equal(paired_labels(torch.tensor([3, 1, 4, 1, 5])), torch.tensor([3, 1, 3, 1, 5]))
    with pytest.raises(ValueError, match="at least two samples"):
        mode_seeking(fake[:1], z[:1])
