"""Request and response bodies of the service's REST API (pydantic models).

Ingestion bodies are exactly what DataRobot's ingestion endpoints take (see the wire-format
spec §5.2); unknown fields are accepted and ignored. Query responses live in
:mod:`spoolwatch.server.responses` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from spoolwatch.records.bounds import (
    count_problem,
    execution_time_problem,
    timestamp_problem,
    value_problem,
)
from spoolwatch.server.responses import (
    AccuracyResponse,
    AgentState,
    CustomMetricSummaryResponse,
    EventList,
    FeatureDriftResponse,
    FleetResponse,
    Period,
    ServiceStatsResponse,
    TargetDriftResponse,
)

__all__ = [
    "AccuracyResponse",
    "ActualItem",
    "ActualsBody",
    "AgentHeartbeat",
    "AgentState",
    "CustomMetricBody",
    "CustomMetricSummaryResponse",
    "DeploymentCreate",
    "DeploymentList",
    "DeploymentResponse",
    "DeploymentStatsItem",
    "EventList",
    "FeatureDriftResponse",
    "FleetResponse",
    "IngestAccepted",
    "Period",
    "PredictionInputsBody",
    "PredictionItem",
    "PredictionRequestsBody",
    "PredictionStatsBody",
    "RemoteEventBody",
    "ServiceStatsResponse",
    "TargetDriftResponse",
    "VersionResponse",
    "nul_field",
]

Status = Literal["unknown", "green", "yellow", "red"]

# The store's column widths: longer values are refused here rather than by the database.
MODEL_ID_MAX = 64
ASSOCIATION_ID_MAX = 200
ModelIdText = Annotated[str, Field(max_length=MODEL_ID_MAX)]
AssociationIdText = Annotated[str, Field(max_length=ASSOCIATION_ID_MAX)]

NUL_MESSAGE = "NUL characters (\\u0000) are not allowed"


def nul_field(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where in a parsed JSON value a string (or key) holds a NUL character, or ``None``.

    PostgreSQL's text columns cannot store NUL, so such input is refused on every backend.
    """
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                return (*path, key.replace("\x00", ""))
            found = nul_field(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_field(item, (*path, index))
            if found is not None:
                return found
    return None


def _refuse_nul(data: Any) -> Any:
    found = nul_field(data)
    if found is not None:
        raise ValueError(f"{'.'.join(map(str, found))}: {NUL_MESSAGE}")
    return data


class _Body(BaseModel):
    # Unknown fields are ignored, as DataRobot's API does; producers add fields over time.
    model_config = ConfigDict(extra="ignore")


def _check_timestamp(value: str) -> str:
    problem = timestamp_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _within(problem: Callable[[Any], str | None]) -> AfterValidator:
    """A validator refusing what ``problem`` (one of :mod:`spoolwatch.records.bounds`) finds."""

    def check(value: Any) -> Any:
        found = problem(value)
        if found is not None:
            raise ValueError(found)
        return value

    return AfterValidator(check)


# The bounds of spoolwatch.records.bounds, shared with the Reporter and the fast body check.
Count = Annotated[int, _within(count_problem)]
ExecutionTime = Annotated[float, _within(execution_time_problem)]
SummedValue = Annotated[float, _within(value_problem)]


# --------------------------------------------------------------------------- ingestion


class DeploymentStatsItem(_Body):
    """One prediction request's service statistics (DEPLOYMENT_STATS)."""

    timestamp: str
    modelId: ModelIdText | None = None
    batchId: str | None = None
    numPredictions: Count
    executionTime: ExecutionTime
    userError: bool = False
    systemError: bool = False

    _ts = field_validator("timestamp")(_check_timestamp)


class PredictionRequestsBody(_Body):
    """``POST .../predictionRequests/fromJSON/``."""

    data: list[DeploymentStatsItem] = Field(min_length=1)


class FeatureColumn(_Body):
    """One feature's values, one per row."""

    name: str = Field(min_length=1)
    values: list[Any]


class PredictionItem(_Body):
    """Rows of features and/or predictions (PREDICTIONS_DATA, converted per §5.2)."""

    timestamp: str
    modelId: ModelIdText | None = None
    batchId: str | None = None
    features: list[FeatureColumn] | None = None
    predictions: list[Any] | None = None
    associationIds: list[AssociationIdText] | None = None
    classNames: list[str] | None = None
    requestParameters: dict[str, Any] | None = None
    timeSeriesPredictionsReport: dict[str, Any] | None = None

    _ts = field_validator("timestamp")(_check_timestamp)

    @model_validator(mode="after")
    def _rows_agree(self) -> PredictionItem:
        lengths = {len(c.values) for c in self.features or ()}
        if len(lengths) > 1:
            raise ValueError("features: every feature must have the same number of values")
        if (
            self.associationIds is not None
            and self.predictions is not None
            and len(self.associationIds) != len(self.predictions)
        ):
            raise ValueError("associationIds: one id per prediction is required")
        if (
            self.predictions is not None
            and lengths
            and self.timeSeriesPredictionsReport is None
            and lengths != {len(self.predictions)}
        ):
            raise ValueError("predictions: one prediction per feature row is required")
        return self


class PredictionInputsBody(_Body):
    """``POST .../predictionInputs/fromJSON/``."""

    data: list[PredictionItem] = Field(min_length=1)
    skipDriftTracking: bool = False
    skipAccuracyTracking: bool = False


class PredictionStatsBody(_Body):
    """``POST .../predictionStats/fromJSON/``: client-side aggregates (§5.2 conversion)."""

    data: list[dict[str, Any]] = Field(min_length=1)

    @field_validator("data")
    @classmethod
    def _items(cls, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for item in items:
            if not isinstance(item.get("timestamp"), str):
                raise ValueError("every item needs a string timestamp")
            _check_timestamp(item["timestamp"])
            model_id = item.get("modelId")
            if isinstance(model_id, str) and len(model_id) > MODEL_ID_MAX:
                raise ValueError(f"modelId: at most {MODEL_ID_MAX} characters")
        return items


class ActualItem(_Body):
    """One ground-truth value for an association id."""

    associationId: str = Field(min_length=1, max_length=ASSOCIATION_ID_MAX)
    actualValue: float | str
    wasActedOn: bool | None = None
    timestamp: str | None = None

    @field_validator("associationId", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ActualsBody(_Body):
    """``POST .../actuals/fromJSON/``."""

    data: list[ActualItem] = Field(min_length=1)


class MetricBucket(_Body):
    """One custom-metric value at a time."""

    timestamp: str
    value: SummedValue
    sampleSize: Count | None = None
    geospatialCoordinate: str | None = None

    _ts = field_validator("timestamp")(_check_timestamp)


class CustomMetricBody(_Body):
    """``POST .../customMetrics/{metricId}/fromJSON/``."""

    modelId: ModelIdText | None = None
    buckets: list[MetricBucket] = Field(min_length=1)


class RemoteEventBody(_Body):
    """``POST /api/v2/remoteEvents/``: an EVENT payload, unwrapped."""

    timestamp: str
    eventType: str = Field(min_length=1, max_length=200)
    message: str = Field(default="", max_length=16383)
    orgId: str | None = Field(default=None, max_length=64)
    deploymentId: str | None = None
    data: dict[str, Any] | None = None

    _ts = field_validator("timestamp")(_check_timestamp)

    @field_validator("data")
    @classmethod
    def _storable(cls, data: dict[str, Any] | None) -> dict[str, Any] | None:
        # Kept as JSON; orjson (like the databases) stops at 64-bit integers.
        try:
            orjson.dumps(data)
        except TypeError:
            raise ValueError("an integer exceeds the 64-bit range") from None
        return data


class IngestAccepted(BaseModel):
    """The answer to an accepted ingestion request (202)."""

    message: str = "accepted"
    rows: int = 0
    duplicate: bool = False


class AgentHeartbeat(_Body):
    """``POST /api/v2/spoolwatch/agents/heartbeat/``: one agent's recent state."""

    model_config = ConfigDict(extra="allow")

    agentId: str = Field(min_length=1, max_length=200)
    host: str | None = None
    runtime: str | None = None
    recordsPerSecond: float | None = None
    backlog: dict[str, int | None] = Field(default_factory=dict)
    errors: dict[str, int] | int | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return _refuse_nul(data)

    @model_validator(mode="after")
    def _storable(self) -> AgentHeartbeat:
        # Kept as JSON; orjson (like the databases) stops at 64-bit integers.
        try:
            orjson.dumps(self.model_dump())
        except TypeError:
            raise ValueError("an integer exceeds the 64-bit range") from None
        return self


# --------------------------------------------------------------------------- deployments


class AccuracySettingsBody(BaseModel):
    """A deployment's own accuracy judgement; fields left out take the service's defaults."""

    # Settings are few and easily misspelt: an unknown key is an error, not ignored.
    model_config = ConfigDict(extra="forbid")

    metric: str | None = Field(
        default=None, description="accuracy or logLoss (classification), rmse or mae (regression)"
    )
    yellowPercent: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="degradation for yellow, in %"
    )
    redPercent: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="degradation for red, in %"
    )
    baselineValue: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="the metric's reference value (default: measured on the first joined rows)",
    )


class DeploymentCreate(_Body):
    """``POST /api/v2/deployments/``. ``id``/``modelId`` may be given (24 hex characters)."""

    id: str | None = None
    modelId: str | None = None
    label: str | None = Field(default=None, min_length=1, max_length=200)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    targetType: Literal["binary", "multiclass", "regression"] = "regression"
    targetName: str | None = Field(default=None, max_length=200)
    classNames: list[str] | None = None
    trainingData: dict[str, list[Any]] | None = Field(
        default=None, description="training columns {name: [values]}; includes the target"
    )
    featureTypes: dict[str, Literal["numeric", "categorical"]] | None = None
    accuracy: AccuracySettingsBody | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return _refuse_nul(data)

    @field_validator("trainingData")
    @classmethod
    def _scalar_columns(cls, columns: dict[str, list[Any]] | None) -> dict[str, list[Any]] | None:
        for name, values in (columns or {}).items():
            if any(v is not None and not isinstance(v, str | int | float) for v in values):
                raise ValueError(f"trainingData.{name}: values must be numbers, strings or null")
        return columns


class FeatureInfo(BaseModel):
    """A feature of the baseline and how it is binned."""

    name: str
    featureType: str


class HealthStatus(BaseModel):
    """A traffic light over the last day, as DataRobot's deployment list shows it."""

    status: Status
    message: str = ""


class DeploymentResponse(BaseModel):
    """A deployment."""

    id: str
    label: str
    modelId: str
    targetType: str
    targetName: str | None
    classNames: list[str]
    features: list[FeatureInfo]
    hasBaseline: bool
    createdAt: float
    accuracy: AccuracySettingsBody | None = Field(
        default=None, description="the deployment's own accuracy settings (null: the service's)"
    )
    serviceHealth: HealthStatus | None = None
    modelHealth: HealthStatus | None = None
    accuracyHealth: HealthStatus | None = None


class DeploymentList(BaseModel):
    """``GET /api/v2/deployments/``."""

    count: int
    data: list[DeploymentResponse]


class VersionResponse(BaseModel):
    """``GET /api/v2/version/``."""

    major: int
    minor: int
    versionString: str
