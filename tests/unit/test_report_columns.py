"""``report.columns.feature_columns`` converts whole columns; its answer must be what
converting every cell on its own (``plain_scalar``) gives, for every kind of column."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from spoolwatch.report.columns import feature_columns, plain_scalar
from spoolwatch.report.errors import ReportError


def _cell_by_cell(frame: pd.DataFrame) -> dict[str, list[Any]]:
    return {
        str(name): [
            plain_scalar(v, f"{name}[{i}]") for i, v in enumerate(frame[name].astype(object))
        ]
        for name in frame.columns
    }


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 25
    floats = rng.normal(size=n)
    floats[[2, 9]] = np.nan
    return pd.DataFrame(
        {
            "float": floats,
            "float32": floats.astype(np.float32),
            "int": rng.integers(-1000, 1000, n),
            "uint8": rng.integers(0, 255, n).astype(np.uint8),
            "nullable_int": pd.array([None if i % 5 == 0 else i for i in range(n)], dtype="Int64"),
            "bool": rng.random(n) < 0.5,
            "nullable_bool": pd.array(
                [None if i % 4 == 0 else i % 2 == 0 for i in range(n)], dtype="boolean"
            ),
            "object_str": [None if i % 6 == 0 else f"s{i % 3}" for i in range(n)],
            "category": pd.Categorical([f"c{i % 4}" for i in range(n)]),
            "arrow_str": pd.array(
                [None if i % 7 == 0 else f"a{i}" for i in range(n)], dtype="string[pyarrow]"
            ),
            "python_str": pd.array(
                [None if i % 7 == 0 else f"p{i}" for i in range(n)], dtype="string[python]"
            ),
            "numpy_scalars": pd.Series(
                [np.float64(i) if i % 2 else np.int64(i) for i in range(n)], dtype=object
            ),
            "decimal": pd.Series([Decimal(i) / 4 for i in range(n)], dtype=object),
            "mixed": pd.Series([i if i % 3 else f"x{i}" for i in range(n)], dtype=object),
        }
    )


def test_every_column_kind_converts_as_cell_by_cell() -> None:
    frame = _frame()
    assert feature_columns(frame) == _cell_by_cell(frame)


def test_a_mapping_of_columns_converts_as_the_frame() -> None:
    frame = _frame()
    as_lists = {str(name): frame[name].tolist() for name in frame.columns}
    as_arrays = {str(name): frame[name].to_numpy() for name in frame.columns}
    expected = _cell_by_cell(frame)
    assert feature_columns(as_lists) == expected
    assert feature_columns(as_arrays) == expected


def test_nan_and_none_become_none() -> None:
    frame = pd.DataFrame({"x": [1.0, float("nan"), 3.0], "y": ["a", None, "c"]})
    assert feature_columns(frame) == {"x": [1.0, None, 3.0], "y": ["a", None, "c"]}


@pytest.mark.parametrize(
    "column",
    [
        pd.to_datetime(["2026-01-01", "2026-01-02"]),
        pd.to_datetime(["2026-01-01", "2026-01-02"]).tz_localize("UTC"),
        pd.Series([object(), object()], dtype=object),
    ],
)
def test_unsupported_columns_are_refused_naming_the_column(column: Any) -> None:
    with pytest.raises(ReportError) as refused:
        feature_columns(pd.DataFrame({"when": column}))
    assert "when" in str(refused.value)
