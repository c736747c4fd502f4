"""Checkpoint selection and train.stop_at rules."""

import math

import pytest

from gankit.config import load_config
from gankit.errors import ConfigError
from gankit.metrics.select import parse_stop_rule, quality_key


def test_auto_selection_prefers_lower_fid_and_the_boundary_score():
    better, worse = {"fid": 3.0, "precision": 0.1}, {"fid": 9.0, "precision": 0.9}
    assert quality_key(better) > quality_key(worse)
    assert quality_key({"fid": 3.0, "score": 0.2}, objective="boundary") < quality_key(
        {"fid": 9.0, "score": 0.5}, objective="boundary")


def test_auto_selection_for_points_ranks_modes_then_quality():
    assert quality_key({"modes_captured": 8, "high_quality": 0.5}) > quality_key(
        {"modes_captured": 7, "high_quality": 0.99})
    assert quality_key({"curve_coverage": 0.9, "curve_distance": 0.01}) > quality_key(
        {"curve_coverage": 0.9, "curve_distance": 0.02})


def test_explicit_selection_and_missing_or_nan_metric():
    assert quality_key({"recall": 0.7}, "recall") > quality_key({"recall": 0.6}, "recall")
    assert quality_key({"fid": 1.0}, "recall") == []
    assert quality_key({"fid": math.nan}) == []


@pytest.mark.parametrize("text, value, reached", [
    ("fid<=5", 5.0, True), ("fid<=5", 5.1, False), ("score>=0.95", 0.96, True), ("kid < 1e-3", 1e-3, False),
    ("precision>0.5", 0.6, True),
])
def test_stop_rules(text, value, reached):
    rule = parse_stop_rule(text)
    assert rule.reached({rule.metric: value}) is reached
    assert rule.reached({}) is False


@pytest.mark.parametrize("text", ["fid=5", "fid<=", "speed>=3", "fid<=abc"])
def test_bad_stop_rules_are_config_errors(text):
    with pytest.raises(ConfigError, match="train.stop_at"):
        load_config(None, [f"train.stop_at={text}"])


def test_bad_select_and_renamed_key():
    with pytest.raises(ConfigError, match="eval.select"):
        load_config(None, ["eval.select=sharpness"])
    assert load_config(None, ["eval.n_samples=123"]).eval.n == 123
    with pytest.raises(ConfigError, match="inception_weights"):
        load_config(None, ["eval.features=inception"])
