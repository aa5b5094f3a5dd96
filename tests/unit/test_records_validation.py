"""validate_record's fast checks agree with the pydantic models on every payload.

Differential tests: hypothesis builds payloads of the five data types the agent validates
on every record, from plain valid ones to ones with wrong types, wrong lengths, NaN and None,
bools and numeric strings where numbers are expected, nested lists of the wrong shape,
huge integers and extra fields. For each, the models (``validate_payload``) are the
reference: ``validate_record`` must accept exactly what they accept and reject the rest with
the same message and field, and the fast check must never accept what they reject.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spoolwatch.errors import InvalidRecord
from spoolwatch.records import DataType, Record, validate_payload, validate_record
from spoolwatch.records.validate_fast import FAST_CHECKS

SETTINGS = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])

FAST_TYPES = sorted(FAST_CHECKS, key=lambda data_type: data_type.name)
MISSING = object()

# --- values ------------------------------------------------------------------------------

short_text = st.text(max_size=6)
# Integers around the edges the models care about: sign, 64 bits, and a float's range.
edge_ints = st.sampled_from(
    [0, 1, -1, 2**63 - 1, 2**63, -(2**63) - 1, 2**1023 - 1, 2**1023, 2**1024, -(2**1024), 10**400]
)
numeric_strings = st.sampled_from(
    ["1", "2.5", "-3", "1e3", " 4 ", "nan", "inf", "", "true", "false", "yes", "no", "on", "x"]
)
plain_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()  # NaN and infinities included
    | short_text
)
odd_scalars = (
    plain_scalars
    | edge_ints
    | numeric_strings
    | st.binary(max_size=3)
    | st.just(Decimal("1.5"))
    | st.just(Decimal("2"))
)
# Values right at the edge of some rule, for any field: fractions and NaN for ints, huge ints
# for floats, bools and numeric strings for numbers, empty strings, lists of the wrong depth.
NEAR_MISSES: list[Any] = [
    2.5, -0.5, 0.0, -0.0, math.nan, math.inf, -math.inf, -1, 0, 1, True, False,
    2**63, 2**1023, 2**1024, -(2**1024), 10**400, "1", "2.5", "yes", "", "x", None,
    b"x", [1.0], [[1.0]], [[[1.0]]], ["a"], [None], [True], (1.0,), {}, {"a": 1},
    {1: 2}, Decimal("2"),
]  # fmt: skip
near_misses = st.sampled_from(NEAR_MISSES)
broad_odd_values = (
    odd_scalars
    | st.lists(odd_scalars, max_size=3)
    | st.lists(st.lists(odd_scalars, max_size=2), max_size=2)
    | st.tuples(st.floats(allow_nan=False))
    | st.dictionaries(short_text, odd_scalars, max_size=2)
    | st.just({1: "not a str key"})
)
plain_numbers = st.floats() | st.integers(-(2**63), 2**63 - 1) | st.booleans() | st.none()
stamps = st.just("2026-11-24 20:01:33.377+0100") | short_text


def now_and_then(
    usual: st.SearchStrategy[Any], other: st.SearchStrategy[Any], one_in: int
) -> st.SearchStrategy[Any]:
    """``other`` once in about ``one_in`` draws, else ``usual``.

    A weighted choice: ``usual | other`` would flatten the branches of a composite
    ``other`` (odd_values has many) and let it win most draws.
    """
    return st.sampled_from(range(one_in)).flatmap(lambda k: other if k == one_in - 1 else usual)


odd_values = now_and_then(broad_odd_values, near_misses, 2)


class Maker:
    """Draws field values: plain valid ones only, or (``plain=False``) also odd ones."""

    def __init__(self, draw: st.DrawFn, plain: bool) -> None:
        self.draw = draw
        self.plain = plain

    def often(self, valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        """Mostly the valid strategy, sometimes an odd value, sometimes the field left out."""
        if self.plain:
            return valid
        return now_and_then(now_and_then(valid, st.just(MISSING), 20), odd_values, 20)

    def optional(self, valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        """A field that is usually absent."""
        return st.just(MISSING) | self.often(valid)

    def mostly(self, element: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        """List elements: all plain, or (in a third of the lists) odd now and then."""
        if self.plain or self.draw(st.sampled_from(range(4))):
            return element
        return now_and_then(element, odd_values, 5)

    def column(self, rows: int, element: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        """A list of ``rows`` elements, or of another length now and then."""
        if self.plain or self.draw(st.sampled_from(range(10))) < 9:
            size = rows
        else:
            size = self.draw(st.integers(0, 5))
        return st.lists(self.mostly(element), min_size=size, max_size=size)

    def put(self, payload: dict[Any, Any], name: str, value: st.SearchStrategy[Any]) -> None:
        drawn = self.draw(value)
        if drawn is not MISSING:
            payload[name] = drawn

    def extra_fields(self, payload: dict[Any, Any]) -> None:
        values = st.dictionaries(short_text, odd_values, max_size=2)
        for key, value in self.draw(values).items():
            payload.setdefault(key, value)
        if not self.plain and self.draw(st.sampled_from(range(30))) == 29:
            payload[7] = "a key that is not a string"


# --- payloads ----------------------------------------------------------------------------

optional_text = st.none() | short_text


@st.composite
def predictions_payloads(draw: st.DrawFn, plain: bool = False) -> dict[Any, Any]:
    make = Maker(draw, plain)
    rows = draw(st.integers(0, 4))
    classes = draw(st.integers(1, 3))
    # Time series (forecastDistance or rowIndex given) may have features of other rows.
    time_series = draw(st.booleans())
    feature_rows = draw(st.integers(0, 4)) if time_series else rows
    payload: dict[Any, Any] = {}
    make.put(payload, "timestamp", make.often(stamps))
    make.put(payload, "modelId", make.often(optional_text))
    columns = make.column(feature_rows, plain_scalars)
    features = st.dictionaries(st.text(max_size=4), columns, max_size=4)
    make.put(payload, "features", make.often(features | st.none()))
    width = classes if plain or draw(st.sampled_from(range(3))) < 2 else draw(st.integers(0, 3))
    rows_of_probabilities = st.lists(make.mostly(plain_numbers), min_size=width, max_size=width)
    shapes = (
        make.column(rows, plain_numbers)
        | make.column(rows, optional_text)
        | make.column(rows, rows_of_probabilities)
    )
    make.put(payload, "predictions", make.often(shapes | st.none()))
    make.put(payload, "associationIds", make.often(make.column(rows, short_text)))
    classes_list = st.lists(short_text, min_size=classes, max_size=classes)
    make.put(payload, "classNames", make.often(classes_list))
    make.put(payload, "requestParameters", make.often(st.dictionaries(short_text, odd_values)))
    ints = st.integers(-(2**63), 2**63) | st.booleans()
    series_field = draw(st.sampled_from(["forecastDistance", "rowIndex"])) if time_series else ""
    for name in ("forecastDistance", "rowIndex"):
        if name == series_field or draw(st.booleans()):
            make.put(payload, name, make.often(make.column(rows, ints)))
    make.put(payload, "partition", make.optional(make.column(rows, short_text)))
    make.put(payload, "seriesId", make.optional(make.column(rows, optional_text)))
    for name in ("skipDriftTracking", "skipAccuracyTracking"):
        make.put(payload, name, make.optional(st.booleans()))
    make.extra_fields(payload)
    return payload


@st.composite
def deployment_stats_payloads(draw: st.DrawFn, plain: bool = False) -> dict[Any, Any]:
    make = Maker(draw, plain)
    payload: dict[Any, Any] = {}
    make.put(payload, "timestamp", make.often(stamps))
    make.put(payload, "modelId", make.often(optional_text))
    make.put(payload, "batchId", make.often(optional_text))
    counts = st.integers(0, 2**64) | st.booleans()
    seconds = st.floats(min_value=0) | counts
    if not plain:
        counts = now_and_then(counts, st.just(-1), 8)
        seconds |= st.floats() | edge_ints
    make.put(payload, "numPredictions", make.often(counts))
    make.put(payload, "executionTime", make.often(seconds))
    make.put(payload, "userError", make.optional(st.booleans()))
    make.put(payload, "systemError", make.optional(st.booleans()))
    make.extra_fields(payload)
    return payload


@st.composite
def actuals_payloads(draw: st.DrawFn, plain: bool = False) -> dict[Any, Any]:
    make = Maker(draw, plain)

    def actual() -> dict[Any, Any]:
        item: dict[Any, Any] = {}
        make.put(item, "associationId", make.often(short_text))
        value = st.floats() | st.integers() | short_text | st.booleans() | edge_ints
        make.put(item, "actualValue", make.often(value))
        make.put(item, "wasActedOn", make.optional(st.booleans() | st.none()))
        make.put(item, "timestamp", make.optional(stamps | st.none()))
        make.extra_fields(item)
        return item

    payload: dict[Any, Any] = {}
    items = [actual() for _ in range(draw(st.integers(0, 3)))]
    make.put(payload, "actualsList", make.often(st.just(items)))
    make.put(payload, "modelId", make.often(optional_text))
    make.put(payload, "batchId", make.often(optional_text))
    make.extra_fields(payload)
    return payload


@st.composite
def custom_metric_payloads(draw: st.DrawFn, plain: bool = False) -> dict[Any, Any]:
    make = Maker(draw, plain)

    def bucket() -> dict[Any, Any]:
        item: dict[Any, Any] = {}
        make.put(item, "timestamp", make.often(stamps))
        make.put(item, "value", make.often(plain_numbers if plain else plain_numbers | edge_ints))
        make.put(item, "geospatialCoordinate", make.optional(optional_text))
        make.extra_fields(item)
        return item

    payload: dict[Any, Any] = {}
    make.put(payload, "modelId", make.often(optional_text))
    metric_ids = st.text(min_size=1, max_size=6)
    if not plain:
        metric_ids = now_and_then(metric_ids, st.just(""), 8)
    make.put(payload, "customMetricId", make.often(metric_ids))
    buckets = [bucket() for _ in range(draw(st.integers(0, 3)))]
    make.put(payload, "buckets", make.often(st.just(buckets)))
    make.extra_fields(payload)
    return payload


@st.composite
def event_payloads(draw: st.DrawFn, plain: bool = False) -> dict[Any, Any]:
    make = Maker(draw, plain)
    payload: dict[Any, Any] = {}
    make.put(payload, "timestamp", make.often(stamps))
    event_types = st.text(min_size=1, max_size=6)
    if not plain:
        event_types = now_and_then(event_types, st.just(""), 8)
    make.put(payload, "eventType", make.often(event_types))
    make.put(payload, "message", make.often(short_text))
    make.put(payload, "orgId", make.often(optional_text))
    make.put(payload, "deploymentId", make.optional(optional_text))
    make.put(payload, "data", make.often(st.none() | st.dictionaries(short_text, odd_values)))
    make.extra_fields(payload)
    return payload


BUILDERS = {
    DataType.PREDICTIONS_DATA: predictions_payloads,
    DataType.DEPLOYMENT_STATS: deployment_stats_payloads,
    DataType.ACTUALS_DATA: actuals_payloads,
    DataType.CUSTOM_METRIC: custom_metric_payloads,
    DataType.EVENT: event_payloads,
}


# --- the comparison ----------------------------------------------------------------------


def reference(data_type: DataType, payload: dict[Any, Any]) -> InvalidRecord | None:
    """The models' verdict: ``None`` when they accept the payload, else their error."""
    try:
        validate_payload(data_type, payload)
    except InvalidRecord as exc:
        return exc
    return None


def top_field(error: InvalidRecord, payload: dict[Any, Any]) -> str:
    """The payload field an error is about (``payload`` for a key that is not a string)."""
    assert error.field
    first = error.field.split(".")[0]
    if first not in payload and any(type(key) is not str for key in payload):
        return "payload"
    return first


def assert_agrees(data_type: DataType, payload: dict[Any, Any]) -> InvalidRecord | None:
    expected = reference(data_type, payload)
    verdict = FAST_CHECKS[data_type](payload)
    record = Record("dep", data_type, payload, id="rec-9")
    if expected is None:
        validate_record(record)
        return None
    assert verdict is not None, f"fast check accepted what the models reject: {expected}"
    with pytest.raises(InvalidRecord) as raised:
        validate_record(record)
    assert str(raised.value) == f"{expected} (record rec-9)"
    assert raised.value.field == expected.field and raised.value.record_id == "rec-9"
    return expected


def test_every_fast_type_has_a_payload_strategy() -> None:
    assert set(BUILDERS) == set(FAST_CHECKS)


@pytest.mark.parametrize("data_type", FAST_TYPES, ids=lambda data_type: data_type.name)
@SETTINGS
@given(data=st.data())
def test_validate_record_accepts_and_rejects_exactly_what_the_models_do(
    data_type: DataType, data: st.DataObject
) -> None:
    payload = data.draw(BUILDERS[data_type]())
    assert_agrees(data_type, payload)


@pytest.mark.parametrize("data_type", FAST_TYPES, ids=lambda data_type: data_type.name)
@SETTINGS
@given(data=st.data())
def test_plain_valid_payloads_take_the_fast_path(data_type: DataType, data: st.DataObject) -> None:
    payload = data.draw(BUILDERS[data_type](plain=True))
    assert reference(data_type, payload) is None
    assert FAST_CHECKS[data_type](payload) is None


@pytest.mark.parametrize("data_type", FAST_TYPES, ids=lambda data_type: data_type.name)
@SETTINGS
@given(data=st.data())
def test_one_bad_field_is_the_field_the_fast_check_names(
    data_type: DataType, data: st.DataObject
) -> None:
    payload = data.draw(BUILDERS[data_type](plain=True))
    name = data.draw(st.sampled_from(sorted(payload)))
    value = data.draw(st.just(MISSING) | odd_values)
    if value is MISSING:
        del payload[name]
    else:
        payload[name] = value
    expected = assert_agrees(data_type, payload)
    if expected is not None:
        # The fast check names the first field it cannot accept: the one the models reject,
        # or the changed one when its new value is valid only in lax mode (a tuple for a
        # list, "2.5" for a number) and the models then reject a field depending on it.
        assert FAST_CHECKS[data_type](payload) in {top_field(expected, payload), name}


# --- every node of typical payloads, replaced by every near miss --------------------------

STAMP = "2026-11-24 20:01:33.377+0100"
BASES: list[tuple[DataType, dict[str, Any]]] = [
    (
        DataType.PREDICTIONS_DATA,
        {
            "timestamp": STAMP,
            "modelId": "m",
            "batchId": None,
            "features": {"age": [31.5, 40], "region": ["north", None], "vip": [True, False]},
            "predictions": [0.25, 1],
            "associationIds": ["a", "b"],
            "requestParameters": {"k": 1},
            "partition": ["p", "q"],
            "seriesId": ["s", None],
            "skipDriftTracking": False,
            "skipAccuracyTracking": True,
            "extra": [1, {"x": None}],
        },
    ),
    (
        DataType.PREDICTIONS_DATA,
        {
            "timestamp": STAMP,
            "features": {"age": [31.5, 40, 18]},
            "predictions": [[0.25, 0.75], [1, 0]],
            "classNames": ["no", "yes"],
            "forecastDistance": [1, 2],
            "rowIndex": [0, 1],
        },
    ),
    (DataType.PREDICTIONS_DATA, {"timestamp": STAMP, "predictions": ["yes", None]}),
    (
        DataType.DEPLOYMENT_STATS,
        {
            "timestamp": STAMP,
            "modelId": "m",
            "batchId": "b",
            "numPredictions": 3,
            "executionTime": 12.5,
            "userError": False,
            "systemError": True,
        },
    ),
    (
        DataType.ACTUALS_DATA,
        {
            "actualsList": [
                {"associationId": "a", "actualValue": 1.5, "wasActedOn": True, "timestamp": STAMP},
                {"associationId": "b", "actualValue": "yes"},
            ],
            "modelId": "m",
            "batchId": None,
        },
    ),
    (
        DataType.CUSTOM_METRIC,
        {
            "modelId": "m",
            "customMetricId": "c",
            "buckets": [
                {"timestamp": STAMP, "value": 2.5, "geospatialCoordinate": "8a2a1072b59ffff"},
                {"timestamp": STAMP, "value": None},
            ],
        },
    ),
    (
        DataType.EVENT,
        {
            "timestamp": STAMP,
            "eventType": "deploymentInfo",
            "message": "m",
            "orgId": None,
            "deploymentId": "d",
            "data": {"k": [1]},
        },
    ),
]


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every node below ``value``."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def changed(payload: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A deep copy of the payload with the node at ``path`` replaced (or removed)."""
    copy: dict[str, Any] = json_copy(payload)
    parent: Any = copy
    for step in path[:-1]:
        parent = parent[step]
    if value is MISSING:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return copy


def json_copy(value: Any) -> Any:
    """A copy of the nested dicts and lists, so a change leaves the base payload as it is."""
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_copy(item) for item in value]
    return value


@pytest.mark.parametrize(
    ("data_type", "payload"), BASES, ids=[f"{t.name}-{n}" for n, (t, _) in enumerate(BASES)]
)
def test_each_node_replaced_by_each_near_miss_gets_the_models_verdict(
    data_type: DataType, payload: dict[str, Any]
) -> None:
    assert FAST_CHECKS[data_type](payload) is None and reference(data_type, payload) is None
    verdicts = {"accepted": 0, "rejected": 0}
    for path in paths(payload):
        removals = [MISSING] if isinstance(path[-1], str) else []
        for value in [*NEAR_MISSES, *removals]:
            rejected = assert_agrees(data_type, changed(payload, path, value))
            verdicts["rejected" if rejected else "accepted"] += 1
    # Both verdicts occur, so the comparison above was not one-sided.
    assert verdicts["accepted"] > 0 and verdicts["rejected"] > 0


@pytest.mark.parametrize(
    "last",
    [
        {"wasActedOn": "yes"},
        {"wasActedOn": 2},
        {"wasActedOn": None},
        {"timestamp": 5},
        {"timestamp": None},
        {"timestamp": STAMP},
        {"extra": [1]},
        {1: "x"},
    ],
)
def test_an_optional_actual_field_in_the_last_item_only_gets_the_models_verdict(
    last: dict[Any, Any],
) -> None:
    # The fast check skips the optional fields when no item has them: one that only the
    # last item has must still be looked at.
    actuals: list[dict[Any, Any]] = [
        {"associationId": f"a{n}", "actualValue": 1.5} for n in range(5)
    ]
    actuals[-1].update(last)
    assert_agrees(DataType.ACTUALS_DATA, {"actualsList": actuals})


@pytest.mark.parametrize("name", ["forecastDistance", "rowIndex", "partition", "seriesId"])
@pytest.mark.parametrize("value", [[1, 2], ["p", "q"], ["p", None], [1.5, 2], [True, 0], [1]])
def test_a_lone_time_series_list_gets_the_models_verdict(name: str, value: list[Any]) -> None:
    # The fast check looks at the time-series lists only when one of them is present.
    payload = {"timestamp": STAMP, "features": {"age": [31.5, 40]}, "predictions": [0.5, 1.0]}
    assert_agrees(DataType.PREDICTIONS_DATA, {**payload, name: value})
