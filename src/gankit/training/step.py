"""One adversarial step: a discriminator update and, every ``n_critic`` steps, a generator update.

What keeps the step fast (measured in BENCHMARKS.md, "Training speed and distributed"):
- the generator's forward pass of the discriminator step is reused by the generator step
  that follows it (G has not changed in between), so a G step costs no extra G forward;
- where the discriminator treats samples independently (no minibatch-std or
  minibatch-discrimination feature, no batch norm), real and fake go through it in one
  concatenated pass;
- the G step backpropagates into G's parameters only (``backward(inputs=...)``): no weight
  gradients of D are computed, and D needs no requires_grad toggling;
- plain MLPs run as one autograd node each (models/fused.py), and when both networks are
  plain MLPs (one process, no autocast/compile/penalty) the whole step runs without
  autograd (training/manual_mlp.py; ``use_manual = False`` turns that off);
- fused Adam (one kernel per update) called directly (training/optim.py), per-step
  statistics kept in a device tensor (no ``.item()``, so no host-device sync per step).

The private PyTorch calls here and in the modules above are fenced in ``gankit/fastpaths.py``;
``GANKIT_PRIVATE_TORCH=0`` turns them all off.

Under DDP (training/distributed.py) the trainer passes the wrapped networks as
``generator_train``/``discriminator_train``: their forward passes reduce gradients. Every
other forward pass (D in the G step, the gradient penalty, D on fake when passes are
separate) uses the plain module: its gradients reach the same parameters and are reduced
once, by the single backward that follows the wrapped forward.
"""

from __future__ import annotations

import contextlib
import copy

import torch
from torch import nn

import gankit.fastpaths as fastpaths
from gankit.config import ModelConfig, TrainConfig
from gankit.objectives import Objective, gradient_penalty
from gankit.sampling.latent import sample_latent
from gankit.training.manual_mlp import manual_step, plain_chains
from gankit.training.optim import FusedAdamStep
from gankit.training.small_data import SmallData
from gankit.training.types import AdversarialModels, EMAPairs, ManualChains, Prepared


def make_ema(generator: nn.Module) -> nn.Module:
    """A frozen copy of G whose weights follow an exponential moving average."""
    ema = copy.deepcopy(generator)
    ema.requires_grad_(False)
    ema.eval()
    return ema


def ema_pairs(ema: nn.Module, generator: nn.Module) -> EMAPairs:
    """(EMA parameters, G's parameters, (EMA buffer, G buffer) pairs): gathered once per run by
    the step, since walking the module trees every step cost ~0.2 ms of a 3 ms MLP step."""
    return list(ema.parameters()), list(generator.parameters()), list(zip(ema.buffers(), generator.buffers()))


@torch.no_grad()
def update_ema(ema: nn.Module, generator: nn.Module, decay: float, pairs: EMAPairs | None = None) -> None:
    """ema ← decay·ema + (1 − decay)·G for parameters and floating-point buffers.

    Batch-norm running statistics are averaged like the weights: copying the live
    generator's statistics next to averaged weights mismatches them (noisy, grey
    samples in eval mode). Integer buffers (batch counters) are copied.
    """
    ema_params, params, buffers = pairs or ema_pairs(ema, generator)
    if fastpaths.enabled("ema_foreach_lerp"):
        torch._foreach_lerp_(ema_params, params, 1.0 - decay)
    else:
        for ema_param, param in zip(ema_params, params):
            ema_param.lerp_(param, 1.0 - decay)
    for ema_buffer, buffer in buffers:
        if ema_buffer.is_floating_point():
            ema_buffer.lerp_(buffer, 1.0 - decay)
        else:
            ema_buffer.copy_(buffer)


def _clear_grads(parameters) -> None:
    """``zero_grad(set_to_none=True)`` without the optimizer's profiler bookkeeping."""
    for parameter in parameters:
        parameter.grad = None


def ema_decay_at(decay: float, generator_steps: int) -> float:
    """``min(decay, (1 + t)/(10 + t))`` after t generator steps (the warm-up of TF's
    ExponentialMovingAverage): early on the average follows G instead of holding on to
    the random initial weights for ~1/(1 − decay) steps."""
    return min(decay, (1.0 + generator_steps) / (10.0 + generator_steps))


class AdversarialStep:
    """Callable that performs one training step and returns its statistics as a tensor row.

    ``rows`` is this process's slice of the global batch (all of it in one process): latents
    and gradient-penalty weights are drawn for the global batch from the shared generator and
    sliced, so that DDP ranks together draw exactly what one process draws.
    ``train_config.autocast == "bf16"`` runs the networks' forward passes under bfloat16
    autocast (losses, penalty and optimizer state stay float32).
    """

    # Benchmarks switch this off to measure what the diagnostics' columns cost; NaN then.
    record_diagnostics = True
    # Plain MLPs train with hand-written gradients (manual_mlp.py) unless this is False.
    use_manual = True

    def __init__(self, models: AdversarialModels, objective: Objective, model_config: ModelConfig,
                 train_config: TrainConfig, generator: torch.Generator, device: torch.device,
                 rows: slice | None = None, small_data: SmallData | None = None):
        self.models = models
        self.objective = objective
        self.latent_dim = model_config.latent_dim
        self.latent_distribution = model_config.latent_distribution
        self.pack = model_config.pack
        self.concat_real_fake = not (model_config.minibatch_std or model_config.minibatch_kernels
                                     or model_config.d_batch_norm)
        self.ema_decay = train_config.ema_decay
        self.global_batch = train_config.batch_size
        self.rows = rows if rows is not None else slice(0, self.global_batch)
        self.autocast = getattr(train_config, "autocast", "none") == "bf16"
        self.rng = generator
        self.device = device
        self._flags = (torch.zeros((), device=device), torch.ones((), device=device))
        self._nan = torch.full((), float("nan"), device=device)
        self._owners: tuple = ()
        self._prepared: Prepared | None = None
        self.train_config = train_config
        self.zero = self._flags[0]
        self.has_ratio = objective.has_density_ratio
        # Augmentation and regularisers for small data (training/small_data.py); None: off.
        self.small_data = small_data

    def _autocast(self):
        if not self.autocast:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def row(self, losses: tuple[torch.Tensor, ...], scores: torch.Tensor, with_generator_step: bool,
             grad_norm: torch.Tensor) -> torch.Tensor:
        """The ``STAT_NAMES`` row (training/types.py) from the losses and D's scores of real (first
        half) and fake (second half): mean scores, and the mean of σ(log p/q), D's belief that a
        sample is real, per half."""
        halves = scores.detach().view(2, -1)
        if self.has_ratio and self.record_diagnostics:
            beliefs = torch.sigmoid(self.objective.log_density_ratio(halves)).view(2, -1).mean(dim=1)
        else:
            beliefs = self._nan.expand(2)
        flag = self._flags[int(with_generator_step)].view(1)
        return torch.cat([torch.stack(losses).detach(), halves.mean(dim=1), flag, beliefs, grad_norm.detach().view(1)])

    def prepared(self) -> Prepared:
        """The lists, optimizer steps and manual-step chains of the current network and optimizer
        objects, gathered at the first step and again whenever one of those objects is replaced
        (walking the module trees every step cost ~0.2 ms of a 3 ms MLP step)."""
        m = self.models
        owners = (m.generator, m.discriminator, m.generator_ema, m.g_optimizer, m.d_optimizer,
                  m.generator_train, m.discriminator_train)
        if self._prepared is None or any(a is not b for a, b in zip(owners, self._owners)):
            self._prepared = Prepared(
                g_params=[p for p in m.generator.parameters() if p.requires_grad],
                d_params=[p for group in m.d_optimizer.param_groups for p in group["params"]],
                ema=None if m.generator_ema is None else ema_pairs(m.generator_ema, m.generator),
                d_step=FusedAdamStep(m.d_optimizer), g_step=FusedAdamStep(m.g_optimizer),
                chains=None if self.small_data is not None else plain_chains(m, self.objective, self.train_config))
            self._owners = owners
        return self._prepared

    def manual_chains(self) -> ManualChains | None:
        """The plain MLP chains when the step runs with hand-written gradients (manual_mlp.py)."""
        return self.prepared().chains if self.use_manual else None

    def _penalty(self, critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """WGAN-GP penalty of ``critic`` (D, or D at the batch's classes) at this rank's rows of the
        global batch's mixing weights (float32)."""
        shape = (self.global_batch,) + (1,) * (real.dim() - 1)
        alpha = torch.rand(shape, generator=self.rng, device=real.device, dtype=real.dtype)[self.rows]
        return gradient_penalty(critic, real, fake.to(real.dtype), alpha=alpha)

    def seen(self, images: torch.Tensor) -> torch.Tensor:
        """What D sees of ``images``: augmented when the run augments (same draws on every rank)."""
        if self.small_data is None:
            return images
        return self.small_data.view(images, self.rng, self.global_batch, self.rows)

    def latents(self) -> torch.Tensor:
        """This process's rows of the global batch's latent codes (one draw from the shared RNG)."""
        return sample_latent(self.global_batch, self.latent_dim, self.latent_distribution, generator=self.rng,
                             device=self.device)[self.rows]

    def gradient_norm(self, g_params: list[torch.Tensor]) -> torch.Tensor:
        """L2 norm of G's gradient (NaN when the diagnostics' columns are off)."""
        if not self.record_diagnostics:
            return self._nan
        grads = [p.grad for p in g_params if p.grad is not None]
        if fastpaths.enabled("grad_norm_foreach_norm"):
            return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))

    def update_ema(self, generator_steps: int, pairs: EMAPairs | None) -> None:
        """The EMA of G after a G step (``pairs``: ``prepared().ema``)."""
        m = self.models
        if m.generator_ema is not None:
            update_ema(m.generator_ema, m.generator, ema_decay_at(self.ema_decay, generator_steps), pairs)

    def __call__(self, real: torch.Tensor, with_generator_step: bool, generator_steps: int = 0,
                 labels: torch.Tensor | None = None) -> torch.Tensor:
        """One D step, and a G step when ``with_generator_step``; ``generator_steps`` (G steps
        taken so far) sets the EMA warm-up. ``real`` is this process's rows of the batch;
        ``labels`` their classes for a conditional GAN (the fakes are drawn for the same classes,
        or with mode seeking for the first half's classes twice)."""
        prepared = self.prepared()
        if self.use_manual and prepared.chains is not None and labels is None:
            return manual_step(self, prepared, real, with_generator_step, generator_steps)
        m, objective = self.models, self.objective
        g_net = m.generator if m.generator_train is None else m.generator_train  # (no truth test: a compiled
        d_net = m.discriminator if m.discriminator_train is None else m.discriminator_train  # module has no len)
        batch = real.shape[0]
        z = self.latents()
        conditioned = () if labels is None else (labels,)
        labels_fake = labels if labels is None or self.small_data is None else self.small_data.fake_labels(labels)
        generated = () if labels_fake is None else (labels_fake,)
        with torch.set_grad_enabled(with_generator_step), self._autocast():
            fake = g_net(z, *generated)
        fake_input = fake.detach()
        real_seen, fake_seen = self.seen(real), self.seen(fake_input)
        with self._autocast():
            if self.concat_real_fake:
                both = () if labels is None else (torch.cat([labels, labels_fake]),)
                scores = d_net(torch.cat([real_seen, fake_seen.to(real.dtype)]), *both).float()
                real_out, fake_out = scores[: batch // self.pack], scores[batch // self.pack:]
            else:
                real_out = d_net(real_seen, *conditioned).float()
                fake_out = m.discriminator(fake_seen, *generated).float()
                scores = torch.cat([real_out, fake_out])
        critic = m.discriminator if labels is None else (lambda x: m.discriminator(x, labels))
        loss_real, loss_fake = objective.d_losses(real_out, fake_out)
        d_loss = loss_real + loss_fake
        if objective.uses_gradient_penalty:
            d_loss = d_loss + objective.gp_weight * self._penalty(critic, real_seen, fake_seen)
        if self.small_data is not None:
            extra = self.small_data.d_regularisers(critic, real_seen, real_out, fake_out)
            d_loss = d_loss if extra is None else d_loss + extra
        _clear_grads(prepared.d_params)
        d_loss.backward()
        prepared.d_step()
        if self.small_data is not None:
            belief = objective.log_density_ratio(real_out.detach()) if self.has_ratio else real_out.detach()
            self.small_data.after_d_step(belief)

        g_loss = grad_norm = self.zero
        if with_generator_step:
            with self._autocast():
                g_loss = objective.g_loss(m.discriminator(self.seen(fake), *generated).float())
                extra = None if self.small_data is None else self.small_data.g_regulariser(fake, z)
                g_loss = g_loss if extra is None else g_loss + extra
            _clear_grads(prepared.g_params)
            g_loss.backward(inputs=prepared.g_params)
            grad_norm = self.gradient_norm(prepared.g_params)
            prepared.g_step()
            self.update_ema(generator_steps, prepared.ema)
        return self.row((loss_real, loss_fake, g_loss), scores, with_generator_step, grad_norm)
