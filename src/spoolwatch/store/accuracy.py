"""Accuracy rows: predictions and actuals joined by association id, whichever arrives first.

What a row stores of a prediction and of an actual is :mod:`spoolwatch.store.accuracy_columns`;
reading joined rows back is :mod:`spoolwatch.store.accuracy_joined` (both re-exported here).

Rows are written with one statement per request: multi-row ``INSERT … RETURNING`` on
SQLite (an executemany where SQLite is older than 3.35), one ``INSERT ... SELECT FROM
unnest(...)`` on PostgreSQL. A re-sent prediction (same association id) overwrites the
stored one; an actual fills in the row whether or not its prediction has arrived. What a
write returns tells the accuracy aggregates which rows were new (see
:mod:`spoolwatch.store.accuracy_folding`).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, text

from spoolwatch.store.accuracy_columns import (
    PredictionRow,
    actual_columns,
    actual_rows,
    prediction_columns,
    prediction_rows,
)
from spoolwatch.store.accuracy_joined import (
    AccuracyBacklog,
    JoinedRows,
    accuracy_backlog,
    joined_rows,
    reference_rows,
)
from spoolwatch.store.sql import native

__all__ = [
    "SQLITE_RETURNING",
    "STATE_COLUMNS",
    "AccuracyBacklog",
    "JoinedRows",
    "PredictionRow",
    "accuracy_backlog",
    "actual_columns",
    "actual_rows",
    "fill_actuals",
    "insert_new_predictions",
    "joined_rows",
    "prediction_columns",
    "prediction_rows",
    "reference_rows",
    "upsert_actuals",
    "upsert_predictions",
]

# The columns each kind of row writes, with their PostgreSQL array types.
_PREDICTION_COLUMNS = {
    "model_id": "varchar",
    "predicted_at": "bigint",
    "predicted_value": "float8",
    "probabilities": "bytea",
}
_ACTUAL_COLUMNS = {
    "actual_label": "text",
    "actual_value": "float8",
    "actual_at": "bigint",
    "was_acted_on": "boolean",
}


# --------------------------------------------------------------------------- indexes

#: Period reads, the counts of waiting predictions and of actuals without predictions, and
#: the reference's first rows all go by prediction time within a deployment. It costs about
#: a seventh of a prediction row's insert on SQLite (measured), against reads that would
#: otherwise scan every row of the deployment.
INDEXES = (("ix_accuracy_rows_predicted_at", "deployment_id, predicted_at"),)


def create_indexes(conn: Connection) -> None:
    """Create the indexes the period reads use (when missing)."""
    for name, columns in INDEXES:
        conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON accuracy_rows ({columns})"))


# --------------------------------------------------------------------------- writing

#: The columns the accuracy aggregates read, in the order of a row's state (see
#: :mod:`spoolwatch.store.accuracy_folding`).
STATE_COLUMNS = (
    "association_id, model_id, predicted_at, predicted_value, probabilities, "
    "actual_label, actual_value"
)

#: Whether SQLite answers ``INSERT … RETURNING`` (3.35, 2021); without it the aggregates
#: read the touched rows before writing them.
SQLITE_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)

# Rows per multi-row ``INSERT`` on SQLite (SQLite 3.32 and later take 32,766 parameters).
_ROWS_PER_INSERT = 500


def insert_new_predictions(
    conn: Connection, deployment_id: str, rows: Sequence[PredictionRow]
) -> set[str]:
    """Insert the predictions of ``rows`` (one per association id) whose id has no row yet;
    return the ids inserted. A row that exists (its actual came first, or the prediction is
    re-sent) is left as it is."""
    found = _insert_returning(
        conn, deployment_id, _PREDICTION_COLUMNS, rows, "DO NOTHING", "association_id"
    )
    return set(map(itemgetter(0), found))


def fill_actuals(
    conn: Connection, deployment_id: str, rows: Sequence[tuple[Any, ...]]
) -> list[Sequence[Any]]:
    """Write the actuals of ``rows`` (:func:`actual_rows`) where the row is new or has no
    actual yet; return the state (:data:`STATE_COLUMNS`) of each row written. A row that
    already holds an actual is left as it is."""
    names = ", ".join(f"{c} = excluded.{c}" for c in _ACTUAL_COLUMNS)
    conflict = f"DO UPDATE SET {names} WHERE accuracy_rows.actual_label IS NULL"
    return _insert_returning(conn, deployment_id, _ACTUAL_COLUMNS, rows, conflict, STATE_COLUMNS)


def upsert_predictions(conn: Connection, deployment_id: str, rows: list[PredictionRow]) -> None:
    """Insert or overwrite the predictions of ``rows`` (one statement)."""
    _upsert(conn, deployment_id, _PREDICTION_COLUMNS, rows)


def upsert_actuals(conn: Connection, deployment_id: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert or overwrite the actuals of ``rows`` (:func:`actual_rows`)."""
    _upsert(conn, deployment_id, _ACTUAL_COLUMNS, rows)


def _upsert(
    conn: Connection,
    deployment_id: str,
    columns: Mapping[str, str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Insert ``rows`` (association id, then ``columns``), overwriting ``columns`` of a row
    that exists: an executemany on SQLite, one statement over arrays on PostgreSQL."""
    if not rows:
        return
    names = ", ".join(columns)
    head = f"INSERT INTO accuracy_rows (deployment_id, association_id, {names}) "
    tail = " ON CONFLICT (deployment_id, association_id) DO UPDATE SET " + ", ".join(
        f"{c} = excluded.{c}" for c in columns
    )
    if conn.dialect.name == "postgresql":
        # One statement must not touch a row twice: the last row of an id wins.
        latest = list({row[0]: row for row in rows}.values())
        arrays = [list(column) for column in zip(*latest, strict=True)]
        types = ", ".join(f"?::{t}[]" for t in ("varchar", *columns.values()))
        sql = native("postgresql", f"{head}SELECT ?, * FROM unnest({types}){tail}")
        conn.exec_driver_sql(sql, (deployment_id, *arrays))
        return
    marks = ", ".join("?" * (len(columns) + 2))
    sql = native(conn.dialect.name, f"{head}VALUES ({marks}){tail}")
    conn.exec_driver_sql(sql, [(deployment_id, *row) for row in rows])


def _insert_returning(
    conn: Connection,
    deployment_id: str,
    columns: Mapping[str, str],
    rows: Sequence[tuple[Any, ...]],
    conflict: str,
    returning: str,
) -> list[Sequence[Any]]:
    """``INSERT`` ``rows`` (association id, then ``columns``; each id once) ``ON CONFLICT``
    ``conflict`` ``RETURNING`` ``returning``: what the database wrote, in one statement over
    arrays on PostgreSQL, multi-row ``VALUES`` on SQLite."""
    if not rows:
        return []
    names = ", ".join(columns)
    head = f"INSERT INTO accuracy_rows (deployment_id, association_id, {names}) "
    tail = f" ON CONFLICT (deployment_id, association_id) {conflict} RETURNING {returning}"
    if conn.dialect.name == "postgresql":
        arrays = [list(column) for column in zip(*rows, strict=True)]
        types = ", ".join(f"?::{t}[]" for t in ("varchar", *columns.values()))
        sql = native("postgresql", f"{head}SELECT ?, * FROM unnest({types}){tail}")
        return list(conn.exec_driver_sql(sql, (deployment_id, *arrays)).all())
    # Straight on the driver's cursor, in the transaction the connection holds: the rows
    # it returns are plain tuples (result rows cost more than the insert). The deployment
    # id is one parameter; ``WHERE true`` tells SQLite the ``ON CONFLICT`` is the upsert's.
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    out: list[Sequence[Any]] = []
    try:
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            values = _values(len(columns) + 1, len(chunk))
            sql = f"{head}SELECT ?, * FROM (VALUES {values}) WHERE true{tail}"
            cursor.execute(sql, [deployment_id, *chain.from_iterable(chunk)])
            out.extend(cursor.fetchall())
    finally:
        cursor.close()
    return out


@functools.lru_cache(maxsize=64)
def _values(width: int, count: int) -> str:
    row = "(" + ", ".join("?" * width) + ")"
    return ", ".join([row] * count)
