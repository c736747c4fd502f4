"""The closed-form score derivatives (objectives/derivatives.py) equal autograd's, for every
objective, generator loss and label smoothing, at ordinary and extreme scores."""

import pytest
import torch

from gankit.objectives import OBJECTIVES, build_objective


def _objectives():
    for name, record in OBJECTIVES.items():
        for generator_loss in ("nonsaturating", "saturating") if record.saturating else ("nonsaturating",):
            for smoothing in (1.0, 0.9):
                yield build_objective(name, generator_loss=generator_loss, label_smoothing=smoothing, gamma=0.7)


def _scores(name: str) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    ordinary = torch.randn(61, generator=generator, dtype=torch.float64) * 3
    # where each objective stays finite: the exponential terms overflow beyond ~700 in float64
    extreme = torch.tensor([-30.0, -20.5, -1.0, 0.0, 1.0, 20.5, 30.0], dtype=torch.float64)
    if name in ("kl", "hellinger", "reverse_kl"):
        extreme = extreme.clamp(-20, 20)
    return torch.cat([ordinary, extreme])


@pytest.mark.parametrize("objective", list(_objectives()),
                         ids=lambda o: f"{o.name}-{o.generator_loss}-t{o.label_smoothing}")
def test_score_derivatives_match_autograd(objective):
    real = _scores(objective.name).requires_grad_()
    fake = (_scores(objective.name).flip(0) * 0.7 + 0.1).detach().requires_grad_()
    loss_real, loss_fake = objective.d_losses(real, fake)
    expected = torch.autograd.grad(loss_real + loss_fake, [real, fake])
    got = objective.d_score_gradients(real.detach(), fake.detach())
    # rtol 1e-8, not 1e-15: beyond |v| = 20 autograd's softplus is linear (derivative exactly ±1)
    # while σ(v) − 1 keeps the e^{−20} ≈ 2e-9 the exact derivative has
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-8, atol=1e-15)
    (expected_g,) = torch.autograd.grad(objective.g_loss(fake), fake)
    torch.testing.assert_close(objective.g_score_gradient(fake.detach()), expected_g, rtol=1e-8, atol=1e-15)



def test_float32_scores_give_float32_gradients_close_to_autograd():
    objective = build_objective("bce", label_smoothing=0.9)
    real, fake = torch.randn(128), torch.randn(128)
    grads = objective.d_score_gradients(real, fake)
    assert all(g.dtype == torch.float32 and g.shape == (128,) for g in grads)
    leaves = [real.clone().requires_grad_(), fake.clone().requires_grad_()]
    expected = torch.autograd.grad(sum(objective.d_losses(*leaves)), leaves)
    for g, e in zip(grads, expected):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-8)
