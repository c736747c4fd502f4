"""What a step adds to the plain objective: DiffAugment before D, ADA's adaptive p, R1 and
LeCam for small data, and mode seeking in G's loss.

:class:`SmallData` is built from the ``augment`` section and the ``objective.r1_*`` /
``objective.lecam_weight`` / ``objective.mode_seeking_weight`` keys (formulas in
training/augment.py and objectives/regularisers.py). It holds every piece of state these add — ADA's p and its
running sign sum, LeCam's moving averages, the count of D steps that spaces lazy R1 — and
hands it to the checkpoint, so a resumed run continues exactly (p included).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from gankit.config import Config
from gankit.objectives.regularisers import LeCam, mode_seeking, paired_labels, r1_penalty
from gankit.training.augment import AdaptiveStrength, DiffAugment


class SmallData:
    """The augmentation and regularisers of one run (``None`` from :meth:`from_config` when
    the config turns none of them on, so the plain step stays as fast as before)."""

    def __init__(self, augment: DiffAugment | None, adaptive: AdaptiveStrength | None, r1_weight: float,
                 r1_interval: int, lecam: LeCam | None, lecam_weight: float, mode_seeking_weight: float = 0.0):
        self.augment, self.adaptive = augment, adaptive
        self.r1_weight, self.r1_interval = r1_weight, r1_interval
        self.lecam, self.lecam_weight = lecam, lecam_weight
        self.mode_seeking_weight = mode_seeking_weight
        self.d_steps = 0

    @classmethod
    def from_config(cls, config: Config, device: torch.device) -> SmallData | None:
        a, o = config.augment, config.objective
        augment = DiffAugment(a.policy, p=0.0 if a.adaptive else a.p) if a.policy else None
        adaptive = AdaptiveStrength(a.target, a.interval, a.speed_kimg, device=device) if a.adaptive else None
        lecam = LeCam(device=device) if o.lecam_weight > 0 else None
        if augment is None and o.r1_weight == 0 and lecam is None and o.mode_seeking_weight == 0:
            return None
        return cls(augment, adaptive, o.r1_weight, o.r1_interval, lecam, o.lecam_weight, o.mode_seeking_weight)

    @property
    def p(self) -> float:
        """The augmentation probability in use now."""
        return self.augment.p if self.augment is not None else 0.0

    def view(self, images: Tensor, generator: torch.Generator, count: int, rows: slice) -> Tensor:
        """What D sees of ``images`` (this process's ``rows`` of ``count``): augmented, or as is."""
        if self.augment is None:
            return images
        return self.augment(images, generator, count, rows)

    def d_regularisers(self, discriminator: Callable[[Tensor], Tensor], real_seen: Tensor, real_out: Tensor,
                       fake_out: Tensor) -> Tensor | None:
        """The regularisers' share of D's loss at this step (None when none is due):
        λ·R_LC, and every ``r1_interval``-th step r1_interval·(γ/2)·R1 on what D saw of the reals."""
        self.d_steps += 1
        total = None
        if self.lecam is not None:
            total = self.lecam_weight * self.lecam(real_out, fake_out)
        if self.r1_weight > 0 and self.d_steps % self.r1_interval == 0:
            r1 = self.r1_interval * 0.5 * self.r1_weight * r1_penalty(discriminator, real_seen)
            total = r1 if total is None else total + r1
        return total

    def fake_labels(self, labels: Tensor) -> Tensor:
        """The classes to generate for a real batch of ``labels``: the same, or with mode seeking
        the first half's classes twice, so that each pair it compares shares a class."""
        return paired_labels(labels) if self.mode_seeking_weight > 0 else labels

    def g_regulariser(self, fake: Tensor, z: Tensor) -> Tensor | None:
        """λ·L_ms of this G step (None when mode seeking is off)."""
        if self.mode_seeking_weight == 0:
            return None
        return self.mode_seeking_weight * mode_seeking(fake, z)

    def after_d_step(self, real_belief: Tensor) -> None:
        """ADA: count the signs of D's belief on the reals and move p when due."""
        if self.adaptive is None:
            return
        self.adaptive.observe(real_belief)
        self.adaptive.step(self.d_steps)
        self.augment.p = self.adaptive.p

    def log_values(self) -> dict[str, float]:
        """What goes into the epoch's record: the augmentation probability, and ADA's r_t."""
        values: dict[str, float] = {}
        if self.augment is not None:
            values["augment_p"] = round(self.p, 6)
        if self.adaptive is not None:
            values["augment_r"] = self.adaptive.last_r
        return values

    def state_dict(self) -> dict[str, Any]:
        return {"d_steps": self.d_steps, "p": self.p,
                "adaptive": self.adaptive.state_dict() if self.adaptive is not None else None,
                "lecam": self.lecam.state_dict() if self.lecam is not None else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.d_steps = int(state["d_steps"])
        if self.adaptive is not None and state.get("adaptive") is not None:
            self.adaptive.load_state_dict(state["adaptive"])
        if self.augment is not None:
            self.augment.p = float(state["p"])
        if self.lecam is not None and state.get("lecam") is not None:
            self.lecam.load_state_dict(state["lecam"])
