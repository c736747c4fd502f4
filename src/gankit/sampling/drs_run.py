"""DRS for a trained run: fine-tune a copy of D (optional), build the log-ratio estimate
the run's objective implies, and rejection-sample with the run's ``sample.drs_*`` settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from gankit.models.conditional import AtClass
from gankit.objectives import build_objective
from gankit.sampling.drs import drs_log_ratio, finetune_discriminator, rejection_sample


def drs_sample(draw: Callable[[int], Tensor], discriminator: nn.Module, config, n: int, *, real: Tensor,
               seed: int = 0, progress: bool = False) -> tuple[Tensor, dict[str, Any], nn.Module | None]:
    """``n`` DRS-accepted samples, a JSON-ready report (acceptance rate, accepted/s, M, γ rule,
    which density-ratio estimate), and the fine-tuned D (None without fine-tuning). The run's
    discriminator is never changed: fine-tuning works on a copy."""
    s = config.sample
    objective = _objective(config)
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


def _objective(config):
    o = config.objective
    return build_objective(o.name, generator_loss=o.generator_loss, label_smoothing=o.label_smoothing,
                           gamma=o.gamma, gp_weight=o.gp_weight)


def drs_sample_classes(draw: Callable[[Tensor], Tensor], discriminator: nn.Module, config, labels: Tensor, *,
                       real: Tensor, real_labels: Tensor, seed: int = 0, progress: bool = False
                       ) -> tuple[Tensor, dict[str, Any], nn.Module | None]:
    """DRS for a conditional run: sample i is a DRS-accepted sample of class ``labels[i]``.

    ``draw(labels)`` generates one sample per label. The conditional D is fine-tuned once on
    (image, class) pairs (``sample.drs_finetune_steps``); then each class is rejection-sampled
    on its own with D at that class, log D̃(x, y) estimating log p(x|y)/p_g(x|y), so its own
    M and γ (the acceptance statistics are summed over the classes)."""
    import dataclasses

    s = config.sample
    tuned = None
    critic = discriminator
    if s.drs_finetune_steps > 0:
        rng = torch.Generator().manual_seed(seed + 1)
        batch = config.train.batch_size
        tuned = finetune_discriminator(discriminator, _objective(config), draw, real, steps=s.drs_finetune_steps,
                                       batch_size=batch, lr=config.train.d_lr, betas=tuple(config.train.d_betas),
                                       generator=rng, real_labels=real_labels)
        critic = tuned
    per_class = dataclasses.replace(config, sample=dataclasses.replace(s, drs_finetune_steps=0))
    samples: Tensor | None = None
    reports = []
    for label in labels.unique().tolist():
        where = (labels == label).nonzero().squeeze(1)
        accepted, report, _ = drs_sample(
            lambda count: draw(torch.full((count,), label, dtype=torch.int64)), AtClass(critic, label), per_class,
            int(where.numel()), real=real[real_labels == label], seed=seed + 7919 * (label + 1), progress=progress)
        if samples is None:
            samples = accepted.new_empty((labels.shape[0], *accepted.shape[1:]))
        samples[where] = accepted
        reports.append((int(where.numel()), report))
    proposed = sum(r["drs_proposed"] for _, r in reports)
    accepted = sum(r["drs_proposed"] * r["drs_acceptance_rate"] for _, r in reports)
    seconds = sum(count / max(r["drs_accepted_per_second"], 1e-12) for count, r in reports)
    reports = [r for _, r in reports]
    report = {**reports[0], "drs_acceptance_rate": accepted / max(proposed, 1), "drs_proposed": proposed,
              "drs_accepted_per_second": labels.shape[0] / max(seconds, 1e-12),
              "drs_max_logit": max(r["drs_max_logit"] for r in reports),
              "drs_ratio_estimate": reports[0]["drs_ratio_estimate"] + "; per class, with D at that class",
              "drs_finetune_steps": s.drs_finetune_steps}
    return samples, report, tuned
