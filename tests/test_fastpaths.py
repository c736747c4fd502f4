"""The private PyTorch paths (gankit/fastpaths.py): each private API still exists in this PyTorch
and computes what its public fallback computes on a tiny input (a failure here after a PyTorch
upgrade names the path: set GANKIT_PRIVATE_TORCH=0 to train without it, then update the record
and its call site); every private use in gankit is a record whose call site asks ``enabled``;
and with GANKIT_PRIVATE_TORCH=0 gankit calls none of them (each private API is replaced by a
spy that notes calls from gankit's modules) while training to the same results: bitwise for
the MLP steps and Adam, to float32 rounding for the DCGAN step (its transposed convolution
falls back to oneDNN's kernel).

Every test sets the switch itself, so the file passes with or without GANKIT_PRIVATE_TORCH=0
in the environment."""

from __future__ import annotations

import re
import sys
import types
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from conftest import TINY
from torch import nn
from torch.nn import functional as F

import gankit.fastpaths as fastpaths
from gankit import hardware
from gankit.config import load_config
from gankit.models.fused import _hidden_backward, _output_backward
from gankit.models.layers import ImageConvTranspose2d
from gankit.models.mlp import MLPDiscriminator, MLPGenerator, has_layer_hooks
from gankit.training.optim import FusedAdamStep
from gankit.training.step import AdversarialStep, update_ema
from gankit.training.trainer import Trainer

SOURCE = Path(fastpaths.__file__).resolve().parent


def _switch(monkeypatch, on: bool) -> None:
    monkeypatch.setenv(fastpaths.SWITCH, "1" if on else "0")


def _broken(name: str, detail: str) -> str:
    path = fastpaths.PATHS[name]
    return (f"torch {torch.__version__}: the private path {name!r} ({', '.join(path.private_api)}, used in "
            f"{'; '.join(path.used_in)}) {detail}. GANKIT_PRIVATE_TORCH=0 trains without it (fallback: "
            f"{path.fallback}); update gankit/fastpaths.py and the call site.")


# ------------------------------------------------------------------ the switch and the table

@pytest.mark.parametrize("value, allowed", [(None, True), ("1", True), ("yes", True), ("0", False),
                                            ("false", False), (" OFF ", False), ("no", False)])
def test_the_switch_reads_the_environment_at_every_call(monkeypatch, value, allowed):
    if value is None:
        monkeypatch.delenv(fastpaths.SWITCH, raising=False)
    else:
        monkeypatch.setenv(fastpaths.SWITCH, value)
    assert fastpaths.private_torch_allowed() is allowed
    assert all(fastpaths.enabled(name) is (allowed and path.available()) for name, path in fastpaths.PATHS.items())
    with pytest.raises(KeyError):
        fastpaths.enabled("no_such_path")


def test_a_path_this_torch_lacks_is_off(monkeypatch):
    _switch(monkeypatch, True)
    monkeypatch.delattr(torch, "_foreach_lerp_")
    assert not fastpaths.PATHS["ema_foreach_lerp"].available() and not fastpaths.enabled("ema_foreach_lerp")
    ema, net = nn.Linear(3, 2), nn.Linear(3, 2)
    expected = [torch.lerp(a, b, 0.5) for a, b in zip(ema.parameters(), net.parameters())]
    update_ema(ema, net, 0.5)  # the fallback runs
    assert all(torch.equal(a, b) for a, b in zip(ema.parameters(), expected))


def test_every_record_names_a_call_site_that_asks_for_it():
    for name, path in fastpaths.PATHS.items():
        assert path.name == name and path.private_api and path.fallback and path.agreement
        assert set(path.requires) <= set(path.private_api)
        for site in path.used_in:
            text = (SOURCE / site.split(":")[0]).read_text(encoding="utf-8")
            assert f'fastpaths.enabled("{name}")' in text, f"{site} does not ask fastpaths.enabled({name!r})"


# A private PyTorch name in gankit's source: torch._x, torch.ops.x, and the hook tables.
_PRIVATE = re.compile(r"\btorch\.(?:_[A-Za-z]|ops\.)|\._(?:forward|backward)(?:_pre)?_hooks\b"
                      r"|\b_optimizer_step_\w+|\b_global_optimizer_\w+|\._modules\b")


def test_every_private_torch_use_in_gankit_is_a_record():
    fenced = {site.split(":")[0] for path in fastpaths.PATHS.values() for site in path.used_in}
    unfenced = []
    for file in sorted(SOURCE.rglob("*.py")):
        relative = file.relative_to(SOURCE).as_posix()
        if relative == "fastpaths.py" or relative in fenced:
            continue
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
            if _PRIVATE.search(line):
                unfenced.append(f"{relative}:{number}: {line.strip()}")
    assert not unfenced, "private PyTorch API outside gankit/fastpaths.py's records:\n" + "\n".join(unfenced)


# ---------------------------------------------- each private API against its fallback (canaries)

def test_fused_adam_kernel_is_the_optimizers_step(monkeypatch):
    calls = []  # gankit's own calls of the kernel (the optimizer's step calls it too)
    kernel = torch._fused_adam_
    results = []
    for on in (True, False):
        _switch(monkeypatch, on)
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 1))
        opt = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.5, 0.99), weight_decay=0.01, fused=True)
        step = FusedAdamStep(opt)
        monkeypatch.setattr(torch, "_fused_adam_", _spy(calls, on, kernel))
        for i in range(4):
            opt.zero_grad()
            net(torch.randn(8, 3, generator=torch.Generator().manual_seed(i))).square().mean().backward()
            try:
                step()
            except (TypeError, RuntimeError) as error:
                pytest.fail(_broken("fused_adam", f"fails on a tiny Adam step: {error}"))
        monkeypatch.setattr(torch, "_fused_adam_", kernel)
        results.append([*net.parameters(), *(t for s in opt.state.values() for t in s.values())])
    assert calls == [True] * 3, f"the direct kernel call was not taken as expected: {calls}"
    assert all(torch.equal(a, b) for a, b in zip(*results)), _broken("fused_adam", "no longer equals optimizer.step()")


def test_optimizer_hook_tables_fill_when_hooks_are_registered():
    from torch.optim import optimizer as optimizer_module

    opt = torch.optim.Adam(nn.Linear(2, 1).parameters(), fused=True)
    registrations = {"_optimizer_step_pre_hooks": opt.register_step_pre_hook,
                     "_optimizer_step_post_hooks": opt.register_step_post_hook}
    for attribute, register in registrations.items():
        assert hasattr(opt, attribute), _broken("optimizer_hooks", f"lacks Optimizer.{attribute}")
        assert not getattr(opt, attribute)
        handle = register(lambda *args: None)
        assert getattr(opt, attribute), _broken("optimizer_hooks", f"keeps {attribute} hooks elsewhere")
        handle.remove()
    for attribute, register in (("_global_optimizer_pre_hooks", optimizer_module.register_optimizer_step_pre_hook),
                                ("_global_optimizer_post_hooks", optimizer_module.register_optimizer_step_post_hook)):
        table = getattr(optimizer_module, attribute, None)
        assert table is not None, _broken("optimizer_hooks", f"lacks torch.optim.optimizer.{attribute}")
        handle = register(lambda *args: None)
        try:
            assert getattr(optimizer_module, attribute), _broken("optimizer_hooks", f"keeps {attribute} elsewhere")
        finally:
            handle.remove()


def test_foreach_lerp_is_lerp_per_tensor(monkeypatch):
    results = []
    for on in (True, False):
        _switch(monkeypatch, on)
        torch.manual_seed(0)
        generator, ema = nn.Linear(5, 3), nn.Linear(5, 3)
        update_ema(ema, generator, 0.9)
        results.append(list(ema.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(*results)), _broken("ema_foreach_lerp", "differs from lerp_")


def test_foreach_norm_is_vector_norm_per_tensor(monkeypatch):
    grads = [torch.randn(7, 3), torch.randn(5), torch.randn(1)]
    params = [torch.zeros_like(g) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g
    step = types.SimpleNamespace(record_diagnostics=True)
    norms = []
    for on in (True, False):
        _switch(monkeypatch, on)
        norms.append(AdversarialStep.gradient_norm(step, params))
    assert torch.equal(*norms), _broken("grad_norm_foreach_norm", f"differs from vector_norm: {norms}")
    torch.testing.assert_close(norms[0], torch.cat([g.flatten() for g in grads]).norm())


@pytest.mark.parametrize("channels, kernel, stride, padding, out_pad, bias", [(1, 5, 2, 2, 1, True), (3, 4, 2, 1, 0, False)])
def test_im2col_conv_transpose_is_the_oneDNN_one(monkeypatch, channels, kernel, stride, padding, out_pad, bias):
    torch.manual_seed(0)
    layer = ImageConvTranspose2d(8, channels, kernel, stride, padding=padding, output_padding=out_pad, bias=bias)
    x = torch.randn(3, 8, 7, 6)
    results = []
    for on in (True, False):
        _switch(monkeypatch, on)
        layer.zero_grad()
        point = x.clone().requires_grad_()
        try:
            y = layer(point)
            y.backward(torch.ones_like(y))
        except (TypeError, RuntimeError) as error:
            pytest.fail(_broken("im2col_conv_transpose", f"fails on a tiny input: {error}"))
        assert type(y.grad_fn).__name__.startswith("SlowConvTranspose2D") is on
        results.append([y, point.grad, layer.weight.grad] + ([layer.bias.grad] if bias else []))
    for a, b in zip(*results):  # another summation order: float32 rounding
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4,
                                   msg=lambda m: _broken("im2col_conv_transpose", f"differs from oneDNN's: {m}"))


def test_the_engine_plan_tells_which_inputs_backward_will_use():
    seen = []

    class Probe(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, grad):
            seen.append([torch._C._will_engine_execute_node(node) for node, _ in ctx.next_functions])
            return grad, grad

    a, b = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    try:
        Probe.apply(a, b).sum().backward(inputs=[a])
        Probe.apply(a, b).sum().backward()
    except (AttributeError, TypeError, RuntimeError) as error:
        pytest.fail(_broken("engine_plan", f"fails in a backward: {error}"))
    assert seen == [[True, False], [True, True]], _broken("engine_plan", f"answers {seen}")


def test_the_one_node_mlp_without_the_engine_plan_gives_the_same_gradients(monkeypatch):
    results = []
    for on in (True, False):
        _switch(monkeypatch, on)
        torch.manual_seed(0)
        g, d = MLPGenerator(2, [8], 2, output_activation="tanh"), MLPDiscriminator(2, [8, 8])
        monkeypatch.setattr("gankit.models.mlp.has_layer_hooks", lambda layers: False)  # keep the chain
        d(g(torch.randn(4, 2))).sum().backward(inputs=list(g.parameters()))
        assert all(p.grad is None for p in d.parameters())
        results.append([p.grad for p in g.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*results))


@pytest.mark.parametrize("output", ["tanh", "sigmoid", "linear"])
def test_output_activation_backward_kernels_are_their_formulas(output):
    torch.manual_seed(0)
    grad = torch.randn(33, 17)
    y = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "linear": lambda t: t}[output](torch.randn(33, 17) * 3)
    try:
        private = _output_backward(grad, y, output, True)
    except (AttributeError, TypeError, RuntimeError) as error:
        pytest.fail(_broken("activation_backward", f"fails for {output}: {error}"))
    assert torch.equal(private, _output_backward(grad, y, output, False)), \
        _broken("activation_backward", f"{output}'s kernel no longer equals its formula bitwise")


@pytest.mark.parametrize("slope", [0.0, 0.2])
def test_hidden_activation_backward_kernels_are_their_formulas(slope):
    torch.manual_seed(0)
    g = torch.randn(33, 17)
    h = F.leaky_relu(torch.randn(33, 17), slope)
    h[0, :4] = torch.tensor([0.0, -0.0, float("nan"), float("inf")])
    try:
        private = _hidden_backward(g, h, slope, True)
    except (AttributeError, TypeError, RuntimeError) as error:
        pytest.fail(_broken("activation_backward", f"fails for slope {slope}: {error}"))
    public = _hidden_backward(g, h, slope, False)
    assert torch.equal(private, public) and torch.equal(private.signbit(), public.signbit()), \
        _broken("activation_backward", f"the (leaky) ReLU kernel at slope {slope} no longer equals its formula")


def test_module_hook_tables_fill_when_hooks_are_registered(monkeypatch):
    layer = nn.Linear(2, 2)
    registrations = {"_forward_hooks": lambda: layer.register_forward_hook(lambda *a: None),
                     "_forward_pre_hooks": lambda: layer.register_forward_pre_hook(lambda *a: None),
                     "_backward_hooks": lambda: layer.register_full_backward_hook(lambda *a: None),
                     "_backward_pre_hooks": lambda: layer.register_full_backward_pre_hook(lambda *a: None)}
    _switch(monkeypatch, True)
    for attribute, register in registrations.items():
        assert hasattr(layer, attribute), _broken("module_hooks", f"lacks Module.{attribute}")
        assert not has_layer_hooks([layer])
        handle = register()
        assert has_layer_hooks([layer]), _broken("module_hooks", f"keeps {attribute} elsewhere")
        handle.remove()


def test_without_the_hook_tables_every_layer_counts_as_hooked(monkeypatch):
    read = []

    class Spy:
        def __getattr__(self, name):
            read.append(name)
            raise AttributeError(name)

    _switch(monkeypatch, True)
    assert has_layer_hooks([Spy()]) and read  # a PyTorch without the tables: assume hooks
    read.clear()
    _switch(monkeypatch, False)
    assert has_layer_hooks([Spy()]) and not read


def test_the_oneDNN_bf16_question_answers(monkeypatch):
    try:
        answer = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    except (AttributeError, RuntimeError) as error:
        pytest.fail(_broken("onednn_bf16_query", f"fails: {error}"))
    assert isinstance(answer, bool), _broken("onednn_bf16_query", f"answers {answer!r}")


# ------------------------------------------------------- with the switch off, no private call

def _called_from_gankit(frame) -> bool:
    return frame.f_globals.get("__name__", "").startswith("gankit.")


class _GuardedHooks(OrderedDict):
    """A hook table that notes when gankit's code asks whether it is empty."""

    def __init__(self, hits, name, table):
        super().__init__(table)
        self.hits, self.name = hits, name

    def __len__(self):
        if _called_from_gankit(sys._getframe(1)):
            self.hits.append(self.name)
        return super().__len__()

    def __deepcopy__(self, memo):
        return _GuardedHooks(self.hits, self.name, OrderedDict(self))


def _spy(hits, name, function):
    def spied(*args, **kwargs):
        if _called_from_gankit(sys._getframe(1)):
            hits.append(name)
        return function(*args, **kwargs)
    return spied


def _spy_on_private_apis(monkeypatch, modules=(), optimizers=()) -> list[str]:
    """Replace every private API of the records (and the hook tables of ``modules`` and
    ``optimizers``) by spies; returns the list of path names gankit's code reached."""
    hits: list[str] = []
    for name, path in fastpaths.PATHS.items():
        for dotted in path.requires:
            owner_name, _, attribute = dotted.rpartition(".")
            owner = fastpaths.resolve(owner_name)
            target = getattr(owner, attribute)
            spy = _GuardedHooks(hits, name, target) if isinstance(target, dict) else _spy(hits, name, target)
            monkeypatch.setattr(owner, attribute, spy)
        for api in path.private_api:
            owner_name, _, attribute = api.rpartition(".")
            instances = {"torch.nn.Module": [m for module in modules for m in module.modules()],
                         "torch.optim.Optimizer": list(optimizers)}.get(owner_name, ())
            for instance in instances:
                monkeypatch.setattr(instance, attribute, _GuardedHooks(hits, name, getattr(instance, attribute)))
    return hits


def _models(trainer):
    m = trainer.models
    return [net for net in (m.generator, m.discriminator, m.generator_ema) if net is not None], \
        [m.g_optimizer, m.d_optimizer]


def _state(trainer):
    m = trainer.models
    nets = [net for net in (m.generator, m.discriminator, m.generator_ema) if net is not None]
    tensors = [t for net in nets for t in net.state_dict().values()]
    tensors += [t for opt in (m.g_optimizer, m.d_optimizer) for s in opt.state_dict()["state"].values()
                for t in s.values()]
    return tensors + [trainer.epoch_stats]


def _run(monkeypatch, tmp_path, preset, overrides, *, on, manual, epochs=1, name="run"):
    """A trainer run with every private API spied on: (spied path names, final tensors). The
    step's fast-path choice (manual step, one-node chains) is made with the switch at ``on``
    for the autograd step, and with the switch on for the manual step, whose own arithmetic is
    then run with the switch at ``on``."""
    _switch(monkeypatch, on or manual)
    trainer = Trainer(load_config(preset, overrides), tmp_path / name)
    trainer.step_fn.use_manual = manual
    trainer.step_fn.prepared()  # chooses the manual step's chains
    assert (trainer.step_fn.manual_chains() is not None) is manual
    hits = _spy_on_private_apis(monkeypatch, *_models(trainer))
    _switch(monkeypatch, on)
    torch.manual_seed(7)  # dropout draws from the global RNG
    for _ in range(epochs):
        trainer.position.batch = 0
        trainer.run_epoch()
    monkeypatch.undo()
    return set(hits), _state(trainer)


MLP = TINY + ["model.pack=2", "model.g_output=tanh", "train.ema_decay=0.99", "model.d_dropout=0.3",
              "model.g_dropout=0.1", "train.lr_decay=linear"]


def _check(on_hits, off_hits, expected):
    assert not off_hits, f"with {fastpaths.SWITCH}=0 gankit still called the private paths {sorted(off_hits)}"
    assert expected <= on_hits, f"the spies did not see {sorted(expected - on_hits)} with the switch on"


def test_mlp_autograd_step_without_private_torch_is_bitwise_the_same(monkeypatch, tmp_path):
    """Off: nn.Sequential, optimizer.step(), lerp_ and vector_norm per tensor; on: the one-node
    chain with the engine's plan and ATen's backward kernels, the direct fused-Adam call, _foreach."""
    on_hits, on = _run(monkeypatch, tmp_path, "toy-ring8", MLP, on=True, manual=False, epochs=2, name="on")
    off_hits, off = _run(monkeypatch, tmp_path, "toy-ring8", MLP, on=False, manual=False, epochs=2, name="off")
    _check(on_hits, off_hits, EXERCISED_BY["mlp_autograd"])
    assert all(torch.equal(a, b) for a, b in zip(on, off))


@pytest.mark.parametrize("overrides", [["model.d_slope=0", "train.ema_decay=0.99"],
                                       ["model.g_output=sigmoid", "model.pack=2", "model.d_dropout=0.3"]])
def test_manual_mlp_step_without_private_torch_is_bitwise_the_same(monkeypatch, tmp_path, overrides):
    """The hand-written-gradient step's own arithmetic: activation backward formulas instead of
    ATen's kernels, optimizer.step(), lerp_ and vector_norm per tensor. (With the switch off
    from the start a run takes the autograd step: the test above.)"""
    config = TINY + ["model.g_output=tanh"] + overrides
    on_hits, on = _run(monkeypatch, tmp_path, "toy-ring8", config, on=True, manual=True, name="on")
    off_hits, off = _run(monkeypatch, tmp_path, "toy-ring8", config, on=False, manual=True, name="off")
    _check(on_hits, off_hits, EXERCISED_BY["mlp_manual"])
    assert all(torch.equal(a, b) for a, b in zip(on, off))


DCGAN = ["data.limit=64", "train.batch_size=32", "model.base_width=8", "model.latent_dim=16", "eval.every=0",
         "train.sample_every=0", "train.progress=false", "train.tensorboard=false", "train.checkpoint_every=0"]


def test_dcgan_step_without_private_torch_trains_to_float_rounding(monkeypatch, tmp_path):
    """Off: the generator's last transposed convolution runs oneDNN's kernel, another summation
    order than the im2col kernel: the same training to float32 rounding."""
    on_hits, on = _run(monkeypatch, tmp_path, "mnist-dcgan", DCGAN, on=True, manual=False, name="on")
    off_hits, off = _run(monkeypatch, tmp_path, "mnist-dcgan", DCGAN, on=False, manual=False, name="off")
    _check(on_hits, off_hits, EXERCISED_BY["dcgan"])
    for a, b in zip(on, off):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_bf16_speedup_without_private_torch_is_timed(monkeypatch):
    found = []
    for on in (True, False):
        hits = _spy_on_private_apis(monkeypatch)
        _switch(monkeypatch, on)
        hardware.bf16_matmul_speedup.cache_clear()
        try:
            speedup = hardware.bf16_matmul_speedup("cpu")
        finally:
            hardware.bf16_matmul_speedup.cache_clear()
            monkeypatch.undo()
        assert speedup >= 0.0
        found.append(set(hits))
    _check(found[0], found[1], EXERCISED_BY["bf16"])


EXERCISED_BY = {
    "mlp_autograd": {"fused_adam", "optimizer_hooks", "ema_foreach_lerp", "grad_norm_foreach_norm", "engine_plan",
                     "activation_backward", "module_hooks"},
    "mlp_manual": {"fused_adam", "optimizer_hooks", "grad_norm_foreach_norm", "activation_backward"},
    "dcgan": {"fused_adam", "optimizer_hooks", "ema_foreach_lerp", "grad_norm_foreach_norm", "im2col_conv_transpose"},
    "bf16": {"onednn_bf16_query"} if torch.backends.mkldnn.is_available() else set(),
}


def test_the_switch_off_runs_cover_every_private_path():
    covered = set().union(*EXERCISED_BY.values())
    missing = set(fastpaths.PATHS) - covered - ({"onednn_bf16_query"} if not torch.backends.mkldnn.is_available() else set())
    assert not missing, f"no switch-off test reaches {sorted(missing)}"
