"""Radford et al.'s 64×64 DCGAN layout (model.dcgan_style=radford): layers, counts, options."""

import pytest
import torch
from torch import nn

from gankit.config import load_config
from gankit.errors import ConfigError
from gankit.models import build_models
from gankit.models.dcgan import forward_flops
from gankit.models.layers import count_parameters
from gankit.models.mlp import PackSizeError
from gankit.models.radford import RadfordDiscriminator, RadfordGenerator, radford_depth


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_pytorch_example_layout_and_parameter_counts():
    g = RadfordGenerator(100, (3, 64, 64))
    ups = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [c.out_channels for c in ups] == [512, 256, 128, 64, 3]
    assert [c.stride[0] for c in ups] == [1, 2, 2, 2, 2] and all(c.kernel_size == (4, 4) for c in ups)
    assert all(c.bias is None for c in ups)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g.modules()) == 4
    assert isinstance(g.net[-1], nn.Tanh) and not any(isinstance(m, nn.LeakyReLU) for m in g.modules())
    assert count_parameters(g) == 3_576_704  # the PyTorch DCGAN example's generator
    d = RadfordDiscriminator((3, 64, 64))
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512]
    assert [c.bias is None for c in convs] == [False, True, True, True]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == 3
    assert {m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)} == {0.2}
    assert isinstance(d.net[-1], nn.Linear) and d.net[-1].in_features == 512 * 4 * 4
    assert count_parameters(d) == 2_765_568 + 64 + 1  # the example's, plus the first conv's and Dense's biases


def test_flops_at_base_width_64():
    g, d = RadfordGenerator(100, (3, 64, 64)), RadfordDiscriminator((3, 64, 64))
    up_block = 2 * 16 * 4 * 4 * 512 * 256  # 2 × (input values × out channels × k²), the same at every up-block
    assert forward_flops(g, (1, 100)) == 2 * 100 * 512 * 16 + 3 * up_block + 2 * 32 * 32 * 64 * 3 * 16
    assert forward_flops(d, (1, 3, 64, 64)) == 207_634_432


@pytest.mark.parametrize(("side", "depth", "start"), [(8, 1, 16), (32, 3, 64), (64, 4, 128)])
@pytest.mark.parametrize("channels", [1, 3])
def test_sides_follow_the_number_of_up_blocks(side, depth, start, channels):
    assert radford_depth((channels, side, side)) == depth
    g = RadfordGenerator(8, (channels, side, side), base_width=16)
    assert g.net[1].out_channels == start
    x = g(torch.randn(4, 8))
    assert x.shape == (4, channels, side, side) and x.abs().max() <= 1
    d = RadfordDiscriminator((channels, side, side), base_width=16)
    assert d(x).shape == (4,)


@pytest.mark.parametrize("shape", [(3, 28, 28), (3, 48, 48), (3, 32, 64), (3, 4, 4), (784,)])
def test_unsupported_shapes_raise(shape):
    with pytest.raises(ConfigError, match="radford"):
        RadfordGenerator(8, shape)
    with pytest.raises(ConfigError, match="radford"):
        RadfordDiscriminator(shape)


def test_discriminator_contract_pack_shape_check_and_feature_head():
    d = RadfordDiscriminator((3, 32, 32), base_width=4, pack=2).eval()
    assert d.net[0].in_channels == 6
    x = torch.randn(6, 3, 32, 32)
    out = d(x)
    assert out.shape == (3,)
    features = d.net[:-1](x[:2].reshape(1, 6, 32, 32))
    assert features.shape == (1, 16 * 4 * 4) and isinstance(d.net[-1], nn.Linear)
    assert torch.allclose(out[0], d.net[-1](features).squeeze())
    with pytest.raises(PackSizeError, match="multiple of 2"):
        d(torch.randn(3, 3, 32, 32))
    with pytest.raises(ValueError, match="shape"):
        d(torch.randn(2, 3, 64, 64))


def test_spectral_norm_minibatch_std_dropout_and_no_batch_norm():
    d = RadfordDiscriminator((3, 32, 32), base_width=4, spectral_norm=True, minibatch_std=True,
                             dropout=0.25, batch_norm=False)
    wrapped = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(wrapped) == 4 and all(hasattr(m, "parametrizations") for m in wrapped)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    assert [m.p for m in d.modules() if isinstance(m, nn.Dropout)] == [0.25] * 3
    assert d.net[-1].in_features == 16 * 16 + 1
    out = d(torch.randn(4, 3, 32, 32))
    assert out.shape == (4,) and torch.isfinite(out).all()
    out.sum().backward()


def test_weights_drawn_from_normal_002():
    for net in (RadfordGenerator(100, (3, 64, 64), base_width=32), RadfordDiscriminator((3, 64, 64), base_width=32)):
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) and m.weight.numel() > 5000:
                assert abs(m.weight.std().item() - 0.02) < 0.002
                assert m.bias is None or torch.all(m.bias == 0)


def test_built_from_the_config():
    config = load_config(None, ["model.family=dcgan", "model.dcgan_style=radford", "model.base_width=8",
                                "model.latent_dim=16", "model.g_batch_norm=true", "model.g_slope=0",
                                "model.d_batch_norm=true", "model.g_output=tanh", "model.pack=2"])
    g, d = build_models(config.model, (3, 64, 64))
    assert isinstance(g, RadfordGenerator) and isinstance(d, RadfordDiscriminator)
    assert d.pack == 2 and sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == 3
    assert d(g(torch.randn(4, 16))).shape == (2,)
