"""Discriminator Rejection Sampling: exactness on a known density ratio, the M update, the ε
guard, percentile γ, refused objectives, the low-acceptance stop, determinism, fine-tuning."""

import numpy as np
import pytest
import torch
from scipy import stats

from gankit.errors import ConfigError, GankitError
from gankit.models.mlp import MLPDiscriminator, MLPGenerator
from gankit.objectives import build_objective
from gankit.sampling.drs import (
    LowAcceptance,
    drs_gamma,
    drs_log_ratio,
    drs_scores,
    finetune_discriminator,
    rejection_sample,
)

PROPOSAL, TARGET = stats.norm(0.0, 1.5), stats.norm(0.5, 1.0)  # p/q is bounded: q has the wider tails


def normal_draw(seed: int, scale: float = 1.5):
    rng = torch.Generator().manual_seed(seed)
    return lambda k: scale * torch.randn(k, generator=rng, dtype=torch.float64)


def exact_log_ratio(x: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(TARGET.logpdf(x.numpy()) - PROPOSAL.logpdf(x.numpy()))


def test_exact_log_ratio_turns_proposals_into_target_samples():
    result = rejection_sample(normal_draw(0), exact_log_ratio, 3000, burn_in=10000, gamma_percentile=None,
                              gamma=0.0, generator=torch.Generator().manual_seed(1))
    assert result.samples.shape == (3000,)
    assert stats.kstest(result.samples.numpy(), TARGET.cdf).pvalue > 0.01
    # the test has power: the raw proposals are rejected
    assert stats.kstest(normal_draw(2)(3000).numpy(), TARGET.cdf).pvalue < 1e-6
    # γ = 0 is exact rejection sampling: acceptance ≈ exp(−max log p/q) ≈ 0.60
    assert result.acceptance_rate == pytest.approx(0.603, abs=0.03)
    assert result.gamma_mode == "fixed γ = 0"
    assert result.n_accepted >= 3000 and result.accepted_per_second > 0


def test_max_logit_is_raised_by_a_later_batch():
    calls = []

    def draw(k):
        calls.append(k)
        values = torch.linspace(-1.0, 0.0, k, dtype=torch.float64)
        if len(calls) == 3:  # first batch after a burn-in of two batches
            values[0] = 5.0
        return values

    seen = []
    result = rejection_sample(draw, lambda x: x, 400, burn_in=200, batch_size=100,
                              generator=torch.Generator().manual_seed(0), progress=lambda a, p: seen.append(p))
    assert len(calls) >= 3 and result.max_logit == 5.0
    assert seen[:3] == [100, 200, 300]


def test_burn_in_sets_max_logit_before_the_first_test():
    batches = []

    def draw(k):
        batches.append(torch.full((k,), float(len(batches)), dtype=torch.float64))
        return batches[-1]

    result = rejection_sample(draw, lambda x: x, 1, burn_in=50, batch_size=10, generator=torch.Generator())
    assert len(batches) == 5 and result.max_logit == 4.0  # the maximum over all burn-in batches
    assert result.n_proposed < 50  # burn-in proposals are candidates too: it stopped inside the burn-in


def test_epsilon_guard_keeps_f_finite_at_the_maximum():
    values = torch.tensor([2.0, 2.0 - 1e-12, 1.0, -40.0, -1e4], dtype=torch.float64)
    scores = drs_scores(values, max_logit=2.0, epsilon=1e-6)
    assert torch.isfinite(scores).all()
    assert scores[0] == pytest.approx(-np.log(-np.expm1(-1e-6)), rel=1e-9)  # ≈ log(1/ε)
    # far below M, F ≈ D̃ − M (the log term vanishes)
    assert scores[3] == pytest.approx(-42.0, abs=1e-12)
    # σ(F) = exp(D̃ − M) up to ε: exact rejection sampling when γ = 0
    assert torch.sigmoid(scores[2]) == pytest.approx(np.exp(-1.0), rel=1e-5)


def test_percentile_gamma_matches_numpy_and_accepts_the_top_share():
    scores = drs_scores(torch.randn(5000, generator=torch.Generator().manual_seed(3), dtype=torch.float64), 4.0)
    gamma = drs_gamma(scores, 95.0)
    assert gamma == pytest.approx(np.percentile(scores.numpy(), 95.0), rel=1e-12)
    assert float((scores - gamma > 0).double().mean()) == pytest.approx(0.05, abs=1e-3)
    result = rejection_sample(normal_draw(0), exact_log_ratio, 500, burn_in=1000,
                              generator=torch.Generator().manual_seed(1))
    assert result.gamma_mode == "per-batch 95th percentile of F"
    assert 0.025 <= result.acceptance_rate < 0.2  # ≥ half of the top 5% per batch, far fewer than γ = 0


@pytest.mark.parametrize("name", ["hinge", "wgan-gp", "tv"])
def test_objectives_without_a_ratio_estimate_are_refused(name):
    with pytest.raises(ConfigError, match=f"rejection sampling is refused for objective '{name}'"):
        drs_log_ratio(MLPDiscriminator(2, [8]), build_objective(name))


def test_low_acceptance_stops_instead_of_looping():
    rng = torch.Generator().manual_seed(0)

    def spread_out(k):  # D̃ ~ U(−10⁴, 0): about one proposal per batch lies within a few units of M
        return -1e4 * torch.rand(k, generator=rng, dtype=torch.float64)

    with pytest.raises(LowAcceptance, match=r"below drs_min_acceptance=0.01.*drs_gamma_percentile") as caught:
        rejection_sample(spread_out, lambda x: x, 100, burn_in=0, gamma_percentile=None,
                         batch_size=200, generator=torch.Generator(), max_proposals=10**6)
    assert "of 1000 proposals" in str(caught.value)  # stopped after 5 batches
    assert isinstance(caught.value, GankitError)
    with pytest.raises(LowAcceptance, match="budget of 400 proposals"):
        rejection_sample(normal_draw(0), exact_log_ratio, 10**4, burn_in=0, gamma_percentile=None,
                         batch_size=200, min_acceptance=0.0, max_proposals=400, generator=torch.Generator())


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="drs_gamma_percentile"):
        rejection_sample(normal_draw(0), exact_log_ratio, 10, gamma_percentile=120, generator=torch.Generator())
    with pytest.raises(GankitError, match="NaN"):
        rejection_sample(normal_draw(0), lambda x: x * float("nan"), 10, generator=torch.Generator())


def test_same_seeds_give_the_same_samples():
    def run(seed):
        return rejection_sample(normal_draw(seed), exact_log_ratio, 300, burn_in=500, batch_size=250,
                                generator=torch.Generator().manual_seed(seed)).samples

    assert torch.equal(run(4), run(4))
    assert not torch.equal(run(4), run(5))


def test_log_ratio_of_a_bce_discriminator_is_its_logit_and_handles_packs():
    torch.manual_seed(0)
    discriminator = MLPDiscriminator(2, [8]).train()
    x = torch.randn(7, 2)
    log_ratio, description = drs_log_ratio(discriminator, build_objective("bce"), batch_size=3)
    assert "logit" in description
    assert torch.allclose(log_ratio(x), discriminator.eval()(x).double(), atol=1e-6)
    assert discriminator.train().training and log_ratio(x).dtype == torch.float64
    assert discriminator.training  # left in its mode
    packed = MLPDiscriminator(2, [8], pack=2)
    log_ratio, description = drs_log_ratio(packed, build_objective("lsgan", label_smoothing=0.9), pack=2)
    assert "LSGAN" in description and "pack 2" in description and "smoothing 0.9" in description
    copies = packed(x.repeat_interleave(2, dim=0)).double()
    assert torch.allclose(log_ratio(x), build_objective("lsgan", label_smoothing=0.9).log_density_ratio(copies) / 2)


def test_estimates_past_an_optimal_critic_range_are_capped():
    class FirstCoordinate(torch.nn.Module):  # raw output = the sample's first coordinate
        def forward(self, x):
            return x[:, 0]

    log_ratio, _ = drs_log_ratio(FirstCoordinate(), build_objective("lsgan"), max_log_ratio=20.0)
    values = log_ratio(torch.tensor([[0.5, 0.0], [1.5, 0.0]]))
    assert values[0] == pytest.approx(0.0, abs=1e-12) and values[1] == 20.0  # log 0.5 − log 0.5; v ≥ 1: r = ∞


def test_finetune_changes_a_copy_and_leaves_the_original_bit_identical():
    torch.manual_seed(0)
    discriminator, generator_net = MLPDiscriminator(2, [16, 16]), MLPGenerator(2, [16], 2)
    before = {k: v.clone() for k, v in discriminator.state_dict().items()}
    rng = torch.Generator().manual_seed(0)

    def draw(k):
        return generator_net(torch.randn(k, 2, generator=rng))

    def tune(seed):
        return finetune_discriminator(discriminator, build_objective("bce"), draw, torch.randn(256, 2) + 3.0,
                                      steps=20, batch_size=32, lr=1e-3, generator=torch.Generator().manual_seed(seed))

    tuned = tune(0)
    assert all(torch.equal(before[k], v) for k, v in discriminator.state_dict().items())
    assert any(not torch.equal(before[k], v) for k, v in tuned.state_dict().items())
    assert not tuned.training and all(p.grad is None for p in generator_net.parameters())
    with pytest.raises(ConfigError, match="multiple of the pack"):
        finetune_discriminator(MLPDiscriminator(2, [4], pack=4), build_objective("bce"), draw, torch.randn(8, 2),
                               steps=1, batch_size=6, generator=rng)
