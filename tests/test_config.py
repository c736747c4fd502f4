"""Config: defaults, presets, TOML files, KEY=VALUE overrides, errors with suggestions."""

import subprocess
import sys

import pytest

from gankit.config import Config, apply_overrides, load_config, preset_descriptions, preset_names, valid_keys
from gankit.errors import ConfigError


def test_overrides_coerce_types():
    config = apply_overrides(Config(), [
        "train.epochs=20", "objective.name=lsgan", "train.d_lr=1e-3", "model.spectral_norm=true",
        "model.g_hidden=32,16", "train.g_betas=[0.0, 0.9]", "description=hello world",
    ])
    assert config.train.epochs == 20 and isinstance(config.train.epochs, int)
    assert config.objective.name == "lsgan"
    assert config.train.d_lr == pytest.approx(1e-3)
    assert config.model.spectral_norm is True
    assert config.model.g_hidden == [32, 16]
    assert config.train.g_betas == [0.0, 0.9]
    assert config.description == "hello world"


@pytest.mark.parametrize("override, fragment", [
    ("train.epoch=3", "did you mean 'train.epochs'"),
    ("objective.nme=bce", "did you mean 'objective.name'"),
    ("trian.epochs=3", "did you mean 'train.epochs'"),
    ("objective.name=lsgn", "closest 'lsgan'"),
    ("train.epochs=ten", "train.epochs: expected int"),
    ("train.epochs=2.5", "train.epochs: expected int"),
    ("model.spectral_norm=maybe", "expected true or false"),
    ("model.g_hidden=8,x", "model.g_hidden: expected int"),
    ("train.epochs", "not KEY=VALUE"),
])
def test_bad_overrides_name_the_key(override, fragment):
    with pytest.raises(ConfigError, match=None) as info:
        apply_overrides(Config(), [override])
    assert fragment in str(info.value)


def test_cross_field_validation():
    with pytest.raises(ConfigError, match="divisible by model.pack"):
        load_config("toy-grid25", ["train.batch_size=30", "model.pack=4"])
    with pytest.raises(ConfigError, match="label_smoothing"):
        load_config(None, ["objective.label_smoothing=1.5"])
    with pytest.raises(ConfigError, match="data.path"):
        load_config(None, ["data.name=points"])


def test_every_preset_loads_and_has_a_description():
    names = preset_names()
    for expected in ("toy-line", "toy-parabola", "toy-spiral", "toy-ring8", "toy-grid25"):
        assert expected in names
    descriptions = preset_descriptions()
    for name in names:
        load_config(name, ["data.path=some/folder"] if name.startswith("folder") else [])
        assert descriptions[name].strip(), f"{name} has no description"


def test_unknown_preset_suggests(tmp_path):
    with pytest.raises(ConfigError, match="toy-spiral"):
        load_config("toy-spirl")


def test_toml_round_trip(tmp_path):
    config = load_config("toy-ring8", ["train.epochs=7", "model.d_hidden=5,6"])
    path = tmp_path / "config.toml"
    path.write_text(config.to_toml())
    again = load_config(path)
    assert again == config
    assert load_config(tmp_path) == config  # a run folder works as a target too


def test_toml_file_with_unknown_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[train]\nepocs = 3\n")
    with pytest.raises(ConfigError, match="train.epochs"):
        load_config(path)
    path.write_text("[trainn]\nepochs = 3\n")
    with pytest.raises(ConfigError, match="train"):
        load_config(path)
    path.write_text("[train\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_valid_keys_cover_sections():
    keys = valid_keys()
    for section in ("data", "model", "objective", "train", "eval", "sample"):
        assert any(k.startswith(section + ".") for k in keys)


def test_cli_config_error_exits_2_with_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "gankit", "train", "toy-spiral", "train.epoch=3", "--out", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "train.epoch" in lines[0] and "train.epochs" in lines[0]
    assert not (tmp_path / "r").exists()
