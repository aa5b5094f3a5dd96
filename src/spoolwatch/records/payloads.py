"""Typed payload models per data type (spec §3), for validation and for typed access.

Unknown fields are kept (``extra="allow"``): producers newer than this code may add fields.
:func:`validate_payload` turns a payload dict into its model or raises
:class:`~spoolwatch.errors.InvalidRecord` naming the field that is wrong.
:func:`validate_record`, which the agent calls for every record, builds no model: it accepts
plain payloads of the frequent data types with the checks of
:mod:`spoolwatch.records.validate_fast` and leaves every other payload to the models, so it
accepts and rejects exactly what :func:`validate_payload` does, with the same messages.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from spoolwatch.errors import InvalidRecord
from spoolwatch.records.envelope import Record
from spoolwatch.records.types import DataType
from spoolwatch.records.validate_fast import FAST_CHECKS

__all__ = [
    "PAYLOAD_MODELS",
    "Actual",
    "ActualsData",
    "CustomMetric",
    "CustomMetricBucket",
    "DeploymentStats",
    "Event",
    "PingMsg",
    "PredictionStats",
    "PredictionsData",
    "validate_payload",
    "validate_record",
]

Scalar = bool | int | float | str | None


class _FieldProblem(ValueError):
    """A cross-field check failed; ``field`` says which field the message is about."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=False, populate_by_name=True)


class DeploymentStats(_Payload):
    """DEPLOYMENT_STATS: service-health counters of one or more prediction requests."""

    timestamp: str
    modelId: str | None = None
    batchId: str | None = None
    numPredictions: int = Field(ge=0)
    executionTime: float = Field(ge=0)
    userError: bool = False
    systemError: bool = False


class PredictionsData(_Payload):
    """PREDICTIONS_DATA: features and predictions, column-oriented."""

    timestamp: str
    modelId: str | None = None
    batchId: str | None = None
    features: dict[str, list[Scalar]] | None = None
    predictions: list[float | None] | list[list[float | None]] | list[str | None] | None = None
    associationIds: list[str] | None = None
    classNames: list[str] | None = None
    requestParameters: dict[str, Any] | None = None
    forecastDistance: list[int] | None = None
    rowIndex: list[int] | None = None
    partition: list[str] | None = None
    seriesId: list[str | None] | None = None
    skipDriftTracking: bool = False
    skipAccuracyTracking: bool = False

    @model_validator(mode="after")
    def _rows_agree(self) -> PredictionsData:
        lengths = {len(v) for v in (self.features or {}).values()}
        if len(lengths) > 1:
            raise _FieldProblem("features", f"columns have different lengths {sorted(lengths)}")
        n = len(self.predictions) if self.predictions is not None else None
        time_series = self.forecastDistance is not None or self.rowIndex is not None
        for name in ("associationIds", "forecastDistance", "rowIndex", "partition", "seriesId"):
            values = getattr(self, name)
            if values is not None and n is not None and len(values) != n:
                raise _FieldProblem(name, f"{len(values)} values for {n} predictions")
        if n is not None and lengths and not time_series and lengths != {n}:
            raise _FieldProblem("features", f"{lengths.pop()} rows for {n} predictions")
        if self.classNames is not None and self.predictions:
            first = self.predictions[0]
            if isinstance(first, list) and len(first) != len(self.classNames):
                raise _FieldProblem(
                    "predictions",
                    f"{len(first)} probabilities for {len(self.classNames)} classes",
                )
        return self


class Actual(_Payload):
    """One ground-truth value, joined to a prediction by association id."""

    associationId: str
    actualValue: int | float | str
    wasActedOn: bool | None = None
    timestamp: str | None = None


class ActualsData(_Payload):
    """ACTUALS_DATA: a list of actuals."""

    actualsList: list[Actual]
    modelId: str | None = None
    batchId: str | None = None


class CustomMetricBucket(_Payload):
    """One custom-metric value at one time."""

    timestamp: str
    value: float | None
    geospatialCoordinate: str | None = None


class CustomMetric(_Payload):
    """CUSTOM_METRIC: values of one metric."""

    modelId: str | None = None
    customMetricId: str = Field(min_length=1)
    buckets: list[CustomMetricBucket]


class Event(_Payload):
    """EVENT: something that happened, with free-form data."""

    timestamp: str
    eventType: str = Field(min_length=1)
    message: str
    orgId: str | None = None
    deploymentId: str | None = None
    data: dict[str, Any] | None = None


class PredictionStats(_Payload):
    """PREDICTION_STATS: statistics aggregated on the model's side."""

    timestamp: str
    modelId: str | None = None
    batchId: str | None = None
    classNames: list[str] | None = None
    numericAggregateMap: dict[str, dict[str, Any]] = Field(default_factory=dict)
    categoricalAggregateMap: dict[str, dict[str, Any]] = Field(default_factory=dict)
    segmentAttributesAggregatedStats: dict[str, Any] = Field(default_factory=dict)
    predictionAggregateMap: dict[str, dict[str, Any]] = Field(default_factory=dict)


class PingMsg(_Payload):
    """PING_MSG: a spool self-test, read and dropped."""

    timestamp: str | None = None
    message: str | None = None
    createdTimestamp: int | None = None


PAYLOAD_MODELS: dict[DataType, type[_Payload]] = {
    DataType.DEPLOYMENT_STATS: DeploymentStats,
    DataType.PREDICTIONS_DATA: PredictionsData,
    DataType.ACTUALS_DATA: ActualsData,
    DataType.CUSTOM_METRIC: CustomMetric,
    DataType.EVENT: Event,
    DataType.PREDICTION_STATS: PredictionStats,
    DataType.PING_MSG: PingMsg,
}


def _describe(error: ValidationError, type_name: str) -> tuple[str, str]:
    first = error.errors()[0]
    problem = (first.get("ctx") or {}).get("error")
    if isinstance(problem, _FieldProblem):
        return problem.field, f"{type_name} payload: {problem.field}: {problem.detail}"
    field = ".".join(str(part) for part in first["loc"]) or "payload"
    return field, f"{type_name} payload: {field}: {first['msg']}"


def validate_payload(data_type: DataType, payload: dict[str, Any]) -> _Payload:
    """The typed model of a payload; raises :class:`InvalidRecord` naming the wrong field."""
    model = PAYLOAD_MODELS.get(data_type)
    if model is None:
        raise InvalidRecord(f"{data_type.name} has no known schema")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        field, message = _describe(exc, data_type.name)
        raise InvalidRecord(message, field=field) from None


def validate_record(record: Record) -> None:
    """Check a record's payload against its schema; raises :class:`InvalidRecord` if it breaks it.

    Types without a schema (unknown ones) are carried through. No model is built: use
    :func:`validate_payload` for typed access.
    """
    data_type = record.known_type
    if data_type is None or data_type not in PAYLOAD_MODELS:
        return
    payload = record.payload
    check = FAST_CHECKS.get(data_type)
    if check is not None and type(payload) is dict and check(payload) is None:
        return
    # Unusual or invalid: the models give the verdict and the message.
    try:
        validate_payload(data_type, payload)
    except InvalidRecord as exc:
        raise InvalidRecord(
            f"{exc} (record {record.id})", record_id=record.id, field=exc.field
        ) from None
