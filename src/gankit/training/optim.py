"""The networks' optimizers: fused Adam, its learning-rate schedule, and a lean way to step it.

``FusedAdamStep(optimizer)()`` performs exactly ``optimizer.step()`` for a fused Adam (same
kernel, same state tensors, bitwise the same result: tested) without the per-call Python
bookkeeping of ``torch.optim`` (decorators, profiler records, regrouping the tensors by
device and dtype, re-reading every parameter's state): ~35 µs per call alone, and ~0.12 ms
per optimizer inside a ring8 step, where it runs cache-cold (BENCHMARKS.md, "Training speed and distributed"). The
optimizer object stays the source of truth: its ``state_dict`` is what checkpoints save,
and whenever its state or parameter groups are replaced (``load_state_dict``), a gradient
is missing, step hooks are registered, or an option the kernel call below does not cover is
set, the step is simply ``optimizer.step()``. The kernel and the hook tables are private PyTorch
APIs, fenced in ``gankit/fastpaths.py`` ("fused_adam", "optimizer_hooks"): with
``GANKIT_PRIVATE_TORCH=0`` (or a PyTorch without them) every step is ``optimizer.step()``.
"""

from __future__ import annotations

import torch
import torch.optim.optimizer as _optimizer_module
from torch import nn

import gankit.fastpaths as fastpaths
from gankit.config import TrainConfig
from gankit.training.types import AdversarialModels


def make_optimizers(generator: nn.Module, discriminator: nn.Module,
                    train_config: TrainConfig) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """Adam per network with its own learning rate and betas.

    The fused kernel (one pass over each parameter for the whole update) is ~4× faster
    than the default per-operation loop on CPU, where Adam was over a third of an MLP step.
    """
    t = train_config
    g_opt = torch.optim.Adam(generator.parameters(), lr=t.g_lr, betas=tuple(t.g_betas), fused=True)
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=t.d_lr, betas=tuple(t.d_betas), fused=True)
    return g_opt, d_opt


def set_learning_rates(models: AdversarialModels, train_config: TrainConfig, step: int, total_steps: int) -> None:
    """``train.g_lr``/``d_lr``, scaled by 1 − step/total_steps under ``lr_decay = "linear"``."""
    t = train_config
    scale = max(0.0, 1.0 - step / max(1, total_steps)) if t.lr_decay == "linear" else 1.0
    for optimizer, lr in ((models.g_optimizer, t.g_lr), (models.d_optimizer, t.d_lr)):
        for group in optimizer.param_groups:
            group["lr"] = lr * scale


# Group options under which the direct kernel call below equals torch.optim.Adam's fused step.
_PLAIN_OPTIONS = {"fused": True, "amsgrad": False, "maximize": False, "differentiable": False,
                  "capturable": False, "decoupled_weight_decay": False}


def _has_step_hooks(optimizer: torch.optim.Optimizer) -> bool:
    """Step hooks (the optimizer's own or global ones) run only inside ``optimizer.step()``.
    True where the hook tables (private: fastpaths "optimizer_hooks") cannot be read."""
    if not fastpaths.enabled("optimizer_hooks"):
        return True
    try:
        return bool(optimizer._optimizer_step_pre_hooks or optimizer._optimizer_step_post_hooks
                    or _optimizer_module._global_optimizer_pre_hooks
                    or _optimizer_module._global_optimizer_post_hooks)
    except AttributeError:
        return True


class FusedAdamStep:
    """Callable doing ``optimizer.step()`` of a fused ``torch.optim.Adam`` via its kernel."""

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer
        self._of: tuple = ()
        self._groups: list | None = None

    def _gather(self) -> list | None:
        """Per group (params, exp_avgs, exp_avg_sqs, steps), or None where the kernel call
        would not be exactly the optimizer's step (state not created yet, mixed devices or
        dtypes, options beyond plain fused Adam, a tensor learning rate)."""
        opt = self.optimizer
        if not isinstance(opt, torch.optim.Adam):
            return None
        groups = []
        for group in opt.param_groups:
            if any(group.get(key, value) != value for key, value in _PLAIN_OPTIONS.items()):
                return None
            if isinstance(group["lr"], torch.Tensor) or isinstance(group["betas"][0], torch.Tensor):
                return None
            params = list(group["params"])
            states = [opt.state.get(p, {}) for p in params]
            if not params or not all("exp_avg" in s and "exp_avg_sq" in s and "step" in s for s in states):
                return None
            first = params[0]
            tensors = params + [s[k] for s in states for k in ("exp_avg", "exp_avg_sq")]
            if any(t.device != first.device or t.dtype != first.dtype or t.is_sparse for t in tensors):
                return None
            steps = [s["step"] for s in states]
            if any(not torch.is_tensor(t) or t.device != first.device or t.dtype != torch.float32 for t in steps):
                return None
            groups.append((params, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states], steps))
        return groups

    def __call__(self) -> None:
        opt = self.optimizer
        state, groups = self._of or (None, None)
        if state is not opt.state or groups is not opt.param_groups or self._groups is None \
                or len(self._groups) != len(opt.param_groups):
            self._groups = self._gather()
            self._of = (opt.state, opt.param_groups)
        if self._groups is None or not fastpaths.enabled("fused_adam") or _has_step_hooks(opt):
            opt.step()
            self._groups = self._gather()  # the first step creates the state
            return
        batches = []
        for group, (params, exp_avgs, exp_avg_sqs, steps) in zip(opt.param_groups, self._groups):
            grads = [p.grad for p in params]
            if any(g is None or g.dtype != p.dtype or g.is_sparse for g, p in zip(grads, params)):
                opt.step()
                return
            batches.append((group, params, grads, exp_avgs, exp_avg_sqs, steps))
        with torch.no_grad():
            for group, params, grads, exp_avgs, exp_avg_sqs, steps in batches:
                beta1, beta2 = group["betas"]
                torch._foreach_add_(steps, 1)
                torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False,
                                   lr=group["lr"], beta1=beta1, beta2=beta2,
                                   weight_decay=group["weight_decay"], eps=group["eps"], maximize=False,
                                   grad_scale=None, found_inf=None)
