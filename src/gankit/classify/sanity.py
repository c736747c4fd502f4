"""Does a feature space see the defects a user cares about, on the user's own data?

FID and precision/recall/density/coverage are only as good as the features they are computed
in (Kynkäänniemi et al. 2019; Stein et al. 2023 show feature spaces that miss obvious
defects). `check_feature_space` measures it directly: the real images are split (seeded)
into a *reference* part and a *held-out* part; the held-out part scored against the
reference is the baseline a perfect generator would get; then the held-out images are
degraded in known ways (``classify/degrade.py``) at three severities each, and every
degraded set is scored against the same reference. The `SanityTable` says, per metric and
degradation, whether the number moved the way the metric's definition says it must
(``classify/sanity_table.py`` explains the expected directions and the noise criterion).

Images left over after the two parts form a *spare* pool, which supplies the class swap's
replacement images, so that they are not duplicates of held-out ones, when it holds at least
half as many images as the held-out part; otherwise held-out images are drawn too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, Callable, Protocol

import torch
from torch import Tensor

from gankit.classify import degrade
from gankit.classify.sanity_table import METRICS, Z, SanityTable, make_row
from gankit.data.base import Dataset
from gankit.errors import DataError
from gankit.metrics.fid import fid_with_spread
from gankit.metrics.images import PRDC_MIN_SAMPLES
from gankit.metrics.knn import prdc
from gankit.metrics.memorisation import memorisation

MIN_PART = 50  # images in each of the reference and held-out parts, at the least
BLUR_SIGMAS = (0.02, 0.04, 0.08)  # σ as a share of the image side
NOISE_STDS = (0.1, 0.2, 0.4)  # in [−1, 1] pixel units
COLOUR_AMOUNTS = (0.1, 0.25, 0.5)  # hue turned by 18°, 45°, 90° (RGB); brightness +0.05 .. +0.25 (grey)
KEEP_SHARES = (0.2, 0.05, 0.01)  # collapse: share of each group's images kept distinct
SHARES = (0.1, 0.25, 0.5)  # class swap, off-domain mix, copies: share of the held-out images replaced
EXTRACT_BATCH = 500
MNIST_LIKE = ("mnist", "stacked-mnist")


class Extractor(Protocol):
    name: str

    def extract(self, images: Tensor, batch_size: int = ...) -> tuple[Tensor, Tensor]: ...


def require_same_shape(extractor: Any, dataset: Dataset, per_channel: bool = False) -> None:
    """`DataError` when the evaluator's input (channels × size²) is not the data's image shape
    (one channel of it with ``per_channel``, as Stacked MNIST is scored): metrics are about this
    feature space on these images, so nothing is converted silently. Inception, which resizes
    any RGB input, has no fixed input and is not checked."""
    channels, size = getattr(extractor, "channels", None), getattr(extractor, "image_size", None)
    if channels is None or size is None or dataset.tensor.ndim != 4:
        return
    have = (1 if per_channel else int(dataset.tensor.shape[1]), *dataset.tensor.shape[2:])
    if have != (channels, size, size):
        raise DataError(
            f"the evaluator '{extractor.name}' takes {channels}-channel {size}×{size} images but the data holds "
            f"{have[0]}-channel {have[1]}×{have[2]} images: load the data as data.channels={channels} "
            f"data.image_size={size}, or train an evaluator on this data (gankit evaluator train --data ...)")


def split_parts(dataset: Dataset, n: int, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """(reference, held-out, spare) indices: a seeded permutation cut into n, n and the rest,
    with n lowered to half the data when the data is smaller than 2n; `DataError` when that
    leaves fewer than `MIN_PART` images per part."""
    total = len(dataset)
    if dataset.kind != "images" or dataset.tensor.ndim != 4:
        raise DataError(f"the feature-space check takes images (N, C, H, W); '{dataset.name}' holds "
                        f"{dataset.kind} of shape {tuple(dataset.tensor.shape)}")
    part = min(n, total // 2)
    if part < MIN_PART:
        raise DataError(f"{total} images are too few for the feature-space check: it needs at least "
                        f"{2 * MIN_PART} (a reference and a held-out part of {MIN_PART} images or more each)")
    order = torch.randperm(total, generator=torch.Generator().manual_seed(seed))
    return order[:part], order[part:2 * part], order[2 * part:]


def check_feature_space(extractor: Extractor, dataset: Dataset, *, n: int = 1000, seed: int = 0, k: int = 5,
                        bootstrap: int = 10, progress: bool = True) -> SanityTable:
    """Score the held-out real images, clean and degraded (7 defects × 3 severities), against the
    reference images in ``extractor``'s feature space; see the module and `SanityTable`.
    ``n`` images per part (fewer when the data has fewer than 2n), ``k`` neighbours for PRDC,
    ``bootstrap`` resamples for the spreads that decide what counts as a change."""
    if n < MIN_PART or k < 1 or bootstrap < 2:
        raise DataError(f"n={n}, k={k}, bootstrap={bootstrap}: give n ≥ {MIN_PART}, k ≥ 1 and bootstrap ≥ 2")
    reference_index, heldout_index, spare_index = split_parts(dataset, n, seed)
    if k >= len(reference_index):
        raise DataError(f"k={k} nearest neighbours need more than {k} reference images; "
                        f"got {len(reference_index)}")
    images = dataset.tensor
    reference_images, heldout = images[reference_index], images[heldout_index]
    labels = dataset.labels
    labelled = labels is not None and len(torch.unique(labels[heldout_index])) >= 2
    plan = _plan(dataset, reference_images, heldout, labels[heldout_index] if labelled else None,
                 images[spare_index], labels[spare_index] if labelled else None, seed)
    notes = _notes(extractor, dataset, labels[heldout_index] if labelled else None)
    with _Progress(progress, len(plan) + 2) as advance:
        reference = extractor.extract(reference_images, batch_size=EXTRACT_BATCH)[0]
        advance()

        def score(degraded: Tensor) -> tuple[dict[str, tuple[float, float]], list[str]]:
            """(metric -> (value, bootstrap std), warnings) of ``degraded`` against the reference."""
            features = extractor.extract(degraded, batch_size=EXTRACT_BATCH)[0]
            with _one_thread():
                scores = fid_with_spread(reference, features, bootstrap=bootstrap, seed=seed)
                scores.update(prdc(reference, features, k=k, bootstrap=bootstrap, seed=seed))
                scores.update(memorisation(reference, features, bootstrap=bootstrap, seed=seed))
            advance()
            return {m: (float(scores[m]), float(scores[f"{m}_std"])) for m in METRICS}, scores["warnings"]

        baseline, warnings = score(heldout)
        if len(heldout) < PRDC_MIN_SAMPLES:
            warnings.append(f"precision/recall/coverage on {len(heldout)} images (< {PRDC_MIN_SAMPLES}) are noisy: "
                            "small changes stay within the spread")
        rows = [make_row(name, severity, setting, baseline, score(build())[0], Z)
                for name, severity, setting, build in plan]
    return SanityTable(getattr(extractor, "name", type(extractor).__name__), _describe(dataset),
                       len(reference_index), len(heldout_index), k, seed, baseline, rows,
                       notes + [_parts(w) for w in dict.fromkeys(warnings)], Z)


Plan = list[tuple[str, int, str, Callable[[], Tensor]]]


def _plan(dataset: Dataset, reference: Tensor, heldout: Tensor, labels: Tensor | None, spare: Tensor,
          spare_labels: Tensor | None, seed: int) -> Plan:
    """(degradation, severity, setting, a function building the degraded held-out images) for
    every cell, each with its own seeded generator so a row does not depend on the others."""
    side = heldout.shape[-1]
    grey = heldout.shape[1] == 1

    def rng(row: int) -> torch.Generator:
        return torch.Generator().manual_seed(seed * 1009 + row)

    plan: Plan = []
    for s, sigma in enumerate(BLUR_SIGMAS):
        plan.append(("blur", s + 1, f"σ = {sigma * side:.2g} px",
                     lambda sigma=sigma: degrade.gaussian_blur(heldout, sigma * side)))
    for s, std in enumerate(NOISE_STDS):
        plan.append(("noise", s + 1, f"std {std:g}", lambda std=std, s=s: degrade.add_noise(heldout, std, rng(10 + s))))
    for s, amount in enumerate(COLOUR_AMOUNTS):
        setting = (f"brightness +{amount / 2:.3g}, contrast ×{1 - amount / 2:.3g}" if grey
                   else f"hue +{180 * amount:.0f}°")
        plan.append(("colour shift", s + 1, setting, lambda amount=amount: degrade.colour_shift(heldout, amount)))
    for s, keep in enumerate(KEEP_SHARES):
        plan.append(("collapse", s + 1, f"{keep:.0%} kept {'per class' if labels is not None else 'overall'}",
                     lambda keep=keep, s=s: degrade.collapse(heldout, labels, keep, rng(20 + s))))
    if labels is not None:
        enough = len(spare) >= len(heldout) // 2  # unused images for every swap, else held-out ones repeat
        pool = spare if enough else torch.cat([spare, heldout])
        pool_labels = spare_labels if enough else torch.cat([spare_labels, labels])
        for s, share in enumerate(SHARES):
            plan.append(("class swap", s + 1, f"{share:.0%} swapped",
                         lambda share=share, s=s: degrade.swap_classes(heldout, labels, share, pool, pool_labels,
                                                                       rng(30 + s))[0]))
    else:
        others = degrade.off_domain_images(len(heldout), heldout.shape[1], side,
                                           mnist_like=dataset.name in MNIST_LIKE, generator=rng(40))
        for s, share in enumerate(SHARES):
            plan.append(("off-domain", s + 1, f"{share:.0%} mixed in",
                         lambda share=share, s=s: degrade.mix_in(heldout, others, share, rng(50 + s))))
    for s, share in enumerate(SHARES):
        plan.append(("copies", s + 1, f"{share:.0%} copied",
                     lambda share=share, s=s: degrade.copy_reference(heldout, reference, share, rng(60 + s))[0]))
    return plan


def _notes(extractor: Any, dataset: Dataset, labels: Tensor | None) -> list[str]:
    notes = []
    if labels is not None:
        dropped, kept = degrade.dropped_classes(labels)
        names = dataset.label_names
        notes.append(f"class swap: images of classes {', '.join(names[c] for c in dropped)} replaced by images "
                     f"of {', '.join(names[c] for c in kept)}")
    else:
        notes.append("off-domain: " + ("smooth random fields (the data is MNIST-like, so digits are in-domain)"
                                       if dataset.name in MNIST_LIKE else "MNIST digits resized and tinted"))
    channels, size = getattr(extractor, "channels", None), getattr(extractor, "image_size", None)
    shape = tuple(dataset.tensor.shape[1:])
    if channels is not None and size is not None and shape != (channels, size, size):
        notes.append(f"the evaluator converted the {shape[0]}-channel {shape[1]}×{shape[2]} images to its "
                     f"{channels}-channel {size}×{size} input")
    return notes


@contextmanager
def _one_thread() -> Iterator[None]:
    """Score on one thread: the check's ~250 eigendecompositions of D × D covariances (D ~ 128) are
    too small to gain from threads, and on a busy CPU the threads' synchronisation made each one
    over 100× slower (0.46 s against 3 ms, measured with 2 threads on 2 shared cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _parts(warning: str) -> str:
    """A metric's warning in the check's words: its real set is the reference, its fake set the held-out part."""
    return warning.replace("real set", "the reference part").replace("fake set", "the held-out part")


def _describe(dataset: Dataset) -> str:
    if dataset.name == "folder" and dataset.source:
        return f"folder {dataset.source}"
    return dataset.name


class _Progress:
    """A rich progress bar on stderr over the extraction steps (a no-op when ``enabled`` is false)."""

    def __init__(self, enabled: bool, total: int):
        self.enabled, self.total = enabled, total
        self._context: Any = nullcontext()

    def __enter__(self) -> Callable[[], None]:
        if not self.enabled:
            return lambda: None
        import sys

        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        progress = Progress(TextColumn("checking the feature space"), BarColumn(bar_width=30), MofNCompleteColumn(),
                            TimeRemainingColumn(compact=True), console=Console(file=sys.stderr), transient=True)
        self._context = progress
        progress.__enter__()
        task = progress.add_task("check", total=self.total)
        return lambda: progress.advance(task)

    def __exit__(self, *exc: Any) -> None:
        self._context.__exit__(*exc)
