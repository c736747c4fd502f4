"""Latent interpolation: walk from one random latent code to another and look at G along the way.

Linear: z(t) = (1 − t)·z₀ + t·z₁. Spherical (slerp; Shoemake 1985, proposed for GAN latents
by White 2016, "Sampling Generative Networks"): with Ω the angle between z₀ and z₁,

    z(t) = sin((1 − t)Ω)/sin Ω · z₀ + sin(tΩ)/sin Ω · z₁,

which follows the great circle, so the norm stays near the typical norm √d of a Gaussian
latent instead of dipping through the low-density centre as the linear path does. For
(anti)parallel z₀, z₁ (sin Ω ≈ 0) the path is linear.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from gankit.errors import ConfigError, GankitError
from gankit.files.budget import check_memory
from gankit.pictures.figures import plt, save_figure
from gankit.pictures.grid import save_grid, saved_grid_shape
from gankit.models.conditional import is_conditional, unwrap
from gankit.sampling.latent import sample_latent

__all__ = ["INTERPOLATION_METHODS", "MAX_PATHS", "check_interpolation_size", "interpolate", "interpolation_latents",
           "save_interpolation"]

INTERPOLATION_METHODS = ("linear", "slerp")
_PARALLEL = 1e-6  # |sin Ω| below this: the vectors are (anti)parallel, use the linear path
MAX_PATHS = 1000  # paths of points drawn in one plot: more cannot be told apart, and take minutes to draw
# The largest picture Pillow opens without calling it a decompression bomb (its default limit).
MAX_PICTURE_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
_BATCH = 1024  # samples per generator pass


def check_interpolation_size(rows: int, steps: int, sample_shape: tuple[int, ...], latent_dim: int) -> None:
    """Refuse, before anything is drawn, an interpolation whose picture no viewer would open
    (an image grid of more than ``MAX_PICTURE_PIXELS``, more than ``MAX_PATHS`` paths of
    points) or whose latents and samples cannot fit in memory; the message names
    ``--rows`` and ``--steps``."""
    if rows < 1 or steps < 2:
        return  # interpolate() says what is wrong with them
    lower = "lower --rows or --steps"
    if len(sample_shape) == 3:
        height, width = saved_grid_shape(rows * steps, steps, sample_shape[1], sample_shape[2])
        if height * width > MAX_PICTURE_PIXELS:
            raise ConfigError(f"--rows {rows} × --steps {steps} makes a {width} × {height} pixel picture, larger "
                              f"than image viewers open ({MAX_PICTURE_PIXELS:,} pixels); {lower}")
    elif rows > MAX_PATHS:
        raise ConfigError(f"--rows {rows}: a plot of more than {MAX_PATHS} paths cannot be read; lower --rows")
    # the float64 path and its float32 copy, then the float32 samples
    needed = rows * steps * (latent_dim * (8 + 4) + 4 * math.prod(sample_shape))
    check_memory(needed, f"interpolating {rows} × {steps} samples", lower)


def interpolation_latents(start: Tensor, end: Tensor, steps: int, method: str = "linear") -> Tensor:
    """Latents from each row of ``start`` to the same row of ``end`` (both (rows, dim), or
    (dim,) for one row) in ``steps`` evenly spaced t in [0, 1]; returns (rows, steps, dim)."""
    if method not in INTERPOLATION_METHODS:
        raise ConfigError(f"unknown interpolation method {method!r}: use one of {', '.join(INTERPOLATION_METHODS)}")
    if steps < 2:
        raise ConfigError(f"an interpolation needs steps >= 2 (start and end), got {steps}")
    start, end = torch.atleast_2d(start), torch.atleast_2d(end)
    if start.shape != end.shape or start.ndim != 2:
        raise ConfigError(f"start and end latents must have the same shape (rows, dim), "
                          f"got {tuple(start.shape)} and {tuple(end.shape)}")
    t = torch.linspace(0.0, 1.0, steps, dtype=torch.float64).reshape(1, steps, 1)
    z0, z1 = start.to(torch.float64).unsqueeze(1), end.to(torch.float64).unsqueeze(1)
    path = (1.0 - t) * z0 + t * z1
    if method == "slerp":
        cosine = torch.nn.functional.cosine_similarity(z0, z1, dim=-1, eps=1e-12).clamp(-1.0, 1.0)
        omega = torch.arccos(cosine).unsqueeze(-1)  # (rows, 1, 1)
        sin_omega = torch.sin(omega)
        curved = sin_omega.abs() > _PARALLEL
        safe = torch.where(curved, sin_omega, torch.ones_like(sin_omega))
        spherical = (torch.sin((1.0 - t) * omega) * z0 + torch.sin(t * omega) * z1) / safe
        path = torch.where(curved, spherical, path)
    return path.to(start.dtype)


@torch.no_grad()
def interpolate(generator_net: nn.Module, latent_dim: int, *, rows: int = 8, steps: int = 10,
                method: str = "linear", distribution: str = "normal", seed: int = 0,
                truncation: float | None = None, labels: Tensor | None = None) -> Tensor:
    """G along ``rows`` interpolations between random latents (seeded), ``steps`` points each:
    a CPU tensor (rows, steps, *sample_shape). A conditional G draws row i at class ``labels[i]``
    (default: the classes in turn, row i at class i mod their count). G runs in eval mode and
    is left in its mode."""
    if rows < 1:
        raise ConfigError(f"an interpolation needs rows >= 1, got {rows}")
    rng = torch.Generator().manual_seed(seed)
    start = sample_latent(rows, latent_dim, distribution, generator=rng, truncation=truncation)
    end = sample_latent(rows, latent_dim, distribution, generator=rng, truncation=truncation)
    latents = interpolation_latents(start, end, steps, method)
    parameter = next(generator_net.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    was_training = generator_net.training
    generator_net.eval()
    try:
        conditioned = ()
        if is_conditional(generator_net):
            if labels is None:
                labels = torch.arange(rows) % unwrap(generator_net).n_classes
            conditioned = (labels.to(torch.int64).repeat_interleave(steps).to(device),)
        flat = latents.reshape(rows * steps, latent_dim)
        samples = torch.cat([generator_net(flat[start:start + _BATCH].to(device),
                                           *(c[start:start + _BATCH] for c in conditioned)).float().cpu()
                             for start in range(0, rows * steps, _BATCH)])
    finally:
        generator_net.train(was_training)
    return samples.reshape(rows, steps, *samples.shape[1:])


def save_interpolation(samples: Tensor, path: str | Path, title: str = "",
                       background: Tensor | np.ndarray | None = None) -> Path:
    """Write interpolations (rows, steps, ...) as a PNG: images (rows, steps, C, H, W) as a
    grid with one interpolation per row; points (rows, steps, d) as one coloured path per row
    (first two coordinates), start ● and end ■ marked, over ``background`` points (grey) if given."""
    samples = torch.as_tensor(samples).detach().cpu()
    if samples.ndim == 5:
        rows, steps = samples.shape[:2]
        return save_grid(samples.reshape(rows * steps, *samples.shape[2:]), path, nrow=steps, title=title or None)
    if samples.ndim != 3:
        raise GankitError(f"expected interpolations of shape (rows, steps, C, H, W) or (rows, steps, d), "
                          f"got {tuple(samples.shape)}")
    return _path_plot(samples.numpy(), Path(path), title, background)


def _xy(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return points[..., 0], points[..., 1] if points.shape[-1] > 1 else np.zeros(points.shape[:-1])


def _path_plot(points: np.ndarray, path: Path, title: str, background: Tensor | np.ndarray | None) -> Path:
    fig, ax = plt.subplots(figsize=(5, 5))
    if background is not None:
        real = np.asarray(background, dtype=float)
        x, y = _xy(real)
        ax.scatter(x, y, s=4, c="0.75", alpha=0.5, linewidths=0, label=f"real (n={len(real)})", zorder=1)
    rows = len(points)
    colours = plt.get_cmap("tab10")(range(rows)) if rows <= 10 else plt.get_cmap("viridis")(np.linspace(0, 1, rows))
    for row, colour in zip(points, colours):
        x, y = _xy(row)
        ax.plot(x, y, "-o", color=colour, markersize=3, linewidth=1.2, zorder=2)
        ax.plot(x[0], y[0], "o", color=colour, markersize=8, markeredgecolor="black", zorder=3)
        ax.plot(x[-1], y[-1], "s", color=colour, markersize=8, markeredgecolor="black", zorder=3)
    ax.plot([], [], "o", color="white", markeredgecolor="black", label="start")
    ax.plot([], [], "s", color="white", markeredgecolor="black", label="end")
    ax.set_aspect("equal", adjustable="datalim")
    ax.locator_params(nbins=6)
    ax.tick_params(labelsize=8)
    ax.set_title(title or f"{rows} interpolations, {points.shape[1]} steps each")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.2)
    return save_figure(fig, path)
