"""The models' lax-mode rules that validate_record keeps, one example each.

Each row was checked against the pydantic models: ``fast`` payloads are accepted without
them, ``lax`` ones are valid only through the models' coercions (so the fast check leaves
them to the models), and the rest are rejected naming the field, in the models' words.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from spoolwatch.errors import InvalidRecord
from spoolwatch.records import DataType, Record, validate_record
from spoolwatch.records.validate_fast import FAST_CHECKS

STAMP = "2026-11-24 20:01:33.377+0100"
STATS = {"timestamp": STAMP, "numPredictions": 1, "executionTime": 1.0}
PREDICTIONS = {"timestamp": STAMP}
ACTUAL = {"associationId": "a", "actualValue": 1}
EVENT = {"timestamp": STAMP, "eventType": "e", "message": "m"}

D, P, A = DataType.DEPLOYMENT_STATS, DataType.PREDICTIONS_DATA, DataType.ACTUALS_DATA
C, E = DataType.CUSTOM_METRIC, DataType.EVENT

# (data type, payload, "fast" | "lax" | (field, words of the message))
RULES: list[tuple[DataType, dict[Any, Any], Any]] = [
    (D, {**STATS, "numPredictions": True}, "fast"),  # a bool is an int in lax mode
    (D, {**STATS, "numPredictions": 2.0}, "lax"),
    (D, {**STATS, "numPredictions": 2.5}, ("numPredictions", "fractional part")),
    (D, {**STATS, "numPredictions": -1}, ("numPredictions", "greater than or equal to 0")),
    (D, {**STATS, "numPredictions": 10**30}, "fast"),
    (D, {**STATS, "executionTime": 3}, "fast"),
    (D, {**STATS, "executionTime": math.inf}, "fast"),
    (D, {**STATS, "executionTime": math.nan}, ("executionTime", "greater than or equal to 0")),
    (D, {**STATS, "executionTime": 2**1024}, ("executionTime", "valid number")),
    (D, {**STATS, "executionTime": "1.5"}, "lax"),
    (D, {**STATS, "userError": "yes"}, "lax"),
    (D, {**STATS, "userError": 1}, "lax"),
    (D, {**STATS, "userError": None}, ("userError", "valid boolean")),
    (D, {**STATS, 1: 2}, ("1", "Keys should be strings")),
    (P, {**PREDICTIONS, "predictions": [True, 1, 0.5, None, math.nan]}, "fast"),
    (P, {**PREDICTIONS, "predictions": [2**1024]}, ("predictions.list[nullable[float]].0", "")),
    (P, {**PREDICTIONS, "predictions": [[1.0], 2.0]}, ("predictions.list[nullable[float]].0", "")),
    (P, {**PREDICTIONS, "predictions": [[0.5, 0.5]], "classNames": ["a"]}, ("predictions", "")),
    (P, {**PREDICTIONS, "predictions": (1.0,)}, "lax"),
    (P, {**PREDICTIONS, "predictions": ["0.5", None]}, "fast"),
    (P, {**PREDICTIONS, "features": {"a": [1, True, "x", None, 10**400]}}, "fast"),
    (P, {**PREDICTIONS, "features": {"a": [[1]]}}, ("features.a.0.bool", "valid boolean")),
    (P, {**PREDICTIONS, "features": {1: [1]}}, ("features.1.[key]", "valid string")),
    (P, {**PREDICTIONS, "predictions": [1.0], "associationIds": [1]}, ("associationIds.0", "")),
    (P, {**PREDICTIONS, "predictions": [1.0], "forecastDistance": [1.0]}, "lax"),
    (P, {**PREDICTIONS, "predictions": [1.0], "rowIndex": [True]}, "fast"),
    (P, {**PREDICTIONS, "predictions": [1.0], "features": {"a": [1, 2]}, "rowIndex": [0]}, "fast"),
    (P, {**PREDICTIONS, "predictions": [1.0], "features": {"a": [1, 2]}}, ("features", "2 rows")),
    (P, {**PREDICTIONS, "skipDriftTracking": None}, ("skipDriftTracking", "valid boolean")),
    (A, {"actualsList": [{**ACTUAL, "actualValue": True, "wasActedOn": None}]}, "fast"),
    (A, {"actualsList": [{**ACTUAL, "actualValue": b"x"}]}, "lax"),
    (A, {"actualsList": [{**ACTUAL, "actualValue": None}]}, ("actualsList.0.actualValue.int", "")),
    (A, {"actualsList": [{**ACTUAL, 5: 1}]}, ("actualsList.0.5", "Keys should be strings")),
    (C, {"customMetricId": "c", "buckets": [{"timestamp": STAMP, "value": None}]}, "fast"),
    (C, {"customMetricId": "c", "buckets": [{"timestamp": STAMP}]}, ("buckets.0.value", "Field")),
    (C, {"customMetricId": "", "buckets": []}, ("customMetricId", "at least 1 character")),
    (E, {**EVENT, "data": {"k": object()}}, "fast"),
    (E, {**EVENT, "data": {1: 2}}, ("data.1.[key]", "valid string")),
    (E, {**EVENT, "eventType": ""}, ("eventType", "at least 1 character")),
]  # fmt: skip


@pytest.mark.parametrize(("data_type", "payload", "expected"), RULES)
def test_lax_mode_rule_is_kept(data_type: DataType, payload: dict[Any, Any], expected: Any) -> None:
    record = Record("dep", data_type, payload, id="rec-3")
    verdict = FAST_CHECKS[data_type](payload)
    if expected in ("fast", "lax"):
        validate_record(record)
        assert (verdict is None) == (expected == "fast")
        return
    field, words = expected
    with pytest.raises(InvalidRecord) as raised:
        validate_record(record)
    assert verdict is not None
    assert raised.value.field == field and raised.value.record_id == "rec-3"
    assert f"{data_type.name} payload: {field}: " in str(raised.value)
    assert words in str(raised.value) and str(raised.value).endswith("(record rec-3)")
