"""Accuracy (predictions joined with actuals), custom metrics and events queries."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring.accuracy import binary_metrics, multiclass_metrics, regression_metrics
from spoolwatch.monitoring.accuracy_aggregate import AccuracyAggregate
from spoolwatch.monitoring.accuracy_health import AccuracyJudgement
from spoolwatch.monitoring.custom import CustomMetricAggregate
from spoolwatch.server import schemas
from spoolwatch.server.accuracy_status import judge_aggregates
from spoolwatch.server.auth import require_read
from spoolwatch.server.periods import QueryPeriod, resolve_period, to_datetime
from spoolwatch.server.query_params import (
    NOT_FOUND,
    Bucket,
    End,
    ModelId,
    Start,
    require_deployment,
)
from spoolwatch.server.settings import ServerSettings
from spoolwatch.store.accuracy import JoinedRows
from spoolwatch.store.accuracy_reads import accuracy_hours
from spoolwatch.store.aggregate_rows import custom_metric
from spoolwatch.store.base import Store
from spoolwatch.store.deployment import Deployment
from spoolwatch.store.events import events_page
from spoolwatch.store.hourly import custom_metric_hours

__all__ = [
    "accuracy_report",
    "compute_accuracy",
    "custom_metric_summary",
    "list_events",
    "router",
]

router = APIRouter(prefix="/api/v2", dependencies=[Depends(require_read)], tags=["monitoring"])

_DROP = {"count", "positives"}


def _aggregates(
    store: Store, deployment: Deployment, period: QueryPeriod, model_id: str | None
) -> tuple[list[tuple[int, AccuracyAggregate]], int]:
    return accuracy_hours(store, deployment, period.start, period.end, model_id)


def compute_accuracy(deployment: Deployment, rows: JoinedRows) -> tuple[int, dict[str, Any]]:
    """Sample size and metrics (``{name: value}``) of joined rows, row by row (the exact
    answer the aggregates are tested against; the endpoint reads the aggregates)."""
    if deployment.target_type != "regression" and not deployment.class_names:
        # Created without class names: no prediction can be matched to a class.
        return len(rows), {}
    try:
        if deployment.target_type == "regression":
            result: Any = regression_metrics(rows.actuals, rows.predictions)
        elif deployment.target_type == "binary":
            result = binary_metrics(
                rows.actuals, rows.predictions, positive_label=deployment.class_names[1]
            )
        else:
            result = multiclass_metrics(rows.actuals, rows.predictions, deployment.class_names)
    except ConfigError:  # e.g. probabilities outside [0, 1]
        return len(rows), {}
    values = {k: v for k, v in result.to_dict().items() if k not in _DROP}
    return len(rows), values


def accuracy_report(
    store: Store,
    deployment: Deployment,
    period: QueryPeriod,
    model_id: str | None,
    settings: ServerSettings | None = None,
) -> dict[str, Any]:
    """The ``accuracy`` response (see :class:`schemas.AccuracyResponse`).

    ``status`` judges the deployment's accuracy metric against its reference (see
    :mod:`spoolwatch.server.accuracy_status`): the worst of the whole period and its buckets.
    Everything is read from the hourly aggregates (:mod:`spoolwatch.store.accuracy_folding`),
    so the cost follows the hours of the period, not the rows stored.
    """
    settings = settings or ServerSettings()
    hours, orphans = _aggregates(store, deployment, period, model_id)
    starts = list(period.buckets())
    empty = AccuracyAggregate(deployment.target_type, len(deployment.class_names))
    grouped: dict[int, AccuracyAggregate] = {}
    for hour, agg in hours:
        key = period.bucket_of(hour)
        grouped[key] = grouped[key].merged(agg) if key in grouped else agg
    total = AccuracyAggregate.total(deployment.target_type, empty.classes, grouped.values())
    by_bucket = [grouped.get(start, empty) for start in starts]
    metrics = total.metrics()
    judged = judge_aggregates(store, deployment, settings, total, by_bucket)
    buckets = []
    for index, start in enumerate(starts):
        status = judged[1][index].status.value if judged else "unknown"
        buckets.append(
            {
                "period": period.bucket_period(start),
                "sampleSize": by_bucket[index].count,
                "metrics": by_bucket[index].metrics(),
                "status": status,
            }
        )
    shown = {k: {"value": v} for k, v in metrics.items()}
    if judged is not None and judged[0].metric in shown:
        shown[judged[0].metric].update(
            baselineValue=judged[0].baseline_value, percentChange=judged[0].percent_change
        )
    return {
        "deploymentId": deployment.id,
        "modelId": model_id,
        "period": period.period(),
        "targetType": deployment.target_type,
        "sampleSize": total.count,
        "predictionsWithoutActuals": total.predicted - total.actualized,
        "actualsWithoutPredictions": orphans,
        "metric": judged[0].metric if judged else None,
        "status": judged[0].status.value if judged else "unknown",
        "minRows": settings.accuracy_min_rows,
        "judgedOn": _judged_on(period, starts, *judged) if judged else None,
        "metrics": shown,
        "buckets": buckets,
    }


def _judged_on(
    period: QueryPeriod,
    starts: list[int],
    whole: AccuracyJudgement,
    windows: list[AccuracyJudgement],
) -> dict[str, Any]:
    """The figures the status was judged on: the whole period's, or the window's (pooled
    buckets or a recent span) whose status is worse than the period's own."""
    one, span = whole, period.period()
    if whole.decided_by:
        first, last = whole.decided_by[0], whole.decided_by[-1]
        one = windows[first]
        span = period.period(starts[first], min(starts[last] + period.bucket, period.end))
    return {
        "period": span,
        "window": bool(whole.decided_by),
        "sampleSize": one.count,
        "value": one.value,
        "baselineValue": one.baseline_value,
        "percentChange": one.percent_change,
    }


Aggregation = Literal["sum", "mean", "last"]


def _metric_value(metric_id: str, agg: CustomMetricAggregate, how: Aggregation) -> dict[str, Any]:
    value = {"sum": agg.total if agg.count else None, "mean": agg.mean, "last": agg.last_value}[how]
    return {
        "id": metric_id,
        "value": value,
        "sum": agg.total,
        "mean": agg.mean,
        "last": agg.last_value,
        "count": agg.count,
    }


def custom_metric_summary(
    store: Store,
    deployment: Deployment,
    metric_id: str,
    period: QueryPeriod,
    model_id: str | None,
    aggregation: Aggregation,
) -> dict[str, Any]:
    """The ``customMetrics/{id}/summary`` response."""
    rows = custom_metric_hours(store, deployment.id, metric_id, period.start, period.end, model_id)
    total = CustomMetricAggregate()
    buckets: dict[int, CustomMetricAggregate] = {}
    for row in rows:
        where = f"deployment {deployment.id}, metric {metric_id}, hour {row.hour}"
        one = custom_metric(row, where)
        if one is None:  # beyond the bounds (logged): the other rows answer
            continue
        total = total.merge(one)
        key = period.bucket_of(row.hour)
        buckets[key] = buckets[key].merge(one) if key in buckets else one
    series = []
    for start in period.buckets():
        value = _metric_value(metric_id, buckets.get(start) or CustomMetricAggregate(), aggregation)
        value.pop("id")
        series.append({"period": period.bucket_period(start), **value})
    return {
        "deploymentId": deployment.id,
        "modelId": model_id,
        "period": period.period(),
        "aggregation": aggregation,
        "metric": _metric_value(metric_id, total, aggregation),
        "buckets": series,
    }


def list_events(
    store: Store,
    deployment: Deployment,
    period: QueryPeriod,
    event_type: str | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """Events of the deployment in the period, newest first."""
    count, rows = events_page(
        store, deployment.id, period.start, period.end, event_type, limit, offset
    )
    data = [
        {
            "id": r.id,
            "timestamp": r.timestamp,
            "at": to_datetime(r.at),
            "eventType": r.event_type,
            "message": r.message,
            "orgId": r.org_id,
            "deploymentId": r.deployment_id,
            "data": orjson.loads(r.data) if r.data else None,
        }
        for r in rows
    ]
    return {"count": int(count), "data": data}


@router.get(
    "/deployments/{deployment_id}/accuracy/",
    response_model=schemas.AccuracyResponse,
    responses=NOT_FOUND,
)
def get_accuracy(
    request: Request,
    deployment_id: str,
    start: Start = None,
    end: End = None,
    model_id: ModelId = None,
    bucket_size: Bucket = None,
) -> dict[str, Any]:
    """Accuracy of predictions (by prediction time) whose actuals have arrived."""
    deployment = require_deployment(request, deployment_id)
    period = resolve_period(start, end, bucket_size)
    return accuracy_report(
        request.app.state.store, deployment, period, model_id, request.app.state.settings
    )


@router.get(
    "/deployments/{deployment_id}/customMetrics/{metric_id}/summary/",
    response_model=schemas.CustomMetricSummaryResponse,
    responses=NOT_FOUND,
)
def get_custom_metric(
    request: Request,
    deployment_id: str,
    metric_id: str,
    start: Start = None,
    end: End = None,
    model_id: ModelId = None,
    bucket_size: Bucket = None,
    aggregation: Aggregation = "mean",
) -> dict[str, Any]:
    """A custom metric's count, sum, mean and last value over the period and per bucket."""
    deployment = require_deployment(request, deployment_id)
    period = resolve_period(start, end, bucket_size)
    return custom_metric_summary(
        request.app.state.store, deployment, metric_id, period, model_id, aggregation
    )


@router.get(
    "/deployments/{deployment_id}/events/", response_model=schemas.EventList, responses=NOT_FOUND
)
def get_events(
    request: Request,
    deployment_id: str,
    start: Start = None,
    end: End = None,
    event_type: Annotated[str | None, Query(alias="eventType")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    # Bounded so the database's 64-bit OFFSET cannot overflow.
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> dict[str, Any]:
    """Events reported for the deployment, newest first."""
    deployment = require_deployment(request, deployment_id)
    period = resolve_period(start, end)
    return list_events(request.app.state.store, deployment, period, event_type, limit, offset)
