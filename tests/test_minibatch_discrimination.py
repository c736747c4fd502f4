"""Minibatch discrimination (Salimans et al. 2016, section 3.2): the layer against its
definition, the discriminators and config that use it, and the step that must score real
and fake batches apart."""

import math

import pytest
import torch
from conftest import TINY

import gankit
from gankit.config import load_config
from gankit.errors import ConfigError
from gankit.files.checkpoint import load_checkpoint
from gankit.models import build_discriminator
from gankit.models.layers import MinibatchDiscrimination
from gankit.models.mlp import MLPDiscriminator
from gankit.training.trainer import Trainer


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _by_definition(layer: MinibatchDiscrimination, x: torch.Tensor) -> torch.Tensor:
    """[f, o] straight from the paper's formulas, with the full n×n×B×C table of differences."""
    m = torch.einsum("na,abc->nbc", x, layer.weight)  # M_i = f(x_i)·T
    closeness = torch.exp(-(m.unsqueeze(1) - m.unsqueeze(0)).abs().sum(dim=3))  # c_b(x_i, x_j): (n, n, B)
    return torch.cat([x, closeness.sum(dim=1)], dim=1)


# --- the layer ------------------------------------------------------------------

def test_closed_form_on_a_hand_computed_example():
    layer = MinibatchDiscrimination(2, 2, 1).double()
    with torch.no_grad():  # kernel 0 reads feature 0, kernel 1 reads twice feature 1
        layer.weight.copy_(torch.tensor([[[1.0], [0.0]], [[0.0], [2.0]]]))
    f = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    # M[:, 0] = (0, 1, 0), M[:, 1] = (0, 0, 2); o_b(x_i) = Σ_j exp(−|M_ib − M_jb|), j = i included
    e1, e2 = math.exp(-1.0), math.exp(-2.0)
    expected_o = torch.tensor([[2 + e1, 2 + e2],
                               [1 + 2 * e1, 2 + e2],
                               [2 + e1, 1 + 2 * e2]], dtype=torch.float64)
    out = layer(f)
    assert out.shape == (3, 4)
    assert torch.equal(out[:, :2], f)
    torch.testing.assert_close(out[:, 2:], expected_o, rtol=1e-15, atol=0)  # float64 rounding only


@pytest.mark.parametrize("rows, features, kernels, kernel_dim", [(7, 12, 5, 3), (16, 64, 50, 5), (1, 3, 2, 1)])
def test_output_shape_and_agreement_with_the_definition(rows, features, kernels, kernel_dim):
    layer = MinibatchDiscrimination(features, kernels, kernel_dim)
    x = torch.randn(rows, features)
    out = layer(x)
    assert out.shape == (rows, features + kernels)
    assert torch.equal(out[:, :features], x)
    torch.testing.assert_close(out, _by_definition(layer, x))


def test_identical_rows_give_the_batch_size_and_distant_rows_only_the_self_term():
    layer = MinibatchDiscrimination(6, 4, 5)
    same = torch.randn(1, 6).expand(9, 6)
    # exp(0) = 1 for all n rows; a blocked GEMM may round identical rows a few ulps apart
    torch.testing.assert_close(layer(same)[:, 6:], torch.full((9, 4), 9.0), rtol=1e-5, atol=0.0)
    apart = 1000.0 * torch.randn(9, 6)
    torch.testing.assert_close(layer(apart)[:, 6:], torch.ones(9, 4))  # c_b(x_i, x_i) = 1, the rest → 0
    near = apart[:1] + 1e-3 * torch.randn(9, 6)  # close but not equal: between the two
    o = layer(near)[:, 6:]
    assert (o > 8.5).all() and (o < 9.0).all()


def test_permuting_the_rows_permutes_the_output():
    layer = MinibatchDiscrimination(10, 6, 3)
    x = torch.randn(12, 10)
    order = torch.randperm(12)
    torch.testing.assert_close(layer(x[order]), layer(x)[order])


def test_gradients_reach_the_kernel_tensor_and_the_input():
    layer = MinibatchDiscrimination(5, 3, 4)
    x = torch.randn(8, 5, requires_grad=True)
    layer(x)[:, 5:].sum().backward()  # only the o columns: the input's gradient must come through them
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    assert x.grad is not None and x.grad.abs().sum() > 0
    expected_weight, expected_x = torch.autograd.grad(_by_definition(layer, x)[:, 5:].sum(), (layer.weight, x))
    torch.testing.assert_close(layer.weight.grad, expected_weight)
    torch.testing.assert_close(x.grad, expected_x)


def test_gradient_and_second_derivative_match_finite_differences():
    """The hand-written backward is checked, and is itself differentiable (WGAN-GP and R1
    differentiate D's input gradient)."""
    layer = MinibatchDiscrimination(4, 3, 2).double()
    x = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))
    assert torch.autograd.gradgradcheck(layer, (x,))


def test_initial_scale_does_not_depend_on_the_width():
    """T ~ N(0, 1/A): the entries of M have the features' mean square as variance, at any A."""
    for features in (16, 4096):
        layer = MinibatchDiscrimination(features, 50, 5)
        torch.testing.assert_close(layer.weight.std().item(), features ** -0.5, rtol=0.05, atol=0)


def test_bad_sizes_are_refused():
    with pytest.raises(ConfigError, match="kernels"):
        MinibatchDiscrimination(4, 0, 5)
    with pytest.raises(ConfigError, match="kernel_dim"):
        MinibatchDiscrimination(4, 3, 0)


# --- discriminators and config ----------------------------------------------------

@pytest.mark.parametrize("overrides, shape", [
    ([], (2,)),
    (["model.minibatch_std=true"], (2,)),
    (["model.family=dcgan", "model.dcgan_style=tf", "model.base_width=4"], (1, 28, 28)),
    (["model.family=dcgan", "model.dcgan_style=keras", "model.base_width=4", "model.spectral_norm=true"], (1, 28, 28)),
    (["model.family=dcgan", "model.dcgan_style=radford", "model.base_width=4", "model.d_batch_norm=true"],
     (3, 32, 32)),
])
def test_config_builds_discriminators_with_the_kernels_before_the_score(overrides, shape):
    config = load_config(None, ["model.minibatch_kernels=8", "model.minibatch_kernel_dim=3", *overrides])
    discriminator = build_discriminator(config.model, shape)
    layer = discriminator.net[-2]
    assert isinstance(layer, MinibatchDiscrimination) and (layer.kernels, layer.kernel_dim) == (8, 3)
    assert discriminator.net[-1].in_features == layer.in_features + 8
    x = torch.randn(6, *shape)
    assert discriminator(x).shape == (6,)
    features = discriminator.features(x)
    assert features.shape == (6, layer.in_features + 8)
    assert ((features[:, -8:] >= 1) & (features[:, -8:] <= 6)).all()  # o_b in [1, n]
    if "model.minibatch_std=true" in overrides:
        assert type(discriminator.net[-3]).__name__ == "MinibatchStd"  # std first, then the kernels


def test_off_by_default_and_the_plain_chain_only_without_it():
    config = load_config(None, [])
    assert config.model.minibatch_kernels == 0 and config.model.minibatch_kernel_dim == 5
    plain = build_discriminator(config.model, (2,))
    assert not any(isinstance(m, MinibatchDiscrimination) for m in plain.modules())
    assert plain.plain_chain() is not None
    assert MLPDiscriminator((2,), (8,), minibatch_kernels=3).plain_chain() is None


def test_packs_are_the_rows_it_compares():
    discriminator = MLPDiscriminator((3,), (8,), pack=2, minibatch_kernels=4).eval()
    x = torch.randn(1, 3).expand(10, 3)  # 10 identical samples: 5 identical packs
    o = discriminator.features(x)[:, -4:]
    assert o.shape == (5, 4)
    torch.testing.assert_close(o, torch.full((5, 4), 5.0), rtol=1e-5, atol=0.0)
    assert discriminator(x).shape == (5,)


def test_conditional_projection_reads_the_kernels_features():
    config = load_config(None, ["model.minibatch_kernels=4", "model.conditional=true", "model.class_dim=3"])
    discriminator = build_discriminator(config.model, (2,), n_classes=3)
    assert discriminator.embedding.embedding_dim == config.model.d_hidden[-1] + 4
    assert discriminator(torch.randn(6, 2), torch.tensor([0, 1, 2, 0, 1, 2])).shape == (6,)


@pytest.mark.parametrize("override, fragment", [("model.minibatch_kernels=-1", "model.minibatch_kernels"),
                                                ("model.minibatch_kernel_dim=0", "model.minibatch_kernel_dim")])
def test_validation_rejects_bad_values(override, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_config(None, [override])


# --- training ----------------------------------------------------------------------

def _d_batch_sizes(trainer: Trainer) -> list[int]:
    """Record the batch size of every call of the trainer's discriminator (a forward pre-hook;
    hooks also turn off the hand-written step, so both configs take the autograd step)."""
    sizes: list[int] = []
    trainer.models.discriminator.register_forward_pre_hook(lambda module, args: sizes.append(args[0].shape[0]))
    return sizes


@pytest.mark.parametrize("objective", ["bce", "wgan-gp"])
def test_real_and_fake_are_scored_in_separate_discriminator_calls(tmp_path, objective):
    overrides = TINY + ["train.epochs=1", f"objective.name={objective}"]
    with_kernels = Trainer(load_config("toy-ring8", overrides + ["model.minibatch_kernels=4"]), tmp_path / "a")
    without = Trainer(load_config("toy-ring8", overrides), tmp_path / "b")
    assert not with_kernels.step_fn.concat_real_fake and without.step_fn.concat_real_fake
    assert with_kernels.step_fn.manual_chains() is None
    separate, joint = _d_batch_sizes(with_kernels), _d_batch_sizes(without)
    real = with_kernels.data[:64]
    for trainer in (with_kernels, without):
        row = trainer.step_fn(real, True)
        assert torch.isfinite(row[:3]).all()
    penalty = [64] if objective == "wgan-gp" else []  # the critic on the interpolates
    assert separate == [64, 64, *penalty, 64]  # real, fake, [penalty,] fake again for the G step
    assert joint == [128, *penalty, 64]


def test_short_training_run_is_reproducible(tmp_path):
    overrides = TINY + ["model.minibatch_kernels=4", "model.minibatch_kernel_dim=3", "train.epochs=2"]
    first = gankit.train("toy-ring8", overrides=overrides, out=tmp_path / "a")
    second = gankit.train("toy-ring8", overrides=overrides, out=tmp_path / "b")
    a = load_checkpoint(first.path / "checkpoints" / "last.pt")
    b = load_checkpoint(second.path / "checkpoints" / "last.pt")
    kernel_keys = [k for k, v in a["discriminator"].items() if v.shape == (16, 4, 3)]
    assert len(kernel_keys) == 1  # T of the 16 hidden features, 4 kernels of 3
    for net in ("generator", "discriminator"):
        assert a[net].keys() == b[net].keys()
        for key in a[net]:
            assert torch.isfinite(a[net][key]).all() and torch.equal(a[net][key], b[net][key]), f"{net}.{key}"
    assert [r["g_loss"] for r in first.history] == [r["g_loss"] for r in second.history]
    assert len(first.history) == 2
