"""Tests for gankit.objectives: hand-computed values, label smoothing, WGAN-GP,
f-GAN variational bounds against closed-form divergences, density ratios."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from scipy import integrate, optimize, stats

from gankit.errors import ConfigError, GankitError
from gankit.objectives import (
    F_DIVERGENCES,
    OBJECTIVES,
    Objective,
    build_objective,
    f_activation,
    f_conjugate,
    f_conjugate_of_activation,
    gradient_penalty,
)

OBJECTIVE_NAMES = tuple(OBJECTIVES)
V_REAL = [0.5, -1.0]
V_FAKE = [0.2, 2.0]


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


# Nowozin et al. (2016) Table 2, written out independently of the module.
TEXTBOOK_G = {
    "kl": lambda v: v,
    "reverse_kl": lambda v: -math.exp(-v),
    "js": lambda v: math.log(2.0) - math.log(1.0 + math.exp(-v)),
    "pearson": lambda v: v,
    "hellinger": lambda v: 1.0 - math.exp(-v),
    "tv": lambda v: 0.5 * math.tanh(v),
}
TEXTBOOK_CONJUGATE = {
    "kl": lambda t: math.exp(t - 1.0),
    "reverse_kl": lambda t: -1.0 - math.log(-t),
    "js": lambda t: -math.log(2.0 - math.exp(t)),
    "pearson": lambda t: t * t / 4.0 + t,
    "hellinger": lambda t: t / (1.0 - t),
    "tv": lambda t: t,
}


def _expected_values(name: str, gamma: float = 0.8) -> tuple[float, float, float, float | None]:
    """(d_real, d_fake, g_nonsaturating, g_saturating or None) from the textbook formulas."""
    if name == "bce" or name == "boundary":
        d_real = _mean([-math.log(_sigmoid(v)) for v in V_REAL])
        if name == "bce":
            d_fake = _mean([-math.log(1.0 - _sigmoid(v)) for v in V_FAKE])
        else:
            d_fake = _mean([-gamma * math.log(1.0 - 4.0 * (_sigmoid(v) - 0.5) ** 2) for v in V_FAKE])
        g_ns = _mean([-math.log(_sigmoid(v)) for v in V_FAKE])
        g_sat = _mean([math.log(1.0 - _sigmoid(v)) for v in V_FAKE])
        return d_real, d_fake, g_ns, g_sat
    if name == "lsgan":
        return 2.125, 2.02, 0.82, None  # (0.25+4)/2, (0.04+4)/2, (0.64+1)/2
    if name == "hinge":
        return 1.25, 2.1, -1.1, None  # (0.5+2)/2, (1.2+3)/2, -(0.2+2)/2
    if name == "wgan-gp":
        return 0.25, 1.1, -1.1, None  # -(0.5-1)/2, (0.2+2)/2
    g, conj = TEXTBOOK_G[name], TEXTBOOK_CONJUGATE[name]
    d_real = _mean([-g(v) for v in V_REAL])
    d_fake = _mean([conj(g(v)) for v in V_FAKE])
    return d_real, d_fake, _mean([-g(v) for v in V_FAKE]), _mean([-conj(g(v)) for v in V_FAKE])


def test_names_in_documented_order() -> None:
    assert OBJECTIVE_NAMES == ("bce", "lsgan", "hinge", "wgan-gp", "kl", "reverse_kl", "js",
                               "pearson", "hellinger", "tv", "boundary")
    assert F_DIVERGENCES == ("kl", "reverse_kl", "js", "pearson", "hellinger", "tv")


@pytest.mark.parametrize("name", OBJECTIVE_NAMES)
def test_hand_computed_values(name: str) -> None:
    d_real, d_fake, g_ns, g_sat = _expected_values(name)
    real = torch.tensor(V_REAL, dtype=torch.float64).reshape(2, 1)  # (B, 1) is flattened
    fake = torch.tensor(V_FAKE, dtype=torch.float64)
    objective = build_objective(name)
    got_real, got_fake = objective.d_losses(real, fake)
    assert got_real.shape == () and got_fake.shape == ()
    assert got_real.item() == pytest.approx(d_real, rel=1e-12)
    assert got_fake.item() == pytest.approx(d_fake, rel=1e-12)
    assert objective.g_loss(fake).item() == pytest.approx(g_ns, rel=1e-12)
    if g_sat is not None:
        saturating = build_objective(name, generator_loss="saturating")
        assert saturating.g_loss(fake).item() == pytest.approx(g_sat, rel=1e-12)


def test_bce_saturating_and_nonsaturating_differ_as_in_the_paper() -> None:
    # At D(G(z)) ≈ 0 the saturating loss log(1 − D) is flat, the non-saturating −log D is steep.
    fake = torch.tensor([-6.0], requires_grad=True)
    build_objective("bce", generator_loss="saturating").g_loss(fake).backward()
    saturating_grad = fake.grad.item()
    fake.grad = None
    build_objective("bce").g_loss(fake).backward()
    assert abs(saturating_grad) < 0.01 and abs(fake.grad.item()) > 0.99
    assert build_objective("bce").g_loss(torch.tensor([0.0])).item() == pytest.approx(math.log(2.0))
    assert build_objective("bce", generator_loss="saturating").g_loss(
        torch.tensor([0.0])).item() == pytest.approx(-math.log(2.0))


@pytest.mark.parametrize("name", OBJECTIVE_NAMES)
def test_packed_outputs_of_different_lengths(name: str) -> None:
    losses = build_objective(name).d_losses(torch.randn(8, 1), torch.randn(2))
    assert all(loss.shape == () and torch.isfinite(loss) for loss in losses)


@pytest.mark.parametrize("name", ["bce", "boundary", "js", "hinge", "wgan-gp", "lsgan", "tv"])
def test_stable_at_extreme_logits(name: str) -> None:
    v = torch.tensor([-100.0, 100.0], requires_grad=True)
    objective = build_objective(name)
    total = sum(objective.d_losses(v, v)) + objective.g_loss(v)
    total.backward()
    assert torch.isfinite(total) and torch.isfinite(v.grad).all()


@pytest.mark.parametrize("name", F_DIVERGENCES)
def test_stable_conjugate_matches_textbook(name: str) -> None:
    v = torch.linspace(-3.0, 3.0, 13, dtype=torch.float64)
    expected = torch.tensor([TEXTBOOK_CONJUGATE[name](TEXTBOOK_G[name](x)) for x in v.tolist()],
                            dtype=torch.float64)
    torch.testing.assert_close(f_conjugate_of_activation(name, v), expected)
    torch.testing.assert_close(f_conjugate(name, f_activation(name, v)), expected)


# --- label smoothing ----------------------------------------------------------

def test_bce_label_smoothing_is_bce_with_soft_target() -> None:
    v = torch.tensor([0.5, -1.0, 3.0], dtype=torch.float64)
    real_loss, _ = build_objective("bce", label_smoothing=0.9).d_losses(v, v)
    expected = F.binary_cross_entropy_with_logits(v, torch.full_like(v, 0.9))
    assert real_loss.item() == pytest.approx(expected.item(), rel=1e-12)


def test_lsgan_label_smoothing_is_shifted_target_plus_constant() -> None:
    t = 0.9
    v = torch.tensor([0.5, -1.0, 3.0], dtype=torch.float64, requires_grad=True)
    real_loss, _ = build_objective("lsgan", label_smoothing=t).d_losses(v, v.detach())
    reference = ((v - t) ** 2).mean()
    assert real_loss.item() == pytest.approx(reference.item() + t * (1 - t), rel=1e-12)
    (grad,) = torch.autograd.grad(real_loss, v)
    (reference_grad,) = torch.autograd.grad(reference, v)
    torch.testing.assert_close(grad, reference_grad)


@pytest.mark.parametrize("name", ["hinge", "wgan-gp", "kl", "boundary"])
def test_label_smoothing_mixes_real_and_fake_terms(name: str) -> None:
    t = 0.7
    v = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    unsmoothed = build_objective(name)
    real_as_real, real_as_fake = unsmoothed.d_losses(v, v)  # fake = v: ℓ_fake on the same scores
    smoothed_real, smoothed_fake = build_objective(name, label_smoothing=t).d_losses(v, v)
    assert smoothed_real.item() == pytest.approx(t * real_as_real.item() + (1 - t) * real_as_fake.item())
    assert smoothed_fake.item() == pytest.approx(real_as_fake.item())  # one-sided


# --- WGAN-GP ------------------------------------------------------------------

def test_gradient_penalty_interpolates_once_per_sample() -> None:
    seen: list[torch.Tensor] = []

    def recording_critic(x: torch.Tensor) -> torch.Tensor:
        seen.append(x.detach().clone())
        return x.pow(2).flatten(1).sum(1)

    gen = torch.Generator().manual_seed(3)
    fake = torch.randn(6, 3, 4, 4, generator=gen)
    real = fake + 1.0 + torch.rand(6, 3, 4, 4, generator=gen)
    gradient_penalty(recording_critic, real, fake, generator=torch.Generator().manual_seed(0))
    alpha = ((seen[0] - fake) / (real - fake)).flatten(1)
    assert (alpha.max(1).values - alpha.min(1).values).max() < 1e-5  # one α per sample
    assert alpha[:, 0].std() > 0.05  # different α between samples
    assert ((alpha > 0) & (alpha < 1)).all()


def test_gradient_penalty_of_linear_critic_is_exact() -> None:
    w = torch.tensor([[0.3, -1.2], [2.0, 0.5]], dtype=torch.float64)

    def linear_critic(x: torch.Tensor) -> torch.Tensor:
        return (x * w).flatten(1).sum(1)

    real, fake = torch.randn(5, 2, 2, dtype=torch.float64), torch.randn(5, 2, 2, dtype=torch.float64)
    penalty = gradient_penalty(linear_critic, real, fake)
    assert penalty.item() == pytest.approx((w.norm().item() - 1.0) ** 2, rel=1e-12)


def test_gradient_penalty_backpropagates_into_critic() -> None:
    critic = torch.nn.Linear(3, 1).double()
    real, fake = torch.randn(7, 3, dtype=torch.float64), torch.randn(7, 3, dtype=torch.float64)
    gradient_penalty(critic, real, fake).backward()  # needs create_graph=True to reach the weight
    w = critic.weight.detach()
    expected = 2.0 * (w.norm() - 1.0) * w / w.norm()
    torch.testing.assert_close(critic.weight.grad, expected)


def test_gradient_penalty_is_seeded_by_generator() -> None:
    critic = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    real, fake = torch.randn(16, 4), torch.randn(16, 4)
    first = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    again = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    other = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(2))
    assert first.item() == again.item() != other.item()
    with pytest.raises(ValueError):
        gradient_penalty(critic, real, fake[:8])


def test_only_wgan_gp_uses_gradient_penalty() -> None:
    assert [n for n in OBJECTIVE_NAMES if build_objective(n).uses_gradient_penalty] == ["wgan-gp"]


# --- f-GAN bounds at the optimal critic ---------------------------------------
# P = N(0, 1), Q = N(1, 1.2²). σ_Q² < 2σ_P² and σ_P² < (4/3)σ_Q² keep every Monte
# Carlo term below with finite variance (q/p under P, r² under Q for Pearson).
MU_P, SD_P, MU_Q, SD_Q = 0.0, 1.0, 1.0, 1.2


def _log_ratio(x: torch.Tensor) -> torch.Tensor:
    return stats_log_pdf(x, MU_P, SD_P) - stats_log_pdf(x, MU_Q, SD_Q)


def stats_log_pdf(x: torch.Tensor, mu: float, sd: float) -> torch.Tensor:
    return -0.5 * ((x - mu) / sd) ** 2 - math.log(sd) - 0.5 * math.log(2 * math.pi)


def _quad(integrand) -> float:
    return integrate.quad(integrand, -30.0, 30.0, limit=200)[0]


def _closed_form_divergence(name: str) -> float:
    """D_f(P‖Q) = ∫ q f(p/q) for the f of each row of Nowozin et al.'s Table 2."""
    d2 = (MU_P - MU_Q) ** 2
    if name == "kl":  # KL(P‖Q)
        return math.log(SD_Q / SD_P) + (SD_P**2 + d2) / (2 * SD_Q**2) - 0.5
    if name == "reverse_kl":  # KL(Q‖P)
        return math.log(SD_P / SD_Q) + (SD_Q**2 + d2) / (2 * SD_P**2) - 0.5
    if name == "pearson":  # ∫ p²/q − 1, finite since 2σ_Q² > σ_P²
        a = 2 * SD_Q**2 - SD_P**2
        return SD_Q**2 / (SD_P * math.sqrt(a)) * math.exp(d2 / a) - 1.0
    if name == "hellinger":  # ∫ (√p − √q)² = 2 − 2·Bhattacharyya coefficient
        s2 = SD_P**2 + SD_Q**2
        return 2.0 - 2.0 * math.sqrt(2 * SD_P * SD_Q / s2) * math.exp(-d2 / (4 * s2))
    p = lambda x: stats.norm.pdf(x, MU_P, SD_P)  # noqa: E731
    q = lambda x: stats.norm.pdf(x, MU_Q, SD_Q)  # noqa: E731
    if name == "js":  # KL(P‖M) + KL(Q‖M) = 2·JSD, M = (P + Q)/2: the bound for the table's g_f
        return _quad(lambda x: p(x) * math.log(2 * p(x) / (p(x) + q(x)))
                     + q(x) * math.log(2 * q(x) / (p(x) + q(x))))
    assert name == "tv"  # ½∫|p − q|
    return _quad(lambda x: 0.5 * abs(p(x) - q(x)))


def test_closed_forms_agree_with_quadrature() -> None:
    p = lambda x: stats.norm.pdf(x, MU_P, SD_P)  # noqa: E731
    q = lambda x: stats.norm.pdf(x, MU_Q, SD_Q)  # noqa: E731
    assert _closed_form_divergence("kl") == pytest.approx(_quad(lambda x: p(x) * math.log(p(x) / q(x))))
    assert _closed_form_divergence("pearson") == pytest.approx(_quad(lambda x: p(x) ** 2 / q(x)) - 1.0)
    assert _closed_form_divergence("hellinger") == pytest.approx(
        _quad(lambda x: (math.sqrt(p(x)) - math.sqrt(q(x))) ** 2))


# v* = g_f^{-1}(f'(p/q)) with r = p/q, log r given.
OPTIMAL_CRITIC = {
    "kl": lambda lr: 1.0 + lr,  # f = u log u, f' = 1 + log u, g = id
    "reverse_kl": lambda lr: lr,  # f = −log u, f' = −1/u = −e^{−v}
    "js": lambda lr: lr,  # f' = log(2u/(u+1)) = log 2 + log σ(v)
    "pearson": lambda lr: 2.0 * torch.expm1(lr),  # f = (u−1)², f' = 2(u−1), g = id
    "hellinger": lambda lr: lr / 2.0,  # f = (√u−1)², f' = 1 − u^{−½} = 1 − e^{−v}
    "tv": lambda lr: 20.0 * torch.sign(lr),  # f' = ½ sign(u−1): ½ tanh(±20) ≈ ±½
}


@pytest.fixture(scope="module")
def gaussian_samples() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    n = 200_000
    from_p = MU_P + SD_P * torch.randn(n, generator=gen, dtype=torch.float64)
    from_q = MU_Q + SD_Q * torch.randn(n, generator=gen, dtype=torch.float64)
    return from_p, from_q


@pytest.mark.parametrize("name", F_DIVERGENCES)
def test_f_gan_bound_at_optimal_critic_equals_divergence(name, gaussian_samples) -> None:
    """−(d_real + d_fake) at v* is a Monte Carlo estimate of D_f(P‖Q); n = 200k, seed 0.
    Tolerance: 2% relative (observed errors are below 0.8%)."""
    from_p, from_q = gaussian_samples
    objective = build_objective(name)
    v_star = OPTIMAL_CRITIC[name]
    d_real, d_fake = objective.d_losses(v_star(_log_ratio(from_p)), v_star(_log_ratio(from_q)))
    assert -(d_real + d_fake).item() == pytest.approx(_closed_form_divergence(name), rel=0.02)
    if name != "tv":  # a worse critic gives a lower bound on the same samples
        worse_real, worse_fake = objective.d_losses(v_star(_log_ratio(from_p)) + 0.3,
                                                    v_star(_log_ratio(from_q)) + 0.3)
        assert -(worse_real + worse_fake).item() < -(d_real + d_fake).item()


# --- density ratio from the optimal discriminator -----------------------------
RATIO_OBJECTIVES = ["bce", "lsgan", "kl", "reverse_kl", "js", "pearson", "hellinger", "boundary"]


@pytest.mark.parametrize("label_smoothing", [1.0, 0.9])
@pytest.mark.parametrize("name", RATIO_OBJECTIVES)
def test_log_density_ratio_at_optimal_critic(name: str, label_smoothing: float) -> None:
    """At each x, find v minimising p(x)·ℓ_real(v) + q(x)·ℓ_fake(v) numerically
    (the pointwise optimum of the D loss for P, Q), then read back log p/q."""
    objective = build_objective(name, label_smoothing=label_smoothing, gamma=0.6)
    xs = torch.linspace(-2.0, 3.0, 6, dtype=torch.float64)
    optimal = []
    for x in xs.tolist():
        p = stats.norm.pdf(x, MU_P, SD_P)
        q = stats.norm.pdf(x, MU_Q, SD_Q)

        def pointwise_loss(v: float) -> float:
            d_real, d_fake = objective.d_losses(torch.tensor([v], dtype=torch.float64),
                                                torch.tensor([v], dtype=torch.float64))
            return p * d_real.item() + q * d_fake.item()

        start = 0.5 if name in ("lsgan", "boundary") else 0.0
        optimal.append(optimize.minimize_scalar(pointwise_loss, bracket=(start, start + 0.1),
                                                tol=1e-12).x)
    estimate = objective.log_density_ratio(torch.tensor(optimal, dtype=torch.float64))
    torch.testing.assert_close(estimate, _log_ratio(xs), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["hinge", "wgan-gp", "tv"])
def test_no_density_ratio_for_sign_and_wasserstein_critics(name: str) -> None:
    with pytest.raises(ConfigError, match="no density-ratio estimate"):
        build_objective(name).log_density_ratio(torch.zeros(3))


def test_density_ratio_is_finite_outside_the_optimal_range() -> None:
    v = torch.tensor([-5.0, -2.0, 0.0, 1.0, 5.0])
    for name in ("lsgan", "pearson", "boundary"):
        assert torch.isfinite(build_objective(name, label_smoothing=0.9).log_density_ratio(v)).all()


# --- configuration errors -----------------------------------------------------

@pytest.mark.parametrize(("typo", "suggestion"), [("lsgn", "lsgan"), ("wgan_gp", "wgan-gp"),
                                                  ("hellinge", "hellinger"), ("reverse-kl", "reverse_kl")])
def test_unknown_name_suggests_closest(typo: str, suggestion: str) -> None:
    with pytest.raises(ConfigError, match=f"Did you mean '{suggestion}'"):
        build_objective(typo)


@pytest.mark.parametrize("kwargs", [
    {"label_smoothing": 0.0}, {"label_smoothing": 1.5}, {"label_smoothing": float("nan")},
    {"label_smoothing": -0.1}, {"gamma": 0.0}, {"gamma": 1.2}, {"gp_weight": -1.0},
    {"generator_loss": "saturate"}, {"gp_weight": "10"},
])
def test_bad_values_raise_config_error(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        build_objective("bce", **kwargs)


def test_saturating_only_where_a_minimax_form_exists() -> None:
    for name in ("lsgan", "hinge", "wgan-gp"):
        with pytest.raises(ConfigError, match="single generator loss"):
            build_objective(name, generator_loss="saturating")
    with pytest.raises(ConfigError, match="'saturating'"):
        build_objective("bce", generator_loss="saturate")


def test_objective_is_frozen_and_errors_are_gankit_errors() -> None:
    objective = build_objective("hinge", gp_weight=0.0, label_smoothing=1)
    assert objective == Objective("hinge", gp_weight=0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        objective.name = "bce"  # type: ignore[misc]
    assert issubclass(ConfigError, GankitError)
