"""The report's memorisation panel: how many generated samples are near-copies of training
images, and the closest generated/training pairs to look at.

The share comes from the run's latest evaluation (``memorisation`` ± ``memorisation_std``,
``gankit.metrics.memorisation``); the picture (``plots/memorisation.png``) from its final
one. Runs without either (point sets, image runs without a feature space, run folders
written before memorisation was scored) get no panel.
"""

from __future__ import annotations

from typing import Any

from gankit.numbers import float_text
from gankit.report.html_parts import esc

RULE = ("A generated sample counts as a near-copy when its nearest training image is closer to it than a "
        "third of that image's distance to its nearest other training image (in the evaluator's feature "
        "space); independent draws from the data almost never are, so a healthy generator scores close to 0.")


def memorisation_panel(metrics: dict[str, Any], plot: str | None) -> str:
    """The panel's HTML: the share with its spread, the rule in one sentence, the pairs' picture."""
    share = metrics.get("memorisation")
    number = isinstance(share, (int, float)) and not isinstance(share, bool)
    if not number and plot is None:
        return ""
    spread = metrics.get("memorisation_std")
    value = (f"{float_text(100 * share, 3)}%" if number else "—") + (
        f" ± {float_text(100 * spread, 2)}%" if isinstance(spread, (int, float)) and number else "")
    picture = ""
    if plot is not None:
        picture = (f'<figure><a href="{esc(plot)}"><img src="{esc(plot)}" alt="the closest generated and training '
                   'images, in pairs"></a><figcaption>the 8 generated samples closest to a training image (top), '
                   'each above that training image, with the ratio of their distance to the training image\'s '
                   'nearest-other distance</figcaption></figure>')
    return (f'<section id="memorisation"><h2>Memorisation</h2>'
            f'<p><strong>{esc(value)}</strong> of the generated samples are near-copies of training images.</p>'
            f'<p class="caption">{esc(RULE)}</p>{picture}</section>')
