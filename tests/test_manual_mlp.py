"""The fast paths of the MLP step compute what the autograd step computes: the one-node MLP
chain (models/fused.py) and the direct fused-Adam call (training/optim.py) bitwise, the
hand-written-gradient step (training/manual_mlp.py) to float rounding (its score derivatives
come from formulas, objectives/derivatives.py)."""

import copy
import math

import pytest
import torch
from conftest import TINY
from torch import nn

import gankit.fastpaths as fastpaths
from gankit.config import load_config
from gankit.models.fused import chain_backward, chain_forward, chain_parameters
from gankit.models.mlp import MLPDiscriminator, MLPGenerator
from gankit.training.optim import FusedAdamStep
from gankit.training.trainer import Trainer


def _without_chain(module: nn.Module) -> nn.Module:
    plain = copy.deepcopy(module)
    plain._chain = None  # the nn.Sequential path
    return plain


@pytest.mark.parametrize("slope,output,dropout", [(0.2, "linear", 0.0), (0.0, "tanh", 0.3), (0.1, "sigmoid", 0.5)])
def test_chain_forward_and_gradients_are_those_of_the_sequential(slope, output, dropout):
    torch.manual_seed(0)
    fused_g = MLPGenerator(3, [16, 8], (2, 3), slope=slope, output_activation=output, dropout=dropout)
    fused_d = MLPDiscriminator((2, 3), [16, 8], slope=slope, pack=2, dropout=dropout)
    plain_g, plain_d = _without_chain(fused_g), _without_chain(fused_d)
    z = torch.randn(8, 3)
    results = []
    for g, d in ((fused_g, fused_d), (plain_g, plain_d)):
        torch.manual_seed(1)  # the same dropout draws
        x = g(z)
        scores = d(x)
        (scores.square().sum() + x.sum()).backward()
        results.append([x, scores] + [p.grad for p in [*g.parameters(), *d.parameters()]])
    for fused, plain in zip(*results):
        assert torch.equal(fused, plain)
    if dropout:  # eval mode: no dropout, the same outputs on every call
        fused_d.eval()
        assert torch.equal(fused_d(results[0][0].detach()), fused_d(results[0][0].detach()))


def test_backward_into_chosen_inputs_skips_the_other_weight_gradients():
    torch.manual_seed(0)
    g, d = MLPGenerator(2, [8], 2, output_activation="linear"), MLPDiscriminator(2, [8])
    d(g(torch.randn(4, 2))).sum().backward(inputs=list(g.parameters()))
    assert all(p.grad is not None for p in g.parameters())
    assert all(p.grad is None for p in d.parameters())
    x = torch.randn(4, 2, requires_grad=True)
    (grad_x,) = torch.autograd.grad(d(x).sum(), x)  # autograd.grad: the engine's plan is not readable
    (expected,) = torch.autograd.grad(_without_chain(d)(x).sum(), x)
    assert torch.equal(grad_x, expected)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_double_backward_for_the_gradient_penalty_matches_the_sequential(dropout):
    torch.manual_seed(0)
    fused = MLPDiscriminator(3, [16, 16], slope=0.2, dropout=dropout)
    plain = _without_chain(fused)
    x = torch.randn(10, 3)
    grads = []
    for d in (fused, plain):
        torch.manual_seed(1)
        point = x.clone().requires_grad_()
        (g,) = torch.autograd.grad(d(point).sum(), point, create_graph=True)
        ((g.norm(dim=1) - 1) ** 2).mean().backward()
        grads.append([torch.zeros_like(p) if p.grad is None else p.grad for p in d.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-7)


def test_chain_backward_matches_autograd_by_hand():
    torch.manual_seed(0)
    linears = [nn.Linear(3, 5), nn.Linear(5, 4), nn.Linear(4, 2)]
    params = chain_parameters(linears)
    x = torch.randn(6, 3, requires_grad=True)
    with torch.no_grad():
        y, hidden, _ = chain_forward(x, params, 0.2, "tanh")
    grad_y = torch.randn_like(y)
    grad_x, grads = chain_backward(grad_y, x.detach(), y, hidden, params, 0.2, "tanh", want_x=True)
    reference = torch.tanh(linears[2](nn.functional.leaky_relu(linears[1](nn.functional.leaky_relu(
        linears[0](x), 0.2)), 0.2)))
    expected = torch.autograd.grad(reference, [x, *params], grad_y)
    for got, want in zip([grad_x, *grads], expected):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)


def _trainer(overrides, path, manual: bool) -> Trainer:
    trainer = Trainer(load_config("toy-ring8", TINY + overrides), path)
    trainer.step_fn.use_manual = manual
    return trainer


CASES = [
    [],
    ["model.pack=2", "model.g_output=tanh", "train.ema_decay=0.99", "train.lr_decay=linear"],
    ["objective.name=lsgan", "train.n_critic=2"],
    ["objective.name=hinge", "model.d_slope=0"],
    ["objective.name=kl", "objective.label_smoothing=0.9"],
    ["objective.name=boundary", "objective.generator_loss=saturating"],
    ["model.d_dropout=0.3", "model.g_dropout=0.1", "objective.label_smoothing=0.9", "train.ema_decay=0.999"],
]


@pytest.mark.parametrize("overrides", CASES, ids=lambda o: ",".join(o) or "defaults")
def test_manual_step_trains_exactly_like_the_autograd_step(tmp_path, overrides):
    if not fastpaths.enabled("module_hooks"):
        pytest.skip("GANKIT_PRIVATE_TORCH=0: plain MLPs take the autograd step (tests/test_fastpaths.py runs "
                    "the manual step's fallbacks)")
    manual = _trainer(overrides, tmp_path / "manual", True)
    auto = _trainer(overrides, tmp_path / "auto", False)
    assert manual.step_fn.manual_chains() is not None
    for trainer in (manual, auto):
        torch.manual_seed(7)  # dropout draws from the global RNG: the same draws for both
        for _ in range(2):
            trainer.position.batch = 0
            trainer.run_epoch()
    assert auto.step_fn.manual_chains() is None
    pairs = [(manual.models.generator, auto.models.generator),
             (manual.models.discriminator, auto.models.discriminator)]
    if manual.models.generator_ema is not None:
        pairs.append((manual.models.generator_ema, auto.models.generator_ema))
    close = dict(rtol=1e-5, atol=1e-6)  # float32 rounding of the score derivatives (~1e-7 seen)
    for a, b in pairs:
        for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
            torch.testing.assert_close(p, q, **close, msg=name)
    for opt in ("g_optimizer", "d_optimizer"):
        a = getattr(manual.models, opt).state_dict()["state"]
        b = getattr(auto.models, opt).state_dict()["state"]
        for index in a:
            for key in a[index]:
                torch.testing.assert_close(a[index][key], b[index][key], **close, msg=str((opt, index, key)))
    torch.testing.assert_close(manual.epoch_stats, auto.epoch_stats, equal_nan=True, **close)


@pytest.mark.parametrize("overrides", [
    ["objective.name=wgan-gp"], ["model.spectral_norm=true"],
    ["model.minibatch_std=true"], ["model.minibatch_kernels=4"], ["model.g_batch_norm=true"],
])
def test_models_or_objectives_that_need_autograd_take_the_autograd_step(tmp_path, overrides):
    trainer = Trainer(load_config("toy-ring8", TINY + overrides), tmp_path / "run")
    assert trainer.step_fn.manual_chains() is None
    trainer.run_epoch()
    assert math.isfinite(float(trainer.epoch_stats[:, 0].sum()))


def _adam_pair(**options):
    nets, optimizers = [], []
    for _ in range(2):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 1))
        nets.append(net)
        optimizers.append(torch.optim.Adam(net.parameters(), fused=True, **options))
    return nets, optimizers


def _train(nets, steppers, optimizers, steps, offset=0):
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(offset))
    for i in range(steps):
        for net, stepper, opt in zip(nets, steppers, optimizers):
            for group in opt.param_groups:
                group["lr"] = 1e-2 * (1 - i / (2 * steps))
            opt.zero_grad()
            net(x + i + offset).square().mean().backward()
            stepper()


def _assert_same(nets, optimizers):
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(p, q)
    a, b = (opt.state_dict()["state"] for opt in optimizers)
    assert all(torch.equal(a[i][k], b[i][k]) for i in a for k in a[i])


def test_direct_fused_adam_call_is_optimizer_step_bitwise():
    nets, optimizers = _adam_pair(betas=(0.5, 0.99), weight_decay=0.01)
    fast = FusedAdamStep(optimizers[1])
    _train(nets, [optimizers[0].step, fast], optimizers, steps=6)
    assert fast._groups is not None  # after the first step the kernel is called directly
    _assert_same(nets, optimizers)
    # a resumed optimizer (new state objects) is picked up again
    saved = copy.deepcopy(optimizers[0].state_dict())
    for opt in optimizers:
        opt.load_state_dict(copy.deepcopy(saved))
    _train(nets, [optimizers[0].step, fast], optimizers, steps=3, offset=7)
    _assert_same(nets, optimizers)


def test_direct_fused_adam_falls_back_to_the_optimizer_where_it_does_not_apply():
    nets, optimizers = _adam_pair(amsgrad=True)
    fast = FusedAdamStep(optimizers[1])
    _train(nets, [optimizers[0].step, fast], optimizers, steps=3)
    assert fast._groups is None
    _assert_same(nets, optimizers)
    nets, optimizers = _adam_pair()
    fast = FusedAdamStep(optimizers[1])
    _train(nets, [optimizers[0].step, fast], optimizers, steps=2)
    for net in nets:  # a parameter without a gradient: the optimizer skips it
        net[2].bias.grad = None
    for net, stepper in zip(nets, [optimizers[0].step, fast]):
        net[0].weight.grad = torch.ones_like(net[0].weight)
        net[0].bias.grad = net[2].weight.grad = None
        stepper()
    _assert_same(nets, optimizers)


def test_layer_hooks_keep_the_modules_called():
    torch.manual_seed(0)
    g = MLPGenerator(2, [8], 2, output_activation="linear")
    seen = []
    g.net[0].register_forward_hook(lambda module, inputs, output: seen.append(output.shape))
    g(torch.randn(5, 2))
    assert seen == [torch.Size([5, 8])]


def test_hooks_on_a_network_select_the_autograd_step(tmp_path):
    trainer = Trainer(load_config("toy-ring8", TINY), tmp_path / "run")
    calls = []
    trainer.models.discriminator.register_forward_hook(lambda *args: calls.append(1))
    trainer.run_epoch()
    assert trainer.step_fn.manual_chains() is None and calls


def test_direct_fused_adam_runs_the_optimizers_step_hooks():
    nets, optimizers = _adam_pair()
    fast = FusedAdamStep(optimizers[1])
    calls = []
    optimizers[1].register_step_post_hook(lambda *args: calls.append(1))
    _train(nets, [optimizers[0].step, fast], optimizers, steps=3)
    assert len(calls) == 3
    _assert_same(nets, optimizers)
