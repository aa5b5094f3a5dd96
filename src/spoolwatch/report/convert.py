"""Build payloads exactly as DataRobot's ``datarobot-mlops`` 11.2.62 writes them (spec §3).

Predictions, with their NaN handling and time-series fields, are in
:mod:`spoolwatch.report.predictions`.

Pure functions: arguments in, payload dicts out, with every key in DataRobot's order and every
value in its format. They validate their input like DataRobot's library (spec §1.4), refuse
numbers and timestamps outside :mod:`spoolwatch.records.bounds` (which DataRobot's library
writes but no service can keep), and raise :class:`~spoolwatch.report.errors.ReportError`
naming the argument; nothing is written by them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from spoolwatch.errors import InvalidRecord
from spoolwatch.records import dumps_payload
from spoolwatch.records.bounds import (
    count_problem,
    execution_time_problem,
    moment_problem,
    value_problem,
)
from spoolwatch.records.timestamps import dr_timestamp, event_timestamp
from spoolwatch.report.errors import ReportError

__all__ = [
    "MAX_EVENT_MESSAGE",
    "actuals_payload",
    "check_json",
    "custom_metric_payload",
    "deployment_stats_payload",
    "event_payload",
    "plain_bool",
    "plain_int",
    "record_timestamp",
]

MAX_EVENT_MESSAGE = 16_383


def check_json(value: object, argument: str) -> None:
    """Raise :class:`ReportError` naming ``argument`` when ``value`` cannot be written as JSON."""
    try:
        dumps_payload({"value": value})
    except InvalidRecord as exc:
        raise ReportError(argument, f"cannot be written as JSON ({exc})") from None


def plain_int(value: object, argument: str) -> int:
    """A Python int from an int or numpy integer (not a bool), else :class:`ReportError`."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise ReportError(argument, f"must be an int, got {value!r} ({type(value).__name__})")
    return int(value)


def plain_bool(value: object, argument: str) -> bool:
    """A Python bool from a bool or numpy bool, else :class:`ReportError`."""
    if not isinstance(value, bool | np.bool_):
        raise ReportError(argument, f"must be a bool, got {value!r} ({type(value).__name__})")
    return bool(value)


def record_timestamp(moment: datetime, argument: str = "timestamp") -> str:
    """``moment`` in DataRobot's format, or :class:`ReportError` when it lies outside the
    range the service keeps (see :mod:`spoolwatch.records.bounds`)."""
    problem = moment_problem(moment)
    if problem is not None:
        raise ReportError(argument, problem)
    return dr_timestamp(moment)


def deployment_stats_payload(
    *,
    now: datetime,
    model_id: str,
    num_predictions: object,
    execution_time_ms: object,
    user_error: object = False,
    system_error: object = False,
    batch_id: str | None = None,
) -> dict[str, Any]:
    """DEPLOYMENT_STATS (§3.1)."""
    count = plain_int(num_predictions, "num_predictions")
    problem = count_problem(count)
    if problem is not None:
        raise ReportError("num_predictions", problem)
    if isinstance(execution_time_ms, bool) or not isinstance(
        execution_time_ms, int | float | np.integer | np.floating
    ):
        raise ReportError("execution_time_ms", f"must be a number, got {execution_time_ms!r}")
    elapsed = (
        execution_time_ms.item()
        if isinstance(execution_time_ms, np.generic)
        else (execution_time_ms)
    )
    problem = execution_time_problem(elapsed)
    if problem is not None:
        raise ReportError("execution_time_ms", problem)
    payload: dict[str, Any] = {"timestamp": record_timestamp(now), "modelId": model_id}
    if batch_id is not None:
        payload["batchId"] = batch_id
    payload["numPredictions"] = count
    payload["executionTime"] = elapsed
    payload["userError"] = plain_bool(user_error, "user_error")
    payload["systemError"] = plain_bool(system_error, "system_error")
    return payload


def _actual(item: object, index: int, id_column: str) -> dict[str, Any]:
    where = f"actuals[{index}]"
    if not isinstance(item, Mapping):
        raise ReportError(where, f"must be a dict, got {type(item).__name__}")
    given = dict(item)
    if id_column != "associationId" and id_column in given:
        if "associationId" in given:
            raise ReportError(where, f"has both 'associationId' and {id_column!r}")
        given["associationId"] = given.pop(id_column)
    if "associationId" not in given or given["associationId"] is None:
        raise ReportError(where, f"has no association id (key {id_column!r})")
    if "actualValue" not in given:
        raise ReportError(where, "has no 'actualValue'")
    value = given.pop("actualValue")
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, int | float | str) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        raise ReportError(
            f"{where}.actualValue", f"must be a finite number or a string, got {value!r}"
        )
    actual: dict[str, Any] = {
        "associationId": str(given.pop("associationId")),
        "actualValue": value,
    }
    acted = given.pop("wasActedOn", None)
    if acted is not None:
        actual["wasActedOn"] = plain_bool(acted, f"{where}.wasActedOn")
    if "timestamp" in given:
        stamp = given.pop("timestamp")
        actual["timestamp"] = dr_timestamp(stamp) if isinstance(stamp, datetime) else stamp
    for key, extra in given.items():
        if not isinstance(key, str):
            raise ReportError(where, f"keys must be strings, got {key!r}")
        actual[key] = extra
    check_json(actual, where)
    return actual


def actuals_payload(
    actuals: object, *, model_id: str, association_id_column: str = "associationId"
) -> dict[str, Any]:
    """ACTUALS_DATA (§3.3): ``actualsList`` first, then ``modelId``."""
    if (
        isinstance(actuals, Mapping)
        or not isinstance(actuals, Sequence)
        or isinstance(actuals, str)
    ):
        raise ReportError("actuals", "must be a list of dicts")
    if not actuals:
        raise ReportError("actuals", "is empty")
    rows = [_actual(item, i, association_id_column) for i, item in enumerate(actuals)]
    return {"actualsList": rows, "modelId": model_id}


def _metric_value(value: object, argument: str) -> int | float:
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise ReportError(argument, f"must be a number, got {value!r}")
    number: int | float = value.item() if isinstance(value, np.generic) else value
    problem = value_problem(number)
    if problem is not None:
        raise ReportError(argument, problem)
    return number


def _metric_stamp(stamp: object, argument: str) -> str:
    if not isinstance(stamp, datetime):
        raise ReportError(argument, f"must be a datetime, got {stamp!r} ({type(stamp).__name__})")
    return record_timestamp(stamp, argument)


def custom_metric_payload(
    *,
    now: datetime,
    metric_id: object,
    value: object,
    timestamp: object = None,
    model_id: str | None = None,
    geospatial_coordinate: object = None,
) -> dict[str, Any]:
    """CUSTOM_METRIC (§3.4); ``model_id=None`` is a deployment-level metric (``modelId: null``)."""
    if not isinstance(metric_id, str) or not metric_id:
        raise ReportError("metric_id", f"must be a non-empty string, got {metric_id!r}")
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple):
        if not value:
            raise ReportError("value", "is an empty list")
        values = [_metric_value(v, f"value[{i}]") for i, v in enumerate(value)]
        if timestamp is None:
            stamps = [record_timestamp(now)] * len(values)
        elif isinstance(timestamp, list | tuple):
            if len(timestamp) != len(values):
                raise ReportError(
                    "timestamp", f"{len(timestamp)} timestamps for {len(values)} values"
                )
            stamps = [_metric_stamp(s, f"timestamp[{i}]") for i, s in enumerate(timestamp)]
        else:
            raise ReportError("timestamp", "must be a list of datetimes when value is a list")
        coordinates: list[object] = [None] * len(values)
        if geospatial_coordinate is not None:
            if not isinstance(geospatial_coordinate, list | tuple):
                raise ReportError("geospatial_coordinate", "must be a list when value is a list")
            if len(geospatial_coordinate) != len(values):
                raise ReportError("geospatial_coordinate", "must have one item per value")
            coordinates = list(geospatial_coordinate)
    else:
        values = [_metric_value(value, "value")]
        stamps = [
            record_timestamp(now) if timestamp is None else _metric_stamp(timestamp, "timestamp")
        ]
        coordinates = [geospatial_coordinate]
    buckets: list[dict[str, Any]] = []
    for i, (number, stamp, point) in enumerate(zip(values, stamps, coordinates, strict=True)):
        bucket: dict[str, Any] = {"timestamp": stamp, "value": number}
        if point is not None:
            if not isinstance(point, str):
                raise ReportError(f"geospatial_coordinate[{i}]", "must be a string (WKT or WKB)")
            bucket["geospatialCoordinate"] = point
        buckets.append(bucket)
    return {"modelId": model_id, "customMetricId": metric_id, "buckets": buckets}


def event_payload(
    *,
    now: datetime,
    event_type: object,
    message: object,
    deployment_id: str,
    data: object = None,
    org_id: str | None = None,
) -> dict[str, Any]:
    """EVENT (§3.5): the message is cut to 16 383 characters; an empty one is refused."""
    kind = getattr(event_type, "value", event_type)
    if not isinstance(kind, str) or not kind:
        raise ReportError("event_type", f"must be a non-empty string, got {event_type!r}")
    if not isinstance(message, str) or not message:
        raise ReportError("message", "must be a non-empty string")
    if data is not None:
        if not isinstance(data, Mapping):
            raise ReportError("data", f"must be a dict or None, got {type(data).__name__}")
        data = dict(data)
        check_json(data, "data")
    if org_id is not None and not isinstance(org_id, str):
        raise ReportError("org_id", "must be a string or None")
    record_timestamp(now)  # an event's timestamp is kept in the same range
    return {
        "timestamp": event_timestamp(now),
        "eventType": kind,
        "message": message[:MAX_EVENT_MESSAGE],
        "orgId": org_id,
        "deploymentId": deployment_id,
        "data": data,
    }
