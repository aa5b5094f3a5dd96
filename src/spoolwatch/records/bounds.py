"""The bounds every reported number and timestamp keeps: the Reporter and the service both
refuse what lies outside them, with the messages written here.

* execution time of a request (``executionTime``): finite, 0 ≤ t ≤ 10¹² ms (31.7 years);
* a count one record carries (``numPredictions``, ``sampleSize``, the counts of client-side
  aggregates): an integer, 0 ≤ n ≤ 2⁵³;
* a value the service sums (custom-metric values, numeric predictions): finite,
  -10²⁸⁹ ≤ v ≤ 10²⁸⁹, and a sum of n such values (client-side aggregates' ``sum``, the
  hourly sums the service keeps) within ±n·10²⁸⁹;
* a count the service keeps per hour: at most 2⁶³ - 1 (its 64-bit columns);
* a record's timestamp: from 1970-01-01T00:00:00Z up to, not including, 2200-01-01T00:00:00Z.

Why these: every aggregate the service keeps is a sum of such numbers, and none may become
infinite. A sum of at most 2⁶³ - 1 values (more than a deployment can ever receive) stays
below 9.3·10³⁰ ms for execution times and below 9.3·10³⁰⁷ for values — both under the largest
float (1.8·10³⁰⁸) — so bounded values make sums that cannot overflow, whatever the traffic.
Counts are exact integers: 2⁵³ is the largest every JSON reader (JavaScript included) holds
exactly, and because their sums could pass 2⁶³ - 1 the service checks each hourly total
when it folds (a request that would pass it is refused with 422). Timestamps are limited to a
range that the query API, the dashboard and both databases represent, so nothing is stored
that no query can find.

Each ``*_problem`` function returns ``None`` for an acceptable value and otherwise what is
wrong with it (``"must be ..., got ..."``), for the caller to prefix with the field's name.
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime

from spoolwatch.records.timestamps import parse_timestamp

__all__ = [
    "AGGREGATE_COUNT_MAX",
    "COUNT_MAX",
    "EXECUTION_TIME_MAX_MS",
    "TIMESTAMP_END",
    "TIMESTAMP_MIN",
    "VALUE_MAX",
    "aggregate_count_problem",
    "count_problem",
    "epoch_problem",
    "execution_time_problem",
    "moment_problem",
    "sum_problem",
    "timestamp_problem",
    "value_problem",
]

#: Largest execution time of one request, in milliseconds.
EXECUTION_TIME_MAX_MS = 1e12
#: Largest count one record may carry.
COUNT_MAX = 2**53
#: Largest magnitude of a value that the service sums.
VALUE_MAX = 1e289
#: Largest count the service keeps in one hourly aggregate (a signed 64-bit column).
AGGREGATE_COUNT_MAX = 2**63 - 1
#: The first moment a record may carry.
TIMESTAMP_MIN = datetime(1970, 1, 1, tzinfo=UTC)
#: The moment from which on timestamps are refused (exclusive end of the range).
TIMESTAMP_END = datetime(2200, 1, 1, tzinfo=UTC)

_EPOCH_MIN = TIMESTAMP_MIN.timestamp()
_EPOCH_END = TIMESTAMP_END.timestamp()
_RANGE = "from 1970-01-01T00:00:00Z to before 2200-01-01T00:00:00Z"


def execution_time_problem(value: float) -> str | None:
    """What is wrong with an execution time in milliseconds (``None``: nothing)."""
    if 0 <= value <= EXECUTION_TIME_MAX_MS:  # NaN fails every comparison
        return None
    return f"must be a finite number of milliseconds from 0 to 1e12, got {value!r}"


def count_problem(value: int) -> str | None:
    """What is wrong with a count one record carries (``None``: nothing)."""
    if 0 <= value <= COUNT_MAX:
        return None
    return f"must be an integer from 0 to 2**53, got {value!r}"


def value_problem(value: float) -> str | None:
    """What is wrong with a value that is summed (``None``: nothing)."""
    if -VALUE_MAX <= value <= VALUE_MAX:
        return None
    return f"must be a finite number from -1e289 to 1e289, got {value!r}"


def sum_problem(total: float, count: int) -> str | None:
    """What is wrong with the sum of ``count`` values (``None``: each could be in bounds)."""
    if abs(total) <= count * VALUE_MAX:  # NaN fails; an empty sum must be 0
        return None
    return f"must be a finite sum within ±{count}·1e289 for {count} values, got {total!r}"


def aggregate_count_problem(value: int) -> str | None:
    """What is wrong with an hourly total (``None``: it fits the store's 64-bit columns)."""
    if value <= AGGREGATE_COUNT_MAX:
        return None
    return f"the hour's total would be {value}, beyond the 2**63 - 1 the store can hold"


def epoch_problem(seconds: float) -> str | None:
    """What is wrong with a moment in Unix seconds (``None``: it is in the range)."""
    if _EPOCH_MIN <= seconds < _EPOCH_END:
        return None
    return f"must be a moment {_RANGE}, got {seconds!r} seconds since 1970"


def moment_problem(moment: datetime) -> str | None:
    """What is wrong with a datetime a record will carry (naive ones are read as UTC, as the
    service reads a timestamp without an offset)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    try:
        seconds = aware.timestamp()
    except (OverflowError, ValueError):  # a year-1 moment with a positive offset, say
        seconds = math.nan
    if _EPOCH_MIN <= seconds < _EPOCH_END:
        return None
    return f"must be a moment {_RANGE}, got {moment.isoformat()}"


@functools.lru_cache(maxsize=4096)
def timestamp_problem(text: str) -> str | None:
    """What is wrong with a record's timestamp text (``None``: a timestamp in the range).

    Cached: the items of one request share few timestamps, each checked per item.
    """
    try:
        moment = parse_timestamp(text)
    except (ValueError, OverflowError):
        return f"not a timestamp: {text!r}"
    if moment_problem(moment) is None:
        return None
    return f"must be a moment {_RANGE}, got {text!r}"
