"""Reading stored hourly aggregates, whatever an older version left in them.

Before :mod:`spoolwatch.records.bounds`, a row could come to hold a number that is null,
infinite or beyond the bounds where a number belongs (two execution times of 1e308 ms add up
to infinity, which JSON stores as ``null``). Every reader of the hourly tables — the queries,
``/metrics``, folding and migration 5 — reads rows through these functions, so one rule
decides what such a row still says. It keeps what is still exact and drops the rest, since
no finite value can be recovered from an infinite sum:

* ``service_hourly``: the request, prediction and error counts and the requests per minute
  are kept; an execution-time histogram whose sum, minimum or maximum is not finite or lies
  beyond the bound is dropped (that hour's execution times are unknown; later requests of
  the hour add theirs to an empty histogram);
* ``drift_hourly``: the histograms and row counts are kept; a prediction sum that is not
  finite or larger than its predictions' bounds allow is dropped with its prediction count
  (that hour's mean prediction is unknown);
* ``custom_metric_hourly``: a row with such a number is dropped whole (its count, sum and
  last value belong together);
* a row whose counts cannot be read at all is dropped whole.

"Dropped" means: reads answer for the other rows, folding replaces the row with what it
folds, migration 5 writes the repaired row (or deletes it). Each kind of fault is logged
once per process, as a warning naming the first row found with it.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import Any

import orjson

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring.custom import CustomMetricAggregate
from spoolwatch.monitoring.health import ServiceHealth
from spoolwatch.monitoring.histogram import DriftAggregate
from spoolwatch.monitoring.latency import LatencyHistogram
from spoolwatch.records.bounds import (
    EXECUTION_TIME_MAX_MS,
    VALUE_MAX,
    sum_problem,
)

__all__ = [
    "Fault",
    "StoredDrift",
    "custom_metric",
    "drift_row",
    "read_custom_metric",
    "read_drift",
    "read_service_health",
    "service_health",
]

logger = logging.getLogger(__name__)

_EMPTY_TIMES: dict[str, Any] = {"count": 0, "sum": 0.0, "buckets": []}

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Fault:
    """What is wrong with a stored row: ``kind`` names the fault (one warning per kind),
    ``detail`` says what was found; ``repaired`` tells whether the row still says something."""

    kind: str
    detail: str
    repaired: bool


@dataclass(frozen=True, slots=True)
class StoredDrift:
    """A ``drift_hourly`` row as the queries use it, its aggregate parsed."""

    hour: int
    rows: int
    prediction_rows: int
    prediction_sum: float
    aggregate: DriftAggregate


def warn_once(table: str, fault: Fault, where: str) -> None:
    """Log ``fault`` of the row ``where`` of ``table``, the first time this kind is met."""
    key = (table, fault.kind)
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    outcome = "the rest of it is used" if fault.repaired else "it counts for nothing"
    logger.warning(
        "%s: %s in the row of %s (%s); %s. Migration 5 repairs such rows; this is logged "
        "once per process and kind of fault",
        table,
        fault.kind,
        where,
        fault.detail,
        outcome,
    )


# --------------------------------------------------------------------------- service


def _times_fault(times: LatencyHistogram) -> str | None:
    if times.count == 0:
        return None
    if not (
        math.isfinite(times.total)
        and 0 <= times.minimum <= times.maximum <= EXECUTION_TIME_MAX_MS
        and 0 <= times.total <= times.count * EXECUTION_TIME_MAX_MS
    ):
        return f"sum {times.total!r}, min {times.minimum!r}, max {times.maximum!r}"
    return None


def read_service_health(blob: str) -> tuple[ServiceHealth | None, Fault | None]:
    """A ``service_hourly.health`` value: the aggregate (``None`` when beyond repair) and
    what was wrong with it (``None`` when nothing)."""
    try:
        data = orjson.loads(blob)
        health = ServiceHealth.from_dict({**data, "executionTime": _EMPTY_TIMES})
    except (ValueError, TypeError, ConfigError) as exc:
        return None, Fault("unreadable service health", str(exc), repaired=False)
    try:
        times = LatencyHistogram.from_dict(data["executionTime"])
        problem = _times_fault(times)
    except (KeyError, TypeError, ConfigError) as exc:
        problem = str(exc)
    if problem is not None:
        return health, Fault("execution times beyond the bounds", problem, repaired=True)
    health.execution_time = times
    return health, None


def service_health(blob: str, where: str) -> ServiceHealth | None:
    """:func:`read_service_health` for reads and folding: faults are logged once."""
    health, fault = read_service_health(blob)
    if fault is not None:
        warn_once("service_hourly", fault, where)
    return health


# --------------------------------------------------------------------------- drift


def read_drift(
    aggregate: str, prediction_rows: Any, prediction_sum: Any
) -> tuple[tuple[DriftAggregate, int, float] | None, Fault | None]:
    """A ``drift_hourly`` row's aggregate, prediction count and sum (``None`` when beyond
    repair) and what was wrong with it."""
    try:
        parsed = DriftAggregate.from_dict(orjson.loads(aggregate))
    except (ValueError, TypeError, ConfigError) as exc:
        return None, Fault("unreadable drift aggregate", str(exc), repaired=False)
    count = prediction_rows if type(prediction_rows) is int else -1
    total = prediction_sum if isinstance(prediction_sum, float | int) else math.nan
    if count < 0 or sum_problem(total, count) is not None:
        detail = f"sum {prediction_sum!r} of {prediction_rows!r} predictions"
        return (parsed, 0, 0.0), Fault("prediction sum beyond the bounds", detail, repaired=True)
    return (parsed, count, float(total)), None


def drift_row(row: Any, where: str) -> StoredDrift | None:
    """A ``drift_hourly`` row for the queries (``None``: beyond repair); faults logged once."""
    read, fault = read_drift(row.aggregate, row.prediction_rows, row.prediction_sum)
    if fault is not None:
        warn_once("drift_hourly", fault, where)
    if read is None:
        return None
    return StoredDrift(row.hour, row.rows, read[1], read[2], read[0])


# --------------------------------------------------------------------------- custom metrics


def read_custom_metric(row: Any) -> tuple[CustomMetricAggregate | None, Fault | None]:
    """A ``custom_metric_hourly`` row's aggregate (``None`` when it holds a number beyond
    the bounds) and what was wrong with it."""
    count, total, last, at = row.count, row.value_sum, row.last_value, row.last_at
    numbers = (total, last, at)
    if (
        type(count) is int
        and count >= 0
        and all(isinstance(n, float | int) for n in numbers)
        and sum_problem(total, count) is None
        and abs(last) <= VALUE_MAX
        and math.isfinite(at)
    ):
        return CustomMetricAggregate(count, float(total), float(last), float(at)), None
    detail = f"count {count!r}, sum {total!r}, last {last!r} at {at!r}"
    return None, Fault("custom metric values beyond the bounds", detail, repaired=False)


def custom_metric(row: Any, where: str) -> CustomMetricAggregate | None:
    """:func:`read_custom_metric` for reads: faults are logged once."""
    aggregate, fault = read_custom_metric(row)
    if fault is not None:
        warn_once("custom_metric_hourly", fault, where)
    return aggregate
