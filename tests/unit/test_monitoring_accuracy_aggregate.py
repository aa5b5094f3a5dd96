"""Accuracy aggregates against the row-by-row metrics on the same pairs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spoolwatch.monitoring.accuracy import (
    auc,
    binary_metrics,
    multiclass_metrics,
    regression_metrics,
)
from spoolwatch.monitoring.accuracy_aggregate import SCORE_BUCKETS, AccuracyAggregate
from spoolwatch.monitoring.accuracy_health import ScoreSummary, row_scores
from tests.accuracy_reports import assert_same_answer

CLASSES = ("no", "yes")
THREE = ("a", "b", "c")


def _binary(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    prob = rng.random(n)
    labels = np.where(rng.random(n) < prob * 0.8 + 0.1, "yes", "no").astype(object)
    return prob, labels


def _metrics_without_counts(result: object) -> dict[str, object]:
    data = result.to_dict()  # type: ignore[attr-defined]
    return {k: v for k, v in data.items() if k not in {"count", "positives"}}


def test_binary_aggregate_answers_as_the_rows_and_auc_within_its_bucket_bound() -> None:
    prob, labels = _binary(5000)
    agg = AccuracyAggregate.of_pairs("binary", CLASSES, prob, labels)
    exact = _metrics_without_counts(binary_metrics(labels, prob, positive_label="yes"))
    got = agg.metrics()
    assert got["auc"] is not None and exact["auc"] is not None
    # Ties within a bucket count half: the error is at most half the share of
    # positive-negative pairs sharing a bucket (about 1/SCORE_BUCKETS for spread scores).
    assert abs(got["auc"] - exact["auc"]) <= 1e-3
    assert_same_answer({**got, "auc": None}, {**exact, "auc": None})


def test_auc_is_exact_when_scores_sit_in_distinct_buckets() -> None:
    prob = (np.arange(200) + 0.5) / SCORE_BUCKETS * 5  # one score per bucket
    labels = np.where(np.arange(200) % 3 == 0, "yes", "no").astype(object)
    agg = AccuracyAggregate.of_pairs("binary", CLASSES, prob, labels)
    assert agg.auc() == pytest.approx(auc(labels == "yes", prob), abs=1e-12)


def test_binary_probabilities_outside_0_1_leave_no_metrics_as_the_rows_do() -> None:
    agg = AccuracyAggregate.of_pairs("binary", CLASSES, [0.2, 1.5], np.array(["no", "yes"]))
    assert agg.metrics() == {} and agg.out_of_range == 1
    assert agg.score_summary("accuracy").count == 2


def test_multiclass_aggregate_answers_as_the_rows() -> None:
    rng = np.random.default_rng(1)
    probs = rng.random((3000, 3))
    probs[:5] = 0.0  # rows summing to 0: renormalised to 1/3 by the metric
    labels = rng.choice(np.array(THREE, dtype=object), 3000)
    agg = AccuracyAggregate.of_pairs("multiclass", THREE, probs, labels)
    exact = _metrics_without_counts(multiclass_metrics(labels, probs, THREE))
    assert_same_answer(agg.metrics(), exact)


def test_regression_aggregate_answers_as_the_rows() -> None:
    rng = np.random.default_rng(2)
    truth = rng.normal(1000.0, 30.0, 4000)
    pred = truth + rng.normal(0.0, 5.0, 4000)
    agg = AccuracyAggregate.of_pairs("regression", (), pred, truth)
    assert_same_answer(agg.metrics(), _metrics_without_counts(regression_metrics(truth, pred)))


def test_constant_actuals_have_no_r2() -> None:
    agg = AccuracyAggregate.of_pairs("regression", (), [1.0, 2.0, 3.0], [1e6 + 0.1] * 3)
    assert agg.metrics()["r2"] is None
    assert regression_metrics([1e6 + 0.1] * 3, [1.0, 2.0, 3.0]).r2 is None


def test_squares_beyond_the_bounds_leave_rmse_unknown_and_sums_finite() -> None:
    agg = AccuracyAggregate.of_pairs("regression", (), [1e200, 1.0], [-1e200, 2.0])
    assert agg.beyond_squares == 1 and all(math.isfinite(v) for v in agg.sums.values())
    assert agg.metrics()["rmse"] is None and agg.metrics()["mae"] == pytest.approx(1e200)
    assert agg.score_summary("rmse").count == 0


@pytest.mark.parametrize(
    ("target_type", "metric"),
    [
        ("binary", "accuracy"),
        ("binary", "logLoss"),
        ("multiclass", "accuracy"),
        ("multiclass", "logLoss"),
        ("regression", "rmse"),
        ("regression", "mae"),
    ],
)
def test_score_summaries_match_the_row_scores(target_type: str, metric: str) -> None:
    rng = np.random.default_rng(3)
    if target_type == "binary":
        pred, labels = _binary(800, 3)
        names: tuple[str, ...] = CLASSES
        scores = row_scores(metric, target_type, labels, np.column_stack([1 - pred, pred]), names)
        agg = AccuracyAggregate.of_pairs(target_type, names, pred, labels)
    elif target_type == "multiclass":
        names = THREE
        probs = rng.random((800, 3))
        labels = rng.choice(np.array(THREE, dtype=object), 800)
        scores = row_scores(metric, target_type, labels, probs, names)
        agg = AccuracyAggregate.of_pairs(target_type, names, probs, labels)
    else:
        truth = rng.normal(0, 3, 800)
        pred = truth + rng.normal(0, 1, 800)
        scores = row_scores(metric, target_type, truth, pred)
        agg = AccuracyAggregate.of_pairs(target_type, (), pred, truth)
    want = ScoreSummary.of(metric, scores)
    got = agg.score_summary(metric)
    assert got.count == want.count
    assert got.mean == pytest.approx(want.mean, rel=1e-9)
    assert got.variance == pytest.approx(want.variance, rel=1e-6)


@pytest.mark.parametrize("target_type", ["binary", "multiclass", "regression"])
def test_merging_and_taking_out_a_part_add_up(target_type: str) -> None:
    rng = np.random.default_rng(4)
    if target_type == "binary":
        pred: np.ndarray = rng.random(600)
        labels: np.ndarray = rng.choice(np.array(CLASSES, dtype=object), 600)
        names: tuple[str, ...] = CLASSES
    elif target_type == "multiclass":
        pred = rng.random((600, 3))
        labels = rng.choice(np.array(THREE, dtype=object), 600)
        names = THREE
    else:
        pred = rng.normal(0, 1, 600)
        labels = rng.normal(0, 1, 600)
        names = ()
    whole = AccuracyAggregate.of_pairs(target_type, names, pred, labels)
    first = AccuracyAggregate.of_pairs(target_type, names, pred[:250], labels[:250])
    rest = AccuracyAggregate.of_pairs(target_type, names, pred[250:], labels[250:])
    assert_same_answer(first.merged(rest).metrics(), whole.metrics())
    assert_same_answer(whole.merged(first, -1).metrics(), rest.metrics(), rel=1e-7)
    stored = AccuracyAggregate.from_dict(target_type, len(names), whole.to_dict())
    assert stored.to_dict() == whole.to_dict()


@pytest.mark.parametrize(
    "broken",
    [{"count": -1}, {"count": 1.5}, {"sums": {"error": math.inf}}, {"confusion": [[1]]}],
)
def test_a_malformed_stored_aggregate_is_refused(broken: dict[str, object]) -> None:
    data = AccuracyAggregate.of_pairs("binary", CLASSES, [0.3], np.array(["yes"])).to_dict()
    if "sums" in broken:
        data["sums"] = {**data["sums"], **broken["sums"]}  # type: ignore[dict-item]
    else:
        data.update(broken)
    with pytest.raises((ValueError, TypeError)):
        AccuracyAggregate.from_dict("binary", 2, data)
