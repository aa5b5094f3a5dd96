"""The bounds of reported numbers and timestamps: the edges are in, the next value is out,
and the sums the service keeps of bounded values stay finite."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from spoolwatch.records.bounds import (
    AGGREGATE_COUNT_MAX,
    COUNT_MAX,
    EXECUTION_TIME_MAX_MS,
    VALUE_MAX,
    aggregate_count_problem,
    count_problem,
    execution_time_problem,
    moment_problem,
    timestamp_problem,
    value_problem,
)


def test_execution_time_edges() -> None:
    for good in (0, 0.0, 1e-9, EXECUTION_TIME_MAX_MS, 10**12):
        assert execution_time_problem(good) is None
    for bad in (-1e-9, math.nextafter(1e12, math.inf), 1e308, math.inf, math.nan, 10**400):
        problem = execution_time_problem(bad)
        assert problem is not None and "milliseconds" in problem


def test_count_edges() -> None:
    assert count_problem(0) is None and count_problem(COUNT_MAX) is None
    assert count_problem(-1) is not None and count_problem(COUNT_MAX + 1) is not None
    assert aggregate_count_problem(AGGREGATE_COUNT_MAX) is None
    assert "2**63 - 1" in (aggregate_count_problem(AGGREGATE_COUNT_MAX + 1) or "")


def test_value_edges() -> None:
    for good in (0.0, VALUE_MAX, -VALUE_MAX, 10**288):
        assert value_problem(good) is None
    for bad in (math.nextafter(VALUE_MAX, math.inf), -1e300, math.inf, -math.inf, math.nan):
        assert value_problem(bad) is not None


def test_sums_of_the_most_values_an_aggregate_can_count_stay_finite() -> None:
    assert math.isfinite(VALUE_MAX * AGGREGATE_COUNT_MAX * 1.0000001)
    assert math.isfinite(EXECUTION_TIME_MAX_MS * AGGREGATE_COUNT_MAX * 1e270)


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        ("1970-01-01 00:00:00.000+0000", True),
        ("1970-01-01 01:00:00.000+0100", True),
        ("1970-01-01 00:59:59.999+0100", False),
        ("2199-12-31T23:59:59.999999Z", True),
        ("2200-01-01T00:00:00Z", False),
        ("0001-01-01 00:30:00+0100", False),
        ("9999-12-31T23:59:59-2359", False),
        ("2026-02-30 10:00:00", False),
        ("yesterday", False),
    ],
)
def test_timestamp_range(text: str, accepted: bool) -> None:
    assert (timestamp_problem(text) is None) is accepted


def test_naive_moments_are_read_as_utc() -> None:
    assert moment_problem(datetime(1970, 1, 1)) is None
    assert moment_problem(datetime(1969, 12, 31, 23, 59)) is not None
    east = timezone(timedelta(hours=14))
    assert moment_problem(datetime(1, 1, 1, tzinfo=east)) is not None
    assert moment_problem(datetime(2199, 12, 31, 23, tzinfo=UTC)) is None


def test_a_sum_may_be_as_large_as_its_values_allow() -> None:
    from spoolwatch.records.bounds import sum_problem

    assert sum_problem(0.0, 0) is None and sum_problem(2e289, 2) is None
    assert sum_problem(1.0, 0) is not None and sum_problem(-3e289, 2) is not None
    assert sum_problem(math.nan, 5) is not None and sum_problem(math.inf, 2**62) is not None
