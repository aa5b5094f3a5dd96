"""What an accuracy row stores of a prediction and of an actual, converted from a request.

A prediction is stored as what the accuracy metrics read from it, in the deployment's
shape, never as JSON: a regression value or a binary model's probability of
``class_names[1]`` in ``predicted_value`` (REAL), a multiclass model's probabilities in the
deployment's class order in ``probabilities`` (little-endian float64, one per class). An
actual is stored as its text (``actual_label``, what class labels are compared with; set for
every actual, so it marks a row as joined) and, when it is a number, as ``actual_value``. A
prediction that does not fit the deployment (a list for a regression model, the wrong number
of probabilities, a non-finite value) keeps its row with neither value: it counts as a
prediction but never enters a metric.

The rows are written by :mod:`spoolwatch.store.accuracy` and read back as arrays by
:mod:`spoolwatch.store.accuracy_joined`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from spoolwatch.records.timestamps import parse_timestamp
from spoolwatch.store.deployment import Deployment

__all__ = [
    "PROBABILITY_DTYPE",
    "PredictionRow",
    "actual_columns",
    "actual_rows",
    "prediction_columns",
    "prediction_rows",
]

#: How probabilities are packed: little-endian float64, whatever the machine.
PROBABILITY_DTYPE = np.dtype("<f8")

#: One prediction's row: association id, model id, predicted at, value, probabilities.
PredictionRow = tuple[str, str, int, float | None, bytes | None]


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


def actual_rows(items: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """The rows of ``actuals`` items: association id, ``actual_label``, ``actual_value``,
    ``actual_at``, ``was_acted_on``; the last
    item of an association id wins (an id appears at most once)."""
    latest: dict[str, tuple[Any, ...]] = {}
    for item in items:
        label, value = actual_columns(item["actualValue"])
        at = _seconds(item.get("timestamp"))
        aid = str(item["associationId"])
        latest.pop(aid, None)  # keep the order of the last reports
        latest[aid] = (aid, label, value, at, item.get("wasActedOn"))
    return list(latest.values())


def _seconds(timestamp: Any) -> int | None:
    if not isinstance(timestamp, str):
        return None
    try:
        return int(parse_timestamp(timestamp).timestamp())
    except ValueError:
        return None
