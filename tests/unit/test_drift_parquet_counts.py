"""``spoolwatch drift`` reading Parquet in batches gives the answers of the whole-frame path.

The straightforward computation is the one the command made before it streamed: the whole
file through ``pandas.read_parquet``, every column as a float64 or an object array, then
:func:`drift_between`. Both must agree to the count on numbers with NaN and nulls, integers,
strings with missing values and categories unseen in the reference, booleans, more
categories than the cap, and columns of other types.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from spoolwatch.cli import app
from spoolwatch.cli.drift import ParquetSource, _columns
from spoolwatch.monitoring import Baseline, compute_drift, drift_between
from spoolwatch.monitoring.binning import category_frequencies, count_categories


def _frame(rng: np.random.Generator, n: int, shifted: bool) -> pd.DataFrame:
    letters = np.array(list("abcdefghij") + (["new", "other"] if shifted else []), dtype=object)
    city = letters[rng.integers(0, letters.size, n)]
    city[rng.random(n) < 0.05] = None
    many = np.array([f"k{i}" for i in rng.integers(0, 80, n)], dtype=object)
    x = rng.normal(1.0 if shifted else 0.0, 1.0, n)
    x[rng.random(n) < 0.03] = np.nan
    day = [dt.date(2026, 1, 1 + int(d)) for d in rng.integers(0, 5, n)]
    return pd.DataFrame(
        {
            "x": x,
            "count": rng.poisson(3.0, n),
            "flag": rng.random(n) < (0.6 if shifted else 0.5),
            "city": city,
            "many": many,
            "code": rng.integers(0, 4, n).astype(np.float64),
            "day": day,
        }
    )


def _write(frame: pd.DataFrame, path: Path, nulls_in: str | None = None) -> Path:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if nulls_in is not None:  # integers with nulls: stay integers in Parquet
        column = table.column(nulls_in).to_pylist()
        column[::11] = [None] * len(column[::11])
        index = table.schema.get_field_index(nulls_in)
        table = table.set_column(index, nulls_in, pa.array(column, pa.int64()))
    pq.write_table(table, path, row_group_size=300)
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(7)
    reference = _write(_frame(rng, 2000, False), tmp_path / "reference.parquet", "count")
    current = _write(_frame(rng, 3000, True), tmp_path / "current.parquet", "count")
    return reference, current


def _whole_frame_report(reference: Path, current: Path, **options: object) -> dict[str, object]:
    ref, cur = _columns(pd.read_parquet(reference)), _columns(pd.read_parquet(current))
    return drift_between(ref, cur, **options).to_dict()  # type: ignore[arg-type]


@pytest.mark.parametrize("batch_rows", [1, 7, 1000, 1 << 17])
@pytest.mark.parametrize(
    "kinds", [{}, {"code": "categorical", "count": "categorical"}, {"flag": "numeric"}]
)
def test_batched_parquet_counts_equal_the_whole_frame_computation(
    files: tuple[Path, Path], batch_rows: int, kinds: dict[str, str]
) -> None:
    reference, current = files
    ref, cur = ParquetSource(reference), ParquetSource(current)
    features = {n: ref.feature(n, kinds.get(n), 10, 50) for n in ref.names}
    report = compute_drift(Baseline(features), cur.counts(features, batch_rows=batch_rows))
    expected = _whole_frame_report(reference, current, kinds=kinds)
    assert report.to_dict() == expected
    city = report.feature("city")
    assert city.current_counts[-2] > 0 and city.current_counts[-1] > 0  # unseen, missing
    assert report.feature("x").current_counts[-1] > 0  # NaN and nulls count as missing


def test_cli_json_on_parquet_equals_the_whole_frame_computation(files: tuple[Path, Path]) -> None:
    reference, current = files
    args = ["drift", "--reference", str(reference), "--current", str(current), "--json"]
    result = CliRunner().invoke(app, [*args, "--max-categories", "20", "--bins", "7"])
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    expected = _whole_frame_report(reference, current, n_bins=7, max_categories=20)
    assert {k: v for k, v in report.items() if k in expected} == orjson.loads(
        orjson.dumps(expected)
    )
    assert {f["name"] for f in report["features"] if f["status"] != "green"} >= {"x", "city"}


def test_distinct_values_that_are_one_category_are_added_up() -> None:
    uniques = [3, 3.0, "3", None, float("nan"), True, "a"]
    assert category_frequencies(uniques, [2, 1, 1, 1, 1, 1, 2]) == {
        "3": 4,
        None: 2,
        "True": 1,
        "a": 2,
    }
    floats = np.array([1.0, 1.0, np.nan, 2.5])
    assert count_categories(floats) == {"1": 2, None: 1, "2.5": 1}
