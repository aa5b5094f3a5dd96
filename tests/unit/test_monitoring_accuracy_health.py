"""Accuracy health: per-row scores, the judgement against a reference, hourly windows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring.accuracy import binary_metrics, multiclass_metrics, regression_metrics
from spoolwatch.monitoring.accuracy_health import (
    AccuracyHealthConfig,
    ScoreSummary,
    default_accuracy_metric,
    judge_accuracy,
    judge_period,
    row_scores,
)
from spoolwatch.monitoring.status import DriftStatus

CONFIG = AccuracyHealthConfig()


def _hits(rate: float, n: int, seed: int = 0) -> ScoreSummary:
    rng = np.random.default_rng(seed)
    return ScoreSummary.of("accuracy", (rng.random(n) < rate).astype(float))


def test_row_scores_average_to_the_reported_metrics() -> None:
    rng = np.random.default_rng(1)
    probs = rng.random(300)
    labels = np.where(rng.random(300) < probs, "yes", "no").tolist()
    rows = np.column_stack([1 - probs, probs]).tolist()
    binary = binary_metrics(labels, probs, positive_label="yes")
    scores = row_scores("accuracy", "binary", labels, rows, ("no", "yes"))
    assert scores.mean() == pytest.approx(binary.accuracy)
    assert row_scores("logLoss", "binary", labels, rows, ("no", "yes")).mean() == pytest.approx(
        binary.log_loss
    )
    three = rng.dirichlet([1, 1, 1], 200)
    names = ("a", "b", "c")
    truth = [names[i] for i in rng.integers(0, 3, 200)]
    multi = multiclass_metrics(truth, three, names)
    assert row_scores("accuracy", "multiclass", truth, three.tolist(), names).mean() == (
        pytest.approx(multi.accuracy)
    )
    y, p = rng.normal(size=100), rng.normal(size=100)
    reg = regression_metrics(y, p)
    squared = ScoreSummary.of("rmse", row_scores("rmse", "regression", y.tolist(), p.tolist()))
    assert squared.value == pytest.approx(reg.rmse)
    assert row_scores("mae", "regression", y.tolist(), p.tolist()).mean() == pytest.approx(reg.mae)


def test_defaults_are_accuracy_for_classes_and_rmse_for_regression() -> None:
    assert [default_accuracy_metric(t) for t in ("binary", "multiclass", "regression")] == [
        "accuracy",
        "accuracy",
        "rmse",
    ]
    with pytest.raises(ConfigError, match="rmse"):
        AccuracyHealthConfig(metric="rmse").metric_for("binary")
    with pytest.raises(ConfigError, match="auc"):
        AccuracyHealthConfig(metric="auc")
    with pytest.raises(ConfigError, match="yellow <= red"):
        AccuracyHealthConfig(yellow=0.3, red=0.2)


def test_accuracy_falling_from_84_to_70_percent_is_yellow_and_to_60_red() -> None:
    reference = _hits(0.84, 500, seed=1)
    yellow = judge_accuracy(_hits(0.70, 2000, seed=2), reference, CONFIG)
    red = judge_accuracy(_hits(0.60, 2000, seed=3), reference, CONFIG)
    assert yellow.status is DriftStatus.YELLOW and red.status is DriftStatus.RED
    assert yellow.baseline_value == pytest.approx(reference.value)
    assert yellow.percent_change == pytest.approx(
        (yellow.value - reference.value) / reference.value * 100  # type: ignore[operator]
    )


def test_unchanged_accuracy_is_green_and_small_samples_unknown() -> None:
    reference = _hits(0.84, 500, seed=1)
    assert judge_accuracy(_hits(0.84, 2000, seed=4), reference, CONFIG).status is DriftStatus.GREEN
    few = judge_accuracy(_hits(0.2, 99, seed=5), reference, CONFIG)
    assert few.status is DriftStatus.UNKNOWN and few.value is not None
    no_reference = judge_accuracy(_hits(0.2, 500, seed=5), _hits(0.8, 99), CONFIG)
    assert no_reference.status is DriftStatus.UNKNOWN and no_reference.baseline_value is None


def test_a_big_drop_on_a_noisy_sample_is_not_significant() -> None:
    # 100 rows at 70% against a 100-row reference at 84%: a 17% drop, but p ≈ 0.01 > 0.001.
    reference = ScoreSummary.of("accuracy", [1.0] * 84 + [0.0] * 16)
    current = ScoreSummary.of("accuracy", [1.0] * 70 + [0.0] * 30)
    judged = judge_accuracy(current, reference, CONFIG)
    assert judged.status is DriftStatus.GREEN and judged.p_value is not None
    assert 1e-3 < judged.p_value < 0.05


def test_higher_rmse_is_worse_and_lower_is_fine() -> None:
    rng = np.random.default_rng(6)
    reference = ScoreSummary.of("rmse", rng.normal(0, 1.0, 500) ** 2)
    worse = ScoreSummary.of("rmse", rng.normal(0, 1.3, 2000) ** 2)
    better = ScoreSummary.of("rmse", rng.normal(0, 0.5, 2000) ** 2)
    assert judge_accuracy(worse, reference, CONFIG).status is DriftStatus.RED
    judged = judge_accuracy(better, reference, CONFIG)
    assert judged.status is DriftStatus.GREEN and judged.percent_change < -30  # type: ignore[operator]


def test_explicit_baseline_value_replaces_the_measured_reference() -> None:
    config = AccuracyHealthConfig(baseline_value=0.95, yellow=0.05, red=0.5)
    judged = judge_accuracy(_hits(0.84, 2000, seed=7), None, config)
    assert judged.baseline_value == 0.95 and judged.status is DriftStatus.YELLOW
    assert judged.percent_change == pytest.approx((judged.value - 0.95) / 0.95 * 100)  # type: ignore[operator]


def test_one_bad_hour_makes_the_day_red_though_the_day_as_a_whole_is_green() -> None:
    reference = _hits(0.84, 500, seed=1)
    hours = [_hits(0.84, 400, seed=10 + i) for i in range(23)] + [_hits(0.55, 400, seed=99)]
    total = ScoreSummary.of("accuracy", np.concatenate([_scores(h) for h in hours]))
    whole, windows = judge_period(total, hours, reference, CONFIG)
    assert judge_accuracy(total, reference, CONFIG).status is DriftStatus.GREEN
    assert whole.status is DriftStatus.RED and windows[-1].status is DriftStatus.RED
    assert all(w.status is DriftStatus.GREEN for w in windows[:-1])
    assert whole.value == pytest.approx(total.value)
    assert whole.decided_by == (23,)  # the status is the last hour's, not the day's figure


def test_a_period_whose_own_judgement_is_the_worst_is_decided_by_no_window() -> None:
    reference = _hits(0.84, 500, seed=1)
    hours = [_hits(0.60, 400, seed=40 + i) for i in range(4)]
    total = ScoreSummary.of("accuracy", np.concatenate([_scores(h) for h in hours]))
    whole, _ = judge_period(total, hours, reference, CONFIG)
    assert whole.status is DriftStatus.RED and whole.decided_by == ()


def _scores(summary: ScoreSummary) -> np.ndarray:
    """Scores with the summary's count and mean (0/1 rows)."""
    hits = round(summary.mean * summary.count)
    return np.array([1.0] * hits + [0.0] * (summary.count - hits))


def test_undrifted_hours_raise_no_alarm_over_many_days() -> None:
    reference = _hits(0.84, 500, seed=1)
    alarms = 0
    for day in range(30):
        hours = [_hits(0.84, 150, seed=1000 + day * 24 + h) for h in range(24)]
        total = ScoreSummary.of("accuracy", np.concatenate([_scores(h) for h in hours]))
        alarms += judge_period(total, hours, reference, CONFIG)[0].status is not DriftStatus.GREEN
    assert alarms == 0


def test_empty_scores_have_no_value() -> None:
    empty = ScoreSummary.of("accuracy", [])
    assert empty.value is None and empty.count == 0 and math.isnan(empty.mean)
    assert judge_accuracy(empty, _hits(0.8, 500), CONFIG).status is DriftStatus.UNKNOWN


def test_merged_summaries_equal_the_summary_of_all_scores() -> None:
    rng = np.random.default_rng(8)
    a, b = rng.normal(1, 2, 40), rng.normal(3, 1, 70)
    merged = ScoreSummary.of("mae", a).merge(ScoreSummary.of("mae", b))
    both = ScoreSummary.of("mae", np.concatenate([a, b]))
    assert merged.count == both.count
    assert merged.mean == pytest.approx(both.mean) and merged.variance == pytest.approx(
        both.variance
    )
    assert ScoreSummary.of("mae", []).merge(merged) == merged


def test_hours_too_small_alone_are_judged_pooled() -> None:
    # 60 joined rows an hour: no hour reaches 100 rows; the last 6 hours fell to 60 %.
    reference = _hits(0.85, 500, seed=1)
    hours = [_hits(0.85, 60, seed=200 + h) for h in range(18)]
    hours += [_hits(0.60, 60, seed=300 + h) for h in range(6)]
    total = ScoreSummary.of("accuracy", np.concatenate([_scores(h) for h in hours]))
    assert all(judge_accuracy(h, reference, CONFIG).status is DriftStatus.UNKNOWN for h in hours)
    whole, windows = judge_period(total, hours, reference, CONFIG)
    assert whole.status is DriftStatus.RED
    assert [w.status for w in windows[-6:]] == [DriftStatus.RED] * 6
    assert all(w.count == 120 for w in windows)  # pairs of hours
    # The most recent of the worst pools decides; it is the judgement its two hours share.
    assert whole.decided_by == (22, 23) and windows[22] is windows[23]
