"""Accuracy rows: predictions and actuals joined by association id, whichever arrives first.

A prediction is stored as what the accuracy metrics read from it, in the deployment's
shape, never as JSON: a regression value or a binary model's probability of
``class_names[1]`` in ``predicted_value`` (REAL), a multiclass model's probabilities in the
deployment's class order in ``probabilities`` (little-endian float64, one per class). An
actual is stored as its text (``actual_label``, what class labels are compared with; set for
every actual, so it marks a row as joined) and, when it is a number, as ``actual_value``. A
prediction that does not fit the deployment (a list for a regression model, the wrong number
of probabilities, a non-finite value) keeps its row with neither value: it counts as a
prediction but never enters a metric.

Rows are written with one statement per request: multi-row ``INSERT … RETURNING`` on
SQLite (an executemany where SQLite is older than 3.35), one ``INSERT ... SELECT FROM
unnest(...)`` on PostgreSQL. A re-sent prediction (same association id) overwrites the
stored one; an actual fills in the row whether or not its prediction has arrived. What a
write returns tells the accuracy aggregates which rows were new (see
:mod:`spoolwatch.store.accuracy_folding`).
"""

from __future__ import annotations

import functools
import math
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, Connection, and_, case, func, select, text

from spoolwatch.records.timestamps import parse_timestamp
from spoolwatch.store import schema
from spoolwatch.store.deployment import Deployment
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

#: How probabilities are packed: little-endian float64, whatever the machine.
PROBABILITY_DTYPE = np.dtype("<f8")

#: One prediction's row: association id, model id, predicted at, value, probabilities.
PredictionRow = tuple[str, str, int, float | None, bytes | None]

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


# --------------------------------------------------------------------------- conversion


def _reordered(
    deployment: Deployment, names: Sequence[str] | None, predictions: Sequence[Any]
) -> Sequence[Any]:
    """Rows of probabilities in the deployment's class order (a missing class gets 0.0)."""
    wanted = deployment.class_names
    if not names or not wanted or list(names) == list(wanted):
        return predictions
    order = [names.index(c) if c in names else None for c in wanted]
    reordered: list[Any] = []
    for row in predictions:
        try:
            reordered.append([0.0 if i is None else row[i] for i in order])
        except (IndexError, KeyError, TypeError):  # too short or not a list: unusable
            reordered.append(None)
    return reordered


def _probability_matrix(predictions: Any, width: int) -> npt.NDArray[np.float64] | None:
    """``predictions`` as an (n, width) float64 array when every row fits, else ``None``."""
    try:
        matrix = np.asarray(predictions, dtype=np.float64)
    except (ValueError, TypeError):  # ragged rows, text, nested lists
        return None
    return matrix if matrix.ndim == 2 and matrix.shape[1] == width else None


def _probability_row(row: Any, width: int) -> npt.NDArray[np.float64] | None:
    if not isinstance(row, list | tuple) or len(row) != width:
        return None
    try:
        values = np.asarray(row, dtype=np.float64)
    except (ValueError, TypeError):
        return None
    return values if values.ndim == 1 and bool(np.isfinite(values).all()) else None


def prediction_columns(
    deployment: Deployment, predictions: Sequence[Any], class_names: Sequence[str] | None = None
) -> tuple[list[float | None], list[bytes | None]]:
    """``predicted_value`` and ``probabilities`` of each prediction (probabilities in
    ``class_names`` order, the deployment's when not given)."""
    rows = predictions
    n = len(rows)
    if deployment.target_type == "regression":
        values = [_number(p) for p in rows]
        return values, [None] * n
    width = len(deployment.class_names)
    if not width:  # no class names: no prediction can be matched to a class
        return [None] * n, [None] * n
    rows = _reordered(deployment, class_names, rows)
    matrix = _probability_matrix(rows, width)
    binary = deployment.target_type == "binary"
    if matrix is not None and bool(np.isfinite(matrix).all()):
        if binary:
            return matrix[:, 1].tolist(), [None] * n
        packed = matrix.astype(PROBABILITY_DTYPE).tobytes()
        size = width * PROBABILITY_DTYPE.itemsize
        return [None] * n, [packed[i : i + size] for i in range(0, len(packed), size)]
    usable = [_probability_row(row, width) for row in rows]
    if binary:
        return [None if r is None else float(r[1]) for r in usable], [None] * n
    return [None] * n, [
        None if r is None else r.astype(PROBABILITY_DTYPE).tobytes() for r in usable
    ]


def _number(value: Any) -> float | None:
    # JSON numbers only (booleans count, as they always have); never a non-finite value.
    if not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def prediction_rows(
    deployment: Deployment, model_id: str, predicted_at: int, item: Mapping[str, Any]
) -> list[PredictionRow]:
    """The accuracy rows of one ``predictionInputs`` item with association ids."""
    values, packed = prediction_columns(deployment, item["predictions"], item.get("classNames"))
    ids = list(map(str, item["associationIds"]))
    n = len(ids)  # one per prediction (checked by validation)
    return list(zip(ids, repeat(model_id, n), repeat(predicted_at, n), values, packed, strict=True))


def actual_columns(value: Any) -> tuple[str, float | None]:
    """``actual_label`` and ``actual_value`` of an actual as reported."""
    return str(value), _number(value)


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


def actual_rows(items: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """The rows of ``actuals`` items: association id, then :data:`_ACTUAL_COLUMNS`; the last
    item of an association id wins (an id appears at most once)."""
    latest: dict[str, tuple[Any, ...]] = {}
    for item in items:
        label, value = actual_columns(item["actualValue"])
        at = _seconds(item.get("timestamp"))
        aid = str(item["associationId"])
        latest.pop(aid, None)  # keep the order of the last reports
        latest[aid] = (aid, label, value, at, item.get("wasActedOn"))
    return list(latest.values())


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


def _seconds(timestamp: Any) -> int | None:
    if not isinstance(timestamp, str):
        return None
    try:
        return int(parse_timestamp(timestamp).timestamp())
    except ValueError:
        return None


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class JoinedRows:
    """Joined predictions and actuals that fit the deployment, as arrays.

    ``predictions`` is (n,) for regression (values) and binary (the probability of
    ``class_names[1]``), (n, classes) for multiclass; ``actuals`` holds numbers (regression)
    or class labels (object array of text).
    """

    predicted_at: npt.NDArray[np.int64]
    predictions: npt.NDArray[np.float64]
    actuals: npt.NDArray[Any]

    def __len__(self) -> int:
        return int(self.predicted_at.size)

    def subset(self, mask: npt.NDArray[np.bool_]) -> JoinedRows:
        """The rows where ``mask`` is true."""
        return JoinedRows(self.predicted_at[mask], self.predictions[mask], self.actuals[mask])


@dataclass(frozen=True, slots=True)
class AccuracyBacklog:
    """Predictions in a period still waiting for an actual; actuals without a prediction."""

    waiting: int
    orphans: int


def _usable(deployment: Deployment) -> list[ColumnElement[bool]]:
    t = schema.accuracy_rows
    if deployment.target_type == "regression":
        return [t.c.predicted_value.is_not(None), t.c.actual_value.is_not(None)]
    column = t.c.probabilities if deployment.target_type == "multiclass" else t.c.predicted_value
    return [column.is_not(None), t.c.actual_label.in_(list(deployment.class_names))]


def _in_period(
    deployment: Deployment, start: int, end: int, model_id: str | None
) -> list[ColumnElement[bool]]:
    t = schema.accuracy_rows
    where = [t.c.deployment_id == deployment.id, t.c.predicted_at >= start, t.c.predicted_at < end]
    if model_id is not None:
        where.append(t.c.model_id == model_id)
    return where


def _arrays(deployment: Deployment, rows: Iterable[Sequence[Any]]) -> JoinedRows:
    """Rows of (predicted_at, predicted_value, probabilities, actual_label, actual_value)."""
    rows = list(rows)
    at = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    if deployment.target_type == "multiclass":
        width = len(deployment.class_names)
        packed = b"".join(bytes(r[2]) for r in rows)
        predictions = np.frombuffer(packed, dtype=PROBABILITY_DTYPE).astype(np.float64)
        predictions = predictions.reshape(len(rows), width)
    else:
        predictions = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
    if deployment.target_type == "regression":
        actuals: npt.NDArray[Any] = np.fromiter((r[4] for r in rows), np.float64, len(rows))
    else:
        actuals = np.array([r[3] for r in rows], dtype=object)
    return JoinedRows(at, predictions, actuals)


def _joined_columns() -> list[Any]:
    t = schema.accuracy_rows
    return [t.c.predicted_at, t.c.predicted_value, t.c.probabilities, t.c.actual_label]


def joined_rows(
    conn: Connection, deployment: Deployment, start: int, end: int, model_id: str | None
) -> JoinedRows:
    """The usable joined rows predicted in [start, end) (of one model when given)."""
    t = schema.accuracy_rows
    query = select(*_joined_columns(), t.c.actual_value).where(
        *_in_period(deployment, start, end, model_id), t.c.actual_label.is_not(None)
    )
    return _arrays(deployment, conn.execute(query.where(*_usable(deployment))))


def reference_rows(conn: Connection, deployment: Deployment, limit: int) -> JoinedRows:
    """The usable rows among the deployment's first ``limit`` joined predictions (by
    prediction time, then association id)."""
    t = schema.accuracy_rows
    first = (
        select(*_joined_columns(), t.c.actual_value, *_usable_flags(deployment))
        .where(
            t.c.deployment_id == deployment.id,
            t.c.actual_label.is_not(None),
            t.c.predicted_at.is_not(None),
        )
        .order_by(t.c.predicted_at, t.c.association_id)
        .limit(limit)
        .subquery()
    )
    rows = conn.execute(select(first).where(first.c.usable == 1)).all()
    return _arrays(deployment, rows)


def _usable_flags(deployment: Deployment) -> list[Any]:
    return [case((and_(*_usable(deployment)), 1), else_=0).label("usable")]


def accuracy_backlog(
    conn: Connection, deployment: Deployment, start: int, end: int, model_id: str | None
) -> AccuracyBacklog:
    """How many predictions in [start, end) wait for an actual, and how many of the
    deployment's actuals have no prediction yet."""
    t = schema.accuracy_rows
    waiting = conn.execute(
        select(func.count())
        .select_from(t)
        .where(*_in_period(deployment, start, end, model_id), t.c.actual_label.is_(None))
    ).scalar_one()
    orphans = conn.execute(
        select(func.count())
        .select_from(t)
        .where(t.c.deployment_id == deployment.id, t.c.predicted_at.is_(None))
    ).scalar_one()
    return AccuracyBacklog(int(waiting), int(orphans))
