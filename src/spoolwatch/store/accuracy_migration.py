"""Migration 4: accuracy rows from JSON to the compact columns of :mod:`.accuracy`.

A version-3 table kept each prediction and actual as JSON (``prediction``, ``actual``). The
table is rebuilt: renamed aside, created again from the schema, filled with every old row
converted the way ingestion now stores them (predictions were already in the deployment's
class order), and the old table dropped. Databases created with the compact table only get
its indexes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, inspect, select, text

from spoolwatch.store import schema
from spoolwatch.store.accuracy import create_indexes
from spoolwatch.store.accuracy_columns import actual_columns, prediction_columns
from spoolwatch.store.deployment import Deployment

__all__ = ["compact_accuracy_rows", "stored_deployments"]

logger = logging.getLogger(__name__)

_OLD = "accuracy_rows_v3"
_CHUNK = 5000


def compact_accuracy_rows(conn: Connection) -> None:
    """Convert a JSON accuracy table in place (no-op for the compact one), then index it."""
    columns = {c["name"] for c in inspect(conn).get_columns("accuracy_rows")}
    if "prediction" in columns:
        # Index names are unique per database: the old table's goes before it is renamed.
        conn.execute(text("DROP INDEX IF EXISTS ix_accuracy_rows_predicted_at"))
        conn.execute(text(f"ALTER TABLE accuracy_rows RENAME TO {_OLD}"))
        if conn.dialect.name == "postgresql":
            # The primary key's index keeps its name, which the new table needs.
            conn.execute(
                text(f"ALTER TABLE {_OLD} RENAME CONSTRAINT accuracy_rows_pkey TO {_OLD}_pkey")
            )
        schema.accuracy_rows.create(conn)
        converted = _copy(conn)
        conn.execute(text(f"DROP TABLE {_OLD}"))
        logger.info("converted %d accuracy rows to the compact form", converted)
    create_indexes(conn)


def stored_deployments(conn: Connection) -> dict[str, Deployment]:
    """Every stored deployment, with what the accuracy rows need (id, model, target, classes)."""
    t = schema.deployments
    rows = conn.execute(select(t.c.id, t.c.model_id, t.c.target_type, t.c.class_names)).all()
    return {
        r.id: Deployment(
            id=r.id,
            name="",
            model_id=r.model_id,
            target_type=r.target_type,
            class_names=tuple(orjson.loads(r.class_names or "[]")),
        )
        for r in rows
    }


def _copy(conn: Connection) -> int:
    """Copy the old rows in primary-key order, a chunk at a time; return how many."""
    deployments = stored_deployments(conn)
    columns = (
        "deployment_id, association_id, model_id, predicted_at, prediction, actual, "
        "actual_at, was_acted_on"
    )
    after: tuple[str, str] | None = None
    copied = 0
    while True:
        where = "WHERE (deployment_id, association_id) > (:d, :a) " if after else ""
        rows = conn.execute(
            text(
                f"SELECT {columns} FROM {_OLD} {where}"
                f"ORDER BY deployment_id, association_id LIMIT {_CHUNK}"
            ),
            {"d": after[0], "a": after[1]} if after else {},
        ).all()
        if not rows:
            return copied
        new = _converted(deployments, rows)
        if new:
            conn.execute(schema.accuracy_rows.insert(), new)
        copied += len(new)
        after = (rows[-1].deployment_id, rows[-1].association_id)


def _converted(deployments: dict[str, Deployment], rows: Sequence[Any]) -> list[dict[str, Any]]:
    new = []
    for row in rows:
        deployment = deployments.get(row.deployment_id)
        if deployment is None:  # rows of a deleted deployment are not carried over
            continue
        value: float | None = None
        packed: bytes | None = None
        if row.prediction is not None:
            values, blobs = prediction_columns(deployment, [orjson.loads(row.prediction)])
            value, packed = values[0], blobs[0]
        label: str | None = None
        actual: float | None = None
        if row.actual is not None:
            label, actual = actual_columns(orjson.loads(row.actual))
        new.append(
            {
                "deployment_id": row.deployment_id,
                "association_id": row.association_id,
                "model_id": row.model_id,
                "predicted_at": row.predicted_at,
                "predicted_value": value,
                "probabilities": packed,
                "actual_label": label,
                "actual_value": actual,
                "actual_at": row.actual_at,
                "was_acted_on": row.was_acted_on,
            }
        )
    return new
