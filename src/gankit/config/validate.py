"""Cross-field checks of a config: what a single field's type and choices cannot express."""

from __future__ import annotations

from gankit.config.rules import parse_stop_rule, selection_direction
from gankit.config.registry import AUGMENT_NAMES, DATA_NAMES, OBJECTIVE_NAMES
from gankit.config.schema import FEATURE_SPACES, Config
from gankit.errors import ConfigError


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
    _check_batch_of_one(config)
    if config.model.conditional and config.model.pack > 1:
        raise ConfigError("model.conditional: does not combine with model.pack > 1 (a pack would hold samples of "
                          "several classes); set model.pack=1")
    if config.model.class_dim < 1:
        raise ConfigError(f"model.class_dim: must be at least 1, got {config.model.class_dim}")
    if config.data.name == "points" and not config.data.path:
        raise ConfigError("data.path: data.name=points needs data.path=FILE (.csv or .npy)")
    if config.data.name == "folder" and not config.data.path:
        raise ConfigError("data.path: data.name=folder needs data.path=DIR (a folder of images)")
    if config.data.channels not in (1, 3):
        raise ConfigError(f"data.channels: must be 1 (grayscale) or 3 (RGB), got {config.data.channels}")
    for key, value, low in (("data.limit", config.data.limit, 0), ("data.image_size", config.data.image_size, 8),
                            ("model.base_width", config.model.base_width, 1),
                            ("model.d_base_width", config.model.d_base_width, 0),
                            ("model.minibatch_kernels", config.model.minibatch_kernels, 0),
                            ("model.minibatch_kernel_dim", config.model.minibatch_kernel_dim, 1)):
        if value < low:
            raise ConfigError(f"{key}: must be at least {low}, got {value}")
    if not 0 < config.objective.label_smoothing <= 1:
        raise ConfigError(
            f"objective.label_smoothing: the real target must be in (0, 1], got {config.objective.label_smoothing}"
        )
    if config.objective.generator_loss == "saturating" and OBJECTIVE_NAMES.fact(config.objective.name) is False:
        raise ConfigError(
            f"objective.generator_loss: {config.objective.name} has one generator loss; "
            f"saturating applies to {', '.join(OBJECTIVE_NAMES.where(True))}"
        )
    _validate_small_data(config)
    if not 0 < config.objective.gamma <= 1:
        raise ConfigError(f"objective.gamma: must be in (0, 1], got {config.objective.gamma}")
    if config.eval.k >= config.eval.n:
        raise ConfigError(f"eval.k: {config.eval.k} nearest neighbours need more than {config.eval.k} samples, but "
                          f"eval.n is {config.eval.n}; lower eval.k (default 5) or raise eval.n")
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


def _check_batch_of_one(config: Config) -> None:
    """Batch norm and mode seeking compare the samples of a batch: one sample is refused here,
    not by a traceback at the first step."""
    if config.train.batch_size > 1:
        return
    m, o = config.model, config.objective
    for key, on, why in (("model.g_batch_norm", m.g_batch_norm, "batch norm normalises over the batch"),
                         ("model.d_batch_norm", m.d_batch_norm, "batch norm normalises over the batch"),
                         ("objective.mode_seeking_weight", o.mode_seeking_weight > 0,
                          "mode seeking compares pairs of samples")):
        if on:
            raise ConfigError(f"train.batch_size: 1 sample per batch does not work with {key} ({why}); "
                              f"use train.batch_size=2 or more, or turn {key} off")


def _validate_small_data(config: Config) -> None:
    """The augment section and the R1/LeCam keys."""
    a, o = config.augment, config.objective
    operations = [name.strip() for name in a.policy.split(",") if name.strip()]
    unknown = [name for name in operations if name not in AUGMENT_NAMES]
    if unknown:
        raise ConfigError(f"augment.policy: unknown operation '{unknown[0]}'; use a comma-separated list of "
                          f"{', '.join(AUGMENT_NAMES)}")
    if operations and DATA_NAMES.fact(config.data.name) != "images":
        raise ConfigError(f"augment.policy: augmentations act on images, and data.name={config.data.name} is a "
                          "point set; leave augment.policy empty")
    if not 0 <= a.p <= 1:
        raise ConfigError(f"augment.p: must be in [0, 1], got {a.p}")
    if a.adaptive and not operations:
        raise ConfigError("augment.adaptive: needs augment.policy (e.g. color,translation,cutout)")
    if a.adaptive and o.name == "wgan-gp":
        raise ConfigError("augment.adaptive: a WGAN critic's score has no sign that means 'real'; use a fixed "
                          "augment.p with wgan-gp, or another objective")
    if not 0 < a.target < 1:
        raise ConfigError(f"augment.target: must be in (0, 1), got {a.target}")
    if a.interval < 1 or o.r1_interval < 1:
        raise ConfigError("augment.interval and objective.r1_interval: must be at least 1")
    if not a.speed_kimg > 0:
        raise ConfigError(f"augment.speed_kimg: must be positive, got {a.speed_kimg}")
    for key, value in (("objective.r1_weight", o.r1_weight), ("objective.lecam_weight", o.lecam_weight),
                       ("objective.mode_seeking_weight", o.mode_seeking_weight)):
        if value < 0:
            raise ConfigError(f"{key}: must be 0 (off) or positive, got {value}")
