"""Folding ingested bodies into the hourly aggregates, inside the caller's transaction.

Every function takes the JSON items of one ingestion request (already validated), groups
them by model and hour, and merges them into one row per (deployment, model, hour): simple
sums with an SQL upsert, aggregate objects with a read-merge-upsert (the caller holds the
deployment's write lock, :meth:`Store.lock_deployment`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Table, and_, case, or_
from sqlalchemy.dialects import postgresql, sqlite

from spoolwatch.errors import InvalidRecord
from spoolwatch.monitoring.custom import CustomMetricAggregate
from spoolwatch.monitoring.health import ServiceHealth
from spoolwatch.records.bounds import aggregate_count_problem
from spoolwatch.records.timestamps import parse_timestamp
from spoolwatch.store import schema
from spoolwatch.store.accuracy_columns import PredictionRow, prediction_rows
from spoolwatch.store.accuracy_folding import write_actuals, write_predictions
from spoolwatch.store.aggregate_rows import service_health
from spoolwatch.store.deployment import Deployment
from spoolwatch.store.drift_folding import DriftFold
from spoolwatch.store.sql import hourly_rows
from spoolwatch.store.upsert import upsert

__all__ = [
    "fold_actuals",
    "fold_custom_metric",
    "fold_prediction_inputs",
    "fold_service_stats",
    "hour_of",
    "insert_event",
    "upsert",
]

logger = logging.getLogger(__name__)

HOUR = 3600


def hour_of(timestamp: str, cache: dict[str, int] | None = None) -> int:
    """The start of the timestamp's hour in Unix seconds (naive timestamps read as UTC)."""
    if cache is not None and timestamp in cache:
        return cache[timestamp]
    hour = int(parse_timestamp(timestamp).timestamp()) // HOUR * HOUR
    if cache is not None:
        cache[timestamp] = hour
    return hour


def epoch_of(timestamp: str) -> float:
    """Unix seconds of a record timestamp."""
    return parse_timestamp(timestamp).timestamp()


def _existing(
    conn: Connection, table: Table, deployment_id: str, keys: Iterable[tuple[str, int]], column: str
) -> dict[tuple[str, int], Any]:
    found = hourly_rows(conn, table.name, column, deployment_id, keys)
    return {key: row[2] for key, row in found.items()}


def fold_service_stats(
    conn: Connection, deployment: Deployment, items: Sequence[Mapping[str, Any]]
) -> int:
    """Fold ``predictionRequests`` items (one per request); return the request count.

    Validation kept every execution time within 0..1e12 ms, so an hour's sum of at most
    2**63 - 1 of them stays finite; the counts are exact integers, and a request that would
    take an hour's total past what the store holds (2**63 - 1) is refused, naming the first
    of its items in that hour. A stored row that cannot be read is replaced (see
    :mod:`spoolwatch.store.aggregate_rows`).
    """
    groups: dict[tuple[str, int], ServiceHealth] = {}
    first: dict[tuple[str, int], int] = {}
    cache: dict[str, int] = {}
    for position, item in enumerate(items):
        key = (item.get("modelId") or deployment.model_id, hour_of(item["timestamp"], cache))
        health = groups.get(key)
        if health is None:
            health = groups[key] = ServiceHealth()
            first[key] = position
        health.add_request(
            num_predictions=int(item["numPredictions"]),
            execution_time_ms=float(item["executionTime"]),
            timestamp=epoch_of(item["timestamp"]),
            user_error=bool(item.get("userError", False)),
            system_error=bool(item.get("systemError", False)),
        )
    stored = _existing(conn, schema.service_hourly, deployment.id, groups, "health")
    rows = []
    for (model_id, hour), health in groups.items():
        if (model_id, hour) in stored:
            where = f"deployment {deployment.id}, model {model_id}, hour {hour}"
            old = service_health(stored[(model_id, hour)], where)
            health = health if old is None else old.merge(health)
        problem = aggregate_count_problem(max(health.predictions, health.requests))
        if problem is not None:
            field = f"data.{first[(model_id, hour)]}.numPredictions"
            raise InvalidRecord(f"{field}: {problem}", field=field)
        rows.append(
            {
                "deployment_id": deployment.id,
                "model_id": model_id,
                "hour": hour,
                "requests": health.requests,
                "predictions": health.predictions,
                "health": orjson.dumps(health.to_dict()).decode(),
            }
        )
    upsert(conn, schema.service_hourly, rows, replace=("requests", "predictions", "health"))
    return len(items)


def fold_prediction_inputs(
    conn: Connection,
    deployment: Deployment,
    items: Sequence[Mapping[str, Any]],
    *,
    skip_drift: bool = False,
    skip_accuracy: bool = False,
) -> int:
    """Fold ``predictionInputs`` items: drift histograms and accuracy rows; return rows."""
    cache: dict[str, int] = {}
    drift = DriftFold(deployment)
    total_rows = 0
    accuracy: list[PredictionRow] = []
    seconds: dict[str, int] = {}
    for position, item in enumerate(items):
        key = (item.get("modelId") or deployment.model_id, hour_of(item["timestamp"], cache))
        if skip_drift:
            features = item.get("features") or ()
            total_rows += (
                len(features[0]["values"]) if features else len(item.get("predictions") or ())
            )
        else:
            total_rows += drift.add(key, item, f"data.{position}")
        if not skip_accuracy and item.get("associationIds") and item.get("predictions"):
            stamp = item["timestamp"]
            at = seconds.get(stamp)
            if at is None:
                at = seconds[stamp] = int(epoch_of(stamp))
            accuracy.extend(prediction_rows(deployment, key[0], at, item))
    drift.store(conn)
    write_predictions(conn, deployment, accuracy)
    return total_rows


def fold_actuals(
    conn: Connection, deployment: Deployment, items: Sequence[Mapping[str, Any]]
) -> int:
    """Store actuals by association id (joined with predictions whichever came first) and
    fold the pairs they complete or correct into the accuracy aggregates."""
    return write_actuals(conn, deployment, items)


def fold_custom_metric(
    conn: Connection,
    deployment: Deployment,
    metric_id: str,
    model_id: str | None,
    buckets: Sequence[Mapping[str, Any]],
) -> int:
    """Fold custom-metric values into count/sum/last per hour; return the value count.

    The sums are added by the database. Validation kept every value within ±1e289, so no
    sum of them (an hour holds fewer than 2**63) can leave the finite range.
    """
    groups: dict[int, CustomMetricAggregate] = {}
    cache: dict[str, int] = {}
    for bucket in buckets:
        hour = hour_of(bucket["timestamp"], cache)
        groups.setdefault(hour, CustomMetricAggregate()).add(
            float(bucket["value"]), epoch_of(bucket["timestamp"])
        )
    table = schema.custom_metric_hourly
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    # The same order as CustomMetricAggregate: later timestamp wins, then the larger value.
    newer = or_(
        stmt.excluded.last_at > table.c.last_at,
        and_(
            stmt.excluded.last_at == table.c.last_at, stmt.excluded.last_value > table.c.last_value
        ),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[c.name for c in table.primary_key.columns],
        set_={
            "count": table.c["count"] + stmt.excluded["count"],
            "value_sum": table.c.value_sum + stmt.excluded.value_sum,
            "last_value": case((newer, stmt.excluded.last_value), else_=table.c.last_value),
            "last_at": case((newer, stmt.excluded.last_at), else_=table.c.last_at),
        },
    )
    rows = [
        {
            "deployment_id": deployment.id,
            "metric_id": metric_id,
            "model_id": model_id or "",
            "hour": hour,
            "count": agg.count,
            "value_sum": agg.total,
            "last_value": agg.last_value,
            "last_at": agg.last_timestamp,
        }
        for hour, agg in groups.items()
    ]
    conn.execute(stmt, rows)
    return len(buckets)


def insert_event(conn: Connection, event: Mapping[str, Any]) -> None:
    """Store one event as reported."""
    timestamp = str(event["timestamp"])
    conn.execute(
        schema.events.insert().values(
            deployment_id=event.get("deploymentId"),
            at=epoch_of(timestamp),
            timestamp=timestamp,
            event_type=str(event["eventType"]),
            message=str(event.get("message") or ""),
            org_id=event.get("orgId"),
            data=orjson.dumps(event["data"]).decode() if event.get("data") is not None else None,
        )
    )
