"""A plain MLP (Linear → activation → … → Linear → output activation) as one autograd node.

Autograd records two nodes per ``nn.Linear`` and one per activation, and each costs
bookkeeping that is a sizeable share of a step when the layers are 128 wide (the toy
presets). ``mlp_chain`` runs the same ``addmm`` and activations in one
``torch.autograd.Function`` and writes the backward by hand:

- forward: ``h = addmm(b, h, Wᵀ)``, the activation in place and, in train mode, dropout,
  exactly as ``F.linear`` and the modules compute them, so outputs and gradients are
  bitwise those of the ``nn.Sequential`` it replaces (tested);
- backward: for each layer from the top, ∂W = gᵀ·h, ∂b = Σ g, g ← (g·W) ⊙ act′, with the
  activation's derivative read from its saved output (ReLU/LeakyReLU/tanh/sigmoid all
  allow it). Gradients nobody asked for are skipped: the input's when it does not
  require grad, and the weights' when the engine will not use them
  (``loss.backward(inputs=G's params)`` through D computes no weight gradients of D);
- double backward (the WGAN-GP penalty's ``create_graph=True``) recomputes the chain
  with ordinary autograd from the saved inputs, so second derivatives are exact.

Two private PyTorch APIs, fenced in ``gankit/fastpaths.py``: the engine's plan
("engine_plan": without it, every gradient ``needs_input_grad`` asks for is computed) and the
activations' backward kernels ("activation_backward": without them, the same formulas in
public ops, bitwise equal). ``GANKIT_PRIVATE_TORCH=0`` turns both off.

Measured in BENCHMARKS.md ("Training speed and distributed"): ~4% of a ring8 step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

import gankit.fastpaths as fastpaths


class ChainSpec(NamedTuple):
    """A plain MLP as ``mlp_chain`` runs it: its Linears, the hidden LeakyReLU slope (0 = ReLU),
    the output activation (a key of the table below) and the hidden layers' dropout."""

    linears: tuple[nn.Linear, ...]
    slope: float
    output: str
    dropout: float


# Output activations the chain knows: name -> in-place forward (backward: _output_backward).
_OUTPUTS = {"linear": None, "tanh": Tensor.tanh_, "sigmoid": Tensor.sigmoid_}


def _output_backward(grad: Tensor, y: Tensor, output: str, private: bool) -> Tensor:
    """∂/∂(pre-activation) from ``grad`` = ∂/∂y for the output activation's result ``y``: ATen's
    backward kernels where ``private`` (fastpaths "activation_backward"), else the same formulas
    in public ops (1 − y² through addcmul, which rounds as tanh_backward's kernel does)."""
    if output == "tanh":
        return (torch.ops.aten.tanh_backward(grad, y) if private
                else grad * torch.addcmul(torch.ones_like(y), y, y, value=-1.0))
    if output == "sigmoid":
        return torch.ops.aten.sigmoid_backward(grad, y) if private else grad * (1.0 - y) * y
    return grad


def _hidden_backward(g: Tensor, h: Tensor, slope: float, private: bool) -> Tensor:
    """∂/∂(pre-activation) from ``g`` = ∂/∂h for a hidden (Leaky)ReLU's output ``h`` (h > 0 exactly
    where its input was)."""
    if slope == 0.0:
        return torch.ops.aten.threshold_backward(g, h, 0.0) if private else torch.where(h <= 0, 0.0, g)
    return torch.ops.aten.leaky_relu_backward(g, h, slope, True) if private else torch.where(h > 0, g, g * slope)


def _hidden_activation(h: Tensor, slope: float) -> Tensor:
    return h.relu_() if slope == 0.0 else F.leaky_relu_(h, slope)


def _reference_chain(x: Tensor, slope: float, output: str, params: tuple[Tensor, ...],
                     noises: Sequence[Tensor]) -> Tensor:
    """The same chain with ordinary (out-of-place) autograd ops and the forward's dropout
    noise: used for double backward."""
    n = len(params) // 2
    h = x
    for i in range(n):
        h = F.linear(h, params[2 * i], params[2 * i + 1])
        if i < n - 1:
            h = F.relu(h) if slope == 0.0 else F.leaky_relu(h, slope)
            if noises:
                h = h * noises[i]
    if output == "tanh":
        h = torch.tanh(h)
    elif output == "sigmoid":
        h = torch.sigmoid(h)
    return h


def _wanted_gradients(ctx) -> tuple[bool, ...]:
    """Which inputs' gradients the running backward will use: ``needs_input_grad``, narrowed by
    the engine's plan where it can tell (``backward(inputs=...)``; not under autograd.grad)."""
    needs = list(ctx.needs_input_grad)
    if not fastpaths.enabled("engine_plan"):
        return tuple(needs)
    try:
        for index, (node, _) in enumerate(ctx.next_functions):
            if needs[index] and node is not None:
                needs[index] = torch._C._will_engine_execute_node(node)
    except (RuntimeError, AttributeError):
        return tuple(ctx.needs_input_grad)
    return tuple(needs)


def chain_forward(x: Tensor, params: Sequence[Tensor], slope: float, output: str,
                  dropout: float = 0.0) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """(output, hidden layers' outputs, dropout noises) of the chain with weights/biases
    ``params`` (w0, b0, w1, …), no autograd of its own (the caller runs it inside a Function or
    under no_grad). ``dropout`` p > 0 drops hidden units after each activation exactly as
    ``nn.Dropout`` in train mode does on the CPU (same draws from the global RNG, same
    values: noise = bernoulli(1 − p)/(1 − p), h·noise); pass 0 in eval mode."""
    n = len(params) // 2
    h = x
    hidden, noises = [], []
    for i in range(n):
        h = torch.addmm(params[2 * i + 1], h, params[2 * i].t())
        if i < n - 1:
            h = _hidden_activation(h, slope)
            if dropout > 0.0:
                noise = torch.empty_like(h).bernoulli_(1.0 - dropout).div_(1.0 - dropout)
                noises.append(noise)
                h = h * noise
            hidden.append(h)
    forward_output = _OUTPUTS[output]
    if forward_output is not None:
        forward_output(h)
    return h, hidden, noises


def chain_backward(grad: Tensor, x: Tensor, y: Tensor, hidden: Sequence[Tensor], params: Sequence[Tensor],
                   slope: float, output: str, want_params: Sequence[bool] | bool = True,
                   want_x: bool = False, noises: Sequence[Tensor] = ()) -> tuple[Tensor | None, list[Tensor | None]]:
    """(∂/∂x, [∂/∂w0, ∂/∂b0, …]) from ``grad`` = ∂/∂y, for a ``chain_forward`` that gave ``y``,
    ``hidden`` and ``noises`` from ``x``; ``want_params`` (one flag, or one per parameter) and
    ``want_x`` say which to compute (None for the others). After dropout a hidden output is 0
    where it was dropped and has the activation's sign elsewhere, so the activation's
    derivative read from it is the one read from the undropped value."""
    n = len(params) // 2
    wanted = [want_params] * (2 * n) if isinstance(want_params, bool) else list(want_params)
    layer_inputs = [x, *hidden]
    private = fastpaths.enabled("activation_backward")
    g = _output_backward(grad, y, output, private)
    grads: list[Tensor | None] = [None] * (2 * n)
    grad_x = None
    for i in reversed(range(n)):
        if wanted[2 * i]:
            grads[2 * i] = torch.mm(g.t(), layer_inputs[i])
        if wanted[2 * i + 1]:
            grads[2 * i + 1] = g.sum(0)
        if i > 0:
            g = torch.mm(g, params[2 * i])
            if noises:
                g = g * noises[i - 1]
            h = layer_inputs[i]
            g = _hidden_backward(g, h, slope, private)
        elif want_x:
            grad_x = torch.mm(g, params[0])
    return grad_x, grads


class _MLPChain(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, slope: float, output: str, dropout: float, *params: Tensor) -> Tensor:
        y, hidden, noises = chain_forward(x, params, slope, output, dropout)
        ctx.slope, ctx.output, ctx.hidden, ctx.noises = slope, output, hidden, noises
        ctx.save_for_backward(x, y, *params)
        return y

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, y, *params = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: differentiate the recomputed chain
            leaves = [x, *params]
            targets = [t for t in leaves if t.requires_grad]
            with torch.enable_grad():
                out = _reference_chain(x, ctx.slope, ctx.output, tuple(params), ctx.noises)
                grads = iter(torch.autograd.grad(out, targets, grad, create_graph=True, allow_unused=True))
            result = [next(grads) if t.requires_grad else None for t in leaves]
            return (result[0], None, None, None, *result[1:])
        wanted = _wanted_gradients(ctx)
        grad_x, grads = chain_backward(grad, x, y, ctx.hidden, params, ctx.slope, ctx.output,
                                       want_params=wanted[4:], want_x=wanted[0], noises=ctx.noises)
        return (grad_x, None, None, None, *grads)


def chain_parameters(linears: Sequence[nn.Linear]) -> list[Tensor]:
    """[w0, b0, w1, b1, …] of ``linears``: the ``params`` of ``chain_forward``/``chain_backward``."""
    params = []
    for layer in linears:
        params += [layer.weight, layer.bias]
    return params


def mlp_chain(x: Tensor, linears: Sequence[nn.Linear], slope: float, output: str = "linear",
              dropout: float = 0.0) -> Tensor:
    """``x`` (B, F) through ``linears`` with LeakyReLU(``slope``) (ReLU for 0) and dropout
    ``dropout`` (0 in eval mode) between them and the ``output`` activation (linear, tanh,
    sigmoid) after the last, as one autograd node."""
    return _MLPChain.apply(x, float(slope), output, float(dropout), *chain_parameters(linears))
