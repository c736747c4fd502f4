"""Resolving a config: defaults <- preset or TOML file <- ``section.key=value`` overrides.

Every value is coerced to its field's type and checked against its choices; a bad key
or value raises :class:`ConfigError` naming the key and the closest valid one.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import shlex
import sys
import typing
from importlib import resources
from pathlib import Path
from typing import Any

from gankit.config.schema import Config
from gankit.config.validate import validate
from gankit.errors import ConfigError
from gankit.files.reading import read_bytes
from gankit.files.rundir import RunPaths

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


# Keys renamed since a release; old config files and run folders still load.
RENAMED_KEYS = {"eval.n_samples": "eval.n"}

SECTIONS = tuple(f.name for f in dataclasses.fields(Config) if f.name != "description")


def _section_fields(section: str) -> dict[str, dataclasses.Field]:
    cls = typing.get_type_hints(Config)[section]
    return {f.name: f for f in dataclasses.fields(cls)}


def valid_keys() -> list[str]:
    """Every settable key as ``section.field``."""
    return ["description"] + [f"{s}.{k}" for s in SECTIONS for k in _section_fields(s)]


def key_docs() -> dict[str, tuple[Any, str, tuple[str, ...]]]:
    """``section.field`` -> (default, meaning, allowed strings or ()) for every settable key,
    read from the schema's field metadata (``gankit config --keys`` prints it)."""
    defaults = Config().to_dict()
    fields = {"description": next(f for f in dataclasses.fields(Config) if f.name == "description")}
    fields.update({f"{s}.{k}": f for s in SECTIONS for k, f in _section_fields(s).items()})
    docs = {}
    for key, f in fields.items():
        section, _, name = key.rpartition(".")
        default = defaults[section][name] if section else defaults[name]
        docs[key] = (default, f.metadata.get("doc", ""), tuple(f.metadata.get("choices", ())))
    return docs


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
            number = float(value)
            if not math.isfinite(number):
                raise ConfigError(f"{key}: expected a finite number, got '{value}'")
            return number
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
    key = RENAMED_KEYS.get(key, key)
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


def apply_overrides(config: Config, overrides: list[str] | str) -> Config:
    """Apply ``section.key=value`` strings, as typed on the command line; one string holding
    several (``"train.epochs=3 objective.name=lsgan"``) is split as a shell would."""
    if isinstance(overrides, str):
        try:
            overrides = shlex.split(overrides)
        except ValueError as exc:
            raise ConfigError(f"overrides {overrides!r}: {exc}") from None
    for item in overrides:
        if not isinstance(item, str):
            raise ConfigError(f"override {item!r} is not a KEY=VALUE string (e.g. 'train.epochs=20')")
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override '{item}' is not KEY=VALUE (e.g. train.epochs=20)")
        _set(config, key.strip(), value.strip())
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
    except RecursionError:  # the parser recurses once per level of [[...]] or {a = {...}}
        raise ConfigError(f"{source}: arrays or tables are nested too deeply to read; a gankit config "
                          "nests at most one list (e.g. g_hidden = [64, 64])") from None


def _read_utf8(path: Path) -> str:
    raw = read_bytes(path, "config file", ConfigError)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                          "save it as UTF-8 (TOML files must be)") from None


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
        if path.is_dir() and RunPaths(path).config.is_file():
            path = RunPaths(path).config
        if path.suffix == ".toml" or (path.exists() and not path.is_dir()):
            if not path.exists():
                raise ConfigError(f"config file '{path}' does not exist")
            apply_mapping(config, _read_toml(_read_utf8(path), str(path)), str(path))
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
