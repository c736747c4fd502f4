"""Configs: dataclass defaults (``schema``), TOML files, presets and KEY=VALUE overrides (``resolve``).

The fully resolved config is written to the run folder as ``config.toml`` and can be
trained again as is.
"""

from gankit.config.resolve import (
    SECTIONS, apply_mapping, apply_overrides, coerce_config, config_from_dict, key_docs, load_config, preset_descriptions,
    preset_mapping, preset_names, valid_keys,
)
from gankit.config.schema import (
    AugmentConfig, Config, DataConfig, EvalConfig, ModelConfig, ObjectiveConfig, SampleConfig, TrainConfig,
)
from gankit.config.validate import validate

__all__ = [
    "SECTIONS", "AugmentConfig", "Config", "DataConfig", "EvalConfig", "ModelConfig", "ObjectiveConfig", "SampleConfig",
    "TrainConfig", "apply_mapping", "apply_overrides", "coerce_config", "config_from_dict", "key_docs", "load_config",
    "preset_descriptions", "preset_mapping", "preset_names", "valid_keys", "validate",
]
