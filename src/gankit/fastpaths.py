"""Every place gankit uses a private PyTorch API, and the public way it falls back to.

A few of gankit's speed-ups call into PyTorch below its public API: a kernel behind
``torch.optim.Adam(fused=True)``, the ``_foreach`` loops, the CPU's im2col transposed
convolution, the autograd engine's plan, the backward formulas of activations, the hook
tables of modules and optimizers. A PyTorch release may rename or change any of them. Each
such use is one ``FastPath`` record in ``PATHS`` below (its name, the private API, where it
is used, the public fallback and how the fallback's results compare), and its call site asks
``enabled(name)`` before taking it, and takes the public fallback where the path is off or
this PyTorch lacks it.

One switch turns every private path off: the environment variable ``GANKIT_PRIVATE_TORCH=0``
(also ``false``/``no``/``off``). It is read from ``os.environ`` at every ``enabled`` call;
nothing is cached. Results with the switch on are unchanged; with it off they are bitwise
the same except where a record's ``agreement`` says otherwise. ``tests/test_fastpaths.py``
checks each private API on a tiny input against its fallback (so a PyTorch upgrade that
removes or changes one fails there, by name) and that with the switch off gankit calls none
of them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from functools import reduce

import torch

SWITCH = "GANKIT_PRIVATE_TORCH"
_OFF = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class FastPath:
    """One use of a private PyTorch API.

    ``private_api``: what it uses (dotted names; an instance attribute as ``Class.attribute``);
    ``requires``: the names of those that ``available`` resolves from ``torch`` (attributes of
    instances are checked where they are read, which falls back when one is missing);
    ``used_in``: where (path under ``gankit/``: function); ``fallback``: what runs instead;
    ``agreement``: how the fallback's results compare with the private path's."""

    name: str
    private_api: tuple[str, ...]
    requires: tuple[str, ...]
    used_in: tuple[str, ...]
    fallback: str
    agreement: str
    _splits: tuple = field(init=False, repr=False, compare=False)  # per name in requires: _prefixes

    def __post_init__(self) -> None:
        object.__setattr__(self, "_splits", tuple(_prefixes(dotted) for dotted in self.requires))

    def available(self) -> bool:
        """Whether this PyTorch has every name in ``requires``."""
        try:
            for splits in self._splits:
                _find(splits)
        except AttributeError:
            return False
        return True


def resolve(dotted: str) -> object:
    """The object a dotted name under ``torch`` names, read from its longest imported module
    prefix (``torch.optim`` does not keep its submodules as attributes); AttributeError if it is
    missing."""
    return _find(_prefixes(dotted))


def _find(splits: tuple[tuple[str, tuple[str, ...]], ...]) -> object:
    for module_name, attributes in splits:
        module = sys.modules.get(module_name)
        if module is not None:
            return reduce(getattr, attributes, module)
    raise AttributeError(f"no module of {splits[0][0]} is imported")


def _prefixes(dotted: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(module name, attribute names) splits of ``dotted``, the longest module name first."""
    parts = dotted.split(".")
    if parts[0] != torch.__name__:
        raise ValueError(f"{dotted} is not a name under torch")
    return tuple((".".join(parts[:cut]), tuple(parts[cut:])) for cut in range(len(parts), 0, -1))


_PATHS = (
    FastPath(
        "fused_adam", ("torch._fused_adam_", "torch._foreach_add_"),
        ("torch._fused_adam_", "torch._foreach_add_"),
        ("training/optim.py: FusedAdamStep.__call__",),
        "optimizer.step() of the fused torch.optim.Adam (the same kernel, reached through the public "
        "optimizer with its per-call bookkeeping)", "bitwise"),
    FastPath(
        "optimizer_hooks",
        ("torch.optim.Optimizer._optimizer_step_pre_hooks", "torch.optim.Optimizer._optimizer_step_post_hooks",
         "torch.optim.optimizer._global_optimizer_pre_hooks", "torch.optim.optimizer._global_optimizer_post_hooks"),
        ("torch.optim.optimizer._global_optimizer_pre_hooks", "torch.optim.optimizer._global_optimizer_post_hooks"),
        ("training/optim.py: _has_step_hooks (asked before the direct fused-Adam call)",),
        "assume step hooks may be registered: optimizer.step(), which runs them", "bitwise"),
    FastPath(
        "ema_foreach_lerp", ("torch._foreach_lerp_",), ("torch._foreach_lerp_",),
        ("training/step.py: update_ema",),
        "Tensor.lerp_ per parameter", "bitwise on the CPU (its _foreach_lerp_ loops over lerp_)"),
    FastPath(
        "grad_norm_foreach_norm", ("torch._foreach_norm",), ("torch._foreach_norm",),
        ("training/step.py: AdversarialStep.gradient_norm",),
        "torch.linalg.vector_norm per gradient", "bitwise on the CPU (its _foreach_norm loops over vector_norm)"),
    FastPath(
        "im2col_conv_transpose", ("torch._C._nn.slow_conv_transpose2d",), ("torch._C._nn.slow_conv_transpose2d",),
        ("models/layers.py: ImageConvTranspose2d.forward",),
        "nn.ConvTranspose2d.forward (oneDNN's deconvolution on the CPU)",
        "float32 rounding (another summation order); slower with 1-3 output channels"),
    FastPath(
        "engine_plan", ("torch._C._will_engine_execute_node",), ("torch._C._will_engine_execute_node",),
        ("models/fused.py: _wanted_gradients",),
        "ctx.needs_input_grad: the one-node MLP also computes weight gradients that backward(inputs=...) "
        "then discards", "bitwise"),
    FastPath(
        "activation_backward",
        ("torch.ops.aten.tanh_backward", "torch.ops.aten.sigmoid_backward", "torch.ops.aten.threshold_backward",
         "torch.ops.aten.leaky_relu_backward"),
        ("torch.ops.aten.tanh_backward", "torch.ops.aten.sigmoid_backward", "torch.ops.aten.threshold_backward",
         "torch.ops.aten.leaky_relu_backward"),
        ("models/fused.py: chain_backward (the one-node MLP and the hand-written-gradient step)",),
        "the same formulas in public ops: g·addcmul(1, y, y, value=−1), g·(1 − y)·y, where(h ≤ 0, 0, g), "
        "where(h > 0, g, slope·g)", "bitwise (tested on x86 builds: DEFAULT, AVX2 and AVX-512 kernels)"),
    FastPath(
        "module_hooks",
        ("torch.nn.Module._forward_hooks", "torch.nn.Module._forward_pre_hooks", "torch.nn.Module._backward_hooks",
         "torch.nn.Module._backward_pre_hooks"), (),
        ("models/mlp.py: has_layer_hooks (asked by _use_chain and training/manual_mlp.py: plain_chains)",),
        "assume hooks may be registered: plain MLPs run their nn.Sequential and the step takes autograd",
        "the one-node MLP bitwise; the hand-written-gradient step to float rounding (its score "
        "derivatives are formulas)"),
    FastPath(
        "onednn_bf16_query", ("torch.ops.mkldnn._is_mkldnn_bf16_supported",),
        ("torch.ops.mkldnn._is_mkldnn_bf16_supported",),
        ("hardware.py: bf16_matmul_speedup",),
        "time the bfloat16 product on every CPU with oneDNN (the measurement alone decides; cached per "
        "process, so the switch counts at the first call)",
        "the same choice of format where bfloat16 is emulated (it times slower); a few ms more, once per process"),
)

PATHS: dict[str, FastPath] = {path.name: path for path in _PATHS}


def private_torch_allowed() -> bool:
    """False when ``GANKIT_PRIVATE_TORCH`` is 0 (or false/no/off): every private path is off."""
    return os.environ.get(SWITCH, "").strip().lower() not in _OFF


def enabled(name: str) -> bool:
    """Whether the call site of private path ``name`` (a key of ``PATHS``) may take it: the switch
    allows private paths and this PyTorch has what the path needs."""
    path = PATHS[name]
    return private_torch_allowed() and path.available()
