"""DRS for a trained run: fine-tune a copy of D (optional), build the log-ratio estimate
the run's objective implies, and rejection-sample with the run's ``sample.drs_*`` settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from gankit.objectives import build_objective
from gankit.sampling.drs import drs_log_ratio, finetune_discriminator, rejection_sample


def drs_sample(draw: Callable[[int], Tensor], discriminator: nn.Module, config, n: int, *, real: Tensor,
               seed: int = 0, progress: bool = False) -> tuple[Tensor, dict[str, Any], nn.Module | None]:
    """``n`` DRS-accepted samples, a JSON-ready report (acceptance rate, accepted/s, M, γ rule,
    which density-ratio estimate), and the fine-tuned D (None without fine-tuning). The run's
    discriminator is never changed: fine-tuning works on a copy."""
    s, o = config.sample, config.objective
    objective = build_objective(o.name, generator_loss=o.generator_loss, label_smoothing=o.label_smoothing,
                                gamma=o.gamma, gp_weight=o.gp_weight)
    rng = torch.Generator().manual_seed(seed + 1)  # acceptance uniforms and fine-tuning batches
    tuned = None
    critic = discriminator
    if s.drs_finetune_steps > 0:
        pack = config.model.pack
        batch = max(pack, config.train.batch_size - config.train.batch_size % pack)
        tuned = finetune_discriminator(discriminator, objective, draw, real, steps=s.drs_finetune_steps,
                                       batch_size=batch, lr=config.train.d_lr,
                                       betas=tuple(config.train.d_betas), generator=rng)
        critic = tuned
    log_ratio, estimate = drs_log_ratio(critic, objective, pack=config.model.pack)
    percentile = None if s.drs_gamma_percentile == -1 else s.drs_gamma_percentile
    result = rejection_sample(draw, log_ratio, n, burn_in=s.drs_burn_in, gamma_percentile=percentile,
                              gamma=s.drs_gamma, epsilon=s.drs_epsilon, min_acceptance=s.drs_min_acceptance,
                              batch_size=s.batch_size, generator=rng, progress=progress)
    report = {"drs_acceptance_rate": result.acceptance_rate, "drs_proposed": result.n_proposed,
              "drs_accepted_per_second": result.accepted_per_second, "drs_max_logit": result.max_logit,
              "drs_gamma": result.gamma_mode, "drs_ratio_estimate": estimate,
              "drs_finetune_steps": s.drs_finetune_steps, "drs_burn_in": s.drs_burn_in}
    return result.samples, report, tuned
