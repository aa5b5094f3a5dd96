"""Migration 5: aggregates that hold a non-finite or out-of-bounds number are repaired.

Before :mod:`spoolwatch.records.bounds`, absurd values reached the hourly rows: two requests
of 1e308 ms made an hour's latency sum infinite (stored as ``null``), infinite sums of
predictions or custom-metric values were stored as ``Infinity``. Such a row is rewritten the
way :mod:`spoolwatch.store.aggregate_rows` reads it, so the database says what every read
already answers: what is still exact is kept (an hour's request and prediction counts, its
drift histograms), what overflowed is dropped (that hour's execution-time histogram, its
prediction sum and count), and a row with nothing exact left is deleted (a custom-metric row
whose sum or last value overflowed). Accuracy rows keep a non-finite predicted or actual
number as ``NULL``, as ingestion stores one. Each table's repairs are logged.

``service_hourly`` keeps its aggregates as JSON, so every row is read, a chunk at a time in
key order; the other tables are searched by SQL for numbers beyond the bounds.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, func, or_, select, text, update

from spoolwatch.records.bounds import VALUE_MAX
from spoolwatch.store import schema
from spoolwatch.store.aggregate_rows import read_custom_metric, read_drift, read_service_health

__all__ = ["repair_values"]

logger = logging.getLogger(__name__)

_CHUNK = 2000
#: Larger than any finite float: ``abs(x) > _FLOAT_MAX`` finds ±Infinity (and PostgreSQL's
#: NaN, which it orders above every number).
_FLOAT_MAX = sys.float_info.max


def repair_values(conn: Connection) -> None:
    """Repair every hourly row and accuracy row holding a number beyond the bounds."""
    for table, repair in (
        ("service_hourly", _service_rows),
        ("drift_hourly", _drift_rows),
        ("custom_metric_hourly", _custom_metric_rows),
        ("accuracy_rows", _accuracy_rows),
    ):
        repaired, deleted = repair(conn)
        if repaired or deleted:
            logger.warning(
                "%s: repaired %d rows holding numbers beyond the bounds, deleted %d that held "
                "nothing exact any more",
                table,
                repaired,
                deleted,
            )


def _service_rows(conn: Connection) -> tuple[int, int]:
    t = schema.service_hourly
    repaired = deleted = 0
    after: dict[str, Any] | None = None
    while True:
        where = "WHERE (deployment_id, model_id, hour) > (:d, :m, :h) " if after else ""
        rows = conn.execute(
            text(
                f"SELECT deployment_id, model_id, hour, health FROM service_hourly {where}"
                f"ORDER BY deployment_id, model_id, hour LIMIT {_CHUNK}"
            ),
            after or {},
        ).all()
        if not rows:
            return repaired, deleted
        for row in rows:
            health, fault = read_service_health(row.health)
            if fault is None:
                continue
            key = and_(
                t.c.deployment_id == row.deployment_id,
                t.c.model_id == row.model_id,
                t.c.hour == row.hour,
            )
            if health is None:
                conn.execute(delete(t).where(key))
                deleted += 1
            else:
                blob = orjson.dumps(health.to_dict()).decode()
                conn.execute(update(t).where(key).values(health=blob))
                repaired += 1
        last = rows[-1]
        after = {"d": last.deployment_id, "m": last.model_id, "h": last.hour}


def _each_suspect(
    conn: Connection, table: Any, suspect: Any, fix: Callable[[Any], dict[str, Any] | None]
) -> tuple[int, int]:
    """Apply ``fix`` to the rows matching ``suspect``: new values to write, ``None`` to
    delete the row, ``{}`` to leave it."""
    keys = [c.name for c in table.primary_key.columns]
    repaired = deleted = 0
    for row in conn.execute(select(table).where(suspect)).all():
        values = fix(row)
        if values == {}:
            continue
        key = and_(*(table.c[k] == getattr(row, k) for k in keys))
        if values is None:
            conn.execute(delete(table).where(key))
            deleted += 1
        else:
            conn.execute(update(table).where(key).values(**values))
            repaired += 1
    return repaired, deleted


def _drift_rows(conn: Connection) -> tuple[int, int]:
    t = schema.drift_hourly
    suspect = or_(
        t.c.prediction_sum.is_(None),
        t.c.prediction_rows < 0,
        # VALUE_MAX per prediction is what a sum of bounded predictions can reach.
        func.abs(t.c.prediction_sum) > t.c.prediction_rows * VALUE_MAX,
    )

    def fix(row: Any) -> dict[str, Any] | None:
        read, fault = read_drift(row.aggregate, row.prediction_rows, row.prediction_sum)
        if fault is None or read is None:  # an unreadable aggregate is not this repair's
            return {}
        return {"prediction_rows": read[1], "prediction_sum": read[2]}

    return _each_suspect(conn, t, suspect, fix)


def _custom_metric_rows(conn: Connection) -> tuple[int, int]:
    t = schema.custom_metric_hourly
    suspect = or_(
        func.abs(t.c.value_sum) > t.c["count"] * VALUE_MAX,
        func.abs(t.c.last_value) > VALUE_MAX,
        func.abs(t.c.last_at) > _FLOAT_MAX,
    )

    def fix(row: Any) -> dict[str, Any] | None:
        _, fault = read_custom_metric(row)
        return {} if fault is None else None

    return _each_suspect(conn, t, suspect, fix)


def _accuracy_rows(conn: Connection) -> tuple[int, int]:
    t = schema.accuracy_rows
    repaired = 0
    for column in (t.c.predicted_value, t.c.actual_value):
        result = conn.execute(
            update(t).where(func.abs(column) > _FLOAT_MAX).values({column.name: None})
        )
        repaired += int(result.rowcount or 0)
    return repaired, 0
