"""Training diagnostics: what went wrong, and since which epoch, read off ``metrics.jsonl``.

Each detector is a pure function of the epoch records (so a resumed run diagnoses
exactly like an uninterrupted one) and reports the epoch where the condition began:

- **mode collapse** (the Keras MNIST DCGAN tutorial counted digits by eye): at the last ``COLLAPSE_PATIENCE``
  evaluations the generator's samples cover at most half the modes/classes it covered at
  its best, or the entropy of its mode/class histogram fell by a quarter of log K from
  its best, or — past the first 10% of the epochs, when an untrained generator's tight
  blob is not yet a collapse — it is below half of the uniform log K or the samples cover
  fewer than 80% of the K classifier modes/classes (a finished run with fewer evaluations than the
  patience, e.g. only the final one, is judged on those). Without mode or
  class counts (curves, unlabelled folders) a fall of recall/coverage to half its best
  counts. Every image run is also held to the rules of ``training/spread_rules.py``, with
  or without class counts: recall, coverage and diversity floors past a longer warm-up,
  per class for conditional runs (a generator that draws one image per class covers
  every class).
- **memorisation**: at the last ``COLLAPSE_PATIENCE`` evaluations past the spread warm-up,
  more than ``MEMORISATION_SHARE`` (10%) of the generated samples are near-copies of a
  training image (``gankit.metrics.memorisation``'s one-third rule). Independent draws
  from the data are almost never that close to one training image (the healthy demo
  scores 0.0 at every evaluation); the demo's networks trained for 10,000 steps on 50
  digits cross 10% at step 7,200 and reach 38%; exact copies of training images score 1.
- **discriminator saturation**: for ``SATURATION_EPOCHS`` epochs the discriminator gives
  real samples p/(p+q) > 0.95 and generated ones < 0.05 on average (σ of its density-ratio
  estimate; objectives without one — hinge, wgan-gp, tv — are not judged).
- **vanishing generator gradients**: for ``VANISHING_EPOCHS`` epochs the mean L2 norm of
  G's gradient is below 1e-3 of its largest epoch mean so far.
- **oscillation without progress**: over the last ``OSCILLATION_WINDOW`` epochs (at least
  two evaluation periods) the generator loss changes direction at ≥ 70% of epochs with
  swings above 15% of its level, while the selection metric (``eval.select``) has not
  improved on its best from before the window.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from gankit.metrics.select import quality_key
from gankit.training.spread_rules import is_image_evaluation, spread_reasons, spread_warmup

COLLAPSE_PATIENCE = 2
COVERED_SHARE = 0.8  # past the warm-up, covering fewer than this share of the modes/classes is a collapse
SATURATION_EPOCHS = 5
SATURATION_REAL, SATURATION_FAKE = 0.95, 0.05
VANISHING_EPOCHS = 3
VANISHING_RATIO = 1e-3
OSCILLATION_WINDOW = 10
MEMORISATION_SHARE = 0.1  # past the warm-up, more near-copies of training images than this share is memorisation
# (count key, total key, entropy key or None) per kind of data, first present wins.
_MODE_SIGNALS = (("classes_covered", "num_classes", "class_entropy"),
                 ("modes_covered", "n_modes", "modes_kl"),
                 ("modes_captured", "n_modes", "mode_entropy"))
_SPREAD_METRICS = ("recall", "coverage", "curve_coverage")


@dataclass(frozen=True)
class Diagnosis:
    kind: str  # mode_collapse | d_saturation | vanishing_g_grads | oscillation | memorisation
    since_epoch: int
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.kind.replace('_', ' ')} since epoch {self.since_epoch}: {self.message}"


def _number(record: dict[str, Any], key: str) -> float | None:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _normalised_entropy(record: dict[str, Any], total_key: str, entropy_key: str) -> float | None:
    """H/log K in [0, 1]; ``modes_kl`` is KL to uniform, so H = log K − KL."""
    total, value = _number(record, total_key), _number(record, entropy_key)
    if total is None or value is None or total < 2:
        return None
    entropy = math.log(total) - value if entropy_key == "modes_kl" else value
    return max(0.0, entropy / math.log(total))


def _halved(history: Sequence[dict[str, Any]], value: float, key: str, floor: float, digits: str) -> str | None:
    """``key fell from B to V`` when ``value`` is at most half of its best ``B`` ≥ ``floor`` so far."""
    best = max((_number(r, key) or 0.0 for r in history), default=0.0)
    if best >= floor and value <= best / 2:
        return f"{key.replace('_', ' ')} fell from {best:{digits}} to {value:{digits}}"
    return None


def _collapse_reason(history: Sequence[dict[str, Any]], record: dict[str, Any], warm: bool,
                     spread_warm: bool) -> str | None:
    """Why ``record`` (an evaluation) looks collapsed compared with the ``history`` before it:
    the class/mode rules, then (image runs) the spread rules, every one that holds."""
    if not is_image_evaluation(record):
        return _count_reason(history, record, warm)
    reasons = [reason for reason in (_count_reason(history, record, warm, spread=False),) if reason]
    reasons += spread_reasons([r for r in history if is_image_evaluation(r)], record, spread_warm)
    return "; ".join(reasons) or None


def _count_reason(history: Sequence[dict[str, Any]], record: dict[str, Any], warm: bool,
                  spread: bool = True) -> str | None:
    """The class/mode-count rules; with ``spread``, the fall of recall/coverage to half of
    their best for data without counts."""
    for count_key, total_key, entropy_key in _MODE_SIGNALS:
        count = _number(record, count_key)
        if count is None:
            continue
        fell = _halved(history, count, count_key, 2, ".0f")
        if fell:
            return fell
        total = _number(record, total_key)
        # (classifier counts only: every sample has a class, so few classes means few kinds of
        # samples; a 2D mode is only "captured" once it is sharp, which takes a while)
        classified = count_key != "modes_captured"
        if warm and classified and total is not None and total >= 2 and count < COVERED_SHARE * total:
            return f"samples cover {count:.0f} of {total:.0f} {'classes' if 'class' in count_key else 'modes'}"
        entropy = _normalised_entropy(record, total_key, entropy_key)
        if entropy is not None:
            earlier = [e for e in (_normalised_entropy(r, total_key, entropy_key) for r in history) if e is not None]
            if warm and entropy < 0.5:
                return f"samples concentrate on few modes (histogram entropy {entropy:.0%} of uniform)"
            if earlier and entropy <= max(earlier) - 0.25:
                return f"histogram entropy fell from {max(earlier):.0%} to {entropy:.0%} of uniform"
        return None
    for key in _SPREAD_METRICS if spread else ():
        value = _number(record, key)
        if value is not None:
            return _halved(history, value, key, 0.2, ".3g")
    return None


def _persistent(evaluated: list[dict[str, Any]], reason_of, kind: str, epochs: int) -> Diagnosis | None:
    """A finding when the last ``COLLAPSE_PATIENCE`` evaluations all have a reason (``reason_of(index,
    record)``), since the first of that streak; a finished run (``epochs``: its length) with
    fewer evaluations than the patience is judged on the ones it has."""
    streak: list[tuple[dict[str, Any], str]] = []
    for index, record in enumerate(evaluated):
        reason = reason_of(index, record)
        streak = streak + [(record, reason)] if reason else []
    finished = bool(epochs) and bool(evaluated) and evaluated[-1]["epoch"] >= epochs
    if not streak or len(streak) < (min(COLLAPSE_PATIENCE, len(evaluated)) if finished else COLLAPSE_PATIENCE):
        return None
    return Diagnosis(kind, int(streak[0][0]["epoch"]), streak[-1][1])


def mode_collapse(records: Sequence[dict[str, Any]], warmup_epochs: int = 0, epochs: int = 0) -> Diagnosis | None:
    """``epochs``: the run's length (a finished run with fewer evaluations than the patience,
    e.g. only the final one, is judged on the ones it has; image runs' spread rules wait for
    the first quarter of it)."""
    evaluated = [r for r in records if any(_number(r, key) is not None for key, _, _ in _MODE_SIGNALS)
                 or any(_number(r, key) is not None for key in _SPREAD_METRICS) or is_image_evaluation(r)]
    spread_from = spread_warmup(epochs, warmup_epochs)
    return _persistent(evaluated, lambda index, record: _collapse_reason(
        evaluated[:index], record, warm=record["epoch"] > warmup_epochs, spread_warm=record["epoch"] > spread_from),
        "mode_collapse", epochs)


def memorisation(records: Sequence[dict[str, Any]], warmup_epochs: int = 0, epochs: int = 0) -> Diagnosis | None:
    """Near-copies of training images above ``MEMORISATION_SHARE`` past the spread warm-up
    (``warmup_epochs`` when the run's length ``epochs`` is unknown)."""
    evaluated = [r for r in records if _number(r, "memorisation") is not None]
    start = spread_warmup(epochs, warmup_epochs)

    def copied(_, record):
        share = _number(record, "memorisation")
        if record["epoch"] <= start or share <= MEMORISATION_SHARE:
            return None
        spread = _number(record, "memorisation_std")
        return (f"{share:.1%}" + (f" ± {spread:.1%}" if spread is not None else "")
                + f" of the generated samples are near-copies of training images (more than "
                f"{MEMORISATION_SHARE:.0%}): each lies closer to its nearest training image than a third of that "
                "image's distance to its nearest other one")

    return _persistent(evaluated, copied, "memorisation", epochs)


def _trailing_streak(records: Sequence[dict[str, Any]], holds) -> list[dict[str, Any]]:
    streak: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        streak = streak + [record] if holds(index, record) else []
    return streak


def d_saturation(records: Sequence[dict[str, Any]]) -> Diagnosis | None:
    def saturated(_, record):
        real, fake = _number(record, "d_real_prob"), _number(record, "d_fake_prob")
        return real is not None and fake is not None and real > SATURATION_REAL and fake < SATURATION_FAKE

    streak = _trailing_streak(records, saturated)
    if len(streak) < SATURATION_EPOCHS:
        return None
    last = streak[-1]
    return Diagnosis("d_saturation", int(streak[0]["epoch"]),
                     f"D(x) = {last['d_real_prob']:.3f} on real and D(G(z)) = {last['d_fake_prob']:.3f} on "
                     f"generated samples for {len(streak)} epochs: the generator gets little signal")


def vanishing_gradients(records: Sequence[dict[str, Any]]) -> Diagnosis | None:
    norms = [_number(r, "g_grad_norm") for r in records]

    def vanished(index, _):
        earlier = [n for n in norms[:index] if n is not None]
        return norms[index] is not None and bool(earlier) and norms[index] < VANISHING_RATIO * max(earlier)

    streak = _trailing_streak(records, vanished)
    if len(streak) < VANISHING_EPOCHS:
        return None
    peak = max(n for n in norms if n is not None)
    return Diagnosis("vanishing_g_grads", int(streak[0]["epoch"]),
                     f"generator gradient norm {streak[-1]['g_grad_norm']:.2e}, below {VANISHING_RATIO:g} of "
                     f"its peak {peak:.2e}, for {len(streak)} epochs")


def oscillation(records: Sequence[dict[str, Any]], select: str = "auto", objective: str = "bce",
                eval_every: int = 1) -> Diagnosis | None:
    window = max(OSCILLATION_WINDOW, 2 * eval_every + 1)
    losses = [_number(r, "g_loss") for r in records[-window:]]
    if len(records) <= window or any(value is None for value in losses):
        return None
    steps = [b - a for a, b in zip(losses, losses[1:])]
    turns = sum(1 for a, b in zip(steps, steps[1:]) if a * b < 0)
    level = sum(abs(value) for value in losses) / len(losses) + 1e-8
    swing = sum(abs(step) for step in steps) / len(steps)
    if turns < 0.7 * (len(steps) - 1) or swing < 0.15 * level:
        return None
    before = [quality_key(r, select, objective) for r in records[:-window]]
    inside = [quality_key(r, select, objective) for r in records[-window:]]
    before, inside = [k for k in before if k], [k for k in inside if k]
    if not before or not inside or max(inside) > max(before):
        return None
    start = int(records[-window]["epoch"])
    return Diagnosis("oscillation", start,
                     f"G loss changed direction {turns} times in {len(steps)} epochs (mean swing {swing:.3g}) "
                     f"and the selection metric has not improved since epoch {start - 1}")


def diagnose(records: Sequence[dict[str, Any]], *, select: str = "auto", objective: str = "bce",
             eval_every: int = 1, epochs: int = 0) -> list[Diagnosis]:
    """Every problem active at the last record, oldest first (``epochs``: the run's length,
    for the collapse detector's warm-up)."""
    found = [mode_collapse(records, warmup_epochs=math.ceil(0.1 * epochs), epochs=epochs), d_saturation(records),
             vanishing_gradients(records), oscillation(records, select, objective, eval_every),
             memorisation(records, epochs=epochs)]
    return sorted((d for d in found if d is not None), key=lambda d: d.since_epoch)
