"""Discriminator Rejection Sampling (Azadi, Olsson, Darrell, Goodfellow & Odena, ICLR 2019).

With D̃(x) an estimate of log p_data(x)/p_g(x) (the logit of a BCE discriminator; other
objectives' estimates in :func:`drs_log_ratio`), exact rejection sampling would accept a
proposal x ~ p_g with probability exp(D̃(x) − D̃*) for the true maximum D̃*. DRS replaces
D̃* by M, the largest D̃ seen so far (a burn-in of proposals, raised whenever a batch shows
a larger one), and accepts with probability σ(F(x)),

    F(x) = D̃(x) − M − log(1 − exp(D̃(x) − M − ε)) − γ,

where ε keeps the log finite at D̃ = M and γ shifts acceptance: with γ = 0, σ(F) =
exp(D̃ − M) up to ε, i.e. exact rejection sampling; the paper's reference code sets γ per
batch to a percentile of F (e.g. the 95th), trading exactness for acceptance. The paper
first fine-tunes D on real vs. generated samples (:func:`finetune_discriminator`).
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from rich import progress as bars
from rich.console import Console
from torch import Tensor, nn

from gankit.errors import ConfigError, GankitError
from gankit.objectives import Objective, gradient_penalty

__all__ = ["DRSResult", "LowAcceptance", "drs_gamma", "drs_log_ratio", "drs_scores",
           "finetune_discriminator", "rejection_sample"]

MIN_CHECK_BATCHES = 5  # batches of proposals seen before the acceptance rate may stop sampling


class LowAcceptance(GankitError):
    """DRS accepted too small a share of the proposals (or ran out of its proposal budget)."""


@dataclass
class DRSResult:
    samples: Tensor  # exactly n accepted samples, in order of acceptance
    n_accepted: int  # accepted proposals (≥ n: the last batch's surplus is trimmed)
    n_proposed: int  # proposals tested (burn-in ones first; any left untested at the end are not counted)
    acceptance_rate: float  # n_accepted / n_proposed
    seconds: float  # wall time, burn-in and discriminator passes included
    accepted_per_second: float  # n / seconds
    max_logit: float  # final M
    gamma_mode: str  # e.g. "per-batch 95th percentile of F" or "fixed γ = 0"


def _log1mexp(x: Tensor) -> Tensor:
    """log(1 − exp(x)) for x < 0, accurate everywhere (Mächler 2012): log(−expm1(x)) near 0,
    log1p(−exp(x)) below −log 2."""
    return torch.where(x > -0.6931471805599453, torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def drs_scores(log_ratio: Tensor, max_logit: float, epsilon: float = 1e-6) -> Tensor:
    """F before the γ shift: D̃ − M − log(1 − exp(D̃ − M − ε)), float64; finite for D̃ ≤ M."""
    shifted = log_ratio.to(torch.float64) - max_logit
    return shifted - _log1mexp(shifted - epsilon)


def drs_gamma(scores: Tensor, percentile: float) -> float:
    """γ = the ``percentile``-th percentile of a batch's F (linear interpolation, as numpy)."""
    return float(torch.quantile(scores, percentile / 100.0))


def _check(n: int, burn_in: int, gamma_percentile: float | None, epsilon: float, min_acceptance: float,
           batch_size: int) -> None:
    problems = [text for bad, text in (
        (n < 0, f"n must be >= 0, got {n}"), (burn_in < 0, f"drs_burn_in must be >= 0, got {burn_in}"),
        (gamma_percentile is not None and not 0 <= gamma_percentile <= 100,
         f"drs_gamma_percentile must be in [0, 100] (or unset for a fixed γ), got {gamma_percentile}"),
        (not epsilon > 0, f"epsilon must be > 0, got {epsilon}"),
        (not 0 <= min_acceptance < 1, f"drs_min_acceptance must be in [0, 1), got {min_acceptance}"),
        (batch_size < 1, f"batch_size must be >= 1, got {batch_size}")) if bad]
    if problems:
        raise ConfigError("; ".join(problems))


def _finite(values: Tensor) -> Tensor:
    values = values.detach().to("cpu", torch.float64).reshape(-1)
    if torch.isnan(values).any() or torch.isposinf(values).any():
        raise GankitError("the discriminator's log density ratio is NaN or +inf for some samples: "
                          "the discriminator has diverged; use an earlier checkpoint")
    return values.clamp_min(-1e30)


def rejection_sample(draw: Callable[[int], Tensor], log_ratio: Callable[[Tensor], Tensor], n: int, *,
                     burn_in: int = 10000, gamma_percentile: float | None = 95.0, gamma: float = 0.0,
                     epsilon: float = 1e-6, min_acceptance: float = 0.01, batch_size: int = 1000,
                     generator: torch.Generator, progress: bool | Callable[[int, int], None] = False,
                     max_proposals: int | None = None) -> DRSResult:
    """``n`` samples of ``draw`` (proposals from G) accepted by DRS with ``log_ratio`` (D̃).

    The ``burn_in`` proposals that estimate M are then tested like any other batch (they are
    draws from G, so reusing them costs no extra generator passes). γ is the per-batch
    ``gamma_percentile``-th percentile of F, or ``gamma`` when ``gamma_percentile`` is None.
    Uniforms for the acceptance test come from ``generator``. ``progress`` True shows a bar;
    a callable gets (n_accepted, n_proposed) after every batch.

    Raises :class:`LowAcceptance` when, after at least 5 batches of proposals, the running
    acceptance rate is below ``min_acceptance`` (or ``max_proposals`` is used up).
    """
    _check(n, burn_in, gamma_percentile, epsilon, min_acceptance, batch_size)
    gamma_mode = (f"per-batch {gamma_percentile:g}th percentile of F" if gamma_percentile is not None
                  else f"fixed γ = {gamma:g}")
    started = time.perf_counter()
    pending: list[tuple[Tensor, Tensor]] = []
    for start in range(0, burn_in if n else 0, batch_size):
        proposals = draw(min(batch_size, burn_in - start))
        pending.append((proposals, _finite(log_ratio(proposals))))
    max_logit = max((float(values.max()) for _, values in pending if values.numel()), default=-float("inf"))
    accepted: list[Tensor] = []
    n_accepted = n_proposed = 0
    bar = bars.Progress(bars.TextColumn("[bold]DRS"), bars.BarColumn(), bars.MofNCompleteColumn(),
                        bars.TextColumn("{task.description}"), bars.TimeElapsedColumn(),
                        console=Console(file=sys.stderr), disable=progress is not True)
    with bar:
        task = bar.add_task("", total=n)
        while n_accepted < n:
            if pending:
                proposals, values = pending.pop(0)
            else:
                proposals = draw(batch_size)
                values = _finite(log_ratio(proposals))
            max_logit = max(max_logit, float(values.max()))
            scores = drs_scores(values, max_logit, epsilon)
            shift = drs_gamma(scores, gamma_percentile) if gamma_percentile is not None else gamma
            uniforms = torch.rand(scores.shape[0], generator=generator, dtype=torch.float64)
            keep = uniforms < torch.sigmoid(scores - shift)
            accepted.append(proposals[keep.to(proposals.device)])
            n_accepted += int(keep.sum())
            n_proposed += scores.shape[0]
            rate = n_accepted / n_proposed
            bar.update(task, completed=min(n_accepted, n), description=f"acceptance {rate:.1%}")
            if callable(progress):
                progress(n_accepted, n_proposed)
            if n_accepted >= n:
                break
            if n_proposed >= MIN_CHECK_BATCHES * batch_size and rate < min_acceptance:
                lower = ("lower sample.drs_gamma_percentile" if gamma_percentile is not None
                         else f"lower the fixed γ (now {gamma:g}) or use sample.drs_gamma_percentile")
                raise LowAcceptance(
                    f"DRS accepted {n_accepted} of {n_proposed} proposals ({rate:.2%}), below "
                    f"drs_min_acceptance={min_acceptance:g}: {lower}, fine-tune the discriminator "
                    "(sample.drs_finetune_steps), or train the GAN longer")
            if max_proposals is not None and n_proposed >= max_proposals:
                raise LowAcceptance(f"DRS used its budget of {max_proposals} proposals and accepted only "
                                    f"{n_accepted} of the {n} samples asked for ({rate:.2%}): ask for fewer "
                                    "samples, raise the budget, or lower sample.drs_gamma_percentile")
    seconds = time.perf_counter() - started
    samples = torch.cat(accepted)[:n] if accepted else draw(0)
    return DRSResult(samples, n_accepted, n_proposed, n_accepted / max(n_proposed, 1), seconds,
                     n / seconds if seconds > 0 else float("inf"), max_logit, gamma_mode)


def drs_log_ratio(discriminator: nn.Module, objective: Objective, pack: int = 1, batch_size: int = 500,
                  max_log_ratio: float = 20.0) -> tuple[Callable[[Tensor], Tensor], str]:
    """D̃(x), the estimate of log p_data(x)/p_g(x) that ``objective`` implies, per sample, and
    a sentence saying which estimate it is. D runs in eval mode under no_grad, in batches.

    PacGAN (``pack`` = m > 1): the optimal packed D estimates Σᵢ log r(xᵢ) for a pack, so each
    sample is judged as a pack of m copies of itself and the estimate is divided by m.
    D̃ is capped at ``max_log_ratio``: past the range an optimal critic can reach (a BCE logit
    above log(t/(1 − t)) under label smoothing t, an LSGAN output ≥ 1) the inversion says
    r = ∞ (ratio.py returns ~708), and one such sample would set M for all the others. A
    ConfigError refuses objectives with no estimate (hinge, wgan-gp, tv).
    """
    try:
        objective.log_density_ratio(torch.zeros(1))
    except ConfigError as error:
        raise ConfigError(f"discriminator rejection sampling is refused for objective "
                          f"{objective.name!r}: {error}") from None
    if pack < 1 or batch_size < 1:
        raise ConfigError(f"need pack >= 1 and batch_size >= 1, got pack={pack}, batch_size={batch_size}")
    parameter = next(discriminator.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")

    @torch.no_grad()
    def log_ratio(samples: Tensor) -> Tensor:
        was_training = discriminator.training
        discriminator.eval()
        parts = []
        try:
            for start in range(0, samples.shape[0], batch_size):
                chunk = samples[start:start + batch_size].to(device)
                raw = discriminator(chunk.repeat_interleave(pack, dim=0) if pack > 1 else chunk)
                estimate = objective.log_density_ratio(raw.to(torch.float64)).cpu() / pack
                parts.append(estimate.clamp_max(max_log_ratio))
        finally:
            discriminator.train(was_training)
        return torch.cat(parts) if parts else torch.empty(0, dtype=torch.float64)

    description = objective.record.ratio_text
    if objective.label_smoothing != 1.0:
        description += f", corrected for one-sided label smoothing {objective.label_smoothing:g}"
    if pack > 1:
        description += f"; PacGAN pack {pack}: each sample judged as {pack} copies, estimate / {pack}"
    return log_ratio, description


def finetune_discriminator(discriminator: nn.Module, objective: Objective, draw: Callable[[int], Tensor],
                           real: Tensor, *, steps: int, batch_size: int = 64, lr: float = 2e-4,
                           betas: tuple[float, float] = (0.5, 0.999), generator: torch.Generator,
                           real_labels: Tensor | None = None) -> nn.Module:
    """A copy of D trained ``steps`` more steps on real vs. generated samples (the paper's
    first DRS step); G stays frozen (``draw`` is called under no_grad) and the original D is
    untouched. Real batches are drawn from ``real`` with ``generator``; Adam, the objective's
    D loss (plus its gradient penalty where it has one). The copy is returned in eval mode.

    A conditional D is fine-tuned on (image, class) pairs: ``real_labels`` are the reals'
    classes, and ``draw(labels)`` then generates one fake per label; each fake batch gets the
    classes of its real batch (so the fakes follow the data's class frequencies).
    """
    pack = getattr(discriminator, "pack", 1)
    if steps < 0 or batch_size < pack or batch_size % pack:
        raise ConfigError(f"fine-tuning needs steps >= 0 and a batch size that is a multiple of the pack "
                          f"size {pack}, got steps={steps}, batch_size={batch_size}")
    tuned = copy.deepcopy(discriminator)
    tuned.requires_grad_(True)
    tuned.train()
    device = next(tuned.parameters()).device
    optimizer = torch.optim.Adam(tuned.parameters(), lr=lr, betas=tuple(betas))
    for _ in range(steps):
        index = torch.randint(real.shape[0], (batch_size,), generator=generator)
        real_batch = real[index].to(device)
        if real_labels is None:
            with torch.no_grad():
                fake_batch = draw(batch_size).to(device)
            real_out, fake_out = tuned(real_batch), tuned(fake_batch)
            critic = tuned
        else:
            labels = real_labels[index].to(device)
            with torch.no_grad():  # the fakes get the classes of the same real batch: pairs of like classes
                fake_batch = draw(labels.cpu()).to(device)
            real_out, fake_out = tuned(real_batch, labels), tuned(fake_batch, labels)

            def critic(x: Tensor, labels: Tensor = labels) -> Tensor:
                return tuned(x, labels)
        loss_real, loss_fake = objective.d_losses(real_out, fake_out)
        loss = loss_real + loss_fake
        if objective.uses_gradient_penalty:
            loss = loss + objective.gp_weight * gradient_penalty(critic, real_batch, fake_batch, generator=generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return tuned.eval()
