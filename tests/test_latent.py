import pytest
import torch

from gankit.errors import ConfigError, GankitError
from gankit.sampling.latent import sample_latent


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_shape_and_dtype(distribution):
    z = sample_latent(7, 3, distribution, generator=seeded())
    assert z.shape == (7, 3)
    assert z.dtype == torch.float32
    assert sample_latent(0, 3, distribution, generator=seeded()).shape == (0, 3)


def test_normal_moments():
    z = sample_latent(100_000, 4, generator=seeded(1))
    assert abs(z.mean().item()) < 0.01
    assert abs(z.std().item() - 1) < 0.01
    assert abs(((z - z.mean()) ** 4).mean().item() / z.var().item() ** 2 - 3) < 0.1  # kurtosis


def test_uniform_moments_and_range():
    z = sample_latent(100_000, 4, "uniform", generator=seeded(2))
    assert z.min() >= -1 and z.max() <= 1
    assert abs(z.mean().item()) < 0.01
    assert abs(z.var().item() - 1 / 3) < 0.01  # Var U(-1, 1) = 1/3


@pytest.mark.parametrize("truncation", [None, 0.7])
def test_deterministic_given_generator(truncation):
    a = sample_latent(64, 8, generator=seeded(5), truncation=truncation)
    b = sample_latent(64, 8, generator=seeded(5), truncation=truncation)
    c = sample_latent(64, 8, generator=seeded(6), truncation=truncation)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_device_argument_moves_result():
    z = sample_latent(4, 2, generator=seeded(3), device="cpu")
    assert z.device.type == "cpu"
    assert torch.equal(z, sample_latent(4, 2, generator=seeded(3)))


def test_truncation_bound_and_no_clipping():
    tau = 0.5
    z = sample_latent(50_000, 4, generator=seeded(4), truncation=tau)
    assert z.abs().max() <= tau
    # Resampling, not clipping: no pile of mass at ±τ. The truncated normal's
    # density at the edge is lower than at 0, so the outermost 1% of the range
    # holds well under 1% of the samples (clipping would put ~62% there).
    edge_share = (z.abs() > 0.99 * tau).float().mean().item()
    assert edge_share < 0.01
    assert (z.abs() == tau).sum() == 0
    # Moments of N(0,1) truncated to [-0.5, 0.5]: variance = 1 - 2·τ·φ(τ)/(2Φ(τ)-1) ≈ 0.0806.
    assert abs(z.mean().item()) < 0.005
    assert abs(z.var().item() - 0.0806) < 0.003


def test_truncation_keeps_in_range_components():
    """Only offending components are redrawn; the first draw is kept elsewhere."""
    plain = sample_latent(1000, 2, generator=seeded(8))
    truncated = sample_latent(1000, 2, generator=seeded(8), truncation=1.0)
    inside = plain.abs() <= 1.0
    assert torch.equal(truncated[inside], plain[inside])
    assert not torch.equal(truncated[~inside], plain[~inside])


@pytest.mark.parametrize("kwargs", [
    {"distribution": "cauchy"},
    {"truncation": 0.0},
    {"truncation": -1.0},
    {"truncation": float("nan")},
    {"distribution": "uniform", "truncation": 1.0},
])
def test_bad_arguments_raise_config_error(kwargs):
    with pytest.raises(ConfigError):
        sample_latent(4, 2, generator=seeded(), **kwargs)
    assert issubclass(ConfigError, GankitError)
