"""Response bodies of the query API (pydantic models), shaped like DataRobot's deployment
monitoring endpoints (``period``, ``metrics``, ``data``) plus ``buckets`` (a time series over
the period) and traffic-light ``status`` fields. Re-exported by :mod:`spoolwatch.server.schemas`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "AccuracyBucket",
    "AccuracyJudged",
    "AccuracyResponse",
    "AgentState",
    "CustomMetricBucket",
    "CustomMetricSummaryResponse",
    "CustomMetricValue",
    "DriftBucket",
    "EventItem",
    "EventList",
    "FeatureDrift",
    "FeatureDriftResponse",
    "FleetResponse",
    "Histogram",
    "MetricValue",
    "Period",
    "ServiceBucket",
    "ServiceMetrics",
    "ServiceStatsResponse",
    "TargetDriftResponse",
]

Status = Literal["unknown", "green", "yellow", "red"]


class Period(BaseModel):
    """A half-open time range [start, end), aligned to whole hours."""

    start: datetime
    end: datetime


class ServiceMetrics(BaseModel):
    """Service health over a period or a bucket."""

    totalPredictions: int
    totalRequests: int
    executionTime: float | None = Field(description="mean execution time per request, ms")
    executionTimeP50: float | None = None
    executionTimeP90: float | None = None
    userErrorRate: float | None
    serverErrorRate: float | None
    peakLoad: int = Field(default=0, description="requests in the busiest minute")


class ServiceBucket(BaseModel):
    """Service health in one bucket of the period."""

    period: Period
    metrics: ServiceMetrics


class ServiceStatsResponse(BaseModel):
    """``GET .../serviceStats/``."""

    deploymentId: str
    modelId: str | None
    period: Period
    metrics: ServiceMetrics
    status: Status
    buckets: list[ServiceBucket]


class Histogram(BaseModel):
    """Counts of the baseline and of the period over the same bins."""

    labels: list[str]
    baseline: list[int]
    current: list[int]


class FeatureDrift(BaseModel):
    """One feature's drift over the period: ``driftScore`` is the whole period's, ``status``
    the worst of the whole period's and each hour's."""

    name: str
    featureType: str
    driftScore: float | None
    status: Status
    sampleSize: int
    baselineSampleSize: int
    missingCount: int
    histogram: Histogram | None
    peakDriftScore: float | None = Field(
        default=None, description="the largest score of the hours judged drifting"
    )
    driftingHours: int = Field(default=0, description="hours judged yellow or red")


class FeatureDriftResponse(BaseModel):
    """``GET .../featureDrift/``."""

    deploymentId: str
    modelId: str | None
    period: Period
    metric: str
    thresholds: dict[str, float]
    status: Status
    count: int
    data: list[FeatureDrift]


class DriftBucket(BaseModel):
    """A drift score in one bucket of the period."""

    period: Period
    driftScore: float | None
    sampleSize: int
    status: Status = "unknown"


class TargetDriftResponse(BaseModel):
    """``GET .../targetDrift/``: the predictions' distribution against the target's."""

    deploymentId: str
    modelId: str | None
    period: Period
    metric: str
    targetName: str | None
    driftScore: float | None
    status: Status
    sampleSize: int
    baselineSampleSize: int
    meanPrediction: float | None
    histogram: Histogram | None
    peakDriftScore: float | None = Field(
        default=None, description="the largest score of the hours judged drifting"
    )
    driftingHours: int = Field(default=0, description="hours judged yellow or red")
    buckets: list[DriftBucket]


class MetricValue(BaseModel):
    """An accuracy metric's value; the deployment's accuracy metric also carries its
    reference (``baselineValue``) and the relative change against it in percent."""

    value: float | None
    baselineValue: float | None = None
    percentChange: float | None = None


class AccuracyBucket(BaseModel):
    """Accuracy in one bucket of the period (by prediction time)."""

    period: Period
    sampleSize: int
    metrics: dict[str, float | None]
    status: Status = "unknown"


class AccuracyJudged(BaseModel):
    """The figures an accuracy status was judged on."""

    period: Period
    window: bool = Field(
        description="true: a window (pooled buckets or recent span) worse than the whole period"
    )
    sampleSize: int = Field(description="joined rows judged (0 when too few to judge)")
    value: float | None
    baselineValue: float | None
    percentChange: float | None


class AccuracyResponse(BaseModel):
    """``GET .../accuracy/``: predictions joined with actuals by association id."""

    deploymentId: str
    modelId: str | None
    period: Period
    targetType: str
    sampleSize: int
    predictionsWithoutActuals: int
    actualsWithoutPredictions: int
    metric: str | None = Field(default=None, description="the metric the status judges")
    status: Status = Field(
        default="unknown", description="worst of the whole period and of its buckets"
    )
    minRows: int = Field(
        default=100, description="joined rows a figure needs to be judged (accuracy_min_rows)"
    )
    judgedOn: AccuracyJudged | None = Field(
        default=None, description="the figures the status was judged on"
    )
    metrics: dict[str, MetricValue]
    buckets: list[AccuracyBucket]


class CustomMetricValue(BaseModel):
    """A custom metric over a period or bucket: ``value`` is the requested aggregation."""

    id: str
    value: float | None
    sum: float
    mean: float | None
    last: float | None
    count: int


class CustomMetricBucket(BaseModel):
    """A custom metric in one bucket."""

    period: Period
    value: float | None
    sum: float
    mean: float | None
    last: float | None
    count: int


class CustomMetricSummaryResponse(BaseModel):
    """``GET .../customMetrics/{metricId}/summary/``."""

    deploymentId: str
    modelId: str | None
    period: Period
    aggregation: Literal["sum", "mean", "last"]
    metric: CustomMetricValue
    buckets: list[CustomMetricBucket]


class EventItem(BaseModel):
    """A deployment event, as reported."""

    id: int
    timestamp: str
    at: datetime = Field(description="the event's time (a timestamp without offset is UTC)")
    eventType: str
    message: str
    orgId: str | None
    deploymentId: str | None
    data: dict[str, Any] | None


class EventList(BaseModel):
    """``GET .../events/``: newest first."""

    count: int
    data: list[EventItem]


class AgentState(BaseModel):
    """An agent's last heartbeat."""

    agentId: str
    receivedAt: datetime
    ageSeconds: float
    stale: bool
    state: Literal["running", "stopped", "silent"] = Field(
        default="running",
        description="stopped: its last heartbeat said so; silent: stale without saying so",
    )
    host: str | None
    runtime: str | None
    recordsPerSecond: float | None
    backlog: dict[str, int | None]
    errors: dict[str, int] | int | None
    details: dict[str, Any]


class FleetResponse(BaseModel):
    """``GET /api/v2/spoolwatch/agents/``."""

    count: int
    totalBacklog: int
    totalRecordsPerSecond: float
    data: list[AgentState]
