"""Accuracy aggregates per deployment, model and prediction hour, kept with the joined rows.

Whenever predictions or actuals are written to ``accuracy_rows``, the rows they touch are
read first (by primary key, in the same transaction, under the deployment's write lock): what
each row added to its hour's aggregate before the write is taken out, what it adds after the
write is put in (:class:`AccuracyAggregate`, ``sign=-1``). So a late actual, an actual before
its prediction, a corrected actual (the later value wins) and a re-sent prediction (perhaps
in another hour) all leave each hour's aggregate equal to the aggregate of its rows, and the
accuracy reads (:func:`load_accuracy`) read only ``accuracy_hourly``.

A stored aggregate that cannot be read, or that a change would take below zero (a row
written by an older version without its aggregate), is rebuilt from that hour's rows.
Migration 7 builds the aggregates of the rows stored before (:func:`build_accuracy_hourly`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection, delete, select, text

from spoolwatch.monitoring.accuracy_aggregate import AccuracyAggregate
from spoolwatch.store import schema
from spoolwatch.store.accuracy import (
    PROBABILITY_DTYPE,
    PredictionRow,
    actual_columns,
)
from spoolwatch.store.aggregate_rows import Fault, warn_once
from spoolwatch.store.deployments import Deployment
from spoolwatch.store.sql import rows_in
from spoolwatch.store.upsert import upsert

__all__ = [
    "build_accuracy_hourly",
    "fold_actual_changes",
    "fold_prediction_changes",
    "load_accuracy",
    "read_accuracy",
]

logger = logging.getLogger(__name__)

HOUR = 3600
#: A row's state: association id, model id, predicted at, predicted value, probabilities,
#: actual label, actual value (the columns the aggregates read).
State = tuple[str, str | None, int | None, float | None, bytes | None, str | None, float | None]
Key = tuple[str, int]

_STATE_COLUMNS = (
    "association_id, model_id, predicted_at, predicted_value, probabilities, "
    "actual_label, actual_value"
)


# --------------------------------------------------------------------------- contributions


def _empty(deployment: Deployment) -> AccuracyAggregate:
    return AccuracyAggregate(deployment.target_type, len(deployment.class_names))


def contributions(deployment: Deployment, states: Iterable[Sequence[Any]]) -> dict[Key, Any]:
    """What rows in ``states`` add to the aggregate of their (model, prediction hour)."""
    groups: dict[Key, tuple[list[int], list[Any], list[Any]]] = {}
    regression = deployment.target_type == "regression"
    multiclass = deployment.target_type == "multiclass"
    names = set(deployment.class_names)
    for _, model_id, at, value, packed, label, actual in states:
        if at is None or model_id is None:  # an actual still waiting for its prediction
            continue
        counts, predictions, actuals = groups.setdefault(
            (model_id, at // HOUR * HOUR), ([0, 0], [], [])
        )
        counts[0] += 1
        if label is None:
            continue
        counts[1] += 1
        if regression:
            usable, prediction, truth = value is not None and actual is not None, value, actual
        else:
            prediction = packed if multiclass else value
            usable, truth = prediction is not None and label in names, label
        if usable:
            predictions.append(prediction)
            actuals.append(truth)
    out = {}
    for key, (counts, predictions, actuals) in groups.items():
        if multiclass:
            width = len(deployment.class_names)
            joined = b"".join(bytes(p) for p in predictions)
            array: Any = np.frombuffer(joined, dtype=PROBABILITY_DTYPE).reshape(-1, width)
        else:
            array = np.asarray(predictions, dtype=np.float64)
        agg = AccuracyAggregate.of_pairs(
            deployment.target_type, deployment.class_names, array, actuals
        )
        agg.predicted, agg.actualized = counts
        out[key] = agg
    return out


def _states(conn: Connection, deployment_id: str, ids: Sequence[str]) -> dict[str, State]:
    sql = (
        f"SELECT {_STATE_COLUMNS} FROM accuracy_rows "
        "WHERE deployment_id = ? AND association_id IN {keys}"
    )
    return {r[0]: tuple(r) for r in rows_in(conn, sql, (deployment_id,), ids)}


def fold_prediction_changes(
    conn: Connection, deployment: Deployment, rows: Sequence[PredictionRow]
) -> None:
    """Update the aggregates for ``rows`` about to be written (the last of an id wins)."""
    if not rows:
        return
    latest = {r[0]: r for r in rows}
    old = _states(conn, deployment.id, list(latest))
    new: list[State] = []
    for aid, model_id, at, value, packed in latest.values():
        before = old.get(aid)
        label, actual = (before[5], before[6]) if before is not None else (None, None)
        new.append((aid, model_id, at, value, packed, label, actual))
    _store_change(conn, deployment, old.values(), new)


def fold_actual_changes(
    conn: Connection, deployment: Deployment, items: Sequence[Mapping[str, Any]]
) -> None:
    """Update the aggregates for the actuals of ``items`` about to be written."""
    if not items:
        return
    latest = {str(item["associationId"]): item["actualValue"] for item in items}
    old = _states(conn, deployment.id, list(latest))
    new: list[State] = []
    for aid, reported in latest.items():
        before = old.get(aid)
        if before is None:
            continue  # no prediction yet: nothing to fold until it comes
        label, actual = actual_columns(reported)
        new.append((*before[:5], label, actual))
    _store_change(conn, deployment, old.values(), new)


def _store_change(
    conn: Connection, deployment: Deployment, old: Iterable[State], new: Iterable[State]
) -> None:
    removed = contributions(deployment, old)
    added = contributions(deployment, new)
    change: dict[Key, AccuracyAggregate] = {}
    for key in removed.keys() | added.keys():
        base = added.get(key) or _empty(deployment)
        change[key] = base.merged(removed[key], -1) if key in removed else base
    _merge_into_stored(conn, deployment, change)


def _merge_into_stored(
    conn: Connection, deployment: Deployment, change: Mapping[Key, AccuracyAggregate]
) -> None:
    sql = (
        "SELECT model_id, hour, aggregate FROM accuracy_hourly "
        "WHERE deployment_id = ? AND (model_id, hour) IN {keys}"
    )
    found = {
        (r[0], r[1]): r[2] for r in rows_in(conn, sql, (deployment.id,), list(change), width=2)
    }
    rows = []
    for (model_id, hour), delta in change.items():
        blob = found.get((model_id, hour))
        stored = _empty(deployment) if blob is None else None
        if blob is not None:
            where = f"deployment {deployment.id}, model {model_id}, hour {hour}"
            stored = read_accuracy(blob, deployment, where)
        merged = stored.merged(delta) if stored is not None else None
        if merged is None or not _counts_fit(merged):
            merged = _rebuilt(conn, deployment, model_id, hour).merged(delta)
        row = {"deployment_id": deployment.id, "model_id": model_id, "hour": hour}
        rows.append(row | {"aggregate": orjson.dumps(merged.to_dict()).decode()})
    upsert(conn, schema.accuracy_hourly, rows, replace=("aggregate",))


def _counts_fit(agg: AccuracyAggregate) -> bool:
    counts = (agg.predicted, agg.actualized, agg.count, agg.out_of_range, agg.beyond_squares)
    return (
        min(counts) >= 0
        and agg.beyond_fourth >= 0
        and agg.count <= agg.actualized <= agg.predicted
        and not (agg.confusion < 0).any()
        and not (agg.histograms < 0).any()
    )


def _rebuilt(conn: Connection, deployment: Deployment, model_id: str, hour: int) -> Any:
    """The aggregate of one hour's rows as stored now."""
    sql = text(
        f"SELECT {_STATE_COLUMNS} FROM accuracy_rows WHERE deployment_id = :d "
        "AND model_id = :m AND predicted_at >= :s AND predicted_at < :e"
    )
    found = conn.execute(sql, {"d": deployment.id, "m": model_id, "s": hour, "e": hour + HOUR})
    parts = contributions(deployment, found.all())
    return parts.get((model_id, hour)) or _empty(deployment)


# --------------------------------------------------------------------------- reading


def read_accuracy(blob: str, deployment: Deployment, where: str) -> AccuracyAggregate | None:
    """A stored aggregate (``None`` when it cannot be read: logged once, it counts for
    nothing in reads and is rebuilt from its rows by the next change)."""
    try:
        data = orjson.loads(blob)
        return AccuracyAggregate.from_dict(
            deployment.target_type, len(deployment.class_names), data
        )
    except (ValueError, TypeError, KeyError) as exc:
        warn_once("accuracy_hourly", Fault("unreadable accuracy aggregate", str(exc), False), where)
        return None


def load_accuracy(
    conn: Connection, deployment: Deployment, start: int, end: int, model_id: str | None
) -> list[tuple[int, AccuracyAggregate]]:
    """The (hour, aggregate) of every stored hour in [start, end), of one model when given."""
    t = schema.accuracy_hourly
    query = select(t.c.model_id, t.c.hour, t.c.aggregate).where(
        t.c.deployment_id == deployment.id, t.c.hour >= start, t.c.hour < end
    )
    if model_id is not None:
        query = query.where(t.c.model_id == model_id)
    out = []
    for row in conn.execute(query):
        where = f"deployment {deployment.id}, model {row.model_id}, hour {row.hour}"
        agg = read_accuracy(row.aggregate, deployment, where)
        if agg is not None:
            out.append((int(row.hour), agg))
    return out


# --------------------------------------------------------------------------- migration 7

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
                "aggregate": orjson.dumps(agg.to_dict()).decode(),
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
                f"SELECT {_STATE_COLUMNS} FROM accuracy_rows WHERE deployment_id = :d "
                "AND association_id > :a AND predicted_at IS NOT NULL "
                f"ORDER BY association_id LIMIT {_CHUNK}"
            ),
            {"d": deployment_id, "a": after},
        ).all()
        if not rows:
            return
        yield list(rows)
        after = rows[-1][0]
