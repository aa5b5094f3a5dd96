"""A deployment's hourly aggregates over a period: the rows the queries and ``/metrics`` read.

Periods are Unix seconds, ``start`` included and ``end`` excluded, on hour boundaries. Rows
are returned as stored; :mod:`spoolwatch.store.aggregate_rows` reads what they hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, func, select

from spoolwatch.monitoring.health import ServiceHealth
from spoolwatch.store import schema
from spoolwatch.store.aggregate_rows import service_health
from spoolwatch.store.base import Store

__all__ = [
    "custom_metric_hours",
    "custom_metric_totals",
    "drift_hours",
    "service_health_in_hour",
    "service_hours",
]


def _hours(
    conn: Connection,
    table: Table,
    deployment_id: str,
    start: int,
    end: int,
    model_id: str | None = None,
    **equal: Any,
) -> list[Any]:
    query = select(table).where(
        table.c.deployment_id == deployment_id,
        table.c.hour >= start,
        table.c.hour < end,
    )
    if model_id is not None:
        query = query.where(table.c.model_id == model_id)
    for column, value in equal.items():
        query = query.where(table.c[column] == value)
    return list(conn.execute(query.order_by(table.c.hour)).all())


def service_hours(
    store: Store, deployment_id: str, start: int, end: int, model_id: str | None = None
) -> list[Any]:
    """The deployment's ``service_hourly`` rows in the period (of one model), by hour."""
    with store.read() as conn:
        return _hours(conn, schema.service_hourly, deployment_id, start, end, model_id)


def drift_hours(
    store: Store, deployment_id: str, start: int, end: int, model_id: str | None = None
) -> list[Any]:
    """The deployment's ``drift_hourly`` rows in the period (of one model), by hour."""
    with store.read() as conn:
        return _hours(conn, schema.drift_hourly, deployment_id, start, end, model_id)


def custom_metric_hours(
    store: Store,
    deployment_id: str,
    metric_id: str,
    start: int,
    end: int,
    model_id: str | None = None,
) -> list[Any]:
    """One custom metric's ``custom_metric_hourly`` rows in the period (of one model), by
    hour."""
    with store.read() as conn:
        return _hours(
            conn,
            schema.custom_metric_hourly,
            deployment_id,
            start,
            end,
            model_id,
            metric_id=metric_id,
        )


def custom_metric_totals(store: Store, deployment_id: str, start: int, end: int) -> Sequence[Any]:
    """``(metric_id, values, last_at)`` of each custom metric reported in the period, by id."""
    t = schema.custom_metric_hourly
    query = (
        select(t.c.metric_id, func.sum(t.c.count), func.max(t.c.last_at))
        .where(
            t.c.deployment_id == deployment_id,
            t.c.hour >= start,
            t.c.hour < end,
        )
        .group_by(t.c.metric_id)
        .order_by(t.c.metric_id)
    )
    with store.read() as conn:
        return conn.execute(query).all()


def service_health_in_hour(store: Store, hour: int) -> dict[str, ServiceHealth]:
    """Each deployment's service health in the hour starting at ``hour``, its models merged."""
    t = schema.service_hourly
    with store.read() as conn:
        rows = conn.execute(
            select(t.c.deployment_id, t.c.model_id, t.c.health).where(t.c.hour == hour)
        ).all()
    out: dict[str, ServiceHealth] = {}
    for deployment_id, model_id, blob in rows:
        where = f"deployment {deployment_id}, model {model_id}, hour {hour}"
        health = service_health(blob, where)
        if health is None:  # beyond repair (logged): the other rows answer
            continue
        out[deployment_id] = out[deployment_id].merge(health) if deployment_id in out else health
    return out
