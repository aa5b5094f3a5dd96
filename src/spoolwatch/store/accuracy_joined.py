"""Reading joined accuracy rows back: the usable rows of a period or of the reference, as
arrays the metrics take, and the counts of predictions still waiting for an actual and of
actuals without a prediction.

The rows are stored by :mod:`spoolwatch.store.accuracy` in the form
:mod:`spoolwatch.store.accuracy_columns` describes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, Connection, and_, case, func, select

from spoolwatch.store import schema
from spoolwatch.store.accuracy_columns import PROBABILITY_DTYPE
from spoolwatch.store.deployment import Deployment

__all__ = ["AccuracyBacklog", "JoinedRows", "accuracy_backlog", "joined_rows", "reference_rows"]


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
