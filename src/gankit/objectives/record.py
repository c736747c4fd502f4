"""One record per objective, and the registry of them (``OBJECTIVES``).

A record holds everything gankit needs of an objective: its D and G losses, the closed-form
derivatives of their per-sample terms with respect to D's raw scores (the manual MLP step,
objectives/derivatives.py), the density ratio its optimal discriminator implies (DRS,
objectives/ratio.py) or why there is none, and its flags. The built-ins register themselves
beside their formulas (losses.py, fgan.py); a new objective is one ``register_objective`` call
(plus its name in config/registry.py to make it a built-in).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torch import Tensor

from gankit.config.registry import OBJECTIVE_NAMES, Registry

if TYPE_CHECKING:
    from gankit.objectives import Objective

# ℓ′(v, γ): the derivative of a per-sample loss term at scores v (γ: the boundary objective's option)
Derivative = Callable[[Tensor, float], Tensor]


@dataclass(frozen=True)
class ObjectiveRecord:
    """An adversarial objective (formulas and conventions in ``gankit.objectives``).

    - ``d_losses(real_out, fake_out, objective)``: (loss on real, loss on fake), scalar means,
      with ``objective.label_smoothing`` applied (``smoothed_real_term``) and any option it reads;
    - ``g_loss(fake_out, objective)``: G's loss (``objective.generator_loss`` says which form);
    - ``d_terms``: (ℓ_real′, ℓ_fake′), the derivatives of D's per-sample real and fake terms;
    - ``g_term``: the derivative of G's per-sample term (non-saturating, or the single G loss);
    - ``saturating``: whether a saturating (minimax) G loss exists, with derivative
      ``g_saturating_term``;
    - ``density_ratio(v, γ)``: log(a/b) where v minimises a·ℓ_real(v) + b·ℓ_fake(v) pointwise
      (so log p/q for the unsmoothed optimal D; ratio.py undoes label smoothing), or None;
    - ``ratio_text``: how that estimate reads (DRS prints it), or why there is none;
    - ``gradient_penalty``: D's loss gets WGAN-GP's penalty; ``logit``: D's score is a logit,
      so σ(v) is the probability the boundary-loss study's scores use.
    """

    name: str
    d_losses: Callable[[Tensor, Tensor, Objective], tuple[Tensor, Tensor]]
    g_loss: Callable[[Tensor, Objective], Tensor]
    d_terms: tuple[Derivative, Derivative]
    g_term: Derivative
    density_ratio: Callable[[Tensor, float], Tensor] | None
    ratio_text: str
    saturating: bool = False
    g_saturating_term: Derivative | None = None
    gradient_penalty: bool = False
    logit: bool = False

    def __post_init__(self) -> None:
        if self.saturating != (self.g_saturating_term is not None):
            raise ValueError(f"objective {self.name!r}: a saturating G loss needs g_saturating_term, and only it")


# Every objective by name (iterates in config/registry.py's order).
OBJECTIVES: Registry[ObjectiveRecord] = Registry(OBJECTIVE_NAMES, fact=lambda record: record.saturating)


def register_objective(record: ObjectiveRecord) -> ObjectiveRecord:
    """Make ``record`` an objective: ``build_objective(record.name)`` and ``objective.name`` take it."""
    return OBJECTIVES.register(record)
