"""Score a generator (or two sets of images) with the metrics that fit the data.

2D points are scored in data space against the true shape. Images are scored in a
feature space: the shipped MNIST evaluator for MNIST-like data, a user's evaluator
(``eval.evaluator=PATH``, made by ``gankit evaluator train``), a classifier of
``gankit classify`` (``eval.features=PATH`` to its best.pt), Inception-v3 with
the user's FID weights (``eval.features=inception``), or — for any other image folder —
a self-supervised evaluator trained on the folder once and cached
(`gankit.classify.evaluator_cache`). An evaluator must take the data's channels and
size (`gankit.classify.sanity.require_same_shape`; never silently converted). Stacked MNIST is scored per channel. Image runs whose discriminator outputs a logit (``bce`` and ``boundary``) also
get the lung-cell boundary-loss study's s1, s2, s3 and score, so the original and the boundary objective can be
compared as in its Figure 1 (s3 compares pixels in [0, 1]; it is not defined for 2D points).

A :class:`Scorer` loads the feature extractor and the real features once, so the
trainer can evaluate every few epochs without recomputing them. An image run with a feature
space is also scored for memorisation (``gankit.metrics.memorisation``: the share of
generated samples that are near-copies of a training image) against the features of its
training images, at most ``MEMORISATION_TRAIN_MAX`` of them (a seeded random subset beyond
that, the same one every evaluation), extracted once with their nearest-other distances.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import Tensor, nn

from gankit.config.schema import FEATURE_SPACES
from gankit.data.base import Dataset
from gankit.errors import ConfigError, DataError
from gankit.metrics.boundary import boundary_scores
from gankit.metrics.images import FeatureSet, score_features
from gankit.metrics.toy2d import evaluate_points
from gankit.metrics.conditional import conditional_scores
from gankit.metrics.memorisation import memorisation, nearest_other_distance
from gankit.objectives import OBJECTIVES
from gankit.sampling.generate import generate
from gankit.sampling.labels import draw_labels

MNIST_LIKE = ("mnist", "stacked-mnist")
EXTRACT_BATCH = 500
# Training images a run's samples are checked against for copies: all of a small data set,
# a seeded subset of 10,000 of a large one (the all-pairs search grows with their number).
MEMORISATION_TRAIN_MAX = 10_000
CLOSEST_PAIRS = 8  # generated/training pairs kept for the memorisation picture
TRAIN_SLICE = 1000  # training images copied and extracted at a time


class FeatureExtractor(Protocol):
    name: str

    def extract(self, images: Tensor, batch_size: int = ...) -> tuple[Tensor, Tensor]: ...


def reference_order(dataset: Dataset, n: int, seed: int) -> torch.Tensor:
    """The indices of up to ``n`` real samples, a seeded random subset of the training data."""
    count = min(n, dataset.tensor.shape[0])
    return torch.randperm(dataset.tensor.shape[0], generator=torch.Generator().manual_seed(seed))[:count]


def reference_sample(dataset: Dataset, n: int, seed: int) -> torch.Tensor:
    """Up to ``n`` real samples, a seeded random subset of the training data."""
    return dataset.tensor[reference_order(dataset, n, seed)]


def load_extractor(eval_config, data_name: str = "mnist", device: str = "cpu", dataset: Dataset | None = None,
                   progress: bool = True) -> FeatureExtractor | None:
    """The feature extractor ``eval.features`` / ``eval.evaluator`` name for this data; with
    ``features=auto`` and no evaluator, for non-MNIST images (``dataset``), the self-supervised
    evaluator trained on them once and cached. None when images get no feature space
    (``features=none``, or too few images to train one; `feature_note` says why)."""
    from gankit.classify.evaluator import load_evaluator

    if eval_config.features == "none":
        return None
    if eval_config.features == "inception":
        from gankit.metrics.inception import InceptionExtractor, load_inception

        return InceptionExtractor(load_inception(eval_config.inception_weights, device=device))
    if eval_config.features not in FEATURE_SPACES:  # a path: a classifier's best.pt from `gankit classify`
        return load_evaluator(eval_config.features, device=device)
    if eval_config.evaluator:
        return load_evaluator(eval_config.evaluator, device=device)
    if eval_config.features == "evaluator" or data_name in MNIST_LIKE:
        return load_evaluator(None, device=device)
    if dataset is None or dataset.kind != "images" or len(dataset) < self_supervised_minimum():
        return None
    from gankit.classify.evaluator_cache import auto_evaluator

    return auto_evaluator(dataset, device=device, progress=progress).evaluator


def self_supervised_minimum() -> int:
    """The fewest images a self-supervised evaluator is trained on."""
    from gankit.classify.selfsup_train import MIN_IMAGES

    return MIN_IMAGES


def feature_note(eval_config, dataset: Dataset) -> str:
    """Why ``dataset`` (images) is scored in no feature space."""
    if eval_config.features == "none":
        return NO_FEATURES
    return (f"{len(dataset)} images are too few to train a self-supervised feature space (it takes at least "
            f"{self_supervised_minimum()}): no FID, precision or recall; give more images, or "
            "eval.evaluator=FILE from `gankit evaluator train`")


def extract(extractor: FeatureExtractor, images: Tensor, per_channel: bool = False) -> FeatureSet:
    """Features and class probabilities of images (N, C, H, W) in [−1, 1]; with
    ``per_channel`` each channel is classified alone (Stacked MNIST): features are
    concatenated, probabilities stacked to (N, C, classes)."""
    if not per_channel:
        return FeatureSet(*extractor.extract(images, batch_size=EXTRACT_BATCH))
    parts = [extractor.extract(images[:, c : c + 1], batch_size=EXTRACT_BATCH) for c in range(images.shape[1])]
    return FeatureSet(torch.cat([f for f, _ in parts], dim=1), torch.stack([p for _, p in parts], dim=1))


def score_image_sets(real_images: Tensor, fake_images: Tensor, eval_config, *, data_name: str = "mnist",
                     device: str = "cpu", extractor: FeatureExtractor | None = None) -> dict[str, Any]:
    """All image metrics of two sets of images (N, C, H, W) in [−1, 1], e.g. two exported folders."""
    extractor = extractor or load_extractor(eval_config, data_name, device)
    if extractor is None:
        raise ConfigError(NO_FEATURES)
    per_channel = data_name == "stacked-mnist"
    scores = score_features(extract(extractor, real_images, per_channel), extract(extractor, fake_images, per_channel),
                            **_feature_options(eval_config))
    return {"features": extractor.name, **scores}


def score_paths(real: str, fake: str, eval_config, device: str = "cpu") -> dict[str, Any]:
    """:func:`score_image_sets` of two folders / ``.npz`` files (``real`` may be ``mnist``),
    loaded at the extractor's input size (native size for Inception, which resizes to 299).
    With ``eval.features=auto`` and no evaluator, a ``real`` folder or file is scored in its own
    self-supervised feature space (trained once and cached, as for a run on that folder)."""
    from gankit.data.image_sets import load_image_set, reference_dataset

    if str(real) != "mnist" and eval_config.features == "auto" and not eval_config.evaluator:
        reference = reference_dataset(real)
        channels, size = int(reference.tensor.shape[1]), int(reference.tensor.shape[-1])
        fake_images = load_image_set(fake, channels=channels, image_size=size)  # read before any training
        extractor = load_extractor(eval_config, reference.name, device, dataset=reference)
        if extractor is None:
            raise ConfigError(feature_note(eval_config, reference))
        return score_image_sets(reference.tensor, fake_images, eval_config, device=device, extractor=extractor)
    extractor = load_extractor(eval_config, "mnist", device)
    if extractor is None:
        raise ConfigError(NO_FEATURES)
    size = getattr(extractor, "image_size", None)
    channels = getattr(extractor, "channels", 3)
    real_images = load_image_set(real, channels=channels, image_size=size)
    fake_images = load_image_set(fake, channels=channels, image_size=size or real_images.shape[-1])
    return score_image_sets(real_images, fake_images, eval_config, device=device, extractor=extractor)


NO_FEATURES = ("eval.features=none scores no images: leave eval.features=auto, give eval.evaluator=FILE from "
               "`gankit evaluator train`, or eval.features=inception eval.inception_weights=FILE")


def _feature_options(eval_config) -> dict[str, Any]:
    e = eval_config
    return {"k": e.k, "kid_subsets": e.kid_subsets, "kid_subset_size": e.kid_subset_size,
            "bootstrap": e.bootstrap, "seed": e.seed}


class Scorer:
    """Scores generators against one dataset; the extractor and real features are computed once."""

    def __init__(self, dataset: Dataset, config, device: str = "cpu"):
        self.dataset = dataset
        self.config = config
        self.device = device
        self._real: FeatureSet | None = None
        self._train: tuple[Tensor, Tensor, Tensor] | None = None  # (indices, features, nearest-other distances)
        # The closest generated/training pairs of the latest memorisation score, as
        # (generated image, training image, ratio), for the run's memorisation picture.
        self.closest: list[tuple[Tensor, Tensor, float]] = []
        self._extractor: FeatureExtractor | None = None
        self.per_channel = dataset.name == "stacked-mnist"  # each channel is one digit
        self.note = ""
        if dataset.kind == "images":
            self._extractor = load_extractor(config.eval, dataset.name, device, dataset=dataset,
                                             progress=config.train.progress)
            if self._extractor is None:
                self.note = feature_note(config.eval, dataset)
            else:
                from gankit.classify.sanity import require_same_shape

                try:  # a setting to change (the data's size or channels, or the evaluator): exit code 2
                    require_same_shape(self._extractor, dataset, self.per_channel)
                except DataError as exc:
                    raise ConfigError(str(exc)) from None
        real, k = min(config.eval.n, len(dataset)), config.eval.k
        if k >= real and (dataset.kind == "points" or self._extractor is not None):
            raise ConfigError(f"eval.k: {k} nearest neighbours need more than {k} real samples, but the data has "
                              f"{len(dataset)}; lower eval.k below {real}")

    @property
    def extractor(self) -> FeatureExtractor | None:
        """The feature space images are scored in (None for points, or images without one)."""
        return self._extractor

    def real_images(self, n: int) -> Tensor:
        return reference_sample(self.dataset, n, self.config.eval.seed)

    def _real_features(self) -> FeatureSet:
        if self._real is None:
            images = self.real_images(self.config.eval.n)
            self._real = extract(self._extractor, images, self.per_channel)
        return self._real

    def _train_features(self) -> tuple[Tensor, Tensor, Tensor]:
        if self._train is None:
            order = reference_order(self.dataset, MEMORISATION_TRAIN_MAX, self.config.eval.seed)
            # in slices: a copy of 10,000 large images at once would be hundreds of MB
            features = torch.cat([extract(self._extractor, self.dataset.tensor[order[start:start + TRAIN_SLICE]],
                                          self.per_channel).features for start in range(0, len(order), TRAIN_SLICE)])
            self._train = (order, features, nearest_other_distance(features))
        return self._train

    def _memorisation(self, fake: Tensor, fake_features: Tensor) -> dict[str, Any]:
        """``memorisation`` ± ``memorisation_std`` of ``fake`` (features ``fake_features``);
        keeps the closest pairs in :attr:`closest`."""
        order, train, radii = self._train_features()
        if len(train) < 2:
            return {}
        e = self.config.eval
        found = memorisation(train, fake_features, bootstrap=e.bootstrap, seed=e.seed,
                             pairs=CLOSEST_PAIRS, radii=radii)
        self.closest = [(fake[g].cpu(), self.dataset.tensor[order[t]], ratio) for g, t, ratio in found["closest_pairs"]]
        return {key: found[key] for key in ("memorisation", "memorisation_std") if key in found}

    def score(self, generator_net: nn.Module | None, discriminator: nn.Module | None = None, *,
              seed: int | None = None, fake: Tensor | None = None, fake_labels: Tensor | None = None
              ) -> dict[str, Any]:
        """Metrics of ``eval.n`` samples of the generator (latents seeded by ``seed``,
        default ``eval.seed``), or of ``fake`` samples when given (of classes ``fake_labels``
        for a conditional run). A conditional generator's samples follow the data's class
        frequencies, and also get intra-FID and the evaluator's class accuracy."""
        e, m = self.config.eval, self.config.model
        if fake is None:
            latent_generator = torch.Generator(device=self.device).manual_seed(e.seed if seed is None else seed)
            fake_labels = draw_labels(generator_net, e.n, latent_generator)
            fake = generate(generator_net, e.n, latent_dim=m.latent_dim, distribution=m.latent_distribution,
                            generator=latent_generator, device=self.device, labels=fake_labels)
        real = self.real_images(e.n)
        real_labels = None
        if fake_labels is not None:
            real_labels = self.dataset.labels[reference_order(self.dataset, e.n, e.seed)]
            fake_labels = fake_labels.cpu()
        if self.dataset.kind == "points":
            scores = evaluate_points(real, fake, self.dataset.geometry, k=e.k, curve_tolerance=e.curve_tolerance)
        elif self._extractor is None:
            scores = {}
        else:
            fake_set = extract(self._extractor, fake, self.per_channel)
            scores = {"features": self._extractor.name,
                      **score_features(self._real_features(), fake_set, **_feature_options(e)),
                      **self._memorisation(fake, fake_set.features)}
            if fake_labels is not None and not self.per_channel:
                per_class = conditional_scores(self._real_features().features, real_labels, fake_set.features,
                                               fake_set.probs, fake_labels, self.dataset.label_names,
                                               getattr(self._extractor, "class_names", []), k=e.k)
                scores["warnings"] = scores.get("warnings", []) + per_class.pop("warnings")
                scores.update(per_class)
        if discriminator is not None and OBJECTIVES[self.config.objective.name].logit and fake.ndim == 4:
            scores.update(boundary_for(discriminator, real, fake, self.config.model.pack, self.device,
                                       real_labels, fake_labels))
        return scores


def discriminator_probs(discriminator: nn.Module, samples: Tensor, pack: int = 1, device: str = "cpu",
                        batch_size: int = 512, labels: Tensor | None = None) -> Tensor:
    """σ(D(x)) per sample (σ(D(x, y)) for a conditional D, with the samples' ``labels``); with
    PacGAN packing each group's probability is given to its members (a trailing remainder of
    fewer than ``pack`` samples is dropped)."""
    usable = samples.shape[0] - samples.shape[0] % pack
    batch = max(pack, batch_size - batch_size % pack)
    was_training = discriminator.training
    discriminator.eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, usable, batch):
            stop = min(start + batch, usable)
            conditioned = () if labels is None else (labels[start:stop].to(device),)
            logits = discriminator(samples[start:stop].to(device), *conditioned).float().reshape(-1)
            outputs.append(torch.sigmoid(logits).repeat_interleave(pack).cpu())
    discriminator.train(was_training)
    return torch.cat(outputs) if outputs else torch.empty(0)


def boundary_for(discriminator: nn.Module, real: Tensor, fake: Tensor, pack: int, device: str,
                 real_labels: Tensor | None = None, fake_labels: Tensor | None = None) -> dict[str, Any]:
    """The lung-cell boundary-loss study's s1, s2, s3, score for images (N, C, H, W) in [−1, 1],
    compared as pixels in [0, 1] (a conditional D judges each sample at its class)."""
    real_probs = discriminator_probs(discriminator, real, pack, device, labels=real_labels)
    fake_probs = discriminator_probs(discriminator, fake, pack, device, labels=fake_labels)
    return boundary_scores(real_probs, fake_probs, (real[: len(real_probs)] + 1) / 2, (fake[: len(fake_probs)] + 1) / 2)
