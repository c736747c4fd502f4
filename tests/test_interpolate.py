"""Latent interpolation: endpoints, slerp norms, linear midpoint, and the PNGs."""

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.errors import ConfigError
from gankit.models.dcgan import DCGANGenerator
from gankit.models.mlp import MLPGenerator
from gankit.sampling.interpolate import (
    interpolate,
    interpolation_latents,
    save_interpolation,
)


@pytest.mark.parametrize("method", ["linear", "slerp"])
def test_paths_start_and_end_at_the_given_latents(method):
    rng = torch.Generator().manual_seed(0)
    start, end = torch.randn(4, 16, generator=rng), torch.randn(4, 16, generator=rng)
    path = interpolation_latents(start, end, 7, method)
    assert path.shape == (4, 7, 16)
    assert torch.allclose(path[:, 0], start, atol=1e-6) and torch.allclose(path[:, -1], end, atol=1e-6)


def test_slerp_keeps_unit_vectors_on_the_sphere_and_linear_midpoint_is_the_mean():
    rng = torch.Generator().manual_seed(1)
    start, end = torch.randn(5, 8, generator=rng, dtype=torch.float64), torch.randn(5, 8, generator=rng,
                                                                                        dtype=torch.float64)
    start, end = start / start.norm(dim=1, keepdim=True), end / end.norm(dim=1, keepdim=True)
    norms = interpolation_latents(start, end, 11, "slerp").norm(dim=-1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-9)
    linear = interpolation_latents(start, end, 11, "linear")
    assert torch.allclose(linear[:, 5], (start + end) / 2, atol=1e-12)
    assert (linear[:, 5].norm(dim=-1) < 1).all()  # the linear path dips inside the sphere


def test_slerp_of_parallel_vectors_falls_back_to_linear():
    start = torch.tensor([[1.0, 2.0, 3.0], [1.0, 0.0, 0.0]])
    end = torch.tensor([[2.0, 4.0, 6.0], [-1.0, 0.0, 0.0]])
    path = interpolation_latents(start, end, 5, "slerp")
    assert torch.isfinite(path).all()
    assert torch.allclose(path, interpolation_latents(start, end, 5, "linear"))


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="method"):
        interpolation_latents(torch.zeros(2), torch.ones(2), 5, "cubic")
    with pytest.raises(ConfigError, match="steps >= 2"):
        interpolation_latents(torch.zeros(2), torch.ones(2), 1)


def test_image_interpolation_grid_is_written(tmp_path):
    torch.manual_seed(0)
    generator_net = DCGANGenerator(8, (1, 28, 28), style="tf", base_width=8)
    samples = interpolate(generator_net, 8, rows=3, steps=6, method="slerp", seed=2)
    assert samples.shape == (3, 6, 1, 28, 28)
    assert torch.equal(samples, interpolate(generator_net, 8, rows=3, steps=6, method="slerp", seed=2))
    path = save_interpolation(samples, tmp_path / "interp.png", title="slerp")
    with Image.open(path) as image:
        image.load()
        assert image.width > image.height > 0


def test_point_interpolation_path_plot_is_written(tmp_path):
    torch.manual_seed(0)
    generator_net = MLPGenerator(2, [16], 2, output_activation="linear")
    samples = interpolate(generator_net, 2, rows=4, steps=12, distribution="uniform", seed=0)
    assert samples.shape == (4, 12, 2)
    background = torch.randn(500, 2).numpy()
    for name, extra in (("alone.png", None), ("over_real.png", background)):
        path = save_interpolation(samples, tmp_path / name, background=extra)
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        assert pixels.shape[0] > 200 and pixels.std() > 0
