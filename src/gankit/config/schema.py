"""The schema of a run's config: one dataclass per section, every default in one place.

Sections: ``data``, ``model``, ``objective``, ``train``, ``eval``, ``sample``, ``augment``. Every field
says what it means in its ``doc`` metadata (printed by ``gankit config --keys``); a field
with ``choices`` only accepts the listed strings. The cross-field checks a single field's
type cannot express are in config/validate.py.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import Any

import tomli_w

from gankit.config.registry import AUGMENT_NAMES, DATA_NAMES, DCGAN_STYLE_NAMES, MODEL_FAMILY_NAMES, OBJECTIVE_NAMES

FEATURE_SPACES = ("auto", "evaluator", "inception", "none")  # or the path of a `gankit classify` best.pt


def _key(default: Any, doc: str, choices: Sequence[str] = ()) -> Any:
    """A config field: its default, what it means (``gankit config --keys``) and, for a string
    with ``choices``, the only values it accepts (a registry's names: read when checked, so a
    name registered at run time counts)."""
    metadata = {"doc": doc, **({"choices": choices} if choices else {})}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def _choice(default: str, choices: Sequence[str], doc: str) -> Any:
    return _key(default, doc, choices)


@dataclass
class DataConfig:
    """What to train on: toy 2D sets, a user's points file, MNIST (plain, stacked, colour), or a folder of images."""

    name: str = _choice("spiral", DATA_NAMES, "the training data (gankit.data's registry)")
    path: str = _key("", "the points file (.csv/.npy), the MNIST IDX folder (mnist, stacked-mnist, colour-mnist) or "
                         "the image folder; '' = the default")
    n_samples: int = _key(10000, "samples drawn for toy 2D sets and Stacked MNIST")
    seed: int = _key(0, "seed of the toy sets' draws, Stacked MNIST, Colour MNIST's colour jitter and the "
                        "data.limit subset")
    channels: int = _key(1, "image folders: 1 (grayscale) or 3 (RGB)")
    image_size: int = _key(28, "image folders: side in pixels the images are resized to (at least 8)")
    quarantine: bool = _key(False, "image folders: move unreadable files into Trash/ per class instead of only "
                                   "listing them in skipped_files.txt")
    split: str = _choice("train", ("train", "test"),
                         "MNIST (and its stacked and colour forms): which IDX split to read")
    limit: int = _key(0, "train on a seeded random subset of this many samples; 0 = all")


@dataclass
class ModelConfig:
    """Generator and discriminator architecture: MLP or DCGAN family."""

    family: str = _choice("mlp", MODEL_FAMILY_NAMES, "the network family (gankit.models' registry); dcgan needs images")
    dcgan_style: str = _choice("tf", DCGAN_STYLE_NAMES,
                               "DCGAN layout: the TF 32×32 tutorial's, the Keras MNIST one's, or Radford et al.'s "
                               "4×4-kernel stride-2 stack (square sides 4·2^k: 32, 64, …)")
    base_width: int = _key(64, "DCGAN channel width (64 = the source studies' widths; narrower is faster on a CPU)")
    d_base_width: int = _key(0, "DCGAN discriminator channel width when it differs from G's; 0 = base_width")
    d_batch_norm: bool = _key(False, "batch norm in the discriminator (DCGAN)")
    latent_dim: int = _key(2, "length of the latent code z")
    latent_distribution: str = _choice("normal", ("normal", "uniform"), "distribution of z: N(0, 1) or U(−1, 1)")
    g_hidden: list[int] = _key([64, 64], "MLP generator hidden widths")
    d_hidden: list[int] = _key([64, 64], "MLP discriminator hidden widths")
    g_slope: float = _key(0.2, "generator LeakyReLU slope; 0 = ReLU")
    d_slope: float = _key(0.2, "discriminator LeakyReLU slope; 0 = ReLU")
    g_dropout: float = _key(0.0, "generator dropout probability, in [0, 1)")
    d_dropout: float = _key(0.0, "discriminator dropout probability, in [0, 1)")
    g_batch_norm: bool = _key(False, "batch norm in the generator")
    g_output: str = _choice("linear", ("linear", "tanh", "sigmoid"), "the generator's output activation")
    pack: int = _key(1, "PacGAN: the discriminator judges this many samples at once (1 = off)")
    pack_init: str = _choice("dense", ("dense", "block"),
                             "PacGAN, MLP discriminator: block starts its first layer with each unit reading "
                             "one sample of the pack (it learns per-sample structure sooner); dense = PyTorch's start")
    spectral_norm: bool = _key(False, "spectral normalisation of the discriminator's layers")
    minibatch_std: bool = _key(False, "append the minibatch standard deviation as a discriminator feature (ProGAN)")
    minibatch_kernels: int = _key(0, "minibatch discrimination (Salimans et al. 2016): number of kernels B "
                                     "appended as D features; 0 = off")
    minibatch_kernel_dim: int = _key(5, "minibatch discrimination: length C of each kernel's projection")
    conditional: bool = _key(False, "class-conditional GAN on data with classes (class folders, MNIST labels): "
                                    "G gets a class embedding, D a projection head (Miyato & Koyama 2018)")
    class_dim: int = _key(16, "conditional GANs: length of the generator's class embedding")


@dataclass
class ObjectiveConfig:
    """The adversarial objective (formulas in gankit.objectives)."""

    name: str = _choice("bce", OBJECTIVE_NAMES, "the adversarial objective (gankit.objectives' registry)")
    generator_loss: str = _choice("nonsaturating", ("nonsaturating", "saturating"),
                                  "generator loss form; saturating applies to bce, boundary and the f-GAN objectives")
    label_smoothing: float = _key(1.0, "one-sided label smoothing: the real target, in (0, 1]; 1 = off")
    gp_weight: float = _key(10.0, "WGAN-GP gradient-penalty weight λ")
    gamma: float = _key(0.8, "boundary objective γ, in (0, 1]")
    r1_weight: float = _key(0.0, "R1: weight γ of the zero-centred gradient penalty (γ/2)·E‖∇D(x)‖² on real data; "
                                 "0 = off")
    r1_interval: int = _key(16, "R1: computed every this many D steps, weighted by it (lazy regularisation)")
    lecam_weight: float = _key(0.0, "LeCam: weight λ of the regulariser that keeps D's outputs on real and "
                                    "generated data near each other's moving averages; 0 = off")
    mode_seeking_weight: float = _key(0.0, "mode seeking (Mao et al. 2019): weight λ of 1/(mean|G(z1)-G(z2)| / "
                                           "mean|z1-z2|) in G's loss, pairs of one class in conditional GANs; "
                                           "0 = off")


@dataclass
class AugmentConfig:
    """Differentiable augmentation of what D sees (DiffAugment), with ADA's adaptive strength.

    The same random transformations are applied to real and generated images, before D, in
    both the D and the G step. With `adaptive`, p starts at 0 and follows ADA's heuristic:
    every `interval` steps it moves toward keeping r_t = E[sign(D's belief on reals)] at
    `target`, by up to 1 per `speed_kimg` thousand real images.
    """

    policy: str = _key("", f"comma-separated operations from {', '.join(AUGMENT_NAMES.declared)}; '' = off "
                           "(images only; DiffAugment's is color,translation,cutout)")
    p: float = _key(1.0, "probability each operation is applied to each image, in [0, 1] (fixed p)")
    adaptive: bool = _key(False, "ADA: adapt p during training from the sign of D's outputs on real images")
    target: float = _key(0.6, "ADA: the target of r_t = E[sign(D's belief that a real image is real)], in (0, 1)")
    interval: int = _key(4, "ADA: steps between adjustments of p")
    speed_kimg: float = _key(20.0, "ADA: thousands of real images over which p can move from 0 to 1")


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

    epochs: int = _key(100, "epochs to train (a resumed run continues up to this)")
    batch_size: int = _key(256, "the global batch (split over processes under --nproc/torchrun)")
    g_lr: float = _key(2e-4, "generator Adam learning rate")
    d_lr: float = _key(2e-4, "discriminator Adam learning rate")
    g_betas: list[float] = _key([0.5, 0.999], "generator Adam (β1, β2), each in [0, 1)")
    d_betas: list[float] = _key([0.5, 0.999], "discriminator Adam (β1, β2), each in [0, 1)")
    n_critic: int = _key(1, "discriminator steps per generator step")
    ema_decay: float = _key(0.0, "EMA of the generator's weights (samples come from it), in [0, 1); 0 = off")
    lr_decay: str = _choice("none", ("none", "linear"), "learning-rate schedule: constant or linear to 0")
    seed: int = _key(0, "seed of initial weights, data order, latents and dropout")
    device: str = _choice("auto", ("auto", "cpu", "cuda"), "auto = CUDA when available, else CPU")
    autocast: str = _choice("none", ("none", "bf16"), "bf16 runs the forward passes under bfloat16 autocast")
    compile: bool = _key(False, "torch.compile the networks for the training passes")
    sync_batch_norm: bool = _key(False, "under multi-GPU DDP: batch-norm statistics over all processes")
    stop_at: str = _key("", "end training at the first evaluation meeting a rule such as fid<=5; '' = off")
    stop_on_collapse: bool = _key(False, "end the run when mode collapse is diagnosed")
    tensorboard: bool = _key(True, "write TensorBoard logs to RUN/tb/")
    sample_every: int = _key(10, "epochs between sample pictures (and the last epoch); 0 = only the last")
    checkpoint_every: int = _key(10, "epochs between kept epoch checkpoints; 0 = only last.pt at the end")
    keep_checkpoints: int = _key(3, "epoch checkpoints kept (the oldest are pruned)")
    progress: bool = _key(True, "show the progress bar")


@dataclass
class EvalConfig:
    """Metrics computed every `every` epochs (0 = only at the end) and by `gankit eval`.

    Images are scored in the feature space of `features`: ``auto`` is the network in
    `evaluator` when set, else the shipped MNIST evaluator for MNIST-like data, else a
    self-supervised evaluator trained once on the data and cached (any image folder);
    Inception-v3 when `features=inception` with `inception_weights` (the FID weights file
    you have); `features=PATH` scores in the space of a classifier checkpoint from
    ``gankit classify``; `features=none` scores no images (no FID, precision or recall).
    `select` names the metric that picks ``checkpoints/best.pt`` (``auto``: FID for
    images, the shape scores for 2D points, ``score`` for the boundary objective).
    """

    every: int = _key(0, "epochs between evaluations; 0 = only at the end")
    n: int = _key(2500, "generated samples scored (and real ones compared with)")
    k: int = _key(5, "nearest neighbours for precision, recall, density and coverage")
    curve_tolerance: float = _key(0.05, "line/parabola/spiral: distance within which a curve bin counts as covered")
    seed: int = _key(1234, "seed of the evaluation's latents, real subset and resamples")
    features: str = _key("auto", "feature space for images: auto (your evaluator, else the shipped MNIST one "
                                 "for MNIST-like data, else a self-supervised one trained on the data and "
                                 "cached), evaluator, inception, none, or a `gankit classify` best.pt path")  # checked in validate
    evaluator: str = _key("", "an evaluator network file from `gankit evaluator train`; '' = as eval.features "
                              "says")
    inception_weights: str = _key("", "path of the Inception-v3 FID weights file (features=inception)")
    select: str = _key("auto", "the metric that picks checkpoints/best.pt; auto = FID for images, the shape "
                               "scores for points, score for the boundary objective")
    kid_subsets: int = _key(100, "random subsets KID is averaged over")
    kid_subset_size: int = _key(1000, "size of each KID subset (capped at the sample count)")
    bootstrap: int = _key(10, "bootstrap resamples for the ± spreads; 0 = none, else at least 2")
    check: bool = _key(True, "at the end of an image run, check that the feature space sees blur, noise, colour "
                             "shifts, collapse and copies on this data (cached; the report shows it)")


@dataclass
class SampleConfig:
    """Defaults for `gankit sample`, truncation and Discriminator Rejection Sampling (DRS).

    `truncation` τ > 0 redraws latent components with |z| > τ (0 = off). DRS (Azadi et al.
    2019): `drs_burn_in` proposals estimate the maximum log-ratio M; γ is the per-batch
    `drs_gamma_percentile`-th percentile of F, or the fixed `drs_gamma` when the percentile
    is −1; D is first fine-tuned for `drs_finetune_steps` on real vs. generated (0 = off);
    sampling stops with an error below `drs_min_acceptance`.
    """

    n: int = _key(1000, "samples `gankit sample` writes")
    batch_size: int = _key(1024, "samples generated per batch")
    seed: int = _key(0, "seed of the latents drawn by `gankit sample`")
    truncation: float = _key(0.0, "truncation τ: redraw latent components with |z| > τ; 0 = off")
    drs_burn_in: int = _key(10000, "DRS: proposals that estimate the maximum log-ratio M")
    drs_gamma_percentile: float = _key(95.0, "DRS: γ as this percentile of F per batch, 0..100; −1 = fixed drs_gamma")
    drs_gamma: float = _key(0.0, "DRS: the fixed γ when drs_gamma_percentile is −1")
    drs_epsilon: float = _key(1e-6, "DRS: ε that keeps log(1 − exp(·)) finite; > 0")
    drs_finetune_steps: int = _key(0, "DRS: steps fine-tuning D on real vs. generated first; 0 = off")
    drs_min_acceptance: float = _key(0.01, "DRS: stop with an error below this acceptance rate, in [0, 1)")


@dataclass
class Config:
    """A whole run: one field per section."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    description: str = _key("", "one line saying what the run is for (shown by `gankit presets`)")

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
