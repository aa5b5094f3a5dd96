"""Fast acceptance checks for the payloads the agent validates on every record.

Building the pydantic models of :mod:`spoolwatch.records.payloads` for every record costs
more than the rest of the agent's work on it, so :func:`~spoolwatch.records.validate_record`
first asks these checks. Each answers one question: is this payload *certainly* valid? It
returns ``None`` when it is, else the first top-level field (in the model's order) it could
not accept, or ``"payload"`` for a key that is not a string. Anything not accepted here goes
through the models, which give the verdict and the message, so the messages are the models'
own. The checks look at whole lists at once (``map(type, ...)`` into a frozenset's
``issuperset``), which runs in C rather than one Python step per value.

The checks therefore must never accept a payload the models reject (the differential tests
prove it); they may leave unusual but valid input to the models: numbers as strings,
``"yes"`` for a bool, ``2.0`` for an int, tuples for lists, subclasses of the JSON types.
They accept the plain JSON types exactly as the models do in lax mode: a bool is accepted
where a number is expected (``True`` is 1), an int where a float is (unless it is too large
for a float), NaN where a float has no bound, and extra fields with any value.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain, repeat
from typing import Any

from spoolwatch.records.types import DataType

__all__ = [
    "FAST_CHECKS",
    "check_actuals_data",
    "check_custom_metric",
    "check_deployment_stats",
    "check_event",
    "check_predictions_data",
]

Check = Callable[[dict[str, Any]], "str | None"]

_NONE = type(None)
_STR: frozenset[type] = frozenset({str})
_LIST: frozenset[type] = frozenset({list})
_DICT: frozenset[type] = frozenset({dict})
_BOOL_OR_NONE: frozenset[type] = frozenset({bool, _NONE})
_STR_OR_NONE: frozenset[type] = frozenset({str, _NONE})
_INTS: frozenset[type] = frozenset({int, bool})
#: Element types of a ``float | None`` list; ints among them are range-checked.
_NUMBERS: frozenset[type] = frozenset({float, int, bool, _NONE})
#: Element types of a feature column (``bool | int | float | str | None``).
_SCALARS: frozenset[type] = frozenset({bool, int, float, str, _NONE})
#: Types an ``int | float | str`` actual value may have.
_ACTUAL_VALUES: frozenset[type] = frozenset({int, float, str, bool})
#: The optional fields of an actual, which few producers write.
_OPTIONAL_ACTUAL_FIELDS = frozenset({"wasActedOn", "timestamp"})
#: Ints from about 2**1024 up overflow a float, which the models reject where a float is
#: expected; the fast path accepts only ints well below that and leaves the rest to them.
_FLOAT_INT_LIMIT = 2**1023

_PREDICTION_LISTS = ("associationIds", "forecastDistance", "rowIndex", "partition", "seriesId")
#: The time-series lists of a PREDICTIONS_DATA payload and their element types, in the
#: model's order; most payloads have none, and one key lookup says so.
_TIME_SERIES_LISTS: dict[str, frozenset[type]] = {
    "forecastDistance": _INTS,
    "rowIndex": _INTS,
    "partition": _STR,
    "seriesId": _STR_OR_NONE,
}


def _str_keys(mapping: dict[Any, Any]) -> bool:
    return _STR.issuperset(map(type, mapping))


def _optional_str(payload: dict[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = payload.get(name)
        if value is not None and type(value) is not str:
            return name
    return None


def _optional_bool(payload: dict[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        if name in payload and type(payload[name]) is not bool:
            return name
    return None


def _ints_fit_floats(values: list[Any]) -> bool:
    return all(
        -_FLOAT_INT_LIMIT < value < _FLOAT_INT_LIMIT for value in values if type(value) is int
    )


def _number_or_none(value: Any) -> bool:
    kind = type(value)
    if kind is float or value is None or kind is bool:
        return True
    return kind is int and -_FLOAT_INT_LIMIT < value < _FLOAT_INT_LIMIT


def _list_of(value: Any, types: frozenset[type]) -> bool:
    return type(value) is list and types.issuperset(map(type, value))


def _predictions_ok(predictions: list[Any]) -> bool:
    """``list[float | None] | list[list[float | None]] | list[str | None]``."""
    kinds = set(map(type, predictions))
    if kinds <= _NUMBERS:
        return int not in kinds or _ints_fit_floats(predictions)
    if kinds <= _STR_OR_NONE:
        return True
    if kinds == _LIST:
        # The values are listed only when an int among them needs its range checked.
        kinds = set(map(type, chain.from_iterable(predictions)))
        if not kinds <= _NUMBERS:
            return False
        return int not in kinds or _ints_fit_floats(list(chain.from_iterable(predictions)))
    return False


def _features_lengths(features: Any) -> set[int] | None:
    """The column lengths of a valid ``dict[str, list[scalar]]``, else ``None``."""
    if type(features) is not dict:
        return None
    columns = features.values()
    if not _LIST.issuperset(map(type, columns)) or not _str_keys(features):
        return None
    if not _SCALARS.issuperset(map(type, chain.from_iterable(columns))):
        return None
    return set(map(len, columns))


def _predictions_fields(payload: dict[str, Any]) -> str | None:
    """The first field after ``features`` with a type the fast path cannot accept."""
    predictions = payload.get("predictions")
    if predictions is not None and not (type(predictions) is list and _predictions_ok(predictions)):
        return "predictions"
    for name, types in (("associationIds", _STR), ("classNames", _STR)):
        value = payload.get(name)
        if value is not None and not _list_of(value, types):
            return name
    parameters = payload.get("requestParameters")
    if parameters is not None and (type(parameters) is not dict or not _str_keys(parameters)):
        return "requestParameters"
    if not payload.keys().isdisjoint(_TIME_SERIES_LISTS):
        for name, types in _TIME_SERIES_LISTS.items():
            value = payload.get(name)
            if value is not None and not _list_of(value, types):
                return name
    return _optional_bool(payload, ("skipDriftTracking", "skipAccuracyTracking"))


def check_predictions_data(payload: dict[str, Any]) -> str | None:
    """``None`` if a PREDICTIONS_DATA payload is certainly valid, else the field to look at."""
    if not _str_keys(payload):
        return "payload"
    if type(payload.get("timestamp")) is not str:
        return "timestamp"
    bad = _optional_str(payload, ("modelId", "batchId"))
    if bad is not None:
        return bad
    features = payload.get("features")
    lengths: set[int] = set()
    if features is not None:
        found = _features_lengths(features)
        if found is None:
            return "features"
        lengths = found
    bad = _predictions_fields(payload)
    if bad is not None:
        return bad
    # The same cross-field rules as PredictionsData._rows_agree, in the same order.
    if len(lengths) > 1:
        return "features"
    predictions = payload.get("predictions")
    n = len(predictions) if predictions is not None else None
    if n is not None:
        for name in _PREDICTION_LISTS:
            values = payload.get(name)
            if values is not None and len(values) != n:
                return name
    time_series = payload.get("forecastDistance") is not None or payload.get("rowIndex") is not None
    if n is not None and lengths and not time_series and lengths != {n}:
        return "features"
    class_names = payload.get("classNames")
    if class_names is not None and predictions:
        first = predictions[0]
        if type(first) is list and len(first) != len(class_names):
            return "predictions"
    return None


def check_deployment_stats(payload: dict[str, Any]) -> str | None:
    """``None`` if a DEPLOYMENT_STATS payload is certainly valid, else the field to look at."""
    if not _str_keys(payload):
        return "payload"
    if type(payload.get("timestamp")) is not str:
        return "timestamp"
    bad = _optional_str(payload, ("modelId", "batchId"))
    if bad is not None:
        return bad
    count = payload.get("numPredictions")
    if not isinstance(count, int) or type(count) not in _INTS or count < 0:
        return "numPredictions"
    seconds = payload.get("executionTime")
    # NaN fails ``>= 0`` here as it does in the model.
    if seconds is None or not _number_or_none(seconds) or not seconds >= 0:
        return "executionTime"
    return _optional_bool(payload, ("userError", "systemError"))


def _column(items: list[dict[str, Any]], name: str) -> map[Any]:
    """The value of ``name`` in every item (``None`` where it is missing)."""
    return map(dict.get, items, repeat(name))


def _dicts_with_str_keys(items: Any) -> bool:
    return (
        type(items) is list
        and _DICT.issuperset(map(type, items))
        and _STR.issuperset(map(type, chain.from_iterable(items)))
    )


def _actuals_ok(actuals: Any) -> bool:
    """``list[Actual]``, checked field by field over all items at once."""
    if not (
        _dicts_with_str_keys(actuals)
        and _STR.issuperset(map(type, _column(actuals, "associationId")))
        and _ACTUAL_VALUES.issuperset(map(type, _column(actuals, "actualValue")))
    ):
        return False
    # The keys are plain strings by now, so when neither optional field is among them one
    # pass over the keys stands for looking each up in every item.
    if _OPTIONAL_ACTUAL_FIELDS.isdisjoint(chain.from_iterable(actuals)):
        return True
    return _BOOL_OR_NONE.issuperset(
        map(type, _column(actuals, "wasActedOn"))
    ) and _STR_OR_NONE.issuperset(map(type, _column(actuals, "timestamp")))


def check_actuals_data(payload: dict[str, Any]) -> str | None:
    """``None`` if an ACTUALS_DATA payload is certainly valid, else the field to look at."""
    if not _str_keys(payload):
        return "payload"
    if not _actuals_ok(payload.get("actualsList")):
        return "actualsList"
    return _optional_str(payload, ("modelId", "batchId"))


def _buckets_ok(buckets: Any) -> bool:
    """``list[CustomMetricBucket]``, checked field by field over all items at once."""
    if not _dicts_with_str_keys(buckets):
        return False
    if not all(map(dict.__contains__, buckets, repeat("value"))):
        return False
    values = list(_column(buckets, "value"))
    kinds = set(map(type, values))
    return (
        kinds <= _NUMBERS
        and (int not in kinds or _ints_fit_floats(values))
        and _STR.issuperset(map(type, _column(buckets, "timestamp")))
        and _STR_OR_NONE.issuperset(map(type, _column(buckets, "geospatialCoordinate")))
    )


def check_custom_metric(payload: dict[str, Any]) -> str | None:
    """``None`` if a CUSTOM_METRIC payload is certainly valid, else the field to look at."""
    if not _str_keys(payload):
        return "payload"
    if _optional_str(payload, ("modelId",)) is not None:
        return "modelId"
    metric_id = payload.get("customMetricId")
    if type(metric_id) is not str or not metric_id:
        return "customMetricId"
    if not _buckets_ok(payload.get("buckets")):
        return "buckets"
    return None


def check_event(payload: dict[str, Any]) -> str | None:
    """``None`` if an EVENT payload is certainly valid, else the field to look at."""
    if not _str_keys(payload):
        return "payload"
    if type(payload.get("timestamp")) is not str:
        return "timestamp"
    event_type = payload.get("eventType")
    if type(event_type) is not str or not event_type:
        return "eventType"
    if type(payload.get("message")) is not str:
        return "message"
    bad = _optional_str(payload, ("orgId", "deploymentId"))
    if bad is not None:
        return bad
    data = payload.get("data")
    if data is not None and (type(data) is not dict or not _str_keys(data)):
        return "data"
    return None


#: The fast check of each data type that has one.
FAST_CHECKS: dict[DataType, Check] = {
    DataType.PREDICTIONS_DATA: check_predictions_data,
    DataType.DEPLOYMENT_STATS: check_deployment_stats,
    DataType.ACTUALS_DATA: check_actuals_data,
    DataType.CUSTOM_METRIC: check_custom_metric,
    DataType.EVENT: check_event,
}
