"""Feature columns: a DataFrame, a mapping of columns or a structured array → plain lists.

pandas and pyarrow are never imported here: a DataFrame or an Arrow-backed column can only
exist if the caller imported them, so they are recognised through ``sys.modules``.

Every column is converted whole: numpy arrays with ``tolist()``, Arrow-backed columns with
pyarrow's ``to_pylist()`` (missing values come out as ``None``), lists as they are. The types
of a column's values are then checked at once (``set(map(type, values))``); a column of plain
``str``/``int``/``float``/``bool``/``None`` needs nothing more than its NaNs turned into
``None``, found by one numpy comparison. Only a column holding something else (numpy
scalars, ``Decimal``, ``pd.NA``, an unsupported type) is converted value by value, which also
names the first bad row.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import numpy as np

from spoolwatch.report.errors import ReportError

__all__ = ["feature_columns", "is_missing", "plain_scalar"]

# pandas' missing-value singletons, recognised by type name so pandas need not be imported.
_MISSING_TYPE_NAMES = frozenset({"NAType", "NaTType"})
#: Value types a column may hold as they are (exact types: subclasses take the slow path).
_PLAIN: frozenset[type] = frozenset({str, int, float, bool, type(None)})
_NUMBERS: frozenset[type] = frozenset({int, float, bool})
_DATETIME_UNSUPPORTED = "datetime columns are not supported; format them as strings"


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


def _nan_to_none(values: list[Any]) -> list[Any]:
    """``values`` with every NaN replaced by ``None``, in place (NaN is the one value that is
    not equal to itself; numpy compares the whole column in one call)."""
    column = np.array(values, dtype=object)
    for index in np.flatnonzero(column != column).tolist():
        values[index] = None
    return values


def _may_hold_nan(values: list[Any], kinds: set[type]) -> bool:
    if float not in kinds:
        return False
    if kinds <= _NUMBERS:
        # The sum of numbers is NaN only if one of them is NaN (or inf meets -inf): one C loop
        # clears most columns before any numpy array is made.
        try:
            total = sum(values)
        except OverflowError:
            return True
        return bool(total != total)
    return True


def _plain_list(values: list[Any], where: str) -> list[Any]:
    """A list of plain values from a list the caller gave or ``tolist()`` made (owned here)."""
    kinds = set(map(type, values))
    if kinds <= _PLAIN:
        return _nan_to_none(values) if _may_hold_nan(values, kinds) else values
    return [plain_scalar(v, f"{where} row {i}") for i, v in enumerate(values)]


def _array_values(values: np.ndarray, where: str) -> list[Any]:
    if values.ndim != 1:
        raise ReportError(where, f"a column must be one-dimensional, got shape {values.shape}")
    kind = values.dtype.kind
    if kind in "Mm":
        raise ReportError(where, _DATETIME_UNSUPPORTED)
    out: list[Any] = values.tolist()
    if kind in "biuU":
        return out
    if kind == "f":
        total = sum(out)  # NaN only when a value is NaN (or inf meets -inf)
        if total != total:
            for index in np.flatnonzero(np.isnan(values)).tolist():
                out[index] = None
        return out
    return _plain_list(out, where)


def _extension_values(values: Any, pandas: Any, where: str) -> list[Any]:
    """A pandas extension array (Arrow-backed, nullable, categorical, ...) as plain values."""
    kind = getattr(values.dtype, "kind", "O")
    if kind in "Mm":
        raise ReportError(where, _DATETIME_UNSUPPORTED)
    arrow_array = getattr(pandas.arrays, "ArrowExtensionArray", None)
    if arrow_array is not None and isinstance(values, arrow_array) and kind not in "iu":
        # pyarrow's to_pylist() writes missing values as None in one C loop. Integers keep
        # to_numpy(), which makes a column with missing values floats, as it always has.
        return _plain_list(values.__arrow_array__().to_pylist(), where)
    return _array_values(values.to_numpy(), where)


def _column_values(name: str, values: object) -> list[Any]:
    where = f"features_df[{name!r}]"
    if isinstance(values, np.ndarray):
        return _array_values(values, where)
    if type(values) is list:
        return _plain_list(values.copy(), where)  # the record must not change with the input
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        if isinstance(values, pandas.Series | pandas.Index):
            values = values.array
        if isinstance(values, pandas.api.extensions.ExtensionArray):
            return _extension_values(values, pandas, where)
    to_numpy = getattr(values, "to_numpy", None)
    if callable(to_numpy):
        values = to_numpy()
        if isinstance(values, np.ndarray):
            return _array_values(values, where)
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ReportError(where, f"expected a sequence of values, got {type(values).__name__}")
    return _plain_list(list(values), where)


def _frame_columns(frame: Any) -> Iterator[tuple[object, object]]:
    """A DataFrame's (name, column array) pairs without building a Series per column.

    ``DataFrame.items()`` builds a Series for every column, which costs more than converting
    the column; ``_iter_column_arrays`` (pandas 1.3 and later, what ``items()`` itself uses)
    yields the arrays. Older or other versions fall back to ``items()``.
    """
    arrays = getattr(frame, "_iter_column_arrays", None)
    if arrays is None:
        return iter(frame.items())
    return zip(_names(frame.columns), arrays(), strict=True)


def _names(index: Any) -> list[Any]:
    """An Index as a list; an Arrow-backed one (pandas 3's strings) through pyarrow, which
    is several times faster than iterating it."""
    values = index.array
    if "pyarrow" in sys.modules and hasattr(values, "__arrow_array__"):
        names: list[Any] = values.__arrow_array__().to_pylist()
        return names
    return list(index.tolist())


def _feature_items(features: object) -> Iterable[tuple[object, object]]:
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(features, pandas.DataFrame):
        if features.columns.has_duplicates:
            raise ReportError("features_df", "the DataFrame has duplicate column names")
        return _frame_columns(features)
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
        if type(name) is not str:
            if not isinstance(name, str):
                raise ReportError(
                    "features_df",
                    f"column names must be strings, got {name!r} ({type(name).__name__})",
                )
            name = str(name)
        columns[name] = _column_values(name, values)
    if not columns:
        raise ReportError("features_df", "has no columns")
    lengths = set(map(len, columns.values()))
    if len(lengths) > 1:
        sizes = {name: len(values) for name, values in columns.items()}
        raise ReportError("features_df", f"columns have different lengths: {sizes}")
    return columns
