"""Build payloads exactly as DataRobot's ``datarobot-mlops`` 11.2.62 writes them (spec §3).

Pure functions: arguments in, payload dicts out, with every key in DataRobot's order and every
value in its format. They validate their input like DataRobot's library (spec §1.4) and raise
:class:`~spoolwatch.report.errors.ReportError` naming the argument; nothing is written by them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from spoolwatch.errors import InvalidRecord
from spoolwatch.records import dumps_payload
from spoolwatch.records.timestamps import dr_timestamp, event_timestamp, time_series_timestamp
from spoolwatch.report.errors import ReportError
from spoolwatch.report.features import (
    Predictions,
    convert_class_names,
    convert_predictions,
    convert_strings,
    feature_columns,
    nan_rows,
)

__all__ = [
    "MAX_EVENT_MESSAGE",
    "MAX_TIME_SERIES_ROWS",
    "NAN_EVENT_TYPE",
    "PredictionsReport",
    "TimeSeries",
    "actuals_payload",
    "custom_metric_payload",
    "deployment_stats_payload",
    "event_payload",
    "predictions_report",
]

log = logging.getLogger(__name__)

MAX_EVENT_MESSAGE = 16_383
MAX_TIME_SERIES_ROWS = 10_000
NAN_EVENT_TYPE = "externalNaNPredictions"

# Request-parameter names accepted (snake case or DataRobot's output name) → output name.
_REQUEST_PARAMETERS = {
    "forecast_point": "forecastPoint",
    "predictions_start_date": "predictionsStartDate",
    "predictions_end_date": "predictionsEndDate",
    "relax_kia_check": "relaxKnownInAdvanceFeaturesCheck",
    "relax_seen_cross_series_check": "relaxSeenCrossSeriesCheck",
    "relax_insufficient_history_check": "relaxInsufficientHistoryCheck",
}
_REQUEST_OUTPUT_NAMES = {name: name for name in _REQUEST_PARAMETERS.values()}


def _check_json(value: object, argument: str) -> None:
    try:
        dumps_payload({"value": value})
    except InvalidRecord as exc:
        raise ReportError(argument, f"cannot be written as JSON ({exc})") from None


def _plain_int(value: object, argument: str) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise ReportError(argument, f"must be an int, got {value!r} ({type(value).__name__})")
    return int(value)


def _plain_bool(value: object, argument: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ReportError(argument, f"must be a bool, got {value!r} ({type(value).__name__})")
    return bool(value)


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
    count = _plain_int(num_predictions, "num_predictions")
    if count < 0:
        raise ReportError("num_predictions", f"must not be negative, got {count}")
    if isinstance(execution_time_ms, bool) or not isinstance(
        execution_time_ms, int | float | np.integer | np.floating
    ):
        raise ReportError("execution_time_ms", f"must be a number, got {execution_time_ms!r}")
    elapsed = (
        execution_time_ms.item()
        if isinstance(execution_time_ms, np.generic)
        else (execution_time_ms)
    )
    if not math.isfinite(elapsed) or elapsed < 0:
        raise ReportError("execution_time_ms", f"must be a finite number >= 0, got {elapsed}")
    payload: dict[str, Any] = {"timestamp": dr_timestamp(now), "modelId": model_id}
    if batch_id is not None:
        payload["batchId"] = batch_id
    payload["numPredictions"] = count
    payload["executionTime"] = elapsed
    payload["userError"] = _plain_bool(user_error, "user_error")
    payload["systemError"] = _plain_bool(system_error, "system_error")
    return payload


@dataclass(frozen=True, slots=True)
class TimeSeries:
    """The optional time-series fields of a predictions report (§3.2)."""

    request_parameters: Mapping[str, Any] | None = None
    forecast_distance: Sequence[int] | None = None
    row_index: Sequence[int] | None = None
    partition: Sequence[datetime] | None = None
    series_id: Sequence[str | None] | None = None

    @property
    def given(self) -> bool:
        """Whether any time-series field was given."""
        return any(
            value is not None
            for value in (
                self.request_parameters,
                self.forecast_distance,
                self.row_index,
                self.partition,
                self.series_id,
            )
        )


@dataclass(frozen=True, slots=True)
class PredictionsReport:
    """What one ``report_predictions_data`` call becomes: an optional NaN event, then data."""

    nan_event: dict[str, Any] | None
    payload: dict[str, Any] | None


def _request_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(parameters, Mapping):
        raise ReportError("request_parameters", "must be a mapping")
    out: dict[str, Any] = {}
    for key, value in parameters.items():
        name = _REQUEST_PARAMETERS.get(key) or _REQUEST_OUTPUT_NAMES.get(key)
        if name is None:
            # DataRobot's library drops unknown keys too; say so instead of hiding it.
            log.warning(
                "request_parameters: ignoring unknown key %r (known: %s)",
                key,
                ", ".join(sorted(_REQUEST_PARAMETERS)),
            )
            continue
        out[name] = time_series_timestamp(value) if isinstance(value, datetime) else value
    _check_json(out, "request_parameters")
    return out


def _int_list(values: object, argument: str, rows: int) -> list[int]:
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(values, list | tuple):
        raise ReportError(argument, "must be a list of ints")
    out = [_plain_int(value, f"{argument}[{i}]") for i, value in enumerate(values)]
    if len(out) != rows:
        raise ReportError(argument, f"{len(out)} values for {rows} predictions")
    return out


def _time_series_fields(series: TimeSeries, rows: int) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if series.request_parameters is not None:
        fields["requestParameters"] = _request_parameters(series.request_parameters)
    if series.forecast_distance is not None:
        fields["forecastDistance"] = _int_list(series.forecast_distance, "forecast_distance", rows)
    if series.row_index is not None:
        fields["rowIndex"] = _int_list(series.row_index, "row_index", rows)
    if series.partition is not None:
        stamps = list(series.partition)
        if len(stamps) != rows:
            raise ReportError("partition", f"{len(stamps)} values for {rows} predictions")
        for i, stamp in enumerate(stamps):
            if not isinstance(stamp, datetime):
                raise ReportError(f"partition[{i}]", f"must be a datetime, got {stamp!r}")
        fields["partition"] = [time_series_timestamp(stamp) for stamp in stamps]
    if series.series_id is not None:
        ids = list(series.series_id)
        if len(ids) != rows:
            raise ReportError("series_id", f"{len(ids)} values for {rows} predictions")
        if any(value is not None for value in ids):
            fields["seriesId"] = convert_strings(ids, "series_id")
    return fields


def _drop_rows(values: list[Any], dropped: set[int]) -> list[Any]:
    return [value for i, value in enumerate(values) if i not in dropped]


def _nan_event(now: datetime, deployment_id: str, model_id: str, rows: list[int]) -> dict[str, Any]:
    message = "External NaN Predictions for indices: " + ", ".join(str(i) for i in rows)
    return event_payload(
        now=now,
        event_type=NAN_EVENT_TYPE,
        message=message,
        deployment_id=deployment_id,
        data={"modelId": str(model_id), "count": len(rows)},
    )


def predictions_report(
    *,
    now: datetime,
    deployment_id: str,
    model_id: str,
    features: object = None,
    predictions: object = None,
    association_ids: object = None,
    class_names: object = None,
    batch_id: str | None = None,
    skip_drift_tracking: bool = False,
    skip_accuracy_tracking: bool = False,
    time_series: TimeSeries | None = None,
) -> PredictionsReport:
    """PREDICTIONS_DATA (§3.2), with NaN predictions removed and reported by an EVENT first."""
    series = time_series or TimeSeries()
    if features is None and predictions is None:
        raise ReportError("features_df", "give features_df, predictions or both")
    names = convert_class_names(class_names)
    columns = feature_columns(features) if features is not None else None
    feature_rows = len(next(iter(columns.values()))) if columns else 0
    converted: Predictions | None = None
    if predictions is not None:
        converted = convert_predictions(predictions, names)
    rows = len(converted.values) if converted is not None else feature_rows
    if columns is not None and converted is not None and not series.given and feature_rows != rows:
        raise ReportError("features_df", f"{feature_rows} rows for {rows} predictions")
    if series.given and max(rows, feature_rows) > MAX_TIME_SERIES_ROWS:
        raise ReportError(
            "predictions", f"time series reports take at most {MAX_TIME_SERIES_ROWS} rows"
        )
    ids: list[str] | None = None
    if association_ids is not None:
        if converted is None:
            raise ReportError("association_ids", "given without predictions")
        ids = convert_strings(association_ids, "association_ids")
        if len(ids) != rows:
            raise ReportError("association_ids", f"{len(ids)} ids for {rows} predictions")
        if len(set(ids)) != len(ids):
            raise ReportError("association_ids", "ids must be unique within one report")
    row_fields = [
        name
        for name in ("forecast_distance", "row_index", "partition", "series_id")
        if getattr(series, name) is not None
    ]
    if converted is None and row_fields:
        raise ReportError(row_fields[0], "time-series row fields need predictions")
    ts_fields = _time_series_fields(series, rows)

    nan_event = None
    prediction_values = converted.values if converted is not None else None
    bad = nan_rows(converted) if converted is not None else []
    if bad:
        nan_event = _nan_event(now, deployment_id, model_id, bad)
        dropped = set(bad)
        prediction_values = _drop_rows(prediction_values or [], dropped)
        if ids is not None:
            ids = _drop_rows(ids, dropped)
        if columns is not None and feature_rows == rows:
            columns = {name: _drop_rows(values, dropped) for name, values in columns.items()}
        for key in ("forecastDistance", "rowIndex", "partition", "seriesId"):
            if key in ts_fields:
                ts_fields[key] = _drop_rows(ts_fields[key], dropped)
        if not prediction_values:
            return PredictionsReport(nan_event, None)

    payload: dict[str, Any] = {"timestamp": dr_timestamp(now), "modelId": model_id}
    if batch_id is not None:
        payload["batchId"] = batch_id
    if columns is not None:
        payload["features"] = columns
    if prediction_values is not None:
        payload["predictions"] = prediction_values
    if ids is not None:
        payload["associationIds"] = ids
    if names is not None:
        payload["classNames"] = names
    payload.update(ts_fields)
    if _plain_bool(skip_drift_tracking, "skip_drift_tracking"):
        payload["skipDriftTracking"] = True
    if _plain_bool(skip_accuracy_tracking, "skip_accuracy_tracking"):
        payload["skipAccuracyTracking"] = True
    return PredictionsReport(nan_event, payload)


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
    if not isinstance(value, int | float | str) or (isinstance(value, float) and value != value):
        raise ReportError(f"{where}.actualValue", f"must be a number or a string, got {value!r}")
    actual: dict[str, Any] = {
        "associationId": str(given.pop("associationId")),
        "actualValue": value,
    }
    acted = given.pop("wasActedOn", None)
    if acted is not None:
        actual["wasActedOn"] = _plain_bool(acted, f"{where}.wasActedOn")
    if "timestamp" in given:
        stamp = given.pop("timestamp")
        actual["timestamp"] = dr_timestamp(stamp) if isinstance(stamp, datetime) else stamp
    for key, extra in given.items():
        if not isinstance(key, str):
            raise ReportError(where, f"keys must be strings, got {key!r}")
        actual[key] = extra
    _check_json(actual, where)
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
    if isinstance(number, float) and math.isnan(number):
        raise ReportError(argument, "is NaN")
    return number


def _metric_stamp(stamp: object, argument: str) -> str:
    if not isinstance(stamp, datetime):
        raise ReportError(argument, f"must be a datetime, got {stamp!r} ({type(stamp).__name__})")
    return dr_timestamp(stamp)


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
            stamps = [dr_timestamp(now)] * len(values)
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
        stamps = [dr_timestamp(now) if timestamp is None else _metric_stamp(timestamp, "timestamp")]
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
        _check_json(data, "data")
    if org_id is not None and not isinstance(org_id, str):
        raise ReportError("org_id", "must be a string or None")
    return {
        "timestamp": event_timestamp(now),
        "eventType": kind,
        "message": message[:MAX_EVENT_MESSAGE],
        "orgId": org_id,
        "deploymentId": deployment_id,
        "data": data,
    }
