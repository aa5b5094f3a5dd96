"""Accuracy metrics against brute-force references; association joins; custom metrics."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring import (
    CustomMetricAggregate,
    auc,
    binary_metrics,
    join_by_association,
    multiclass_metrics,
    regression_metrics,
)


def _pairwise_auc(labels: list[bool], scores: list[float]) -> float:
    wins = 0.0
    pairs = 0
    for li, si in zip(labels, scores, strict=True):
        for lj, sj in zip(labels, scores, strict=True):
            if li and not lj:
                pairs += 1
                wins += 1.0 if si > sj else 0.5 if si == sj else 0.0
    return wins / pairs


def test_auc_with_ties_matches_pairwise_counting() -> None:
    rng = np.random.default_rng(11)
    labels = (rng.random(200) < 0.3).tolist()
    scores = np.round(rng.random(200), 1).tolist()  # rounding makes many ties
    assert auc(labels, scores) == pytest.approx(_pairwise_auc(labels, scores))


def test_auc_is_none_with_a_single_class() -> None:
    assert auc([True, True], [0.1, 0.9]) is None


def test_binary_metrics_match_hand_computation() -> None:
    y = ["fraud", "legit", "fraud", "legit", "legit"]
    p = [0.9, 0.2, 0.4, 0.6, 0.0]
    result = binary_metrics(y, p, positive_label="fraud")
    truth = [1, 0, 1, 0, 0]
    eps = 1e-15
    expected_loss = (
        -sum(
            t * math.log(max(q, eps)) + (1 - t) * math.log(max(1 - q, eps))
            for t, q in zip(truth, p, strict=True)
        )
        / 5
    )
    assert result.log_loss == pytest.approx(expected_loss)
    # threshold 0.5: predicted 1,0,0,1,0 -> TP 1, FP 1, FN 1, TN 2
    assert result.accuracy == pytest.approx(3 / 5)
    assert result.f1 == pytest.approx(2 * 1 / (2 * 1 + 1 + 1))
    assert result.auc == pytest.approx(_pairwise_auc([t == 1 for t in truth], p))
    assert result.count == 5 and result.positives == 2
    assert set(result.to_dict()) == {"count", "positives", "auc", "logLoss", "accuracy", "f1"}


def test_binary_labels_match_as_text_and_probabilities_are_checked() -> None:
    assert binary_metrics(["1", "0"], [0.8, 0.3], positive_label=1).accuracy == 1.0
    with pytest.raises(ConfigError, match="between 0 and 1"):
        binary_metrics([1, 0], [1.2, 0.1])
    with pytest.raises(ConfigError, match="actuals"):
        binary_metrics([1, 0, 1], [0.5, 0.5])
    assert binary_metrics([], []).count == 0


def test_multiclass_metrics_match_hand_computation() -> None:
    names = ["a", "b", "c"]
    probs = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3], [1.0, 0.0, 0.0]]
    y = ["a", "b", "b", "c"]
    result = multiclass_metrics(y, probs, names)
    assert result.accuracy == pytest.approx(2 / 4)
    expected = -(math.log(0.7) + math.log(0.3) + math.log(0.5) + math.log(1e-15)) / 4
    assert result.log_loss == pytest.approx(expected)


def test_multiclass_rejects_unknown_actual_classes() -> None:
    with pytest.raises(ConfigError, match="'z'"):
        multiclass_metrics(["z"], [[0.5, 0.5, 0.0]], ["a", "b", "c"])


def test_regression_metrics_match_hand_computation() -> None:
    result = regression_metrics([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.0, 5.0])
    assert result.rmse == pytest.approx(math.sqrt((0.25 + 0 + 1 + 1) / 4))
    assert result.mae == pytest.approx((0.5 + 0 + 1 + 1) / 4)
    assert result.r2 == pytest.approx(1 - 2.25 / 5.0)
    assert regression_metrics([2.0, 2.0], [1.0, 3.0]).r2 is None


def test_join_by_association_keeps_prediction_order_and_latest_actual() -> None:
    pred_rows, actual_rows = join_by_association(["a", "b", "c", "a"], ["c", "x", "a", "c"])
    assert pred_rows.tolist() == [0, 2]
    assert actual_rows.tolist() == [2, 3]


def test_custom_metric_merges_in_any_order() -> None:
    a, b, c = CustomMetricAggregate(), CustomMetricAggregate(), CustomMetricAggregate()
    a.add(1.0, 100.0)
    a.add(5.0, 50.0)
    b.add(3.0, 300.0)
    c.add(2.0, 300.0)
    for merged in (a + b + c, c + (b + a), (b + c) + a):
        assert merged.count == 4 and merged.total == 11.0
        assert merged.mean == 2.75
        assert (merged.last_value, merged.last_timestamp) == (3.0, 300.0)
    data = orjson.loads(orjson.dumps((a + b + c).to_dict()))
    assert CustomMetricAggregate.from_dict(data) == a + b + c


def test_custom_metric_rejects_non_finite_values() -> None:
    metric = CustomMetricAggregate()
    with pytest.raises(ConfigError):
        metric.add(math.inf, 1.0)
    assert metric.count == 0 and metric.mean is None
