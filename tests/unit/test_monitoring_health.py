"""Latency histogram quantile bounds and merging; service-health aggregates."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import orjson
import pytest

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring import LatencyHistogram, ServiceHealth


def _histogram(values: np.ndarray) -> LatencyHistogram:
    histogram = LatencyHistogram()
    histogram.add_many(values)
    return histogram


@pytest.mark.parametrize("q", [0.0, 0.01, 0.5, 0.9, 0.99, 0.999, 1.0])
def test_quantile_is_within_the_relative_error_of_the_true_order_statistic(q: float) -> None:
    values = np.random.default_rng(5).lognormal(3.0, 1.2, 50_000)
    histogram = _histogram(values)
    true = np.sort(values)[math.floor(q * (values.size - 1))]
    estimate = histogram.quantile(q)
    assert estimate is not None
    assert abs(estimate - true) <= histogram.relative_error * true + 1e-12
    assert histogram.relative_error < 0.021


def test_adding_one_by_one_equals_adding_many() -> None:
    values = np.random.default_rng(6).exponential(20.0, 500)
    one_by_one = LatencyHistogram()
    for value in values:
        one_by_one.add(float(value))
    many = _histogram(values)
    assert one_by_one.buckets == many.buckets and one_by_one.count == many.count
    assert one_by_one.total == pytest.approx(many.total)


def test_merge_is_associative_and_equals_one_histogram_of_everything() -> None:
    rng = np.random.default_rng(7)
    parts = [rng.gamma(2.0, 10.0, 1000) for _ in range(3)]
    a, b, c = (_histogram(p) for p in parts)
    left, right = (a + b) + c, a + (b + c)
    whole = _histogram(np.concatenate(parts))
    assert left.buckets == right.buckets == whole.buckets
    assert left.count == whole.count == 3000
    assert left.minimum == whole.minimum and left.maximum == whole.maximum
    assert left.quantile(0.99) == whole.quantile(0.99)


def test_zero_times_and_empty_histograms() -> None:
    histogram = LatencyHistogram()
    assert histogram.quantile(0.5) is None and histogram.mean is None
    histogram.add_many([0.0, 0.0, 0.0, 10.0])
    assert histogram.quantile(0.5) == 0.0
    assert histogram.quantile(1.0) == pytest.approx(10.0, rel=histogram.relative_error)
    assert histogram.mean == 2.5


def test_invalid_execution_times_are_rejected() -> None:
    histogram = LatencyHistogram()
    with pytest.raises(ConfigError):
        histogram.add(-1.0)
    with pytest.raises(ConfigError):
        histogram.add_many([1.0, math.nan])
    with pytest.raises(ConfigError):
        histogram.quantile(1.5)
    with pytest.raises(ConfigError, match="gamma"):
        histogram.merge(LatencyHistogram(gamma=1.1))
    assert histogram.count == 0


def test_latency_histogram_json_round_trip() -> None:
    histogram = _histogram(np.array([0.0, 1.5, 3.0, 1000.0]))
    restored = LatencyHistogram.from_dict(orjson.loads(orjson.dumps(histogram.to_dict())))
    assert restored == histogram
    assert restored.quantile(0.9) == histogram.quantile(0.9)
    empty = LatencyHistogram.from_dict(LatencyHistogram().to_dict())
    assert empty.count == 0 and empty.quantile(0.5) is None
    with pytest.raises(ConfigError, match="malformed"):
        LatencyHistogram.from_dict({"count": 1})


def _health(start: datetime, requests: list[tuple[int, float, float, bool, bool]]) -> ServiceHealth:
    health = ServiceHealth()
    for predictions, ms, offset, user, system in requests:
        health.add_request(
            num_predictions=predictions,
            execution_time_ms=ms,
            timestamp=start.timestamp() + offset,
            user_error=user,
            system_error=system,
        )
    return health


def test_service_health_summary_counts_rates_times_and_peak_minute() -> None:
    start = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    health = _health(
        start,
        [
            (10, 10.0, 0, False, False),
            (5, 20.0, 10, True, False),
            (1, 30.0, 20, False, True),
            (4, 40.0, 70, False, False),
        ],
    )
    summary = health.summary()
    assert summary.requests == 4 and summary.predictions == 20
    assert summary.user_error_rate == 0.25 and summary.system_error_rate == 0.25
    assert summary.execution_time_mean == 25.0
    assert summary.execution_time_p50 == pytest.approx(20.0, rel=0.021)
    assert summary.peak_requests_per_minute == 3
    assert summary.to_dict()["peakRequestsPerMinute"] == 3


def test_empty_service_health_has_no_rates() -> None:
    summary = ServiceHealth().summary()
    assert summary.requests == 0 and summary.user_error_rate is None
    assert summary.execution_time_p99 is None and summary.peak_requests_per_minute == 0


def test_service_health_merges_minutes_across_parts_and_round_trips() -> None:
    start = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    a = _health(start, [(1, 5.0, 0, False, False), (1, 6.0, 5, False, False)])
    b = _health(start, [(2, 7.0, 30, False, True)])
    c = _health(start, [(3, 8.0, 3600, True, False)])
    merged = (a + b) + c
    assert merged == a + (b + c)
    assert merged.requests == 4 and merged.predictions == 7
    assert merged.peak_requests_per_minute == 3
    restored = ServiceHealth.from_dict(orjson.loads(orjson.dumps(merged.to_dict())))
    assert restored == merged
    assert restored.summary() == merged.summary()


def test_negative_prediction_count_is_rejected_and_changes_nothing() -> None:
    health = ServiceHealth()
    with pytest.raises(ConfigError):
        health.add_request(num_predictions=-1, execution_time_ms=1.0, timestamp=0.0)
    with pytest.raises(ConfigError):
        health.add_request(num_predictions=1, execution_time_ms=-1.0, timestamp=0.0)
    assert health.requests == 0 and health.execution_time.count == 0
    assert health.requests_per_minute == {}
