"""Folding ingested bodies into the hourly aggregates, inside the caller's transaction.

Every function takes the JSON items of one ingestion request (already validated), groups
them by model and hour, and merges them into one row per (deployment, model, hour): simple
sums with an SQL upsert, aggregate objects with a read-merge-upsert (the caller holds the
deployment's write lock, :meth:`Store.lock_deployment`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection, Table, and_, case, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring.baseline import Baseline
from spoolwatch.monitoring.custom import CustomMetricAggregate
from spoolwatch.monitoring.health import ServiceHealth
from spoolwatch.monitoring.histogram import DriftAggregate, merge_counts
from spoolwatch.monitoring.prediction import class_counts_from_mass, prediction_values
from spoolwatch.records.timestamps import parse_timestamp
from spoolwatch.store import schema
from spoolwatch.store.deployments import Deployment
from spoolwatch.store.drift_columns import PendingColumns

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


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    add: Iterable[str] = (),
    replace: Iterable[str] = (),
) -> None:
    """Insert ``rows``; on a primary-key conflict add the ``add`` columns and overwrite the
    ``replace`` columns (one executemany statement, SQLite and PostgreSQL alike)."""
    if not rows:
        return
    stmt = _upsert_statement(conn.dialect.name, table, tuple(add), tuple(replace))
    conn.execute(stmt, list(rows))


@functools.lru_cache(maxsize=64)
def _upsert_statement(
    dialect_name: str, table: Table, add: tuple[str, ...], replace: tuple[str, ...]
) -> Any:
    # Statements are immutable; building one per request costs more than folding 100 rows.
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    keys = [c.name for c in table.primary_key.columns]
    updates: dict[str, Any] = {c: table.c[c] + stmt.excluded[c] for c in add}
    updates.update({c: stmt.excluded[c] for c in replace})
    return stmt.on_conflict_do_update(index_elements=keys, set_=updates)


def _existing(
    conn: Connection, table: Table, deployment_id: str, keys: Iterable[tuple[str, int]], column: str
) -> dict[tuple[str, int], Any]:
    keys = list(keys)
    rows = conn.execute(
        select(table.c.model_id, table.c.hour, table.c[column]).where(
            and_(
                table.c.deployment_id == deployment_id,
                tuple_(table.c.model_id, table.c.hour).in_(keys),
            )
        )
    ).all()
    return {(r[0], r[1]): r[2] for r in rows}


def fold_service_stats(
    conn: Connection, deployment: Deployment, items: Sequence[Mapping[str, Any]]
) -> int:
    """Fold ``predictionRequests`` items (one per request); return the request count."""
    groups: dict[tuple[str, int], ServiceHealth] = {}
    cache: dict[str, int] = {}
    for item in items:
        key = (item.get("modelId") or deployment.model_id, hour_of(item["timestamp"], cache))
        health = groups.setdefault(key, ServiceHealth())
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
            health = ServiceHealth.from_dict(orjson.loads(stored[(model_id, hour)])).merge(health)
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


class _DriftGroup:
    __slots__ = ("aggregate", "columns", "prediction_rows", "prediction_sum", "rows")

    def __init__(self) -> None:
        self.aggregate = DriftAggregate()
        self.columns = PendingColumns(self.aggregate)  # binned together by _store_drift
        self.rows = 0
        self.prediction_rows = 0
        self.prediction_sum = 0.0


def _target_counts(
    baseline: Baseline, predictions: list[Any], class_names: Sequence[str] | None
) -> tuple[np.ndarray[Any, Any] | None, float]:
    """Counts over the target baseline and the sum of the monitored numeric value."""
    try:
        _, monitored = prediction_values(predictions, class_names or None)
    except (ConfigError, ValueError, TypeError):  # text or ragged predictions
        return None, 0.0
    total = float(np.nansum(monitored)) if monitored.dtype.kind == "f" else 0.0
    target = baseline.target
    if target is None:
        return None, total
    if target.kind.value == "categorical":
        # Classification baselines hold class labels: count the rows each class is expected
        # to have, the sums of its probabilities (see class_counts_from_mass for why not argmax).
        probabilities = np.asarray(predictions, dtype=np.float64)
        if probabilities.ndim != 2:
            return None, total
        names = list(class_names or baseline.class_names)
        if len(names) != probabilities.shape[1]:
            return None, total
        try:
            counts = class_counts_from_mass(probabilities.sum(axis=0), probabilities.shape[0])
        except ConfigError:  # negative or non-finite probabilities
            return None, total
        return target.bin_counts(np.repeat(np.asarray(names, dtype=object), counts)), total
    return target.bin_counts(monitored), total


def _add_features(
    group: _DriftGroup, baseline: Baseline, features: list[Mapping[str, Any]], where: str
) -> None:
    for index, column in enumerate(features):
        feature = baseline.features.get(column["name"])
        if feature is not None:  # a feature the training data lacks is not monitored
            group.columns.add(feature, column["values"], f"{where}.features.{index}.values")


def _fold_drift_item(
    group: _DriftGroup, deployment: Deployment, item: Mapping[str, Any], where: str
) -> int:
    columns = item.get("features") or []
    predictions = item.get("predictions")
    rows = len(columns[0]["values"]) if columns else len(predictions or ())
    group.rows += rows
    baseline = deployment.baseline
    if baseline is not None and columns:
        _add_features(group, baseline, columns, where)
    if predictions:
        group.prediction_rows += len(predictions)
        counts, total = _target_counts(
            baseline or Baseline({}),
            predictions,
            item.get("classNames") or deployment.class_names or None,
        )
        group.prediction_sum += total
        if counts is not None:
            current = group.aggregate.target
            group.aggregate.target = counts if current is None else merge_counts(current, counts)
    return rows


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
    groups: dict[tuple[str, int], _DriftGroup] = {}
    total_rows = 0
    accuracy: list[dict[str, Any]] = []
    for position, item in enumerate(items):
        key = (item.get("modelId") or deployment.model_id, hour_of(item["timestamp"], cache))
        if skip_drift:
            features = item.get("features") or ()
            total_rows += (
                len(features[0]["values"]) if features else len(item.get("predictions") or ())
            )
        else:
            group = groups.setdefault(key, _DriftGroup())
            total_rows += _fold_drift_item(group, deployment, item, f"data.{position}")
        if not skip_accuracy and item.get("associationIds") and item.get("predictions"):
            accuracy.extend(_accuracy_rows(deployment, key, item))
    _store_drift(conn, deployment.id, groups)
    upsert(conn, schema.accuracy_rows, accuracy, replace=("model_id", "predicted_at", "prediction"))
    return total_rows


def _accuracy_rows(
    deployment: Deployment, key: tuple[str, int], item: Mapping[str, Any]
) -> list[dict[str, Any]]:
    model_id, _hour = key
    at = int(epoch_of(item["timestamp"]))
    names = item.get("classNames")
    predictions = item["predictions"]
    if names and deployment.class_names and list(names) != list(deployment.class_names):
        # Store probabilities in the deployment's class order so rows compare.
        order = [names.index(c) if c in names else None for c in deployment.class_names]
        predictions = [[row[i] if i is not None else 0.0 for i in order] for row in predictions]
    return [
        {
            "deployment_id": deployment.id,
            "association_id": str(association_id),
            "model_id": model_id,
            "predicted_at": at,
            "prediction": orjson.dumps(prediction).decode(),
        }
        for association_id, prediction in zip(item["associationIds"], predictions, strict=True)
    ]


def _store_drift(
    conn: Connection, deployment_id: str, groups: dict[tuple[str, int], _DriftGroup]
) -> None:
    if not groups:
        return
    for group in groups.values():
        group.columns.flush()
    t = schema.drift_hourly
    found = conn.execute(
        select(t).where(
            and_(
                t.c.deployment_id == deployment_id, tuple_(t.c.model_id, t.c.hour).in_(list(groups))
            )
        )
    ).all()
    old_rows = {(r.model_id, r.hour): r for r in found}
    rows = []
    for (model_id, hour), group in groups.items():
        aggregate = group.aggregate
        n, pn, ps = group.rows, group.prediction_rows, group.prediction_sum
        old = old_rows.get((model_id, hour))
        if old is not None:
            aggregate = DriftAggregate.from_dict(orjson.loads(old.aggregate)).merge(aggregate)
            n, pn, ps = n + old.rows, pn + old.prediction_rows, ps + old.prediction_sum
        rows.append(
            {
                "deployment_id": deployment_id,
                "model_id": model_id,
                "hour": hour,
                "rows": n,
                "prediction_rows": pn,
                "prediction_sum": ps,
                "aggregate": orjson.dumps(aggregate.to_dict()).decode(),
            }
        )
    upsert(
        conn,
        schema.drift_hourly,
        rows,
        replace=("rows", "prediction_rows", "prediction_sum", "aggregate"),
    )


def fold_actuals(
    conn: Connection, deployment: Deployment, items: Sequence[Mapping[str, Any]]
) -> int:
    """Store actuals by association id (joined with predictions whichever came first)."""
    rows = []
    for item in items:
        timestamp = item.get("timestamp")
        try:
            at = int(epoch_of(timestamp)) if isinstance(timestamp, str) else None
        except ValueError:
            at = None
        rows.append(
            {
                "deployment_id": deployment.id,
                "association_id": str(item["associationId"]),
                "actual": orjson.dumps(item["actualValue"]).decode(),
                "actual_at": at,
                "was_acted_on": item.get("wasActedOn"),
            }
        )
    upsert(conn, schema.accuracy_rows, rows, replace=("actual", "actual_at", "was_acted_on"))
    return len(rows)


def fold_custom_metric(
    conn: Connection,
    deployment: Deployment,
    metric_id: str,
    model_id: str | None,
    buckets: Sequence[Mapping[str, Any]],
) -> int:
    """Fold custom-metric values into count/sum/last per hour; return the value count."""
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
