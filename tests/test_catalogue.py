"""The metric catalogue is the one list every consumer reads, and the config's choice lists
match the registries they name (the schema cannot import them: they sit above it)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gankit import catalogue
from gankit.config import key_docs, valid_keys
from gankit.config.schema import Config
from gankit.data import DATASETS
from gankit.data.toy2d import TOY2D_NAMES
from gankit.models import DCGAN_STYLES, MODEL_FAMILIES
from gankit.models.mlp import PACK_INITS
from gankit.models.mlp import OUTPUT_ACTIVATIONS
from gankit.objectives import GENERATOR_LOSSES, OBJECTIVES
from gankit.sampling.latent import LATENT_DISTRIBUTIONS
from gankit.training.augment import AUGMENTATIONS


def test_every_metric_has_a_direction_and_a_description():
    names = [m.name for m in catalogue.METRICS]
    assert len(names) == len(set(names))
    for metric in catalogue.METRICS:
        assert metric.direction in (-1, 1)
        assert metric.description.strip()
        assert not (metric.count and metric.log_scale)


def test_consumers_read_the_catalogue():
    from gankit.metrics.select import DIRECTIONS
    from gankit.report.html_data import BOOKKEEPING_KEYS, COUNT_KEYS

    assert DIRECTIONS is catalogue.DIRECTIONS
    assert BOOKKEEPING_KEYS is catalogue.BOOKKEEPING_KEYS
    assert COUNT_KEYS == catalogue.SAMPLE_COUNT_KEYS


def test_the_trainer_logs_the_step_statistics_under_catalogue_names():
    from gankit.training.types import STAT_NAMES

    logged = set(STAT_NAMES) - {"g_step"}
    assert logged <= set(catalogue.TRAINING_KEYS)


def _choices(section: str, name: str) -> tuple[str, ...]:
    return key_docs()[f"{section}.{name}"][2]


@pytest.mark.parametrize(("key", "registry"), [
    ("data.name", DATASETS),
    ("model.family", MODEL_FAMILIES),
    ("model.dcgan_style", DCGAN_STYLES),
    ("model.pack_init", PACK_INITS),
    ("model.g_output", tuple(OUTPUT_ACTIVATIONS)),
    ("model.latent_distribution", LATENT_DISTRIBUTIONS),
    ("objective.name", OBJECTIVES),
    ("objective.generator_loss", GENERATOR_LOSSES),
])
def test_config_choices_equal_the_registries(key, registry):
    assert set(_choices(*key.split("."))) == set(registry)


@pytest.mark.parametrize("registry", [DATASETS, MODEL_FAMILIES, DCGAN_STYLES, OBJECTIVES, AUGMENTATIONS],
                         ids=lambda registry: registry.names.key)
def test_config_declares_the_built_ins_of_every_registry(registry):
    """config/registry.py lists every built-in (config cannot import the registries), in the
    registry's order; a record's fact (a dataset's kind, an objective's saturating G loss) is
    checked against the declared one when it registers."""
    assert registry.names.declared == tuple(registry)


def test_image_datasets_are_the_image_kind():
    from gankit.config.registry import DATA_NAMES

    assert DATA_NAMES.where("images") == tuple(name for name, record in DATASETS.items() if record.kind == "images")
    assert set(TOY2D_NAMES) <= set(DATA_NAMES.where("points"))


def test_every_config_key_is_documented():
    docs = key_docs()
    assert list(docs) == valid_keys()
    for key, (_, doc, _) in docs.items():
        assert doc.strip(), f"{key} has no description in config/schema.py"
    defaults = Config().to_dict()
    assert docs["train.epochs"][0] == defaults["train"]["epochs"]


def test_config_keys_command_lists_every_key():
    out = subprocess.run([sys.executable, "-m", "gankit", "config", "--keys"], capture_output=True, text=True,
                         check=True).stdout
    listed = [line.split(" = ")[0] for line in out.splitlines() if not line.startswith(" ")]
    assert listed == valid_keys()
    assert "[bce | lsgan | hinge" in out
