"""The f-GAN family (Nowozin et al. 2016): output activations g_f, conjugates f*, losses.

Names: kl, reverse_kl, js, pearson, hellinger, tv (activation/conjugate table: Nowozin et al. 2016, Table 2).
"""

from __future__ import annotations

import difflib
import math

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import ConfigError
from gankit.objectives.losses import _flat, _mean_pair, smoothed_real_term

F_DIVERGENCES: tuple[str, ...] = ("kl", "reverse_kl", "js", "pearson", "hellinger", "tv")
_LOG2 = math.log(2.0)


def _unknown_message(name: object, choices: tuple[str, ...], what: str) -> str:
    close = difflib.get_close_matches(str(name), choices, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {name!r}.{hint} Choose one of: {', '.join(choices)}."



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
    raise ConfigError(_unknown_message(name, F_DIVERGENCES, "f-divergence"))


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
    raise ConfigError(_unknown_message(name, F_DIVERGENCES, "f-divergence"))


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
    raise ConfigError(_unknown_message(name, F_DIVERGENCES, "f-divergence"))


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
