"""Differentiable augmentation of what the discriminator sees, and ADA's adaptive strength.

DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
Training"): the same random, differentiable transformation T is applied to real and
generated images before D, in the D step and in the G step, so D cannot memorise a small
training set and G still receives gradients through T. Each operation is applied to each
image with probability ``p`` (1 in DiffAugment; ADA adapts it):

- ``color``: brightness ``x + (u − ½)``, saturation ``(x − x̄_c)·2u + x̄_c`` (x̄_c: the mean
  over channels), contrast ``(x − x̄)·(u + ½) + x̄`` (x̄: the image mean), u ~ U(0, 1) each;
- ``translation``: a shift by up to 1/8 of the size in each direction, zero-padded;
- ``cutout``: a zeroed square of half the size at a uniform random centre, clipped;
- ``flip``: a horizontal mirror.

Each operation is one record in ``AUGMENTATIONS``: ``draw`` makes its random parameters for
the global batch, ``apply`` transforms images with this process's rows of them;
``register_augmentation`` adds another. A policy naming an operation that is not registered
is refused.

Images are (B, C, H, W) in [−1, 1]. Every random number comes from the ``torch.Generator``
given (the trainer's seeded one, saved in every checkpoint), so a resumed run augments
exactly as an uninterrupted one; draws are made for the global batch and sliced to this
process's ``rows`` (DDP ranks together draw what one process draws).

ADA's heuristic (Karras et al. 2020, "Training Generative Adversarial Networks with
Limited Data"): r_t = E[sign(D's belief that a real image is real)] over the last
``interval`` steps; p ← clip(p + sign(r_t − target) · images / (1000 · speed_kimg), 0, 1),
where ``images`` is the number of real images seen since the last adjustment, so p can move
from 0 to 1 in ``speed_kimg`` thousand images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.config.registry import AUGMENT_NAMES, Registry
from gankit.errors import ConfigError

TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


@dataclass(frozen=True)
class Augmentation:
    """One DiffAugment operation.

    ``draw(count, (height, width), generator, device)`` returns its random parameters for a
    global batch of ``count`` images, each a tensor whose last dimension is the batch (all
    drawn from ``generator``, in a fixed order); ``apply(x, *parameters)`` transforms the (B, C,
    H, W) images ``x`` with this process's rows of them, differentiably.
    """

    name: str
    draw: Callable[[int, tuple[int, int], torch.Generator, torch.device], tuple[Tensor, ...]]
    apply: Callable[..., Tensor]


# Every augment.policy operation (iterates in config/registry.py's order).
AUGMENTATIONS: Registry[Augmentation] = Registry(AUGMENT_NAMES)


def register_augmentation(record: Augmentation) -> Augmentation:
    """Make ``record`` an operation ``augment.policy`` may name."""
    return AUGMENTATIONS.register(record)


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"color,translation,cutout"`` → the operations in that order; '' → none."""
    names = tuple(name.strip() for name in policy.split(",") if name.strip())
    _check_operations(names)
    return names


def _check_operations(names: tuple[str, ...]) -> None:
    unknown = [name for name in names if name not in AUGMENTATIONS]
    if unknown:
        raise ConfigError(f"augment.policy: unknown operation '{unknown[0]}'; use a comma-separated list of "
                          f"{', '.join(AUGMENTATIONS)}")


def _uniform(count: int, generator: torch.Generator, device: torch.device, rows: slice) -> Tensor:
    return torch.rand(count, generator=generator, device=device)[rows]


def _chosen(count: int, p: float, generator: torch.Generator, device: torch.device, rows: slice) -> Tensor:
    """Which images of this process's rows an operation applies to, as a (B, 1, 1, 1) 0/1 mask."""
    return (_uniform(count, generator, device, rows) < p).float().view(-1, 1, 1, 1)


def color(x: Tensor, draws: Tensor) -> Tensor:
    """Brightness, saturation, contrast; ``draws`` (3, B) uniform numbers."""
    brightness, saturation, contrast = (d.view(-1, 1, 1, 1).to(x.dtype) for d in draws)
    x = x + (brightness - 0.5)
    channel_mean = x.mean(dim=1, keepdim=True)
    x = (x - channel_mean) * (saturation * 2.0) + channel_mean
    image_mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - image_mean) * (contrast + 0.5) + image_mean


def translation(x: Tensor, shift_y: Tensor, shift_x: Tensor) -> Tensor:
    """Shift each image by (shift_y, shift_x) whole pixels (B each), filling with zeros."""
    batch, _, height, width = x.shape
    pad_y, pad_x = int(height * TRANSLATION_RATIO + 0.5), int(width * TRANSLATION_RATIO + 0.5)
    padded = F.pad(x, (pad_x, pad_x, pad_y, pad_y))
    rows = (torch.arange(height, device=x.device).view(1, -1) + pad_y - shift_y.view(-1, 1)).view(batch, 1, height, 1)
    cols = (torch.arange(width, device=x.device).view(1, -1) + pad_x - shift_x.view(-1, 1)).view(batch, 1, 1, width)
    rows = rows.expand(batch, x.shape[1], height, padded.shape[3])
    picked_rows = padded.gather(2, rows)
    return picked_rows.gather(3, cols.expand(batch, x.shape[1], height, width))


def cutout(x: Tensor, centre_y: Tensor, centre_x: Tensor) -> Tensor:
    """Zero a (H/2 × W/2) square centred at (centre_y, centre_x) in each image, clipped at the edges."""
    _, _, height, width = x.shape
    half_y, half_x = int(height * CUTOUT_RATIO + 0.5) // 2, int(width * CUTOUT_RATIO + 0.5) // 2
    ys = torch.arange(height, device=x.device).view(1, -1)
    xs = torch.arange(width, device=x.device).view(1, -1)
    inside_y = ((ys - centre_y.view(-1, 1)).abs() < half_y) | (ys - centre_y.view(-1, 1) == -half_y)
    inside_x = ((xs - centre_x.view(-1, 1)).abs() < half_x) | (xs - centre_x.view(-1, 1) == -half_x)
    keep = ~(inside_y.unsqueeze(2) & inside_x.unsqueeze(1))
    return x * keep.unsqueeze(1).to(x.dtype)


def _draw_color(count: int, size: tuple[int, int], generator: torch.Generator,
                device: torch.device) -> tuple[Tensor, ...]:
    return (torch.rand(3, count, generator=generator, device=device),)


def _draw_translation(count: int, size: tuple[int, int], generator: torch.Generator,
                      device: torch.device) -> tuple[Tensor, ...]:
    limit_y, limit_x = (int(side * TRANSLATION_RATIO + 0.5) for side in size)
    shift_y = torch.randint(-limit_y, limit_y + 1, (count,), generator=generator, device=device)
    shift_x = torch.randint(-limit_x, limit_x + 1, (count,), generator=generator, device=device)
    return shift_y, shift_x


def _draw_cutout(count: int, size: tuple[int, int], generator: torch.Generator,
                 device: torch.device) -> tuple[Tensor, ...]:
    centre_y = torch.randint(0, size[0], (count,), generator=generator, device=device)
    centre_x = torch.randint(0, size[1], (count,), generator=generator, device=device)
    return centre_y, centre_x


def _draw_nothing(count: int, size: tuple[int, int], generator: torch.Generator,
                  device: torch.device) -> tuple[Tensor, ...]:
    return ()


def flip(x: Tensor) -> Tensor:
    """A horizontal mirror."""
    return x.flip(3)


register_augmentation(Augmentation("color", _draw_color, color))
register_augmentation(Augmentation("translation", _draw_translation, translation))
register_augmentation(Augmentation("cutout", _draw_cutout, cutout))
register_augmentation(Augmentation("flip", _draw_nothing, flip))


class DiffAugment:
    """The policy's operations, each applied to each image with probability ``p``; an
    operation that is not in ``AUGMENTATIONS`` is refused (ConfigError)."""

    def __init__(self, policy: str | tuple[str, ...], p: float = 1.0):
        self.operations = parse_policy(policy) if isinstance(policy, str) else tuple(policy)
        _check_operations(self.operations)
        self._records = tuple(AUGMENTATIONS[name] for name in self.operations)
        self.p = float(p)

    def __bool__(self) -> bool:
        return bool(self.operations)

    def __call__(self, x: Tensor, generator: torch.Generator, count: int | None = None,
                 rows: slice | None = None) -> Tensor:
        """Augment ``x`` (this process's ``rows`` of a global batch of ``count`` images)."""
        if not self.operations or self.p <= 0.0:
            return x
        count = x.shape[0] if count is None else count
        rows = slice(0, count) if rows is None else rows
        device, size = x.device, (x.shape[2], x.shape[3])
        for record in self._records:
            chosen = _chosen(count, self.p, generator, device, rows)
            parameters = record.draw(count, size, generator, device)
            changed = record.apply(x, *(parameter[..., rows] for parameter in parameters))
            x = x + chosen.to(x.dtype) * (changed - x) if self.p < 1.0 else changed
        return x


class AdaptiveStrength:
    """ADA's controller of ``p`` (see module doc); its state goes into every checkpoint."""

    def __init__(self, target: float = 0.6, interval: int = 4, speed_kimg: float = 20.0, p: float = 0.0,
                 device: torch.device | str = "cpu"):
        self.target, self.interval, self.speed_kimg = target, interval, speed_kimg
        self.p = float(p)
        self.sign_sum = torch.zeros((), device=device)
        self.seen = torch.zeros((), device=device)  # real images whose sign is in sign_sum
        self.last_r = float("nan")

    def observe(self, real_belief: Tensor) -> None:
        """Add the signs of D's belief on a batch of real images (no host sync)."""
        self.sign_sum += torch.sign(real_belief.detach().float()).sum()
        self.seen += real_belief.numel()

    def step(self, steps_done: int) -> None:
        """Every ``interval`` steps: move p by the sign of r_t − target (one host sync)."""
        if steps_done % self.interval != 0:
            return
        if torch.distributed.is_available() and torch.distributed.is_initialized():  # every rank: the same p
            torch.distributed.all_reduce(self.sign_sum)
            torch.distributed.all_reduce(self.seen)
        seen = float(self.seen)
        if seen == 0:
            return
        self.last_r = float(self.sign_sum) / seen
        direction = (self.last_r > self.target) - (self.last_r < self.target)
        self.p = min(1.0, max(0.0, self.p + direction * seen / (1000.0 * self.speed_kimg)))
        self.sign_sum.zero_()
        self.seen.zero_()

    def state_dict(self) -> dict[str, Any]:
        return {"p": self.p, "sign_sum": self.sign_sum.detach().cpu().clone(), "seen": self.seen.detach().cpu().clone(),
                "last_r": self.last_r}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.p = float(state["p"])
        self.sign_sum.copy_(state["sign_sum"])
        self.seen.copy_(state["seen"])
        self.last_r = float(state["last_r"])
