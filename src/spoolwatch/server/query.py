"""Deployment monitoring queries, modelled on DataRobot's endpoints so scripts carry over.

``GET /api/v2/deployments/{id}/serviceStats/``, ``featureDrift/`` and ``targetDrift/`` here;
``accuracy/``, ``customMetrics/{metricId}/summary/`` and ``events/`` in
:mod:`spoolwatch.server.outcomes`. Every query takes ``start``/``end`` (ISO 8601; default the
last 7 days; aligned to whole hours), ``modelId`` and, where there is a time series,
``bucketSize`` (``PT1H``, ``P1D``, ``P7D``; default hourly up to two days, else daily).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring.drift import DriftConfig, FeatureDrift
from spoolwatch.monitoring.health import ServiceHealth, ServiceHealthSummary
from spoolwatch.monitoring.histogram import DriftAggregate
from spoolwatch.monitoring.metrics import drift_metric
from spoolwatch.monitoring.status import DriftStatus, worst_status
from spoolwatch.monitoring.windows import WindowedDrift, drift_over_windows
from spoolwatch.server import schemas
from spoolwatch.server.auth import require_read
from spoolwatch.server.outcomes import accuracy_report
from spoolwatch.server.periods import QueryPeriod, resolve_period
from spoolwatch.server.query_params import (
    NOT_FOUND,
    Bucket,
    End,
    ModelId,
    Start,
    require_deployment,
)
from spoolwatch.server.settings import ServerSettings
from spoolwatch.store.aggregate_rows import StoredDrift, drift_row, service_health
from spoolwatch.store.base import Store
from spoolwatch.store.deployment import Deployment
from spoolwatch.store.hourly import drift_hours, service_hours

__all__ = [
    "deployment_health",
    "drift_report",
    "router",
    "service_stats",
    "service_status",
]

router = APIRouter(prefix="/api/v2", dependencies=[Depends(require_read)], tags=["monitoring"])


def service_status(summary: ServiceHealthSummary, settings: ServerSettings) -> DriftStatus:
    """Red/yellow when the share of failed requests reaches the settings' thresholds."""
    if not summary.requests:
        return DriftStatus.UNKNOWN
    rate = (summary.user_errors + summary.system_errors) / summary.requests
    if rate >= settings.error_rate_red:
        return DriftStatus.RED
    return DriftStatus.YELLOW if rate >= settings.error_rate_yellow else DriftStatus.GREEN


def _metrics(summary: ServiceHealthSummary) -> dict[str, Any]:
    return {
        "totalPredictions": summary.predictions,
        "totalRequests": summary.requests,
        "executionTime": summary.execution_time_mean,
        "executionTimeP50": summary.execution_time_p50,
        "executionTimeP90": summary.execution_time_p90,
        "userErrorRate": summary.user_error_rate,
        "serverErrorRate": summary.system_error_rate,
        "peakLoad": summary.peak_requests_per_minute,
    }


def service_stats(
    store: Store,
    deployment: Deployment,
    period: QueryPeriod,
    model_id: str | None,
    settings: ServerSettings,
) -> dict[str, Any]:
    """The ``serviceStats`` response (see :class:`schemas.ServiceStatsResponse`)."""
    rows = service_hours(store, deployment.id, period.start, period.end, model_id)
    total = ServiceHealth()
    buckets: dict[int, ServiceHealth] = {}
    for row in rows:
        health = service_health(row.health, _where(deployment, row))
        if health is None:  # beyond repair (logged): the other rows answer
            continue
        total = total.merge(health)
        key = period.bucket_of(row.hour)
        buckets[key] = buckets[key].merge(health) if key in buckets else health
    summary = total.summary()
    return {
        "deploymentId": deployment.id,
        "modelId": model_id,
        "period": period.period(),
        "metrics": _metrics(summary),
        "status": service_status(summary, settings).value,
        "buckets": [
            {
                "period": period.bucket_period(b),
                "metrics": _metrics((buckets.get(b) or ServiceHealth()).summary()),
            }
            for b in period.buckets()
        ],
    }


def _where(deployment: Deployment, row: Any) -> str:
    return f"deployment {deployment.id}, model {row.model_id}, hour {row.hour}"


def _drift_rows(
    store: Store, deployment: Deployment, period: QueryPeriod, model_id: str | None
) -> list[StoredDrift]:
    """The period's drift rows, parsed; rows beyond repair are left out (and logged)."""
    rows = drift_hours(store, deployment.id, period.start, period.end, model_id)
    read = (drift_row(row, _where(deployment, row)) for row in rows)
    return [row for row in read if row is not None]


def _config(metric: str) -> DriftConfig:
    try:
        drift_metric(metric)
        return DriftConfig(metric=metric)
    except ConfigError as exc:
        raise HTTPException(status_code=422, detail=f"metric: {exc}") from exc


def _histogram(drift: FeatureDrift) -> dict[str, Any]:
    return {
        "labels": drift.bin_labels,
        "baseline": drift.reference_counts,
        "current": drift.current_counts,
    }


def _feature(drift: FeatureDrift) -> dict[str, Any]:
    return {
        "name": drift.name,
        "featureType": drift.kind.value,
        "driftScore": drift.value,
        "status": drift.status.value,
        "sampleSize": drift.current_rows,
        "baselineSampleSize": drift.reference_rows,
        "missingCount": drift.current_counts[-1] if drift.current_counts else 0,
        "histogram": _histogram(drift),
    }


def _merged(rows: list[StoredDrift]) -> DriftAggregate:
    total = DriftAggregate()
    for row in rows:
        total = total.merge(row.aggregate)
    return total


def _grouped(rows: list[StoredDrift], key: Callable[[int], int]) -> list[DriftAggregate]:
    """The rows' aggregates merged per ``key(hour)``, in key order."""
    groups: dict[int, list[StoredDrift]] = {}
    for row in rows:
        groups.setdefault(key(row.hour), []).append(row)
    return [_merged(groups[k]) for k in sorted(groups)]


def _windowed(data: dict[str, Any], windowed: WindowedDrift) -> dict[str, Any]:
    return {**data, "peakDriftScore": windowed.peak, "driftingHours": windowed.drifting_windows}


def drift_report(
    store: Store, deployment: Deployment, period: QueryPeriod, model_id: str | None, metric: str
) -> dict[str, Any]:
    """The ``featureDrift`` response (see :class:`schemas.FeatureDriftResponse`).

    A feature's status is the worst of the whole period's and of each hour's (see
    :mod:`spoolwatch.monitoring.windows`); ``driftScore`` is the whole period's.
    """
    config = _config(metric)
    thresholds = config.thresholds_for("").to_dict()
    data: list[dict[str, Any]] = []
    status = DriftStatus.UNKNOWN
    if deployment.baseline is not None:
        rows = _drift_rows(store, deployment, period, model_id)
        total = _merged(rows)
        hours = _grouped(rows, lambda hour: hour)
        statuses = []
        for name, feature in deployment.baseline.features.items():
            windowed = drift_over_windows(
                feature, total.features.get(name), [h.features.get(name) for h in hours], config
            )
            data.append(_windowed(_feature(windowed.drift), windowed))
            statuses.append(windowed.drift.status)
        status = worst_status(statuses)
    return {
        "deploymentId": deployment.id,
        "modelId": model_id,
        "period": period.period(),
        "metric": config.metric,
        "thresholds": thresholds,
        "status": status.value,
        "count": len(data),
        "data": data,
    }


def target_drift(
    store: Store, deployment: Deployment, period: QueryPeriod, model_id: str | None, metric: str
) -> dict[str, Any]:
    """The ``targetDrift`` response (see :class:`schemas.TargetDriftResponse`); the status is
    the worst of the whole period's and each hour's, each bucket has its own."""
    config = _config(metric)
    rows = _drift_rows(store, deployment, period, model_id)
    target = deployment.baseline.target if deployment.baseline is not None else None
    count = sum(r.prediction_rows for r in rows)
    mean = (
        sum(r.prediction_sum for r in rows) / count
        if count and deployment.target_type != "multiclass"
        else None
    )
    result: dict[str, Any] = {
        "deploymentId": deployment.id,
        "modelId": model_id,
        "period": period.period(),
        "metric": config.metric,
        "targetName": deployment.target_name,
        "driftScore": None,
        "status": DriftStatus.UNKNOWN.value,
        "sampleSize": count,
        "baselineSampleSize": 0,
        "meanPrediction": mean,
        "histogram": None,
        "peakDriftScore": None,
        "driftingHours": 0,
        "buckets": [],
    }
    if target is None:
        return result
    total = _merged(rows).target
    hours = [h.target for h in _grouped(rows, lambda hour: hour)]
    windowed = drift_over_windows(target, total, hours, config)
    drift = windowed.drift
    result.update(
        _windowed({}, windowed),
        driftScore=drift.value,
        status=drift.status.value,
        sampleSize=drift.current_rows,
        baselineSampleSize=drift.reference_rows,
        histogram=_histogram(drift),
    )
    starts = list(period.buckets())
    grouped: dict[int, list[StoredDrift]] = {}
    for row in rows:
        grouped.setdefault(period.bucket_of(row.hour), []).append(row)
    in_buckets = [_merged(grouped.get(start, [])).target for start in starts]
    buckets = drift_over_windows(target, total, in_buckets, config)
    result["buckets"] = [
        {
            "period": period.bucket_period(start),
            "driftScore": one.value,
            "sampleSize": one.current_rows,
            "status": one.status.value,
        }
        for start, one in zip(starts, buckets.windows, strict=True)
    ]
    return result


def deployment_health(
    store: Store, deployment: Deployment, settings: ServerSettings, *, now: float | None = None
) -> dict[str, Any]:
    """``serviceHealth``/``modelHealth``/``accuracyHealth`` over the last day."""
    period = resolve_period(None, None, "P1D", default_span=24 * 3600, now=now)
    service = service_stats(store, deployment, period, None, settings)
    drift = drift_report(store, deployment, period, None, settings.drift_metric)
    target = target_drift(store, deployment, period, None, settings.drift_metric)
    model_status = worst_status([DriftStatus(drift["status"]), DriftStatus(target["status"])])
    # Hourly buckets: an hour of bad accuracy must not hide in a day of good accuracy.
    hourly = resolve_period(None, None, "PT1H", default_span=24 * 3600, now=now)
    accuracy = accuracy_report(store, deployment, hourly, None, settings)
    return {
        "serviceHealth": {
            "status": service["status"],
            "message": f"{service['metrics']['totalRequests']} requests",
        },
        "modelHealth": {
            "status": model_status.value,
            "message": f"{target['sampleSize']} predictions",
        },
        "accuracyHealth": {
            "status": accuracy["status"],
            "message": _accuracy_message(accuracy),
        },
    }


def _accuracy_message(report: dict[str, Any]) -> str:
    """``"1200 predictions with actuals; accuracy 0.79 (reference 0.84, -5.1%); worse in 3 of
    24 hours, at worst 0.64"`` (the hours judged yellow or red); a figure that is unknown
    (or not finite: absurd actuals can make an error metric overflow) is left out."""
    text = f"{report['sampleSize']} predictions with actuals"
    name = report.get("metric")
    shown = report["metrics"].get(name) if name else None
    if not shown or not _finite(shown.get("value")):
        return text
    text += f"; {name} {shown['value']:.3g}"
    if _finite(shown.get("baselineValue")):
        text += f" (reference {shown['baselineValue']:.3g}"
        if _finite(shown.get("percentChange")):
            text += f", {shown['percentChange']:+.1f}%"
        text += ")"
    worse = [b["metrics"].get(name) for b in report["buckets"] if b["status"] in _WARNING]
    values = [v for v in worse if _finite(v)]
    if values:
        extreme = min(values) if name == "accuracy" else max(values)
        text += (
            f"; worse in {len(values)} of {len(report['buckets'])} hours, at worst {extreme:.3g}"
        )
    return text


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


_WARNING = ("yellow", "red")


@router.get(
    "/deployments/{deployment_id}/serviceStats/",
    response_model=schemas.ServiceStatsResponse,
    responses=NOT_FOUND,
)
def get_service_stats(
    request: Request,
    deployment_id: str,
    start: Start = None,
    end: End = None,
    model_id: ModelId = None,
    bucket_size: Bucket = None,
) -> dict[str, Any]:
    """Predictions, requests, execution time and error rates over the period."""
    deployment = require_deployment(request, deployment_id)
    period = resolve_period(start, end, bucket_size)
    return service_stats(
        request.app.state.store, deployment, period, model_id, request.app.state.settings
    )


@router.get(
    "/deployments/{deployment_id}/featureDrift/",
    response_model=schemas.FeatureDriftResponse,
    responses=NOT_FOUND,
)
def get_feature_drift(
    request: Request,
    deployment_id: str,
    start: Start = None,
    end: End = None,
    model_id: ModelId = None,
    metric: Annotated[str | None, Query(description="psi, jensen_shannon or wasserstein")] = None,
) -> dict[str, Any]:
    """Drift of every baseline feature, with the baseline and current histograms."""
    deployment = require_deployment(request, deployment_id)
    period = resolve_period(start, end)
    return drift_report(
        request.app.state.store,
        deployment,
        period,
        model_id,
        metric or request.app.state.settings.drift_metric,
    )


@router.get(
    "/deployments/{deployment_id}/targetDrift/",
    response_model=schemas.TargetDriftResponse,
    responses=NOT_FOUND,
)
def get_target_drift(
    request: Request,
    deployment_id: str,
    start: Start = None,
    end: End = None,
    model_id: ModelId = None,
    bucket_size: Bucket = None,
    metric: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """Drift of the predictions against the training target's distribution."""
    deployment = require_deployment(request, deployment_id)
    period = resolve_period(start, end, bucket_size)
    return target_drift(
        request.app.state.store,
        deployment,
        period,
        model_id,
        metric or request.app.state.settings.drift_metric,
    )
