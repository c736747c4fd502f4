"""The schema of a run's config: one dataclass per section, every default in one place.

Sections: ``data``, ``model``, ``objective``, ``train``, ``eval``, ``sample``. A field
with ``_choice`` metadata only accepts the listed strings. :func:`validate` holds the
cross-field checks a single field's type cannot express.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import tomli_w

from gankit.errors import ConfigError


FEATURE_SPACES = ("auto", "evaluator", "inception")  # or the path of a `gankit classify` best.pt


def _choice(default: str, *choices: str) -> Any:
    return field(default=default, metadata={"choices": choices})


@dataclass
class DataConfig:
    """What to train on: toy 2D sets, a user's points file, MNIST, or a folder of images."""

    name: str = _choice(
        "spiral", "line", "parabola", "spiral", "ring8", "grid25", "points", "mnist", "stacked-mnist", "folder"
    )
    path: str = ""
    n_samples: int = 10000
    seed: int = 0
    channels: int = 1
    image_size: int = 28
    quarantine: bool = False
    split: str = _choice("train", "train", "test")
    limit: int = 0


@dataclass
class ModelConfig:
    """Generator and discriminator architecture: MLP or DCGAN family."""

    family: str = _choice("mlp", "mlp", "dcgan")
    dcgan_style: str = _choice("tf", "tf", "keras")
    base_width: int = 64
    d_batch_norm: bool = False
    latent_dim: int = 2
    latent_distribution: str = _choice("normal", "normal", "uniform")
    g_hidden: list[int] = field(default_factory=lambda: [64, 64])
    d_hidden: list[int] = field(default_factory=lambda: [64, 64])
    g_slope: float = 0.2
    d_slope: float = 0.2
    g_dropout: float = 0.0
    d_dropout: float = 0.0
    g_batch_norm: bool = False
    g_output: str = _choice("linear", "linear", "tanh", "sigmoid")
    pack: int = 1
    spectral_norm: bool = False
    minibatch_std: bool = False


@dataclass
class ObjectiveConfig:
    """The adversarial objective (formulas in gankit.objectives)."""

    name: str = _choice(
        "bce", "bce", "lsgan", "hinge", "wgan-gp", "kl", "reverse_kl", "js",
        "pearson", "hellinger", "tv", "boundary",
    )
    generator_loss: str = _choice("nonsaturating", "nonsaturating", "saturating")
    label_smoothing: float = 1.0
    gp_weight: float = 10.0
    gamma: float = 0.8


@dataclass
class TrainConfig:
    """The optimisation loop, its hooks and where randomness comes from.

    `device`: ``auto`` (CUDA when available, else CPU), ``cpu`` or ``cuda``; under torchrun
    each process takes the GPU of its local rank. `batch_size` is the global batch: with N
    processes each trains on batch_size / N of it. `autocast`: ``bf16`` runs the networks'
    forward passes under bfloat16 autocast (CUDA, or CPUs with bf16 units; losses and
    optimizer state stay float32). `compile`: ``torch.compile`` the networks for the training
    passes (it costs seconds to minutes of compilation at the start; see BENCHMARKS.md for
    when it pays). `sync_batch_norm`: under DDP on CUDA, batch-norm statistics over all
    processes' batches instead of each process's own.
    """

    epochs: int = 100
    batch_size: int = 256
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    g_betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    d_betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    n_critic: int = 1
    ema_decay: float = 0.0
    lr_decay: str = _choice("none", "none", "linear")
    seed: int = 0
    device: str = _choice("auto", "auto", "cpu", "cuda")
    autocast: str = _choice("none", "none", "bf16")
    compile: bool = False
    sync_batch_norm: bool = False
    stop_at: str = ""
    stop_on_collapse: bool = False
    tensorboard: bool = True
    sample_every: int = 10
    checkpoint_every: int = 10
    keep_checkpoints: int = 3
    progress: bool = True


@dataclass
class EvalConfig:
    """Metrics computed every `every` epochs (0 = only at the end) and by `gankit eval`.

    Images are scored in the feature space of `features`: ``auto`` is the shipped MNIST
    evaluator for MNIST-like data, the network in `evaluator` when set, and Inception-v3
    when `features=inception` with `inception_weights` (the FID weights file you have);
    `features=PATH` scores in the space of a classifier checkpoint from ``gankit classify``.
    `select` names the metric that picks ``checkpoints/best.pt`` (``auto``: FID for
    images, the shape scores for 2D points, ``score`` for the boundary objective).
    """

    every: int = 0
    n: int = 2500
    k: int = 5
    curve_tolerance: float = 0.05
    seed: int = 1234
    features: str = "auto"  # one of FEATURE_SPACES, or a path (checked in validate)
    evaluator: str = ""
    inception_weights: str = ""
    select: str = "auto"
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    bootstrap: int = 10


@dataclass
class SampleConfig:
    """Defaults for `gankit sample`, truncation and Discriminator Rejection Sampling (DRS).

    `truncation` τ > 0 redraws latent components with |z| > τ (0 = off). DRS (Azadi et al.
    2019): `drs_burn_in` proposals estimate the maximum log-ratio M; γ is the per-batch
    `drs_gamma_percentile`-th percentile of F, or the fixed `drs_gamma` when the percentile
    is −1; D is first fine-tuned for `drs_finetune_steps` on real vs. generated (0 = off);
    sampling stops with an error below `drs_min_acceptance`.
    """

    n: int = 1000
    batch_size: int = 1024
    seed: int = 0
    truncation: float = 0.0
    drs_burn_in: int = 10000
    drs_gamma_percentile: float = 95.0
    drs_gamma: float = 0.0
    drs_epsilon: float = 1e-6
    drs_finetune_steps: int = 0
    drs_min_acceptance: float = 0.01


@dataclass
class Config:
    """A whole run: one field per section."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        """Readable TOML: one ``[section]`` per dataclass, lists on one line."""
        lines = [f"description = {_toml_value(self.description)}"]
        for section, values in self.to_dict().items():
            if isinstance(values, dict):
                lines += ["", f"[{section}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return tomli_w.dumps({"v": value})[4:].strip()


def validate(config: Config) -> Config:
    """Cross-field checks that a single field's type cannot express."""
    positive = {
        "data.n_samples": config.data.n_samples, "model.latent_dim": config.model.latent_dim,
        "model.pack": config.model.pack, "train.batch_size": config.train.batch_size,
        "train.n_critic": config.train.n_critic, "eval.n": config.eval.n,
        "eval.kid_subsets": config.eval.kid_subsets, "eval.kid_subset_size": config.eval.kid_subset_size,
        "eval.k": config.eval.k, "train.keep_checkpoints": config.train.keep_checkpoints,
        "sample.batch_size": config.sample.batch_size,
    }
    for key, value in positive.items():
        if value < 1:
            raise ConfigError(f"{key}: must be at least 1, got {value}")
    for key, value in {"train.epochs": config.train.epochs, "eval.every": config.eval.every,
                       "train.sample_every": config.train.sample_every,
                       "train.checkpoint_every": config.train.checkpoint_every}.items():
        if value < 0:
            raise ConfigError(f"{key}: must be 0 or more, got {value}")
    for key, value in {"train.g_lr": config.train.g_lr, "train.d_lr": config.train.d_lr}.items():
        if not value > 0:
            raise ConfigError(f"{key}: must be positive, got {value}")
    for key, betas in {"train.g_betas": config.train.g_betas, "train.d_betas": config.train.d_betas}.items():
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ConfigError(f"{key}: expected two numbers in [0, 1), got {betas}")
    if not 0 <= config.train.ema_decay < 1:
        raise ConfigError(f"train.ema_decay: must be in [0, 1), got {config.train.ema_decay}")
    for key, value in {"model.g_dropout": config.model.g_dropout, "model.d_dropout": config.model.d_dropout}.items():
        if not 0 <= value < 1:
            raise ConfigError(f"{key}: must be in [0, 1), got {value}")
    if config.train.batch_size % config.model.pack:
        raise ConfigError(
            f"train.batch_size: {config.train.batch_size} is not divisible by model.pack={config.model.pack}"
        )
    if config.data.name == "points" and not config.data.path:
        raise ConfigError("data.path: data.name=points needs data.path=FILE (.csv or .npy)")
    if config.data.name == "folder" and not config.data.path:
        raise ConfigError("data.path: data.name=folder needs data.path=DIR (a folder of images)")
    if config.data.channels not in (1, 3):
        raise ConfigError(f"data.channels: must be 1 (grayscale) or 3 (RGB), got {config.data.channels}")
    for key, value, low in (("data.limit", config.data.limit, 0), ("data.image_size", config.data.image_size, 8),
                            ("model.base_width", config.model.base_width, 1)):
        if value < low:
            raise ConfigError(f"{key}: must be at least {low}, got {value}")
    if not 0 < config.objective.label_smoothing <= 1:
        raise ConfigError(
            f"objective.label_smoothing: the real target must be in (0, 1], got {config.objective.label_smoothing}"
        )
    if config.objective.generator_loss == "saturating" and config.objective.name in ("lsgan", "hinge", "wgan-gp"):
        raise ConfigError(
            f"objective.generator_loss: {config.objective.name} has one generator loss; "
            "saturating applies to bce, boundary and the f-GAN objectives"
        )
    if not 0 < config.objective.gamma <= 1:
        raise ConfigError(f"objective.gamma: must be in (0, 1], got {config.objective.gamma}")
    if config.eval.bootstrap < 0 or config.eval.bootstrap == 1:
        raise ConfigError(f"eval.bootstrap: resamples for the spreads, 0 (none) or at least 2, got {config.eval.bootstrap}")
    _check_features(config.eval.features)
    if config.eval.features == "inception" and not config.eval.inception_weights:
        raise ConfigError("eval.inception_weights: eval.features=inception needs the path of the Inception-v3 "
                          "FID weights file (pt_inception-2015-12-05-6726825d.pth); gankit never downloads it")
    s = config.sample
    if s.truncation < 0 or s.drs_burn_in < 0 or s.drs_finetune_steps < 0:
        raise ConfigError("sample.truncation, sample.drs_burn_in and sample.drs_finetune_steps must be 0 or more")
    if not (0 <= s.drs_gamma_percentile <= 100 or s.drs_gamma_percentile == -1):
        raise ConfigError(f"sample.drs_gamma_percentile: 0..100, or -1 for the fixed sample.drs_gamma; "
                          f"got {s.drs_gamma_percentile}")
    if not 0 <= s.drs_min_acceptance < 1 or not s.drs_epsilon > 0:
        raise ConfigError("sample.drs_min_acceptance must be in [0, 1) and sample.drs_epsilon > 0")
    from gankit.metrics.select import parse_stop_rule, selection_direction

    selection_direction(config.eval.select)
    parse_stop_rule(config.train.stop_at)
    return config


def _check_features(features: str) -> None:
    """eval.features is a named feature space or a file path (a classifier's best.pt)."""
    if features in FEATURE_SPACES or "/" in features or "\\" in features or features.endswith((".pt", ".pth")):
        return
    import difflib

    close = difflib.get_close_matches(features, FEATURE_SPACES, n=1)
    raise ConfigError(f"eval.features: '{features}' is not one of {', '.join(FEATURE_SPACES)} nor a .pt path "
                      "(a best.pt of `gankit classify`)" + (f"; closest: '{close[0]}'" if close else ""))
