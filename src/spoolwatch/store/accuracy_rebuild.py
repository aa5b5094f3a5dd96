"""Migrations 7 and 9: the accuracy aggregates and the count of actuals without a prediction,
built from the rows stored before them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, delete, text

from spoolwatch.monitoring.accuracy_aggregate import AccuracyAggregate
from spoolwatch.store import schema
from spoolwatch.store.accuracy import STATE_COLUMNS
from spoolwatch.store.accuracy_contributions import Key, contributions
from spoolwatch.store.accuracy_stored import stored_form
from spoolwatch.store.deployment import Deployment

__all__ = ["build_accuracy_hourly", "count_orphan_actuals"]

_CHUNK = 20_000


def build_accuracy_hourly(conn: Connection, deployments: Mapping[str, Deployment]) -> int:
    """Replace every deployment's aggregates with those of its stored rows; return how
    many hourly rows were written."""
    schema.accuracy_hourly.create(conn, checkfirst=True)
    conn.execute(delete(schema.accuracy_hourly))
    written = 0
    for deployment in deployments.values():
        totals: dict[Key, AccuracyAggregate] = {}
        for chunk in _chunks(conn, deployment.id):
            for key, part in contributions(deployment, chunk).items():
                totals[key] = totals[key].merged(part) if key in totals else part
        rows = [
            {
                "deployment_id": deployment.id,
                "model_id": model_id,
                "hour": hour,
                "predicted": agg.predicted,
                "aggregate": stored_form(agg),
            }
            for (model_id, hour), agg in totals.items()
        ]
        if rows:
            conn.execute(schema.accuracy_hourly.insert(), rows)
        written += len(rows)
    return written


def _chunks(conn: Connection, deployment_id: str) -> Iterable[list[Any]]:
    """The deployment's rows with a prediction, in primary-key order, a chunk at a time."""
    after = ""
    while True:
        rows = conn.execute(
            text(
                f"SELECT {STATE_COLUMNS} FROM accuracy_rows WHERE deployment_id = :d "
                "AND association_id > :a AND predicted_at IS NOT NULL "
                f"ORDER BY association_id LIMIT {_CHUNK}"
            ),
            {"d": deployment_id, "a": after},
        ).all()
        if not rows:
            return
        yield list(rows)
        after = rows[-1][0]


def count_orphan_actuals(conn: Connection) -> int:
    """Replace every deployment's count of actuals without a prediction with that of its
    stored rows; return how many deployments have such actuals."""
    schema.accuracy_orphans.create(conn, checkfirst=True)
    conn.execute(delete(schema.accuracy_orphans))
    counted = conn.execute(
        text(
            "SELECT deployment_id, count(*) FROM accuracy_rows "
            "WHERE predicted_at IS NULL GROUP BY deployment_id"
        )
    ).all()
    rows = [{"deployment_id": d, "actuals": int(n)} for d, n in counted]
    if rows:
        conn.execute(schema.accuracy_orphans.insert(), rows)
    return len(rows)
