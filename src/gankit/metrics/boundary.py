"""The three scores of the lung-cell boundary-loss study and their product.

- s1 = mean D(x) over real samples (D recognises real data);
- s2 = mean 4·D(G(z))·(1 − D(G(z))) over generated samples (= 1 − 4(D − ½)²: 1 when
  D(G(z)) = ½, i.e. the samples sit on D's decision boundary);
- s3 = mean over generated samples of the cosine similarity to the nearest real
  sample (the highest cosine), on flattened pixels;
- score = s1·s2·s3.

D values are probabilities (after the sigmoid). Pixels are expected as non-negative
intensities — images in [0, 1] as PIL/ToTensor gives them (0..255 gives the same s3:
cosine ignores scale). Cosine is not shift-invariant, so tanh outputs in [−1, 1]
must be mapped with (x + 1)/2 first; negative pixels are refused. The lung-cell boundary-loss study does not
state its range; its s3 of 0.68 is the number to read against. A zero image has
cosine 0 with everything. Everything is float64; s3 is a chunked matmul of
L2-normalised rows.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import DataError

# A block of cosine similarities holds at most this many entries (32 MiB in float64).
BLOCK_ELEMENTS = 1 << 22


def _probabilities(values: Tensor, name: str) -> Tensor:
    flat = torch.as_tensor(values).to(torch.float64).reshape(-1)
    if flat.numel() == 0 or not bool(((flat >= 0) & (flat <= 1)).all()):
        raise DataError(
            f"{name} must be a non-empty set of discriminator probabilities in [0, 1] "
            "(apply sigmoid to logits)"
        )
    return flat


def _unit_rows(pixels: Tensor, name: str) -> Tensor:
    """(N, ...) images flattened to (N, P) float64 rows of unit L2 norm (zero rows stay 0)."""
    images = torch.as_tensor(pixels)
    if images.ndim < 2 or images.shape[0] < 1:
        raise DataError(f"{name} must be an (N, ...) array of images, got shape {tuple(images.shape)}")
    rows = images.reshape(images.shape[0], -1).to(torch.float64)
    if not bool(torch.isfinite(rows).all()) or bool((rows < 0).any()):
        raise DataError(
            f"{name} must be finite non-negative intensities (images in [0, 1]); "
            "map tanh outputs in [-1, 1] with (x + 1) / 2"
        )
    norms = rows.norm(dim=1, keepdim=True)
    return rows / torch.where(norms > 0, norms, torch.ones_like(norms))


def nearest_cosine(fake_pixels: Tensor, real_pixels: Tensor, chunk_size: int | None = None) -> Tensor:
    """For each fake image, the highest cosine similarity to any real image (N_fake,)."""
    fake, real = _unit_rows(fake_pixels, "fake_pixels"), _unit_rows(real_pixels, "real_pixels")
    if fake.shape[1] != real.shape[1]:
        raise DataError(
            f"real and fake images differ in size ({real.shape[1]} vs {fake.shape[1]} values)"
        )
    real = real.to(fake.device)
    if chunk_size is not None and chunk_size < 1:
        raise DataError(f"chunk_size must be at least 1, got {chunk_size}")
    chunk = chunk_size or max(1, BLOCK_ELEMENTS // real.shape[0])
    blocks = (fake[start : start + chunk] @ real.T for start in range(0, fake.shape[0], chunk))
    return torch.cat([block.amax(dim=1) for block in blocks])


def boundary_scores(
    real_d_probs: Tensor,
    fake_d_probs: Tensor,
    real_pixels: Tensor,
    fake_pixels: Tensor,
    chunk_size: int | None = None,
) -> dict[str, float | int]:
    """s1, s2, s3 and score = s1·s2·s3 (see the module docstring) from D's
    probabilities on real and generated samples and their pixels. `chunk_size` bounds
    memory to chunk_size × N_real similarities. Returns `s1`, `s2`, `s3`, `score`,
    `n_real`, `n_fake`."""
    real_d = _probabilities(real_d_probs, "real_d_probs")
    fake_d = _probabilities(fake_d_probs, "fake_d_probs")
    n_real, n_fake = len(real_pixels), len(fake_pixels)
    if (real_d.numel(), fake_d.numel()) != (n_real, n_fake):
        raise DataError(
            f"got {real_d.numel()} real and {fake_d.numel()} fake D values for {n_real} real and "
            f"{n_fake} fake images; pass D's outputs on the same samples as the pixels"
        )
    s1 = float(real_d.mean())
    s2 = float((4.0 * fake_d * (1.0 - fake_d)).mean())
    s3 = float(nearest_cosine(fake_pixels, real_pixels, chunk_size).mean())
    return {"s1": s1, "s2": s2, "s3": s3, "score": s1 * s2 * s3, "n_real": n_real, "n_fake": n_fake}
