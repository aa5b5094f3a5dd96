"""Turn a model's features and predictions into the plain Python columns a record carries.

Inputs come as a pandas DataFrame (pandas is optional and never imported here: a DataFrame
can only exist if the caller imported pandas), a mapping of column name to values, or a numpy
structured array (converted in :mod:`spoolwatch.report.columns`); predictions as a list or a
numpy array. The output is plain Python: numpy
scalars unwrapped, ``Decimal`` as ``float``, missing values (``None``, NaN, ``pd.NA``,
``NaT``) as ``None``, which the JSON envelope writes as ``null``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import chain
from typing import Any, Literal, cast

import numpy as np

from spoolwatch.records.bounds import VALUE_MAX, value_problem
from spoolwatch.report.columns import feature_columns, is_missing, plain_scalar
from spoolwatch.report.errors import ReportError

__all__ = [
    "Predictions",
    "convert_class_names",
    "convert_predictions",
    "convert_strings",
    "feature_columns",
    "is_missing",
    "nan_rows",
    "plain_scalar",
]

PredictionKind = Literal["regression", "classification", "text"]


@dataclass(frozen=True, slots=True)
class Predictions:
    """Predictions as plain Python values, with their kind (decided by the first row)."""

    kind: PredictionKind
    values: list[Any]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _regression_value(value: object, index: int) -> Any:
    if value is None:
        return math.nan
    if not _is_number(value):
        raise ReportError(
            "predictions", f"row {index}: {value!r} is not a number (regression predictions)"
        )
    number = value.item() if isinstance(value, np.generic) else value
    # NaN means "no prediction" (the row is removed); anything else must be in the bounds.
    problem = None if number != number else value_problem(cast(float, number))
    if problem is not None:
        raise ReportError("predictions", f"row {index}: {problem}")
    return number


def _probability_row(row: object, index: int, width: int) -> list[float]:
    if isinstance(row, np.ndarray):
        row = row.tolist()
    if not isinstance(row, list | tuple):
        raise ReportError("predictions", f"row {index}: expected a list of class probabilities")
    if len(row) != width:
        raise ReportError(
            "predictions", f"row {index}: {len(row)} probabilities, row 0 has {width}"
        )
    out: list[float] = []
    for value in row:
        if not _is_number(value):
            raise ReportError("predictions", f"row {index}: {value!r} is not a probability")
        number = float(value)
        if not math.isnan(number) and not 0.0 <= number <= 1.0:
            raise ReportError("predictions", f"row {index}: probability {number} not in [0, 1]")
        out.append(number)
    return out


def _as_list(predictions: object) -> list[Any]:
    to_numpy = getattr(predictions, "to_numpy", None)
    if callable(to_numpy) and not isinstance(predictions, np.ndarray):
        predictions = to_numpy()
    if isinstance(predictions, np.ndarray):
        if predictions.ndim not in (1, 2):
            raise ReportError("predictions", f"expected 1 or 2 dimensions, got {predictions.ndim}")
        if predictions.dtype.kind in "bMm":
            raise ReportError("predictions", f"unsupported dtype {predictions.dtype}")
        if predictions.dtype.kind == "O":
            return list(predictions)
        values: list[Any] = predictions.tolist()
        return values
    if isinstance(predictions, list | tuple):
        return list(predictions)
    raise ReportError(
        "predictions", f"expected a list or a numpy array, got {type(predictions).__name__}"
    )


_REGRESSION_TYPES: frozenset[type] = frozenset({float, int})
_STR: frozenset[type] = frozenset({str})
_ROW_TYPES: frozenset[type] = frozenset({list, tuple})


def _regression_values(values: list[Any]) -> list[Any] | None:
    """The whole list when every value is a plain float or int within the bounds, checked as
    one numpy array; ``None`` sends the list through the value-by-value path."""
    if not set(map(type, values)) <= _REGRESSION_TYPES:
        return None
    try:
        column = np.array(values, dtype=np.float64)
    except OverflowError:
        return None
    finite = column[~np.isnan(column)]
    if finite.size and np.abs(finite).max() > VALUE_MAX:
        return None
    return values


def _probability_rows(values: list[Any], width: int) -> list[list[float]] | None:
    """All rows as lists of floats when they are lists or tuples of ``width`` plain numbers
    in [0, 1] (or NaN), checked as one numpy array; ``None`` sends them row by row."""
    if not set(map(type, values)) <= _ROW_TYPES or set(map(len, values)) != {width}:
        return None
    if not set(map(type, chain.from_iterable(values))) <= _REGRESSION_TYPES:
        return None
    try:
        grid = np.array(values, dtype=np.float64)
    except OverflowError:
        return None
    if np.any((grid < 0.0) | (grid > 1.0)):  # NaN fails both comparisons: it stays
        return None
    rows: list[list[float]] = grid.tolist()
    return rows


def convert_predictions(predictions: object, class_names: list[str] | None) -> Predictions:
    """Validate and convert predictions: numbers (regression), probability rows, or strings."""
    values = _as_list(predictions)
    if not values:
        raise ReportError("predictions", "is empty")
    first = values[0]
    if isinstance(first, list | tuple | np.ndarray):
        width = len(first)
        if width < 2:
            raise ReportError("predictions", "classification rows need at least 2 probabilities")
        if class_names is not None and width != len(class_names):
            raise ReportError(
                "predictions",
                f"{width} probabilities per row but {len(class_names)} class_names",
            )
        rows = _probability_rows(values, width)
        if rows is None:
            rows = [_probability_row(row, i, width) for i, row in enumerate(values)]
        return Predictions("classification", rows)
    if class_names is not None:
        raise ReportError("class_names", "given, but predictions are not class probabilities")
    if isinstance(first, str):
        if set(map(type, values)) <= _STR:
            return Predictions("text", values)
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise ReportError("predictions", f"row {index}: {value!r} is not a string")
        return Predictions("text", [str(value) for value in values])
    plain = _regression_values(values)
    if plain is not None:
        return Predictions("regression", plain)
    return Predictions("regression", [_regression_value(v, i) for i, v in enumerate(values)])


def nan_rows(predictions: Predictions) -> list[int]:
    """Indices of rows whose prediction is NaN (regression) or holds a NaN probability."""
    if predictions.kind == "regression":
        total = sum(predictions.values)  # NaN only when a prediction is NaN (values are bounded)
        if total == total:
            return []
        column = np.array(predictions.values, dtype=np.float64)
        return [int(i) for i in np.flatnonzero(np.isnan(column))]
    if predictions.kind == "classification":
        grid = np.array(predictions.values, dtype=np.float64)  # validated: rows of one width
        return [int(i) for i in np.flatnonzero(np.isnan(grid).any(axis=1))]
    return []


def convert_strings(values: object, argument: str) -> list[str]:
    """A list of strings from a list, tuple, numpy array or pandas Series."""
    to_numpy = getattr(values, "to_numpy", None)
    if callable(to_numpy) and not isinstance(values, np.ndarray):
        values = to_numpy()
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(values, list | tuple):
        raise ReportError(argument, f"expected a list of strings, got {type(values).__name__}")
    if set(map(type, values)) <= _STR:
        return list(values)
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise ReportError(
                argument, f"item {index} is {value!r} ({type(value).__name__}), not a string"
            )
    return [str(value) for value in values]


def convert_class_names(class_names: object) -> list[str] | None:
    """``None``, or a list of at least two class names."""
    if class_names is None:
        return None
    names = convert_strings(class_names, "class_names")
    if len(names) < 2:
        raise ReportError("class_names", f"needs at least 2 names, got {len(names)}")
    return names
