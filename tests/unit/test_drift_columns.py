"""Columns of a drift group binned together count exactly what binning each alone counts."""

from __future__ import annotations

import numpy as np
import pytest

from spoolwatch.errors import InvalidRecord
from spoolwatch.monitoring.baseline import Baseline
from spoolwatch.monitoring.histogram import DriftAggregate
from spoolwatch.store.drift_columns import PendingColumns

BASELINE = Baseline.from_columns(
    {"x": [float(i) for i in range(100)], "color": ["red", "blue", "green", "red"] * 25}
)
COLUMNS = [
    ("x", [1.0, 50.0, None, "text", 1e9]),
    ("color", ["red", None, "violet", 3]),
    ("x", [-5.0, True, 99.5]),
    ("color", ["blue", "blue"]),
]


def _alone() -> DriftAggregate:
    aggregate = DriftAggregate()
    for name, values in COLUMNS:
        aggregate.add(BASELINE, {name: values})
    return aggregate


def test_joined_columns_count_what_each_column_counts_alone() -> None:
    aggregate = DriftAggregate()
    pending = PendingColumns(aggregate)
    for index, (name, values) in enumerate(COLUMNS):
        pending.add(BASELINE.features[name], values, f"data.{index}.features.0.values")
    pending.flush()
    expected = _alone()
    assert set(aggregate.features) == set(expected.features)
    for name, counts in expected.features.items():
        np.testing.assert_array_equal(aggregate.features[name], counts)


@pytest.mark.parametrize(
    ("name", "bad"), [("color", [["a"], ["b"]]), ("x", [[1.0, 2.0], [3.0, 4.0]])]
)
def test_a_column_that_cannot_be_binned_is_named_even_among_good_ones(
    name: str, bad: list[object]
) -> None:
    pending = PendingColumns(DriftAggregate())
    with pytest.raises(InvalidRecord) as caught:
        pending.add(BASELINE.features["color"], ["red"], "data.0.features.0.values")
        pending.add(BASELINE.features[name], bad, "data.1.features.1.values")
        pending.flush()
    assert caught.value.field == "data.1.features.1.values"
