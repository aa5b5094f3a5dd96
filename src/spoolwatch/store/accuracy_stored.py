"""The stored accuracy aggregates: the form one hour's aggregate is stored in, and the reads
of ``accuracy_hourly`` (a period's hours) and ``accuracy_orphans`` (the count of actuals
without a prediction).

An aggregate that cannot be read is logged once and counts for nothing in reads; the next
change to its hour rebuilds it from the rows (:mod:`spoolwatch.store.accuracy_folding`).
"""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, select

from spoolwatch.monitoring.accuracy_aggregate import AccuracyAggregate
from spoolwatch.store import schema
from spoolwatch.store.aggregate_rows import Fault, warn_once
from spoolwatch.store.deployment import Deployment

__all__ = ["load_accuracy", "orphan_actuals", "read_accuracy", "stored_form"]


def stored_form(agg: AccuracyAggregate) -> str:
    """The JSON stored for ``agg``, without its prediction count (the ``predicted`` column
    holds that)."""
    data = agg.to_dict()
    data["predicted"] = 0
    return orjson.dumps(data).decode()


def read_accuracy(
    blob: str, deployment: Deployment, where: str, *, predicted: int = 0
) -> AccuracyAggregate | None:
    """A stored aggregate with the hour's ``predicted`` column added to its own count
    (``None`` when it cannot be read: logged once, it counts for nothing in reads and is
    rebuilt from its rows by the next change)."""
    try:
        data = orjson.loads(blob)
        agg = AccuracyAggregate.from_dict(deployment.target_type, len(deployment.class_names), data)
        if type(predicted) is not int or predicted < 0:
            raise ValueError(f"predicted must be a count, got {predicted!r}")
        agg.predicted += predicted
        return agg
    except (ValueError, TypeError, KeyError) as exc:
        warn_once("accuracy_hourly", Fault("unreadable accuracy aggregate", str(exc), False), where)
        return None


def load_accuracy(
    conn: Connection, deployment: Deployment, start: int, end: int, model_id: str | None
) -> list[tuple[int, AccuracyAggregate]]:
    """The (hour, aggregate) of every stored hour in [start, end), of one model when given."""
    t = schema.accuracy_hourly
    query = select(t.c.model_id, t.c.hour, t.c.predicted, t.c.aggregate).where(
        t.c.deployment_id == deployment.id, t.c.hour >= start, t.c.hour < end
    )
    if model_id is not None:
        query = query.where(t.c.model_id == model_id)
    out = []
    for row in conn.execute(query):
        where = f"deployment {deployment.id}, model {row.model_id}, hour {row.hour}"
        agg = read_accuracy(row.aggregate, deployment, where, predicted=row.predicted)
        if agg is not None:
            out.append((int(row.hour), agg))
    return out


def orphan_actuals(conn: Connection, deployment: Deployment) -> int:
    """How many of the deployment's actuals have no prediction yet (one stored count)."""
    t = schema.accuracy_orphans
    found = conn.execute(select(t.c.actuals).where(t.c.deployment_id == deployment.id))
    return int(found.scalar_one_or_none() or 0)
