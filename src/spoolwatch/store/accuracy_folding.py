"""Accuracy aggregates per deployment, model and prediction hour, kept with the joined rows.

Predictions and actuals are written to ``accuracy_rows`` here (:func:`write_predictions`,
:func:`write_actuals`, in the ingest transaction, under the deployment's write lock), and
each write changes the aggregates by what it changed in the rows: what a row added to its
hour's aggregate before the write is taken out, what it adds after the write is put in
(:class:`AccuracyAggregate`, ``sign=-1``). The common cases need no read: a new prediction
adds one prediction, and a first actual's write returns the row it completes. Rows that hold
what a write replaces (an actual that came before its prediction, a re-sent prediction, a
corrected actual) are read by primary key first. So a late actual, an actual before its
prediction, a corrected actual (the later value wins) and a re-sent prediction (perhaps in
another hour) all leave each hour's aggregate equal to the aggregate of its rows, and the
accuracy reads (:func:`~spoolwatch.store.accuracy_stored.load_accuracy`) read only
``accuracy_hourly``. The count of actuals still waiting for their prediction is kept the same
way (``accuracy_orphans``).

A stored aggregate that cannot be read, or that a change would take below zero (a row
written by an older version without its aggregate), is rebuilt from that hour's rows by the
next change that reads it (an actual, or a prediction whose row existed); new predictions
only add to the hour's ``predicted`` column.
Migration 7 builds the aggregates of the rows stored before, migration 9 their count of
actuals without a prediction (:mod:`spoolwatch.store.accuracy_rebuild`). What a row adds to
its hour is :mod:`spoolwatch.store.accuracy_contributions`; the stored form and the reads of
the aggregates are :mod:`spoolwatch.store.accuracy_stored`. The names of both and of the
migrations' builds are re-exported here.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, text

from spoolwatch.monitoring.accuracy_aggregate import AccuracyAggregate
from spoolwatch.store import schema
from spoolwatch.store.accuracy import (
    SQLITE_RETURNING,
    STATE_COLUMNS,
    fill_actuals,
    insert_new_predictions,
    upsert_actuals,
    upsert_predictions,
)
from spoolwatch.store.accuracy_columns import PredictionRow, actual_rows
from spoolwatch.store.accuracy_contributions import (
    HOUR,
    Key,
    State,
    contributions,
    empty_aggregate,
)
from spoolwatch.store.accuracy_rebuild import build_accuracy_hourly, count_orphan_actuals
from spoolwatch.store.accuracy_stored import (
    load_accuracy,
    orphan_actuals,
    read_accuracy,
    stored_form,
)
from spoolwatch.store.deployment import Deployment
from spoolwatch.store.sql import hourly_rows, rows_in
from spoolwatch.store.upsert import upsert

__all__ = [
    "build_accuracy_hourly",
    "count_orphan_actuals",
    "load_accuracy",
    "orphan_actuals",
    "read_accuracy",
    "write_actuals",
    "write_predictions",
]

logger = logging.getLogger(__name__)


def _states(conn: Connection, deployment_id: str, ids: Sequence[str]) -> dict[str, State]:
    sql = (
        f"SELECT {STATE_COLUMNS} FROM accuracy_rows "
        "WHERE deployment_id = ? AND association_id IN {keys}"
    )
    return {r[0]: tuple(r) for r in rows_in(conn, sql, (deployment_id,), ids)}


def _returning(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql" or SQLITE_RETURNING


def write_predictions(
    conn: Connection, deployment: Deployment, rows: Sequence[PredictionRow]
) -> None:
    """Store the predictions of ``rows`` (the last of an association id wins) and fold them
    into the aggregates.

    New ids — nearly every prediction — are inserted without being looked up first: the
    insert says which ids it wrote, and each counts one prediction in its hour. Only the ids
    already stored (an actual that came first, a re-sent prediction) are read, so that what
    they added before is taken out.
    """
    if not rows:
        return
    latest = list(dict(zip(map(itemgetter(0), rows), rows, strict=True)).values())
    change: dict[Key, AccuracyAggregate] = {}
    rest = latest
    if _returning(conn):
        inserted = insert_new_predictions(conn, deployment.id, latest)
        if len(inserted) == len(latest):  # all new: the common case
            added, rest = latest, []
        else:
            added = [r for r in latest if r[0] in inserted]
            rest = [r for r in latest if r[0] not in inserted]
        _count_predictions(conn, deployment, _hour_counts(added))
    if rest:
        old = _states(conn, deployment.id, [r[0] for r in rest])
        new: list[State] = []
        for aid, model_id, at, value, packed in rest:
            before = old.get(aid)
            label, actual = (before[5], before[6]) if before is not None else (None, None)
            new.append((aid, model_id, at, value, packed, label, actual))
        _add_changes(change, deployment, old.values(), new)
        upsert_predictions(conn, deployment.id, rest)
        # Actuals that waited for these predictions have one now.
        _count_orphans(conn, deployment, -sum(1 for s in old.values() if s[2] is None))
    _merge_into_stored(conn, deployment, change)


def write_actuals(
    conn: Connection, deployment: Deployment, items: Sequence[Mapping[str, Any]]
) -> int:
    """Store the actuals of ``items`` (the last of an association id wins) and fold the pairs
    they complete or correct into the aggregates; return how many items there were.

    A first actual is written without a read: the write returns the row's state, and the
    state before is the same without the actual. Only ids that already hold an actual (a
    corrected or repeated one) are read first.
    """
    rows = actual_rows(items)
    change: dict[Key, AccuracyAggregate] = {}
    rest = rows
    orphans = 0  # rows this write creates: actuals without a prediction
    if _returning(conn):
        written = fill_actuals(conn, deployment.id, rows)
        # A row without a prediction time is new (a stored row without one holds an actual).
        orphans += sum(1 for state in written if state[2] is None)
        # Before, each of these rows counted as a prediction in the same hour (or, with no
        # prediction yet, counted nowhere): the change is the pair, without the prediction.
        for key, part in contributions(deployment, written).items():
            part.predicted = 0
            _add(change, deployment, key, part)
        done = {state[0] for state in written}
        rest = [r for r in rows if r[0] not in done]
    if rest:
        old = _states(conn, deployment.id, [r[0] for r in rest])
        new = [(*old[r[0]][:5], r[1], r[2]) for r in rest if r[0] in old]
        _add_changes(change, deployment, old.values(), new)
        upsert_actuals(conn, deployment.id, rest)
        orphans += sum(1 for r in rest if r[0] not in old)
    _count_orphans(conn, deployment, orphans)
    _merge_into_stored(conn, deployment, change)
    return len(items)


def _add(
    change: dict[Key, AccuracyAggregate],
    deployment: Deployment,
    key: Key,
    part: AccuracyAggregate,
    sign: int = 1,
) -> None:
    base = change.get(key)
    change[key] = (base or empty_aggregate(deployment)).merged(part, sign)


def _hour_counts(rows: Sequence[PredictionRow]) -> Counter[Key]:
    """How many of ``rows`` each (model, prediction hour) has (the rows of one request
    share a model and a time: they are counted by those first)."""
    counts: Counter[Key] = Counter()
    for (model_id, at), n in Counter(map(itemgetter(1, 2), rows)).items():
        counts[model_id, at // HOUR * HOUR] += n
    return counts


def _count_predictions(conn: Connection, deployment: Deployment, counts: Mapping[Key, int]) -> None:
    """Add new, unjoined predictions to their hours' counts: one additive upsert, no read
    (an hour not stored yet starts with an empty aggregate)."""
    if not counts:
        return
    empty = stored_form(empty_aggregate(deployment))
    rows = [
        {
            "deployment_id": deployment.id,
            "model_id": m,
            "hour": h,
            "predicted": n,
            "aggregate": empty,
        }
        for (m, h), n in counts.items()
    ]
    upsert(conn, schema.accuracy_hourly, rows, add=("predicted",))


def _count_orphans(conn: Connection, deployment: Deployment, delta: int) -> None:
    """Add ``delta`` to the deployment's count of actuals without a prediction."""
    if delta:
        row = {"deployment_id": deployment.id, "actuals": delta}
        upsert(conn, schema.accuracy_orphans, [row], add=("actuals",))


def _add_changes(
    change: dict[Key, AccuracyAggregate],
    deployment: Deployment,
    old: Iterable[State],
    new: Iterable[State],
) -> None:
    """Add to ``change`` what replacing the rows in state ``old`` by ``new`` does."""
    for key, part in contributions(deployment, old).items():
        _add(change, deployment, key, part, sign=-1)
    for key, part in contributions(deployment, new).items():
        _add(change, deployment, key, part)


def _merge_into_stored(
    conn: Connection, deployment: Deployment, change: Mapping[Key, AccuracyAggregate]
) -> None:
    existing = hourly_rows(conn, "accuracy_hourly", "predicted, aggregate", deployment.id, change)
    rows = []
    for (model_id, hour), delta in change.items():
        found = existing.get((model_id, hour))
        stored = empty_aggregate(deployment) if found is None else None
        if found is not None:
            where = f"deployment {deployment.id}, model {model_id}, hour {hour}"
            stored = read_accuracy(found[3], deployment, where, predicted=found[2])
        merged = stored.merged(delta) if stored is not None else None
        if merged is None or not _counts_fit(merged):
            # The rows are written already: their aggregate now includes this change.
            merged = _rebuilt(conn, deployment, model_id, hour)
        row = {"deployment_id": deployment.id, "model_id": model_id, "hour": hour}
        rows.append(row | {"predicted": merged.predicted, "aggregate": stored_form(merged)})
    upsert(conn, schema.accuracy_hourly, rows, replace=("predicted", "aggregate"))


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
        f"SELECT {STATE_COLUMNS} FROM accuracy_rows WHERE deployment_id = :d "
        "AND model_id = :m AND predicted_at >= :s AND predicted_at < :e"
    )
    found = conn.execute(sql, {"d": deployment.id, "m": model_id, "s": hour, "e": hour + HOUR})
    parts = contributions(deployment, found.all())
    return parts.get((model_id, hour)) or empty_aggregate(deployment)
