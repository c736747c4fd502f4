import copy
import io

import pytest
import torch
from torch import nn

from gankit.errors import ConfigError, GankitError
from gankit.models.layers import MinibatchStd, count_parameters, init_weights
from gankit.models.mlp import MLPDiscriminator, MLPGenerator, PackSizeError, block_pack_init


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# --- shapes and building -------------------------------------------------------

@pytest.mark.parametrize("out_shape", [(2,), (1, 28, 28), 5])
def test_generator_output_shape(out_shape):
    g = MLPGenerator(8, (16, 32), out_shape)
    x = g(torch.randn(6, 8))
    expected = (out_shape,) if isinstance(out_shape, int) else tuple(out_shape)
    assert x.shape == (6, *expected)


@pytest.mark.parametrize("activation, low, high", [("tanh", -1, 1), ("sigmoid", 0, 1)])
def test_generator_bounded_output_activations(activation, low, high):
    g = MLPGenerator(4, (8,), (3,), output_activation=activation)
    x = g(10 * torch.randn(200, 4))
    assert x.min() >= low and x.max() <= high


def test_generator_linear_output_unbounded_and_relu_at_slope_zero():
    g = MLPGenerator(4, (8,), (3,), output_activation="linear", slope=0.0)
    assert any(isinstance(m, nn.ReLU) for m in g.modules())
    assert not any(isinstance(m, (nn.LeakyReLU, nn.Tanh)) for m in g.modules())
    assert g(100 * torch.randn(200, 4)).abs().max() > 1


def test_generator_batch_norm_sits_before_activation():
    g = MLPGenerator(4, (8, 8), (2,), batch_norm=True, dropout=0.1)
    kinds = [type(m) for m in g.net]
    assert kinds[:4] == [nn.Linear, nn.BatchNorm1d, nn.LeakyReLU, nn.Dropout]
    assert g(torch.randn(5, 4)).shape == (5, 2)


@pytest.mark.parametrize("pack", [1, 2, 4])
def test_discriminator_output_is_one_logit_per_pack(pack):
    d = MLPDiscriminator((1, 4, 4), (32, 16), pack=pack)
    assert d.net[0].in_features == pack * 16
    out = d(torch.randn(8, 1, 4, 4))
    assert out.shape == (8 // pack,)
    assert d(torch.randn(8, 16)).shape == (8 // pack,)  # flattened input is accepted too


def test_discriminator_outputs_raw_logits():
    d = MLPDiscriminator((2,), (8,))
    assert not any(isinstance(m, nn.Sigmoid) for m in d.modules())
    with torch.no_grad():
        d.net[-1].bias.fill_(50.0)
    assert (d(torch.randn(4, 2)) > 1).all()


def test_pack_groups_consecutive_samples():
    d = MLPDiscriminator((3,), (), pack=2)  # a single Linear: logit = w · [x_0, x_1] + b
    x = torch.randn(4, 3)
    weight, bias = d.net[0].weight[0], d.net[0].bias
    expected = torch.stack([weight @ torch.cat([x[0], x[1]]), weight @ torch.cat([x[2], x[3]])]) + bias
    torch.testing.assert_close(d(x), expected)


def test_indivisible_batch_raises_clear_value_error():
    d = MLPDiscriminator((2,), (8,), pack=4)
    with pytest.raises(ValueError, match="multiple of 4"):
        d(torch.randn(6, 2))
    with pytest.raises(GankitError):
        d(torch.randn(6, 2))
    assert issubclass(PackSizeError, ValueError)


def test_wrong_input_size_raises():
    with pytest.raises(ValueError, match="shape"):
        MLPDiscriminator((2,), (8,))(torch.randn(4, 3))


@pytest.mark.parametrize("build", [
    lambda: MLPGenerator(0, (8,), (2,)),
    lambda: MLPGenerator(2, (8,), (2,), output_activation="relu"),
    lambda: MLPGenerator(2, (0,), (2,)),
    lambda: MLPGenerator(2, (8,), (2,), dropout=1.0),
    lambda: MLPGenerator(2, (8,), (2,), slope=-0.1),
    lambda: MLPDiscriminator((2,), (8,), pack=0),
    lambda: MLPDiscriminator((), (8,)),
])
def test_bad_configuration_raises_config_error(build):
    with pytest.raises(ConfigError):
        build()


# --- the seeds' architectures ---------------------------------------------------

def test_course_template_parameter_counts():
    g = MLPGenerator(100, (256, 512, 1024), (784,))
    d = MLPDiscriminator((784,), (1024, 512, 256))
    assert count_parameters(g) == 1_486_352
    assert count_parameters(d) == 1_460_225
    assert g(torch.randn(2, 100)).shape == (2, 784)
    assert d(torch.randn(2, 784)).shape == (2,)


def test_count_parameters_trainable_only():
    g = MLPGenerator(2, (4,), (2,))
    g.net[0].weight.requires_grad_(False)
    assert count_parameters(g) == 2 * 4 + 4 + 4 * 2 + 2
    assert count_parameters(g, trainable_only=True) == 4 + 4 * 2 + 2


SEED_002 = {  # name -> builder of (G, D)
    "line": lambda: (MLPGenerator(2, (10,), (2,), slope=0.2),
             MLPDiscriminator((2,), (80,), slope=0.2, dropout=0.3)),
    "parabola": lambda: (MLPGenerator(2, (4, 8, 16), (2,), slope=0.01),
                 MLPDiscriminator((2,), (4, 8, 16), slope=0.01)),
    "spiral": lambda: (MLPGenerator(2, (16, 32, 64), (2,), slope=0.01),
               MLPDiscriminator((2,), (64, 32, 16), slope=0.01, dropout=0.1)),
}


@pytest.mark.parametrize("name", sorted(SEED_002))
def test_seed_002_variants_build_and_train_one_step(name):
    g, d = SEED_002[name]()
    z = torch.randn(1000, 2)
    fake = g(z)
    assert fake.shape == (1000, 2) and fake.abs().max() <= 1
    logits = d(fake)
    assert logits.shape == (1000,)
    nn.functional.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)).backward()
    assert all(p.grad is not None for p in g.parameters())


def test_seed_002_widths():
    g, d = SEED_002["spiral"]()
    assert [m.out_features for m in g.modules() if isinstance(m, nn.Linear)] == [16, 32, 64, 2]
    assert [m.out_features for m in d.modules() if isinstance(m, nn.Linear)] == [64, 32, 16, 1]
    g, d = SEED_002["line"]()
    assert [m.out_features for m in d.modules() if isinstance(m, nn.Linear)] == [80, 1]
    assert any(isinstance(m, nn.Dropout) for m in d.modules())


# --- dropout / eval mode --------------------------------------------------------

def test_dropout_inactive_in_eval_mode():
    g = MLPGenerator(4, (64, 64), (3,), dropout=0.5)
    d = MLPDiscriminator((3,), (64, 64), dropout=0.5)
    z, x = torch.randn(16, 4), torch.randn(16, 3)
    g.train(), d.train()
    assert not torch.equal(g(z), g(z)) and not torch.equal(d(x), d(x))
    g.eval(), d.eval()
    assert torch.equal(g(z), g(z)) and torch.equal(d(x), d(x))


# --- spectral norm ---------------------------------------------------------------

def spectral_discriminator(**kwargs) -> MLPDiscriminator:
    return MLPDiscriminator((6,), (32, 16), spectral_norm=True, **kwargs)


def test_spectral_norm_wraps_every_linear_and_bounds_sigma():
    d = spectral_discriminator()
    linears = [m for m in d.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 3
    assert all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in linears)
    with torch.no_grad():  # a new, badly scaled raw weight: u/v are stale and must catch up
        linears[0].parametrizations.weight.original.normal_(0, 5.0)
    d.train()
    for _ in range(60):  # one power iteration per train-mode forward
        d(torch.randn(8, 6))
    for layer in linears:
        sigma = torch.linalg.matrix_norm(layer.weight.detach(), ord=2)
        assert abs(sigma.item() - 1) < 1e-2


def test_spectral_norm_state_dict_round_trip():
    d = spectral_discriminator(dropout=0.2)
    d.train()
    for _ in range(5):  # move u/v away from their initial values
        d(torch.randn(8, 6))
    keys = d.state_dict().keys()
    assert any(k.endswith("_u") for k in keys) and any(k.endswith("_v") for k in keys)
    buffer = io.BytesIO()
    torch.save(d.state_dict(), buffer)
    buffer.seek(0)
    loaded = spectral_discriminator(dropout=0.2)  # different random init
    loaded.load_state_dict(torch.load(buffer, weights_only=True))
    d.eval(), loaded.eval()
    x = torch.randn(10, 6)
    assert torch.equal(d(x), loaded(x))


def test_spectral_norm_deepcopy_and_two_calls_before_backward():
    d = spectral_discriminator()
    twin = copy.deepcopy(d)
    d.eval(), twin.eval()
    x = torch.randn(4, 6)
    assert torch.equal(d(x), twin(x))
    # The trainer calls D on real and on fake, then backpropagates once; each
    # train-mode call updates u/v in place, which must not break autograd.
    d.train()
    loss = d(torch.randn(4, 6)).mean() - d(torch.randn(4, 6)).mean()
    loss.backward()
    assert all(p.grad is not None for p in d.parameters())


def test_count_parameters_with_spectral_norm_excludes_buffers():
    plain = MLPDiscriminator((6,), (32, 16))
    assert count_parameters(spectral_discriminator()) == count_parameters(plain)


# --- minibatch standard deviation ------------------------------------------------

def test_minibatch_std_feature():
    x = torch.tensor([[0.0, 2.0], [2.0, 2.0]])
    out = MinibatchStd(eps=0.0)(x)
    assert out.shape == (2, 3)
    torch.testing.assert_close(out[:, 2], torch.tensor([0.5, 0.5]))  # mean of stds (1, 0)
    assert torch.equal(out[:, :2], x)


@pytest.mark.parametrize("pack", [1, 2])
def test_minibatch_std_makes_output_depend_on_batch(pack):
    x = torch.randn(8, 5)
    other = x.clone()
    other[pack:] = 3 * torch.randn(8 - pack, 5)  # keep pack 0, change the rest of the batch
    with_std = MLPDiscriminator((5,), (16,), pack=pack, minibatch_std=True).eval()
    without = MLPDiscriminator((5,), (16,), pack=pack).eval()
    assert with_std.net[-1].in_features == 17
    assert not torch.allclose(with_std(x)[0], with_std(other)[0])
    torch.testing.assert_close(without(x)[0], without(other)[0], rtol=0, atol=1e-6)


# --- init -----------------------------------------------------------------------

def test_init_weights_normal_and_zero_bias():
    g = init_weights(MLPGenerator(64, (512,), (512,), batch_norm=True), std=0.02)
    weight = g.net[0].weight
    assert abs(weight.std().item() - 0.02) < 1e-3
    assert torch.equal(g.net[-3].bias, torch.zeros(512))
    assert abs(g.net[1].weight.mean().item() - 1) < 0.01  # BatchNorm gain ~ N(1, std)


def test_init_weights_reaches_spectral_norm_original_and_conv():
    d = init_weights(MLPDiscriminator((64,), (256,), spectral_norm=True), std=0.02)
    assert abs(d.net[0].parametrizations.weight.original.std().item() - 0.02) < 2e-3
    conv = init_weights(nn.Conv2d(8, 16, 3), std=0.05)
    assert abs(conv.weight.std().item() - 0.05) < 5e-3 and torch.equal(conv.bias, torch.zeros(16))


# ---------------------------------------------------------------- block start of a packed D

def test_block_pack_init_zeroes_the_weights_across_samples():
    torch.manual_seed(0)
    layer = block_pack_init(nn.Linear(3 * 2, 9), pack=3)
    weight = layer.weight.detach()
    for group in range(3):
        rows = slice(3 * group, 3 * group + 3)
        for sample in range(3):
            block = weight[rows, 2 * sample:2 * sample + 2]
            if sample == group:
                assert block.abs().max() > 0 and block.abs().max() <= 1 / 2 ** 0.5
            else:
                assert torch.equal(block, torch.zeros_like(block))


def test_block_started_units_read_one_sample_each():
    torch.manual_seed(0)
    d = MLPDiscriminator(2, [8, 8], pack=2, pack_init="block")
    x = torch.randn(4, 2)
    first = d.net[0]
    before = first(d.pack_rows(x)).detach()
    changed = x.clone()
    changed[1] += 5.0  # the second sample of pack 0
    after = first(d.pack_rows(changed)).detach()
    assert torch.equal(after[0, :4], before[0, :4])  # group 0 reads sample 0 only
    assert not torch.equal(after[0, 4:], before[0, 4:])
    assert torch.equal(after[1], before[1])


def test_pack_init_through_the_config_and_with_spectral_norm():
    from gankit.config.schema import ModelConfig
    from gankit.models import build_discriminator

    torch.manual_seed(0)
    d = build_discriminator(ModelConfig(pack=2, pack_init="block", d_hidden=[6]), (2,))
    assert torch.equal(d.net[0].weight[:3, 2:], torch.zeros(3, 2))
    dense = build_discriminator(ModelConfig(pack=2, pack_init="dense", d_hidden=[6]), (2,))
    assert (dense.net[0].weight[:3, 2:] != 0).all()
    sn = MLPDiscriminator(2, [6], pack=2, pack_init="block", spectral_norm=True)
    assert torch.equal(sn.net[0].parametrizations.weight.original[3:, :2].detach(), torch.zeros(3, 2))


def test_pack_init_is_checked_and_matches_the_schema():
    with pytest.raises(ConfigError, match="pack_init"):
        MLPDiscriminator(2, [4], pack=2, pack_init="diagonal")
    with pytest.raises(ConfigError, match="blocks"):
        block_pack_init(nn.Linear(5, 4), pack=2)
