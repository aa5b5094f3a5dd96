"""PREDICTIONS_DATA payloads (spec §3.2): features, predictions, NaN removal, time series.

Rows whose prediction is NaN are removed from every row field and listed in an
``externalNaNPredictions`` EVENT that is written just before the predictions, as DataRobot's
library does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from spoolwatch.records.timestamps import time_series_timestamp
from spoolwatch.report.convert import (
    check_json,
    event_payload,
    plain_bool,
    plain_int,
    record_timestamp,
)
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
    "MAX_TIME_SERIES_ROWS",
    "NAN_EVENT_TYPE",
    "PredictionsReport",
    "TimeSeries",
    "predictions_report",
]

log = logging.getLogger(__name__)

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
    check_json(out, "request_parameters")
    return out


def _int_list(values: object, argument: str, rows: int) -> list[int]:
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(values, list | tuple):
        raise ReportError(argument, "must be a list of ints")
    out = [plain_int(value, f"{argument}[{i}]") for i, value in enumerate(values)]
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

    payload: dict[str, Any] = {"timestamp": record_timestamp(now), "modelId": model_id}
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
    if plain_bool(skip_drift_tracking, "skip_drift_tracking"):
        payload["skipDriftTracking"] = True
    if plain_bool(skip_accuracy_tracking, "skip_accuracy_tracking"):
        payload["skipAccuracyTracking"] = True
    return PredictionsReport(nan_event, payload)
