"""All defaults in one place: dataclass sections, TOML files, presets, KEY=VALUE overrides.

A config is resolved in layers: the dataclass defaults below, then a preset or TOML
file (only the keys it sets), then ``section.key=value`` overrides from the command
line. Every value is checked against its field's type and allowed choices; a bad key
or value raises :class:`ConfigError` naming the key and the closest valid one. The
resolved config is written to the run folder as ``config.toml`` and can be trained
again as is.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import sys
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import tomli_w

from gankit.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _choice(default: str, *choices: str) -> Any:
    return field(default=default, metadata={"choices": choices})


@dataclass
class DataConfig:
    """What to train on: toy 2D sets, a user's points file, MNIST, or a folder of images."""

    name: str = _choice("spiral", "line", "parabola", "spiral", "ring8", "grid25", "points", "mnist", "folder")
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
    """The optimisation loop, its hooks and where randomness comes from."""

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
    device: str = _choice("cpu", "cpu", "auto", "cuda")
    sample_every: int = 10
    checkpoint_every: int = 10
    keep_checkpoints: int = 3
    progress: bool = True


@dataclass
class EvalConfig:
    """Metrics computed every `every` epochs (0 = only at the end) and by `gankit eval`."""

    every: int = 0
    n_samples: int = 2500
    k: int = 5
    curve_tolerance: float = 0.05
    seed: int = 1234


@dataclass
class SampleConfig:
    """Defaults for `gankit sample`."""

    n: int = 1000
    batch_size: int = 1024
    seed: int = 0


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


SECTIONS = tuple(f.name for f in dataclasses.fields(Config) if f.name != "description")


def _section_fields(section: str) -> dict[str, dataclasses.Field]:
    cls = typing.get_type_hints(Config)[section]
    return {f.name: f for f in dataclasses.fields(cls)}


def valid_keys() -> list[str]:
    """Every settable key as ``section.field``."""
    return ["description"] + [f"{s}.{k}" for s in SECTIONS for k in _section_fields(s)]


def _suggest(key: str, options: list[str]) -> str:
    close = difflib.get_close_matches(key, options, n=1, cutoff=0.5)
    if not close:
        close = difflib.get_close_matches(key.split(".")[-1], [o.split(".")[-1] for o in options], n=1)
        close = [o for o in options if close and o.endswith("." + close[0])][:1]
    return f" (did you mean '{close[0]}'?)" if close else ""


def _parse_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"{key}: expected true or false, got '{value}'")


def _coerce(key: str, value: Any, f: dataclasses.Field, hint: Any) -> Any:
    """Turn a TOML value or a command-line string into the field's type, or raise."""
    origin = typing.get_origin(hint)
    try:
        if hint is bool:
            return _parse_bool(key, value)
        if hint is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value) if not isinstance(value, str) else int(value.strip())
        if hint is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if hint is str:
            text = str(value)
            choices = f.metadata.get("choices")
            if choices and text not in choices:
                raise ConfigError(
                    f"{key}: '{text}' is not one of {', '.join(choices)}"
                    + _suggest(text, list(choices)).replace("did you mean", "closest")
                )
            return text
        if origin is list:
            (item,) = typing.get_args(hint)
            if isinstance(value, str):
                text = value.strip().strip("[]")
                value = [v for v in (p.strip() for p in text.split(",")) if v]
            if not isinstance(value, (list, tuple)):
                raise ValueError
            return [_coerce(key, v, f, item) for v in value]
    except ConfigError:
        raise
    except (TypeError, ValueError):
        pass
    name = getattr(hint, "__name__", str(hint))
    raise ConfigError(f"{key}: expected {name}, got '{value}'")


def _set(config: Config, key: str, value: Any) -> None:
    if key == "description":
        config.description = str(value)
        return
    section, _, name = key.partition(".")
    if section not in SECTIONS or not name:
        raise ConfigError(f"unknown config key '{key}'{_suggest(key, valid_keys())}")
    fields_ = _section_fields(section)
    if name not in fields_:
        raise ConfigError(f"unknown config key '{key}'{_suggest(key, valid_keys())}")
    target = getattr(config, section)
    hint = typing.get_type_hints(type(target))[name]
    setattr(target, name, _coerce(key, value, fields_[name], hint))


def apply_mapping(config: Config, mapping: dict[str, Any], source: str = "") -> Config:
    """Override ``config`` in place with a nested mapping as read from TOML."""
    for top, value in mapping.items():
        if top == "description":
            _set(config, top, value)
        elif isinstance(value, dict):
            for name, inner in value.items():
                _set(config, f"{top}.{name}", inner)
        else:
            where = f" in {source}" if source else ""
            raise ConfigError(f"unknown config key '{top}'{where}{_suggest(top, list(SECTIONS))}")
    return config


def apply_overrides(config: Config, overrides: list[str]) -> Config:
    """Apply ``section.key=value`` strings, as typed on the command line."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override '{item}' is not KEY=VALUE (e.g. train.epochs=20)")
        _set(config, key.strip(), value.strip())
    return config


def validate(config: Config) -> Config:
    """Cross-field checks that a single field's type cannot express."""
    positive = {
        "data.n_samples": config.data.n_samples, "model.latent_dim": config.model.latent_dim,
        "model.pack": config.model.pack, "train.batch_size": config.train.batch_size,
        "train.n_critic": config.train.n_critic, "eval.n_samples": config.eval.n_samples,
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
    return config


# ---------------------------------------------------------------- presets and files

def preset_names() -> list[str]:
    root = resources.files("gankit.presets")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def _read_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None


def preset_mapping(name: str) -> dict[str, Any]:
    names = preset_names()
    if name not in names:
        raise ConfigError(f"unknown preset '{name}'{_suggest(name, names)}; `gankit presets` lists them")
    text = resources.files("gankit.presets").joinpath(f"{name}.toml").read_text()
    return _read_toml(text, f"preset {name}")


def preset_descriptions() -> dict[str, str]:
    """Preset name -> its one-line description."""
    return {name: str(preset_mapping(name).get("description", "")) for name in preset_names()}


def load_config(target: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Resolve a config: defaults <- preset name or TOML file <- KEY=VALUE overrides."""
    config = Config()
    if target is not None:
        path = Path(target)
        if path.is_dir() and (path / "config.toml").is_file():
            path = path / "config.toml"
        if path.suffix == ".toml" or path.is_file():
            if not path.is_file():
                raise ConfigError(f"config file '{path}' does not exist")
            apply_mapping(config, _read_toml(path.read_text(), str(path)), str(path))
        else:
            apply_mapping(config, preset_mapping(str(target)), f"preset {target}")
    apply_overrides(config, overrides or [])
    return validate(config)


def config_from_dict(mapping: dict[str, Any]) -> Config:
    """Rebuild a Config from ``Config.to_dict()`` output (e.g. stored in a checkpoint)."""
    return validate(apply_mapping(Config(), mapping))


def coerce_config(config: Config | dict | str | Path | None, overrides: list[str] | None = None) -> Config:
    """Accept a Config, a nested dict, a preset name or a TOML path (the Python API's input),
    apply ``overrides``, validate; a Config passed in is copied, never changed."""
    if isinstance(config, Config):
        return validate(apply_overrides(copy.deepcopy(config), overrides or []))
    if isinstance(config, dict):
        return validate(apply_overrides(apply_mapping(Config(), config), overrides or []))
    return load_config(config, overrides)
