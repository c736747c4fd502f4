import pytest
import torch
from torch import nn

import gankit.fastpaths as fastpaths
from gankit.errors import ConfigError
from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator, forward_flops
from gankit.models.layers import count_parameters
from gankit.models.mlp import MLPDiscriminator, MLPGenerator, PackSizeError


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# --- the seeds' architectures, by parameter count ---------------------------------

def test_mlp_course_template_parameter_counts():
    # the MNIST MLP course assignment: G 100-256-512-1024-784, D 784-1024-512-256-1
    assert count_parameters(MLPGenerator(100, (256, 512, 1024), (1, 28, 28))) == 1_486_352
    assert count_parameters(MLPDiscriminator((1, 28, 28), (1024, 512, 256))) == 1_460_225


def test_keras_brownlee_parameter_counts():
    # D: conv 3*3*1*64+64, conv 3*3*64*64+64, dense 7*7*64+1 (Brownlee's summary: 40,705)
    d = DCGANDiscriminator((1, 28, 28), style="keras")
    assert count_parameters(d) == 640 + 36_928 + 3_137 == 40_705
    # G: dense 100*6272+6272, 2 x convT 4*4*128*128+128, conv 7*7*128*1+1 (summary: 1,164,289)
    g = DCGANGenerator(100, (1, 28, 28), style="keras")
    assert count_parameters(g) == 633_472 + 2 * 262_272 + 6_273 == 1_164_289


def test_tf_tutorial_parameter_counts():
    # The TF tutorial's summary at 28x28: G 2,305,472 trainable (BN over the Dense's 12,544
    # features, no biases), D 212,865.
    g28 = DCGANGenerator(100, (1, 28, 28), style="tf")
    assert count_parameters(g28) == 1_254_400 + 2 * 12_544 + 819_200 + 256 + 204_800 + 128 + 1_600 == 2_305_472
    assert count_parameters(DCGANDiscriminator((1, 28, 28), style="tf")) == 1_664 + 204_928 + 6_273
    # the cats-vs-dogs study's TF DCGAN at 32x32: start resolution 8
    assert count_parameters(DCGANGenerator(100, (1, 32, 32))) == 1_638_400 + 2 * 16_384 + 819_200 + 256 + 204_800 + 128 + 1_600
    assert count_parameters(DCGANDiscriminator((1, 32, 32))) == 1_664 + 204_928 + 8_193


def test_faithful_layers_and_style_defaults():
    g = DCGANGenerator(100, (1, 32, 32), style="tf")
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [128, 64, 1]
    assert [c.stride[0] for c in convs] == [1, 2, 2] and all(c.kernel_size == (5, 5) for c in convs)
    assert all(c.bias is None for c in convs) and g.net[0].bias is None
    assert any(isinstance(m, nn.ReLU) for m in g.modules()) and not any(isinstance(m, nn.LeakyReLU) for m in g.modules())
    d = DCGANDiscriminator((1, 32, 32), style="tf")
    assert [m.p for m in d.modules() if isinstance(m, nn.Dropout)] == [0.3, 0.3]
    assert {m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)} == {0.3}  # Keras' default
    dk = DCGANDiscriminator((1, 28, 28), style="keras")
    assert [m.p for m in dk.modules() if isinstance(m, nn.Dropout)] == [0.4, 0.4]
    assert {m.negative_slope for m in dk.modules() if isinstance(m, nn.LeakyReLU)} == {0.2}
    gk = DCGANGenerator(100, (1, 28, 28), style="keras")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in gk.modules())
    assert [c.out_channels for c in gk.modules() if isinstance(c, nn.ConvTranspose2d)] == [128, 128]


def test_tf_dcgan_generator_dropout_positions():
    g = DCGANGenerator(100, (1, 32, 32), style="tf", dropout=0.4)
    names = [type(m).__name__ for m in g.net]
    # Dense, BN, ReLU, reshape, Dropout, ConvT s1, BN, ReLU, Dropout, ConvT s2, ... (the cats-vs-dogs study)
    assert names[:10] == ["Linear", "BatchNorm1d", "ReLU", "Unflatten", "Dropout",
                          "ConvTranspose2d", "BatchNorm2d", "ReLU", "Dropout", "ConvTranspose2d"]
    assert names.count("Dropout") == 2


def test_base_width_scales_all_layers():
    g = DCGANGenerator(100, (1, 32, 32), style="tf", base_width=16)
    assert [c.out_channels for c in g.modules() if isinstance(c, nn.ConvTranspose2d)] == [32, 16, 1]
    assert g.net[0].out_features == 64 * 8 * 8
    d = DCGANDiscriminator((1, 32, 32), style="tf", base_width=16)
    assert [c.out_channels for c in d.modules() if isinstance(c, nn.Conv2d)] == [16, 32]
    gk = DCGANGenerator(100, (1, 28, 28), style="keras", base_width=16)
    assert [c.out_channels for c in gk.modules() if isinstance(c, nn.ConvTranspose2d)] == [32, 32]


# --- shapes -------------------------------------------------------------------------

@pytest.mark.parametrize("style", ["keras", "tf"])
@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_output_shapes(style, size, channels):
    g = DCGANGenerator(16, (channels, size, size), style=style, base_width=4)
    d = DCGANDiscriminator((channels, size, size), style=style, base_width=4)
    x = g(torch.randn(3, 16))
    assert x.shape == (3, channels, size, size)
    assert x.abs().max() <= 1
    assert d(x).shape == (3,)


@pytest.mark.parametrize("batch_norm, output, low", [(False, "sigmoid", 0.0), (True, "linear", None)])
def test_generator_options(batch_norm, output, low):
    g = DCGANGenerator(8, (1, 28, 28), style="keras", base_width=4, batch_norm=batch_norm,
                       output_activation=output, dropout=0.2)
    assert any(isinstance(m, nn.BatchNorm2d) for m in g.modules()) == batch_norm
    x = g(torch.randn(4, 8))
    if low is not None:
        assert x.min() >= low


def test_bad_shapes_and_options_raise():
    with pytest.raises(ConfigError, match="multiples of 4"):
        DCGANGenerator(8, (1, 30, 30))
    with pytest.raises(ConfigError, match="style"):
        DCGANGenerator(8, (1, 28, 28), style="pytorch")
    with pytest.raises(ConfigError, match="channels, height, width"):
        DCGANDiscriminator((784,))
    with pytest.raises(ConfigError):
        DCGANDiscriminator((1, 28, 28), pack=0)
    d = DCGANDiscriminator((1, 28, 28), base_width=4)
    with pytest.raises(ValueError, match="shape"):
        d(torch.randn(2, 1, 32, 32))


# --- discriminator variants -------------------------------------------------------

def test_pack_stacks_consecutive_samples_channelwise():
    d = DCGANDiscriminator((1, 28, 28), style="tf", base_width=4, pack=4, dropout=0.0).eval()
    assert d.net[0].in_channels == 4
    x = torch.randn(8, 1, 28, 28)
    out = d(x)
    assert out.shape == (2,)
    # pack 0 is samples 0..3 as channels 0..3
    assert torch.allclose(out[0], d.net(x[:4].reshape(1, 4, 28, 28)).squeeze())
    with pytest.raises(PackSizeError, match="multiple of 4"):
        d(torch.randn(6, 1, 28, 28))


def test_pack_rgb_first_conv_channels():
    d = DCGANDiscriminator((3, 32, 32), base_width=4, pack=2)
    assert d.net[0].in_channels == 6 and d(torch.randn(4, 3, 32, 32)).shape == (2,)


def test_spectral_norm_minibatch_std_batch_norm_variants_run():
    d = DCGANDiscriminator((1, 28, 28), style="keras", base_width=4, spectral_norm=True,
                           minibatch_std=True, batch_norm=True, pack=2)
    wrapped = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(wrapped) == 3 and all(hasattr(m, "parametrizations") for m in wrapped)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == 1
    assert d.net[-1].in_features == 4 * 7 * 7 + 1
    out = d(torch.randn(6, 1, 28, 28))
    assert out.shape == (3,) and torch.isfinite(out).all()
    out.sum().backward()


def test_minibatch_std_feature_sees_batch_diversity():
    d = DCGANDiscriminator((1, 28, 28), base_width=4, minibatch_std=True, dropout=0.0).eval()
    same = torch.randn(1, 1, 28, 28).expand(4, 1, 28, 28)
    features = d.net[:-1](same)
    assert torch.allclose(features[:, -1], torch.full((4,), 1e-4), atol=1e-5)  # sqrt(eps)


# --- init ---------------------------------------------------------------------------

def test_weights_drawn_from_normal_002():
    g = DCGANGenerator(100, (1, 32, 32), style="tf", base_width=32)
    d = DCGANDiscriminator((1, 32, 32), style="tf", base_width=32, batch_norm=True)
    for net in (g, d):
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) and m.weight.numel() > 5000:
                assert abs(m.weight.std().item() - 0.02) < 0.002
                assert abs(m.weight.mean().item()) < 0.002
                assert m.bias is None or torch.all(m.bias == 0)
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                assert abs(m.weight.mean().item() - 1) < 0.01


# --- FLOPs --------------------------------------------------------------------------

def test_forward_flops_linear_known():
    assert forward_flops(nn.Linear(10, 5), (3, 10)) == 2 * 3 * 10 * 5


def test_forward_flops_conv_and_transpose():
    conv = nn.Conv2d(2, 4, 3, stride=2, padding=1)  # 8x8 -> 4x4
    assert forward_flops(conv, (1, 2, 8, 8)) == 2 * (4 * 4 * 4) * (2 * 9)
    up = nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1)  # every input value scatters into out_channels·k² outputs
    assert forward_flops(up, (1, 4, 5, 5)) == 2 * (4 * 5 * 5) * (2 * 16)


def test_forward_flops_faithful_tf_and_mode_restored():
    g = DCGANGenerator(100, (1, 32, 32), style="tf")
    d = DCGANDiscriminator((1, 32, 32), style="tf", pack=2)
    # dense 100*16384, convT 8*8*256*128*25, 8*8*128*64*25, 16*16*64*1*25
    assert forward_flops(g, (1, 100)) == 2 * (1_638_400 + 52_428_800 + 13_107_200 + 409_600)
    assert 0.1e9 < forward_flops(g, (1, 100)) + forward_flops(d, (2, 1, 32, 32)) / 2 < 0.2e9
    assert g.training and d.training


# --- the image-channel transposed convolution (the CPU's im2col kernel) ----------

@pytest.mark.parametrize("channels,kernel,stride,padding,out_pad,bias", [
    (1, 5, 2, 2, 1, False), (3, 5, 2, 2, 1, True), (3, 4, 2, 1, 0, False), (1, 5, 1, 2, 0, True)])
def test_image_conv_transpose_is_conv_transpose(channels, kernel, stride, padding, out_pad, bias):
    from gankit.models.layers import ImageConvTranspose2d
    fast = ImageConvTranspose2d(8, channels, kernel, stride, padding=padding, output_padding=out_pad, bias=bias)
    stock = nn.ConvTranspose2d(8, channels, kernel, stride, padding=padding, output_padding=out_pad, bias=bias)
    stock.load_state_dict(fast.state_dict())  # same parameters, same state-dict keys
    x = torch.randn(5, 8, 7, 6, requires_grad=True)
    x_stock = x.detach().clone().requires_grad_()
    y, y_stock = fast(x), stock(x_stock)
    im2col = fastpaths.enabled("im2col_conv_transpose")  # off with GANKIT_PRIVATE_TORCH=0: oneDNN's kernel
    assert type(y.grad_fn).__name__.startswith("SlowConvTranspose2D") is im2col  # the im2col kernel ran
    torch.testing.assert_close(y, y_stock, rtol=1e-5, atol=1e-5)
    upstream = torch.randn_like(y)
    y.backward(upstream)
    y_stock.backward(upstream)
    torch.testing.assert_close(x.grad, x_stock.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fast.weight.grad, stock.weight.grad, rtol=1e-4, atol=1e-4)
    if bias:
        torch.testing.assert_close(fast.bias.grad, stock.bias.grad, rtol=1e-4, atol=1e-4)


def test_image_conv_transpose_steps_aside_where_oneDNN_or_tracing_is_needed():
    from gankit.models.layers import ImageConvTranspose2d
    fast = ImageConvTranspose2d(8, 1, 5, 2, padding=2, output_padding=1)
    x = torch.randn(2, 8, 7, 7)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert fast(x).dtype == torch.bfloat16  # autocast's conv_transpose2d, as nn.ConvTranspose2d
    traced = torch.jit.trace(fast, x)
    assert "slow_conv_transpose2d" not in traced.inlined_graph.__str__()
    torch.testing.assert_close(traced(x), fast(x), rtol=1e-5, atol=1e-5)
    wide = ImageConvTranspose2d(8, 16, 5, 2, padding=2, output_padding=1)
    assert "SlowConvTranspose2D" not in type(wide(x.requires_grad_()).grad_fn).__name__


def test_generators_end_in_the_image_conv_transpose():
    from gankit.models.layers import ImageConvTranspose2d
    g = DCGANGenerator(100, (3, 32, 32), style="tf")
    assert [type(m) for m in g.modules() if isinstance(m, nn.ConvTranspose2d)][-1] is ImageConvTranspose2d
    assert sum(isinstance(m, ImageConvTranspose2d) for m in g.modules()) == 1
