"""A fast check of the common ingestion bodies, before the pydantic models are asked.

The models in :mod:`spoolwatch.server.schemas` are the definition of a valid body; checking a
hundred 25-row prediction items with them costs more than folding them. Agents send plain
JSON of exact types, so :func:`certainly_valid` accepts a body only when every value has the
exact type the model wants (``str``, ``int``, ``float``, ``bool``, ``list``, ``dict``) and
every rule of the model holds, with the model's own bounds (:mod:`spoolwatch.records.bounds`,
the same functions); anything else (a number as text, a missing field, a value out
of range) answers ``False`` and the model decides, with its error naming the field. It
never accepts a body the model would refuse: ``tests/unit/test_body_check.py`` compares the
two on generated bodies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spoolwatch.records.bounds import count_problem, execution_time_problem, timestamp_problem
from spoolwatch.server.schemas import ASSOCIATION_ID_MAX, MODEL_ID_MAX

__all__ = ["certainly_valid"]

#: Integers a float field takes without loss (pydantic refuses what a float cannot hold).
_FLOAT_INT_LIMIT = 2**53
_STR = frozenset({str})
_NUMBER = frozenset({int, float})
_DICT_FIELDS = ("requestParameters", "timeSeriesPredictionsReport")


def certainly_valid(kind: str, raw: dict[str, Any]) -> bool:
    """Whether the model of ``kind`` (an ``IngestKind``) certainly accepts ``raw``
    (``False``: ask the model)."""
    check = _CHECKS.get(kind)
    if check is None:
        return False
    items = raw.get("data")
    if type(items) is not list or not items:
        return False
    try:
        return all(map(check, items)) and _top_flags(kind, raw)
    except (TypeError, ValueError, AttributeError):  # an odd shape: the model says what
        return False


def _top_flags(kind: str, raw: dict[str, Any]) -> bool:
    if kind != "predictionInputs":
        return True
    flags = (raw.get("skipDriftTracking", False), raw.get("skipAccuracyTracking", False))
    return all(type(flag) is bool for flag in flags)


def _timestamp(value: Any) -> bool:
    # Cached per text: the items of a request share few timestamps.
    return type(value) is str and timestamp_problem(value) is None


def _optional_text(value: Any, limit: int | None = None) -> bool:
    if value is None:
        return True
    return type(value) is str and (limit is None or len(value) <= limit)


def _texts(value: Any, limit: int | None = None) -> bool:
    """``None`` or a list of strings (each at most ``limit`` characters)."""
    if value is None:
        return True
    if type(value) is not list or not _STR.issuperset(map(type, value)):
        return False
    return limit is None or not value or max(map(len, value)) <= limit


def _stats_item(item: Any) -> bool:
    if type(item) is not dict or not _timestamp(item.get("timestamp")):
        return False
    count: Any = item.get("numPredictions")
    time: Any = item.get("executionTime")
    return (
        _optional_text(item.get("modelId"), MODEL_ID_MAX)
        and _optional_text(item.get("batchId"))
        and type(count) is int
        and count_problem(count) is None
        and type(time) in _NUMBER
        and execution_time_problem(time) is None
        and type(item.get("userError", False)) is bool
        and type(item.get("systemError", False)) is bool
    )


def _feature_lengths(features: Any) -> set[int] | None:
    """The lengths of valid ``[{"name": str, "values": list}]`` columns, else ``None``."""
    if type(features) is not list:
        return None
    lengths = set()
    for column in features:
        if type(column) is not dict:
            return None
        name, values = column.get("name"), column.get("values")
        if type(name) is not str or not name or type(values) is not list:
            return None
        lengths.add(len(values))
    return lengths


def _prediction_item(item: Any) -> bool:
    if type(item) is not dict or not _timestamp(item.get("timestamp")):
        return False
    if not (
        _optional_text(item.get("modelId"), MODEL_ID_MAX)
        and _optional_text(item.get("batchId"))
        and _texts(item.get("associationIds"), ASSOCIATION_ID_MAX)
        and _texts(item.get("classNames"))
    ):
        return False
    predictions = item.get("predictions")
    if predictions is not None and type(predictions) is not list:
        return False
    if any(item.get(name) is not None and type(item[name]) is not dict for name in _DICT_FIELDS):
        return False
    features = item.get("features")
    lengths = _feature_lengths(features) if features is not None else set()
    if lengths is None or len(lengths) > 1:
        return False
    ids = item.get("associationIds")
    if ids is not None and predictions is not None and len(ids) != len(predictions):
        return False
    return not (
        predictions is not None
        and lengths
        and item.get("timeSeriesPredictionsReport") is None
        and lengths != {len(predictions)}
    )


def _actual_item(item: Any) -> bool:
    if type(item) is not dict:
        return False
    association_id: Any = item.get("associationId")
    value: Any = item.get("actualValue")
    kind = type(value)
    return (
        type(association_id) is str
        and 0 < len(association_id) <= ASSOCIATION_ID_MAX
        and (
            kind is str
            or kind is float
            or (kind is int and -_FLOAT_INT_LIMIT < value < _FLOAT_INT_LIMIT)
        )
        and (item.get("wasActedOn") is None or type(item["wasActedOn"]) is bool)
        and _optional_text(item.get("timestamp"))
    )


#: By ``IngestKind`` value (a ``StrEnum``, so the kinds themselves look up the same).
_CHECKS: dict[str, Callable[[Any], bool]] = {
    "predictionRequests": _stats_item,
    "predictionInputs": _prediction_item,
    "actuals": _actual_item,
}
