"""The f-GAN family (Nowozin et al. 2016): output activations g_f, conjugates f*, losses.

Names: kl, reverse_kl, js, pearson, hellinger, tv (activation/conjugate table: Nowozin et al. 2016, Table 2).
Each is registered as an objective at the end of this module.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.config.registry import Names
from gankit.errors import ConfigError
from gankit.objectives.derivatives import constant, half_sech2, negated, sigmoid, sigmoid_minus_one
from gankit.objectives.losses import _flat, _mean_pair, smoothed_real_term
from gankit.objectives.ratio import safe_log
from gankit.objectives.record import Derivative, ObjectiveRecord, register_objective

F_DIVERGENCES: tuple[str, ...] = ("kl", "reverse_kl", "js", "pearson", "hellinger", "tv")
_LOG2 = math.log(2.0)
_NAMES = Names("objective.name", "f-divergence", F_DIVERGENCES)


def f_activation(name: str, v: Tensor) -> Tensor:
    """Output activation g_f(v), mapping ℝ into the domain of f*.

    kl: v · reverse_kl: −e^{−v} · js: log 2 − log(1 + e^{−v}) = log 2 + log σ(v) ·
    pearson: v · hellinger: 1 − e^{−v} · tv: ½ tanh v.
    """
    if name == "kl" or name == "pearson":
        return v
    if name == "reverse_kl":
        return -torch.exp(-v)
    if name == "js":
        return _LOG2 + F.logsigmoid(v)
    if name == "hellinger":
        return -torch.expm1(-v)
    if name == "tv":
        return 0.5 * torch.tanh(v)
    raise ConfigError(_NAMES.unknown(name))


def f_conjugate(name: str, t: Tensor) -> Tensor:
    """Fenchel conjugate f*(t), as in Nowozin et al. Table 2 (reference form, not stabilised).

    kl: e^{t−1} · reverse_kl: −1 − log(−t) · js: −log(2 − e^t) ·
    pearson: t²/4 + t · hellinger: t/(1 − t) · tv: t (for |t| ≤ ½).
    """
    if name == "kl":
        return torch.exp(t - 1.0)
    if name == "reverse_kl":
        return -1.0 - torch.log(-t)
    if name == "js":
        return -torch.log(2.0 - torch.exp(t))
    if name == "pearson":
        return t ** 2 / 4.0 + t
    if name == "hellinger":
        return t / (1.0 - t)
    if name == "tv":
        return t
    raise ConfigError(_NAMES.unknown(name))


def f_conjugate_of_activation(name: str, v: Tensor) -> Tensor:
    """f*(g_f(v)) in closed, numerically stable form.

    kl: e^{v−1} · reverse_kl: v − 1 · js: softplus(v) − log 2 ·
    pearson: v²/4 + v · hellinger: e^v − 1 · tv: ½ tanh v.
    """
    if name == "kl":
        return torch.exp(v - 1.0)
    if name == "reverse_kl":
        return v - 1.0
    if name == "js":
        return F.softplus(v) - _LOG2
    if name == "pearson":
        return v ** 2 / 4.0 + v
    if name == "hellinger":
        return torch.expm1(v)
    if name == "tv":
        return 0.5 * torch.tanh(v)
    raise ConfigError(_NAMES.unknown(name))


def f_gan_d_losses(name: str, real_out: Tensor, fake_out: Tensor,
                   label_smoothing: float = 1.0) -> tuple[Tensor, Tensor]:
    """D maximises the variational bound E_P[g_f(v)] − E_Q[f*(g_f(v))]:
    real loss −E_P[g_f(v)], fake loss E_Q[f*(g_f(v))].

    At the optimal critic −(real + fake) equals D_f(P‖Q) = ∫ q f(p/q). For ``js``
    (Nowozin's f(u) = u log u − (u + 1) log((u + 1)/2)) that is
    KL(P‖M) + KL(Q‖M) = 2·JSD(P, Q) with M = (P + Q)/2, in [0, 2 log 2].
    For ``tv`` (f(u) = ½|u − 1|) it is ½∫|p − q|, reached only as v → ±∞.
    """
    v_r, v_f = _flat(real_out), _flat(fake_out)
    real_term = smoothed_real_term(lambda v: -f_activation(name, v),
                                   lambda v: f_conjugate_of_activation(name, v), v_r, label_smoothing)
    return _mean_pair(real_term, f_conjugate_of_activation(name, v_f))


def f_gan_g_loss(name: str, fake_out: Tensor, saturating: bool = False) -> Tensor:
    """Non-saturating ("usual trick"): −E_Q[g_f(v)]. Saturating: −E_Q[f*(g_f(v))]."""
    v = _flat(fake_out)
    if saturating:
        return -f_conjugate_of_activation(name, v).mean()
    return -f_activation(name, v).mean()


def _exp_minus(v: Tensor, gamma: float) -> Tensor:
    return -torch.exp(-v)


# name -> (ℓ_real′, ℓ_fake′, log-ratio of the optimal critic or None, what it reads / why none);
# G's non-saturating term is ℓ_real′ (the "usual trick"), its saturating one −ℓ_fake′
_RECORDS: dict[str, tuple[Derivative, Derivative, object, str]] = {
    "kl": (constant(-1.0), lambda v, gamma: torch.exp(v - 1.0), lambda v, gamma: v - 1.0,
           "f-GAN (KL) output: D̃ = v − 1"),
    "reverse_kl": (_exp_minus, constant(1.0), lambda v, gamma: v, "f-GAN (reverse KL) output: D̃ = v"),
    "js": (sigmoid_minus_one, sigmoid, lambda v, gamma: v, "f-GAN (JS) output: D̃ = v"),
    "pearson": (constant(-1.0), lambda v, gamma: 0.5 * v + 1.0, lambda v, gamma: safe_log(1.0 + v / 2.0),
                "f-GAN (Pearson χ²) output: D̃ = log(1 + v/2)"),
    "hellinger": (_exp_minus, lambda v, gamma: torch.exp(v), lambda v, gamma: 2.0 * v,
                  "f-GAN (squared Hellinger) output: D̃ = 2v"),
    "tv": (lambda v, gamma: -half_sech2(v, gamma), half_sech2, None,
           "its optimal critic is ½·sign(p − q), which loses the ratio's size"),
}


def _register(name: str) -> None:
    real_term, fake_term, ratio, text = _RECORDS[name]
    register_objective(ObjectiveRecord(
        name, lambda real, fake, o: f_gan_d_losses(name, real, fake, o.label_smoothing),
        lambda fake, o: f_gan_g_loss(name, fake, o.generator_loss == "saturating"),
        d_terms=(real_term, fake_term), g_term=real_term,
        saturating=True, g_saturating_term=negated(fake_term),
        density_ratio=ratio, ratio_text=text,  # type: ignore[arg-type]
    ))


for _name in F_DIVERGENCES:
    _register(_name)
