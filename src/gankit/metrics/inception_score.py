"""Inception Score (Salimans et al. 2016, "Improved techniques for training GANs").

From a classifier's class probabilities p(y|x) on generated samples,

    IS = exp( E_x KL( p(y|x) ‖ p(y) ) ),   p(y) = E_x p(y|x),

computed on each of `splits` contiguous chunks of the samples (chunk i holds rows
⌊iN/splits⌋ … ⌊(i+1)N/splits⌋ − 1, as in torch-fidelity; the same chunks as the
OpenAI code when splits divides N) and reported as the mean and standard deviation
(N divisor) over chunks. IS runs from 1 (every sample gets the same prediction) to C
(confident predictions spread evenly over C classes). 0·log 0 is taken as 0.
Everything is float64. The classifier decides the meaning: never compare IS across
feature networks.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import DataError

# Rows of `probs` must sum to 1 within this (float16 / float32 softmax outputs pass).
ROW_SUM_TOLERANCE = 1e-3


def class_probabilities(probs: Tensor, name: str = "probs") -> Tensor:
    """`probs` (N, C) as float64 after checking that each row is a distribution."""
    matrix = torch.as_tensor(probs)
    if matrix.ndim != 2 or matrix.shape[0] < 1 or matrix.shape[1] < 1:
        raise DataError(
            f"{name} must be an (N, C) array of class probabilities, got shape {tuple(matrix.shape)}"
        )
    matrix = matrix.to(torch.float64)
    row_sums = matrix.sum(dim=1)
    if not bool(torch.isfinite(matrix).all()) or bool((matrix < 0).any()) or bool(
        ((row_sums - 1.0).abs() > ROW_SUM_TOLERANCE).any()
    ):
        raise DataError(
            f"{name} must hold probabilities (non-negative rows summing to 1); got row sums "
            f"in [{float(row_sums.min()):.4g}, {float(row_sums.max()):.4g}] — apply softmax "
            "to logits first"
        )
    return matrix


def inception_score(probs: Tensor, splits: int = 10) -> tuple[float, float]:
    """(mean, std) over `splits` chunks of exp(E_x KL(p(y|x) ‖ p(y))), `probs` (N, C)."""
    matrix = class_probabilities(probs)
    n = matrix.shape[0]
    if splits < 1 or n < splits:
        raise DataError(f"splits must be between 1 and the number of samples ({n}), got {splits}")
    scores = []
    for index in range(splits):
        chunk = matrix[index * n // splits : (index + 1) * n // splits]
        marginal = chunk.mean(dim=0, keepdim=True)
        divergence = (torch.xlogy(chunk, chunk) - torch.xlogy(chunk, marginal)).sum(dim=1)
        scores.append(divergence.mean().exp())
    per_split = torch.stack(scores)
    return float(per_split.mean()), float(per_split.std(correction=0))
