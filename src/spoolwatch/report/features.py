"""Turn a model's features and predictions into the plain Python columns a record carries.

Inputs come as a pandas DataFrame (pandas is optional and never imported here: a DataFrame
can only exist if the caller imported pandas), a mapping of column name to values, or a numpy
structured array; predictions as a list or a numpy array. The output is plain Python: numpy
scalars unwrapped, ``Decimal`` as ``float``, missing values (``None``, NaN, ``pd.NA``,
``NaT``) as ``None``, which the JSON envelope writes as ``null``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, cast

import numpy as np

from spoolwatch.records.bounds import value_problem
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

# pandas' missing-value singletons, recognised by type name so pandas need not be imported.
_MISSING_TYPE_NAMES = frozenset({"NAType", "NaTType"})


def is_missing(value: object) -> bool:
    """Whether a value means "no value": None, NaN, ``pd.NA`` or ``NaT``."""
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return bool(value != value)
    return type(value).__name__ in _MISSING_TYPE_NAMES


def plain_scalar(value: object, where: str) -> Any:
    """A JSON-ready feature value, or :class:`ReportError` naming ``where`` for other types."""
    if is_missing(value):
        return None
    if isinstance(value, np.generic):
        if isinstance(value, np.datetime64 | np.timedelta64):
            raise ReportError(
                where,
                f"unsupported value {value!r}: features must be numbers, "
                "booleans or strings (format dates as strings)",
            )
        value = value.item()
        if is_missing(value):
            return None
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Decimal):
        number = float(value)
        return None if math.isnan(number) else number
    raise ReportError(
        where,
        f"unsupported value {value!r} of type {type(value).__name__}: features must be "
        "numbers, booleans, strings or missing (format dates as strings)",
    )


def _column_values(name: str, values: object) -> list[Any]:
    where = f"features_df[{name!r}]"
    to_numpy = getattr(values, "to_numpy", None)
    if callable(to_numpy) and not isinstance(values, np.ndarray):
        values = to_numpy()
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ReportError(where, f"a column must be one-dimensional, got shape {values.shape}")
        kind = values.dtype.kind
        if kind in "biuU":
            return list(values.tolist())
        if kind == "f":
            out: list[Any] = values.tolist()
            for index in np.flatnonzero(np.isnan(values)).tolist():
                out[index] = None
            return out
        if kind in "Mm":
            raise ReportError(where, "datetime columns are not supported; format them as strings")
        values = list(values)
    elif isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ReportError(where, f"expected a sequence of values, got {type(values).__name__}")
    return [plain_scalar(v, f"{where} row {i}") for i, v in enumerate(values)]


def _feature_items(features: object) -> Iterable[tuple[object, object]]:
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(features, pandas.DataFrame):
        if features.columns.has_duplicates:
            raise ReportError("features_df", "the DataFrame has duplicate column names")
        items: Iterable[tuple[object, object]] = features.items()
        return items
    if isinstance(features, np.ndarray):
        names = features.dtype.names
        if not names:
            raise ReportError(
                "features_df",
                "a plain numpy array has no column names; pass a pandas DataFrame, a mapping "
                "of column name to values, or a numpy structured array",
            )
        return [(name, features[name]) for name in names]
    if isinstance(features, Mapping):
        return features.items()
    raise ReportError(
        "features_df",
        f"expected a pandas DataFrame, a mapping of column name to values or a numpy "
        f"structured array, got {type(features).__name__}",
    )


def feature_columns(features: object) -> dict[str, list[Any]]:
    """Column name → list of plain values, in the input's column order; all columns equal length."""
    columns: dict[str, list[Any]] = {}
    for name, values in _feature_items(features):
        if not isinstance(name, str):
            raise ReportError(
                "features_df",
                f"column names must be strings, got {name!r} ({type(name).__name__})",
            )
        columns[name] = _column_values(name, values)
    if not columns:
        raise ReportError("features_df", "has no columns")
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ReportError("features_df", f"columns have different lengths: {lengths}")
    return columns


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
        return list(predictions.tolist()) if predictions.dtype.kind != "O" else list(predictions)
    if isinstance(predictions, list | tuple):
        return list(predictions)
    raise ReportError(
        "predictions", f"expected a list or a numpy array, got {type(predictions).__name__}"
    )


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
        rows = [_probability_row(row, i, width) for i, row in enumerate(values)]
        return Predictions("classification", rows)
    if class_names is not None:
        raise ReportError("class_names", "given, but predictions are not class probabilities")
    if isinstance(first, str):
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise ReportError("predictions", f"row {index}: {value!r} is not a string")
        return Predictions("text", [str(value) for value in values])
    return Predictions("regression", [_regression_value(v, i) for i, v in enumerate(values)])


def nan_rows(predictions: Predictions) -> list[int]:
    """Indices of rows whose prediction is NaN (regression) or holds a NaN probability."""
    if predictions.kind == "regression":
        return [i for i, v in enumerate(predictions.values) if isinstance(v, float) and v != v]
    if predictions.kind == "classification":
        return [i for i, row in enumerate(predictions.values) if any(p != p for p in row)]
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
