"""Mode coverage from a classifier's predictions on generated samples.

`class_modes` (C classes, e.g. MNIST digits): each sample counts for its argmax
class. A class is *covered* when its share of the samples is at least
`min_share` × 1/C (with the default 0.1 and C = 10: at least 1% of the samples), so
a handful of stray predictions does not count as a mode (min_share=0: one sample). `class_kl` is
KL(generated histogram ‖ reference histogram), the reference being the argmax
histogram of real samples or uniform; `class_entropy` is the generated histogram's
entropy. All in nats.

`stacked_modes` (Stacked MNIST; Srivastava et al. 2017, VEEGAN; Lin et al. 2018,
PacGAN): each of the three channels is classified as a digit d₀, d₁, d₂; the mode is
100·d₀ + 10·d₁ + d₂ of 1,000. As in PacGAN, a mode is covered when at least one
sample falls in it, and `modes_kl` is KL(generated mode histogram ‖ uniform).

KL terms use 0·log 0 = 0. Where the reference histogram is 0 but the generated one
is not (a class real data never shows), the reference share is replaced by
REFERENCE_EPSILON, which keeps the KL finite and large; nowhere else is it used.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import DataError

REFERENCE_EPSILON = 1e-10
STACKED_CHANNELS, DIGITS = 3, 10


def mode_histogram_kl(counts: Tensor, reference: Tensor | None = None) -> float:
    """KL(q ‖ r) in nats between the normalised histograms `counts` and `reference`
    (uniform when None); reference shares of 0 become REFERENCE_EPSILON."""
    counts = torch.as_tensor(counts).to(torch.float64)
    target = torch.ones_like(counts) if reference is None else torch.as_tensor(reference).double()
    if counts.ndim != 1 or target.shape != counts.shape:
        raise DataError(
            "histograms must be 1-D of equal length, "
            f"got {tuple(counts.shape)} and {tuple(target.shape)}"
        )
    if bool((counts < 0).any()) or bool((target < 0).any()) or counts.sum() <= 0 or target.sum() <= 0:
        raise DataError("histograms must be non-negative counts with a positive total")
    generated = counts / counts.sum()
    target = (target / target.sum()).clamp_min(REFERENCE_EPSILON)
    return float((torch.xlogy(generated, generated) - torch.xlogy(generated, target)).sum())


def _argmax_histogram(probs: Tensor, name: str, num_classes: int | None = None) -> Tensor:
    """Counts (C,) of argmax predictions of `probs` (N, C) (probabilities or logits)."""
    matrix = torch.as_tensor(probs)
    if matrix.ndim != 2 or matrix.shape[0] < 1 or matrix.shape[1] < 1:
        raise DataError(
            f"{name} must be an (N, C) array of class probabilities, got shape {tuple(matrix.shape)}"
        )
    if num_classes is not None and matrix.shape[1] != num_classes:
        raise DataError(f"{name} has {matrix.shape[1]} classes, the generated samples {num_classes}")
    return torch.bincount(matrix.argmax(dim=1).cpu(), minlength=matrix.shape[1])


def class_modes(probs: Tensor, real_probs: Tensor | None = None, min_share: float = 0.1) -> dict:
    """Covered classes, KL to the reference and entropy of the argmax histogram of
    `probs` (N, C). Returns `classes_covered`, `num_classes`, `class_kl`,
    `class_entropy`, `class_histogram` (counts, a list), `n` and `min_share`."""
    if min_share < 0:
        raise DataError(f"min_share must be non-negative, got {min_share}")
    counts = _argmax_histogram(probs, "probs")
    num_classes, n = counts.numel(), int(counts.sum())
    reference = None if real_probs is None else _argmax_histogram(real_probs, "real_probs", num_classes)
    shares = counts.double() / n
    return {
        "classes_covered": int(((counts > 0) & (shares >= min_share / num_classes)).sum()),
        "num_classes": num_classes,
        "class_kl": mode_histogram_kl(counts, reference),
        "class_entropy": float(-torch.xlogy(shares, shares).sum()),
        "class_histogram": counts.tolist(),
        "n": n,
        "min_share": float(min_share),
    }


def stacked_modes(channel_probs: Tensor) -> dict:
    """Stacked MNIST modes from per-channel digit probabilities `channel_probs`
    (N, 3, 10). Returns `modes_covered` (modes with at least one sample), `n_modes`
    (1,000), `modes_kl` (KL to uniform, nats) and `n`."""
    probs = torch.as_tensor(channel_probs)
    if probs.ndim != 3 or probs.shape[1:] != (STACKED_CHANNELS, DIGITS) or probs.shape[0] < 1:
        raise DataError(
            f"channel_probs must have shape (N, {STACKED_CHANNELS}, {DIGITS}), got {tuple(probs.shape)}"
        )
    digits = probs.argmax(dim=2).cpu()
    modes = digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
    counts = torch.bincount(modes, minlength=DIGITS**STACKED_CHANNELS)
    return {
        "modes_covered": int((counts > 0).sum()),
        "n_modes": DIGITS**STACKED_CHANNELS,
        "modes_kl": mode_histogram_kl(counts),
        "n": int(probs.shape[0]),
    }
