"""Baselines: kinds, bins, counting, predictions and JSON round trips."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring import Baseline, FeatureBaseline, FeatureKind, TargetType
from spoolwatch.monitoring.prediction import prediction_values


def test_numeric_column_is_binned_into_below_interior_above_and_missing() -> None:
    feature = FeatureBaseline.from_values("x", np.arange(100, dtype=float), n_bins=4)
    assert feature.kind is FeatureKind.NUMERIC
    counts = feature.bin_counts([-5.0, 0.0, 99.0, 150.0, None, math.nan, 50.0])
    assert counts.sum() == 7
    assert counts[0] == 1  # -5 is below the baseline minimum
    assert counts[-2] == 1  # 150 is above the maximum; 99 (the maximum) is not
    assert counts[-1] == 2  # None and NaN
    assert counts[1:-2].sum() == 3


def test_baseline_counts_cover_every_training_row() -> None:
    values = np.random.default_rng(1).normal(size=10_000)
    values[:50] = np.nan
    feature = FeatureBaseline.from_values("x", values, n_bins=10)
    assert feature.counts.sum() == 10_000
    assert feature.counts[-1] == 50
    assert feature.counts[0] == 0 and feature.counts[-2] == 0
    interior = feature.counts[1:-2]
    assert interior.size == 10
    assert interior.min() >= 990 and interior.max() <= 1000  # quantile bins: equal mass


def test_constant_numeric_column_gets_one_interior_bin() -> None:
    feature = FeatureBaseline.from_values("x", [3.0, 3.0, 3.0])
    assert feature.bin_counts([2.0, 3.0, 3.0, 4.0]).tolist() == [1, 2, 1, 0]


def test_non_numeric_values_in_a_numeric_column_count_as_missing() -> None:
    feature = FeatureBaseline.from_values("x", [1.0, 2.0, 3.0], kind="numeric")
    counts = feature.bin_counts([1.0, "abc", None, 2.0])
    assert counts[-1] == 2 and counts.sum() == 4


def test_categorical_column_counts_unseen_and_missing_separately() -> None:
    feature = FeatureBaseline.from_values("c", ["a", "b", "a", None, "c", "a"])
    assert feature.kind is FeatureKind.CATEGORICAL
    assert feature.categories == ("a", "b", "c")
    assert feature.counts.tolist() == [3, 1, 1, 0, 1]
    counts = feature.bin_counts(np.array(["b", "z", None, math.nan, "a"], dtype=object))
    assert counts.tolist() == [1, 1, 0, 1, 2]


def test_integral_floats_count_as_the_integer_category() -> None:
    feature = FeatureBaseline.from_values("c", [1, 2, 2], kind="categorical")
    assert feature.categories == ("2", "1")  # most frequent first
    assert feature.bin_counts([1.0, 2.0, 2.5, np.int64(2)]).tolist() == [2, 1, 1, 0]


def test_booleans_and_strings_are_inferred_categorical_numbers_numeric() -> None:
    baseline = Baseline.from_columns(
        {"flag": [True, False], "name": np.array(["x", "y"]), "n": [1, 2.5, None]}
    )
    kinds = {name: f.kind for name, f in baseline.features.items()}
    assert kinds == {
        "flag": FeatureKind.CATEGORICAL,
        "name": FeatureKind.CATEGORICAL,
        "n": FeatureKind.NUMERIC,
    }


def test_kind_override_makes_a_numeric_code_categorical() -> None:
    baseline = Baseline.from_columns({"zip": [10115, 10117, 10115]}, kinds={"zip": "categorical"})
    assert baseline.features["zip"].categories == ("10115", "10117")


def test_kind_for_an_absent_column_is_rejected() -> None:
    with pytest.raises(ConfigError, match="nope"):
        Baseline.from_columns({"a": [1.0]}, kinds={"nope": "numeric"})


def test_categories_beyond_the_cap_go_to_other() -> None:
    values = ["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d"]
    feature = FeatureBaseline.from_values("c", values, max_categories=2)
    assert feature.categories == ("a", "b")
    assert feature.counts.tolist() == [5, 4, 4, 0]
    assert feature.bin_labels() == ["a", "b", "(other)", "(missing)"]


def test_baseline_survives_a_json_round_trip() -> None:
    rng = np.random.default_rng(7)
    columns = {
        "x": rng.normal(size=1000),
        "c": np.array(["u", "v", None] * 10, dtype=object),
    }
    predictions = rng.dirichlet([1, 1], 1000)
    baseline = Baseline.from_columns(columns, predictions=predictions, class_names=["no", "yes"])
    restored = Baseline.from_dict(orjson.loads(orjson.dumps(baseline.to_dict())))
    assert restored.to_dict() == baseline.to_dict()
    sample = rng.normal(size=500)
    assert restored.bin_counts("x", sample).tolist() == baseline.bin_counts("x", sample).tolist()
    assert restored.target_type is TargetType.BINARY
    assert restored.bin_predictions(predictions[:10]).sum() == 10


def test_malformed_baseline_dict_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="malformed"):
        Baseline.from_dict({"features": [{"name": "x", "kind": "numeric"}]})
    with pytest.raises(ConfigError, match="counts"):
        FeatureBaseline.from_dict({"name": "x", "kind": "numeric", "counts": [1], "edges": [0, 1]})


def test_unknown_feature_is_named_in_the_error() -> None:
    baseline = Baseline.from_columns({"a": [1.0, 2.0]})
    with pytest.raises(ConfigError, match="'b'"):
        baseline.bin_counts("b", [1.0])


def test_regression_predictions_are_monitored_as_numbers() -> None:
    kind, values = prediction_values([1.5, 2, 3.25])
    assert kind is TargetType.REGRESSION
    assert values.tolist() == [1.5, 2.0, 3.25]


def test_binary_predictions_are_monitored_as_the_positive_class_probability() -> None:
    rows = [[0.9, 0.1], [0.2, 0.8]]
    kind, values = prediction_values(rows, ["legit", "fraud"])
    assert kind is TargetType.BINARY and values.tolist() == [0.1, 0.8]
    _, values = prediction_values(rows, ["legit", "fraud"], positive_class="legit")
    assert values.tolist() == [0.9, 0.2]


def test_multiclass_predictions_are_monitored_as_the_predicted_class() -> None:
    rows = [[0.8, 0.15, 0.05], [0.1, 0.7, 0.2]]
    kind, values = prediction_values(rows, ["setosa", "versicolor", "virginica"])
    assert kind is TargetType.MULTICLASS and values.tolist() == ["setosa", "versicolor"]
    baseline = Baseline.from_columns({}, predictions=rows, class_names=["a", "b", "c"])
    assert baseline.target is not None
    assert baseline.target.kind is FeatureKind.CATEGORICAL
    assert baseline.bin_predictions([[0, 0, 1.0]]).tolist() == [0, 0, 1, 0]


def test_text_predictions_and_wrong_class_counts_are_rejected() -> None:
    with pytest.raises(ConfigError, match="text"):
        prediction_values(["Completion one", "Completion two"])
    with pytest.raises(ConfigError, match="class names"):
        prediction_values([[0.5, 0.5]], ["a", "b", "c"])


def test_predictions_without_target_baseline_are_rejected() -> None:
    with pytest.raises(ConfigError, match="no predictions"):
        Baseline.from_columns({"a": [1.0]}).bin_predictions([1.0])


@pytest.mark.parametrize(
    ("training", "values"),
    [
        (np.arange(100, dtype=float), [-5.0, 0.0, 99.0, 150.0, None, math.nan, 50.0, "text"]),
        ([7.0] * 10, [7.0, 8.0, None]),
        ([None, None], [1.0, None]),
        (["a", "b", "b", "c"], ["a", "b", "z", None, 3.0, math.nan]),
    ],
)
def test_weighted_counts_are_the_counts_of_the_values_repeated(
    training: list[object], values: list[object]
) -> None:
    feature = FeatureBaseline.from_values("x", training, n_bins=4)
    weights = list(range(1, len(values) + 1))
    repeated = [v for v, w in zip(values, weights, strict=True) for _ in range(w)]
    expected = feature.bin_counts(repeated)
    assert feature.bin_weighted(values, weights).tolist() == expected.tolist()
    huge = feature.bin_weighted(values[:1], [2**53])
    assert huge.sum() == 2**53 and huge.max() == 2**53


def test_merging_counts_past_64_bits_is_refused_not_wrapped() -> None:
    from spoolwatch.monitoring.histogram import merge_counts

    assert merge_counts([2**62, 1], [2**62 - 1, 2]).tolist() == [2**63 - 1, 3]
    with pytest.raises(ConfigError, match="64-bit"):
        merge_counts([2**62, 1], [2**62, 2])
