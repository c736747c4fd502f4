"""Score a generator against its training data with the metrics that fit the data kind."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gankit.data.base import Dataset
from gankit.metrics.toy2d import evaluate_points
from gankit.sampling.generate import generate


def reference_sample(dataset: Dataset, n: int, seed: int) -> torch.Tensor:
    """Up to ``n`` real samples, a seeded random subset of the training data."""
    count = min(n, dataset.tensor.shape[0])
    order = torch.randperm(dataset.tensor.shape[0], generator=torch.Generator().manual_seed(seed))
    return dataset.tensor[order[:count]]


def evaluate_generator(
    generator_net: nn.Module, dataset: Dataset, model_config, eval_config, device: str = "cpu"
) -> dict[str, Any]:
    """Flat metrics dict for ``eval.n_samples`` generated samples (seeded by ``eval.seed``).

    Point sets are scored in data space. Images need a feature space (an evaluator
    network, the evaluation issue); until one exists no image metric is reported
    rather than a pixel-space number that would mislead.
    """
    if dataset.kind != "points":
        return {}
    latent_generator = torch.Generator(device=device).manual_seed(eval_config.seed)
    fake = generate(
        generator_net, eval_config.n_samples, latent_dim=model_config.latent_dim,
        distribution=model_config.latent_distribution, generator=latent_generator, device=device,
    )
    real = reference_sample(dataset, eval_config.n_samples, eval_config.seed)
    return evaluate_points(
        real, fake, dataset.geometry, k=eval_config.k, curve_tolerance=eval_config.curve_tolerance
    )


def quality_key(metrics: dict[str, Any]) -> tuple[float, ...]:
    """Sort key, higher is better, used to pick the best checkpoint."""
    if not metrics:
        return ()
    if "modes_captured" in metrics:
        return (metrics["modes_captured"], metrics["high_quality"])
    if "curve_coverage" in metrics:
        return (metrics["curve_coverage"], -metrics["curve_distance"])
    return (-metrics["energy_distance"],)
